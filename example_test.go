package dualrun_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
)

// The examples migrate a shop's pricing and tax code. Amounts are in cents.
// Each one calls Shutdown before printing statistics, so that every shadow
// has been compared and recorded.

func ExampleRun() {
	ctx := context.Background()
	// Two implementations of the call site: the tax on a 10.00 EUR cart.
	legacyTax := func(context.Context) (int64, error) { return 190, nil }
	newTax := func(context.Context) (int64, error) { return 190, nil }

	tax, err := dualrun.Run(ctx, legacyTax, newTax, dualrun.WithName("checkout.tax"))
	fmt.Println(tax, err)

	// Before the process exits, let the shadows of every experiment made by
	// Run finish.
	if err := dualrun.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	// Output: 190 <nil>
}

func ExampleNew() {
	type Money struct {
		Cents    int64
		Currency string
	}
	// Make the experiment once, in a package variable in real code.
	priceExp := dualrun.New[Money]("checkout.price")

	ctx := context.Background()
	legacyPrice := func(context.Context) (Money, error) { return Money{1190, "EUR"}, nil }
	newPrice := func(context.Context) (Money, error) { return Money{1190, "EUR"}, nil }
	price, err := priceExp.Run(ctx, legacyPrice, newPrice)
	fmt.Println(price, err)

	if err := priceExp.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	s := priceExp.Stats()
	fmt.Println("compared:", s.Compared, "matches:", s.Count(dualrun.Match))
	// Output:
	// {1190 EUR} <nil>
	// compared: 1 matches: 1
}

func ExampleExperiment_Run() {
	type Quote struct{ NetCents, TaxCents int64 }
	exp := dualrun.New[Quote]("checkout.quote")
	ctx := context.Background()

	legacy := func(context.Context) (Quote, error) { return Quote{1000, 190}, nil }
	// The new tax table is wrong for this cart.
	candidate := func(context.Context) (Quote, error) { return Quote{1000, 200}, nil }

	// The caller gets the primary's (legacy's) result, whatever the shadow
	// returns.
	q, err := exp.Run(ctx, legacy, candidate)
	fmt.Println("caller got:", q, err)

	_ = exp.Shutdown(ctx)
	s := exp.Stats()
	fmt.Println("mismatches:", s.Count(dualrun.Mismatch), "fields:", s.Fields)
	// Output:
	// caller got: {1000 190} <nil>
	// mismatches: 1 fields: [{.TaxCents 1}]
}

func ExampleExperiment_Stats() {
	exp := dualrun.New[int64]("checkout.shipping")
	ctx := context.Background()

	for _, weightKg := range []int64{1, 2, 5, 30} {
		legacy := func(context.Context) (int64, error) { return 499, nil }
		// The new carrier table charges more for heavy parcels.
		candidate := func(context.Context) (int64, error) {
			if weightKg > 20 {
				return 1099, nil
			}
			return 499, nil
		}
		_, _ = exp.Run(ctx, legacy, candidate)
	}

	_ = exp.Shutdown(ctx) // every shadow compared and recorded
	s := exp.Stats()
	fmt.Printf("calls=%d compared=%d match=%d mismatch=%d rate=%.2f\n",
		s.Calls, s.Compared, s.Count(dualrun.Match), s.Count(dualrun.Mismatch), s.MismatchRate())
	// Output: calls=4 compared=4 match=3 mismatch=1 rate=0.25
}

func ExampleExperiment_Shutdown() {
	exp := dualrun.New[int64]("checkout.tax")
	legacy := func(context.Context) (int64, error) { return 190, nil }
	candidate := func(context.Context) (int64, error) { return 190, nil }
	_, _ = exp.Run(context.Background(), legacy, candidate)

	// Wait at most 5 s for running shadows and queued reports.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := exp.Shutdown(ctx); err != nil {
		fmt.Println("shadows still running:", err)
	}

	// After Shutdown calls go on, primary only.
	tax, err := exp.Run(context.Background(), legacy, candidate)
	s := exp.Stats()
	fmt.Println(tax, err, "shut down:", s.ShutDown, "calls:", s.Calls, "compared:", s.Compared)
	// Output: 190 <nil> shut down: true calls: 2 compared: 1
}

