// Command soak measures what a dualrun experiment costs its callers, in time
// and in resources, when the candidate is much slower than legacy and when it
// hangs. It runs on its own, in-process, with no network, and stops by itself.
//
// The run is split into four phases of equal length (-duration / 4), each
// with -concurrency callers calling in a loop:
//
//	baseline  the legacy function called directly (about 100µs of work)
//	slow      dualrun with a candidate 100× slower (time.Sleep of 100 × work),
//	          default options except WithMaxInFlight(64)
//	hang      dualrun with a candidate that blocks until the program ends and
//	          ignores its context, WithShadowTimeout(200ms)
//	heavy     dualrun whose sides return equal but distinct large results
//	          (a 1 MiB []byte and -heavy-items structs with floats, so
//	          go-cmp walks every item; 2,000 by default, tens of ms of
//	          go-cmp per comparison): CPU-heavy comparisons at the
//	          in-flight limit, the case where comparison work could
//	          starve the callers
//
// Every call's caller-visible latency (time.Now around the call) goes into
// a per-caller log-linear histogram. A sampler reads the goroutine count, the
// RSS and the heap every 10ms. The program prints, per phase, the latency
// quantiles, the overhead against the baseline, the experiment's outcomes
// and the resources used, then a verdict per target:
//
//   - caller p50 overhead at most 2µs;
//   - caller p99 within 10% of the baseline's;
//   - goroutines at most concurrency + in-flight limit + 16;
//   - RSS flat: end at most start × 1.2 + 8 MiB.
//
// After the slow phase the program waits until its shadows have finished
// and the goroutine count is back where it was (dualrun keeps idle shadow
// workers for a short while), so that they are not counted in the next
// phase; the text output says how long that took.
//
// -rounds N runs the phases N times in turn, each for -duration / (4 × N),
// and adds up each phase's slices: a change in the machine's load then
// affects every phase alike. (RSS is the process's: with more than one round
// a phase's start and end span the whole run. From the second round on, the
// hung candidates hold their goroutines during the slow phase too, and its
// goroutine target counts them.)
//
// A missed target is printed as MISSED, and a p99 target measured while
// other processes used more than a quarter of a core as NOISY (not judged);
// the exit code is 0 all the same, as this is a measurement tool. -json prints the same numbers as JSON.
//
// # Legacy work: a calibrated busy loop
//
// The legacy function is CPU work by default (-legacy=spin): a loop of a
// fixed number of iterations, calibrated at start to take -work (100µs).
// time.Sleep cannot stand in for it: on Linux the Go runtime sleeps in whole
// milliseconds when it has nothing else to run, so time.Sleep(100µs) takes
// about 1.1ms, with a p50 that moves by several µs from run to run, more than
// the 2µs overhead target. The loop is a fixed amount of work rather than
// "spin until the clock says 100µs", so that anything that delays the caller
// shows up in its latency instead of being absorbed by the deadline.
//
// With 32 callers on a few cores, a CPU-bound loop would only leave the CPU
// when the scheduler preempts it (every 10ms), putting 1% of calls behind
// a queue of other callers' time slices. A real request handler waits for
// its next request instead, so in spin mode each caller yields
// (runtime.Gosched) between calls, outside the timed section. The shadows
// then run between calls: their CPU cost shows as fewer calls per second,
// and the latency columns show what the call itself costs the caller.
// -legacy=sleep uses time.Sleep(-work) instead, for an I/O-bound caller.
//
// # Investigating
//
// -cpuprofile and -trace write a CPU profile and an execution trace of the
// whole run; shadow goroutines carry the pprof labels dualrun.experiment and
// dualrun.side. In the trace, each slice of a phase starts with a user log
// "soak.phase" (its name), and every call slower than 10 × -work (at least
// 1ms; 5ms with -legacy=sleep; or -trace-slow) is marked, when it ends, with a user log
// "soak.slowcall" (its duration in ns): `go tool trace -d=parsed` lists them
// with the goroutine's state transitions, which tell whether the time went
// to Go's scheduler or to the kernel's.
//
// The "other CPU" and "OS wait" columns tell whether the machine was quiet:
// the cores used by other processes during a phase, and how long this
// process's threads waited in the kernel's run queue. On a shared machine
// the caller's p99 follows them more than anything dualrun does.
//
//	go run ./soak
//	go run ./soak -rounds 10 -json > soak.json
//	go run ./soak -duration 6s -trace soak.trace -cpuprofile soak.cpu
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dualrun/dualrun"
)

