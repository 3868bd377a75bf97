package dualrun_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/dualrun/dualrun"
)

// These tests pin error.type: a low-cardinality value an engineer can act
// on, per the OpenTelemetry semantic conventions, never a wrapper's type.

// NotFoundError is an exported, meaningful error type of a user's package.
type NotFoundError struct{ Key string }

func (e *NotFoundError) Error() string { return "not found: " + e.Key }

// withStack is a wrapper by convention (unexported, named with…, with an
// Unwrap method), as pkg/errors' withStack.
type withStack struct{ err error }

func (w *withStack) Error() string { return w.err.Error() }
func (w *withStack) Unwrap() error { return w.err }

// retryError is unexported but not named like a wrapper: it is meaningful.
type retryError struct{ err error }

func (e *retryError) Error() string { return "after retries: " + e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// cyclicError unwraps to itself: errors.Is would loop for ever on it.
type cyclicError struct{}

func (e *cyclicError) Error() string { return "cyclic" }
func (e *cyclicError) Unwrap() error { return e }

// panicUnwrapError's Unwrap and Error panic.
type panicUnwrapError struct{}

func (*panicUnwrapError) Error() string { panic("Error exploded") }
func (*panicUnwrapError) Unwrap() error { panic("Unwrap exploded") }

// panicIsError's Is method panics.
type panicIsError struct{}

func (*panicIsError) Error() string   { return "is" }
func (*panicIsError) Is(error) bool   { panic("Is exploded") }
func (*panicIsError) Unwrap() []error { return nil }

// deadlineLikeError says by its Is method that it is a deadline.
type deadlineLikeError struct{}

func (*deadlineLikeError) Error() string        { return "upstream deadline" }
func (*deadlineLikeError) Is(target error) bool { return target == context.DeadlineExceeded }

// nilPathError is a typed nil: its Error and Unwrap methods dereference nil.
var nilPathError error = (*fs.PathError)(nil)

func TestErrorType(t *testing.T) {
	pathErr := &fs.PathError{Op: "open", Path: "/etc/prices.json", Err: fs.ErrNotExist}
	deep := error(context.DeadlineExceeded)
	for range maxDepth {
		deep = fmt.Errorf("layer: %w", deep)
	}
	cases := []struct {
		name, reason string
		err          error
		want         string
	}{
		{name: "wrapped_path_error", reason: "the wrapper is skipped: the innermost meaningful type names it", err: fmt.Errorf("load: %w", pathErr), want: "*fs.PathError"},
		{name: "twice_wrapped", reason: "any number of fmt wrappers", err: fmt.Errorf("a: %w", fmt.Errorf("b: %w", pathErr)), want: "*fs.PathError"},
		{name: "multi_wrapped", reason: "fmt.Errorf with two %w: the first meaningful one", err: fmt.Errorf("%w; %w", fmt.Errorf("x: %w", pathErr), io.EOF), want: "*fs.PathError"},
		{name: "joined", reason: "errors.Join is a wrapper too", err: errors.Join(fmt.Errorf("a: %w", &NotFoundError{Key: "k"}), io.EOF), want: "*dualrun_test.NotFoundError"},
		{name: "convention_wrapper", reason: "an unexported with… type with Unwrap only wraps", err: &withStack{err: &NotFoundError{Key: "k"}}, want: "*dualrun_test.NotFoundError"},
		{name: "meaningful_unexported", reason: "other unexported types that wrap are meaningful", err: &retryError{err: io.EOF}, want: "*dualrun_test.retryError"},
		{name: "plain", reason: "errors.New has nothing inside", err: errors.New("boom"), want: "*errors.errorString"},
		{name: "wrapper_of_nothing", reason: "only wrappers: the last one met", err: fmt.Errorf("x: %w", nil), want: "*fmt.wrapError"},
		{name: "deadline", reason: "a sentinel wins over types: context.DeadlineExceeded is timeout", err: fmt.Errorf("query: %w", context.DeadlineExceeded), want: "timeout"},
		{name: "deadline_deep_in_a_type", reason: "sentinels are looked for in the whole tree", err: &fs.PathError{Op: "read", Path: "x", Err: context.DeadlineExceeded}, want: "timeout"},
		{name: "deadline_by_is_method", reason: "as errors.Is, an Is method counts", err: fmt.Errorf("call: %w", &deadlineLikeError{}), want: "timeout"},
		{name: "budget", reason: "a comparison stopped by its budget is budget, not an internal type", err: fmt.Errorf("x: %w", &dualrun.BudgetError{Budget: time.Second}), want: "budget"},
		{name: "canceled", reason: "context.Canceled is canceled", err: fmt.Errorf("query: %w", context.Canceled), want: "canceled"},
		{name: "cyclic", reason: "a cyclic Unwrap chain ends, bounded", err: fmt.Errorf("x: %w", &cyclicError{}), want: "*dualrun_test.cyclicError"},
		{name: "too_deep", reason: "the walk is bounded: a sentinel beyond the bound is not seen; the meaningful type on the way is", err: &retryError{err: deep}, want: "*dualrun_test.retryError"},
		{name: "unwrap_panics", reason: "a panicking Unwrap ends the walk with the type of the error it belongs to", err: fmt.Errorf("x: %w", &panicUnwrapError{}), want: "*dualrun_test.panicUnwrapError"},
		{name: "is_panics", reason: "a panicking Is method is survived", err: fmt.Errorf("x: %w", &panicIsError{}), want: "*dualrun_test.panicIsError"},
		{name: "typed_nil", reason: "a typed nil whose methods dereference nil", err: nilPathError, want: "*fs.PathError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := shadowErrorType(t, c.err)
			if got != c.want {
				t.Errorf("error.type = %q, want %q (%s)", got, c.want, c.reason)
			}
		})
	}
}

