package rollout_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dualrun/dualrun/rollout"
)

func ExampleNewLive() {
	// Start shadowing 10% of calls; an admin endpoint or a flag watcher
	// calls Set later. Pass the Live to dualrun.WithRollout.
	policy := rollout.NewLive(rollout.Static{Shadow: rollout.Percent(10)})
	fmt.Println(policy)

	// Cut over: the candidate is primary for every call, legacy is
	// shadowed. The next call decides with it.
	policy.Set(rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All})
	d := policy.Decide(context.Background(), "checkout.price")
	fmt.Println(policy, "→", d.Primary, "primary, shadow:", d.Shadow)

	// Roll back.
	policy.Set(rollout.Static{})
	fmt.Println(policy)
	// Output:
	// live: shadow 10%
	// live: shadow 100%, candidate primary 100% → candidate primary, shadow: true
	// live: legacy only
}

func ExampleDefaultSteps() {
	for i, s := range rollout.DefaultSteps() {
		fmt.Println(i, s.Rollout)
	}
	// Output:
	// 0 shadow 1%
	// 1 shadow 10%
	// 2 shadow 100%
	// 3 shadow 100%, candidate primary 1%
	// 4 shadow 100%, candidate primary 10%
	// 5 shadow 100%, candidate primary 50%
	// 6 shadow 100%, candidate primary 100%
}

func ExampleNewRamp() {
	// A guarded ramp: it advances after 10 minutes and 5,000 comparisons per
	// step while the mismatch rate stays at or under 0.9% (1% less the 10%
	// hysteresis band), and rolls back by itself to "shadow 100%" when it
	// exceeds 1% or the candidate fails on more than 0.5% of calls. Pass it
	// to dualrun.WithRollout: it is both the policy and the observer.
	ramp := rollout.NewRamp("checkout.price", rollout.DefaultSteps(),
		rollout.WithHold(10*time.Minute),
		rollout.WithMinComparisons(5000),
		rollout.WithMaxMismatchRate(0.01),
		rollout.WithMaxCandidateFailureRate(0.005),
		rollout.WithMaxP99Ratio(1.5),
	)
	defer ramp.Close()

	// People can move it by hand, too.
	ramp.Advance()
	ramp.Advance()
	ramp.Advance()
	ramp.Rollback()
	st := ramp.State()
	fmt.Printf("step %d (%s), paused %v, last: %v\n", st.Step, st.StepName, st.Paused, st.Last)
	ramp.Resume()
	fmt.Println("paused:", ramp.State().Paused)
	// Output:
	// step 2 (shadow 100%), paused true, last: manual 3 → 2
	// paused: false
}
