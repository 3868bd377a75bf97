// Command noise shows how dualrun separates real differences from noise.
//
// A search service is being rewritten. Both versions stamp every result
// with a request id and a timestamp, and list facets in map order: fields
// that differ on every call even between two runs of the same code. The
// rewrite also ranks one query in twenty differently: the real difference.
//
// With A/A calibration (WithCalibration), dualrun runs legacy a second time
// on a fraction of the calls and learns which paths differ between legacy
// and itself; mismatches whose every path is such noise are recorded as
// ignored, and the mismatch classes show what is left: the ranking
// difference, and the noise-only mismatches of the first queries, before
// calibration had its first MinNoiseSamples samples.
//
//	go run ./noise
package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/dualrun/dualrun"
)

// result is what both implementations return for a query.
type result struct {
	RequestID string
	Took      int64
	Facets    []string
	TopHit    string
}

var seq atomic.Int64

func search(query int, rankedRight bool) result {
	facets := []string{"brand", "color", "price", "size"}
	rand.Shuffle(len(facets), func(i, j int) { facets[i], facets[j] = facets[j], facets[i] })
	n := seq.Add(1)
	top := fmt.Sprintf("doc-%d", query)
	if !rankedRight {
		top = fmt.Sprintf("doc-%d", query+1)
	}
	return result{RequestID: fmt.Sprintf("req-%d", n), Took: n % 97, Facets: facets, TopHit: top}
}

func main() {
	if err := run(os.Stdout, 3000); err != nil {
		fmt.Fprintln(os.Stderr, "noise:", err)
		os.Exit(1)
	}
}

// run sends queries through the experiment and prints what dualrun found.
func run(out io.Writer, queries int) error {
	exp := dualrun.New[result]("search.rank", dualrun.WithCalibration(0.1), dualrun.WithMaxInFlight(1024))
	defer exp.Unregister()
	ctx := context.Background()
	for q := range queries {
		legacy := func(context.Context) (result, error) { return search(q, true), nil }
		candidate := func(context.Context) (result, error) { return search(q, q%20 != 3), nil }
		_, _ = exp.Run(ctx, legacy, candidate)
		if q%64 == 63 {
			for exp.Stats().InFlight > 0 { // keep every call compared
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := exp.Shutdown(sctx); err != nil {
		return err
	}
	s := exp.Stats()
	fmt.Fprintf(out, "%d queries: %d match, %d mismatch, %d ignored as noise, %d shed\n",
		s.Calls, s.Count(dualrun.Match), s.Count(dualrun.Mismatch), s.Calibration.IgnoredAsNoise, s.Count(dualrun.Shed))
	fmt.Fprintf(out, "calibration: %d extra legacy calls\n", s.Calibration.Calls)
	fmt.Fprintln(out, "\nLEARNED PATHS (raw = legacy vs rewrite, noise = legacy vs legacy)")
	for _, p := range s.Calibration.Paths {
		verdict := "real"
		if p.Noisy {
			verdict = "noise"
		}
		fmt.Fprintf(out, "  %-12s raw %4d  noise %4d  %s\n", p.Path, p.Raw, p.Noise, verdict)
	}
	fmt.Fprintln(out, "\nMISMATCH CLASSES (what is left)")
	for _, c := range s.Classes {
		fmt.Fprintf(out, "  %-6s %v × %d\n", c.Kind, c.Paths, c.Count)
	}
	return nil
}
