// Package exptest holds what the exporters' tests share: a fully populated
// Report, and a real experiment that publishes one.
package exptest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
	"go.opentelemetry.io/otel/trace"
)

// Secret is a value of the sample Report (in its diff, its errors and its
// key) that must not leave the process unless values or keys are asked for.
const Secret = "4111-1111-1111-1111"

// Sample returns a Report like one dualrun builds for a mismatch in which
// the candidate erred, with every field set: values (diff, error texts)
// that contain [Secret], the key, both span contexts.
func Sample(experiment string) *dualrun.Report {
	traceID := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	caller := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled,
	})
	shadow := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: trace.SpanID{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8}, TraceFlags: trace.FlagsSampled,
	})
	return &dualrun.Report{
		ID:                 "0123456789abcdef0123456789abcdef",
		Experiment:         experiment,
		Time:               time.Date(2026, 11, 30, 12, 0, 0, 5, time.UTC),
		Outcome:            dualrun.Mismatch,
		Kind:               dualrun.ValueMismatch,
		Primary:            dualrun.Legacy,
		LegacyDuration:     1500 * time.Microsecond,
		CandidateDuration:  2 * time.Millisecond,
		CandidateErr:       errors.New("card " + Secret + " declined"),
		CandidateErrorType: "*errors.errorString",
		Paths:              []string{".Card", ".Items[*].Price"},
		Diff:               "  Order{\n-\tCard: \"" + Secret + "\",\n+\tCard: \"\",\n  }\n",
		CallerSpan:         caller,
		ShadowSpan:         shadow,
		Key:                "customer-" + Secret,
	}
}

// Order is the value the real experiment of [Mismatch] returns.
type Order struct {
	ID    string
	Card  string
	Total int
}

// Mismatch runs one call of a new experiment named name whose sides return
// different Orders (the legacy one holds [Secret]), with opts, waits until
// its Report is published, and unregisters the experiment. It returns the
// experiment's Stats before unregistering.
func Mismatch(tb testing.TB, name string, opts ...dualrun.Option) dualrun.Stats {
	tb.Helper()
	exp := dualrun.New[Order](name, opts...)
	ctx := context.Background()
	_, _ = exp.Run(ctx,
		func(context.Context) (Order, error) { return Order{ID: "o-1", Card: Secret, Total: 100}, nil },
		func(context.Context) (Order, error) { return Order{ID: "o-1", Total: 120}, nil })
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := exp.Shutdown(sctx); err != nil {
		tb.Fatalf("Shutdown: %v", err)
	}
	st := exp.Stats()
	exp.Unregister()
	return st
}
