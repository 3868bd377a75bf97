package dashboards_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
)

// promInterval is the scrape and rule evaluation interval of the test's
// Prometheus.
const promInterval = time.Second

// writePromConfig writes, into dir, prometheus.yml with the test's target
// and intervals (the rest as written in this folder's prometheus.yml), and
// rules.yml with every alert's `for` set to 0s (so that alerts fire within
// the test; rules_test.yml covers the real durations with promtool).
func writePromConfig(t *testing.T, dir, target string) string {
	t.Helper()
	var rules map[string]any
	e2e.ReadYAML(t, rulesFile, &rules)
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
	testRules := filepath.Join(dir, rulesFile)
	e2e.WriteYAML(t, testRules, rules)
	return e2e.WritePrometheusConfig(t, promConfigFile, dir, e2e.PrometheusConfig{
		Interval:  promInterval,
		Targets:   []string{target},
		RuleFiles: []string{testRules},
	})
}

// startPrometheus starts Prometheus on a free loopback port with the
// test's configuration and a temporary data directory, scraping target,
// and waits until it is ready.
func startPrometheus(ctx context.Context, t *testing.T, bin, target string) *e2e.Prometheus {
	t.Helper()
	return e2e.StartPrometheus(ctx, t, bin, writePromConfig(t, t.TempDir(), target))
}
