package dualrun_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualruntest"
	"github.com/dualrun/dualrun/rollout"
)

// These tests pin outcomes.go: the outcome matrix as Stats, Reports and
// dualrun.comparisons count it; dualrun.comparisons exports every series of
// an experiment from its first call to compare, at zero where nothing
// happened yet, and per custom attribute set (WithMetricAttributes).

// TestOutcomes pins every outcome and mismatch kind of the outcome matrix
// (outcomeCases), with either side primary, as the experiment counts and
// reports them: one outcome in Stats, the mismatch kind counters, one
// compared call, and one Report for a reportable outcome (mismatch, shadow
// panic, failed callback), none for the others.
func TestOutcomes(t *testing.T) {
	for _, c := range outcomeCases() {
		for _, primary := range bothPrimaries {
			t.Run(c.name+"/primary="+primary.String(), func(t *testing.T) {
				rec := dualruntest.NewRecorder()
				c.opts = append(slices.Clip(c.opts), dualrun.WithPublisher(rec))
				_, name, exp := runOutcomeCase(t, c, primary)
				s := exp.Stats()
				for o := range rollout.NumOutcomes {
					want := int64(0)
					if dualrun.Outcome(o) == c.outcome {
						want = 1
					}
					if got := s.Count(dualrun.Outcome(o)); got != want {
						t.Errorf("outcome %v counted %d, want %d (%s)", dualrun.Outcome(o), got, want, c.reason)
					}
				}
				kinds := []struct {
					kind dualrun.MismatchKind
					n    int64
				}{
					{dualrun.ValueMismatch, s.ValueMismatches},
					{dualrun.OneSideErred, s.ErrorMismatches},
					{dualrun.ErrorsDiffer, s.ErrorsDiffer},
				}
				for _, k := range kinds {
					want := int64(0)
					if k.kind == c.kind {
						want = 1
					}
					if k.n != want {
						t.Errorf("mismatch kind %q counted %d, want %d", k.kind, k.n, want)
					}
				}
				if s.Calls != 1 || s.Compared != 1 {
					t.Errorf("Calls, Compared = %d, %d; want 1, 1", s.Calls, s.Compared)
				}

				reports := rec.Reports()
				if c.outcome != dualrun.Mismatch && c.outcome != dualrun.Panic && c.outcome != dualrun.Error {
					if len(reports) != 0 {
						t.Errorf("published %d reports on outcome %v, want none", len(reports), c.outcome)
					}
					return
				}
				if len(reports) != 1 {
					t.Fatalf("published %d reports, want 1 (%s)", len(reports), c.reason)
				}
				r := reports[0]
				if r.Experiment != name || r.Outcome != c.outcome || r.Kind != c.kind || r.Primary != primary {
					t.Errorf("report %s: %v/%v, primary %v; want %s: %v/%v, primary %v",
						r.Experiment, r.Outcome, r.Kind, r.Primary, name, c.outcome, c.kind, primary)
				}
				if (r.CallbackErr != nil) != (c.outcome == dualrun.Error) {
					t.Errorf("report CallbackErr = %v on outcome %v; want one exactly for outcome error", r.CallbackErr, c.outcome)
				}
				shadowErr := r.CandidateErr
				if primary == dualrun.Candidate {
					shadowErr = r.LegacyErr
				}
				var pe *dualrun.PanicError
				if errors.As(shadowErr, &pe) != (c.outcome == dualrun.Panic) {
					t.Errorf("report shadow error = %v on outcome %v; want a *PanicError exactly for outcome panic", shadowErr, c.outcome)
				}
			})
		}
	}
}

// TestTelemetryComparisonsByOutcome runs the outcome matrix (outcomeCases)
// and asserts dualrun.comparisons (the case's outcome and kind at 1, every
// other series at 0) and dualrun.calls.
func TestTelemetryComparisonsByOutcome(t *testing.T) {
	for _, c := range outcomeCases() {
		for _, primary := range bothPrimaries {
			t.Run(c.name+"/primary="+primary.String(), func(t *testing.T) {
				h, name, exp := runOutcomeCase(t, c, primary)
				rm := h.collect(t)
				telComparisons(t, rm, name, telComparison(name, primary, c.outcome, c.kind))
				telCalls(t, rm, telCall(name, primary, true, 1))
				if s := exp.Stats(); s.Count(c.outcome) != 1 || s.Compared != 1 {
					t.Errorf("Stats: %s = %d, compared = %d; want 1, 1 (%s)", c.outcome, s.Count(c.outcome), s.Compared, c.reason)
				}
			})
		}
	}
}

