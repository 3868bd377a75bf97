package dualrun_test

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dualrun/dualrun"
)

// invoiceTotal is one row of a nightly billing job's output.
type invoiceTotal struct {
	Account string
	Cents   int64
}

// A billing job was rewritten for another engine; both versions' outputs,
// sorted by account, are compared record by record in constant memory.
func ExampleCompareKeyed() {
	legacy := []invoiceTotal{{"acme", 1200}, {"globex", 560}, {"initech", 90}, {"umbrella", 4000}}
	candidate := []invoiceTotal{{"acme", 1200}, {"globex", 565}, {"hooli", 10}, {"umbrella", 4000}}

	sum, err := dualrun.CompareKeyed(context.Background(), "billing.nightly",
		slices.Values(legacy), slices.Values(candidate),
		func(r invoiceTotal) string { return r.Account },
		dualrun.WithSortedInputs())
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(sum.Same, "same,", sum.Changed, "changed,", sum.Missing, "missing,", sum.Extra, "extra")
	fmt.Println("agree:", sum.Agree())

	// The comparisons are the experiment's, as for Run: outcomes, metrics,
	// Reports.
	s, _ := dualrun.StatsOf("billing.nightly")
	fmt.Println("match", s.Count(dualrun.Match), "mismatch", s.Count(dualrun.Mismatch),
		"of which one side absent:", s.ErrorMismatches)
	fmt.Println("differing fields:", s.Fields)
	dualrun.Unregister("billing.nightly")
	// Output:
	// 2 same, 1 changed, 1 missing, 1 extra
	// agree: false
	// match 2 mismatch 3 of which one side absent: 2
	// differing fields: [{.Cents 1}]
}

// With an experiment of its own, the job keeps its Reports: here they name
// the record's key (WithReportKeys), missing records having the candidate
// side absent and extra ones the legacy side. Unsorted inputs are
// hash-joined in memory.
func ExampleCompareKeyedIn() {
	exp := dualrun.New[invoiceTotal]("billing.nightly.reports",
		dualrun.WithReportKeys(), dualrun.WithReportDedup(0),
		dualrun.WithPublisher(dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
			var absent dualrun.AbsentError
			switch {
			case errors.As(r.CandidateErr, &absent):
				fmt.Println(r.Key, "missing")
			case errors.As(r.LegacyErr, &absent):
				fmt.Println(r.Key, "extra")
			default:
				fmt.Println(r.Key, "changed:", r.Paths)
			}
			return nil
		})))
	legacy := []invoiceTotal{{"umbrella", 4000}, {"acme", 1200}, {"initech", 90}}
	candidate := []invoiceTotal{{"acme", 1250}, {"umbrella", 4000}, {"hooli", 10}}

	sum, err := dualrun.CompareKeyedIn(context.Background(), exp, slices.Values(legacy), slices.Values(candidate),
		func(r invoiceTotal) string { return r.Account })
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	// Shutdown waits for the Reports to be published.
	if err := exp.Shutdown(context.Background()); err != nil {
		fmt.Println("error:", err)
	}
	exp.Unregister()
	fmt.Println(sum)
	// Output:
	// acme changed: [.Cents]
	// hooli extra
	// initech missing
	// legacy 3 records, candidate 3; matched 2: same 1, changed 1 (mismatch 1, ignored 0, error 0); missing 1, extra 1; duplicates 0/0, invalid keys 0/0 (legacy/candidate)
}

// An ignore rule accepts known differences, absent records included: a
// rewrite that drops empty accounts on purpose.
func ExampleAbsentError() {
	legacy := []invoiceTotal{{"acme", 1200}, {"dormant", 0}}
	candidate := []invoiceTotal{{"acme", 1200}}

	sum, err := dualrun.CompareKeyed(context.Background(), "billing.nightly.ignore",
		slices.Values(legacy), slices.Values(candidate),
		func(r invoiceTotal) string { return r.Account },
		dualrun.WithIgnore(func(l, c dualrun.Result[invoiceTotal]) bool {
			return errors.Is(c.Err, dualrun.ErrRecordAbsent) && l.Value.Cents == 0
		}))
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("missing", sum.Missing, "ignored", sum.Outcomes[dualrun.Ignored], "agree:", sum.Agree())
	dualrun.Unregister("billing.nightly.ignore")
	// Output:
	// missing 1 ignored 1 agree: true
}
