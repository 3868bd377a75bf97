package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// The end-to-end run: the first e2eRequests requests of the service
// example's known input set, at e2eRate per second, after a warm-up request
// and a pause of e2eWarmup.
const (
	e2eRequests = 1500
	e2eRate     = 100
	e2eWarmup   = 3 * time.Second
	experiment  = "shipping.quote"
	// window is the rate window of the rules and of the test's
	// substitution of $__rate_interval and $__range, in seconds.
	window = 300.0
)

// examplesDir is the examples module, whose service the test builds.
const examplesDir = "../examples"

// suiteTimeout bounds the whole run once the binaries are built.
const suiteTimeout = 3 * time.Minute

// TestEndToEnd runs Prometheus, the OpenTelemetry Collector and the service
// example for real on loopback, drives the example's known input set
// through it, and checks every PromQL expression of the dashboard and the
// rules against the model of that input set, the alerts, and what the
// Collector received over OTLP.
func TestEndToEnd(t *testing.T) {
	tools := e2e.NeedTools(t, "go", "prometheus", "promtool")
	if testing.Short() && !e2e.Strict() {
		t.Skip("-short: the end-to-end test runs servers for about a minute")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	m := newModel(e2eRequests)

	// Build first: the Collector's first build takes minutes, and is not
	// part of the suite's time bound.
	svcBin := buildService(ctx, t, tools["go"])
	colBin := collectorBinary(ctx, t, tools["go"])
	began := time.Now()
	ctx, cancelSuite := context.WithTimeout(ctx, suiteTimeout)
	defer cancelSuite()

	col := startCollector(ctx, t, colBin)
	svc, svcAddr := startService(ctx, t, svcBin, col.otlpURL)
	prom := startPrometheus(ctx, t, tools["prometheus"], svcAddr.Host)
	e2e.Eventually(ctx, t, 30*time.Second, "Prometheus scrapes the service", func(ctx context.Context) error {
		v, err := prom.Scalar(ctx, `up{job="dualrun-example"}`, time.Now())
		if err == nil && v != 1 {
			err = fmt.Errorf("up = %v", v)
		}
		return err
	})

	runLoadGenerator(ctx, t, svcBin, svcAddr, m)
	tLast := waitForFinalCounts(ctx, t, prom, m)
	tRules := waitForRules(ctx, t, prom, tLast)

	stats := fetchStats(ctx, t, svcAddr)
	t.Run("in-process stats", func(t *testing.T) { checkStats(t, stats, m) })
	t.Run("zero-initialised outcome series", func(t *testing.T) { checkZeroInit(ctx, t, prom, tLast) })
	t.Run("experiment variable", func(t *testing.T) { checkTemplateVariable(ctx, t, prom, tLast) })
	obs := observe(ctx, t, prom, tLast, stats)
	checks := expectations(m, obs)
	t.Run("queries", func(t *testing.T) { checkQueries(ctx, t, prom, checks, tLast, tRules) })
	t.Run("alerts", func(t *testing.T) { checkAlerts(ctx, t, prom, checks, m) })

	labelNames := map[string]bool{}
	names, warnings, _, err := prom.API.LabelNames(ctx, nil, tLast.Add(-10*time.Minute), tLast)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("label names: %v %v", err, warnings)
	}
	for _, n := range names {
		labelNames[string(n)] = true
	}

	// Stop the service: it pushes its last metrics and spans over OTLP.
	svc.Signal(syscall.SIGTERM)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := svc.Wait(wctx); err != nil {
		t.Errorf("service exit: %v", err)
	}
	t.Run("collector", func(t *testing.T) { checkCollector(ctx, t, col, m, labelNames) })
	t.Logf("suite: %v after the builds", time.Since(began).Round(100*time.Millisecond))
}

// buildService builds the service example into a temporary directory.
func buildService(ctx context.Context, t *testing.T, goBin string) string {
	t.Helper()
	return e2e.BuildGo(ctx, t, goBin, examplesDir, "./service")
}

// startService starts the service example on a free port, pushing OTLP to
// otlpURL every second, and returns it with its base URL.
func startService(ctx context.Context, t *testing.T, bin, otlpURL string) (*e2e.Process, *url.URL) {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-otlp", otlpURL, "-otlp-interval", "1s")
	p := e2e.Start(t, "service", cmd)
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	addr, err := p.Stdout.Line(lctx, "listening on ")
	if err != nil {
		t.Fatalf("service: %v", err)
	}
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatalf("service address %q: %v", addr, err)
	}
	return p, u
}

