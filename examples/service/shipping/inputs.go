package shipping

import (
	"fmt"
	"math/rand/v2"
)

// Seed is the seed of the known input set.
const Seed = 2026

// Inputs returns the first n requests of the known input set: the same
// requests, in the same order, for the same n on every run. The first
// request is one on which both sides agree (a 1 kg domestic parcel), so
// that a load generator can send it alone first and let a scrape see every
// series of the experiment before the load starts.
//
// About 1% of the requests weigh 0 (the rewrite panics), 2% are freight
// (the rewrite times out), 4% weigh exactly 2 kg, 10% are express, 2% go to
// the islands and 1% to an unknown zone.
func Inputs(n int) []Request {
	if n <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(Seed, 1))
	zones := [...]string{"DOM", "DOM", "DOM", "EU", "EU", "NA", "ROW"}
	weights := [...]int64{250, 500, 750, 1000, 1200, 1500, 1800, 2500, 3000, 4200, 5000, 7500, 12000, 18000}
	out := make([]Request, n)
	out[0] = Request{OrderID: orderID(0), WeightGrams: 1000, Zone: "DOM"}
	for i := 1; i < n; i++ {
		req := Request{OrderID: orderID(i), Express: rng.IntN(10) == 0}
		switch p := rng.IntN(1000); {
		case p < 10:
			req.Zone = "XX"
		case p < 30:
			req.Zone = "ISL"
		default:
			req.Zone = zones[rng.IntN(len(zones))]
		}
		switch p := rng.IntN(1000); {
		case p < 10:
			req.WeightGrams = 0
		case p < 30:
			req.WeightGrams = MaxParcelGrams + 1 + rng.Int64N(15000)
		case p < 70:
			req.WeightGrams = SmallParcelGrams
		default:
			req.WeightGrams = weights[rng.IntN(len(weights))]
		}
		out[i] = req
	}
	return out
}

func orderID(i int) string { return fmt.Sprintf("o-%06d", i) }
