package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dualrun/dualrun"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// differing counts, by calling both pricers directly, the carts on which
// they disagree, and those on which the discount differs.
func differing(t *testing.T, carts []Cart) (n, discount int64) {
	t.Helper()
	for _, c := range carts {
		lq, lerr := legacyQuote(context.Background(), c)
		cq, cerr := candidateQuote(context.Background(), c)
		if (lerr == nil) != (cerr == nil) {
			t.Fatalf("%s: only one side failed (%v, %v): the example expects value mismatches only", c.ID, lerr, cerr)
		}
		if lerr == nil && lq != cq {
			n++
			if lq.Discount != cq.Discount {
				discount++
			}
		}
	}
	return n, discount
}

func TestRunPrintsSummary(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf); err != nil {
		t.Fatalf("run: %v", err)
	}
	out := buf.String()
	for _, want := range []string{
		"CALLS", "compared", "shed", "OUTCOMES", "mismatch rate:", "LATENCY",
		"legacy (primary)", "rewrite (shadow)", "MOST FREQUENT DIFFERING FIELDS",
		".Tax", ".Total", "REPORTS", "SAMPLE DIFF", "main.Quote{",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("summary:\n%s", out)
	}
}

func TestStatsAgreeWithDirectComparison(t *testing.T) {
	carts := makeCarts(numCarts)
	want, wantDiscount := differing(t, carts)
	if rate := float64(want) / numCarts; rate < 0.01 || rate > 0.15 {
		t.Fatalf("the pricers differ on %d of %d carts (%.1f%%): the example should show a few percent", want, numCarts, 100*rate)
	}
	if wantDiscount == 0 {
		t.Fatalf("no cart shows the BULK15 difference: the example should show it")
	}

	res, err := price(carts)
	if err != nil {
		t.Fatalf("price: %v", err)
	}
	s := res.stats
	if res.wrong != 0 {
		t.Errorf("%d callers did not get the legacy quote", res.wrong)
	}
	shed := s.Count(dualrun.Shed)
	if s.Calls != numCarts || s.Compared+shed != s.Calls {
		t.Errorf("calls = %d, compared = %d, shed = %d; want calls = %d = compared + shed", s.Calls, s.Compared, shed, numCarts)
	}
	var recorded int64
	for o := dualrun.Match; o < dualrun.Shed; o++ {
		recorded += s.Count(o)
	}
	if recorded != s.Compared {
		t.Errorf("outcomes other than shed add up to %d, want compared = %d: %v", recorded, s.Compared, s.Outcomes)
	}
	equality := s.Count(dualrun.Match) + s.Count(dualrun.Mismatch) + s.Count(dualrun.Ignored)
	if equality != s.Compared {
		t.Errorf("match + mismatch + ignored = %d, want compared = %d (no timeout, panic, error or abort expected): %v",
			equality, s.Compared, s.Outcomes)
	}
	// Every compared cart that differs is a mismatch; shed carts are not
	// compared, so each one may hide at most one.
	if got := s.Count(dualrun.Mismatch); got > want || got < want-shed {
		t.Errorf("mismatch = %d, want %d (minus at most %d shed)", got, want, shed)
	}
	if s.ValueMismatches != s.Count(dualrun.Mismatch) {
		t.Errorf("value mismatches = %d, want all %d mismatches", s.ValueMismatches, s.Count(dualrun.Mismatch))
	}
	if shed == 0 {
		if got, wantRate := s.MismatchRate(), float64(want)/numCarts; got != wantRate {
			t.Errorf("mismatch rate = %v, want %v", got, wantRate)
		}
	}
	fields := map[string]int64{}
	for _, f := range s.Fields {
		fields[f.Path] = f.Count
	}
	if fields[".Total"] != s.Count(dualrun.Mismatch) {
		t.Errorf("field .Total counted %d times, want every mismatch (%d): %v", fields[".Total"], s.Count(dualrun.Mismatch), s.Fields)
	}
	if fields[".Tax"] == 0 || fields[".Discount"] == 0 || fields[".Discount"] > wantDiscount {
		t.Errorf("fields = %v: want .Tax, and .Discount at most %d times", s.Fields, wantDiscount)
	}
	if s.Legacy.Count != uint64(s.Compared) || s.Candidate.Count != uint64(s.Compared) {
		t.Errorf("latency counts legacy %d, candidate %d; want compared = %d", s.Legacy.Count, s.Candidate.Count, s.Compared)
	}
	if len(res.reports) == 0 || s.LastReport == nil {
		t.Fatalf("no Report published (LastReport %v)", s.LastReport)
	}
	for _, r := range res.reports {
		if r.Outcome != dualrun.Mismatch || r.Diff == "" || !strings.HasPrefix(r.Key, "cart-") {
			t.Errorf("report %v: want a mismatch with a diff and the cart's key, got diff %q key %q", r, r.Diff, r.Key)
		}
	}
	if !s.ShutDown || s.InFlight != 0 {
		t.Errorf("after Shutdown: ShutDown = %v, InFlight = %d", s.ShutDown, s.InFlight)
	}
}