// runLoadGenerator runs the example's load generator and checks what it
// reports against the model.
func runLoadGenerator(ctx context.Context, t *testing.T, bin string, target *url.URL, m inputModel) {
	t.Helper()
	cmd := exec.Command(bin, "-load", "-target", target.String(),
		"-n", strconv.Itoa(m.n), "-rate", strconv.Itoa(e2eRate), "-warmup", e2eWarmup.String(),
		"-duration", "90s", "-concurrency", "16")
	p := e2e.Start(t, "load generator", cmd)
	lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := p.Wait(lctx); err != nil {
		t.Fatalf("load generator: %v", err)
	}
	var sum struct {
		Sent     int            `json:"sent"`
		Statuses map[string]int `json:"statuses"`
		Failed   int            `json:"failed"`
		Complete bool           `json:"complete"`
		Seconds  float64        `json:"seconds"`
	}
	if err := json.Unmarshal([]byte(p.Stdout.String()), &sum); err != nil {
		t.Fatalf("load generator summary %q: %v", p.Stdout.String(), err)
	}
	t.Logf("load: %d requests in %.1fs, statuses %v", sum.Sent, sum.Seconds, sum.Statuses)
	if sum.Sent != m.n || sum.Failed != 0 || !sum.Complete {
		t.Fatalf("load generator: sent %d of %d, %d failed, complete %v", sum.Sent, m.n, sum.Failed, sum.Complete)
	}
	for code, n := range m.statuses {
		if sum.Statuses[code] != n {
			t.Errorf("HTTP %s: %d responses, want %d (legacy's result, as the model has it)", code, sum.Statuses[code], n)
		}
	}
}

// serviceStats is the service's GET /stats: dualrun's in-process
// statistics of the experiment.
type serviceStats struct {
	Experiment string           `json:"experiment"`
	Calls      int64            `json:"calls"`
	Compared   int64            `json:"compared"`
	Outcomes   map[string]int64 `json:"outcomes"`
	InFlight   int64            `json:"in_flight"`
	Legacy     sideLatency      `json:"legacy"`
	Candidate  sideLatency      `json:"candidate"`
}

// sideLatency is one side's latency, in seconds, from dualrun's own
// histogram: within 1/64 of the exact sample quantile.
type sideLatency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_seconds"`
	P99   float64 `json:"p99_seconds"`
}

func (s serviceStats) quantile(side string, phi float64) float64 {
	l := s.Legacy
	if side == "candidate" {
		l = s.Candidate
	}
	switch phi {
	case 0.5:
		return l.P50
	case 0.99:
		return l.P99
	}
	panic(fmt.Sprintf("no p%g in the service's stats", phi*100))
}

// fetchStats reads the service's in-process statistics.
func fetchStats(ctx context.Context, t *testing.T, base *url.URL) serviceStats {
	t.Helper()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("/stats").String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		t.Fatalf("service stats: %v", err)
	}
	defer resp.Body.Close()
	var s serviceStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("service stats: %s, %v", resp.Status, err)
	}
	return s
}

// checkStats checks dualrun's in-process statistics against the model:
// the same outcomes, every call timed on both sides, and each side at
// least as slow as its modelled work (the reference of the quantile
// checks must be a real measurement).
func checkStats(t *testing.T, s serviceStats, m inputModel) {
	if s.Experiment != experiment || s.Calls != int64(m.n) || s.Compared != int64(m.compared()) || s.InFlight != 0 {
		t.Errorf("stats: %+v", s)
	}
	for o, want := range m.outcomes {
		if s.Outcomes[o] != int64(want) {
			t.Errorf("stats: %d %s, want %d", s.Outcomes[o], o, want)
		}
	}
	for _, side := range []string{"legacy", "candidate"} {
		for _, phi := range []float64{0.5, 0.99} {
			got, nominal := s.quantile(side, phi), m.quantile(side, phi)
			if got < nominal*(1-1.0/64) {
				t.Errorf("%s p%g: %vs in-process, below the modelled %vs", side, phi*100, got, nominal)
			}
			t.Logf("%s p%g: %.4fs in-process (modelled %.4fs)", side, phi*100, got, nominal)
		}
	}
	if s.Legacy.Count < uint64(m.n-m.untimedLegacy()) || s.Legacy.Count > uint64(m.n) || s.Candidate.Count != uint64(m.n) {
		t.Errorf("stats: %d legacy and %d candidate durations, want %d each (legacy: %d may be untimed)",
			s.Legacy.Count, s.Candidate.Count, m.n, m.untimedLegacy())
	}
}

// sel is the selector of the experiment's series.
var sel = fmt.Sprintf(`dualrun_experiment=%q`, experiment)