func ExampleIsShadow() {
	// charge is shared by both implementations. The shadow must not charge
	// the customer a second time.
	charge := func(ctx context.Context, cents int64) {
		if dualrun.IsShadow(ctx) {
			return
		}
		fmt.Println("charged", cents)
	}
	legacyCheckout := func(ctx context.Context) (int64, error) { charge(ctx, 1190); return 1190, nil }
	newCheckout := func(ctx context.Context) (int64, error) { charge(ctx, 1190); return 1190, nil }

	exp := dualrun.New[int64]("checkout.pay")
	ctx := context.Background()
	total, _ := exp.Run(ctx, legacyCheckout, newCheckout)
	_ = exp.Shutdown(ctx)
	fmt.Println("total", total, "compared", exp.Stats().Compared)
	// Output:
	// charged 1190
	// total 1190 compared 1
}

func ExampleWithKey() {
	// Half of the customers get the new pricing engine. The decision hashes
	// (experiment, key): a customer keeps their side on every call, every
	// replica and every restart.
	exp := dualrun.New[string]("checkout.pricing-engine", dualrun.WithRollout(rollout.Static{
		Shadow:           rollout.All,
		CandidatePrimary: rollout.Percent(50),
	}))
	legacy := func(context.Context) (string, error) { return "legacy", nil }
	candidate := func(context.Context) (string, error) { return "candidate", nil }

	for _, customer := range []string{"customer-1", "customer-4", "customer-5"} {
		ctx := dualrun.WithKey(context.Background(), customer)
		var engines []string
		for range 3 {
			engine, _ := exp.Run(ctx, legacy, candidate)
			engines = append(engines, engine)
		}
		fmt.Println(customer, engines)
	}
	_ = exp.Shutdown(context.Background())
	// Output:
	// customer-1 [legacy legacy legacy]
	// customer-4 [candidate candidate candidate]
	// customer-5 [legacy legacy legacy]
}

func ExampleWithName() {
	ctx := context.Background()
	legacyShipping := func(context.Context) (int64, error) { return 499, nil }
	newShipping := func(context.Context) (int64, error) { return 499, nil }

	// The name is the dualrun.experiment attribute of every metric and span:
	// stable and low-cardinality. Run keeps one experiment per name, made
	// with the options of its first call.
	shipping, err := dualrun.Run(ctx, legacyShipping, newShipping, dualrun.WithName("checkout.shipping"))
	fmt.Println(shipping, err)

	_ = dualrun.Shutdown(ctx)
	// Output: 499 <nil>
}

func ExampleWithMeterProvider() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(ctx) }()

	exp := dualrun.New[int64]("checkout.tax", dualrun.WithMeterProvider(mp))
	for _, newTax := range []int64{190, 200} {
		legacy := func(context.Context) (int64, error) { return 190, nil }
		candidate := func(context.Context) (int64, error) { return newTax, nil }
		_, _ = exp.Run(ctx, legacy, candidate)
	}
	_ = exp.Shutdown(ctx)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		fmt.Println(err)
	}
	var lines []string
	zeros := 0 // every outcome series is exported from the first compared call
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != dualrun.MetricComparisons {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if p.Value == 0 {
					zeros++
					continue
				}
				outcome, _ := p.Attributes.Value(dualrun.AttrOutcome)
				lines = append(lines, fmt.Sprintf("%s{outcome=%s} %d", m.Name, outcome.AsString(), p.Value))
			}
		}
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	fmt.Println("series at zero:", zeros)
	// Output:
	// dualrun.comparisons{outcome=match} 1
	// dualrun.comparisons{outcome=mismatch} 1
	// series at zero: 18
}