func TestComparisonsZeroInitialised(t *testing.T) {
	cases := []struct {
		name, reason string
		primary      dualrun.Side
		mismatch     bool
	}{
		{name: "one_match_legacy_primary", reason: "after one match every other series is there at 0", primary: dualrun.Legacy},
		{name: "one_match_candidate_primary", reason: "the legacy-primary series are there too, so a rollback shows from its first call", primary: dualrun.Candidate},
		{name: "one_mismatch", reason: "the other kinds of mismatch are at 0 beside the one that happened", primary: dualrun.Legacy, mismatch: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newTelHarness(t)
			name := expName(t)
			exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(alwaysCompare(c.primary)))...)
			q, other := quoteOf(100), quoteOf(100)
			want := telComparison(name, c.primary, dualrun.Match, dualrun.NoMismatch)
			if c.mismatch {
				other = quoteOf(101)
				want = telComparison(name, c.primary, dualrun.Mismatch, dualrun.ValueMismatch)
			}
			legacy, candidate := assignSides(c.primary, ret(q, nil), ret(other, nil))
			if _, err := exp.Run(context.Background(), legacy, candidate); err != nil {
				t.Fatal(err)
			}
			waitShutdown(t, exp)
			rm := h.collect(t)
			telComparisons(t, rm, name, want)
			if m, _ := telMetric(rm, dualrun.MetricComparisons); telPoints(m) != 20 {
				t.Errorf("got %d series, want 20: 2 primaries x (7 outcomes + 3 mismatch kinds) (%s)", telPoints(m), c.reason)
			}
		})
	}
}

// TestComparisonsZeroBeforeFirstRecord: a compared call whose shadow has not
// returned yet already makes every series appear at zero, so the first
// outcome, whatever it is, is seen as an increase.
func TestComparisonsZeroBeforeFirstRecord(t *testing.T) {
	h := newTelHarness(t)
	name := expName(t)
	exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Legacy)))...)
	release := make(chan struct{})
	shadow := func(context.Context) (priceQuote, error) {
		<-release
		panic("first ever shadow panic")
	}
	if _, err := exp.Run(context.Background(), ret(quoteOf(1), nil), shadow); err != nil {
		t.Fatal(err)
	}
	telComparisons(t, h.collect(t), name) // all at zero
	close(release)
	waitShutdown(t, exp)
	telComparisons(t, h.collect(t), name, telComparison(name, dualrun.Legacy, dualrun.Panic, dualrun.NoMismatch))
}

func TestComparisonsNotExportedBeforeACompare(t *testing.T) {
	h := newTelHarness(t)
	name := expName(t)
	exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(rollout.Static{}))...)
	for range 3 {
		if _, err := exp.Run(context.Background(), ret(quoteOf(1), nil), ret(quoteOf(1), nil)); err != nil {
			t.Fatal(err)
		}
	}
	waitShutdown(t, exp)
	telAssertNoData(t, h.collect(t), dualrun.MetricComparisons)
}

// tierKey carries a tenant tier in a caller's context.
type tierKey struct{}

func withTier(ctx context.Context, tier string) context.Context {
	return context.WithValue(ctx, tierKey{}, tier)
}

// tierAttrs is a WithMetricAttributes hook: the tier, if the context has
// one.
func tierAttrs(ctx context.Context) []attribute.KeyValue {
	if tier, ok := ctx.Value(tierKey{}).(string); ok {
		return []attribute.KeyValue{attribute.String("tenant.tier", tier)}
	}
	return nil
}

// attrCall is one call of a custom-attributes test: the attributes the hook
// returns for it, and whether the sides differ.
type attrCall struct {
	attrs    []attribute.KeyValue
	mismatch bool
}

