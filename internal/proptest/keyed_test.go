package proptest_test

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/dualrun/dualrun"
)

// keyedRow is a batch output record: keyed by ID.
type keyedRow struct {
	ID    int
	Name  string
	Cents int64
}

func keyedID(r keyedRow) int { return r.ID }

// keyedNaive is the reference: the first record of each key per side, then
// set arithmetic on the keys and == on the records.
type keyedNaive struct {
	same, changed, missing, extra, dupL, dupC int64
}

func keyedNaiveOf(legacy, candidate []keyedRow) keyedNaive {
	var n keyedNaive
	first := func(rows []keyedRow, dups *int64) map[int]keyedRow {
		m := map[int]keyedRow{}
		for _, r := range rows {
			if _, ok := m[r.ID]; ok {
				*dups++
				continue
			}
			m[r.ID] = r
		}
		return m
	}
	l, c := first(legacy, &n.dupL), first(candidate, &n.dupC)
	for k, lv := range l {
		cv, ok := c[k]
		switch {
		case !ok:
			n.missing++
		case lv == cv:
			n.same++
		default:
			n.changed++
		}
	}
	for k := range c {
		if _, ok := l[k]; !ok {
			n.extra++
		}
	}
	return n
}

// keyedRowGen draws rows over few IDs and few values, so that inputs share
// keys, repeat them and differ.
func keyedRowGen() *rapid.Generator[keyedRow] {
	return rapid.Custom(func(t *rapid.T) keyedRow {
		return keyedRow{
			ID:    rapid.IntRange(-5, 25).Draw(t, "id"),
			Name:  rapid.SampledFrom([]string{"a", "b"}).Draw(t, "name"),
			Cents: rapid.Int64Range(0, 2).Draw(t, "cents"),
		}
	})
}

// TestCompareKeyedProperty: for random inputs with duplicates, in random
// order (hash join) or sorted (merge), the summary's counts equal a naive
// map-based computation, the outcomes add up, the experiment's Stats grow
// by exactly the summary's outcomes, and both modes agree on sorted input.
func TestCompareKeyedProperty(t *testing.T) {
	// One experiment per mode, each with its own Stats to check.
	hashExp := dualrun.New[keyedRow]("proptest.keyed.hash")
	sortedExp := dualrun.New[keyedRow]("proptest.keyed.sorted")
	t.Cleanup(func() {
		for _, e := range []*dualrun.Experiment[keyedRow]{hashExp, sortedExp} {
			if err := e.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown %s: %v", e.Name(), err)
			}
			e.Unregister()
		}
	})
	rapid.Check(t, func(rt *rapid.T) {
		legacy := rapid.SliceOfN(keyedRowGen(), 0, 40).Draw(rt, "legacy")
		candidate := rapid.SliceOfN(keyedRowGen(), 0, 40).Draw(rt, "candidate")
		want := keyedNaiveOf(legacy, candidate)

		check := func(mode string, exp *dualrun.Experiment[keyedRow], l, c []keyedRow, opts ...dualrun.Option) dualrun.KeyedSummary {
			before := exp.Stats()
			got, err := dualrun.CompareKeyedIn(context.Background(), exp, slices.Values(l), slices.Values(c), keyedID, opts...)
			if err != nil {
				rt.Fatalf("%s: %v", mode, err)
			}
			n := keyedNaive{got.Same, got.Changed, got.Missing, got.Extra, got.Legacy.Duplicates, got.Candidate.Duplicates}
			if n != want {
				rt.Fatalf("%s: summary %v\nwant naive %+v", mode, got, want)
			}
			if got.Changed != got.ChangedMismatch || got.Matched != got.Same+got.Changed ||
				got.Legacy.Records != int64(len(l)) || got.Candidate.Records != int64(len(c)) ||
				got.Outcomes[dualrun.Match] != got.Same ||
				got.Outcomes[dualrun.Mismatch] != got.Changed+got.Missing+got.Extra {
				rt.Fatalf("%s: summary %v does not add up", mode, got)
			}
			after := exp.Stats()
			for o := range after.Outcomes {
				if d := after.Outcomes[o] - before.Outcomes[o]; d != got.Outcomes[o] {
					rt.Fatalf("%s: Stats outcome %v grew by %d, summary says %d", mode, dualrun.Outcome(o), d, got.Outcomes[o])
				}
			}
			return got
		}
		check("hash", hashExp, legacy, candidate)
		byID := func(a, b keyedRow) int { return cmp.Compare(a.ID, b.ID) }
		sl, sc := slices.Clone(legacy), slices.Clone(candidate)
		slices.SortStableFunc(sl, byID)
		slices.SortStableFunc(sc, byID)
		// A stable sort keeps the first record of each key first: the
		// naive reference is unchanged.
		merged := check("sorted", sortedExp, sl, sc, dualrun.WithSortedInputs())
		if joined := check("hash-on-sorted", hashExp, sl, sc); joined != merged {
			rt.Fatalf("modes disagree on sorted input:\nhash   %v\nsorted %v", joined, merged)
		}
	})
}