func ExampleWithTracerProvider() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	exp := dualrun.New[int64]("checkout.tax", dualrun.WithTracerProvider(tp))
	ctx, request := tp.Tracer("shop").Start(context.Background(), "POST /checkout")
	legacy := func(context.Context) (int64, error) { return 190, nil }
	candidate := func(context.Context) (int64, error) { return 200, nil }
	_, _ = exp.Run(ctx, legacy, candidate)
	_ = exp.Shutdown(ctx)
	request.End()

	for _, s := range rec.Ended() {
		if s.Name() == "POST /checkout" {
			continue
		}
		// The shadow span is a child of the request's span, so it follows
		// the request's sampling decision (WithLinkedShadowSpans: a linked
		// root instead).
		child := s.Parent().SpanID() == request.SpanContext().SpanID()
		fmt.Println(s.Name(), "child:", child, "links:", len(s.Links()))
		for _, kv := range s.Attributes() {
			if kv.Key == dualrun.AttrOutcome {
				fmt.Println("outcome:", kv.Value.AsString())
			}
		}
		for _, e := range s.Events() {
			fmt.Println("event:", e.Name)
		}
	}
	// Output:
	// dualrun.shadow checkout.tax child: true links: 0
	// outcome: mismatch
	// event: dualrun.mismatch
}

func ExampleWithRollout() {
	// Cut-over: the candidate is authoritative on every call, and legacy
	// keeps running as the shadow, so a regression still shows up as a
	// mismatch. Rolling back is setting CandidatePrimary to 0.
	exp := dualrun.New[int64]("checkout.tax", dualrun.WithRollout(rollout.Static{
		Shadow:           rollout.All,
		CandidatePrimary: rollout.All,
	}))
	ctx := context.Background()
	legacy := func(context.Context) (int64, error) { return 190, nil }
	candidate := func(context.Context) (int64, error) { return 191, nil }

	tax, _ := exp.Run(ctx, legacy, candidate)
	_ = exp.Shutdown(ctx)
	s := exp.Stats()
	fmt.Println("caller got:", tax, "candidate primary:", s.CandidatePrimary, "mismatches:", s.Count(dualrun.Mismatch))
	// Output: caller got: 191 candidate primary: 1 mismatches: 1
}

func ExampleWithShadowTimeout() {
	exp := dualrun.New[int64]("checkout.tax", dualrun.WithShadowTimeout(20*time.Millisecond))
	ctx := context.Background()
	legacy := func(context.Context) (int64, error) { return 190, nil }
	// The new tax service hangs; at least it honors its context.
	candidate := func(ctx context.Context) (int64, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}

	// The caller does not wait for the shadow.
	tax, err := exp.Run(ctx, legacy, candidate)
	fmt.Println(tax, err)

	_ = exp.Shutdown(ctx)
	s := exp.Stats()
	fmt.Println("timeouts:", s.Count(dualrun.Timeout), "mismatches:", s.Count(dualrun.Mismatch))
	// Output:
	// 190 <nil>
	// timeouts: 1 mismatches: 0
}

func ExampleWithMaxInFlight() {
	exp := dualrun.New[int64]("checkout.tax", dualrun.WithMaxInFlight(1))
	ctx := context.Background()
	release := make(chan struct{})
	legacy := func(context.Context) (int64, error) { return 190, nil }
	slowCandidate := func(context.Context) (int64, error) {
		<-release
		return 190, nil
	}

	_, _ = exp.Run(ctx, legacy, slowCandidate) // its shadow takes the only slot
	_, _ = exp.Run(ctx, legacy, slowCandidate) // no slot free: legacy only, counted as shed
	close(release)

	_ = exp.Shutdown(ctx)
	s := exp.Stats()
	fmt.Println("calls:", s.Calls, "compared:", s.Compared, "shed:", s.Count(dualrun.Shed))
	// Output: calls: 2 compared: 1 shed: 1
}

