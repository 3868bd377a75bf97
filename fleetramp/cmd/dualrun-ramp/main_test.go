package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runCmdLine(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		args   []string
		code   int
		want   string // in stdout+stderr
	}{
		{"no command", "the usage, as an error", nil, 2, "Usage:"},
		{"help", "-h prints the usage on stdout", []string{"-h"}, 0, "dualrun-ramp run -config"},
		{"unknown", "a typo names itself", []string{"rnu"}, 2, `unknown command "rnu"`},
		{"run help", "each command documents its flags", []string{"run", "-h"}, 0, "-prometheus"},
		{"run dry-run flag", "the dry-run flag is documented", []string{"run", "-h"}, 0, "-dry-run"},
		{"status help", "status documents -status-file", []string{"status", "-h"}, 0, "-status-file"},
		{"pause help", "a manual command says what it does", []string{"pause", "-h"}, 0, "stops advancing"},
		{"rollback help", "a manual command says what it does", []string{"rollback", "-h"}, 0, "rollback step and pauses"},
		{"run missing flags", "config, Prometheus and flag file are required", []string{"run", "-config", "x.json"}, 2, "required"},
		{"manual without experiment", "one experiment is required", []string{"advance", "-flag-file", "f.json"}, 2, "EXPERIMENT"},
		{"bad flag", "an unknown flag is a usage error", []string{"status", "-nope"}, 2, "not defined"},
		{"missing config file", "a config that cannot be read fails", []string{"run", "-config", "/nonexistent/ramp.json", "-prometheus", "http://127.0.0.1:1", "-flag-file", "f.json"}, 1, "no such file"},
		{"missing status file", "no status yet", []string{"status", "-status-file", "/nonexistent/status.json"}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCmdLine(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Fatalf("exit %d, output %q %q; want exit %d and %q (%s)", code, out, errs, tt.code, tt.want, tt.reason)
			}
		})
	}
}

const config = `{"experiments":[{"name":"shipping.quote",
  "steps":[{"name":"shadow 100%","shadow_percent":100},
           {"shadow_percent":100,"candidate_primary_percent":50},
           {"shadow_percent":100,"candidate_primary_percent":100}],
  "guard":{"max_mismatch_rate":0.05},"interval":"1h","hold":"1h"}]}`

// TestRunAndManualCommands runs the controller against a Prometheus API
// that has no data, reads its /status and /metrics, stops it, then moves
// the ramp by hand.
func TestRunAndManualCommands(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	}))
	defer prom.Close()
	dir := t.TempDir()
	cfgPath, flags, status := filepath.Join(dir, "ramp.json"), filepath.Join(dir, "flags.json"), filepath.Join(dir, "status.json")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{
			"run", "-config", cfgPath, "-prometheus", prom.URL, "-flag-file", flags,
			"-status-file", status, "-listen", "127.0.0.1:0",
		}, pw, &errb)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("first line %q, %v: want listening on ADDR", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	addr := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	get := func(path string) string {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(b)
	}
	var st struct {
		Experiments []struct {
			Name string `json:"name"`
			Step int    `json:"step"`
		} `json:"experiments"`
	}
	if err := json.Unmarshal([]byte(get("/status")), &st); err != nil || len(st.Experiments) != 1 || st.Experiments[0].Name != "shipping.quote" {
		t.Fatalf("/status: %+v, %v", st, err)
	}
	if m := get("/metrics"); !strings.Contains(m, `dualrun_ramp_evaluations_total{experiment="shipping.quote",result="no_data"}`) {
		t.Fatalf("/metrics lacks the evaluations counter:\n%s", m)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run exited %d after its context ended, want 0; stderr:\n%s", code, errb.String())
	}
	if data, err := os.ReadFile(flags); err != nil || !strings.Contains(string(data), `"dualrunRampStep": 0`) {
		t.Fatalf("flag file %s, %v: want step 0 written", data, err)
	}

	tests := []struct {
		name   string
		reason string
		args   []string
		code   int
		want   string
	}{
		{"advance", "by hand", []string{"advance", "-flag-file", flags, "shipping.quote"}, 0, "shipping.quote: manual 0 → 1"},
		{"pause", "pause at the step", []string{"pause", "-flag-file", flags, "shipping.quote"}, 0, "pause at 1"},
		{"pause twice", "nothing to do is exit 3", []string{"pause", "-flag-file", flags, "shipping.quote"}, 3, "nothing to do"},
		{"rollback", "back to the rollback step", []string{"rollback", "-flag-file", flags, "shipping.quote"}, 0, "manual 1 → 0"},
		{"resume", "running again", []string{"resume", "-flag-file", flags, "shipping.quote"}, 0, "resume at 0"},
		{"unknown experiment", "an error", []string{"pause", "-flag-file", flags, "other"}, 1, "no flag"},
		{"status", "prints the status file", []string{"status", "-status-file", status}, 0, `"name": "shipping.quote"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCmdLine(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Fatalf("exit %d, output %q %q; want exit %d and %q (%s)", code, out, errs, tt.code, tt.want, tt.reason)
			}
		})
	}
}