// maxDepth wraps an error more deeply than the walk of the error tree goes.
const maxDepth = 100

// shadowErrorType runs one call whose shadow fails with err and returns
// the error.type of the shadow's dualrun.call.duration, checking the
// mismatch event says the same.
func shadowErrorType(t *testing.T, err error, opts ...dualrun.Option) string {
	t.Helper()
	h := newTelHarness(t)
	name := expName(t)
	exp := dualrun.New[int](name, h.with(append([]dualrun.Option{dualrun.WithRollout(alwaysCompare(dualrun.Legacy))}, opts...)...)...)
	if _, e := exp.Run(context.Background(), ret(1, nil), func(context.Context) (int, error) { return 0, err }); e != nil {
		t.Fatal(e)
	}
	waitShutdown(t, exp)
	typ := durationErrorType(t, h.collect(t), dualrun.Candidate)
	spans := h.shadowSpans(name)
	if len(spans) != 1 {
		t.Fatalf("got %d shadow spans, want 1", len(spans))
	}
	ev := mismatchEvent(t, spans[0])
	if ev[dualrun.AttrCandidateErrorType] != typ || ev[dualrun.AttrErred] != "candidate" {
		t.Errorf("mismatch event %v, want %s=candidate and %s=%q", ev, dualrun.AttrErred, dualrun.AttrCandidateErrorType, typ)
	}
	if _, ok := ev[dualrun.AttrLegacyErrorType]; ok {
		t.Errorf("mismatch event has %s, but legacy did not err", dualrun.AttrLegacyErrorType)
	}
	return typ
}

// durationErrorType returns the error.type of side's dualrun.call.duration
// point, failing unless there is exactly one.
func durationErrorType(t *testing.T, rm metricdata.ResourceMetrics, side dualrun.Side) string {
	t.Helper()
	types := durationErrorTypes(t, rm, side)
	if len(types) != 1 {
		t.Fatalf("%s durations with error.type: %v, want one", side, types)
	}
	for typ := range types {
		return typ
	}
	return ""
}

// durationErrorTypes returns side's error.type values on
// dualrun.call.duration, with their counts.
func durationErrorTypes(t *testing.T, rm metricdata.ResourceMetrics, side dualrun.Side) map[string]uint64 {
	t.Helper()
	m, ok := telMetric(rm, dualrun.MetricCallDuration)
	if !ok {
		t.Fatal("no dualrun.call.duration")
	}
	out := make(map[string]uint64)
	for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		if s, _ := p.Attributes.Value(dualrun.AttrSide); s.AsString() != side.String() {
			continue
		}
		if typ, ok := p.Attributes.Value(dualrun.AttrErrorType); ok {
			out[typ.AsString()] += p.Count
		}
	}
	return out
}

// mismatchEvent returns the attributes of the span's one dualrun.mismatch
// event.
func mismatchEvent(t *testing.T, s sdktrace.ReadOnlySpan) map[attribute.Key]string {
	t.Helper()
	var out map[attribute.Key]string
	for _, e := range s.Events() {
		if e.Name != dualrun.SpanEventMismatch {
			continue
		}
		if out != nil {
			t.Fatal("more than one mismatch event")
		}
		out = make(map[attribute.Key]string)
		for _, kv := range e.Attributes {
			out[kv.Key] = kv.Value.String()
		}
	}
	if out == nil {
		t.Fatal("no mismatch event")
	}
	return out
}