func ExampleWithCmpOptions() {
	type Quote struct{ Net, Tax float64 }
	legacy := func(context.Context) (Quote, error) { return Quote{Net: 3, Tax: 0.3}, nil }
	// The candidate sums the tax of each line: the last bits differ.
	candidate := func(context.Context) (Quote, error) {
		q := Quote{Net: 3}
		for _, lineTax := range []float64{0.1, 0.2} {
			q.Tax += lineTax
		}
		return q, nil
	}

	exact := dualrun.New[Quote]("checkout.quote.exact")
	approx := dualrun.New[Quote]("checkout.quote",
		dualrun.WithCmpOptions(cmpopts.EquateApprox(0, 1e-9)))
	ctx := context.Background()
	for _, exp := range []*dualrun.Experiment[Quote]{exact, approx} {
		_, _ = exp.Run(ctx, legacy, candidate)
		_ = exp.Shutdown(ctx)
		s := exp.Stats()
		fmt.Printf("%s: match=%d mismatch=%d\n", exp.Name(), s.Count(dualrun.Match), s.Count(dualrun.Mismatch))
	}
	// Output:
	// checkout.quote.exact: match=0 mismatch=1
	// checkout.quote: match=1 mismatch=0
}

func ExampleWithComparer() {
	type Money struct {
		Cents    int64
		Currency string
	}
	// The new service spells currencies in lower case: not a difference.
	exp := dualrun.New[Money]("checkout.price", dualrun.WithComparer(func(legacy, candidate Money) bool {
		return legacy.Cents == candidate.Cents && strings.EqualFold(legacy.Currency, candidate.Currency)
	}))
	ctx := context.Background()
	legacy := func(context.Context) (Money, error) { return Money{1190, "EUR"}, nil }
	candidate := func(context.Context) (Money, error) { return Money{1190, "eur"}, nil }

	_, _ = exp.Run(ctx, legacy, candidate)
	_ = exp.Shutdown(ctx)
	fmt.Println("matches:", exp.Stats().Count(dualrun.Match))
	// Output: matches: 1
}

func ExampleWithNormalizer() {
	type Quote struct {
		TotalCents int64
		QuoteID    string // random per call
	}
	// A normalizer gets a copy and returns it changed; it never changes the
	// caller's value.
	dropID := func(q Quote) Quote {
		q.QuoteID = ""
		return q
	}
	exp := dualrun.New[Quote]("checkout.quote", dualrun.WithNormalizer(dropID))
	ctx := context.Background()
	legacy := func(context.Context) (Quote, error) { return Quote{1190, "q-7f3a"}, nil }
	candidate := func(context.Context) (Quote, error) { return Quote{1190, "q-c41d"}, nil }

	q, _ := exp.Run(ctx, legacy, candidate)
	_ = exp.Shutdown(ctx)
	fmt.Println("caller got:", q, "matches:", exp.Stats().Count(dualrun.Match))
	// Output: caller got: {1190 q-7f3a} matches: 1
}

func ExampleWithIgnore() {
	// The new engine rounds half to even: a difference of one cent is known
	// and accepted.
	exp := dualrun.New[int64]("checkout.tax", dualrun.WithIgnore(func(legacy, candidate dualrun.Result[int64]) bool {
		d := legacy.Value - candidate.Value
		return legacy.Err == nil && candidate.Err == nil && (d == 1 || d == -1)
	}))
	ctx := context.Background()
	for _, newTax := range []int64{190, 191, 200} {
		legacy := func(context.Context) (int64, error) { return 190, nil }
		candidate := func(context.Context) (int64, error) { return newTax, nil }
		_, _ = exp.Run(ctx, legacy, candidate)
	}
	_ = exp.Shutdown(ctx)
	s := exp.Stats()
	fmt.Printf("match=%d ignored=%d mismatch=%d rate=%.2f\n",
		s.Count(dualrun.Match), s.Count(dualrun.Ignored), s.Count(dualrun.Mismatch), s.MismatchRate())
	// Output: match=1 ignored=1 mismatch=1 rate=0.33
}

