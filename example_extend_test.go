package dualrun_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// Publishers configured in main reach experiments that are package
// variables, made before main ran.
func ExampleAddPublisher() {
	// A package variable, made during package initialisation.
	inventory := dualrun.New[int]("example.inventory")

	// In main: one publisher for every experiment of the process.
	remove := dualrun.AddPublisher(dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		fmt.Println("report:", r)
		return nil
	}))
	defer remove()

	_, _ = inventory.Run(context.Background(),
		func(context.Context) (int, error) { return 7, nil },
		func(context.Context) (int, error) { return 8, nil })
	_ = inventory.Shutdown(context.Background())
	// Output: report: example.inventory: mismatch/value (primary legacy) paths=[.]
}

// An adapter decides first and pays for what only compared calls need: an
// HTTP front buffers a request body only for them.
func ExampleExperiment_Decide() {
	exp := dualrun.New[string]("example.decide", dualrun.WithRollout(rollout.Static{Shadow: rollout.All}))
	defer func() { _ = exp.Shutdown(context.Background()) }()

	ctx := context.Background()
	d := exp.Decide(ctx)
	body := "streamed"
	if d.Shadow {
		body = "buffered" // both sides will read it
	}
	v, _ := exp.RunDecision(ctx, d,
		func(context.Context) (string, error) { return "legacy saw " + body, nil },
		func(context.Context) (string, error) { return "candidate saw " + body, nil })
	fmt.Println(d.Shadow, v)
	// Output: true legacy saw buffered
}

// A sequential shadow runs after the primary and sees its result: a dual
// write gives the second store the id the first one assigned.
func ExampleWithSequentialShadow() {
	orders := dualrun.New[string]("example.orders", dualrun.WithSequentialShadow())
	insertOld := func(context.Context) (string, error) { return "order-17", nil }
	insertNew := func(ctx context.Context) (string, error) {
		first, ok := dualrun.PrimaryResult[string](ctx)
		if !ok || first.Err != nil {
			return "", fmt.Errorf("no primary result")
		}
		return first.Value, nil // insert with the same id
	}
	id, _ := orders.Run(context.Background(), insertOld, insertNew)
	_ = orders.Shutdown(context.Background())
	fmt.Println(id, orders.Stats().Count(dualrun.Match))
	// Output: order-17 1
}

// PauseShadows is the per-experiment kill switch: the policy still picks
// the primary, nothing is compared.
func ExampleExperiment_PauseShadows() {
	exp := dualrun.New[int]("example.pause")
	exp.PauseShadows()
	fmt.Println(exp.Decide(context.Background()).Shadow, exp.Stats().Config.Paused)
	exp.ResumeShadows()
	fmt.Println(exp.Decide(context.Background()).Shadow)
	_ = exp.Shutdown(context.Background())
	// Output:
	// false true
	// true
}

// An experiment made for a while (a data migration job, a tenant being
// moved) is released when done.
func ExampleExperiment_Unregister() {
	exp := dualrun.New[int]("example.job")
	_, _ = exp.Run(context.Background(),
		func(context.Context) (int, error) { return 1, nil },
		func(context.Context) (int, error) { return 1, nil })
	_ = exp.Shutdown(context.Background())
	exp.Unregister()
	_, listed := dualrun.StatsOf("example.job")
	fmt.Println(listed, exp.Stats().Count(dualrun.Match))
	// Output: false 1
}

// The JSON form leaves values and keys out unless asked for.
func ExampleReport_JSON() {
	r := &dualrun.Report{
		ID: "6f1c0b7e2d9a4c3b8e5f0a1d2c3b4a59", Experiment: "checkout.tax",
		Time:    time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC),
		Outcome: dualrun.Mismatch, Kind: dualrun.ValueMismatch, Primary: dualrun.Legacy,
		LegacyDuration: time.Millisecond, CandidateDuration: 2 * time.Millisecond,
		Paths: []string{".Tax"}, Diff: "-Tax: 1104\n+Tax: 1299\n",
	}
	safe, _ := r.JSON(dualrun.JSONOptions{})
	full, _ := r.JSON(dualrun.JSONOptions{Values: true})
	fmt.Println(string(safe))
	fmt.Println(strings.Contains(string(full), "1299"))
	// Output:
	// {"schema_version":1,"id":"6f1c0b7e2d9a4c3b8e5f0a1d2c3b4a59","experiment":"checkout.tax","time":"2026-11-30T09:00:00Z","outcome":"mismatch","kind":"value","primary":"legacy","legacy":{"duration_seconds":0.001},"candidate":{"duration_seconds":0.002},"paths":[".Tax"]}
	// true
}

// NamePublisher names a publisher in dualrun.reports.dropped and in Stats.
func ExampleNamePublisher() {
	tickets := dualrun.NamePublisher("tickets", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		_, err := fmt.Fprintln(os.Stdout, "ticket for", r.Experiment, r.Paths)
		return err
	}))
	exp := dualrun.New[int]("example.named", dualrun.WithPublisher(tickets))
	_, _ = exp.Run(context.Background(),
		func(context.Context) (int, error) { return 1, nil },
		func(context.Context) (int, error) { return 2, nil })
	_ = exp.Shutdown(context.Background())
	fmt.Println(exp.Stats().Config.Publishers)
	// Output:
	// ticket for example.named [.]
	// [tickets]
}

// A/A calibration learns which fields differ between two runs of legacy
// itself (ids, timestamps) and stops counting them as mismatches.
func ExampleWithCalibration() {
	type receipt struct {
		ID    int64 // generated per call: noise
		Total int64
	}
	var seq atomic.Int64
	issue := func(total int64) dualrun.Func[receipt] {
		return func(context.Context) (receipt, error) { return receipt{ID: seq.Add(1), Total: total}, nil }
	}
	exp := dualrun.New[receipt]("example.receipts", dualrun.WithCalibration(1))
	for range 30 {
		_, _ = exp.Run(context.Background(), issue(100), issue(100))
		for exp.Stats().InFlight > 0 { // one comparison at a time, for a stable output
			time.Sleep(time.Millisecond)
		}
	}
	_ = exp.Shutdown(context.Background())
	s := exp.Stats()
	for _, p := range s.Calibration.Paths {
		fmt.Println(p.Path, "noise:", p.Noisy)
	}
	fmt.Println("mismatches ignored as noise:", s.Calibration.IgnoredAsNoise > 0)
	// Output:
	// .ID noise: true
	// mismatches ignored as noise: true
}

// Mismatch classes answer "which kinds of difference, how often".
func ExampleStats_classes() {
	type bill struct{ Tax, Total, Discount int64 }
	exp := dualrun.New[bill]("example.classes")
	legacy := func(context.Context) (bill, error) { return bill{10, 110, 0}, nil }
	for _, c := range []bill{{11, 111, 0}, {11, 111, 0}, {10, 110, 5}} {
		_, _ = exp.Run(context.Background(), legacy, func(context.Context) (bill, error) { return c, nil })
	}
	_ = exp.Shutdown(context.Background()) // waits for the comparisons
	for _, c := range exp.Stats().Classes {
		fmt.Println(c.Kind, c.Paths, c.Count)
	}
	// Output:
	// value [.Tax .Total] 2
	// value [.Discount] 1
}