func TestErrorTypeMismatchEvent(t *testing.T) {
	cases := []struct {
		name, reason   string
		legacy, cand   error
		opts           []dualrun.Option
		kind, erred    string
		legacyType     string
		candidateType  string
		wantPathsField bool
	}{
		{name: "value", reason: "no side erred: the paths, no error attributes", kind: "value", wantPathsField: true},
		{name: "legacy_erred", reason: "the legacy side failed", legacy: fmt.Errorf("load: %w", &NotFoundError{}), kind: "error", erred: "legacy", legacyType: "*dualrun_test.NotFoundError"},
		{
			name: "both_erred", reason: "both failed, differently", legacy: io.EOF, cand: context.Canceled,
			opts: []dualrun.Option{dualrun.WithErrorComparer(dualrun.ErrorMessagesEqual)},
			kind: "errors_differ", erred: "both", legacyType: "*errors.errorString", candidateType: "canceled",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newTelHarness(t)
			name := expName(t)
			exp := dualrun.New[wide](name, h.with(append([]dualrun.Option{dualrun.WithRollout(alwaysCompare(dualrun.Candidate))}, c.opts...)...)...)
			side := func(v wide, err error) dualrun.Func[wide] {
				return func(context.Context) (wide, error) { return v, err }
			}
			_, _ = exp.Run(context.Background(), side(wide{}, c.legacy), side(wide{A: 1}, c.cand))
			waitShutdown(t, exp)
			spans := h.shadowSpans(name)
			if len(spans) != 1 {
				t.Fatalf("got %d shadow spans, want 1", len(spans))
			}
			want := map[attribute.Key]string{dualrun.AttrMismatchKind: c.kind}
			if c.wantPathsField {
				want[dualrun.AttrPaths] = `[".A"]`
			}
			if c.erred != "" {
				want[dualrun.AttrErred] = c.erred
			}
			if c.legacyType != "" {
				want[dualrun.AttrLegacyErrorType] = c.legacyType
			}
			if c.candidateType != "" {
				want[dualrun.AttrCandidateErrorType] = c.candidateType
			}
			got := mismatchEvent(t, spans[0])
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("mismatch event = %v, want %v (%s)", got, want, c.reason)
			}
		})
	}
}

func TestErrorClassifier(t *testing.T) {
	byKind := func(err error) string {
		var nf *NotFoundError
		if errors.As(err, &nf) {
			return "not_found"
		}
		return ""
	}
	cases := []struct {
		name, reason string
		classifier   func(error) string
		err          error
		want         string
		wantReport   string // a substring of the one otel.Handle error expected
	}{
		{name: "named", reason: "the classifier names what it knows", classifier: byKind, err: fmt.Errorf("get: %w", &NotFoundError{}), want: "not_found"},
		{name: "fall_through", reason: "an empty name falls through to the type", classifier: byKind, err: fmt.Errorf("get: %w", io.ErrUnexpectedEOF), want: "*errors.errorString"},
		{name: "sentinel_first", reason: "sentinels come before the classifier", classifier: func(error) string { return "mine" }, err: fmt.Errorf("x: %w", context.DeadlineExceeded), want: "timeout"},
		{name: "panics", reason: "a panicking classifier is survived, _OTHER, reported once", classifier: func(error) string { panic("classifier bug") }, err: io.EOF, want: "_OTHER", wantReport: "classifier bug"},
		{name: "long_name", reason: "a name is cut to 128 bytes", classifier: func(error) string { return strings.Repeat("n", 500) }, err: io.EOF, want: strings.Repeat("n", 125) + "…"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := captureOtelErrors(t)
			got := shadowErrorType(t, c.err, dualrun.WithErrorClassifier(c.classifier))
			if got != c.want {
				t.Errorf("error.type = %q, want %q (%s)", got, c.want, c.reason)
			}
			reports := errs.about("WithErrorClassifier")
			switch {
			case c.wantReport == "" && len(reports) != 0:
				t.Errorf("otel.Handle got %q, want nothing", reports)
			case c.wantReport != "" && (len(reports) != 1 || !strings.Contains(reports[0], c.wantReport)):
				t.Errorf("otel.Handle got %q, want one error with %q", reports, c.wantReport)
			}
		})
	}
}