func TestMetricAttributes(t *testing.T) {
	str := attribute.String
	over := dualrun.AttrAttributes.String("_OTHER")
	nine := make([]attribute.KeyValue, 9)
	for i := range nine {
		nine[i] = attribute.Int("k"+strconv.Itoa(i), i)
	}
	var manyTenants []attrCall
	for i := range 20 {
		manyTenants = append(manyTenants, attrCall{attrs: []attribute.KeyValue{str("tenant", "t"+strconv.Itoa(i))}})
	}
	cases := []struct {
		name, reason string
		calls        []attrCall
		// sets: each expected custom set with its match and value-mismatch
		// counts (legacy primary); nil attrs = the base set.
		sets []attrSet
		// report: a substring otel.Handle must have been given once.
		report string
	}{
		{
			name:   "segments",
			reason: "each distinct set has its own series; calls without attributes count in the base set",
			calls: []attrCall{
				{attrs: []attribute.KeyValue{str("tenant.tier", "gold")}},
				{attrs: []attribute.KeyValue{str("tenant.tier", "gold")}, mismatch: true},
				{attrs: []attribute.KeyValue{str("tenant.tier", "silver")}},
				{},
			},
			sets: []attrSet{
				{match: 1},
				{attrs: []attribute.KeyValue{str("tenant.tier", "gold")}, match: 1, mismatch: 1},
				{attrs: []attribute.KeyValue{str("tenant.tier", "silver")}, match: 1},
			},
		},
		{
			name:   "canonical",
			reason: "order does not matter, the last value of a key wins, reserved keys are dropped",
			calls: []attrCall{
				{attrs: []attribute.KeyValue{str("b", "1"), str("a", "2")}},
				{attrs: []attribute.KeyValue{str("a", "2"), str("b", "1")}},
				{attrs: []attribute.KeyValue{str("a", "9"), str("b", "1"), str("a", "2")}},
				{attrs: []attribute.KeyValue{
					str("a", "2"), str("b", "1"),
					dualrun.AttrOutcome.String("forged"), dualrun.AttrExperiment.String("other"),
					str("error.type", "forged"), str("dualrun.anything", "x"), str("", "empty key"),
				}},
			},
			sets: []attrSet{
				{},
				{attrs: []attribute.KeyValue{str("a", "2"), str("b", "1")}, match: 4},
			},
		},
		{
			name:   "cap_and_overflow",
			reason: "beyond MaxMetricAttributeSets sets, calls count in the one overflow set",
			calls:  manyTenants,
			sets: func() []attrSet {
				s := []attrSet{{}}
				for i := range dualrun.MaxMetricAttributeSets {
					s = append(s, attrSet{attrs: []attribute.KeyValue{str("tenant", "t"+strconv.Itoa(i))}, match: 1})
				}
				return append(s, attrSet{attrs: []attribute.KeyValue{over}, match: 20 - dualrun.MaxMetricAttributeSets})
			}(),
			report: "more than 16 distinct attribute sets",
		},
		{
			name:   "bounds",
			reason: "too many attributes, a slice value or a long string go to the overflow set",
			calls: []attrCall{
				{attrs: nine},
				{attrs: []attribute.KeyValue{attribute.StringSlice("tags", []string{"a"})}},
				{attrs: []attribute.KeyValue{str("id", strings.Repeat("x", 129))}},
				{attrs: []attribute.KeyValue{str("id", strings.Repeat("x", 128))}},
			},
			sets: []attrSet{
				{},
				{attrs: []attribute.KeyValue{str("id", strings.Repeat("x", 128))}, match: 1},
				{attrs: []attribute.KeyValue{over}, match: 3},
			},
			report: "more than 8 attributes",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				testMetricAttributes(t, c.calls, c.sets, c.report)
			})
		})
	}
}

func testMetricAttributes(t *testing.T, calls []attrCall, sets []attrSet, report string) {
	errs := captureOtelErrors(t)
	h := newTelHarness(t)
	name := expName(t)
	var i atomic.Int64
	hook := func(context.Context) []attribute.KeyValue {
		return calls[i.Add(1)-1].attrs
	}
	exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Legacy)),
		dualrun.WithMetricAttributes(hook))...)
	for _, call := range calls {
		other := quoteOf(1)
		if call.mismatch {
			other = quoteOf(2)
		}
		if _, err := exp.Run(context.Background(), ret(quoteOf(1), nil), ret(other, nil)); err != nil {
			t.Fatal(err)
		}
		// The call is recorded before the next one: the hook's i-th
		// call is the i-th Run's.
		synctest.Wait()
	}
	waitShutdown(t, exp)
	rm := h.collect(t)
	assertAttrSets(t, rm, name, sets)
	s := exp.Stats()
	var wantMatch, wantMismatch int64
	for _, set := range sets {
		wantMatch += set.match
		wantMismatch += set.mismatch
	}
	if s.Count(dualrun.Match) != wantMatch || s.Count(dualrun.Mismatch) != wantMismatch {
		t.Errorf("Stats: match %d, mismatch %d; want the totals over the sets %d, %d",
			s.Count(dualrun.Match), s.Count(dualrun.Mismatch), wantMatch, wantMismatch)
	}
	got := errs.about(name)
	switch {
	case report == "" && len(got) != 0:
		t.Errorf("otel.Handle got %q; want nothing", got)
	case report != "" && (len(got) != 1 || !strings.Contains(got[0], report)):
		t.Errorf("otel.Handle got %q; want one error saying %q", got, report)
	}
}