func ExampleWithClone() {
	type Cart struct{ SKUs []string }
	// The caller edits the cart it gets; the comparison reads the original.
	clone := func(c Cart) Cart { return Cart{SKUs: slices.Clone(c.SKUs)} }
	exp := dualrun.New[Cart]("cart.load", dualrun.WithClone(clone))
	ctx := context.Background()
	legacy := func(context.Context) (Cart, error) { return Cart{SKUs: []string{"book", "pen"}}, nil }
	candidate := func(context.Context) (Cart, error) { return Cart{SKUs: []string{"book", "pen"}}, nil }

	cart, _ := exp.Run(ctx, legacy, candidate)
	cart.SKUs[0] = "e-book" // no data race with the shadow's comparison
	_ = exp.Shutdown(ctx)
	fmt.Println(cart.SKUs, "matches:", exp.Stats().Count(dualrun.Match))
	// Output: [e-book pen] matches: 1
}

func ExampleWithErrorComparer() {
	errUnknownSKU := errors.New("unknown sku")
	legacy := func(context.Context) (int64, error) {
		return 0, fmt.Errorf("price lookup: %w", errUnknownSKU)
	}
	candidate := func(context.Context) (int64, error) {
		return 0, fmt.Errorf("catalog: sku %q: %w", "B-7", errUnknownSKU)
	}

	// Both fail for the same reason, with different messages.
	byClass := dualrun.New[int64]("checkout.price.by-class",
		dualrun.WithErrorComparer(dualrun.ErrorsMatchTargets(errUnknownSKU)))
	byMessage := dualrun.New[int64]("checkout.price.by-message",
		dualrun.WithErrorComparer(dualrun.ErrorMessagesEqual))
	ctx := context.Background()
	for _, exp := range []*dualrun.Experiment[int64]{byClass, byMessage} {
		_, _ = exp.Run(ctx, legacy, candidate)
		_ = exp.Shutdown(ctx)
		s := exp.Stats()
		fmt.Printf("%s: match=%d errors_differ=%d\n", exp.Name(), s.Count(dualrun.Match), s.ErrorsDiffer)
	}
	// Output:
	// checkout.price.by-class: match=1 errors_differ=0
	// checkout.price.by-message: match=0 errors_differ=1
}

func ExampleErrorMessagesEqual() {
	fmt.Println(dualrun.ErrorMessagesEqual(errors.New("unknown sku"), errors.New("unknown sku")))
	fmt.Println(dualrun.ErrorMessagesEqual(errors.New("unknown sku"), errors.New("sku not found")))
	// Output:
	// true
	// false
}

func ExampleErrorsMatchTargets() {
	errUnknownSKU := errors.New("unknown sku")
	equivalent := dualrun.ErrorsMatchTargets(errUnknownSKU)
	fmt.Println(equivalent(fmt.Errorf("legacy: %w", errUnknownSKU), fmt.Errorf("catalog: B-7: %w", errUnknownSKU)))
	fmt.Println(equivalent(fmt.Errorf("legacy: %w", errUnknownSKU), errors.New("catalog: timeout")))
	// Output:
	// true
	// false
}

func ExampleWithShadowContext() {
	type txKey struct{}
	// The request carries a database transaction; the shadow must not
	// write through it.
	exp := dualrun.New[int64]("checkout.tax", dualrun.WithShadowContext(func(ctx context.Context) context.Context {
		return context.WithValue(ctx, txKey{}, nil)
	}))
	var primaryTx, shadowTx any
	legacy := func(ctx context.Context) (int64, error) {
		primaryTx = ctx.Value(txKey{})
		return 190, nil
	}
	candidate := func(ctx context.Context) (int64, error) {
		shadowTx = ctx.Value(txKey{})
		return 190, nil
	}

	ctx := context.WithValue(context.Background(), txKey{}, "tx-1")
	_, _ = exp.Run(ctx, legacy, candidate)
	_ = exp.Shutdown(ctx)
	fmt.Println("primary:", primaryTx, "shadow:", shadowTx)
	// Output: primary: tx-1 shadow: <nil>
}

