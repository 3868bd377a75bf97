package fleetramp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
)

// The fleet end-to-end test runs, on loopback, a real Prometheus (scrape
// and rule evaluation every second, dashboards/rules.yml loaded) scraping
// two replicas of examples/service, separate processes that follow the
// same flagd flag file; a load generator per replica; and dualrun-ramp run,
// a separate process, with testdata/e2e-ramp.json. The replicas' candidate
// starts as the "good" version (it agrees with legacy at a latency close
// to legacy's), so the controller ramps it through its three steps; then
// the test switches both replicas to the "bad" version (it differs from
// legacy on every call and breaks nothing else) and the controller must
// roll back because of the mismatch rate.
const (
	// examplesDir is the examples module, whose service the test builds.
	examplesDir = "../examples"
	// dashboardsDir holds the Prometheus configuration and rules the test
	// runs with (targets and intervals replaced).
	dashboardsDir = "../dashboards"
	// rampConfig is the controller's configuration.
	rampConfig = "testdata/e2e-ramp.json"
	experiment = "shipping.quote"
	// lastStep is the last step of rampConfig, candidate 100%.
	lastStep = 2
	// stepHold is rampConfig's hold: the least time on a step.
	stepHold = 4 * time.Second

	// Load per replica: loadRate requests per second, at most loadRequests
	// of them (the known input set of the example), for at most
	// loadDuration; the test ends long before.
	loadRate     = 40
	loadRequests = 8000
	loadDuration = 200 * time.Second

	// suiteTimeout bounds the run once the binaries are built.
	suiteTimeout = 150 * time.Second
	// rampTimeout bounds the ramp from the controller's start to the last
	// step on both replicas: three steps of at least hold (4s) each, plus
	// the data Prometheus needs before the first decision.
	rampTimeout = 90 * time.Second
	// rollbackTimeout bounds the rollback, from the switch to the bad
	// candidate to legacy primary on both replicas: the mismatch rate has
	// to show in Prometheus (a scrape and a rule evaluation per second),
	// the controller to evaluate (every second) and write the flag file,
	// and flagd to read it. It is measured and logged.
	rollbackTimeout = 30 * time.Second
	// dwell is how long the test watches that a rollout stays as it is:
	// five of the controller's evaluations, more than the hold.
	dwell = 5 * time.Second
	// pollEvery is how often the test reads the replicas' rollouts.
	pollEvery = 100 * time.Millisecond
)

