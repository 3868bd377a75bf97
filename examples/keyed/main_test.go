package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dualrun/dualrun"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// naive is the reference: the first row of each account per output, then
// set arithmetic on the accounts and == on the rows.
type naive struct {
	same, changed, missing, extra, dupCandidate, emptyMissing int64
}

func naiveOf(legacy []Balance, candidate []Balance) naive {
	var n naive
	first := func(rows []Balance, dups *int64) map[string]Balance {
		m := map[string]Balance{}
		for _, r := range rows {
			if _, ok := m[r.Account]; ok {
				*dups++
				continue
			}
			m[r.Account] = r
		}
		return m
	}
	var legacyDups int64
	l, c := first(legacy, &legacyDups), first(candidate, &n.dupCandidate)
	for k, lv := range l {
		cv, ok := c[k]
		switch {
		case !ok:
			n.missing++
			if lv.Txns == 0 {
				n.emptyMissing++
			}
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

// TestComparisonsAgreeWithNaive: each of the three comparisons counts what
// a direct comparison of the two jobs' rows finds; the example shows every
// kind of difference; the ignore rule accepts exactly the empty accounts.
func TestComparisonsAgreeWithNaive(t *testing.T) {
	accts, txns := makeDay()
	want := naiveOf(legacyJob(accts, txns), concat(candidateJob(txns)))
	if want.changed == 0 || want.missing == 0 || want.extra != numTest || want.dupCandidate != 1 {
		t.Fatalf("naive %+v: the example should show changed, missing, %d extra rows and one duplicate", want, numTest)
	}
	if want.emptyMissing != want.missing {
		t.Fatalf("naive %+v: every missing row should be an empty account's", want)
	}
	cs, err := compareAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 {
		t.Fatalf("%d comparisons, want 3", len(cs))
	}
	for _, c := range cs {
		s := c.sum
		got := naive{s.Same, s.Changed, s.Missing, s.Extra, s.Candidate.Duplicates, want.emptyMissing}
		if got != want || s.Legacy.Duplicates != 0 || s.ChangedMismatch != s.Changed {
			t.Errorf("%s: summary %v\nwant %+v", c.title, s, want)
		}
		if c.stats.Compared != s.Matched+s.Missing+s.Extra || c.stats.Count(dualrun.Match) != s.Same {
			t.Errorf("%s: stats compared %d, match %d; want %d and %d", c.title, c.stats.Compared, c.stats.Count(dualrun.Match),
				s.Matched+s.Missing+s.Extra, s.Same)
		}
		if s.Agree() {
			t.Errorf("%s: Agree() = true, but the rewrite's rounding differs", c.title)
		}
		kinds := map[string]bool{}
		for _, r := range c.reports {
			kinds[describe(r)] = true
		}
		wantKinds := []string{"changed: .Fees .Net", "only in the rewrite's output"}
		if c.title != cs[2].title {
			wantKinds = append(wantKinds, "missing from the rewrite's output")
		} else if kinds["missing from the rewrite's output"] {
			t.Errorf("%s: a missing row was reported, but the ignore rule accepts them all", c.title)
		}
		for _, k := range wantKinds {
			if !kinds[k] {
				t.Errorf("%s: no Report %q among %v", c.title, k, kinds)
			}
		}
	}
	accepted := cs[2]
	if accepted.stats.Count(dualrun.Ignored) != want.missing || accepted.stats.Count(dualrun.Mismatch) != want.changed+want.extra {
		t.Errorf("accepted: outcomes %v; want the %d missing rows ignored and %d mismatches", accepted.stats.Outcomes,
			want.missing, want.changed+want.extra)
	}
}

func concat(parts [][]Balance) []Balance {
	var out []Balance
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestMalformedOutput: a malformed row stops its sequence, and the
// comparison reports the reader's error.
func TestMalformedOutput(t *testing.T) {
	o, err := runJobs()
	if err != nil {
		t.Fatal(err)
	}
	half := o.candidate[:bytes.LastIndexByte(o.candidate[:len(o.candidate)/2], '\n')+1]
	bad := append(bytes.Clone(half), "acct-zzzzz,1,2,3,4,5,x\n"...)
	_, err = compare(context.Background(), "malformed", "billing.balances.malformed", o.legacy, bad, dualrun.WithSortedInputs())
	if err == nil || !strings.Contains(err.Error(), "invalid syntax") {
		t.Fatalf("err = %v, want the reader's error about the malformed row", err)
	}
	if errors.Is(err, dualrun.ErrUnsorted) {
		t.Errorf("err = %v: the malformed row, not the order, should be reported", err)
	}
}

// TestRunPrints: the program's output names each comparison, the counts
// and a verdict.
func TestRunPrints(t *testing.T) {
	var buf bytes.Buffer
	if err := run(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"streaming merge", "hash join", "no longer expected", "matched accounts:", "missing:", "extra:",
		"duplicate keys: legacy 0, rewrite 1", "differing fields: .Fees×", "missing from the rewrite's output",
		"only in the rewrite's output", "verdict: the outputs differ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("output:\n%s", out)
	}
}
