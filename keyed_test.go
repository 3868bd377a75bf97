package dualrun_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dualrun/dualrun"
)

// These tests pin keyed.go: CompareKeyed and CompareKeyedIn in both modes
// (the sorted merge and the hash join), how missing, extra, changed,
// duplicate and invalid records flow into the summary, the experiment's
// Stats, metrics and Reports, and what hostile inputs do.

// keyedRow is a batch output record: keyed by ID.
type keyedRow struct {
	ID    int
	Name  string
	Cents int64
}

func keyedID(r keyedRow) int { return r.ID }

// keyedRows makes rows from IDs, with Cents = 100*ID and Name "r<ID>".
func keyedRows(ids ...int) []keyedRow {
	rows := make([]keyedRow, len(ids))
	for i, id := range ids {
		rows[i] = keyedRow{ID: id, Name: fmt.Sprintf("r%d", id), Cents: int64(100 * id)}
	}
	return rows
}

// keyedWith returns rows with the row of ID id changed by edit.
func keyedWith(rows []keyedRow, id int, edit func(*keyedRow)) []keyedRow {
	rows = slices.Clone(rows)
	for i := range rows {
		if rows[i].ID == id {
			edit(&rows[i])
		}
	}
	return rows
}

var keyedExpSeq atomic.Int64

// keyedName returns a fresh experiment name for t.
func keyedName(t testing.TB) string {
	return fmt.Sprintf("keyed.%s.%d", t.Name(), keyedExpSeq.Add(1))
}

// keyedExp makes an experiment with New, shut down when t ends.
func keyedExp[T any](t *testing.T, opts ...dualrun.Option) *dualrun.Experiment[T] {
	t.Helper()
	e := dualrun.New[T](keyedName(t), opts...)
	t.Cleanup(func() {
		if err := e.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.Unregister()
	})
	return e
}

// keyedCollector keeps the Reports published to it.
type keyedCollector struct {
	mu   sync.Mutex
	reps []*dualrun.Report
}

func (c *keyedCollector) Publish(_ context.Context, r *dualrun.Report) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reps = append(c.reps, r)
	return nil
}

func (c *keyedCollector) reports() []*dualrun.Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reps)
}

// keyedEveryReport are the options that publish every reportable
// comparison to c, without rate limit or deduplication.
func keyedEveryReport(c *keyedCollector) []dualrun.Option {
	return []dualrun.Option{dualrun.WithPublisher(c), dualrun.WithReportRate(0, 1), dualrun.WithReportDedup(0)}
}

// keyedModes are the two modes; each test runs in both where its inputs
// are sorted.
var keyedModes = []struct {
	name string
	opts []dualrun.Option
}{
	{"hash", nil},
	{"sorted", []dualrun.Option{dualrun.WithSortedInputs()}},
}

// keyedCheckStats checks that the experiment's Stats count exactly the
// comparisons the summary says were recorded.
func keyedCheckStats(t *testing.T, s dualrun.Stats, sum dualrun.KeyedSummary) {
	t.Helper()
	var total int64
	for _, n := range sum.Outcomes {
		total += n
	}
	if s.Outcomes != sum.Outcomes || s.Compared != total || s.Calls != total {
		t.Errorf("Stats: outcomes %v, compared %d, calls %d; want the summary's outcomes %v (%d comparisons)",
			s.Outcomes, s.Compared, s.Calls, sum.Outcomes, total)
	}
	if want := sum.ChangedMismatch; s.ValueMismatches != want {
		t.Errorf("Stats.ValueMismatches = %d, want the changed records %d", s.ValueMismatches, want)
	}
}

