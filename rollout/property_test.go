package rollout_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"pgregory.net/rapid"

	"github.com/dualrun/dualrun/rollout"
)

// bp draws a percentage in basis points, favouring the edges.
func bp(t *rapid.T, label string) rollout.BasisPoints {
	return rapid.OneOf(
		rapid.SampledFrom([]rollout.BasisPoints{0, 1, 100, 5000, 9900, 9999, rollout.All}),
		rapid.Custom(func(t *rapid.T) rollout.BasisPoints {
			return rollout.BasisPoints(rapid.IntRange(0, int(rollout.All)).Draw(t, "bp"))
		}),
	).Draw(t, label)
}

func static(t *rapid.T) rollout.Static {
	return rollout.Static{Shadow: bp(t, "shadow"), CandidatePrimary: bp(t, "candidate")}
}

// policiesAt returns every policy that can hold the rollout s: they must
// all decide alike for a key.
func policiesAt(t *rapid.T, s rollout.Static) map[string]rollout.Policy {
	ramp := rollout.NewRamp("exp", []rollout.Step{{Rollout: rollout.Static{}}, {Rollout: s}}, rollout.WithStartStep(1))
	t.Cleanup(ramp.Close)
	set := rollout.NewLive(rollout.Static{Shadow: 1234})
	set.Set(s)
	return map[string]rollout.Policy{
		"Static": s, "NewLive": rollout.NewLive(s), "Live.Set": set, "Ramp": ramp,
	}
}

// TestPropertySticky: a key gets the same decision from every policy that
// holds the same percentages, on every call.
func TestPropertySticky(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		exp := rapid.StringN(1, 40, -1).Draw(t, "experiment")
		key := rapid.String().Draw(t, "key")
		s := static(t)
		ctx := rollout.WithKey(context.Background(), key)
		want := s.Decide(ctx, exp)
		for name, p := range policiesAt(t, s) {
			for range 3 {
				if got := p.Decide(ctx, exp); got != want {
					t.Fatalf("%s decided %+v for key %q, Static %+v", name, got, key, want)
				}
			}
		}
		sb, cb := rollout.Bucket(exp, key)
		if want.Shadow != (sb < s.Shadow) || (want.Primary == rollout.Candidate) != (cb < s.CandidatePrimary) {
			t.Fatalf("decision %+v disagrees with buckets %d/%d at %+v", want, sb, cb, s)
		}
	})
}

// TestPropertyRaiseNeverMovesBack: raising a percentage only adds keys, for
// both the shadow and the candidate-primary share, whatever policy holds it.
func TestPropertyRaiseNeverMovesBack(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		exp := rapid.StringN(1, 40, -1).Draw(t, "experiment")
		key := rapid.String().Draw(t, "key")
		lo, hi := static(t), static(t)
		lo.Shadow, hi.Shadow = min(lo.Shadow, hi.Shadow), max(lo.Shadow, hi.Shadow)
		lo.CandidatePrimary, hi.CandidatePrimary = min(lo.CandidatePrimary, hi.CandidatePrimary), max(lo.CandidatePrimary, hi.CandidatePrimary)
		ctx := rollout.WithKey(context.Background(), key)
		l := rollout.NewLive(lo)
		before := l.Decide(ctx, exp)
		l.Set(hi)
		after := l.Decide(ctx, exp)
		if before.Shadow && !after.Shadow {
			t.Fatalf("raising shadow %v → %v unshadowed key %q", lo.Shadow, hi.Shadow, key)
		}
		if before.Primary == rollout.Candidate && after.Primary != rollout.Candidate {
			t.Fatalf("raising candidate %v → %v moved key %q back to legacy", lo.CandidatePrimary, hi.CandidatePrimary, key)
		}
	})
}

// within reports whether got successes out of n are within k standard
// deviations of n*p.
func within(got, n int, p, k float64) bool {
	mean := float64(n) * p
	sigma := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(got)-mean) <= k*sigma+0.5
}

// keyBuf writes the i-th key of a population into buf: the salt, then i.
// A drawn salt gives every check a different key population.
func keyBuf(salt string, i int, buf []byte) []byte {
	buf = append(buf[:0], salt...)
	return strconv.AppendInt(buf, int64(i), 10)
}

// TestPropertyShadowIndependentOfPrimary: among the keys whose candidate is
// primary, and among those whose legacy is, the shadow share is the shadow
// percentage: the two draws do not depend on each other.
func TestPropertyShadowIndependentOfPrimary(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		salt := rapid.StringN(0, 8, -1).Draw(t, "salt")
		sp := rollout.BasisPoints(rapid.IntRange(1, int(rollout.All)-1).Draw(t, "shadow"))
		cp := rollout.BasisPoints(rapid.IntRange(1000, 9000).Draw(t, "candidate"))
		const n = 20_000
		var groups, shadowed [2]int
		var buf []byte
		for i := range n {
			buf = keyBuf(salt, i, buf)
			sb, cb := rollout.Bucket("exp", string(buf))
			g := 0
			if cb < cp {
				g = 1
			}
			groups[g]++
			if sb < sp {
				shadowed[g]++
			}
		}
		for g, name := range []string{"legacy-primary", "candidate-primary"} {
			if !within(shadowed[g], groups[g], sp.Float()/100, 6) {
				t.Fatalf("%s keys: %d of %d shadowed at %v", name, shadowed[g], groups[g], sp)
			}
		}
	})
}

