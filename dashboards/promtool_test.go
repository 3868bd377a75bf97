package dashboards_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
)

// TestPromtool runs promtool on the rules and the Prometheus
// configuration: syntax and semantics (check), and the rules' unit tests
// with their real `for` durations (test rules).
func TestPromtool(t *testing.T) {
	promtool := e2e.NeedTools(t, "promtool")["promtool"]
	tests := []struct {
		name   string
		reason string
		args   []string
		want   string
	}{
		{"check rules", "rules.yml must load in Prometheus", []string{"check", "rules", rulesFile}, "SUCCESS"},
		{"check config", "the configuration the README gives must load, rules included", []string{"check", "config", promConfigFile}, "SUCCESS"},
		{"test rules", "alerts fire on the synthetic series after their `for`, and only then", []string{"test", "rules", rulesTestFile}, "SUCCESS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			out, err := e2e.Run(ctx, t, "promtool", exec.Command(promtool, tt.args...))
			if err != nil || !strings.Contains(out, tt.want) {
				t.Fatalf("promtool %s: %v (%s)\n%s", strings.Join(tt.args, " "), err, tt.reason, out)
			}
		})
	}
}
