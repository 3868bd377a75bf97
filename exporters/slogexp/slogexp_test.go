package slogexp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/exptest"
	"github.com/dualrun/dualrun/exporters/slogexp"
)

func records(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		out = append(out, m)
	}
	return out
}

func TestAttributes(t *testing.T) {
	always := []string{
		"dualrun.experiment", "dualrun.outcome", "dualrun.mismatch.kind", "dualrun.primary",
		"dualrun.report.id", "dualrun.paths", "dualrun.legacy.duration", "dualrun.candidate.duration",
		"dualrun.candidate.error.type", "dualrun.shadow.trace_id", "dualrun.shadow.span_id",
	}
	tests := []struct {
		name    string
		reason  string
		opts    []slogexp.Option
		secret  bool
		present []string
		absent  []string
	}{
		{
			name:    "default",
			reason:  "value-free: no diff, no error texts, no key",
			present: always,
			absent:  []string{"dualrun.diff", "dualrun.candidate.error", "dualrun.key"},
		},
		{
			name:    "values",
			reason:  "WithValues adds the diff and the error texts",
			opts:    []slogexp.Option{slogexp.WithValues()},
			secret:  true,
			present: append([]string{"dualrun.diff", "dualrun.candidate.error"}, always...),
			absent:  []string{"dualrun.key", "dualrun.legacy.error"},
		},
		{
			name:    "keys",
			reason:  "WithKeys adds the key alone",
			opts:    []slogexp.Option{slogexp.WithKeys()},
			secret:  true,
			present: []string{"dualrun.key"},
			absent:  []string{"dualrun.diff"},
		},
		{
			name:   "hook",
			reason: "the hook runs first, even with values on",
			opts: []slogexp.Option{slogexp.WithValues(), slogexp.WithRedact(func(r *dualrun.Report) *dualrun.Report {
				r.Diff, r.CandidateErr = "(redacted)", errors.New("declined")
				return r
			})},
			present: []string{"dualrun.diff"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := slogexp.New(slog.New(slog.NewJSONHandler(&buf, nil)), tt.opts...)
			if err := e.Publish(context.Background(), exptest.Sample("checkout")); err != nil {
				t.Fatal(err)
			}
			recs := records(t, buf.Bytes())
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			rec := recs[0]
			if rec["level"] != "WARN" || rec["msg"] != "dualrun mismatch" || rec["time"] != "2026-11-30T12:00:00.000000005Z" {
				t.Errorf("record %v: want WARN \"dualrun mismatch\" at the Report's time", rec)
			}
			for _, k := range tt.present {
				if _, ok := rec[k]; !ok {
					t.Errorf("attribute %q missing (%s): %v", k, tt.reason, rec)
				}
			}
			for _, k := range tt.absent {
				if _, ok := rec[k]; ok {
					t.Errorf("attribute %q present (%s)", k, tt.reason)
				}
			}
			if has := strings.Contains(buf.String(), exptest.Secret); has != tt.secret {
				t.Errorf("secret in output = %v, want %v (%s): %s", has, tt.secret, tt.reason, buf.String())
			}
		})
	}
}

func TestLevels(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		outcome dualrun.Outcome
		opts    []slogexp.Option
		want    string
	}{
		{name: "mismatch", reason: "a mismatch is worth a look", outcome: dualrun.Mismatch, want: "WARN"},
		{name: "timeout", reason: "a slow candidate is worth a look", outcome: dualrun.Timeout, want: "WARN"},
		{name: "panic", reason: "a crashing candidate is a bug", outcome: dualrun.Panic, want: "ERROR"},
		{name: "error", reason: "a failing callback is a bug in the comparison", outcome: dualrun.Error, want: "ERROR"},
		{
			name: "override", reason: "WithLevel changes an outcome's level", outcome: dualrun.Mismatch,
			opts: []slogexp.Option{slogexp.WithLevel(dualrun.Mismatch, slog.LevelInfo)}, want: "INFO",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := slogexp.New(slog.New(slog.NewJSONHandler(&buf, nil)), tt.opts...)
			r := exptest.Sample("x")
			r.Outcome = tt.outcome
			if err := e.Publish(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if got := records(t, buf.Bytes())[0]["level"]; got != tt.want {
				t.Fatalf("level %v, want %s (%s)", got, tt.want, tt.reason)
			}
		})
	}
}

func TestDisabledLevel(t *testing.T) {
	var buf bytes.Buffer
	e := slogexp.New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})))
	if err := e.Publish(context.Background(), exptest.Sample("x")); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("a Warn record went through an Error handler: %s", buf.String())
	}
}

// ctxHandler is a slog.Handler that keeps the context of the last record
// and can fail.
type ctxHandler struct {
	ctx context.Context
	err error
}

func (h *ctxHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *ctxHandler) Handle(ctx context.Context, _ slog.Record) error {
	h.ctx = ctx
	return h.err
}
func (h *ctxHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *ctxHandler) WithGroup(string) slog.Handler      { return h }

func TestContextCarriesShadowSpan(t *testing.T) {
	h := &ctxHandler{}
	r := exptest.Sample("x")
	if err := slogexp.New(slog.New(h)).Publish(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got := trace.SpanContextFromContext(h.ctx); !got.Equal(r.ShadowSpan) {
		t.Fatalf("record context holds span %v, want the shadow span %v", got, r.ShadowSpan)
	}
}

func TestHandlerErrorCountsDropped(t *testing.T) {
	h := &ctxHandler{err: errors.New("log sink down")}
	st := exptest.Mismatch(t, "slog.fail", dualrun.WithPublisher(slogexp.New(slog.New(h))))
	if st.ReportsDropped != 1 {
		t.Fatalf("ReportsDropped = %d, want the handler's failure counted", st.ReportsDropped)
	}
}

func TestRealExperimentTraceIDs(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	var buf bytes.Buffer
	exptest.Mismatch(t, "slog.real",
		dualrun.WithTracerProvider(tp), dualrun.WithPublisher(slogexp.New(slog.New(slog.NewJSONHandler(&buf, nil)))))
	var shadow trace.SpanContext
	for _, s := range rec.Ended() {
		if s.Name() == "dualrun.shadow slog.real" {
			shadow = s.SpanContext()
		}
	}
	recs := records(t, buf.Bytes())
	if !shadow.IsValid() || len(recs) != 1 {
		t.Fatalf("shadow span %v, %d records", shadow, len(recs))
	}
	if recs[0]["dualrun.shadow.trace_id"] != shadow.TraceID().String() || recs[0]["dualrun.shadow.span_id"] != shadow.SpanID().String() {
		t.Fatalf("record %v does not name the shadow span %v", recs[0], shadow)
	}
	if p, _ := recs[0]["dualrun.paths"].([]any); len(p) != 2 {
		t.Fatalf("paths %v, want the two differing fields", recs[0]["dualrun.paths"])
	}
}