// TestCompareKeyedCounts: the summary of small inputs, in both modes, and
// the experiment's Stats agree with it.
func TestCompareKeyedCounts(t *testing.T) {
	base := keyedRows(1, 2, 3, 4, 5)
	tests := []struct {
		name, reason        string
		legacy, candidate   []keyedRow
		want                dualrun.KeyedSummary
		wantAgree           bool
		wantFields          []string
		wantOneSideMismatch int64
	}{
		{
			name: "equal", reason: "identical outputs: every key matched and the same",
			legacy: base, candidate: base,
			want:      dualrun.KeyedSummary{Matched: 5, Same: 5},
			wantAgree: true,
		},
		{
			name: "changed", reason: "one field of one record differs: a value mismatch on that path",
			legacy: base, candidate: keyedWith(base, 3, func(r *keyedRow) { r.Cents++ }),
			want:       dualrun.KeyedSummary{Matched: 5, Same: 4, Changed: 1, ChangedMismatch: 1},
			wantFields: []string{".Cents"},
		},
		{
			name: "missing", reason: "a key only legacy has is missing, a one-side-erred mismatch",
			legacy: base, candidate: keyedRows(1, 2, 4, 5),
			want:                dualrun.KeyedSummary{Matched: 4, Same: 4, Missing: 1},
			wantOneSideMismatch: 1,
		},
		{
			name: "extra", reason: "a key only candidate has is extra",
			legacy: keyedRows(1, 2, 4), candidate: keyedRows(1, 2, 3, 4, 9),
			want:                dualrun.KeyedSummary{Matched: 3, Same: 3, Extra: 2},
			wantOneSideMismatch: 2,
		},
		{
			name: "duplicates", reason: "the first record of a key is compared, repeats are counted, on both sides",
			legacy:    append(keyedRows(1, 2), keyedWith(keyedRows(2, 3), 2, func(r *keyedRow) { r.Cents = -1 })...),
			candidate: keyedRows(1, 2, 3, 3, 3),
			want:      dualrun.KeyedSummary{Matched: 3, Same: 3},
		},
		{
			name: "empty", reason: "nil inputs are empty: nothing compared, and they agree",
			want: dualrun.KeyedSummary{}, wantAgree: true,
		},
		{
			name: "legacy-empty", reason: "every candidate record is extra",
			candidate:           keyedRows(1, 2),
			want:                dualrun.KeyedSummary{Extra: 2},
			wantOneSideMismatch: 2,
		},
		{
			name: "mixed", reason: "missing, extra and changed together",
			legacy:              keyedRows(1, 2, 3, 5, 8),
			candidate:           keyedWith(keyedRows(2, 3, 4, 5, 6), 5, func(r *keyedRow) { r.Name = "five" }),
			want:                dualrun.KeyedSummary{Matched: 3, Same: 2, Changed: 1, ChangedMismatch: 1, Missing: 2, Extra: 2},
			wantFields:          []string{".Name"},
			wantOneSideMismatch: 4,
		},
	}
	for _, tt := range tests {
		for _, m := range keyedModes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				exp := keyedExp[keyedRow](t)
				var legacy, candidate iter.Seq[keyedRow]
				if tt.legacy != nil {
					legacy = slices.Values(tt.legacy)
				}
				if tt.candidate != nil {
					candidate = slices.Values(tt.candidate)
				}
				got, err := dualrun.CompareKeyedIn(context.Background(), exp, legacy, candidate, keyedID, m.opts...)
				if err != nil {
					t.Fatalf("CompareKeyedIn: %v (%s)", err, tt.reason)
				}
				want := tt.want
				want.Legacy.Records, want.Candidate.Records = int64(len(tt.legacy)), int64(len(tt.candidate))
				want.Legacy.Duplicates = int64(len(tt.legacy)) - keyedDistinct(tt.legacy)
				want.Candidate.Duplicates = int64(len(tt.candidate)) - keyedDistinct(tt.candidate)
				want.Outcomes[dualrun.Match] = want.Same
				want.Outcomes[dualrun.Mismatch] = want.ChangedMismatch + want.Missing + want.Extra
				if got != want {
					t.Errorf("summary\n got %v\nwant %v\n(%s)", got, want, tt.reason)
				}
				if got.Agree() != tt.wantAgree {
					t.Errorf("Agree() = %v, want %v (%s)", got.Agree(), tt.wantAgree, tt.reason)
				}
				s := exp.Stats()
				keyedCheckStats(t, s, got)
				if s.ErrorMismatches != tt.wantOneSideMismatch {
					t.Errorf("Stats.ErrorMismatches = %d, want %d: missing and extra records are one-side-erred mismatches (%s)",
						s.ErrorMismatches, tt.wantOneSideMismatch, tt.reason)
				}
				var fields []string
				for _, f := range s.Fields {
					fields = append(fields, f.Path)
				}
				if !slices.Equal(fields, tt.wantFields) {
					t.Errorf("Stats.Fields = %v, want %v (%s)", fields, tt.wantFields, tt.reason)
				}
			})
		}
	}
}

func keyedDistinct(rows []keyedRow) int64 {
	seen := map[int]bool{}
	for _, r := range rows {
		seen[r.ID] = true
	}
	return int64(len(seen))
}

// TestCompareKeyedReports: missing, extra and changed records make Reports
// that tell them apart, carrying the key only with WithReportKeys.
func TestCompareKeyedReports(t *testing.T) {
	for _, m := range keyedModes {
		for _, withKeys := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keys=%v", m.name, withKeys), func(t *testing.T) {
				var col keyedCollector
				opts := keyedEveryReport(&col)
				if withKeys {
					opts = append(opts, dualrun.WithReportKeys())
				}
				exp := dualrun.New[keyedRow](keyedName(t), opts...)
				legacy := keyedRows(1, 2, 3)
				candidate := keyedWith(keyedRows(2, 3, 4), 3, func(r *keyedRow) { r.Cents = 7 })
				sum, err := dualrun.CompareKeyedIn(context.Background(), exp, slices.Values(legacy), slices.Values(candidate), keyedID, m.opts...)
				if err != nil {
					t.Fatal(err)
				}
				if err := exp.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				defer exp.Unregister()
				if sum.Missing != 1 || sum.Extra != 1 || sum.ChangedMismatch != 1 {
					t.Fatalf("summary %v: want one missing, one extra, one changed", sum)
				}
				byKind := map[string]*dualrun.Report{}
				for _, r := range col.reports() {
					var ae dualrun.AbsentError
					switch {
					case r.Kind == dualrun.ValueMismatch:
						byKind["changed"] = r
					case errors.As(r.CandidateErr, &ae) && ae.Side == dualrun.Candidate && r.LegacyErr == nil:
						byKind["missing"] = r
					case errors.As(r.LegacyErr, &ae) && ae.Side == dualrun.Legacy && r.CandidateErr == nil:
						byKind["extra"] = r
					default:
						t.Errorf("unexpected report %v (legacy err %v, candidate err %v)", r, r.LegacyErr, r.CandidateErr)
					}
				}
				wantKeys := map[string]string{"changed": "3", "missing": "1", "extra": "4"}
				for kind, key := range wantKeys {
					r := byKind[kind]
					if r == nil {
						t.Errorf("no Report for the %s record", kind)
						continue
					}
					if r.Outcome != dualrun.Mismatch || r.Primary != dualrun.Legacy {
						t.Errorf("%s: outcome %v primary %v, want mismatch with legacy primary", kind, r.Outcome, r.Primary)
					}
					if !withKeys {
						key = ""
					}
					if r.Key != key {
						t.Errorf("%s: Report.Key = %q, want %q", kind, r.Key, key)
					}
				}
				if r := byKind["changed"]; r != nil && (!slices.Equal(r.Paths, []string{".Cents"}) || !strings.Contains(r.Diff, "Cents")) {
					t.Errorf("changed: paths %v diff %q, want .Cents", r.Paths, r.Diff)
				}
				if r := byKind["missing"]; r != nil {
					if r.Kind != dualrun.OneSideErred || r.CandidateErrorType != "dualrun.AbsentError" || r.LegacyErrorType != "" ||
						!errors.Is(r.CandidateErr, dualrun.ErrRecordAbsent) {
						t.Errorf("missing: kind %v, error types %q/%q, candidate err %v; want one side erred, candidate AbsentError",
							r.Kind, r.LegacyErrorType, r.CandidateErrorType, r.CandidateErr)
					}
					if !strings.Contains(r.Diff, "r1") {
						t.Errorf("missing: diff %q should show the legacy record", r.Diff)
					}
				}
				if r := byKind["extra"]; r != nil && (r.LegacyErrorType != "dualrun.AbsentError" || r.CandidateErrorType != "") {
					t.Errorf("extra: error types %q/%q, want legacy AbsentError", r.LegacyErrorType, r.CandidateErrorType)
				}
			})
		}
	}
}

