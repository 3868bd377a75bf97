package fleetramp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dualrun/dualrun/fleetramp"
)

// A controller evaluates every experiment of its config against the
// fleet's signals and writes the flag file; [fleetramp.Manual] moves a
// ramp by hand in the same file.
func ExampleManual() {
	dir, err := os.MkdirTemp("", "fleetramp")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	flags := filepath.Join(dir, "flags.json")

	cfg, err := fleetramp.ParseConfig([]byte(`{"experiments":[{"name":"shipping.quote",
	  "steps":[{"name":"shadow 100%","shadow_percent":100},
	           {"shadow_percent":100,"candidate_primary_percent":50}],
	  "guard":{"max_mismatch_rate":0.01}}]}`))
	if err != nil {
		panic(err)
	}
	// nopSource stands for Prometheus being unreachable: the controller
	// writes the first step and holds.
	c, err := fleetramp.New(cfg, nopSource{}, flags)
	if err != nil {
		panic(err)
	}
	st := c.EvaluateAll(context.Background()).Experiments[0]
	fmt.Println(st.Step, st.Rollout, st.Result)

	tr, err := fleetramp.Manual(flags, "shipping.quote", fleetramp.OpAdvance, time.Now())
	fmt.Println(tr, err)
	_, err = fleetramp.Manual(flags, "shipping.quote", fleetramp.OpAdvance, time.Now())
	fmt.Println(err)
	// Output:
	// 0 shadow 100% error
	// manual 0 → 1 <nil>
	// fleetramp: nothing to do: advance at step 1 (paused false)
}

func ExampleParseConfig() {
	cfg, err := fleetramp.ParseConfig([]byte(`{"experiments":[{"name":"checkout.price","hold":"5m"}]}`))
	fmt.Println(len(cfg.Experiments), err)
	_, err = fleetramp.ParseConfig([]byte(`{"experiments":[{"name":"checkout.price","steps":[{"candidate_primary_percent":100}]}]}`))
	fmt.Println(err)
	// Output:
	// 1 <nil>
	// fleetramp: config: experiment 0 ("checkout.price"): no step with legacy primary on every call to roll back to; add one or set rollback_to
}