// TestFleetRampEndToEnd: the controller ramps the experiment through its
// steps on both replicas from the fleet's metrics, and rolls it back on
// both, naming the mismatch rate, once the candidate turns bad.
func TestFleetRampEndToEnd(t *testing.T) {
	tools := e2e.NeedTools(t, "go", "prometheus")
	if testing.Short() && !e2e.Strict() {
		t.Skip("-short: the fleet end-to-end test runs servers for about a minute")
	}
	ctx := t.Context()
	// Build first: the builds are not part of the suite's time bound.
	svcBin := e2e.BuildGo(ctx, t, tools["go"], examplesDir, "./service")
	rampBin := e2e.BuildGo(ctx, t, tools["go"], ".", "./cmd/dualrun-ramp")
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, suiteTimeout)
	defer cancel()

	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}

	dir := t.TempDir()
	flagFile := filepath.Join(dir, "flags.json")
	writeInitialFlags(t, flagFile)

	replicas := []*replica{
		startReplica(ctx, t, client, svcBin, "replica-1", flagFile),
		startReplica(ctx, t, client, svcBin, "replica-2", flagFile),
	}
	for _, r := range replicas {
		if got := r.rollout(ctx, t); got.Primary != "legacy" || got.ShadowBP != 0 || got.Source != "flag-file" || got.Candidate != "good" {
			t.Fatalf("%s at start: %+v, want legacy only from the flag file, candidate good", r.name, got)
		}
	}

	promCfg := e2e.WritePrometheusConfig(t, filepath.Join(dashboardsDir, "prometheus.yml"), dir, e2e.PrometheusConfig{
		Interval:  time.Second,
		Targets:   []string{replicas[0].url.Host, replicas[1].url.Host},
		RuleFiles: []string{filepath.Join(dashboardsDir, "rules.yml")},
	})
	prom := e2e.StartPrometheus(ctx, t, tools["prometheus"], promCfg)
	e2e.Eventually(ctx, t, 30*time.Second, "Prometheus scrapes both replicas", func(ctx context.Context) error {
		v, err := prom.Scalar(ctx, `count(up{job="dualrun-example"} == 1)`, time.Now())
		if err == nil && v != 2 {
			err = fmt.Errorf("%v replicas up", v)
		}
		return err
	})
	for _, r := range replicas {
		startLoad(t, svcBin, r)
	}

	statusFile := filepath.Join(dir, "status.json")
	ctl := e2e.Start(t, "dualrun-ramp", exec.Command(rampBin, "run",
		"-config", rampConfig, "-prometheus", prom.URL, "-flag-file", flagFile,
		"-status-file", statusFile, "-listen", "127.0.0.1:0"))
	lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
	addr, err := ctl.Stdout.Line(lctx, "listening on ")
	lcancel()
	if err != nil {
		t.Fatalf("dualrun-ramp: %v", err)
	}
	ctlURL := "http://" + strings.TrimPrefix(addr, "http://")

	// Phase 1: the ramp. Each replica's rollout is read every pollEvery;
	// the distinct rollouts it goes through, and when it got to each, are
	// kept.
	rampStart := time.Now()
	seen := make([][]seenRollout, len(replicas))
	pollReplicas(ctx, t, replicas, rampTimeout, "both replicas at the last step (candidate 100%)", func(i int, b rolloutBody) bool {
		r := seenRollout{cp: b.CandidatePrimaryBP, shadow: b.ShadowBP}
		if n := len(seen[i]); n == 0 || seen[i][n-1].cp != r.cp || seen[i][n-1].shadow != r.shadow {
			r.at = time.Since(rampStart)
			seen[i] = append(seen[i], r)
		}
		return b.Primary == "candidate" && b.CandidatePrimaryBP == 10000 && b.ShadowBP == 10000
	})
	t.Logf("ramp: both replicas at candidate 100%% %v after the controller started", time.Since(rampStart).Round(100*time.Millisecond))
	for i, r := range replicas {
		t.Logf("%s went through (candidate primary/shadow, since the controller started): %v", r.name, seen[i])
		steps := seen[i]
		if len(steps) > 0 && steps[0].cp == 0 && steps[0].shadow == 0 {
			steps = steps[1:] // legacy only, before the controller's first write
		}
		if len(steps) != 3 || steps[0].cp != 0 || steps[1].cp != 5000 || steps[2].cp != 10000 ||
			steps[0].shadow != 10000 || steps[1].shadow != 10000 {
			t.Errorf("%s went through %v: want the three steps in order (0/100%%, 50/100%%, 100/100%%)", r.name, seen[i])
			continue
		}
		// Each step but the last lasted at least the configured hold,
		// less what the replica's polling and flagd's reaction may cut
		// off.
		for j := range 2 {
			if d := steps[j+1].at - steps[j].at; d < stepHold-time.Second {
				t.Errorf("%s: step %d lasted %v, want at least the hold of %v", r.name, j, d, stepHold)
			}
		}
	}
	st := fetchStatus(ctx, t, client, ctlURL)
	if st.Step != lastStep || st.Paused {
		t.Errorf("status after the ramp: step %d, paused %v; want step %d, running: %+v", st.Step, st.Paused, lastStep, st)
	}
	checkFlagFileKeepsOthers(t, flagFile)

	// While the candidate is good, the controller keeps it at the last
	// step: evaluations every second for dwell, with the fleet's data.
	watchReplicas(ctx, t, replicas, dwell, "at the last step while the candidate is good", func(b rolloutBody) bool {
		return b.Primary == "candidate" && b.CandidatePrimaryBP == 10000
	})
	if st = fetchStatus(ctx, t, client, ctlURL); st.Step != lastStep || (st.LastTransition != nil && st.LastTransition.Reason == "rollback") {
		t.Fatalf("status after %v at the last step with the good candidate: %+v", dwell, st)
	}

	// Phase 2: the candidate turns bad on both replicas.
	switched := time.Now()
	for _, r := range replicas {
		r.setCandidate(ctx, t, "bad")
	}
	pollReplicas(ctx, t, replicas, rollbackTimeout, "both replicas back to legacy primary", func(_ int, b rolloutBody) bool {
		return b.Primary == "legacy" && b.CandidatePrimaryBP == 0
	})
	rollback := time.Since(switched)
	t.Logf("rollback: both replicas legacy primary %v after the switch to the bad candidate (bound %v)",
		rollback.Round(100*time.Millisecond), rollbackTimeout)

	// The controller says why.
	var tr *transition
	e2e.Eventually(ctx, t, 10*time.Second, "the rollback in the controller's status", func(ctx context.Context) error {
		st = fetchStatus(ctx, t, client, ctlURL)
		if tr = st.LastTransition; tr == nil || tr.Reason != "rollback" {
			return fmt.Errorf("last transition %+v, want a rollback", tr)
		}
		return nil
	})
	t.Logf("status: step %d (%s), last transition %s from %d to %d, signal %s, value %s over threshold %s",
		st.Step, st.StepName, tr.Reason, tr.From, tr.To, tr.Signal, ptrText(tr.Value), ptrText(tr.Threshold))
	if tr.Signal != "mismatch_rate" || tr.From != lastStep || tr.To != 0 || st.Step != 0 {
		t.Errorf("rollback %+v at step %d: want from %d to 0, signal mismatch_rate", *tr, st.Step, lastStep)
	}
	if tr.Value == nil || tr.Threshold == nil || !(*tr.Value > *tr.Threshold) || *tr.Threshold != 0.05 {
		t.Errorf("rollback value %v, threshold %v: want a value over the configured 0.05", ptrText(tr.Value), ptrText(tr.Threshold))
	}
	var fileStatus statusBody
	if data, err := os.ReadFile(statusFile); err != nil {
		t.Errorf("status file: %v", err)
	} else if err := json.Unmarshal(data, &fileStatus); err != nil {
		t.Errorf("status file %q: %v", data, err)
	}
	if fst := fileStatus.experiment(); fst.LastTransition == nil || fst.LastTransition.Reason != "rollback" {
		t.Errorf("status file: %+v, want the rollback", fst)
	}
	checkControllerMetrics(ctx, t, client, ctlURL)

	// While the candidate stays bad, the controller does not ramp it again.
	watchReplicas(ctx, t, replicas, dwell, "legacy primary while the candidate is bad", func(b rolloutBody) bool {
		return b.Primary == "legacy"
	})

	// SIGTERM stops the controller cleanly.
	ctl.Signal(syscall.SIGTERM)
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := ctl.Wait(wctx); err != nil {
		t.Errorf("dualrun-ramp after SIGTERM: %v, want exit status 0", err)
	}
	t.Logf("the controller's decisions that moved the flag:\n%s",
		grep(ctl.Stderr.String(), "result=advance", "result=rollback", "flag written"))
	t.Logf("suite: %v after the builds", time.Since(began).Round(100*time.Millisecond))
}

