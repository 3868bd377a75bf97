package redact_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/redact"
)

func TestApply(t *testing.T) {
	shared := &dualrun.Report{Experiment: "other", Diff: strings.Repeat("y", 50)}
	tests := []struct {
		name     string
		reason   string
		hook     redact.Hook
		diff     string
		same     bool // the input Report itself is returned
		wantDiff string
		wantNil  bool
		wantErr  bool
	}{
		{name: "pass through", reason: "no hook, a small diff: no copy", diff: "abc", same: true, wantDiff: "abc"},
		{name: "cut", reason: "a long diff is cut on a copy", diff: strings.Repeat("x", 50), wantDiff: strings.Repeat("x", 17) + "…"},
		{name: "hook", reason: "the hook edits a copy", diff: "abc", hook: func(r *dualrun.Report) *dualrun.Report { r.Diff = "redacted"; return r }, wantDiff: "redacted"},
		{name: "skip", reason: "nil skips", diff: "abc", hook: func(*dualrun.Report) *dualrun.Report { return nil }, wantNil: true},
		{
			name: "other report", reason: "a Report the hook returns is cut on a copy, not in place", diff: "abc",
			hook: func(*dualrun.Report) *dualrun.Report { return shared }, wantDiff: strings.Repeat("y", 17) + "…",
		},
		{name: "panic", reason: "a panicking hook drops the report", diff: "abc", hook: func(*dualrun.Report) *dualrun.Report { panic("x") }, wantNil: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &dualrun.Report{Experiment: "e", Diff: tt.diff, Paths: []string{".A"}}
			out, err := redact.Apply(in, tt.hook, 20)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, redact.ErrHookFailed)) {
				t.Fatalf("err = %v (%s)", err, tt.reason)
			}
			if (out == nil) != tt.wantNil {
				t.Fatalf("out = %v (%s)", out, tt.reason)
			}
			if out == nil {
				return
			}
			if (out == in) != tt.same || out.Diff != tt.wantDiff {
				t.Fatalf("same %v diff %q, want %v %q (%s)", out == in, out.Diff, tt.same, tt.wantDiff, tt.reason)
			}
			if in.Diff != tt.diff || len(shared.Diff) != 50 {
				t.Fatalf("Apply changed a shared Report (%s)", tt.reason)
			}
		})
	}
}

// badUnwrap is an error whose Unwrap panics.
type badUnwrap struct{}

func (badUnwrap) Error() string { return "bad" }
func (badUnwrap) Unwrap() error { panic("unwrap") }

func TestCallbackName(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		err    error
		want   string
	}{
		{name: "nil", reason: "no callback failed", err: nil, want: ""},
		{name: "callback", reason: "the core's error", err: &dualrun.CallbackError{Callback: "WithComparer func", Err: errors.New("x")}, want: "WithComparer func"},
		{name: "plain", reason: "not a CallbackError", err: errors.New("x"), want: "unknown"},
		{name: "panicking unwrap", reason: "user Unwrap is survived", err: badUnwrap{}, want: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact.CallbackName(tt.err); got != tt.want {
				t.Fatalf("CallbackName = %q, want %q (%s)", got, tt.want, tt.reason)
			}
		})
	}
	if got := redact.ErrorText(errors.New(strings.Repeat("z", 5000))); len(got) > redact.MaxErrorText {
		t.Fatalf("error text of %d bytes, want at most %d", len(got), redact.MaxErrorText)
	}
}
