package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// PrometheusReadyTimeout bounds the wait for a started Prometheus to be
// ready.
const PrometheusReadyTimeout = 30 * time.Second

// Prometheus is a running Prometheus, started by [StartPrometheus], and a
// client of its HTTP API.
type Prometheus struct {
	// Proc is the Prometheus process.
	Proc *Process
	// URL is its base URL, http://127.0.0.1:PORT.
	URL string
	// Client is the HTTP API client.
	Client api.Client
	// API is the v1 query API.
	API v1.API
}

// PrometheusConfig is what [WritePrometheusConfig] changes in a
// configuration file.
type PrometheusConfig struct {
	// Interval is the scrape interval, scrape timeout and rule evaluation
	// interval.
	Interval time.Duration
	// Targets replaces the targets of the file's one scrape
	// configuration: host:port addresses on loopback.
	Targets []string
	// RuleFiles replaces the file's rule files; relative paths are taken
	// from the test's working directory.
	RuleFiles []string
}

// WritePrometheusConfig reads the Prometheus configuration file base, which
// must have one scrape configuration, replaces its intervals, targets and
// rule files with cfg's, writes the result into dir as prometheus.yml and
// returns its path. Everything else is used as written, so a test runs the
// configuration that users get.
func WritePrometheusConfig(t testing.TB, base, dir string, cfg PrometheusConfig) string {
	t.Helper()
	if cfg.Interval <= 0 {
		t.Fatalf("Prometheus configuration: interval %v", cfg.Interval)
	}
	interval := model.Duration(cfg.Interval).String()
	var c map[string]any
	ReadYAML(t, base, &c)
	global, _ := c["global"].(map[string]any)
	if global == nil {
		global = map[string]any{}
		c["global"] = global
	}
	global["scrape_interval"] = interval
	global["evaluation_interval"] = interval
	scrapes, _ := c["scrape_configs"].([]any)
	if len(scrapes) != 1 {
		t.Fatalf("%s: %d scrape configs, want one", base, len(scrapes))
	}
	sc, _ := scrapes[0].(map[string]any)
	if sc == nil {
		t.Fatalf("%s: the scrape config is not a mapping", base)
	}
	targets := make([]any, len(cfg.Targets))
	for i, tg := range cfg.Targets {
		targets[i] = tg
	}
	sc["static_configs"] = []any{map[string]any{"targets": targets}}
	sc["scrape_timeout"] = interval
	rules := make([]any, len(cfg.RuleFiles))
	for i, f := range cfg.RuleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		rules[i] = abs
	}
	c["rule_files"] = rules
	path := filepath.Join(dir, "prometheus.yml")
	WriteYAML(t, path, c)
	return path
}

// ReadYAML decodes the YAML file at path into v, or fails the test.
func ReadYAML(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// WriteYAML writes v as YAML to path, or fails the test.
func WriteYAML(t testing.TB, path string, v any) {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// StartPrometheus starts the Prometheus binary bin on a free loopback port
// with the configuration file config and a temporary data directory,
// waits until it is ready ([PrometheusReadyTimeout]) and returns it. It is
// stopped when the test ends.
func StartPrometheus(ctx context.Context, t testing.TB, bin, config string) *Prometheus {
	t.Helper()
	dir := t.TempDir()
	port := FreePort(t)
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=1h",
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--log.level=warn",
	)
	cmd.Dir = dir
	p := Start(t, "prometheus", cmd)

	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	s := &Prometheus{Proc: p, URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	client, err := api.NewClient(api.Config{Address: s.URL, RoundTripper: transport})
	if err != nil {
		t.Fatal(err)
	}
	s.Client, s.API = client, v1.NewAPI(client)
	Eventually(ctx, t, PrometheusReadyTimeout, "Prometheus ready", func(ctx context.Context) error {
		if done, err := p.Exited(); done {
			t.Fatalf("prometheus exited: %v", err)
		}
		return s.Ready(ctx)
	})
	return s
}

// Ready asks Prometheus's readiness endpoint.
func (s *Prometheus) Ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Client.URL("/-/ready", nil).String(), nil)
	if err != nil {
		return err
	}
	resp, body, err := s.Client.Do(ctx, req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/-/ready: %s: %s", resp.Status, body)
	}
	return nil
}

// Vector evaluates expr at ts and returns the instant vector. Warnings are
// errors.
func (s *Prometheus) Vector(ctx context.Context, expr string, ts time.Time) (model.Vector, error) {
	v, warnings, _, err := s.API.Query(ctx, expr, ts)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	if len(warnings) > 0 {
		return nil, fmt.Errorf("query %q: warnings %v", expr, warnings)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("query %q: got a %s, want a vector", expr, v.Type())
	}
	return vec, nil
}

// Scalar evaluates expr, which must give exactly one series, at ts.
func (s *Prometheus) Scalar(ctx context.Context, expr string, ts time.Time) (float64, error) {
	vec, err := s.Vector(ctx, expr, ts)
	if err != nil {
		return 0, err
	}
	if len(vec) != 1 {
		return 0, fmt.Errorf("query %q: %d series, want 1: %v", expr, len(vec), vec)
	}
	return float64(vec[0].Value), nil
}

// Matrix evaluates a range selector at ts and returns its raw samples.
func (s *Prometheus) Matrix(ctx context.Context, expr string, ts time.Time) (model.Matrix, error) {
	v, warnings, _, err := s.API.Query(ctx, expr, ts)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	if len(warnings) > 0 {
		return nil, fmt.Errorf("query %q: warnings %v", expr, warnings)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("query %q: got a %s, want a matrix", expr, v.Type())
	}
	return m, nil
}