// TestCompareKeyedMetrics: keyed comparisons are dualrun.comparisons and
// dualrun.calls like any compared call, missing and extra records under
// the mismatch kind "error".
func TestCompareKeyedMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	name := keyedName(t)
	legacy := keyedRows(1, 2, 3, 4, 5, 6)
	candidate := keyedWith(keyedRows(1, 2, 3, 4, 7), 2, func(r *keyedRow) { r.Cents = 0 })
	sum, err := dualrun.CompareKeyed(context.Background(), name, slices.Values(legacy), slices.Values(candidate), keyedID,
		dualrun.WithMeterProvider(mp))
	t.Cleanup(func() { dualrun.Unregister(name) })
	if err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			data, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range data.DataPoints {
				if exp, _ := dp.Attributes.Value("dualrun.experiment"); exp.AsString() != name {
					continue
				}
				got[m.Name+keyedAttrs(dp.Attributes)] += dp.Value
			}
		}
	}
	want := map[string]int64{
		"dualrun.comparisons{outcome=match,primary=legacy}":                       sum.Same,
		"dualrun.comparisons{kind=value,outcome=mismatch,primary=legacy}":         sum.ChangedMismatch,
		"dualrun.comparisons{kind=error,outcome=mismatch,primary=legacy}":         sum.Missing + sum.Extra,
		"dualrun.calls{compared=true,primary=legacy}":                             sum.Matched + sum.Missing + sum.Extra,
		"dualrun.mismatch.fields{field=.Cents}":                                   1,
		"dualrun.comparisons{kind=errors_differ,outcome=mismatch,primary=legacy}": 0,
	}
	if sum.Same != 3 || sum.ChangedMismatch != 1 || sum.Missing != 2 || sum.Extra != 1 {
		t.Fatalf("summary %v: want 3 same, 1 changed, 2 missing, 1 extra", sum)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if t.Failed() {
		t.Logf("collected: %v", got)
	}
}

// keyedAttrs formats the dualrun attributes of a data point but the
// experiment, short keys in order: {k=v,...}.
func keyedAttrs(set attribute.Set) string {
	var kv []string
	for _, a := range set.ToSlice() {
		k := strings.TrimPrefix(strings.TrimPrefix(string(a.Key), "dualrun."), "mismatch.")
		if k == "experiment" {
			continue
		}
		kv = append(kv, k+"="+a.Value.String())
	}
	slices.Sort(kv)
	return "{" + strings.Join(kv, ",") + "}"
}

// TestCompareKeyedOptions: the experiment's comparison options apply to
// keyed comparison.
func TestCompareKeyedOptions(t *testing.T) {
	legacy := keyedRows(1, 2, 3)
	changed := keyedWith(keyedRows(1, 2), 2, func(r *keyedRow) { r.Name = "R2" }) // 3 missing
	tests := []struct {
		name, reason string
		opts         []dualrun.Option
		want         func(s dualrun.KeyedSummary) bool
		wantDesc     string
	}{
		{
			name: "normalizer", reason: "a normalizer that folds case makes the renamed record the same",
			opts: []dualrun.Option{dualrun.WithNormalizer(func(r keyedRow) keyedRow { r.Name = strings.ToLower(r.Name); return r })},
			want: func(s dualrun.KeyedSummary) bool {
				return s.Same == 2 && s.Changed == 0 && s.Missing == 1 && s.Outcomes[dualrun.Mismatch] == 1
			},
			wantDesc: "2 same, 1 missing mismatch",
		},
		{
			name: "ignore-absent", reason: "an ignore rule can accept absent records: missing stays counted, its outcome is ignored, and the inputs agree",
			opts: []dualrun.Option{
				dualrun.WithIgnore(func(l, c dualrun.Result[keyedRow]) bool {
					return errors.Is(c.Err, dualrun.ErrRecordAbsent) || l.Value.Name != c.Value.Name
				}),
			},
			want: func(s dualrun.KeyedSummary) bool {
				return s.Same == 1 && s.ChangedIgnored == 1 && s.Missing == 1 && s.Outcomes[dualrun.Ignored] == 2 && s.Agree()
			},
			wantDesc: "1 same, 1 changed ignored, 1 missing ignored, agree",
		},
		{
			name: "comparer", reason: "a comparer on IDs only sees no change",
			opts:     []dualrun.Option{dualrun.WithComparer(func(l, c keyedRow) bool { return l.ID == c.ID })},
			want:     func(s dualrun.KeyedSummary) bool { return s.Same == 2 && s.Changed == 0 },
			wantDesc: "2 same",
		},
		{
			name: "comparer-panics", reason: "a comparer that panics makes the matched records outcome error, counted as changed with error",
			opts: []dualrun.Option{dualrun.WithComparer(func(_, _ keyedRow) bool { panic("comparer bug") })},
			want: func(s dualrun.KeyedSummary) bool {
				return s.Same == 0 && s.ChangedError == 2 && s.Changed == 2 && s.Outcomes[dualrun.Error] == 2 && !s.Agree()
			},
			wantDesc: "2 changed with error",
		},
	}
	for _, tt := range tests {
		for _, m := range keyedModes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				exp := keyedExp[keyedRow](t, tt.opts...)
				got, err := dualrun.CompareKeyedIn(context.Background(), exp, slices.Values(legacy), slices.Values(changed), keyedID, m.opts...)
				if err != nil {
					t.Fatal(err)
				}
				if !tt.want(got) {
					t.Errorf("summary %v, want %s (%s)", got, tt.wantDesc, tt.reason)
				}
				keyedCheckStats(t, exp.Stats(), got)
			})
		}
	}
}

