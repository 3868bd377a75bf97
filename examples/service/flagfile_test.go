package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests run the flagd provider in in-process file mode for real on a
// temporary flag file. The file watcher works in real time, so they wait
// for effects, bounded; the bound only stops a hung test.

// flagFileJSON is a flag file in flagd's format with the experiment's flag
// as the fleet ramp controller writes it: an object flag whose default
// variant is the step, with the controller's state in the metadata, next
// to a flag it does not manage.
func flagFileJSON(t *testing.T, variant map[string]any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{
		"$schema": "https://flagd.dev/schema/v0/flags.json",
		"flags": map[string]any{
			experimentName: map[string]any{
				"state":          "ENABLED",
				"defaultVariant": "step",
				"variants":       map[string]any{"step": variant},
				"metadata":       map[string]any{"dualrunRampStep": 1, "dualrunRampPaused": false},
			},
			"other.flag": map[string]any{
				"state": "ENABLED", "defaultVariant": "on", "variants": map[string]any{"on": true, "off": false},
			},
		},
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFileAtomic replaces path the way the controller does: a temporary
// file in the same directory, renamed over the old one.
func writeFileAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".flags-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// startService runs the program with args on a free port and returns its
// base URL; it is stopped, and its exit checked, when the test ends.
func startService(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := newLineWriter()
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), out, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-out.first:
		return strings.TrimPrefix(addr, "listening on ")
	case err := <-done:
		done <- err
		t.Fatalf("run returned early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the service did not start in 30s")
	}
	return ""
}

// fetchRollout reads GET /admin/rollout of a running service.
func fetchRollout(t *testing.T, client *http.Client, base string) rolloutBody {
	t.Helper()
	resp, err := client.Get(base + "/admin/rollout")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b rolloutBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/rollout: %s: %v", resp.Status, err)
	}
	return b
}

// waitRollout polls GET /admin/rollout until cond holds and returns the
// time it took.
func waitRollout(t *testing.T, client *http.Client, base, what string, cond func(rolloutBody) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		b := fetchRollout(t, client, base)
		if cond(b) {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s: not within 10s; rollout %+v", what, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFlagFileFollowsRenames: a service started with -flag-file follows
// every rename-replace of the file (temporary file + rename, as the ramp
// controller writes it), and keeps the last good rollout when the file
// becomes unparsable, holds a bad value or loses the flag.
func TestFlagFileFollowsRenames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	writeFileAtomic(t, path, flagFileJSON(t, map[string]any{"shadow_percent": 100}))
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	base := startService(t, "-flag-file", path, "-candidate", "good")

	first := fetchRollout(t, client, base)
	if want := (rolloutBody{
		Experiment: experimentName, ShadowBP: 10000, Primary: "legacy", Candidate: "good",
		Source: "flag-file", FlagFile: path,
	}); first != want {
		t.Fatalf("at start: %+v, want %+v", first, want)
	}

	steps := []struct {
		name    string
		reason  string
		variant map[string]any
		cp      int
		primary string
	}{
		{"half", "the ramp's middle step", map[string]any{"shadow_percent": 100, "candidate_primary_percent": 50}, 5000, "mixed"},
		{"all", "the ramp's last step", map[string]any{"shadow_percent": 100, "candidate_primary_percent": 100}, 10000, "candidate"},
		{"rollback", "back to step 0", map[string]any{"shadow_percent": 100}, 0, "legacy"},
		{"fraction", "basis points", map[string]any{"shadow_percent": 100, "candidate_primary_percent": 0.25}, 25, "mixed"},
		{"all again", "a second cycle", map[string]any{"shadow_percent": 100, "candidate_primary_percent": 100}, 10000, "candidate"},
	}
	for _, st := range steps {
		writeFileAtomic(t, path, flagFileJSON(t, st.variant))
		took := waitRollout(t, client, base, st.name, func(b rolloutBody) bool {
			return b.CandidatePrimaryBP == st.cp && b.Primary == st.primary && b.FlagProblem == ""
		})
		t.Logf("%s (%s): in force %v after the rename", st.name, st.reason, took.Round(time.Millisecond))
	}

	// Bad edits: the last good rollout (candidate 100%) stays in force.
	bad := []struct {
		name    string
		reason  string
		data    []byte
		problem string // in flag_problem; empty: flagd keeps its own last flags
	}{
		{"out of range", "a percentage over 100", flagFileJSON(t, map[string]any{"candidate_primary_percent": 150}), "candidate_primary_percent"},
		{"unknown field", "a typo in the value", flagFileJSON(t, map[string]any{"candidate_primary_prcent": 0}), "candidate_primary_prcent"},
		{"flag deleted", "another flag only", []byte(`{"flags":{"other.flag":{"state":"ENABLED","defaultVariant":"on","variants":{"on":true}}}}`), "FLAG_NOT_FOUND"},
		{"truncated", "unparsable JSON", []byte(`{"flags": {"shipping.quote": {"state": "ENA`), ""},
		{"empty", "a zero-length file", nil, ""},
	}
	for _, b := range bad {
		writeFileAtomic(t, path, b.data)
		if b.problem != "" {
			waitRollout(t, client, base, b.name+" reported", func(r rolloutBody) bool {
				return strings.Contains(strings.ToUpper(r.FlagProblem), strings.ToUpper(b.problem))
			})
		} else {
			// flagd rejects the file and reports nothing the policy sees:
			// give its watcher time to read it, then check nothing moved.
			time.Sleep(300 * time.Millisecond)
		}
		if got := fetchRollout(t, client, base); got.CandidatePrimaryBP != 10000 || got.Primary != "candidate" {
			t.Errorf("%s (%s): rollout %+v, want the last good one (candidate 100%%)", b.name, b.reason, got)
		}
	}
	// A good file takes effect again.
	writeFileAtomic(t, path, flagFileJSON(t, map[string]any{"shadow_percent": 100}))
	waitRollout(t, client, base, "recovery", func(b rolloutBody) bool { return b.Primary == "legacy" && b.FlagProblem == "" })
}

// TestFlagFileAtStart: a flag file that flagd cannot read at start-up
// stops the service with an error naming the file, instead of serving
// with a rollout nobody chose.
func TestFlagFileAtStart(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.json")
	if err := os.WriteFile(garbage, []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		reason string
		path   string
	}{
		{"missing", "no such file", filepath.Join(dir, "missing.json")},
		{"unparsable", "not JSON", garbage},
		{"directory", "not a file", dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-flag-file", tt.path}, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("run with flag file %s: %v, want an error naming it (%s)", tt.path, err, tt.reason)
			}
			t.Logf("%s: %v after %v", tt.name, err, time.Since(start).Round(time.Millisecond))
		})
	}
}

// ExampleVersion lists the candidate versions of POST /admin/candidate.
func Example_candidateVersions() {
	for _, name := range []string{"rewrite", "good", "bad", "worse"} {
		v, err := parseVersion(name)
		fmt.Println(v, err)
	}
	// Output:
	// rewrite <nil>
	// good <nil>
	// bad <nil>
	// rewrite unknown candidate version "worse": want rewrite, good or bad
}
