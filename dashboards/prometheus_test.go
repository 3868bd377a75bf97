package dashboards_test

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

// promInterval is the scrape and rule evaluation interval of the test's
// Prometheus.
const promInterval = "1s"

// promServer is a running Prometheus and a client of its HTTP API.
type promServer struct {
	proc   *process
	client api.Client
	api    v1.API
}

// writePromConfig writes, into dir, prometheus.yml with the test's target
// and intervals, and rules.yml with every alert's `for` set to 0s (so that
// alerts fire within the test; rules_test.yml covers the real durations
// with promtool). Everything else is used as written.
func writePromConfig(t *testing.T, dir, target string) string {
	t.Helper()
	var cfg map[string]any
	readYAML(t, promConfigFile, &cfg)
	global, _ := cfg["global"].(map[string]any)
	if global == nil {
		t.Fatalf("%s: no global section", promConfigFile)
	}
	global["scrape_interval"] = promInterval
	global["evaluation_interval"] = promInterval
	scrapes, _ := cfg["scrape_configs"].([]any)
	if len(scrapes) != 1 {
		t.Fatalf("%s: want one scrape config, the service example's", promConfigFile)
	}
	sc, _ := scrapes[0].(map[string]any)
	sc["static_configs"] = []any{map[string]any{"targets": []any{target}}}
	sc["scrape_timeout"] = promInterval
	cfg["rule_files"] = []any{filepath.Join(dir, rulesFile)}

	var rules map[string]any
	readYAML(t, rulesFile, &rules)
	alerts := 0
	for _, g := range rules["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			if _, ok := rule["alert"]; ok {
				rule["for"] = "0s"
				alerts++
			}
		}
	}
	if alerts == 0 {
		t.Fatalf("%s: no alert", rulesFile)
	}
	writeYAML(t, filepath.Join(dir, rulesFile), rules)
	path := filepath.Join(dir, promConfigFile)
	writeYAML(t, path, cfg)
	return path
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// startPrometheus starts Prometheus on a free loopback port with a
// temporary configuration and data directory, scraping target, and waits
// until it is ready.
func startPrometheus(ctx context.Context, t *testing.T, bin, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	cfg := writePromConfig(t, dir, target)
	port := freePort(t)
	cmd := exec.Command(bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=1h",
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--log.level=warn",
	)
	cmd.Dir = dir
	p := start(t, "prometheus", cmd)

	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	client, err := api.NewClient(api.Config{
		Address:      fmt.Sprintf("http://127.0.0.1:%d", port),
		RoundTripper: transport,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &promServer{proc: p, client: client, api: v1.NewAPI(client)}
	eventually(ctx, t, 30*time.Second, "Prometheus ready", func(ctx context.Context) error {
		if done, err := p.exited(); done {
			t.Fatalf("prometheus exited: %v", err)
		}
		return s.ready(ctx)
	})
	return s
}

// ready asks Prometheus's readiness endpoint.
func (s *promServer) ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.client.URL("/-/ready", nil).String(), nil)
	if err != nil {
		return err
	}
	resp, body, err := s.client.Do(ctx, req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/-/ready: %s: %s", resp.Status, body)
	}
	return nil
}

// vector evaluates expr at ts and returns the instant vector.
func (s *promServer) vector(ctx context.Context, expr string, ts time.Time) (model.Vector, error) {
	v, warnings, _, err := s.api.Query(ctx, expr, ts)
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

// scalar evaluates expr, which must give one series, at ts.
func (s *promServer) scalar(ctx context.Context, expr string, ts time.Time) (float64, error) {
	vec, err := s.vector(ctx, expr, ts)
	if err != nil {
		return 0, err
	}
	if len(vec) != 1 {
		return 0, fmt.Errorf("query %q: %d series, want 1: %v", expr, len(vec), vec)
	}
	return float64(vec[0].Value), nil
}

// matrix evaluates a range selector at ts and returns its raw samples.
func (s *promServer) matrix(ctx context.Context, expr string, ts time.Time) (model.Matrix, error) {
	v, warnings, _, err := s.api.Query(ctx, expr, ts)
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