// TestCompareKeyedRegistry: CompareKeyed keeps one experiment per name like
// Run (the first options win, another T panics), while its mode options
// apply per call; programmer errors panic with a clear message.
func TestCompareKeyedRegistry(t *testing.T) {
	ctx := context.Background()
	name := keyedName(t)
	t.Cleanup(func() { dualrun.Unregister(name) })
	upper := dualrun.WithNormalizer(func(r keyedRow) keyedRow { r.Name = strings.ToUpper(r.Name); return r })
	legacy, candidate := keyedRows(1, 2), keyedWith(keyedRows(1, 2), 1, func(r *keyedRow) { r.Name = "R1" })

	first, err := dualrun.CompareKeyed(ctx, name, slices.Values(legacy), slices.Values(candidate), keyedID, upper)
	if err != nil || first.Same != 2 {
		t.Fatalf("first call: %v, %v; want 2 same (its normalizer applies)", first, err)
	}
	// A second call's comparison options are ignored, its mode applies:
	// unsorted inputs given as sorted fail.
	unsorted := keyedRows(2, 1)
	second, err := dualrun.CompareKeyed(ctx, name, slices.Values(unsorted), slices.Values(unsorted), keyedID,
		dualrun.WithComparer(func(keyedRow, keyedRow) bool { return false }), dualrun.WithSortedInputs())
	if !errors.Is(err, dualrun.ErrUnsorted) || second.Legacy.Records != 2 {
		t.Fatalf("second call: %v, %v; want ErrUnsorted after reading 2 legacy records", second, err)
	}
	third, err := dualrun.CompareKeyed(ctx, name, slices.Values(unsorted), slices.Values(unsorted), keyedID,
		dualrun.WithComparer(func(keyedRow, keyedRow) bool { return false }))
	if err != nil || third.Same != 2 {
		t.Fatalf("third call: %v, %v; want 2 same: the first call's options, not this comparer", third, err)
	}
	s, ok := dualrun.StatsOf(name)
	if !ok || s.Outcomes[dualrun.Match] != 5 {
		t.Errorf("StatsOf(%q) = %v, %v; want the 5 matches of the three calls", name, s.Outcomes, ok)
	}

	panics := []struct {
		name, reason, want string
		fn                 func()
	}{
		{"other-type", "the name was first used with keyedRow", "was first used with type", func() {
			_, _ = dualrun.CompareKeyed(ctx, name, slices.Values([]int{1}), nil, func(v int) int { return v })
		}},
		{"empty-name", "every comparison needs a stable name", "experiment name is empty", func() {
			_, _ = dualrun.CompareKeyed(ctx, "", slices.Values(legacy), nil, keyedID)
		}},
		{"nil-key", "a key func is required", "key func is nil", func() {
			_, _ = dualrun.CompareKeyed[keyedRow, int](ctx, keyedName(t), nil, nil, nil)
		}},
		{"nil-experiment", "CompareKeyedIn needs an experiment", "experiment is nil", func() {
			_, _ = dualrun.CompareKeyedIn(ctx, (*dualrun.Experiment[keyedRow])(nil), nil, nil, keyedID)
		}},
		{"max-records", "a bound below 1 is a programmer error", "WithKeyedMaxRecords(0)", func() {
			dualrun.WithKeyedMaxRecords(0)
		}},
	}
	for _, p := range panics {
		t.Run(p.name, func(t *testing.T) {
			defer func() {
				v := recover()
				if v == nil || !strings.Contains(fmt.Sprint(v), p.want) {
					t.Errorf("recovered %v, want a panic mentioning %q (%s)", v, p.want, p.reason)
				}
			}()
			p.fn()
		})
	}
}

// keyedInfinite yields rows with increasing IDs for ever, ignoring what
// yield returns, and counts what it yielded; done is set when it returns.
type keyedInfinite struct {
	yielded atomic.Int64
	done    atomic.Bool
	hook    func(i int) // called before each record
}

func (s *keyedInfinite) seq(yield func(keyedRow) bool) {
	defer s.done.Store(true)
	for i := 0; ; i++ {
		if s.hook != nil {
			s.hook(i)
		}
		s.yielded.Add(1)
		yield(keyedRow{ID: i}) // ignores false: a classic iterator bug
	}
}

// keyedTrack tells whether an iterator was started, and whether it
// returned (normally or not).
type keyedTrack struct{ started, stopped atomic.Bool }

// done reports whether the iterator is not running: never started, or
// returned.
func (tr *keyedTrack) done() bool { return !tr.started.Load() || tr.stopped.Load() }

