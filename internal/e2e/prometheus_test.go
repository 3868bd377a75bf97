package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
)

func TestWritePrometheusConfig(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.yml")
	if err := os.WriteFile(base, []byte(`# users' file
global:
  scrape_interval: 5s
  external_labels: {team: x}
rule_files: [rules.yml]
scrape_configs:
  - job_name: svc
    metrics_path: /m
    static_configs:
      - targets: ["127.0.0.1:8080"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	path := e2e.WritePrometheusConfig(t, base, dir, e2e.PrometheusConfig{
		Interval:  time.Second,
		Targets:   []string{"127.0.0.1:1", "127.0.0.1:2"},
		RuleFiles: []string{"/abs/rules.yml"},
	})
	var got map[string]any
	e2e.ReadYAML(t, path, &got)
	want := map[string]any{
		"global":     map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s", "external_labels": map[string]any{"team": "x"}},
		"rule_files": []any{"/abs/rules.yml"},
		"scrape_configs": []any{map[string]any{
			"job_name": "svc", "metrics_path": "/m", "scrape_timeout": "1s",
			"static_configs": []any{map[string]any{"targets": []any{"127.0.0.1:1", "127.0.0.1:2"}}},
		}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("config:\n%v\nwant\n%v", got, want)
	}
}

// TestStartPrometheus runs a real Prometheus (skipped without one, unless
// strict) that scrapes a test server and evaluates a recording rule, and
// queries both through the helpers.
func TestStartPrometheus(t *testing.T) {
	bin := e2e.NeedTools(t, "prometheus")["prometheus"]
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "# TYPE e2e_test_value gauge")
		fmt.Fprintln(w, "e2e_test_value 21")
	}))
	defer target.Close()

	dir := t.TempDir()
	base := filepath.Join(dir, "base.yml")
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(base, []byte("scrape_configs:\n  - job_name: e2e\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, []byte("groups:\n  - name: g\n    rules:\n      - record: e2e:value:doubled\n        expr: e2e_test_value * 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e2e.WritePrometheusConfig(t, base, dir, e2e.PrometheusConfig{
		Interval:  time.Second,
		Targets:   []string{strings.TrimPrefix(target.URL, "http://")},
		RuleFiles: []string{rules},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prom := e2e.StartPrometheus(ctx, t, bin, cfg)
	if !strings.HasPrefix(prom.URL, "http://127.0.0.1:") {
		t.Errorf("URL %q: want loopback", prom.URL)
	}
	e2e.Eventually(ctx, t, 30*time.Second, "the recorded series", func(ctx context.Context) error {
		v, err := prom.Scalar(ctx, `e2e:value:doubled{job="e2e"}`, time.Now())
		if err == nil && v != 42 {
			err = fmt.Errorf("e2e:value:doubled = %v, want 42", v)
		}
		return err
	})
	if _, err := prom.Scalar(ctx, `up{job="nope"}`, time.Now()); err == nil {
		t.Error("Scalar of no series: no error")
	}
	m, err := prom.Matrix(ctx, `e2e_test_value[1m]`, time.Now())
	if err != nil || len(m) != 1 || len(m[0].Values) == 0 || m[0].Values[0].Value != 21 {
		t.Errorf("Matrix = %v, %v", m, err)
	}
	if _, err := prom.Matrix(ctx, `e2e_test_value`, time.Now()); err == nil {
		t.Error("Matrix of an instant vector: no error")
	}
	if _, err := prom.Vector(ctx, `e2e_test_value[1m]`, time.Now()); err == nil {
		t.Error("Vector of a range vector: no error")
	}
	if _, err := prom.Vector(ctx, `sum(`, time.Now()); err == nil {
		t.Error("Vector of a syntax error: no error")
	}
	prom.Proc.Stop()
	if err := prom.Ready(ctx); err == nil {
		t.Error("ready after Stop")
	}
}