func ExampleWithPublisher() {
	type Quote struct{ NetCents, TaxCents int64 }
	reports := make(chan *dualrun.Report, 10)
	tickets := dualrun.NamePublisher("tickets", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		reports <- r
		return nil
	}))
	exp := dualrun.New[Quote]("checkout.quote", dualrun.WithPublisher(tickets))
	ctx := context.Background()
	legacy := func(context.Context) (Quote, error) { return Quote{1000, 190}, nil }
	candidate := func(context.Context) (Quote, error) { return Quote{1000, 200}, nil }

	_, _ = exp.Run(ctx, legacy, candidate)
	_ = exp.Shutdown(ctx) // also waits until queued reports are published
	close(reports)
	for r := range reports {
		fmt.Println(r)
	}
	// Output: checkout.quote: mismatch/value (primary legacy) paths=[.TaxCents]
}

func ExamplePublisherFunc() {
	type Quote struct{ NetCents, TaxCents int64 }
	// The name is the dualrun.exporter attribute of dualrun.reports.dropped.
	stdout := dualrun.NamePublisher("stdout", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		fmt.Printf("%s %s/%s paths=%v\n", r.Experiment, r.Outcome, r.Kind, r.Paths)
		return nil
	}))
	exp := dualrun.New[Quote]("checkout.quote", dualrun.WithPublisher(stdout))
	ctx := context.Background()
	legacy := func(context.Context) (Quote, error) { return Quote{1000, 190}, nil }
	candidate := func(context.Context) (Quote, error) { return Quote{1010, 190}, nil }

	_, _ = exp.Run(ctx, legacy, candidate)
	_ = exp.Shutdown(ctx)
	fmt.Println("published:", exp.Stats().ReportsPublished)
	// Output:
	// checkout.quote mismatch/value paths=[.NetCents]
	// published: 1
}

func ExampleWithReportKeys() {
	type Quote struct{ NetCents, TaxCents int64 }
	reports := make(chan *dualrun.Report, 10)
	pub := dualrun.NamePublisher("tickets", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		reports <- r
		return nil
	}))
	// Keys are often personal data: Reports carry them only when asked to.
	exp := dualrun.New[Quote]("checkout.quote", dualrun.WithPublisher(pub), dualrun.WithReportKeys())
	ctx := dualrun.WithKey(context.Background(), "customer-42")
	legacy := func(context.Context) (Quote, error) { return Quote{1000, 190}, nil }
	candidate := func(context.Context) (Quote, error) { return Quote{1000, 200}, nil }

	_, _ = exp.Run(ctx, legacy, candidate)
	_ = exp.Shutdown(ctx)
	fmt.Println("key:", (<-reports).Key)
	// Output: key: customer-42
}

func ExampleWithReportRate() {
	type Quote struct{ NetCents, TaxCents, ShippingCents int64 }
	pub := dualrun.NamePublisher("tickets", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error { return nil }))
	// At most one report a minute, however many mismatches there are.
	exp := dualrun.New[Quote]("checkout.quote", dualrun.WithPublisher(pub), dualrun.WithReportRate(1.0/60, 1))
	ctx := context.Background()
	legacy := func(context.Context) (Quote, error) { return Quote{1000, 190, 499}, nil }
	for _, c := range []Quote{{1001, 190, 499}, {1000, 191, 499}, {1000, 190, 500}} {
		candidate := func(context.Context) (Quote, error) { return c, nil }
		_, _ = exp.Run(ctx, legacy, candidate)
	}
	_ = exp.Shutdown(ctx)
	s := exp.Stats()
	fmt.Println("mismatches:", s.Count(dualrun.Mismatch), "published:", s.ReportsPublished, "suppressed:", s.ReportsSuppressed)
	// Output: mismatches: 3 published: 1 suppressed: 2
}

