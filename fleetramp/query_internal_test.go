package fleetramp

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestQueriesAreTheRecordingRules keeps the controller's queries equal to
// the recording rules of dashboards/rules.yml they mirror: rendered for
// every experiment over 5m, each is its rule's expression.
func TestQueriesAreTheRecordingRules(t *testing.T) {
	data, err := os.ReadFile("../dashboards/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				exprs[r.Record] = r.Expr
			}
		}
	}
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for rule, tmpl := range ruleQueries {
		t.Run(rule, func(t *testing.T) {
			want, ok := exprs[rule]
			if !ok {
				t.Fatalf("dashboards/rules.yml has no recording rule %s: the controller's query mirrors it", rule)
			}
			if got := render(tmpl, "", "5m"); norm(got) != norm(want) {
				t.Fatalf("the query drifted from its rule:\n got  %s\n want %s", norm(got), norm(want))
			}
		})
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name, reason, tmpl, exp, rng, want string
	}{
		{"matcher first", "the experiment joins the other matchers", `x{SEL a="b"}[RANGE]`, "e", "30s", `x{dualrun_experiment="e",a="b"}[30s]`},
		{"matcher alone", "a selector with no other matcher", `x{SEL}[RANGE]`, "e", "7s", `x{dualrun_experiment="e"}[7s]`},
		{"all experiments", "empty braces disappear", `x{SEL}[RANGE]`, "", "5m", `x[5m]`},
		{"braces in the name", "the name is not rewritten", `x{SEL}[RANGE]`, "a{}RANGE{SEL b", "1s", `x{dualrun_experiment="a{}RANGE{SEL b"}[1s]`},
		{"quoted", "a hostile name stays inside its string", `x{SEL}[RANGE]`, `a"} or vector(1) #`, "1s", `x{dualrun_experiment="a\"} or vector(1) #"}[1s]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(tt.tmpl, tt.exp, tt.rng); got != tt.want {
				t.Fatalf("render = %s, want %s (%s)", got, tt.want, tt.reason)
			}
		})
	}
}