func (tr *keyedTrack) String() string {
	return fmt.Sprintf("started %v stopped %v", tr.started.Load(), tr.stopped.Load())
}

// keyedTracked yields rows, calling before(i) before each, tracked by tr,
// so tests can see that CompareKeyed stopped it.
func keyedTracked(rows []keyedRow, tr *keyedTrack, before func(i int)) iter.Seq[keyedRow] {
	return func(yield func(keyedRow) bool) {
		tr.started.Store(true)
		defer tr.stopped.Store(true)
		for i, r := range rows {
			if before != nil {
				before(i)
			}
			if !yield(r) {
				return
			}
		}
	}
}

// TestCompareKeyedHostile: panicking and NaN keys, panicking iterators,
// iterators that ignore yield's false, keys out of order and too many
// records end in a summary and an error, never a crash or a hang, and both
// iterators are stopped.
func TestCompareKeyedHostile(t *testing.T) {
	rows := keyedRows(1, 2, 3, 4, 5)
	tests := []struct {
		name, reason string
		modes        []string // "" means both
		opts         []dualrun.Option
		legacy       func(tr *keyedTrack) iter.Seq[keyedRow]
		candidate    func(tr *keyedTrack) iter.Seq[keyedRow]
		key          func(keyedRow) int
		check        func(t *testing.T, s dualrun.KeyedSummary, err error, reports []*dualrun.Report)
	}{
		{
			name: "key-panics", reason: "a key func that panics makes that record invalid: outcome error, not compared",
			key: func(r keyedRow) int {
				if r.ID == 3 {
					panic("no key for 3")
				}
				return r.ID
			},
			check: func(t *testing.T, s dualrun.KeyedSummary, err error, reports []*dualrun.Report) {
				if err != nil || s.Legacy.Invalid != 1 || s.Candidate.Invalid != 1 || s.Same != 4 ||
					s.Outcomes[dualrun.Error] != 2 || s.Agree() {
					t.Errorf("got %v, %v; want 4 same and one invalid record per side (outcome error)", s, err)
				}
				var pe *dualrun.PanicError
				var ce *dualrun.CallbackError
				if len(reports) != 2 || !errors.As(reports[0].CallbackErr, &pe) || !errors.As(reports[0].CallbackErr, &ce) ||
					ce.Callback != "CompareKeyed key func" || reports[0].Outcome != dualrun.Error {
					t.Errorf("reports %v: want two outcome-error Reports whose CallbackErr is the key func's panic", reports)
				}
			},
		},
		{
			name: "iterator-panics", reason: "an iterator that panics stops the comparison with a KeyedInputError; the other iterator is stopped",
			candidate: func(tr *keyedTrack) iter.Seq[keyedRow] {
				return keyedTracked(rows, tr, func(i int) {
					if i == 2 {
						panic(fmt.Errorf("read failed: %w", errKeyedDisk))
					}
				})
			},
			check: func(t *testing.T, s dualrun.KeyedSummary, err error, _ []*dualrun.Report) {
				var ie *dualrun.KeyedInputError
				var pe *dualrun.PanicError
				if !errors.As(err, &ie) || ie.Side != dualrun.Candidate || ie.Index != 2 || !errors.As(err, &pe) ||
					!errors.Is(err, errKeyedDisk) {
					t.Fatalf("err = %v, want a KeyedInputError for candidate record 2 around the panic", err)
				}
				if s.Candidate.Records != 2 {
					t.Errorf("candidate records = %d, want 2 read before the panic", s.Candidate.Records)
				}
			},
		},
		{
			name: "unsorted", reason: "a key smaller than the one before in sorted mode is ErrUnsorted at that record",
			modes: []string{"sorted"}, opts: []dualrun.Option{dualrun.WithSortedInputs()},
			legacy: func(tr *keyedTrack) iter.Seq[keyedRow] {
				return keyedTracked(keyedRows(1, 2, 4, 3, 5), tr, nil)
			},
			check: func(t *testing.T, s dualrun.KeyedSummary, err error, _ []*dualrun.Report) {
				var ie *dualrun.KeyedInputError
				if !errors.As(err, &ie) || ie.Side != dualrun.Legacy || ie.Index != 3 || !errors.Is(err, dualrun.ErrUnsorted) {
					t.Fatalf("err = %v, want ErrUnsorted at legacy record 3", err)
				}
				// 1 and 2 match; candidate 3 is taken as extra (legacy
				// has it out of order, after 4), then 4 matches.
				if s.Same != 3 || s.Extra != 1 {
					t.Errorf("summary %v: want the records before it compared: 3 same, 1 extra", s)
				}
			},
		},
		{
			name: "too-many-legacy", reason: "the hash join stops with ErrTooManyRecords past its bound",
			modes: []string{"hash"}, opts: []dualrun.Option{dualrun.WithKeyedMaxRecords(3)},
			check: func(t *testing.T, s dualrun.KeyedSummary, err error, _ []*dualrun.Report) {
				var ie *dualrun.KeyedInputError
				if !errors.As(err, &ie) || ie.Side != dualrun.Legacy || ie.Index != 3 || !errors.Is(err, dualrun.ErrTooManyRecords) {
					t.Fatalf("err = %v, want ErrTooManyRecords at legacy record 3", err)
				}
				if s.Matched != 0 || s.Legacy.Records != 4 {
					t.Errorf("summary %v: want 4 legacy records read, nothing compared", s)
				}
			},
		},
		{
			name: "too-many-extra", reason: "keys found only in the candidate count against the bound too",
			modes: []string{"hash"}, opts: []dualrun.Option{dualrun.WithKeyedMaxRecords(6)},
			candidate: func(tr *keyedTrack) iter.Seq[keyedRow] {
				return keyedTracked(keyedRows(1, 7, 8, 9), tr, nil)
			},
			check: func(t *testing.T, s dualrun.KeyedSummary, err error, _ []*dualrun.Report) {
				var ie *dualrun.KeyedInputError
				if !errors.As(err, &ie) || ie.Side != dualrun.Candidate || ie.Index != 2 || !errors.Is(err, dualrun.ErrTooManyRecords) {
					t.Fatalf("err = %v, want ErrTooManyRecords at candidate record 2", err)
				}
				if s.Same != 1 || s.Extra != 1 {
					t.Errorf("summary %v: want 1 same and 1 extra before the bound", s)
				}
			},
		},
		{
			name: "ignores-false-after-error", reason: "an infinite iterator that ignores yield's false is stopped (its yield panics) when the other side fails",
			modes: []string{"sorted"}, opts: []dualrun.Option{dualrun.WithSortedInputs()},
			legacy: func(tr *keyedTrack) iter.Seq[keyedRow] {
				return keyedTracked(keyedRows(1, 2, 1), tr, nil)
			},
			candidate: func(tr *keyedTrack) iter.Seq[keyedRow] {
				inf := &keyedInfinite{}
				return func(yield func(keyedRow) bool) {
					tr.started.Store(true)
					defer tr.stopped.Store(true)
					inf.seq(yield)
				}
			},
			check: func(t *testing.T, s dualrun.KeyedSummary, err error, _ []*dualrun.Report) {
				if !errors.Is(err, dualrun.ErrUnsorted) {
					t.Fatalf("err = %v, want the first error, ErrUnsorted", err)
				}
				if s.Matched != 2 || s.Extra != 1 {
					t.Errorf("summary %v: want candidate 0 extra, 1 and 2 matched before legacy went back to 1", s)
				}
			},
		},
	}
	for _, tt := range tests {
		for _, m := range keyedModes {
			if tt.modes != nil && !slices.Contains(tt.modes, m.name) {
				continue
			}
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				var col keyedCollector
				exp := dualrun.New[keyedRow](keyedName(t), keyedEveryReport(&col)...)
				var ltr, ctr keyedTrack
				legacy, candidate := keyedTracked(rows, &ltr, nil), keyedTracked(rows, &ctr, nil)
				if tt.legacy != nil {
					legacy = tt.legacy(&ltr)
				}
				if tt.candidate != nil {
					candidate = tt.candidate(&ctr)
				}
				key := tt.key
				if key == nil {
					key = keyedID
				}
				sum, err := dualrun.CompareKeyedIn(context.Background(), exp, legacy, candidate, key, append(slices.Clone(m.opts), tt.opts...)...)
				if err := exp.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				exp.Unregister()
				if !ltr.done() || !ctr.done() {
					t.Errorf("iterators: legacy %v, candidate %v; want both stopped or never started (%s)", &ltr, &ctr, tt.reason)
				}
				tt.check(t, sum, err, col.reports())
				keyedCheckStats(t, exp.Stats(), sum)
				if t.Failed() {
					t.Logf("%s", tt.reason)
				}
			})
		}
	}
}

