package ring_test

import (
	"context"
	"fmt"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/ring"
)

type price struct {
	Amount   int
	Currency string
}

// A Ring shows what differs, most frequent first, with a sample Report.
func ExampleRing_Snapshot() {
	g := ring.New()
	exp := dualrun.New[price]("example.ring", dualrun.WithPublisher(g), dualrun.WithReportDedup(0))
	ctx := context.Background()
	for i := range 3 {
		_, _ = exp.Run(ctx,
			func(context.Context) (price, error) { return price{100 + i, "EUR"}, nil },
			func(context.Context) (price, error) { return price{100 + i, "eur"}, nil })
	}
	_, _ = exp.Run(ctx,
		func(context.Context) (price, error) { return price{5, "EUR"}, nil },
		func(context.Context) (price, error) { return price{6, "EUR"}, nil })
	_ = exp.Shutdown(ctx)
	exp.Unregister()

	s, _ := g.Snapshot("example.ring")
	for _, p := range s.PathSets {
		fmt.Println(p.Count, p)
	}
	fmt.Println(len(s.Recent), "recent Reports; a sample:", s.PathSets[0].Sample)
	// Output:
	// 3 mismatch/value [.Currency]
	// 1 mismatch/value [.Amount]
	// 4 recent Reports; a sample: example.ring: mismatch/value (primary legacy) paths=[.Currency]
}