func ExampleWithReportQueue() {
	type Quote struct{ NetCents, TaxCents, ShippingCents int64 }
	busy := make(chan struct{}, 1)
	release := make(chan struct{})
	// A ticketing API that hangs: the first report stays in Publish.
	tickets := dualrun.NamePublisher("tickets", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
		select {
		case busy <- struct{}{}:
		default:
		}
		<-release
		return nil
	}))
	// A fast audit log. Each report is offered to the ticketing queue
	// first, then to the audit log: once audited, a report has been queued
	// or dropped by the ticketing publisher.
	audited := make(chan struct{}, 10)
	audit := dualrun.NamePublisher("audit", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
		audited <- struct{}{}
		return nil
	}))
	// Each publisher gets a queue of one report.
	exp := dualrun.New[Quote]("checkout.quote",
		dualrun.WithPublisher(tickets), dualrun.WithPublisher(audit), dualrun.WithReportQueue(1))
	ctx := context.Background()
	legacy := func(context.Context) (Quote, error) { return Quote{1000, 190, 499}, nil }
	mismatches := []Quote{{1001, 190, 499}, {1000, 191, 499}, {1000, 190, 500}}
	for i, c := range mismatches {
		candidate := func(context.Context) (Quote, error) { return c, nil }
		_, _ = exp.Run(ctx, legacy, candidate) // never waits for a publisher
		if i == 0 {
			<-busy // the ticketing API holds the first report
		}
		<-audited
	}
	// The ticketing queue took the second report and dropped the third.
	close(release)
	_ = exp.Shutdown(ctx)
	s := exp.Stats()
	fmt.Println("mismatches:", s.Count(dualrun.Mismatch), "dropped:", s.ReportsDropped)
	// Output: mismatches: 3 dropped: 1
}

func ExampleWithDiffLimit() {
	reports := make(chan *dualrun.Report, 10)
	pub := dualrun.NamePublisher("tickets", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		reports <- r
		return nil
	}))
	exp := dualrun.New[[]int64]("cart.prices", dualrun.WithPublisher(pub), dualrun.WithDiffLimit(64))
	ctx := context.Background()
	legacy := func(context.Context) ([]int64, error) { return []int64{100, 250, 999, 1500, 4200}, nil }
	// Every price is one cent higher: a diff far longer than 64 bytes.
	candidate := func(context.Context) ([]int64, error) { return []int64{101, 251, 1000, 1501, 4201}, nil }

	_, _ = exp.Run(ctx, legacy, candidate)
	_ = exp.Shutdown(ctx)
	r := <-reports
	fmt.Println("diff within 64 bytes:", len(r.Diff) <= 64, "paths:", r.Paths)
	// Output: diff within 64 bytes: true paths: [[*]]
}

func ExampleWithMaxFields() {
	type Quote struct{ NetCents, TaxCents, ShippingCents int64 }
	// Track two differing fields; more fold into "other".
	exp := dualrun.New[Quote]("checkout.quote", dualrun.WithMaxFields(2))
	ctx := context.Background()
	legacy := func(context.Context) (Quote, error) { return Quote{1000, 190, 499}, nil }
	candidate := func(context.Context) (Quote, error) { return Quote{1010, 192, 599}, nil }

	_, _ = exp.Run(ctx, legacy, candidate)
	_ = exp.Shutdown(ctx)
	fmt.Println(exp.Stats().Fields)
	// Output: [{.NetCents 1} {.ShippingCents 1} {_OTHER 1}]
}

func ExampleDisableShadows() {
	exp := dualrun.New[int64]("checkout.tax")
	ctx := context.Background()
	legacy := func(context.Context) (int64, error) { return 190, nil }
	candidate := func(context.Context) (int64, error) { return 190, nil }

	// An incident: turn every shadow of the process off at once. Calls go
	// on, primary only.
	dualrun.DisableShadows()
	_, _ = exp.Run(ctx, legacy, candidate)
	fmt.Println("shadows enabled:", dualrun.ShadowsEnabled())

	dualrun.EnableShadows()
	_, _ = exp.Run(ctx, legacy, candidate)
	fmt.Println("shadows enabled:", dualrun.ShadowsEnabled())

	_ = exp.Shutdown(ctx)
	s := exp.Stats()
	fmt.Println("calls:", s.Calls, "compared:", s.Compared)
	// Output:
	// shadows enabled: false
	// shadows enabled: true
	// calls: 2 compared: 1
}