var errKeyedDisk = errors.New("disk on fire")

// TestCompareKeyedNaNKeys: a NaN key equals no key, itself included: such a
// record is invalid (outcome error, ErrNaNKey), in both modes, and the
// sorted mode does not take it as out of order.
func TestCompareKeyedNaNKeys(t *testing.T) {
	type reading struct {
		At    float64
		Value int
	}
	legacy := []reading{{1, 1}, {math.NaN(), 2}, {2, 3}, {math.Inf(1), 4}}
	candidate := []reading{{math.Inf(-1), 0}, {1, 1}, {math.NaN(), 2}, {2, 3}, {math.NaN(), 5}}
	for _, m := range keyedModes {
		t.Run(m.name, func(t *testing.T) {
			var col keyedCollector
			exp := dualrun.New[reading](keyedName(t), keyedEveryReport(&col)...)
			sum, err := dualrun.CompareKeyedIn(context.Background(), exp, slices.Values(legacy), slices.Values(candidate),
				func(r reading) float64 { return r.At }, m.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := exp.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			exp.Unregister()
			if sum.Legacy.Invalid != 1 || sum.Candidate.Invalid != 2 || sum.Same != 2 || sum.Missing != 1 || sum.Extra != 1 ||
				sum.Outcomes[dualrun.Error] != 3 {
				t.Errorf("summary %v: want 1+2 invalid (NaN) records, 2 same, 1 missing (+Inf), 1 extra (-Inf)", sum)
			}
			n := 0
			for _, r := range col.reports() {
				if r.Outcome == dualrun.Error {
					n++
					if !errors.Is(r.CallbackErr, dualrun.ErrNaNKey) {
						t.Errorf("report %v: CallbackErr %v, want ErrNaNKey", r, r.CallbackErr)
					}
				}
			}
			if n != 3 {
				t.Errorf("%d outcome-error Reports, want 3", n)
			}
		})
	}
}

// TestCompareKeyedContext: a canceled context stops the comparison within
// 64 records and returns ctx.Err() with the summary so far, even when the
// input is infinite and ignores yield's false; a context canceled before
// reads nothing; a nil context is Background.
func TestCompareKeyedContext(t *testing.T) {
	for _, m := range keyedModes {
		t.Run("infinite/"+m.name, func(t *testing.T) {
			exp := keyedExp[keyedRow](t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const cancelAt = 1000
			inf := &keyedInfinite{hook: func(i int) {
				if i == cancelAt {
					cancel()
				}
			}}
			var other keyedTrack
			sum, err := dualrun.CompareKeyedIn(ctx, exp, inf.seq, keyedTracked(keyedRows(1, 2, 3), &other, nil), keyedID, m.opts...)
			if !errors.Is(err, context.Canceled) || err != ctx.Err() { //nolint:errorlint // ctx.Err() itself is returned
				t.Fatalf("err = %v, want ctx.Err()", err)
			}
			if got := sum.Legacy.Records; got < cancelAt || got > cancelAt+64 {
				t.Errorf("legacy records read = %d, want within 64 of the cancellation at %d", got, cancelAt)
			}
			if !inf.done.Load() || !other.done() {
				t.Errorf("iterators: infinite returned %v, other %v; want both stopped or never started", inf.done.Load(), &other)
			}
			keyedCheckStats(t, exp.Stats(), sum)
		})
	}
	t.Run("canceled-before", func(t *testing.T) {
		exp := keyedExp[keyedRow](t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		sum, err := dualrun.CompareKeyedIn(ctx, exp, slices.Values(keyedRows(1)), slices.Values(keyedRows(1)), keyedID)
		if !errors.Is(err, context.Canceled) || sum != (dualrun.KeyedSummary{}) {
			t.Errorf("got %v, %v; want an empty summary and context.Canceled", sum, err)
		}
	})
	t.Run("nil-context", func(t *testing.T) {
		exp := keyedExp[keyedRow](t)
		//nolint:staticcheck // a nil context is what this tests
		sum, err := dualrun.CompareKeyedIn(nil, exp, slices.Values(keyedRows(1)), slices.Values(keyedRows(1)), keyedID)
		if err != nil || sum.Same != 1 {
			t.Errorf("got %v, %v; want 1 same", sum, err)
		}
	})
}

// TestCompareKeyedGoexit: runtime.Goexit in the key func, an iterator or a
// comparison callback ends the calling goroutine, as in the caller's own
// loop: CompareKeyed does not return, both iterators are stopped and what
// was compared is recorded.
func TestCompareKeyedGoexit(t *testing.T) {
	rows := keyedRows(1, 2, 3, 4)
	tests := []struct {
		name, reason string
		opts         []dualrun.Option
		key          func(keyedRow) int
		legacyBefore func(i int)
		wantOutcomes int64 // comparisons recorded
	}{
		{
			name: "key", reason: "t.FailNow in a key func",
			key: func(r keyedRow) int {
				if r.ID == 3 {
					runtime.Goexit()
				}
				return r.ID
			},
			// Hash: legacy is read first, nothing compared yet. Sorted:
			// records 1 and 2 were compared.
			wantOutcomes: -1,
		},
		{
			name: "iterator", reason: "t.FailNow in an iterator",
			legacyBefore: func(i int) {
				if i == 2 {
					runtime.Goexit()
				}
			},
			wantOutcomes: -1,
		},
		{
			name: "comparer", reason: "t.FailNow in a comparer: the comparison is recorded (outcome error) on the way out",
			opts: []dualrun.Option{dualrun.WithComparer(func(l, c keyedRow) bool {
				if l.ID == 2 {
					runtime.Goexit()
				}
				return l == c
			})},
			wantOutcomes: 2,
		},
	}
	for _, tt := range tests {
		for _, m := range keyedModes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				exp := keyedExp[keyedRow](t, tt.opts...)
				var ltr, ctr keyedTrack
				key := tt.key
				if key == nil {
					key = keyedID
				}
				returned := false
				var wg sync.WaitGroup
				wg.Go(func() {
					_, _ = dualrun.CompareKeyedIn(context.Background(), exp,
						keyedTracked(rows, &ltr, tt.legacyBefore), keyedTracked(rows, &ctr, nil), key, m.opts...)
					returned = true
				})
				wg.Wait()
				if returned {
					t.Fatalf("CompareKeyedIn returned; runtime.Goexit must end the goroutine (%s)", tt.reason)
				}
				if !ltr.done() || !ctr.done() {
					t.Errorf("iterators: legacy %v, candidate %v; want both stopped or never started (%s)", &ltr, &ctr, tt.reason)
				}
				s := exp.Stats()
				want := tt.wantOutcomes
				if want < 0 {
					want = 0
					if m.name == "sorted" {
						want = 2
					}
				}
				if s.Compared != want {
					t.Errorf("compared = %d, want %d (%s)", s.Compared, want, tt.reason)
				}
				if tt.name == "comparer" && s.Count(dualrun.Error) != 1 {
					t.Errorf("outcomes %v: want the Goexit comparison recorded as error", s.Outcomes)
				}
			})
		}
	}
}