// attrSet is one expected attribute set of dualrun.comparisons with its
// legacy-primary match and value-mismatch counts; nil attrs is the base.
type attrSet struct {
	attrs           []attribute.KeyValue
	match, mismatch int64
}

// assertAttrSets asserts every series of every set, and that
// dualrun.call.duration has exactly the sets' attributes.
func assertAttrSets(t *testing.T, rm metricdata.ResourceMetrics, name string, sets []attrSet) {
	t.Helper()
	var want []metricdata.DataPoint[int64]
	for _, s := range sets {
		pts := telAllComparisons(name)
		for i := range pts {
			kvs := append(pts[i].Attributes.ToSlice(), s.attrs...)
			pts[i].Attributes = attribute.NewSet(kvs...)
		}
		for i := range pts {
			o, _ := pts[i].Attributes.Value(dualrun.AttrOutcome)
			k, _ := pts[i].Attributes.Value(dualrun.AttrMismatchKind)
			p, _ := pts[i].Attributes.Value(dualrun.AttrPrimary)
			if p.AsString() != "legacy" {
				continue
			}
			switch {
			case o.AsString() == "match":
				pts[i].Value = s.match
			case k.AsString() == "value":
				pts[i].Value = s.mismatch
			}
		}
		want = append(want, pts...)
	}
	telAssertSum(t, rm, dualrun.MetricComparisons, "{comparison}", true, false, want...)

	// Durations: each set that had a call, for both sides.
	m, ok := telMetric(rm, dualrun.MetricCallDuration)
	if !ok {
		t.Fatal("no dualrun.call.duration")
	}
	got := make(map[string]uint64)
	for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		got[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Count
	}
	wantDur := make(map[string]uint64)
	for _, s := range sets {
		n := uint64(s.match + s.mismatch)
		if n == 0 {
			continue
		}
		for _, role := range []struct{ side, role string }{{"legacy", "primary"}, {"candidate", "shadow"}} {
			kvs := append([]attribute.KeyValue{
				dualrun.AttrExperiment.String(name),
				dualrun.AttrSide.String(role.side), dualrun.AttrRole.String(role.role),
			}, s.attrs...)
			set := attribute.NewSet(kvs...)
			wantDur[set.Encoded(attribute.DefaultEncoder())] = n
		}
	}
	if !maps.Equal(got, wantDur) {
		t.Errorf("dualrun.call.duration counts by attributes:\n got %v\nwant %v", got, wantDur)
	}
}

// TestMetricAttributesHookFailures: a hook that panics or calls
// runtime.Goexit never loses the call: it is counted in the overflow set,
// its durations recorded, its Report published, and the failure reported
// once.
func TestMetricAttributesHookFailures(t *testing.T) {
	cases := []struct {
		name, reason string
		hook         func(context.Context) []attribute.KeyValue
	}{
		{name: "panic", reason: "a panic is recovered", hook: func(context.Context) []attribute.KeyValue { panic("tier lookup bug") }},
		{name: "goexit", reason: "runtime.Goexit (t.FailNow in a helper) ends the goroutine; the record is finished on the way out", hook: func(context.Context) []attribute.KeyValue {
			runtime.Goexit()
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				testHookFailure(t, c.hook, c.reason, c.name == "panic")
			})
		})
	}
}