func ExampleSetProcessMaxInFlight() {
	// At most one shadow at a time in the whole process.
	dualrun.SetProcessMaxInFlight(1)
	defer dualrun.SetProcessMaxInFlight(dualrun.DefaultProcessMaxInFlight)

	tax := dualrun.New[int64]("checkout.tax")
	shipping := dualrun.New[int64]("checkout.shipping")
	ctx := context.Background()
	release := make(chan struct{})
	slowTax := func(context.Context) (int64, error) {
		<-release
		return 190, nil
	}
	legacyTax := func(context.Context) (int64, error) { return 190, nil }
	shippingCost := func(context.Context) (int64, error) { return 499, nil }

	_, _ = tax.Run(ctx, legacyTax, slowTax)              // takes the process's only slot
	_, _ = shipping.Run(ctx, shippingCost, shippingCost) // shed, though shipping has slots of its own
	fmt.Println("in flight:", dualrun.ProcessInFlight())
	close(release)

	_ = tax.Shutdown(ctx)
	_ = shipping.Shutdown(ctx)
	fmt.Println("tax compared:", tax.Stats().Compared, "shipping shed:", shipping.Stats().Count(dualrun.Shed))
	// Output:
	// in flight: 1
	// tax compared: 1 shipping shed: 1
}

func ExampleWithReportDedup() {
	type Quote struct{ NetCents, TaxCents int64 }
	pub := dualrun.NamePublisher("log", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error { return nil }))
	// One report per set of differing fields per hour; no rate limit.
	exp := dualrun.New[Quote]("checkout.quote", dualrun.WithPublisher(pub),
		dualrun.WithReportDedup(time.Hour), dualrun.WithReportRate(0, 1))
	ctx := context.Background()
	legacy := func(context.Context) (Quote, error) { return Quote{1000, 190}, nil }
	// Three tax differences and one net difference: two sets of fields.
	for _, c := range []Quote{{1000, 191}, {1000, 192}, {1001, 190}, {1000, 193}} {
		_, _ = exp.Run(ctx, legacy, func(context.Context) (Quote, error) { return c, nil })
	}
	_ = exp.Shutdown(ctx)
	s := exp.Stats()
	fmt.Println("mismatches:", s.Count(dualrun.Mismatch), "published:", s.ReportsPublished, "suppressed:", s.ReportsSuppressed)
	// Output: mismatches: 4 published: 2 suppressed: 2
}

func ExampleAllStats() {
	exp := dualrun.New[int64]("inventory.count")
	ctx := context.Background()
	count := func(context.Context) (int64, error) { return 7, nil }
	_, _ = exp.Run(ctx, count, count)
	_ = exp.Shutdown(ctx)
	for _, s := range dualrun.AllStats() {
		if s.Name == "inventory.count" {
			fmt.Println(s.Name, "calls:", s.Calls, "matches:", s.Count(dualrun.Match))
		}
	}
	// Output: inventory.count calls: 1 matches: 1
}

func ExampleStatsOf() {
	ctx := context.Background()
	count := func(context.Context) (int64, error) { return 7, nil }
	_, _ = dualrun.Run(ctx, count, count, dualrun.WithName("warehouse.count"))
	s, ok := dualrun.StatsOf("warehouse.count")
	fmt.Println(ok, "calls:", s.Calls)
	// Output: true calls: 1
}

func ExampleAsShadow() {
	// A test running the candidate by hand, outside an experiment, can make
	// code guarded by IsShadow take its shadow path.
	sendEmail := func(ctx context.Context) string {
		if dualrun.IsShadow(ctx) {
			return "skipped (shadow)"
		}
		return "sent"
	}
	ctx := context.Background()
	fmt.Println(sendEmail(ctx))
	fmt.Println(sendEmail(dualrun.AsShadow(ctx)))
	// Output:
	// sent
	// skipped (shadow)
}