// Settings of the phases and limits of the targets.
const (
	slowInFlight     = 64 // WithMaxInFlight of the slow phase
	hangTimeout      = 200 * time.Millisecond
	maxP50Overhead   = 2 * time.Microsecond
	maxP99Ratio      = 1.10
	goroutineSlack   = 16
	rssGrowthFactor  = 1.2
	rssGrowthAllowed = 8 << 20
	samplePeriod     = 10 * time.Millisecond
	noisyCPU         = 0.25 // other processes' cores that make p99 unreliable
)

// options are the command-line settings.
type options struct {
	Duration    time.Duration `json:"duration_ns"`
	Concurrency int           `json:"concurrency"`
	Legacy      string        `json:"legacy"`
	Work        time.Duration `json:"work_ns"`
	Rounds      int           `json:"rounds"`
	HeavyItems  int           `json:"heavy_items"`
	LogAbove    time.Duration `json:"-"`
}

func main() {
	var o options
	flag.DurationVar(&o.Duration, "duration", 20*time.Second, "total run time, split evenly over the 4 phases")
	flag.IntVar(&o.Concurrency, "concurrency", 32, "callers calling in a loop")
	flag.StringVar(&o.Legacy, "legacy", "spin", "legacy work: spin (calibrated busy loop) or sleep (time.Sleep)")
	flag.DurationVar(&o.Work, "work", 100*time.Microsecond, "legacy work per call; the slow candidate takes 100× this")
	flag.IntVar(&o.HeavyItems, "heavy-items", 2000, "items in each result of the heavy phase (go-cmp walks them all)")
	flag.IntVar(&o.Rounds, "rounds", 1, "run the phases this many times in turn (baseline, slow, hang, heavy, baseline, ...),\n"+
		"so that slow drifts in the machine's load affect every phase alike")
	asJSON := flag.Bool("json", false, "print the results as JSON instead of text")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	traceFile := flag.String("trace", "", "write an execution trace of the run to this file")
	flag.DurationVar(&o.LogAbove, "trace-slow", 0, "with -trace, mark calls slower than this (default 10 × -work, at least 1ms)")
	flag.Parse()

	stop, err := startProfiles(*cpuProfile, *traceFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	rep, err := run(o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		printReport(os.Stdout, rep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
}

// startProfiles starts the CPU profile and the execution trace asked for,
// and returns the function that stops them.
func startProfiles(cpu, tr string) (stop func(), err error) {
	var closers []func()
	stop = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
			stop = func() {}
		}
	}()
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { f.Close() })
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		closers = append(closers, pprof.StopCPUProfile)
	}
	if tr != "" {
		f, err := os.Create(tr)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { f.Close() })
		if err := trace.Start(f); err != nil {
			return nil, err
		}
		closers = append(closers, trace.Stop)
	}
	return stop, nil
}

// report is everything the run measured.
type report struct {
	Options    options       `json:"options"`
	GoVersion  string        `json:"go_version"`
	GOMAXPROCS int           `json:"gomaxprocs"`
	SpinIters  int           `json:"spin_iterations,omitempty"`
	SpinTook   time.Duration `json:"spin_calibrated_ns,omitempty"`
	LoadStart  string        `json:"loadavg_start"`
	LoadEnd    string        `json:"loadavg_end"`
	Phases     []phaseResult `json:"phases"`
	Verdicts   []verdict     `json:"verdicts"`
	Shutdown   string        `json:"shutdown"`
}

// phaseResult is what one phase measured.
type phaseResult struct {
	Name        string           `json:"name"`
	Calls       uint64           `json:"calls"`
	CallsPerSec float64          `json:"calls_per_sec"`
	MeanUs      float64          `json:"mean_us"`
	P50Us       float64          `json:"p50_us"`
	P90Us       float64          `json:"p90_us"`
	P99Us       float64          `json:"p99_us"`
	P999Us      float64          `json:"p999_us"`
	MaxUs       float64          `json:"max_us"`
	P50DeltaUs  float64          `json:"p50_overhead_us"`
	P99Ratio    float64          `json:"p99_ratio"`
	OtherCPU    float64          `json:"other_cpu_cores"`
	OSWait      float64          `json:"os_runqueue_wait_per_sec"`
	InFlight    int              `json:"inflight_limit,omitempty"`
	SettleMs    float64          `json:"settle_ms,omitempty"`
	Compared    int64            `json:"compared"`
	Outcomes    map[string]int64 `json:"outcomes,omitempty"`
	resources
}