// TestErrorClassifierFailuresRecordTheCall: a classifier that panics, or
// calls runtime.Goexit, on every call still lets every call be recorded
// and reported, and a panic is reported to otel.Handle only once.
func TestErrorClassifierFailuresRecordTheCall(t *testing.T) {
	cases := []struct {
		name, reason string
		classifier   func(error) string
		wantHandled  int
	}{
		{name: "panic", reason: "recovered: _OTHER, reported once", classifier: func(error) string { panic("classifier bug") }, wantHandled: 1},
		{name: "goexit", reason: "the goroutine ends; the record is finished on the way out", classifier: func(error) string {
			runtime.Goexit()
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				errs := captureOtelErrors(t)
				h := newTelHarness(t)
				name := expName(t)
				var reports atomic.Int64
				pub := dualrun.NamePublisher("count", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
					reports.Add(1)
					return nil
				}))
				exp := dualrun.New[int](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Legacy)),
					dualrun.WithErrorClassifier(c.classifier), dualrun.WithPublisher(pub), dualrun.WithReportDedup(0))...)
				const calls = 3
				for i := range calls {
					fail := func(context.Context) (int, error) { return 0, errors.New("e" + strconv.Itoa(i)) }
					if _, err := exp.Run(context.Background(), ret(1, nil), fail); err != nil {
						t.Fatal(err)
					}
					synctest.Wait()
				}
				waitShutdown(t, exp)
				if got := durationErrorTypes(t, h.collect(t), dualrun.Candidate); got["_OTHER"] != calls || len(got) != 1 {
					t.Errorf("candidate error.type counts = %v, want _OTHER: %d (%s)", got, calls, c.reason)
				}
				if got := reports.Load(); got != calls {
					t.Errorf("published %d reports, want %d", got, calls)
				}
				if s := exp.Stats(); s.Count(dualrun.Mismatch) != calls {
					t.Errorf("Stats: %d mismatches, want %d", s.Count(dualrun.Mismatch), calls)
				}
				if got := errs.about(name); len(got) != c.wantHandled {
					t.Errorf("otel.Handle got %q, want %d errors", got, c.wantHandled)
				}
			})
		})
	}
}

// TestErrorTypeCapped: distinct error.type values are capped per
// experiment; beyond the cap they are _OTHER, and the sentinels are kept.
func TestErrorTypeCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newTelHarness(t)
		name := expName(t)
		exp := dualrun.New[int](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Legacy)),
			dualrun.WithErrorClassifier(func(err error) string { return "kind_" + safeText(err) }))...)
		const distinct = dualrun.DefaultMaxErrorTypes + 8
		run := func(err error) {
			if _, e := exp.Run(context.Background(), ret(1, nil), func(context.Context) (int, error) { return 0, err }); e != nil {
				t.Fatal(e)
			}
			synctest.Wait()
		}
		for i := range distinct {
			run(errors.New(strconv.Itoa(i)))
		}
		run(context.Canceled)
		run(errors.New("0")) // known before the cap: kept
		waitShutdown(t, exp)
		got := durationErrorTypes(t, h.collect(t), dualrun.Candidate)
		want := map[string]uint64{"_OTHER": distinct - dualrun.DefaultMaxErrorTypes, "canceled": 1, "kind_0": 2}
		for i := 1; i < dualrun.DefaultMaxErrorTypes; i++ {
			want["kind_"+strconv.Itoa(i)] = 1
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("candidate error.type counts:\n got %v\nwant %v", got, want)
		}
	})
}

func safeText(err error) string { return err.Error() }

// TestShadowSpanStatusSafeText: the shadow span's status description is
// the error's text, made safely: a panic value whose Error method panics
// does not crash the process.
func TestShadowSpanStatusSafeText(t *testing.T) {
	h := newTelHarness(t)
	name := expName(t)
	exp := dualrun.New[int](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Legacy)))...)
	if _, err := exp.Run(context.Background(), ret(1, nil), func(context.Context) (int, error) {
		panic(nilPathError)
	}); err != nil {
		t.Fatal(err)
	}
	waitShutdown(t, exp)
	spans := h.shadowSpans(name)
	if len(spans) != 1 {
		t.Fatalf("got %d shadow spans, want 1", len(spans))
	}
	st := spans[0].Status()
	if st.Code != codes.Error || !strings.Contains(st.Description, "*fs.PathError (its Error method panicked)") {
		t.Errorf("status = %v %q, want Error describing the panic value by its type", st.Code, st.Description)
	}
	if got := telSpanAttrs(spans[0])[dualrun.AttrErrorType].AsString(); got != "panic" {
		t.Errorf("span error.type = %q, want panic", got)
	}
}