// keyedLiveHeap returns the live heap after a full collection.
func keyedLiveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestCompareKeyedSortedMemoryFlat: in sorted mode the live heap does not
// grow with the input (measured inside the iterator, after a collection,
// early and late in the input), while the hash join's does, which shows
// the measurement can see growth.
func TestCompareKeyedSortedMemoryFlat(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 50_000
	}
	early, late := n/10, n-1
	measure := func(t *testing.T, opts ...dualrun.Option) (grew int64) {
		exp := keyedExp[keyedRow](t)
		var at [2]uint64
		legacy := func(yield func(keyedRow) bool) {
			for i := range n {
				switch i {
				case early:
					at[0] = keyedLiveHeap()
				case late:
					at[1] = keyedLiveHeap()
				}
				if !yield(keyedRow{ID: i, Cents: int64(i)}) {
					return
				}
			}
		}
		candidate := func(yield func(keyedRow) bool) {
			for i := range n {
				r := keyedRow{ID: i, Cents: int64(i)}
				if i%100 == 0 {
					r.Cents = -1 // a mismatch every 100 records: Reports, fields
				}
				if i%1000 == 1 {
					continue // a missing record every 1000
				}
				if !yield(r) {
					return
				}
			}
		}
		sum, err := dualrun.CompareKeyedIn(context.Background(), exp, legacy, candidate, keyedID, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Legacy.Records != int64(n) || sum.ChangedMismatch == 0 || sum.Missing == 0 {
			t.Fatalf("summary %v: want %d legacy records, mismatches and missing records", sum, n)
		}
		return int64(at[1]) - int64(at[0])
	}
	sorted := measure(t, dualrun.WithSortedInputs())
	hash := measure(t)
	t.Logf("live heap growth from record %d to %d: sorted %d B, hash join %d B", early, late, sorted, hash)
	if sorted > 1<<20 {
		t.Errorf("sorted mode: live heap grew by %d B over %d records, want it flat (< 1 MiB)", sorted, late-early)
	}
	if minGrowth := int64(late-early) * 16; hash < minGrowth {
		t.Errorf("hash join: live heap grew by %d B over %d records, want at least %d B: the measurement should see it hold the legacy input",
			hash, late-early, minGrowth)
	}
}

