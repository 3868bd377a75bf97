// Package shipping is the domain of the service example: a shipping quote
// computed by the legacy code and by its rewrite, with a latency model of
// each, and the known input set that the load generator sends.
//
// The two implementations differ on a known subset of inputs, as a real
// rewrite does:
//
//   - a parcel of exactly 2 kg: legacy prices it as a small parcel, the
//     rewrite as a heavy one (a "<" that should have been "<="): CostCents
//     and Carrier differ;
//   - express delivery to a zone whose transit time is odd: legacy rounds the
//     halved transit time down, the rewrite up: Days differs;
//   - zone "ISL" (islands): legacy knows it, the rewrite does not and fails;
//   - weight 0 (document envelopes): the rewrite looks up its per-kilogram
//     table at index -1 and panics;
//   - over 30 kg: the rewrite asks a freight service that takes 2 s, longer
//     than the service's shadow timeout (ShadowTimeout).
//
// Everything else agrees, including the zone both reject ("XX": both fail,
// which counts as a match). The computations ([LegacyQuote],
// [CandidateQuote]) are pure; the latency model ([LegacyLatency],
// [CandidateLatency]) says how long each side takes, and [Legacy] and
// [Candidate] sleep that long (or until the context ends) before computing,
// so that a test can know every outcome and the latency distribution without
// waiting.
package shipping

import (
	"context"
	"fmt"
	"time"
)

// Request is the body of a quote request.
type Request struct {
	OrderID     string `json:"order_id"`
	WeightGrams int64  `json:"weight_grams"`
	Zone        string `json:"zone"`
	Express     bool   `json:"express"`
}

// Quote is a shipping quote. It is comparable and holds no pointers, so
// dualrun compares quotes with == and names the differing fields.
type Quote struct {
	CostCents int64  `json:"cost_cents"`
	Days      int    `json:"days"`
	Carrier   string `json:"carrier"`
}

// ZoneError is the error of a quote for a zone an implementation does not
// serve.
type ZoneError struct {
	Zone string
}

func (e *ZoneError) Error() string { return fmt.Sprintf("shipping: no rates for zone %q", e.Zone) }

// WeightError is the error of a quote for a negative weight.
type WeightError struct {
	Grams int64
}

func (e *WeightError) Error() string { return fmt.Sprintf("shipping: invalid weight %d g", e.Grams) }

// Parcel limits, in grams.
const (
	// SmallParcelGrams is the heaviest small parcel (flat rate).
	SmallParcelGrams = 2000
	// MaxParcelGrams is the heaviest parcel; anything heavier ships as
	// freight.
	MaxParcelGrams = 30000
)

// The latency model: how long each side takes.
const (
	// LegacyLatencyTime is the legacy side's latency for every request.
	LegacyLatencyTime = 30 * time.Millisecond
	// CandidateLatencyTime is the rewrite's latency for a standard request.
	CandidateLatencyTime = 60 * time.Millisecond
	// CandidateExpressLatency is the rewrite's latency for express requests:
	// it asks the express carrier's API.
	CandidateExpressLatency = 130 * time.Millisecond
	// CandidateFreightLatency is the rewrite's latency for parcels over
	// MaxParcelGrams: it asks a freight service.
	CandidateFreightLatency = 2 * time.Second
	// ShadowTimeout is the service's shadow timeout: the rewrite's
	// freight lookups run past it.
	ShadowTimeout = time.Second
)

// rates are one zone's prices and transit time.
type rates struct {
	small int64 // flat price of a small parcel, in cents
	perKg int64 // price per started kilogram above SmallParcelGrams
	days  int   // standard transit time
}

var legacyRates = map[string]rates{
	"DOM": {small: 495, perKg: 120, days: 2},
	"EU":  {small: 1250, perKg: 380, days: 5},
	"NA":  {small: 1890, perKg: 450, days: 7},
	"ROW": {small: 2490, perKg: 610, days: 9},
	"ISL": {small: 2990, perKg: 700, days: 11},
}

// The rewrite's rates: the same, without the islands.
var candidateRates = map[string]rates{
	"DOM": legacyRates["DOM"],
	"EU":  legacyRates["EU"],
	"NA":  legacyRates["NA"],
	"ROW": legacyRates["ROW"],
}