// verdict is one target checked on one phase. A tail-latency target is
// NOISY, neither met nor missed, when other processes used more than
// noisyCPU cores during the phase or the baseline.
type verdict struct {
	Phase    string `json:"phase"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Status   string `json:"status"` // ok, MISSED or NOISY
}

// phase is one way of calling.
type phase struct {
	name     string
	call     dualrun.Func[uint64]
	stats    func() dualrun.Stats // nil for the baseline
	inFlight int
}

// run calibrates the legacy work, runs the phases and returns what they
// measured. Before returning it releases the hung candidates and shuts both
// experiments down.
func run(o options) (*report, error) {
	if o.Duration <= 0 || o.Concurrency < 1 || o.Work <= 0 || o.Rounds < 1 || o.HeavyItems < 1 {
		return nil, fmt.Errorf("want a positive -duration, -concurrency, -work, -rounds and -heavy-items")
	}
	rep := &report{Options: o, GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), LoadStart: loadavg()}
	var legacy dualrun.Func[uint64]
	var want uint64 // what legacy returns; the candidates return it too
	switch o.Legacy {
	case "spin":
		rep.SpinIters, rep.SpinTook = calibrate(o.Work)
		iters := rep.SpinIters
		want = spin(iters)
		legacy = func(context.Context) (uint64, error) { return spin(iters), nil }
	case "sleep":
		legacy = func(context.Context) (uint64, error) { time.Sleep(o.Work); return 0, nil }
	default:
		return nil, fmt.Errorf("-legacy=%q: want spin or sleep", o.Legacy)
	}
	yield := o.Legacy == "spin"
	// Calls slower than this are marked in the -trace output.
	logAbove := max(10*o.Work, time.Millisecond)
	if o.Legacy == "sleep" {
		logAbove = max(logAbove, 5*time.Millisecond) // time.Sleep(100µs) alone takes about 1.1ms
	}
	if o.LogAbove > 0 {
		logAbove = o.LogAbove
	}

	slowWork := 100 * o.Work
	slow := dualrun.New[uint64]("soak.slow", dualrun.WithMaxInFlight(slowInFlight))
	slowCandidate := func(context.Context) (uint64, error) { time.Sleep(slowWork); return want, nil }

	release := make(chan struct{}) // closed at the end: frees the hung candidates
	hang := dualrun.New[uint64]("soak.hang", dualrun.WithShadowTimeout(hangTimeout))
	hangCandidate := func(context.Context) (uint64, error) { <-release; return want, nil }

	heavy := dualrun.New[heavyResult]("soak.heavy")
	heavyL, heavyC := newHeavy(o.HeavyItems), newHeavy(o.HeavyItems)
	heavyLegacy := func(ctx context.Context) (heavyResult, error) { _, err := legacy(ctx); return heavyL, err }
	heavyCandidate := func(ctx context.Context) (heavyResult, error) { _, err := legacy(ctx); return heavyC, err }

	phases := []phase{
		{name: "baseline", call: legacy},
		{
			name: "slow", inFlight: slowInFlight, stats: slow.Stats,
			call: func(ctx context.Context) (uint64, error) { return slow.Run(ctx, legacy, slowCandidate) },
		},
		{
			name: "hang", inFlight: dualrun.DefaultMaxInFlight, stats: hang.Stats,
			call: func(ctx context.Context) (uint64, error) { return hang.Run(ctx, legacy, hangCandidate) },
		},
		{
			name: "heavy", inFlight: dualrun.DefaultMaxInFlight, stats: heavy.Stats,
			call: func(ctx context.Context) (uint64, error) {
				v, err := heavy.Run(ctx, heavyLegacy, heavyCandidate)
				return uint64(len(v.Items)), err
			},
		},
	}

	// Preallocate every histogram before measuring anything, so that the
	// phases' RSS does not include them growing.
	hists := make([]*histogram, o.Concurrency)
	for i := range hists {
		hists[i] = newHistogram()
	}
	totals := make([]*histogram, len(phases))
	for i := range totals {
		totals[i] = newHistogram()
	}
	acc := make([]resources, len(phases))
	elapsed := make([]time.Duration, len(phases))
	settle := make([]time.Duration, len(phases)) // after the phase, until its goroutines are gone
	smp := newSampler(samplePeriod)
	defer smp.close()

	// Warm up (CPU frequency, page faults, the scheduler), unmeasured.
	measure(phases[0].call, min(o.Duration/10, time.Second), hists, yield, logAbove)

	slice := o.Duration / time.Duration(len(phases)*o.Rounds)
	for round := range o.Rounds {
		for i, p := range phases {
			runtime.GC() // start every slice from the same heap
			if trace.IsEnabled() {
				trace.Log(context.Background(), "soak.phase", p.name)
			}
			g0 := runtime.NumGoroutine()
			smp.start()
			elapsed[i] += measure(p.call, slice, hists, yield, logAbove)
			r := smp.end()
			if p.name == "slow" || p.name == "heavy" {
				// Let the slow shadows finish (they take 100 × work) and
				// dualrun's idle shadow workers end, so that they do not
				// run into the next phase.
				t := time.Now()
				for time.Since(t) < 5*time.Second && (p.stats().InFlight > 0 || runtime.NumGoroutine() > g0) {
					time.Sleep(time.Millisecond)
				}
				settle[i] = max(settle[i], time.Since(t))
			}
			for _, h := range hists {
				totals[i].merge(h)
			}
			if round == 0 {
				acc[i] = r
			} else {
				acc[i].add(r)
			}
		}
	}

	var base *phaseResult
	for i, p := range phases {
		r := summarize(p, totals[i], acc[i], elapsed[i], base)
		r.SettleMs = float64(settle[i]) / float64(time.Millisecond)
		if base == nil {
			base = &r
		}
		rep.Phases = append(rep.Phases, r)
	}
	for _, r := range rep.Phases[1:] {
		held := 0 // shadows of another phase that may still hold goroutines
		if r.Name == "heavy" || (r.Name == "slow" && o.Rounds > 1) {
			held = dualrun.DefaultMaxInFlight // the hung candidates of the hang phase, until the end
		}
		rep.Verdicts = append(rep.Verdicts, judge(r, rep.Phases[0], o.Concurrency, held)...)
	}

	// Release the hung candidates and shut down.
	close(release)
	// The heavy phase's queued comparisons drain through the comparison
	// gate: give them time.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep.Shutdown = "clean"
	if err := errors.Join(slow.Shutdown(ctx), hang.Shutdown(ctx), heavy.Shutdown(ctx)); err != nil {
		rep.Shutdown = err.Error()
	}
	rep.LoadEnd = loadavg()
	return rep, nil
}

// summarize turns what a phase measured into its result; base is the
// baseline's result, nil for the baseline itself.
func summarize(p phase, t *histogram, res resources, elapsed time.Duration, base *phaseResult) phaseResult {
	r := phaseResult{
		Name: p.name, Calls: t.n, CallsPerSec: float64(t.n) / elapsed.Seconds(),
		MeanUs: us(t.mean()), P50Us: us(t.quantile(.50)), P90Us: us(t.quantile(.90)),
		P99Us: us(t.quantile(.99)), P999Us: us(t.quantile(.999)), MaxUs: us(time.Duration(t.max)),
		OtherCPU:  float64(res.otherTicks) / clockTicks / elapsed.Seconds(),
		OSWait:    res.osWait.Seconds() / elapsed.Seconds(),
		InFlight:  p.inFlight,
		resources: res,
	}
	if p.stats != nil {
		s := p.stats()
		r.Compared = s.Compared
		r.Outcomes = map[string]int64{}
		for i, n := range s.Outcomes {
			if oc := dualrun.Outcome(i); n != 0 || oc == dualrun.Match || oc == dualrun.Shed {
				r.Outcomes[oc.String()] = n
			}
		}
	}
	if base != nil {
		r.P50DeltaUs = r.P50Us - base.P50Us
		r.P99Ratio = r.P99Us / base.P99Us
	}
	return r
}

// measure runs len(hists) callers of call for d, each recording the latency
// of every call in its own histogram, and returns how long they ran. With
// yield, callers call runtime.Gosched between calls (see the package doc).
func measure(call dualrun.Func[uint64], d time.Duration, hists []*histogram, yield bool, logAbove time.Duration) time.Duration {
	ctx := context.Background()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for _, h := range hists {
		h.reset()
		wg.Go(func() {
			for {
				t0 := time.Now()
				if t0.After(deadline) {
					return
				}
				_, _ = call(ctx)
				d := time.Since(t0)
				h.record(d)
				if d > logAbove && trace.IsEnabled() {
					// Mark the call in the execution trace; it ended now.
					trace.Log(ctx, "soak.slowcall", strconv.FormatInt(int64(d), 10))
				}
				if yield {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// judge checks the targets on one dualrun phase against the baseline; held
// is the number of goroutines that shadows of other phases may hold
// meanwhile.
func judge(r, base phaseResult, concurrency, held int) []verdict {
	maxG := concurrency + r.InFlight + held + goroutineSlack
	rssLimit := uint64(float64(r.RSSStart)*rssGrowthFactor) + rssGrowthAllowed
	status := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	p99 := status(r.P99Ratio <= maxP99Ratio)
	if noise := max(r.OtherCPU, base.OtherCPU); noise > noisyCPU {
		p99 = fmt.Sprintf("NOISY (other processes: %.2f cores)", noise)
	}
	return []verdict{
		{
			r.Name, fmt.Sprintf("caller p50 overhead <= %v", maxP50Overhead),
			fmt.Sprintf("%+.2fµs", r.P50DeltaUs), status(r.P50DeltaUs <= us(maxP50Overhead)),
		},
		{
			r.Name, fmt.Sprintf("caller p99 within %.0f%% of baseline", (maxP99Ratio-1)*100),
			fmt.Sprintf("%.3f×", r.P99Ratio), p99,
		},
		{
			r.Name, fmt.Sprintf("goroutines <= %d+%d+%d = %d", concurrency, r.InFlight+held, goroutineSlack, maxG),
			fmt.Sprint(r.MaxGoroutines), status(r.MaxGoroutines <= maxG),
		},
		{
			r.Name, "RSS flat: end <= start×1.2 + 8MiB",
			fmt.Sprintf("%.1f -> %.1f MiB (limit %.1f)", mib(r.RSSStart), mib(r.RSSEnd), mib(rssLimit)),
			status(r.RSSEnd <= rssLimit),
		},
	}
}

func printReport(w io.Writer, rep *report) {
	o := rep.Options
	n := time.Duration(len(rep.Phases))
	fmt.Fprintf(w, "dualrun soak: %d phases of %v", n, o.Duration/n)
	if o.Rounds > 1 {
		fmt.Fprintf(w, " (in %d rounds of %v each)", o.Rounds, o.Duration/(n*time.Duration(o.Rounds)))
	}
	fmt.Fprintf(w, ", %d callers, GOMAXPROCS=%d, %s\n", o.Concurrency, rep.GOMAXPROCS, rep.GoVersion)
	if o.Legacy == "spin" {
		fmt.Fprintf(w, "legacy: busy loop of %d iterations (calibrated: %v), callers yield between calls\n", rep.SpinIters, rep.SpinTook)
	} else {
		fmt.Fprintf(w, "legacy: time.Sleep(%v)\n", o.Work)
	}
	fmt.Fprintf(w, "slow candidate: time.Sleep(%v), WithMaxInFlight(%d); hung candidate: blocks, WithShadowTimeout(%v)\n",
		100*o.Work, slowInFlight, hangTimeout)
	fmt.Fprintf(w, "heavy: both sides return equal 1 MiB + %d-item results, compared by go-cmp\n", o.HeavyItems)
	fmt.Fprintf(w, "load average: %s at start, %s at end\n", rep.LoadStart, rep.LoadEnd)

	fmt.Fprintln(w, "\nCALLER LATENCY (µs)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tcalls\tcalls/s\tmean\tp50\tp90\tp99\tp99.9\tmax\tp50 overhead\tp99 ratio\t")
	for _, r := range rep.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%.0f\t%+.2f\t%.3f\t\n", r.Name, r.Calls, r.CallsPerSec,
			r.MeanUs, r.P50Us, r.P90Us, r.P99Us, r.P999Us, r.MaxUs, r.P50DeltaUs, r.P99Ratio)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nEXPERIMENT AND RESOURCES (RSS and heap in MiB: start/end/max; other CPU: cores used by anything but this process;\n"+
		"OS wait: seconds per second this process's threads waited for a CPU in the kernel's run queue)")
	fmt.Fprintln(tw, "phase\tcompared\toutcomes\tgoroutines max\tRSS\theap\tGCs\tpage faults\tother CPU\tOS wait\t")
	for _, r := range rep.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.1f/%.1f/%.1f\t%.1f/%.1f/%.1f\t%d\t%d\t%.2f\t%.3f\t\n", r.Name, r.Compared, outcomes(r.Outcomes),
			r.MaxGoroutines, mib(r.RSSStart), mib(r.RSSEnd), mib(r.RSSMax),
			mib(r.HeapStart), mib(r.HeapEnd), mib(r.HeapMax), r.GCCycles, r.PageFaults, r.OtherCPU, r.OSWait)
	}
	tw.Flush()

	for _, r := range rep.Phases {
		if r.SettleMs > 0 {
			fmt.Fprintf(w, "after the %s phase, its shadows and dualrun's idle shadow workers were gone in %.0fms (at most, over its rounds)\n",
				r.Name, r.SettleMs)
		}
	}

	fmt.Fprintln(w, "\nVERDICT")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	met, missed := 0, 0
	for _, v := range rep.Verdicts {
		switch v.Status {
		case "ok":
			met++
		case "MISSED":
			missed++
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.Phase, v.Target, v.Measured, v.Status)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d of %d targets met", met, len(rep.Verdicts))
	if missed > 0 {
		fmt.Fprintf(w, ", %d MISSED", missed)
	}
	if n := len(rep.Verdicts) - met - missed; n > 0 {
		fmt.Fprintf(w, ", %d NOISY (not judged)", n)
	}
	fmt.Fprintf(w, "; shutdown after releasing the hung candidates: %s\n", rep.Shutdown)
	noisiest := 0.0
	for _, r := range rep.Phases {
		noisiest = max(noisiest, r.OtherCPU)
	}
	if noisiest > noisyCPU {
		fmt.Fprintf(w, "note: other processes used up to %.2f cores during a phase: tail latencies (p99, max) compare\n"+
			"the machine's load more than dualrun; rerun on a quiet machine, or with -rounds to spread the noise.\n", noisiest)
	}
}

// outcomes formats non-zero outcomes, in Outcome order.
func outcomes(m map[string]int64) string {
	if m == nil {
		return "-"
	}
	var parts []string
	for o := dualrun.Match; o <= dualrun.Shed; o++ {
		if n, ok := m[o.String()]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", o, n))
		}
	}
	return strings.Join(parts, ", ")
}

// spin is the legacy work: n rounds of xorshift, which the compiler cannot
// skip since the result is returned.
//
//go:noinline
func spin(n int) uint64 {
	x := uint64(88172645463325252)
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// calibrate returns the iterations of spin that take about d, and how long
// they took, as the best of several runs.
func calibrate(d time.Duration) (int, time.Duration) {
	best := func(n, runs int) time.Duration {
		b := time.Duration(1 << 62)
		for range runs {
			t := time.Now()
			spin(n) //nolint:staticcheck // only its duration matters; //go:noinline keeps the call
			b = min(b, time.Since(t))
		}
		return b
	}
	const probe = 1 << 20
	n := max(1, int(float64(probe)*float64(d)/float64(best(probe, 5))))
	return n, best(n, 50)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func mib(b uint64) float64       { return float64(b) / (1 << 20) }

// heavyResult is the result of the heavy phase: large enough that
// comparing two of them is real CPU work. The floats keep go-cmp from
// taking dualrun's == fast path, so it walks every item; the byte slice
// takes the engine's bytes.Equal fast path.
type heavyResult struct {
	Blob  []byte
	Items []heavyItem
}

type heavyItem struct {
	ID    int
	SKU   string
	Price float64
	Qty   int
}

// newHeavy builds a heavyResult with n items; two calls build equal values
// in distinct memory.
func newHeavy(n int) heavyResult {
	r := heavyResult{Blob: make([]byte, 1<<20), Items: make([]heavyItem, n)}
	for i := range r.Blob {
		r.Blob[i] = byte(i * 7)
	}
	for i := range r.Items {
		r.Items[i] = heavyItem{ID: i, SKU: "sku-" + strconv.Itoa(i), Price: float64(i) / 4, Qty: i % 9}
	}
	return r
}
