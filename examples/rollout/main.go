// Command rollout shows the two ways dualrun moves a call site from its
// legacy implementation to a new one, and back.
//
// Part 1, a guarded ramp: checkout pricing walks through rollout.DefaultSteps
// (shadow 1% → 10% → 100%, then candidate primary 1% → 10% → 50% → 100%),
// one step at a time, while the mismatch rate and the candidate's failure
// rate stay low. Half-way, a bad build of the candidate starts mispricing 5%
// of carts: the ramp rolls back by itself within one evaluation interval and
// records why. The candidate is fixed, a person resumes the ramp, and it
// climbs to the end. Time is compressed: steps last tens of milliseconds
// instead of minutes.
//
// Part 2, a feature flag: search ranking follows a flag in a flagd flag file
// (flagd's own JSON format, read by the flagd OpenFeature provider in
// in-process file mode). Rewriting the file while the program runs moves
// the call site's primary; the time from the write to the first call that
// follows is printed. A typo in the file is reported and changes nothing.
//
// The program stops by itself after a few seconds.
//
//	go run ./rollout
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rollout:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	ctx := context.Background()
	if err := rampPart(ctx, w); err != nil {
		return fmt.Errorf("ramp: %w", err)
	}
	fmt.Fprintln(w)
	if err := flagPart(ctx, w); err != nil {
		return fmt.Errorf("flag file: %w", err)
	}
	return nil
}

// The guard and the compressed timing of part 1.
const (
	evalInterval = 20 * time.Millisecond
	maxMismatch  = 0.01 // 1%
	badShare     = 20   // the bad build misprices one cart in badShare
	badFromStep  = 5    // candidate primary 50%
	rampTimeout  = 20 * time.Second
)

// pricer is the call site of part 1: legacy and candidate quote a cart's
// price in cents. The candidate agrees with legacy until bad is set.
type pricer struct {
	bad       atomic.Bool
	wrongSent atomic.Int64 // wrong prices the candidate returned as primary
}

func legacyPrice(cart int) int64 { return 1000 + int64(cart%97)*13 }

func (p *pricer) legacy(cart int) dualrun.Func[int64] {
	return func(context.Context) (int64, error) { return legacyPrice(cart), nil }
}

func (p *pricer) candidate(cart int) dualrun.Func[int64] {
	return func(ctx context.Context) (int64, error) {
		price := legacyPrice(cart)
		if p.bad.Load() && cart%badShare == 0 {
			price++ // the bad build's rounding bug
			if !dualrun.IsShadow(ctx) {
				p.wrongSent.Add(1)
			}
		}
		return price, nil
	}
}

func rampPart(ctx context.Context, w io.Writer) error {
	const name = "checkout.price"
	ramp := rollout.NewRamp(name, rollout.DefaultSteps(),
		rollout.WithInterval(evalInterval),
		rollout.WithWindow(5*evalInterval),
		rollout.WithHold(3*evalInterval),
		rollout.WithMinComparisons(300),
		rollout.WithMinSamples(200),
		rollout.WithMaxMismatchRate(maxMismatch),
		rollout.WithMaxCandidateFailureRate(0.01),
	)
	defer ramp.Close()
	exp := dualrun.New[int64](name, dualrun.WithRollout(ramp), dualrun.WithMaxInFlight(256))
	defer func() { _ = exp.Shutdown(ctx) }()

	fmt.Fprintf(w, "== Part 1: %s ramps through %d steps, guarded by mismatch rate <= %g%%, evaluated every %v\n",
		name, len(rollout.DefaultSteps()), maxMismatch*100, evalInterval)
	st := ramp.State()
	fmt.Fprintf(w, "step %d  %-36s start\n", st.Step, st.StepName)

	var p pricer
	var seen time.Time // the last transition printed
	const (
		climbing = iota
		awaitingRollback
		resumed
	)
	phase := climbing
	deadline := time.Now().Add(rampTimeout)
	for i := 0; ; i++ {
		cart := i % 50_000
		kctx := rollout.WithKey(ctx, "cart-"+strconv.Itoa(cart))
		if _, err := exp.Run(kctx, p.legacy(cart), p.candidate(cart)); err != nil {
			return err
		}
		if i%256 != 0 {
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %v: %v", rampTimeout, ramp)
		}
		st := ramp.State()
		if st.Last == nil || !st.Last.At.After(seen) {
			continue
		}
		seen = st.Last.At
		printTransition(w, st)
		switch {
		case phase == climbing && st.Step == badFromStep:
			p.bad.Store(true)
			fmt.Fprintf(w, "!! a bad build of the candidate is deployed: it misprices 1 cart in %d\n", badShare)
			phase = awaitingRollback
		case phase == awaitingRollback && st.Last.Reason == rollout.ReasonRollback:
			fmt.Fprintf(w, "   callers served a wrong price before the rollback: %d\n", p.wrongSent.Load())
			fmt.Fprintf(w, "   %v\n", ramp)
			p.bad.Store(false)
			// Let the comparisons of calls made before the fix finish, so
			// that the resumed ramp judges the fixed build only.
			for exp.Stats().InFlight > 0 {
				if time.Now().After(deadline) {
					return fmt.Errorf("shadows still running after %v", rampTimeout)
				}
				time.Sleep(time.Millisecond)
			}
			fmt.Fprintln(w, "   the candidate is fixed; a person calls Resume()")
			ramp.Resume()
			phase = resumed
		case phase == resumed && st.Step == len(st.Steps)-1:
			if err := exp.Shutdown(ctx); err != nil {
				return err
			}
			s := exp.Stats()
			fmt.Fprintf(w, "done: %d calls, %d compared, %d mismatches; %v\n",
				s.Calls, s.Compared, s.Outcomes[dualrun.Mismatch], ramp)
			return nil
		case phase != climbing && st.Last.Reason != rollout.ReasonPromote && st.Last.Reason != rollout.ReasonResume:
			return fmt.Errorf("unexpected transition %v", st.Last)
		}
	}
}

func printTransition(w io.Writer, st rollout.RampState) {
	tr := st.Last
	switch tr.Reason {
	case rollout.ReasonPromote:
		fmt.Fprintf(w, "step %d  %-36s promote: %d comparisons in the window, mismatch rate %.2f%%\n",
			tr.To, st.Steps[tr.To].Rollout, tr.Window.Comparisons, tr.Window.MismatchRate*100)
	case rollout.ReasonRollback:
		fmt.Fprintf(w, "step %d  %-36s ROLLBACK from step %d: %s %.2f%% > %g%% over %d comparisons; paused\n",
			tr.To, st.Steps[tr.To].Rollout, tr.From, tr.Signal, tr.Value*100, tr.Threshold*100, tr.Window.MismatchSamples)
	default:
		fmt.Fprintf(w, "step %d  %-36s %s\n", tr.To, st.Steps[tr.To].Rollout, tr.Reason)
	}
}

// errTimeout is returned when a flag change has no effect in time.
var errTimeout = errors.New("the call site did not follow the flag file")
