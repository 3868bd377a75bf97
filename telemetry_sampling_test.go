package dualrun_test

import (
	"context"
	"testing"
	"testing/synctest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dualrun/dualrun"
)

// These tests pin how shadow spans follow head sampling: by default a
// shadow span is a child of the caller's span, so a sampled request keeps
// its mismatch trace and an unsampled one exports nothing.

// sampledRequests is enough requests that, at a 10% ratio, some are sampled
// and some are not with overwhelming probability (0.9^400 < 1e-18).
const sampledRequests = 400

// samplingRun runs sampledRequests requests, each in a root span under a
// ParentBased(TraceIDRatioBased(0.1)) sampler, each a value mismatch. It
// returns the requests' span contexts and the ended spans. It runs in a
// synctest bubble, so that each shadow is done before the next request
// (none is shed).
func samplingRun(t *testing.T, opts ...dualrun.Option) (name string, requests []trace.SpanContext, ended []sdktrace.ReadOnlySpan) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		name, requests, ended = samplingRunBubble(t, opts...)
	})
	return name, requests, ended
}

func samplingRunBubble(t *testing.T, opts ...dualrun.Option) (name string, requests []trace.SpanContext, ended []sdktrace.ReadOnlySpan) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))),
		sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() {
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Errorf("TracerProvider.Shutdown: %v", err)
		}
	})
	name = expName(t)
	exp := dualrun.New[wide](name, append([]dualrun.Option{
		dualrun.WithTracerProvider(tp),
		dualrun.WithRollout(alwaysCompare(dualrun.Legacy)),
	}, opts...)...)
	tracer := tp.Tracer("service")
	for range sampledRequests {
		ctx, req := tracer.Start(context.Background(), "GET /price")
		if _, err := exp.Run(ctx, ret(wide{}, nil), ret(wide{A: 1}, nil)); err != nil {
			t.Fatal(err)
		}
		// The request ends at once; its shadow may end later, as a child
		// may.
		req.End()
		requests = append(requests, req.SpanContext())
		synctest.Wait()
	}
	waitShutdown(t, exp)
	if s := exp.Stats(); s.Count(dualrun.Mismatch) != sampledRequests {
		t.Fatalf("Stats: %d mismatches, want %d: every request compared", s.Count(dualrun.Mismatch), sampledRequests)
	}
	return name, requests, rec.Ended()
}

func TestShadowSpansFollowCallerSampling(t *testing.T) {
	name, requests, ended := samplingRun(t)
	shadows := make(map[trace.TraceID]sdktrace.ReadOnlySpan)
	for _, s := range ended {
		if s.Name() != "dualrun.shadow "+name {
			continue
		}
		if _, dup := shadows[s.SpanContext().TraceID()]; dup {
			t.Fatalf("two shadow spans in trace %s", s.SpanContext().TraceID())
		}
		shadows[s.SpanContext().TraceID()] = s
	}
	sampled := 0
	for _, req := range requests {
		s, exported := shadows[req.TraceID()]
		if !req.IsSampled() {
			if exported {
				t.Errorf("request %s was not sampled, but its shadow span was exported", req.TraceID())
			}
			continue
		}
		sampled++
		if !exported {
			t.Errorf("request %s was sampled, its mismatch's shadow span is missing", req.TraceID())
			continue
		}
		if !s.Parent().Equal(req) {
			t.Errorf("shadow span parent = %v, want the request span %v", s.Parent(), req)
		}
		var mismatches int
		for _, e := range s.Events() {
			if e.Name == dualrun.SpanEventMismatch {
				mismatches++
			}
		}
		if mismatches != 1 {
			t.Errorf("shadow span of %s has %d mismatch events, want 1", req.TraceID(), mismatches)
		}
	}
	if sampled == 0 || sampled == len(requests) {
		t.Fatalf("%d of %d requests sampled: the test needs both kinds", sampled, len(requests))
	}
	if len(shadows) != sampled {
		t.Errorf("exported %d shadow spans for %d sampled requests", len(shadows), sampled)
	}
	t.Logf("%d of %d requests sampled; every one kept its shadow span, no other was exported", sampled, len(requests))
}

// TestLinkedShadowSpansSampleOnTheirOwn shows what the default avoids: in
// the linked mode a shadow span is a new root, sampled on its own, so most
// sampled requests lose their mismatch's shadow span.
func TestLinkedShadowSpansSampleOnTheirOwn(t *testing.T) {
	name, requests, ended := samplingRun(t, dualrun.WithLinkedShadowSpans())
	byCaller := make(map[trace.SpanID]bool)
	shadows := 0
	for _, s := range ended {
		if s.Name() != "dualrun.shadow "+name {
			continue
		}
		shadows++
		if s.Parent().IsValid() || len(s.Links()) != 1 {
			t.Fatalf("linked shadow span: parent %v, %d links; want a root with one link", s.Parent(), len(s.Links()))
		}
		byCaller[s.Links()[0].SpanContext.SpanID()] = true
	}
	sampled, kept := 0, 0
	for _, req := range requests {
		if req.IsSampled() {
			sampled++
			if byCaller[req.SpanID()] {
				kept++
			}
		}
	}
	// At a 10% ratio on each side about 1% of requests keep both; that
	// all sampled requests keep theirs is as likely as 0.1^sampled.
	if sampled < 10 || kept >= sampled {
		t.Errorf("linked mode: %d sampled requests kept %d shadow spans; want some lost (sampled independently)", sampled, kept)
	}
	t.Logf("linked mode: %d shadow spans exported; %d of %d sampled requests kept theirs", shadows, kept, sampled)
}

// TestComparedEventDroppedAfterCallerEnded: the dualrun.compared event is
// added to the caller's span when the shadow span starts; if the caller's
// span has ended by then (here: a sequential shadow, which starts after the
// primary, and a primary that ends the span), OpenTelemetry drops it. The
// shadow span is still exported, as a child of the ended span.
func TestComparedEventDroppedAfterCallerEnded(t *testing.T) {
	h := newTelHarness(t)
	name := expName(t)
	exp := dualrun.New[int](name, h.with(dualrun.WithRollout(alwaysCompare(dualrun.Legacy)), dualrun.WithSequentialShadow())...)
	ctx, caller := h.tp.Tracer("service").Start(context.Background(), "POST /checkout")
	primary := func(context.Context) (int, error) {
		caller.End()
		return 1, nil
	}
	if _, err := exp.Run(ctx, primary, ret(1, nil)); err != nil {
		t.Fatal(err)
	}
	waitShutdown(t, exp)
	var callerSpan sdktrace.ReadOnlySpan
	for _, s := range h.rec.Ended() {
		if s.Name() == "POST /checkout" {
			callerSpan = s
		}
	}
	if callerSpan == nil {
		t.Fatal("caller span not recorded")
	}
	for _, e := range callerSpan.Events() {
		if e.Name == dualrun.SpanEventCompared {
			t.Errorf("caller span has a %s event added after it ended", e.Name)
		}
	}
	spans := h.shadowSpans(name)
	if len(spans) != 1 || !spans[0].Parent().Equal(caller.SpanContext()) {
		t.Fatalf("shadow spans %d; want 1, a child of the ended caller span", len(spans))
	}
}