func testHookFailure(t *testing.T, hook func(context.Context) []attribute.KeyValue, reason string, wantReport bool) {
	errs := captureOtelErrors(t)
	h := newTelHarness(t)
	name := expName(t)
	reports := make(chan *dualrun.Report, 4)
	pub := dualrun.NamePublisher("capture", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		reports <- r
		return nil
	}))
	exp := dualrun.New[wide](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Legacy)),
		dualrun.WithMetricAttributes(hook), dualrun.WithPublisher(pub))...)
	for i := range 2 {
		// Distinct paths, so that deduplication keeps both reports.
		if _, err := exp.Run(context.Background(), ret(wide{}, nil), ret(wideWith(i), nil)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
	}
	waitShutdown(t, exp)

	over := []attribute.KeyValue{dualrun.AttrAttributes.String("_OTHER")}
	rm := h.collect(t)
	want := telAllComparisons(name)
	for _, set := range [][]attribute.KeyValue{over} {
		pts := telAllComparisons(name, telComparisonN(name, dualrun.Legacy, dualrun.Mismatch, dualrun.ValueMismatch, 2))
		for i := range pts {
			pts[i].Attributes = attribute.NewSet(append(pts[i].Attributes.ToSlice(), set...)...)
		}
		want = append(want, pts...)
	}
	telAssertSum(t, rm, dualrun.MetricComparisons, "{comparison}", true, false, want...)
	if got := len(reports); got != 2 {
		t.Errorf("published %d reports, want 2 (%s)", got, reason)
	}
	if s := exp.Stats(); s.Count(dualrun.Mismatch) != 2 || s.Legacy.Count != 2 || s.Candidate.Count != 2 {
		t.Errorf("Stats: mismatches %d, latencies %d/%d; want 2, 2/2", s.Count(dualrun.Mismatch), s.Legacy.Count, s.Candidate.Count)
	}
	if wantReport {
		if got := errs.about(name); len(got) != 1 || !strings.Contains(got[0], "tier lookup bug") {
			t.Errorf("otel.Handle got %q; want the panic reported once", got)
		}
	}
}

// goid returns the current goroutine's id, for tests that check where a
// callback runs.
func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := bytes.Fields(buf)
	if len(f) < 2 {
		return ""
	}
	return string(f[1])
}

func TestMetricAttributesContext(t *testing.T) {
	h := newTelHarness(t)
	name := expName(t)
	type seen struct {
		tier     string
		isShadow bool
		g        string
	}
	calls := make(chan seen, 4)
	hook := func(ctx context.Context) []attribute.KeyValue {
		tier, _ := ctx.Value(tierKey{}).(string)
		calls <- seen{tier: tier, isShadow: dualrun.IsShadow(ctx), g: goid()}
		return tierAttrs(ctx)
	}
	exp := dualrun.New[priceQuote](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Legacy)),
		dualrun.WithMetricAttributes(hook), dualrun.WithMaxInFlight(1))...)

	release := make(chan struct{})
	blocked := func(context.Context) (priceQuote, error) {
		<-release
		return quoteOf(1), nil
	}
	caller := goid()
	ctx := withTier(context.Background(), "gold")
	if _, err := exp.Run(ctx, ret(quoteOf(1), nil), blocked); err != nil {
		t.Fatal(err)
	}
	// The only slot is taken: this call is shed, and the hook is not
	// called for it.
	if _, err := exp.Run(withTier(context.Background(), "silver"), ret(quoteOf(1), nil), blocked); err != nil {
		t.Fatal(err)
	}
	close(release)
	waitShutdown(t, exp)
	close(calls)
	var got []seen
	for s := range calls {
		got = append(got, s)
	}
	if len(got) != 1 {
		t.Fatalf("hook called %d times, want once: never for the shed call", len(got))
	}
	if got[0].tier != "gold" || got[0].isShadow {
		t.Errorf("hook saw tier %q, IsShadow %v; want the caller's context: gold, false", got[0].tier, got[0].isShadow)
	}
	if got[0].g == caller || got[0].g == "" {
		t.Errorf("hook ran on goroutine %q, the caller's is %q: want a dualrun goroutine", got[0].g, caller)
	}
	gold := []attribute.KeyValue{attribute.String("tenant.tier", "gold")}
	want := telAllComparisons(name, telComparison(name, dualrun.Legacy, dualrun.Shed, dualrun.NoMismatch))
	for _, p := range telAllComparisons(name, telComparison(name, dualrun.Legacy, dualrun.Match, dualrun.NoMismatch)) {
		p.Attributes = attribute.NewSet(append(p.Attributes.ToSlice(), gold...)...)
		want = append(want, p)
	}
	telAssertSum(t, h.collect(t), dualrun.MetricComparisons, "{comparison}", true, false, want...)
	if s := exp.Stats(); s.Count(dualrun.Shed) != 1 || s.Count(dualrun.Match) != 1 {
		t.Errorf("Stats: shed %d, match %d; want 1, 1", s.Count(dualrun.Shed), s.Count(dualrun.Match))
	}
}
