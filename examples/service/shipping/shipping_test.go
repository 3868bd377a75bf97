package shipping_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun/examples/service/shipping"
)

// TestQuotes pins each documented difference of the rewrite, and the cases
// on which both sides agree.
func TestQuotes(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		req    shipping.Request
		legacy shipping.Quote
		lerr   string
		cand   shipping.Quote
		cerr   string
		panics bool
	}{
		{
			name: "small parcel", reason: "both price a 1 kg parcel at the zone's flat rate",
			req:    shipping.Request{WeightGrams: 1000, Zone: "DOM"},
			legacy: shipping.Quote{CostCents: 495, Days: 2, Carrier: "postal"},
			cand:   shipping.Quote{CostCents: 495, Days: 2, Carrier: "postal"},
		},
		{
			name: "heavy parcel", reason: "both charge every started kilogram above 2 kg",
			req:    shipping.Request{WeightGrams: 4200, Zone: "EU"},
			legacy: shipping.Quote{CostCents: 1250 + 3*380, Days: 5, Carrier: "parcel"},
			cand:   shipping.Quote{CostCents: 1250 + 3*380, Days: 5, Carrier: "parcel"},
		},
		{
			name: "exactly 2 kg", reason: "the rewrite's >= puts 2 kg in the parcel tier: CostCents and Carrier differ",
			req:    shipping.Request{WeightGrams: 2000, Zone: "NA"},
			legacy: shipping.Quote{CostCents: 1890, Days: 7, Carrier: "postal"},
			cand:   shipping.Quote{CostCents: 1890 + 450, Days: 7, Carrier: "parcel"},
		},
		{
			name: "express, odd transit time", reason: "legacy rounds 9/2 down, the rewrite up: Days differs",
			req:    shipping.Request{WeightGrams: 500, Zone: "ROW", Express: true},
			legacy: shipping.Quote{CostCents: 2490 + 1245, Days: 4, Carrier: "postal"},
			cand:   shipping.Quote{CostCents: 2490 + 1245, Days: 5, Carrier: "postal"},
		},
		{
			name: "express, even transit time", reason: "2/2 is 1 either way",
			req:    shipping.Request{WeightGrams: 500, Zone: "DOM", Express: true},
			legacy: shipping.Quote{CostCents: 495 + 247, Days: 1, Carrier: "postal"},
			cand:   shipping.Quote{CostCents: 495 + 247, Days: 1, Carrier: "postal"},
		},
		{
			name: "islands", reason: "the rewrite does not serve zone ISL",
			req:    shipping.Request{WeightGrams: 500, Zone: "ISL"},
			legacy: shipping.Quote{CostCents: 2990, Days: 11, Carrier: "postal"},
			cerr:   `shipping: no rates for zone "ISL"`,
		},
		{
			name: "unknown zone", reason: "both fail, which dualrun counts as a match",
			req:  shipping.Request{WeightGrams: 500, Zone: "XX"},
			lerr: `shipping: no rates for zone "XX"`, cerr: `shipping: no rates for zone "XX"`,
		},
		{
			name: "negative weight", reason: "both reject it",
			req:  shipping.Request{WeightGrams: -1, Zone: "DOM"},
			lerr: "shipping: invalid weight -1 g", cerr: "shipping: invalid weight -1 g",
		},
		{
			name: "freight", reason: "over 30 kg both price per kilogram, doubled (the rewrite after a slow lookup)",
			req:    shipping.Request{WeightGrams: 30001, Zone: "DOM"},
			legacy: shipping.Quote{CostCents: 2 * 120 * 31, Days: 5, Carrier: "freight"},
			cand:   shipping.Quote{CostCents: 2 * 120 * 31, Days: 5, Carrier: "freight"},
		},
		{
			name: "weight 0", reason: "the rewrite looks its table up at index -1",
			req:    shipping.Request{WeightGrams: 0, Zone: "EU"},
			legacy: shipping.Quote{CostCents: 1250, Days: 5, Carrier: "postal"},
			panics: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lq, lerr := shipping.LegacyQuote(tt.req)
			if lq != tt.legacy || errText(lerr) != tt.lerr {
				t.Errorf("LegacyQuote = %+v, %q; want %+v, %q (%s)", lq, errText(lerr), tt.legacy, tt.lerr, tt.reason)
			}
			cq, panicked, cerr := candidate(tt.req)
			if panicked != tt.panics {
				t.Fatalf("CandidateQuote panicked: %v, want %v (%s)", panicked, tt.panics, tt.reason)
			}
			if !panicked && (cq != tt.cand || errText(cerr) != tt.cerr) {
				t.Errorf("CandidateQuote = %+v, %q; want %+v, %q (%s)", cq, errText(cerr), tt.cand, tt.cerr, tt.reason)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func candidate(req shipping.Request) (q shipping.Quote, panicked bool, err error) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	q, err = shipping.CandidateQuote(req)
	return q, false, err
}

// TestInputs checks that the known input set is the same on every call,
// that it starts with a request both sides agree on, and that it holds
// every case the service example is about.
func TestInputs(t *testing.T) {
	a, b := shipping.Inputs(2000), shipping.Inputs(2000)
	if !slices.Equal(a, b) {
		t.Fatal("two calls of Inputs(2000) differ")
	}
	if !slices.Equal(shipping.Inputs(10), a[:10]) {
		t.Error("Inputs(10) is not the start of Inputs(2000)")
	}
	if len(shipping.Inputs(0)) != 0 || len(shipping.Inputs(-1)) != 0 {
		t.Error("Inputs(n <= 0) is not empty")
	}
	first := a[0]
	lq, lerr := shipping.LegacyQuote(first)
	cq, panicked, cerr := candidate(first)
	if panicked || lerr != nil || cerr != nil || lq != cq || shipping.CandidateLatency(first) >= shipping.ShadowTimeout {
		t.Errorf("first request %+v is not a plain match", first)
	}
	count := map[string]int{}
	ids := map[string]bool{}
	for _, r := range a {
		ids[r.OrderID] = true
		switch {
		case r.WeightGrams == 0:
			count["weight 0"]++
		case r.WeightGrams > shipping.MaxParcelGrams:
			count["freight"]++
		case r.WeightGrams == shipping.SmallParcelGrams:
			count["2 kg"]++
		}
		if r.Express {
			count["express"]++
		}
		count["zone "+r.Zone]++
	}
	if len(ids) != len(a) {
		t.Errorf("%d distinct order IDs in %d requests", len(ids), len(a))
	}
	tests := []struct {
		name     string
		reason   string
		min, max int
	}{
		{"weight 0", "about 1%: the rewrite's panics", 5, 40},
		{"freight", "about 2%: the rewrite's timeouts", 20, 60},
		{"2 kg", "about 4%: value mismatches", 50, 120},
		{"express", "about 10%: value mismatches in odd zones", 150, 250},
		{"zone ISL", "about 2%: error mismatches", 20, 60},
		{"zone XX", "about 1%: both fail", 5, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := count[tt.name]; n < tt.min || n > tt.max {
				t.Errorf("%d of 2000 requests are %s, want %d to %d (%s)", n, tt.name, tt.min, tt.max, tt.reason)
			}
		})
	}
}

// TestLatencyModel checks that Legacy and Candidate take the modelled time
// (on a fake clock), and give up when their context ends.
func TestLatencyModel(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		req    shipping.Request
		fn     func(context.Context, shipping.Request) (shipping.Quote, error)
		want   time.Duration
	}{
		{"legacy", "every legacy call", shipping.Request{WeightGrams: 500, Zone: "DOM"}, shipping.Legacy, shipping.LegacyLatencyTime},
		{"candidate", "a standard request", shipping.Request{WeightGrams: 500, Zone: "DOM"}, shipping.Candidate, shipping.CandidateLatencyTime},
		{"candidate express", "the express carrier's API", shipping.Request{WeightGrams: 500, Zone: "DOM", Express: true}, shipping.Candidate, shipping.CandidateExpressLatency},
		{"candidate freight", "the freight service", shipping.Request{WeightGrams: 40000, Zone: "DOM"}, shipping.Candidate, shipping.CandidateFreightLatency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				if _, err := tt.fn(context.Background(), tt.req); err != nil {
					t.Fatal(err)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("took %v, want %v (%s)", got, tt.want, tt.reason)
				}
				ctx, cancel := context.WithTimeout(context.Background(), tt.want/2)
				defer cancel()
				start = time.Now()
				_, err := tt.fn(ctx, tt.req)
				if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != tt.want/2 {
					t.Errorf("with a deadline at half the latency: %v after %v, want DeadlineExceeded after %v", err, time.Since(start), tt.want/2)
				}
			})
		})
	}
	if shipping.CandidateFreightLatency <= shipping.ShadowTimeout || shipping.CandidateExpressLatency >= shipping.ShadowTimeout {
		t.Error("freight lookups must time out as shadows, express ones must not")
	}
}

// ExampleCandidateQuote shows the rewrite disagreeing with legacy on a 2 kg
// parcel.
func ExampleCandidateQuote() {
	req := shipping.Request{OrderID: "o-1", WeightGrams: 2000, Zone: "EU"}
	legacy, _ := shipping.LegacyQuote(req)
	rewrite, _ := shipping.CandidateQuote(req)
	fmt.Printf("legacy  %+v\nrewrite %+v\n", legacy, rewrite)
	// Output:
	// legacy  {CostCents:1250 Days:5 Carrier:postal}
	// rewrite {CostCents:1630 Days:5 Carrier:parcel}
}