// waitForFinalCounts waits until Prometheus has scraped the final counts
// (every request compared and recorded, no shadow in flight) and returns
// the time of the last scrape: the queries are evaluated exactly there, so
// that rate() does not extrapolate past the last sample.
func waitForFinalCounts(ctx context.Context, t *testing.T, prom *e2e.Prometheus, m inputModel) time.Time {
	t.Helper()
	want := map[string]float64{
		`sum(dualrun_comparisons_total{` + sel + `})`:                                     float64(m.compared()),
		`sum(dualrun_calls_total{` + sel + `})`:                                           float64(m.n),
		`sum(dualrun_call_duration_seconds_count{` + sel + `, dualrun_side="candidate"})`: float64(m.n),
		`sum(dualrun_shadow_inflight{` + sel + `})`:                                       0,
	}
	e2e.Eventually(ctx, t, 30*time.Second, "final counts in Prometheus", func(ctx context.Context) error {
		var diffs []string
		for _, expr := range slices.Sorted(maps.Keys(want)) {
			v, err := prom.Scalar(ctx, expr, time.Now())
			if err != nil {
				return err
			}
			if v != want[expr] {
				diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", expr, v, want[expr]))
			}
		}
		if len(diffs) > 0 {
			return fmt.Errorf("%s", strings.Join(diffs, "; "))
		}
		return nil
	})
	// The candidate's duration is recorded after the legacy side's: with
	// every candidate duration in, the legacy ones are final too. They
	// may lack a few (see inputModel.untimed).
	legacy, err := prom.Scalar(ctx, `sum(dualrun_call_duration_seconds_count{`+sel+`, dualrun_side="legacy"})`, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if lo := float64(m.n - m.untimedLegacy()); legacy < lo || legacy > float64(m.n) {
		t.Fatalf("%v legacy durations, want %v to %d", legacy, lo, m.n)
	} else if legacy < float64(m.n) {
		t.Logf("%v legacy durations of %d: a legacy call outlasted its shadow's timeout (overloaded machine)", legacy, m.n)
	}
	mat, err := prom.Matrix(ctx, `dualrun_calls_total{`+sel+`}[10m]`, time.Now())
	if err != nil || len(mat) == 0 {
		t.Fatalf("raw samples: %v %v", mat, err)
	}
	s := mat[0].Values
	first, last := s[0].Timestamp.Time(), s[len(s)-1].Timestamp.Time()
	if d := last.Sub(first); d > time.Duration(window*float64(time.Second))-10*time.Second {
		t.Fatalf("the run took %v, longer than the %vs window the checks assume", d, window)
	}
	return last
}

// checkZeroInit checks the telemetry contract's zero-initialisation: every
// outcome series of the experiment (both primaries, every mismatch kind)
// was scraped at zero before the load, but for the warm-up request's match.
func checkZeroInit(ctx context.Context, t *testing.T, prom *e2e.Prometheus, tLast time.Time) {
	mat, err := prom.Matrix(ctx, `dualrun_comparisons_total{`+sel+`}[10m]`, tLast)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * (len(allOutcomes) - 1 + len(allKinds)); len(mat) != want {
		t.Errorf("%d comparison series, want %d (every outcome and kind for both primaries): %v", len(mat), want, mat)
	}
	for _, s := range mat {
		want := 0.0
		if s.Metric["dualrun_outcome"] == "match" && s.Metric["dualrun_primary"] == "legacy" {
			want = 1
		}
		if got := float64(s.Values[0].Value); got != want {
			t.Errorf("%v: first sample %v, want %v", s.Metric, got, want)
		}
	}
}

var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

// checkTemplateVariable evaluates the dashboard's experiment variable as
// Grafana does: the label values of a series.
func checkTemplateVariable(ctx context.Context, t *testing.T, prom *e2e.Prometheus, tLast time.Time) {
	d := readDashboard(t)
	n := 0
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		n++
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(metric, label)", v.Name, v.Definition)
			continue
		}
		vals, warnings, _, err := prom.API.LabelValues(ctx, m[2], []string{m[1]}, tLast.Add(-10*time.Minute), tLast)
		if err != nil || len(warnings) > 0 {
			t.Fatalf("label values %s of %s: %v %v", m[2], m[1], err, warnings)
		}
		found := false
		for _, lv := range vals {
			found = found || string(lv) == experiment
		}
		if !found {
			t.Errorf("variable %s: values %v lack %q", v.Name, vals, experiment)
		}
	}
	if n == 0 {
		t.Error("the dashboard has no query variable")
	}
}

