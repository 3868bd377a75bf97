package dualrun_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
)

// secret is a value that must never leave the process unless asked for.
const secret = "4111-1111-1111-1111"

func secretReport() *dualrun.Report {
	return &dualrun.Report{
		ID:                 "00112233445566778899aabbccddeeff",
		Experiment:         "checkout.card",
		Time:               time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
		Outcome:            dualrun.Mismatch,
		Kind:               dualrun.OneSideErred,
		Primary:            dualrun.Legacy,
		LegacyDuration:     1500 * time.Microsecond,
		CandidateDuration:  2 * time.Millisecond,
		CandidateErr:       errors.New("card " + secret + " declined"),
		CandidateErrorType: "*errors.errorString",
		Paths:              []string{".Card"},
		Diff:               "-\u00a0card: " + secret + "\n",
		Key:                "user-" + secret,
	}
}

// TestReportJSON pins the JSON form: value-free by default, values and the
// key only when asked for, plain spaces in the diff.
func TestReportJSON(t *testing.T) {
	tests := []struct {
		name       string
		reason     string
		opts       dualrun.JSONOptions
		wantSecret bool
		wantKey    bool
	}{
		{name: "default", reason: "values and keys can be personal data: absent unless asked for"},
		{name: "values", reason: "Values adds the diff and error texts", opts: dualrun.JSONOptions{Values: true}, wantSecret: true},
		{name: "key", reason: "Key adds the key only", opts: dualrun.JSONOptions{Key: true}, wantKey: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := secretReport().JSON(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, b)
			}
			if m["schema_version"] != float64(dualrun.ReportSchemaVersion) || m["id"] != "00112233445566778899aabbccddeeff" ||
				m["outcome"] != "mismatch" || m["kind"] != "error" || m["primary"] != "legacy" {
				t.Errorf("fixed fields wrong: %s", b)
			}
			cand, _ := m["candidate"].(map[string]any)
			if cand["error_type"] != "*errors.errorString" || cand["duration_seconds"] != 0.002 {
				t.Errorf("candidate = %v", cand)
			}
			_, hasKey := m["key"]
			_, hasDiff := m["diff"]
			if got := strings.Contains(strings.ReplaceAll(string(b), "user-"+secret, ""), secret); got != tt.wantSecret || hasDiff != tt.wantSecret {
				t.Errorf("values present = %v, diff present = %v, want %v (%s):\n%s", got, hasDiff, tt.wantSecret, tt.reason, b)
			}
			if hasKey != tt.wantKey {
				t.Errorf("key present = %v, want %v (%s)", hasKey, tt.wantKey, tt.reason)
			}
			if strings.Contains(string(b), "\u00a0") || strings.Contains(string(b), `\u00a0`) {
				t.Errorf("non-breaking space in the JSON form: %s", b)
			}
		})
	}
	// MarshalJSON is the default form.
	b1, _ := json.Marshal(secretReport())
	b2, _ := secretReport().JSON(dualrun.JSONOptions{})
	if !bytes.Equal(b1, b2) {
		t.Errorf("MarshalJSON = %s\nwant %s", b1, b2)
	}
}

// TestReportLogValue: logging a Report with slog carries no value and no
// key, whatever the handler.
func TestReportLogValue(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("dualrun", "report", secretReport())
	out := buf.String()
	if strings.Contains(out, secret) {
		t.Fatalf("the log record carries a value: %s", out)
	}
	for _, want := range []string{`"experiment":"checkout.card"`, `"outcome":"mismatch"`, `"kind":"error"`, `"candidate_error_type":"*errors.errorString"`, `"paths":[".Card"]`} {
		if !strings.Contains(out, want) {
			t.Errorf("log record lacks %s: %s", want, out)
		}
	}
}

// TestReportIDs: every Report of a run gets its own ID.
func TestReportIDs(t *testing.T) {
	var ids []string
	pub := dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		ids = append(ids, r.ID)
		return nil
	})
	exp := newExp[int](t, dualrun.WithPublisher(pub), dualrun.WithReportDedup(0), dualrun.WithReportRate(0, 1))
	for i := range 50 {
		_, _ = exp.Run(context.Background(), func(context.Context) (int, error) { return 0, nil },
			func(context.Context) (int, error) { return i + 1, nil })
	}
	waitShutdown(t, exp)
	seen := map[string]bool{}
	for _, id := range ids {
		if len(id) != 32 || seen[id] {
			t.Fatalf("ID %q: want 32 hex digits, unique", id)
		}
		seen[id] = true
	}
	if len(ids) == 0 {
		t.Fatal("no report")
	}
}