// seenRollout is a rollout a replica was seen in: candidate primary and
// shadow basis points, since when.
type seenRollout struct {
	cp, shadow int
	at         time.Duration
}

func (r seenRollout) String() string {
	return fmt.Sprintf("%g/%g%% at %v", float64(r.cp)/100, float64(r.shadow)/100, r.at.Round(10*time.Millisecond))
}

// writeInitialFlags writes the flag file as a team has it before the
// controller takes over: the experiment's flag at legacy (a string flag),
// next to a flag the controller must leave alone.
func writeInitialFlags(t *testing.T, path string) {
	t.Helper()
	data := `{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "flags": {
    "shipping.quote": {"state": "ENABLED", "defaultVariant": "legacy",
      "variants": {"legacy": "legacy", "shadow": "shadow"}},
    "checkout.banner": {"state": "ENABLED", "defaultVariant": "on",
      "variants": {"on": true, "off": false}}
  }
}
`
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkFlagFileKeepsOthers checks that the controller's writes kept the
// flag it does not manage.
func checkFlagFileKeepsOthers(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Flags map[string]struct {
			DefaultVariant string         `json:"defaultVariant"`
			Variants       map[string]any `json:"variants"`
		} `json:"flags"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("flag file %s: %v", data, err)
	}
	if f, ok := doc.Flags["checkout.banner"]; !ok || f.DefaultVariant != "on" || len(f.Variants) != 2 {
		t.Errorf("flag file after the ramp lost the unmanaged flag checkout.banner:\n%s", data)
	}
}

// replica is a running service example following the flag file.
type replica struct {
	name   string
	proc   *e2e.Process
	url    *url.URL
	client *http.Client
}

// startReplica starts the service example on a free port, following
// flagFile, with the good candidate.
func startReplica(ctx context.Context, t *testing.T, client *http.Client, bin, name, flagFile string) *replica {
	t.Helper()
	p := e2e.Start(t, name, exec.Command(bin, "-addr", "127.0.0.1:0", "-flag-file", flagFile, "-candidate", "good"))
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	addr, err := p.Stdout.Line(lctx, "listening on ")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	u, err := url.Parse(addr)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("%s address %q: %v", name, addr, err)
	}
	return &replica{name: name, proc: p, url: u, client: client}
}

// startLoad starts the example's load generator against r.
func startLoad(t *testing.T, bin string, r *replica) {
	t.Helper()
	e2e.Start(t, "load "+r.name, exec.Command(bin, "-load", "-target", r.url.String(),
		"-n", strconv.Itoa(loadRequests), "-rate", strconv.Itoa(loadRate),
		"-duration", loadDuration.String(), "-concurrency", "8"))
}

// rolloutBody is the service's GET /admin/rollout.
type rolloutBody struct {
	Experiment         string `json:"experiment"`
	CandidatePrimaryBP int    `json:"candidate_primary_bp"`
	ShadowBP           int    `json:"shadow_bp"`
	Primary            string `json:"primary"`
	Candidate          string `json:"candidate"`
	Source             string `json:"source"`
	FlagProblem        string `json:"flag_problem"`
}

func (r *replica) getRollout(ctx context.Context) (rolloutBody, error) {
	var b rolloutBody
	err := getJSON(ctx, r.client, r.url.JoinPath("/admin/rollout").String(), &b)
	if err == nil && b.Experiment != experiment {
		err = fmt.Errorf("rollout of experiment %q, want %q", b.Experiment, experiment)
	}
	return b, err
}

func (r *replica) rollout(ctx context.Context, t *testing.T) rolloutBody {
	t.Helper()
	b, err := r.getRollout(ctx)
	if err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	return b
}

// setCandidate switches the replica's candidate code.
func (r *replica) setCandidate(ctx context.Context, t *testing.T, version string) {
	t.Helper()
	u := r.url.JoinPath("/admin/candidate")
	u.RawQuery = url.Values{"version": {version}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s: POST %s: %v", r.name, u, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: POST %s: %s %s", r.name, u, resp.Status, body)
	}
}

// pollReplicas reads every replica's rollout every pollEvery until done
// holds for all of them at once, or fails the test after timeout. A
// replica that exits fails it at once.
func pollReplicas(ctx context.Context, t *testing.T, rs []*replica, timeout time.Duration, what string, done func(i int, b rolloutBody) bool) {
	t.Helper()
	err := e2e.Poll(ctx, timeout, pollEvery, what, func(ctx context.Context) error {
		var notYet []string
		for i, r := range rs {
			if exited, err := r.proc.Exited(); exited {
				t.Fatalf("%s exited: %v", r.name, err)
			}
			b, err := r.getRollout(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			if !done(i, b) {
				notYet = append(notYet, fmt.Sprintf("%s: %+v", r.name, b))
			}
		}
		if len(notYet) > 0 {
			return errors.New(strings.Join(notYet, "; "))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// watchReplicas reads every replica's rollout every pollEvery for d, and
// fails the test at the first that does not satisfy ok.
func watchReplicas(ctx context.Context, t *testing.T, rs []*replica, d time.Duration, what string, ok func(rolloutBody) bool) {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		for _, r := range rs {
			if b := r.rollout(ctx, t); !ok(b) {
				t.Fatalf("%s, %v after the start of the watch: %+v; want it %s", r.name, time.Since(start).Round(10*time.Millisecond), b, what)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// statusBody is the controller's GET /status and status file.
type statusBody struct {
	UpdatedAt   time.Time         `json:"updated_at"`
	Experiments []experimentState `json:"experiments"`
}

type experimentState struct {
	Name            string      `json:"name"`
	Step            int         `json:"step"`
	StepName        string      `json:"step_name"`
	Paused          bool        `json:"paused"`
	Waiting         string      `json:"waiting"`
	LastTransition  *transition `json:"last_transition"`
	PrometheusError string      `json:"prometheus_error"`
}

type transition struct {
	At        time.Time `json:"at"`
	From      int       `json:"from"`
	To        int       `json:"to"`
	Reason    string    `json:"reason"`
	Signal    string    `json:"signal"`
	Value     *float64  `json:"value"`
	Threshold *float64  `json:"threshold"`
}

func (s statusBody) experiment() experimentState {
	for _, e := range s.Experiments {
		if e.Name == experiment {
			return e
		}
	}
	return experimentState{}
}

func fetchStatus(ctx context.Context, t *testing.T, client *http.Client, base string) experimentState {
	t.Helper()
	var s statusBody
	if err := getJSON(ctx, client, base+"/status", &s); err != nil {
		t.Fatalf("controller status: %v", err)
	}
	e := s.experiment()
	if e.Name == "" {
		t.Fatalf("controller status without %s: %+v", experiment, s)
	}
	return e
}

// checkControllerMetrics checks the controller's own metrics: at step 0
// again, one rollback counted.
func checkControllerMetrics(ctx context.Context, t *testing.T, client *http.Client, base string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("controller metrics: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`dualrun_ramp_step{experiment="shipping.quote"} 0`,
		`dualrun_ramp_transitions_total{experiment="shipping.quote",reason="rollback"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("controller metrics lack %q:\n%s", want, grep(text, "dualrun_ramp_"))
		}
	}
}

func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w: %s", u, err, body)
	}
	return nil
}

// grep returns the lines of s that contain any of subs.
func grep(s string, subs ...string) string {
	var b strings.Builder
	for l := range strings.Lines(s) {
		if slices.ContainsFunc(subs, func(sub string) bool { return strings.Contains(l, sub) }) {
			b.WriteString(l)
		}
	}
	return b.String()
}

func ptrText(p *float64) string {
	if p == nil {
		return "none"
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}
