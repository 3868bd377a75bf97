package otellog_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/exptest"
	"github.com/dualrun/dualrun/exporters/otellog"
)

// memExporter is an in-memory exporter for the OTel log SDK: it keeps a
// clone of every record exported.
type memExporter struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (m *memExporter) Export(_ context.Context, rs []sdklog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rs {
		m.records = append(m.records, r.Clone())
	}
	return nil
}
func (*memExporter) Shutdown(context.Context) error   { return nil }
func (*memExporter) ForceFlush(context.Context) error { return nil }

func (m *memExporter) all() []sdklog.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sdklog.Record(nil), m.records...)
}

// sdk returns a real log SDK provider exporting to memory.
func sdk(t *testing.T) (*sdklog.LoggerProvider, *memExporter) {
	t.Helper()
	mem := &memExporter{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(mem)))
	t.Cleanup(func() {
		if err := lp.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return lp, mem
}

func attrs(r sdklog.Record) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		m[string(kv.Key)] = kv.Value
		return true
	})
	return m
}

// TestTraceIDs: a record opens from the trace of its shadow span.
func TestTraceIDs(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	lp, mem := sdk(t)

	exptest.Mismatch(t, "otellog.real",
		dualrun.WithTracerProvider(tp), dualrun.WithPublisher(otellog.New(otellog.WithLoggerProvider(lp))))

	var shadow sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.Name() == "dualrun.shadow otellog.real" {
			shadow = s
		}
	}
	recs := mem.all()
	if shadow == nil || len(recs) != 1 {
		t.Fatalf("shadow span %v, %d records; want one of each", shadow, len(recs))
	}
	r := recs[0]
	if r.TraceID() != shadow.SpanContext().TraceID() || r.SpanID() != shadow.SpanContext().SpanID() {
		t.Fatalf("record trace %s span %s, want the shadow span's %s %s",
			r.TraceID(), r.SpanID(), shadow.SpanContext().TraceID(), shadow.SpanContext().SpanID())
	}
	if !r.TraceFlags().IsSampled() {
		t.Error("record lost the sampled flag")
	}
	if r.EventName() != otellog.EventName || r.Severity() != log.SeverityWarn || r.SeverityText() != "WARN" {
		t.Errorf("event %q severity %v %q", r.EventName(), r.Severity(), r.SeverityText())
	}
	if got := r.InstrumentationScope(); got.Name != otellog.ScopeName || got.Version != dualrun.Version {
		t.Errorf("scope %+v", got)
	}
	a := attrs(r)
	if a["dualrun.experiment"].AsString() != "otellog.real" || a["dualrun.outcome"].AsString() != "mismatch" ||
		a["dualrun.mismatch.kind"].AsString() != "value" || len(a["dualrun.paths"].AsStringSlice()) != 2 {
		t.Errorf("attributes %v", a)
	}
	if strings.Contains(r.Body().String(), exptest.Secret) {
		t.Errorf("body holds a value: %s", r.Body().String())
	}
}