// TestPropertyFractions: the share selected is within statistical bounds at
// 0.01%, 1%, 50% and 99%, and exact at 0% and 100%, for keyed draws (the
// sticky hash) and keyless ones (the per-call random draw). Each check draws
// a new key population (a salt); exactness is checked per check, and the
// bounds over the union of all checks' draws, which is large enough for
// 0.01% (about 200 keyed and 50 keyless selections expected).
func TestPropertyFractions(t *testing.T) {
	pcts := []float64{0, 0.01, 1, 50, 99, 100}
	const keyedPer, keylessPer = 20_000, 5_000
	var keyed, keyless [6][2]int // by percentage: shadow, candidate
	checks := 0
	rapid.Check(t, func(t *rapid.T) {
		salt := rapid.StringN(0, 8, -1).Draw(t, "salt")
		var kd, kl [6][2]int
		var buf []byte
		for i := range keyedPer {
			buf = keyBuf(salt, i, buf)
			sb, cb := rollout.Bucket("exp", string(buf))
			for j, pct := range pcts {
				p := rollout.Percent(pct)
				kd[j][0] += b2i(sb < p)
				kd[j][1] += b2i(cb < p)
			}
		}
		ctx := context.Background()
		for j, pct := range pcts {
			s := rollout.Static{Shadow: rollout.Percent(pct), CandidatePrimary: rollout.Percent(pct)}
			for range keylessPer {
				d := s.Decide(ctx, "exp")
				kl[j][0] += b2i(d.Shadow)
				kl[j][1] += b2i(d.Primary == rollout.Candidate)
			}
		}
		for j, pct := range pcts {
			for side := range 2 {
				for _, c := range []struct {
					what string
					got  int
					n    int
				}{{"keyed", kd[j][side], keyedPer}, {"keyless", kl[j][side], keylessPer}} {
					if (pct == 0 && c.got != 0) || (pct == 100 && c.got != c.n) {
						t.Fatalf("%s: %d of %d selected at %v%%: want exactly %v%%", c.what, c.got, c.n, pct, pct)
					}
					if pct >= 1 && pct <= 99 && !within(c.got, c.n, pct/100, 6) {
						t.Fatalf("%s: %d of %d selected at %v%%", c.what, c.got, c.n, pct)
					}
				}
				keyed[j][side] += kd[j][side]
				keyless[j][side] += kl[j][side]
			}
		}
		checks++
	})
	for j, pct := range pcts {
		for side, name := range []string{"shadow", "candidate"} {
			if !within(keyed[j][side], checks*keyedPer, pct/100, 5.5) {
				t.Errorf("keyed %s: %d of %d selected at %v%%", name, keyed[j][side], checks*keyedPer, pct)
			}
			if !within(keyless[j][side], checks*keylessPer, pct/100, 5.5) {
				t.Errorf("keyless %s: %d of %d selected at %v%%", name, keyless[j][side], checks*keylessPer, pct)
			}
		}
	}
	t.Logf("%d checks: %d keyed and %d keyless draws per percentage", checks, checks*keyedPer, checks*keylessPer)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// stickyChildEnv makes the test binary print its decisions for
// TestStickyAcrossRestarts instead of testing.
const stickyChildEnv = "DUALRUN_ROLLOUT_STICKY_CHILD"

func stickyLines(w *bytes.Buffer) {
	s := rollout.Static{Shadow: rollout.Percent(30), CandidatePrimary: rollout.Percent(12.34)}
	l := rollout.NewLive(s)
	for i := range 500 {
		ctx := rollout.WithKey(context.Background(), "account-"+strconv.Itoa(i))
		d := l.Decide(ctx, "checkout.price")
		fmt.Fprintf(w, "%d %v %v\n", i, d.Primary, d.Shadow)
	}
}

// TestStickyAcrossRestarts runs this test binary again, as a new process,
// and checks that it decides every key as this one does: nothing in the
// sticky draw depends on the process (no random seed, no start time).
func TestStickyAcrossRestarts(t *testing.T) {
	if os.Getenv(stickyChildEnv) == "1" {
		var b bytes.Buffer
		stickyLines(&b)
		_, _ = os.Stdout.Write(b.Bytes())
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStickyAcrossRestarts$", "-test.count=1")
	cmd.Env = append(os.Environ(), stickyChildEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child process: %v", err)
	}
	var want bytes.Buffer
	stickyLines(&want)
	wantLines := bytes.Split(bytes.TrimSpace(want.Bytes()), []byte("\n"))
	got := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		got[sc.Text()] = true
	}
	candidates := 0
	for _, l := range wantLines {
		if !got[string(l)] {
			t.Fatalf("the child process decided differently: want line %q in its output", l)
		}
		if bytes.Contains(l, []byte("candidate")) {
			candidates++
		}
	}
	if candidates == 0 || candidates == len(wantLines) {
		t.Fatalf("%d of %d keys on the candidate: the comparison proves nothing", candidates, len(wantLines))
	}
}
