// Command quickstart shows dualrun on a realistic migration: checkout
// pricing is being rewritten, and before the rewrite serves traffic we want
// proof of how often, and where, it disagrees with the old code. Legacy stays
// authoritative (callers get its quote); the rewrite runs beside it as a
// shadow. The rewrite rounds tax per line instead of per order, grants BULK15
// only above 10 units instead of from 10, and is slower on large carts.
//
// It prices a few thousand deterministic pseudo-random carts from a few
// goroutines, shuts down and prints what dualrun measured, from in-process
// Stats and Reports: no telemetry backend is needed.
//
//	go run ./quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/dualrun/dualrun"
)

const (
	numCarts   = 4000
	numWorkers = 8
	largeCart  = 8 // line items from which the rewrite takes its slow path

	// maxInFlight bounds the shadows running at once: a call that finds
	// every slot taken runs legacy only and is counted as shed.
	maxInFlight = 256
)

// LineItem is one line of a cart; prices are integer cents.
type LineItem struct {
	Qty, UnitCents int64
}

// Cart is the pricing input.
type Cart struct {
	ID     string
	Items  []LineItem
	Code   string // discount code: "", "SAVE10" or "BULK15"
	Region string // selects the tax rate
}

// Quote is the pricing result, in cents. A comparable struct without
// pointers: dualrun compares quotes with == and names differing fields.
type Quote struct {
	Subtotal, Discount, Tax, Total int64
}

// taxBP is the tax rate per region in basis points (725 = 7.25%).
var taxBP = map[string]int64{"CA": 725, "NY": 888, "TX": 625, "WA": 650, "OR": 0}

// roundDiv divides a non-negative a by b, rounding half up.
func roundDiv(a, b int64) int64 { return (a + b/2) / b }

func subtotalAndUnits(c Cart) (sub, units int64) {
	for _, it := range c.Items {
		sub += it.Qty * it.UnitCents
		units += it.Qty
	}
	return sub, units
}

// legacyQuote is the code in production today.
func legacyQuote(_ context.Context, c Cart) (Quote, error) {
	rate, ok := taxBP[c.Region]
	if !ok {
		return Quote{}, fmt.Errorf("no tax rate for region %q", c.Region)
	}
	sub, units := subtotalAndUnits(c)
	var disc int64
	switch {
	case c.Code == "SAVE10":
		disc = sub / 10
	case c.Code == "BULK15" && units >= 10:
		disc = sub * 15 / 100
	}
	tax := roundDiv((sub-disc)*rate, 10000) // rounded once, on the order
	return Quote{Subtotal: sub, Discount: disc, Tax: tax, Total: sub - disc + tax}, nil
}

// candidateQuote is the rewrite under test.
func candidateQuote(_ context.Context, c Cart) (Quote, error) {
	rate, ok := taxBP[c.Region]
	if !ok {
		return Quote{}, fmt.Errorf("region %s: unknown tax jurisdiction", c.Region)
	}
	if len(c.Items) >= largeCart {
		time.Sleep(300 * time.Microsecond) // stands in for a per-line tax-rules lookup
	}
	sub, units := subtotalAndUnits(c)
	var disc int64
	switch {
	case c.Code == "SAVE10":
		disc = sub / 10
	case c.Code == "BULK15" && units > 10: // difference: "> 10", not ">= 10"
		disc = sub * 15 / 100
	}
	var tax int64 // difference: rounded on every line, then the discount's tax taken off
	for _, it := range c.Items {
		tax += roundDiv(it.Qty*it.UnitCents*rate, 10000)
	}
	tax -= roundDiv(disc*rate, 10000)
	return Quote{Subtotal: sub, Discount: disc, Tax: tax, Total: sub - disc + tax}, nil
}

// makeCarts returns n deterministic pseudo-random carts. Now and then a
// region has no tax rate: both sides fail, which counts as a match.
func makeCarts(n int) []Cart {
	r := rand.New(rand.NewPCG(2024, 7))
	regions := []string{"CA", "NY", "TX", "WA", "OR", "CA", "NY", "TX"}
	qtys := []int64{1, 1, 1, 1, 1, 1, 1, 2, 3, 5, 10, 12}
	codes := append([]string{"SAVE10", "SAVE10", "BULK15", "BULK15"}, make([]string, 29)...)
	carts := make([]Cart, n)
	for i := range carts {
		lines := 1
		if p := r.IntN(100); p >= 97 {
			lines = largeCart + r.IntN(8)
		} else if p >= 85 {
			lines = 2 + r.IntN(3)
		}
		c := Cart{ID: fmt.Sprintf("cart-%05d", i), Code: codes[r.IntN(len(codes))], Region: regions[r.IntN(len(regions))]}
		for range lines {
			unit := int64(1+r.IntN(60))*100 - int64(r.IntN(2)) // $N.00 or $N-1.99
			c.Items = append(c.Items, LineItem{Qty: qtys[r.IntN(len(qtys))], UnitCents: unit})
		}
		if r.IntN(200) == 0 {
			c.Region = "XX"
		}
		carts[i] = c
	}
	return carts
}

// result is what one experiment run measured.
type result struct {
	stats   dualrun.Stats
	reports []*dualrun.Report // every Report handed to our publisher
	wrong   int64             // calls whose caller did not get the legacy quote
	elapsed time.Duration
}