func TestRedaction(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		opts    []otellog.Option
		records int
		secret  bool
		present []string
		absent  []string
	}{
		{
			name: "default", reason: "value-free: no diff, error texts, key or exception attributes",
			records: 1,
			present: []string{"dualrun.report.id", "dualrun.candidate.error.type", "dualrun.legacy.duration", "dualrun.candidate.duration"},
			absent:  []string{"dualrun.diff", "dualrun.candidate.error", "dualrun.key", "exception.message"},
		},
		{
			name: "values", reason: "WithValues adds the diff and the error texts",
			opts: []otellog.Option{otellog.WithValues()}, records: 1, secret: true,
			present: []string{"dualrun.diff", "dualrun.candidate.error"},
			absent:  []string{"dualrun.key"},
		},
		{
			name: "keys", reason: "WithKeys adds the key alone",
			opts: []otellog.Option{otellog.WithKeys()}, records: 1, secret: true,
			present: []string{"dualrun.key"},
			absent:  []string{"dualrun.diff"},
		},
		{
			name: "hook", reason: "the hook runs first, even with values on",
			opts: []otellog.Option{otellog.WithValues(), otellog.WithKeys(), otellog.WithRedact(func(r *dualrun.Report) *dualrun.Report {
				r.Diff, r.Key, r.CandidateErr = "(redacted)", "", errors.New("declined")
				return r
			})},
			records: 1,
			present: []string{"dualrun.diff"},
			absent:  []string{"dualrun.key"},
		},
		{
			name: "skip", reason: "a hook that returns nil skips the report",
			opts: []otellog.Option{otellog.WithRedact(func(*dualrun.Report) *dualrun.Report { return nil })},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lp, mem := sdk(t)
			e := otellog.New(append(tt.opts, otellog.WithLoggerProvider(lp))...)
			sample := exptest.Sample("x")
			if err := e.Publish(context.Background(), sample); err != nil {
				t.Fatal(err)
			}
			recs := mem.all()
			if len(recs) != tt.records {
				t.Fatalf("%d records, want %d (%s)", len(recs), tt.records, tt.reason)
			}
			if tt.records == 0 {
				return
			}
			r := recs[0]
			if r.TraceID() != sample.ShadowSpan.TraceID() || r.SpanID() != sample.ShadowSpan.SpanID() {
				t.Errorf("record trace %s span %s, want the Report's shadow span", r.TraceID(), r.SpanID())
			}
			if !r.Timestamp().Equal(sample.Time) {
				t.Errorf("timestamp %v, want the Report's %v", r.Timestamp(), sample.Time)
			}
			a := attrs(r)
			var all strings.Builder
			for k, v := range a {
				all.WriteString(k + "=" + v.String() + "\n")
			}
			for _, k := range tt.present {
				if _, ok := a[k]; !ok {
					t.Errorf("attribute %q missing (%s)", k, tt.reason)
				}
			}
			for _, k := range tt.absent {
				if _, ok := a[k]; ok {
					t.Errorf("attribute %q present (%s)", k, tt.reason)
				}
			}
			if has := strings.Contains(all.String()+r.Body().String(), exptest.Secret); has != tt.secret {
				t.Errorf("secret in record = %v, want %v (%s):\n%s", has, tt.secret, tt.reason, all.String())
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		outcome dualrun.Outcome
		want    log.Severity
	}{
		{name: "mismatch", reason: "worth a look", outcome: dualrun.Mismatch, want: log.SeverityWarn},
		{name: "timeout", reason: "worth a look", outcome: dualrun.Timeout, want: log.SeverityWarn},
		{name: "panic", reason: "a bug in the candidate", outcome: dualrun.Panic, want: log.SeverityError},
		{name: "error", reason: "a bug in a callback", outcome: dualrun.Error, want: log.SeverityError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lp, mem := sdk(t)
			r := exptest.Sample("x")
			r.Outcome = tt.outcome
			if err := otellog.New(otellog.WithLoggerProvider(lp)).Publish(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if got := mem.all()[0].Severity(); got != tt.want {
				t.Fatalf("severity %v, want %v (%s)", got, tt.want, tt.reason)
			}
		})
	}
}

func TestHookPanic(t *testing.T) {
	lp, mem := sdk(t)
	e := otellog.New(otellog.WithLoggerProvider(lp), otellog.WithRedact(func(*dualrun.Report) *dualrun.Report { panic("boom") }))
	if err := e.Publish(context.Background(), exptest.Sample("x")); err == nil {
		t.Fatal("Publish with a panicking hook succeeded")
	}
	if n := len(mem.all()); n != 0 {
		t.Fatalf("%d records emitted for a report whose redaction failed", n)
	}
}

func TestConcurrent(t *testing.T) {
	lp, mem := sdk(t)
	e := otellog.New(otellog.WithLoggerProvider(lp), otellog.WithValues())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if err := e.Publish(context.Background(), exptest.Sample("x")); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(mem.all()); n != 800 {
		t.Fatalf("%d records, want 800", n)
	}
}