// waitForRules waits until every rule has been evaluated on the last
// scrape (one interval after it, so the scrape is surely stored) and
// checks that none failed. It returns a time after those evaluations.
func waitForRules(ctx context.Context, t *testing.T, prom *e2e.Prometheus, tLast time.Time) time.Time {
	t.Helper()
	after := tLast.Add(time.Second)
	e2e.Eventually(ctx, t, 30*time.Second, "rules evaluated after the last scrape", func(ctx context.Context) error {
		res, err := prom.API.Rules(ctx, nil)
		if err != nil {
			return err
		}
		n := 0
		for _, g := range res.Groups {
			for _, r := range g.Rules {
				var (
					name, health, lastErr string
					last                  time.Time
				)
				switch r := r.(type) {
				case v1.RecordingRule:
					name, health, lastErr, last = r.Name, string(r.Health), r.LastError, r.LastEvaluation
				case v1.AlertingRule:
					name, health, lastErr, last = r.Name, string(r.Health), r.LastError, r.LastEvaluation
				default:
					t.Fatalf("unknown rule type %T", r)
				}
				n++
				if health != string(v1.RuleHealthGood) {
					t.Fatalf("rule %s: health %q: %s", name, health, lastErr)
				}
				if !last.After(after) {
					return fmt.Errorf("rule %s last evaluated at %v", name, last)
				}
			}
		}
		if n == 0 {
			return fmt.Errorf("no rule loaded")
		}
		return nil
	})
	return time.Now()
}

// checkQueries evaluates every expression of the dashboard and the rules
// at tLast (alerts at tRules) and checks its value. A dashboard query with
// no series fails, and so does an expression with no check, or a check
// with no expression.
func checkQueries(ctx context.Context, t *testing.T, prom *e2e.Prometheus, checks map[string]check, tLast, tRules time.Time) {
	dq, err := dashboardQueries(readDashboard(t))
	if err != nil {
		t.Fatal(err)
	}
	rq, err := ruleQueries(readRules(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, q := range append(dq, rq...) {
		seen[q.key] = true
		t.Run(q.key, func(t *testing.T) {
			c, ok := checks[q.key]
			if !ok {
				t.Fatalf("no check for %s: add its expected value to expectations()", q.key)
			}
			expr, err := substitute(q.expr)
			if err != nil {
				t.Fatal(err)
			}
			ts := tLast
			if c.later {
				// Alerts read recorded series, which the rules write
				// after the scrape.
				ts = tRules
			}
			vec, err := prom.Vector(ctx, expr, ts)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(q.key, "dashboard/") && len(vec) == 0 {
				t.Fatalf("%s returned no series:\n%s", q.key, expr)
			}
			if err := c.fn(vec); err != nil {
				t.Errorf("%v\nexpression:\n%s\nresult: %v", err, expr, vec)
			}
		})
	}
	for key := range checks {
		if !seen[key] {
			t.Errorf("check %s has no expression in the dashboard or the rules", key)
		}
	}
}

// checkAlerts waits until the alerts that the run must fire are firing,
// and checks that the others are not.
func checkAlerts(ctx context.Context, t *testing.T, prom *e2e.Prometheus, checks map[string]check, m inputModel) {
	firing := []string{"DualrunMismatchRateHigh", "DualrunCandidateLatencyRegression", "DualrunShadowPanics", "DualrunShadowTimeouts"}
	quiet := []string{"DualrunShedding"}
	for _, name := range append(firing, quiet...) {
		if _, ok := checks["alert/"+name]; !ok {
			t.Fatalf("alert %s is not in %s", name, rulesFile)
		}
	}
	t.Logf("the run's mismatch rate is %.2f%%, its timeout rate %.2f%%: over the alerts' 1%%",
		100*m.mismatchRate(), 100*float64(m.outcomes["timeout"])/float64(m.compared()))
	var active map[string]string
	e2e.Eventually(ctx, t, 30*time.Second, "alerts firing", func(ctx context.Context) error {
		res, err := prom.API.Alerts(ctx)
		if err != nil {
			return err
		}
		active = map[string]string{}
		for _, a := range res.Alerts {
			if string(a.Labels["dualrun_experiment"]) != experiment {
				return fmt.Errorf("alert %v without the experiment label", a.Labels)
			}
			active[string(a.Labels["alertname"])] = string(a.State)
		}
		for _, name := range firing {
			if active[name] != "firing" {
				return fmt.Errorf("%s is %q, want firing (active: %v)", name, active[name], active)
			}
		}
		return nil
	})
	for _, name := range quiet {
		if s, ok := active[name]; ok {
			t.Errorf("%s is %s: the run sheds nothing", name, s)
		}
	}
}
