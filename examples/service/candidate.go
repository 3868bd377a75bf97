package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/dualrun/dualrun/examples/service/shipping"
)

// version is a version of the candidate quote code that the service can
// switch to while it runs (POST /admin/candidate), so that a fleet
// end-to-end test can break a candidate that was ramped up and watch the
// ramp controller roll it back.
type version int32

const (
	// versionRewrite is package shipping's rewrite (the default): it
	// disagrees with legacy on a known subset of inputs, panics on some
	// and is slow on others (see package shipping).
	versionRewrite version = iota
	// versionGood is the rewrite with its bugs fixed: the same answer as
	// legacy on every input (including legacy's errors), after
	// goodLatency. Ramping it passes a guard on every signal.
	versionGood
	// versionBad differs from legacy on every call, after goodLatency, and
	// never fails: of the guard's signals only the mismatch rate breaks
	// (it goes to 100%); the candidate's failure rate and latency stay
	// those of versionGood.
	versionBad
)

// goodLatency is the latency of versionGood and versionBad on every input:
// close to legacy's (shipping.LegacyLatencyTime), so that a p99 ratio
// guard passes.
const goodLatency = shipping.CandidateLatencyTime

var versionNames = [...]string{versionRewrite: "rewrite", versionGood: "good", versionBad: "bad"}

func (v version) String() string {
	if v >= 0 && int(v) < len(versionNames) {
		return versionNames[v]
	}
	return fmt.Sprintf("version(%d)", int32(v))
}

// maxVersionEcho bounds the bytes of a bad version name that an error
// message repeats.
const maxVersionEcho = 24

// parseVersion parses a version name: rewrite, good or bad.
func parseVersion(s string) (version, error) {
	for v, name := range versionNames {
		if s == name {
			return version(v), nil
		}
	}
	// The value comes from outside (a query string) and may hold anything:
	// cut, then quoted.
	cut := ""
	if len(s) > maxVersionEcho {
		s, cut = s[:maxVersionEcho], "..."
	}
	return 0, fmt.Errorf("unknown candidate version %q%s: want rewrite, good or bad", s, cut)
}

// candidateSwitch holds the candidate version in force. Safe for
// concurrent use; the zero value is versionRewrite.
type candidateSwitch struct {
	v atomic.Int32
}

func (c *candidateSwitch) load() version          { return version(c.v.Load()) }
func (c *candidateSwitch) swap(v version) version { return version(c.v.Swap(int32(v))) }

// quote is the candidate side of a call: the version in force when the call
// starts.
func (c *candidateSwitch) quote(ctx context.Context, req shipping.Request) (shipping.Quote, error) {
	switch c.load() {
	case versionGood:
		if !sleep(ctx, goodLatency) {
			return shipping.Quote{}, fmt.Errorf("candidate: %w", context.Cause(ctx))
		}
		return shipping.LegacyQuote(req)
	case versionBad:
		if !sleep(ctx, goodLatency) {
			return shipping.Quote{}, fmt.Errorf("candidate: %w", context.Cause(ctx))
		}
		return badQuote(req), nil
	default:
		return shipping.Candidate(ctx, req)
	}
}

// badQuote is a quote that differs from legacy's for every request: one
// cent more than legacy's quote, or a quote where legacy fails.
func badQuote(req shipping.Request) shipping.Quote {
	q, err := shipping.LegacyQuote(req)
	if err != nil {
		return shipping.Quote{CostCents: 1, Days: 1, Carrier: "bad"}
	}
	q.CostCents++
	return q
}