// price runs every cart through the experiment from numWorkers goroutines
// and shuts the experiment down.
func price(carts []Cart) (result, error) {
	var (
		mu    sync.Mutex
		res   result
		wrong atomic.Int64
	)
	// A Publisher gets Reports (mismatches, timeouts, panics) on a dualrun
	// goroutine, deduplicated by set of differing paths and rate-limited.
	keep := dualrun.NamePublisher("keep", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		mu.Lock()
		defer mu.Unlock()
		res.reports = append(res.reports, r)
		return nil
	}))
	// One experiment per call site. dualrun.Run(ctx, legacy, candidate,
	// dualrun.WithName("checkout.price")) is the one-line form; New keeps the
	// experiment in hand, which suits hot paths and reading its Stats.
	exp := dualrun.New[Quote]("checkout.price",
		dualrun.WithMaxInFlight(maxInFlight),
		dualrun.WithPublisher(keep),
		dualrun.WithReportKeys(), // let Reports name the cart (WithKey below)
	)

	start := time.Now()
	var wg sync.WaitGroup
	for w := range numWorkers {
		wg.Go(func() {
			for i := w; i < len(carts); i += numWorkers {
				c := carts[i]
				// The rest of a request (loading the cart...) takes time too;
				// without it the workers would issue calls faster than
				// shadows get a CPU, and most calls would be shed.
				time.Sleep(100 * time.Microsecond)
				ctx := dualrun.WithKey(context.Background(), c.ID)
				q, err := exp.Run(ctx,
					func(ctx context.Context) (Quote, error) { return legacyQuote(ctx, c) },
					func(ctx context.Context) (Quote, error) { return candidateQuote(ctx, c) })
				if want, wantErr := legacyQuote(ctx, c); q != want || (err == nil) != (wantErr == nil) {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)

	// Shutdown waits for running shadows and queued Reports.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := exp.Shutdown(ctx); err != nil {
		return result{}, fmt.Errorf("shutdown: %w", err)
	}
	res.stats, res.wrong = exp.Stats(), wrong.Load()
	mu.Lock()
	defer mu.Unlock()
	return res, nil
}

// run prices the carts and prints the summary to w.
func run(w io.Writer) error {
	res, err := price(makeCarts(numCarts))
	if err != nil {
		return err
	}
	printSummary(w, res)
	return nil
}

func printSummary(w io.Writer, res result) {
	s := res.stats
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "dualrun quickstart: experiment %q, legacy primary, rewrite as shadow\n", s.Name)
	fmt.Fprintf(w, "%d carts priced by %d goroutines in %v\n", s.Calls, numWorkers, res.elapsed.Round(time.Millisecond))

	fmt.Fprintln(w, "\nCALLS")
	fmt.Fprintf(tw, "  calls\t%d\t  callers that got a non-legacy quote: %d\n", s.Calls, res.wrong)
	fmt.Fprintf(tw, "  compared\t%d\t  the rewrite ran as shadow and was compared\n", s.Compared)
	fmt.Fprintf(tw, "  shed\t%d\t  no free shadow slot: legacy only, not compared\n", s.Count(dualrun.Shed))
	tw.Flush()
	if n := s.Count(dualrun.Shed); n > 0 {
		fmt.Fprintf(w, "  note: %d calls found all %d shadow slots busy and ran legacy only, which keeps\n"+
			"  callers safe under load; raise WithMaxInFlight to compare more.\n", n, maxInFlight)
	}

	fmt.Fprintln(w, "\nOUTCOMES")
	for o := dualrun.Match; o < dualrun.Shed; o++ {
		fmt.Fprintf(tw, "  %s\t%d\t\n", o, s.Count(o))
	}
	tw.Flush()
	fmt.Fprintf(w, "  mismatch kinds: value %d, error %d, errors_differ %d\n",
		s.ValueMismatches, s.ErrorMismatches, s.ErrorsDiffer)
	fmt.Fprintf(w, "  mismatch rate: %.2f%% = mismatch / (match + mismatch + ignored)\n", 100*s.MismatchRate())

	fmt.Fprintln(w, "\nLATENCY (compared calls)")
	fmt.Fprintf(tw, "  side\tp50\tp90\tp99\tmax\t\n")
	fmt.Fprintf(tw, "  legacy (primary)\t%v\t%v\t%v\t%v\t\n", s.Legacy.P50, s.Legacy.P90, s.Legacy.P99, s.Legacy.Max)
	fmt.Fprintf(tw, "  rewrite (shadow)\t%v\t%v\t%v\t%v\t\n", s.Candidate.P50, s.Candidate.P90, s.Candidate.P99, s.Candidate.Max)
	tw.Flush()

	fmt.Fprintln(w, "\nMOST FREQUENT DIFFERING FIELDS")
	for _, f := range s.Fields[:min(5, len(s.Fields))] {
		fmt.Fprintf(tw, "  %s\t%d\t\n", f.Path, f.Count)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nREPORTS (%d published, one per set of differing fields; %d suppressed as duplicates or by the rate limit)\n",
		len(res.reports), s.ReportsSuppressed)
	var sample *dualrun.Report // the one with the most differing fields
	for _, r := range res.reports {
		fmt.Fprintf(w, "  %s, key %s\n", r, r.Key)
		if sample == nil || len(r.Paths) > len(sample.Paths) {
			sample = r
		}
	}
	if sample != nil {
		fmt.Fprintf(w, "\nSAMPLE DIFF (%s, -legacy +rewrite)\n", sample.Key)
		for line := range strings.Lines(sample.Diff) {
			fmt.Fprintf(w, "  %s", line)
		}
	}
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}
