package dashboards_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The files under test.
const (
	dashboardFile  = "grafana-dashboard.json"
	rulesFile      = "rules.yml"
	rulesTestFile  = "rules_test.yml"
	promConfigFile = "prometheus.yml"
)

// query is one PromQL expression of the dashboard or the rules.
type query struct {
	// key names it: "dashboard/<panel title>/<refId>",
	// "record/<recorded name>" or "alert/<alert name>".
	key  string
	expr string
}

// grafanaPanel is the part of a Grafana panel the test reads.
type grafanaPanel struct {
	Type    string         `json:"type"`
	Title   string         `json:"title"`
	Panels  []grafanaPanel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// grafanaDashboard is the part of the dashboard the test reads.
type grafanaDashboard struct {
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// dashboardQueries returns every expression of every panel, rows'
// panels included. A panel without one is an error.
func dashboardQueries(d grafanaDashboard) ([]query, error) {
	var out []query
	var walk func(ps []grafanaPanel) error
	walk = func(ps []grafanaPanel) error {
		for _, p := range ps {
			if p.Type == "row" {
				if err := walk(p.Panels); err != nil {
					return err
				}
				continue
			}
			n := 0
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					continue
				}
				n++
				out = append(out, query{key: "dashboard/" + p.Title + "/" + tg.RefID, expr: tg.Expr})
			}
			if n == 0 {
				return fmt.Errorf("panel %q has no PromQL expression", p.Title)
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	return out, nil
}

// ruleFile is the shape of a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
			For    string `yaml:"for"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(data, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return rf
}

// ruleQueries returns the expression of every recording and alerting rule.
func ruleQueries(rf ruleFile) ([]query, error) {
	var out []query
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			var key string
			switch {
			case r.Record != "":
				key = "record/" + r.Record
			case r.Alert != "":
				key = "alert/" + r.Alert
			default:
				return nil, fmt.Errorf("group %s: a rule with neither record nor alert", g.Name)
			}
			if strings.TrimSpace(r.Expr) == "" {
				return nil, fmt.Errorf("%s: no expression", key)
			}
			out = append(out, query{key: key, expr: r.Expr})
		}
	}
	return out, nil
}

// grafanaVariables are the values the test gives the dashboard's
// variables: every experiment, and a rate interval and a time range of 5
// minutes, which cover the whole load and match the rules' windows.
var grafanaVariables = []string{
	"$__rate_interval", "5m",
	"$__range", "5m",
	"$experiment", ".*",
}

var leftoverVariable = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*`)

// substitute replaces the dashboard's variables, as Grafana would, and
// fails on a variable the test does not know.
func substitute(expr string) (string, error) {
	out := strings.NewReplacer(grafanaVariables...).Replace(expr)
	if v := leftoverVariable.FindString(out); v != "" {
		return "", fmt.Errorf("unknown Grafana variable %s in %q", v, expr)
	}
	return out, nil
}

// TestQueriesParse checks the extraction the end-to-end test relies on:
// every panel has an expression, every rule is found, names are unique,
// and every variable is one the test can substitute.
func TestQueriesParse(t *testing.T) {
	d := readDashboard(t)
	dq, err := dashboardQueries(d)
	if err != nil {
		t.Fatal(err)
	}
	rq, err := ruleQueries(readRules(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, q := range append(dq, rq...) {
		if seen[q.key] {
			t.Errorf("two expressions named %s: the checks key on the name", q.key)
		}
		seen[q.key] = true
		if _, err := substitute(q.expr); err != nil {
			t.Error(err)
		}
	}
	tests := []struct {
		name   string
		reason string
		got    int
		min    int
	}{
		{"dashboard expressions", "the dashboard has a panel per view the issue lists", len(dq), 15},
		{"rules", "recording rules and five alerts", len(rq), 12},
		{"template variables", "datasource and experiment", len(d.Templating.List), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got < tt.min {
				t.Errorf("%d %s, want at least %d (%s)", tt.got, tt.name, tt.min, tt.reason)
			}
		})
	}
}

// TestSubstitute pins the variable substitution.
func TestSubstitute(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		in      string
		want    string
		wantErr bool
	}{
		{"rate interval", "Grafana's $__rate_interval becomes the test's window", `rate(x[$__rate_interval])`, `rate(x[5m])`, false},
		{"range", "instant panels use $__range", `increase(x[$__range])`, `increase(x[5m])`, false},
		{"experiment", "the All value of the experiment variable", `x{e=~"$experiment"}`, `x{e=~".*"}`, false},
		{"unknown", "a new variable needs a value in the test", `x[$__interval]`, "", true},
		{"braced unknown", "the ${var} form is caught too", `x{e="${other}"}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := substitute(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("substitute(%q) = %q, %v; want %q, error %v (%s)", tt.in, got, err, tt.want, tt.wantErr, tt.reason)
			}
		})
	}
}