// startedKg is the number of started kilograms in grams (1001 g is 2).
func startedKg(grams int64) int64 { return (grams + 999) / 1000 }

// LegacyQuote is the quote the code in production computes.
func LegacyQuote(req Request) (Quote, error) {
	r, ok := legacyRates[req.Zone]
	if !ok {
		return Quote{}, &ZoneError{Zone: req.Zone}
	}
	if req.WeightGrams < 0 {
		return Quote{}, &WeightError{Grams: req.WeightGrams}
	}
	q := Quote{CostCents: r.small, Days: r.days, Carrier: "postal"}
	switch {
	case req.WeightGrams > MaxParcelGrams:
		q.CostCents = 2 * r.perKg * startedKg(req.WeightGrams)
		q.Days += 3
		q.Carrier = "freight"
	case req.WeightGrams > SmallParcelGrams:
		q.CostCents += r.perKg * startedKg(req.WeightGrams-SmallParcelGrams)
		q.Carrier = "parcel"
	}
	if req.Express {
		q.CostCents += q.CostCents / 2
		q.Days = max(1, q.Days/2)
	}
	return q, nil
}

// candidatePerKg is the rewrite's precomputed table, per zone: at index i,
// what a parcel of the parcel tier that weighs i+1 started kilograms costs
// above a small parcel (at least one kilogram).
var candidatePerKg = func() map[string][]int64 {
	t := make(map[string][]int64, len(candidateRates))
	for zone, r := range candidateRates {
		row := make([]int64, MaxParcelGrams/1000)
		for i := range row {
			row[i] = r.perKg * max(1, int64(i+1)-SmallParcelGrams/1000)
		}
		t[zone] = row
	}
	return t
}()

// CandidateQuote is the quote the rewrite computes, given that the freight
// service answers. It panics for a weight of 0.
func CandidateQuote(req Request) (Quote, error) {
	r, ok := candidateRates[req.Zone]
	if !ok {
		return Quote{}, &ZoneError{Zone: req.Zone}
	}
	if req.WeightGrams < 0 {
		return Quote{}, &WeightError{Grams: req.WeightGrams}
	}
	q := Quote{CostCents: r.small, Days: r.days, Carrier: "postal"}
	if req.WeightGrams > MaxParcelGrams {
		q.CostCents = 2 * r.perKg * startedKg(req.WeightGrams)
		q.Days += 3
		q.Carrier = "freight"
	} else {
		// The bug: a weight of 0 looks up index -1.
		above := candidatePerKg[req.Zone][startedKg(req.WeightGrams)-1]
		if req.WeightGrams >= SmallParcelGrams { // the bug: legacy has ">"
			q.CostCents += above
			q.Carrier = "parcel"
		}
	}
	if req.Express {
		q.CostCents += q.CostCents / 2
		q.Days = max(1, (q.Days+1)/2)
	}
	return q, nil
}

// LegacyLatency is how long the legacy side takes for req.
func LegacyLatency(Request) time.Duration { return LegacyLatencyTime }

// CandidateLatency is how long the rewrite takes for req.
func CandidateLatency(req Request) time.Duration {
	switch {
	case req.WeightGrams > MaxParcelGrams:
		return CandidateFreightLatency
	case req.Express:
		return CandidateExpressLatency
	}
	return CandidateLatencyTime
}

// Legacy waits for the legacy latency of req, or until ctx ends, and returns
// LegacyQuote(req).
func Legacy(ctx context.Context, req Request) (Quote, error) {
	if err := wait(ctx, LegacyLatency(req)); err != nil {
		return Quote{}, err
	}
	return LegacyQuote(req)
}

// Candidate waits for the rewrite's latency of req, or until ctx ends, and
// returns CandidateQuote(req).
func Candidate(ctx context.Context, req Request) (Quote, error) {
	if err := wait(ctx, CandidateLatency(req)); err != nil {
		return Quote{}, err
	}
	return CandidateQuote(req)
}

// wait stands for the work a side does: it returns after d, or with
// ctx.Err() when ctx ends first.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shipping: %w", ctx.Err())
	}
}