// TestKeyedSummaryString: the one-line summary names every count, and
// neither values nor keys.
func TestKeyedSummaryString(t *testing.T) {
	s := dualrun.KeyedSummary{
		Legacy: dualrun.KeyedSide{Records: 10, Duplicates: 1, Invalid: 2}, Candidate: dualrun.KeyedSide{Records: 11, Duplicates: 3, Invalid: 4},
		Matched: 7, Same: 5, Changed: 2, ChangedMismatch: 1, ChangedError: 1, Missing: 2, Extra: 3,
	}
	want := "legacy 10 records, candidate 11; matched 7: same 5, changed 2 (mismatch 1, ignored 0, error 1); " +
		"missing 2, extra 3; duplicates 1/3, invalid keys 2/4 (legacy/candidate)"
	if got := s.String(); got != want {
		t.Errorf("String() =\n%q\nwant\n%q", got, want)
	}
}

// TestKeyedErrors: the errors' texts and what they unwrap to.
func TestKeyedErrors(t *testing.T) {
	tests := []struct {
		name, reason string
		err          error
		want         string
		is           error
	}{
		{
			"absent-candidate", "a missing record's candidate side",
			dualrun.AbsentError{Side: dualrun.Candidate},
			"dualrun: record absent from the candidate input", dualrun.ErrRecordAbsent,
		},
		{
			"absent-legacy", "an extra record's legacy side",
			dualrun.AbsentError{Side: dualrun.Legacy},
			"dualrun: record absent from the legacy input", dualrun.ErrRecordAbsent,
		},
		{
			"input", "an input error names the side and the record, and unwraps to its cause",
			&dualrun.KeyedInputError{Side: dualrun.Legacy, Index: 41, Err: dualrun.ErrUnsorted},
			"dualrun: CompareKeyed: input not sorted by key (legacy input, record 41)", dualrun.ErrUnsorted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q (%s)", got, tt.want, tt.reason)
			}
			if !errors.Is(tt.err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false (%s)", tt.err, tt.is, tt.reason)
			}
			if errors.Is(tt.err, context.Canceled) {
				t.Errorf("errors.Is(%v, context.Canceled) = true", tt.err)
			}
		})
	}
}

// keyedAcct is a key type whose String method panics: Report.Key must not
// call it.
type keyedAcct string

func (keyedAcct) String() string { panic("String called") }

// keyedReportKey compares one legacy record with a candidate that lacks
// it, keyed by key, and returns the Report's key.
func keyedReportKey[K cmp.Ordered](t *testing.T, key K) string {
	t.Helper()
	var col keyedCollector
	exp := dualrun.New[keyedRow](keyedName(t), append(keyedEveryReport(&col), dualrun.WithReportKeys())...)
	sum, err := dualrun.CompareKeyedIn(context.Background(), exp, slices.Values(keyedRows(1)), nil,
		func(keyedRow) K { return key })
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	exp.Unregister()
	reps := col.reports()
	if err != nil || sum.Missing != 1 || len(reps) != 1 {
		t.Fatalf("got %v, %v, %d reports; want one missing record reported", sum, err, len(reps))
	}
	return reps[0].Key
}

// TestCompareKeyedReportKeyText: Report.Key spells keys of every ordered
// kind by their value, without calling a String method, and cuts long
// strings.
func TestCompareKeyedReportKeyText(t *testing.T) {
	long := strings.Repeat("k", 300)
	tests := []struct {
		name, reason string
		got          func(t *testing.T) string
		want         string
	}{
		{"int", "decimal", func(t *testing.T) string { return keyedReportKey(t, int64(-42)) }, "-42"},
		{"uint", "decimal", func(t *testing.T) string { return keyedReportKey(t, uint8(200)) }, "200"},
		{"float", "shortest representation", func(t *testing.T) string { return keyedReportKey(t, 1.5) }, "1.5"},
		{"float32", "at its own precision", func(t *testing.T) string { return keyedReportKey(t, float32(0.1)) }, "0.1"},
		{"named-string", "the value, not its String method (which panics)", func(t *testing.T) string { return keyedReportKey(t, keyedAcct("acct-7")) }, "acct-7"},
		{"long", "cut at 256 bytes", func(t *testing.T) string { return keyedReportKey(t, long) }, long[:253] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got(t); got != tt.want {
				t.Errorf("Report.Key = %q, want %q (%s)", got, tt.want, tt.reason)
			}
		})
	}
}
