package dualrungrpc_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrungrpc"
	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
	"github.com/dualrun/dualrun/rollout"
)

// serveShadowed serves legacy on 127.0.0.1 with cand registered as its
// candidate, and returns a connection to it.
func serveShadowed(t testing.TB, legacy, cand testpb.CatalogServer, opts ...dualrungrpc.Option) (*grpc.ClientConn, *dualrungrpc.Server) {
	t.Helper()
	shadow := dualrungrpc.NewServer(opts...)
	shadow.RegisterCandidate(&testpb.Catalog_ServiceDesc, cand)
	addr, _ := serve(t, legacy,
		grpc.ChainUnaryInterceptor(shadow.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(shadow.StreamServerInterceptor()))
	return dial(t, addr), shadow
}

// The client of a shadowed server gets exactly what the primary
// implementation answers, alone: response, status with details, header
// and trailer. The other implementation's headers and trailers go nowhere.
func TestServerClientGetsPrimaryExactly(t *testing.T) {
	other := order()
	other.TotalCents = 1
	tests := []struct {
		name          string
		reason        string
		legacy, cand  *catalog
		policy        rollout.Static
		wantCandidate bool
		outcome       dualrun.Outcome
	}{
		{
			name:    "legacy primary, values differ",
			reason:  "the candidate's response, header and trailer never reach the client",
			legacy:  &catalog{getOrder: fixed("legacy", order(), nil)},
			cand:    &catalog{getOrder: fixed("candidate", other, nil)},
			policy:  rollout.Static{Shadow: rollout.All},
			outcome: dualrun.Mismatch,
		},
		{
			name:    "legacy errs with details",
			reason:  "the primary's status and details go to the client untouched",
			legacy:  &catalog{getOrder: fixed("legacy", nil, detailedError(t))},
			cand:    &catalog{getOrder: fixed("candidate", order(), nil)},
			policy:  rollout.Static{Shadow: rollout.All},
			outcome: dualrun.Mismatch,
		},
		{
			name:    "both err alike",
			reason:  "equal status codes are equivalent errors",
			legacy:  &catalog{getOrder: fixed("legacy", nil, status.Error(codes.NotFound, "no order"))},
			cand:    &catalog{getOrder: fixed("candidate", nil, status.Error(codes.NotFound, "order not found"))},
			policy:  rollout.Static{Shadow: rollout.All},
			outcome: dualrun.Match,
		},
		{
			name:          "candidate primary",
			reason:        "when the flag makes the candidate primary, its answer is the client's, and legacy's headers go nowhere",
			legacy:        &catalog{getOrder: fixed("legacy", order(), nil)},
			cand:          &catalog{getOrder: fixed("candidate", other, nil)},
			policy:        rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All},
			wantCandidate: true,
			outcome:       dualrun.Mismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, shadow := serveShadowed(t, tt.legacy, tt.cand,
				dualrungrpc.WithExperimentOptions(dualrun.WithRollout(tt.policy)))
			primary := testpb.CatalogServer(tt.legacy)
			if tt.wantCandidate {
				primary = tt.cand
			}
			plainAddr, _ := serve(t, primary)
			req := &testpb.GetOrderRequest{Id: "o-3"}
			want := getOrder(t.Context(), dial(t, plainAddr), req)
			got := getOrder(t.Context(), conn, req)
			sameResult(t, got, want)

			shutdown(t, shadow)
			s := statsOf(t, shadow.Stats(), getOrderMethod).Experiment
			if s.Count(tt.outcome) != 1 {
				t.Errorf("outcomes %v, want one %v (%s)", s.Outcomes, tt.outcome, tt.reason)
			}
		})
	}
}

// A candidate implementation that is slow, hangs, fails or panics never
// delays or changes the client's result; each is let go only after the
// client got its answer.
func TestServerCandidateNeverDelaysOrChangesTheClient(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		run     func(ctx context.Context, release <-chan struct{}) (*testpb.Order, error)
		outcome dualrun.Outcome
	}{
		{
			name:   "slow",
			reason: "answers once released",
			run: func(_ context.Context, release <-chan struct{}) (*testpb.Order, error) {
				<-release
				return order(), nil
			},
			outcome: dualrun.Match,
		},
		{
			name:   "hanging",
			reason: "ignores its context until released: its deadline passed long before",
			run: func(_ context.Context, release <-chan struct{}) (*testpb.Order, error) {
				<-release
				return order(), nil
			},
			outcome: dualrun.Timeout,
		},
		{
			name:   "failing",
			reason: "fails once released",
			run: func(_ context.Context, release <-chan struct{}) (*testpb.Order, error) {
				<-release
				return nil, status.Error(codes.Unavailable, "down")
			},
			outcome: dualrun.Mismatch,
		},
		{
			name:   "panicking",
			reason: "panics once released: recovered, outcome panic",
			run: func(_ context.Context, release <-chan struct{}) (*testpb.Order, error) {
				<-release
				panic("candidate bug")
			},
			outcome: dualrun.Panic,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			started := make(chan struct{}, 1)
			var finished atomic.Bool
			cand := &catalog{getOrder: func(ctx context.Context, _ *testpb.GetOrderRequest) (*testpb.Order, error) {
				started <- struct{}{}
				defer finished.Store(true)
				return tt.run(ctx, release)
			}}
			timeout := time.Minute
			if tt.outcome == dualrun.Timeout {
				timeout = 50 * time.Millisecond
			}
			reported := make(outcomes, 1)
			conn, shadow := serveShadowed(t, &catalog{getOrder: fixed("legacy", order(), nil)}, cand,
				dualrungrpc.WithExperimentOptions(dualrun.WithShadowTimeout(timeout), dualrun.WithPublisher(reported)))
			plainAddr, _ := serve(t, &catalog{getOrder: fixed("legacy", order(), nil)})

			want := getOrder(t.Context(), dial(t, plainAddr), &testpb.GetOrderRequest{Id: "o-1"})
			got := getOrder(t.Context(), conn, &testpb.GetOrderRequest{Id: "o-1"})
			sameResult(t, got, want)
			<-started
			if finished.Load() {
				t.Fatalf("the candidate finished before the client got its answer")
			}
			if tt.outcome == dualrun.Timeout {
				// The shadow's deadline passes while it ignores it: the
				// timeout is recorded (and reported) at the deadline.
				if o := <-reported; o != dualrun.Timeout {
					t.Fatalf("reported %v, want timeout", o)
				}
			}
			close(release)
			shutdown(t, shadow)
			s := statsOf(t, shadow.Stats(), getOrderMethod).Experiment
			if s.Count(tt.outcome) != 1 {
				t.Fatalf("outcomes %v, want one %v (%s)", s.Outcomes, tt.outcome, tt.reason)
			}
		})
	}
}

// outcomes is a publisher that passes on the outcome of every Report.
type outcomes chan dualrun.Outcome

func (o outcomes) Publish(_ context.Context, r *dualrun.Report) error {
	o <- r.Outcome
	return nil
}

// The shadow implementation sees the incoming metadata, IsShadow, a copy of
// the request the primary may change, and a deadline bounded by the
// client's.
func TestServerShadowContext(t *testing.T) {
	type seen struct {
		md       metadata.MD
		shadow   bool
		id       string
		deadline time.Time
	}
	got := make(chan seen, 1)
	legacy := &catalog{getOrder: func(ctx context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
		if dualrun.IsShadow(ctx) {
			t.Error("legacy, the primary, runs with IsShadow true")
		}
		out, err := fixed("legacy", order(), nil)(ctx, req)
		req.Id = "changed by legacy" // a primary that reuses its request
		return out, err
	}}
	started := make(chan struct{})
	cand := &catalog{getOrder: func(ctx context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
		<-started
		md, _ := metadata.FromIncomingContext(ctx)
		d, _ := ctx.Deadline()
		got <- seen{md: md, shadow: dualrun.IsShadow(ctx), id: req.GetId(), deadline: d}
		return fixed("candidate", order(), nil)(ctx, req)
	}}
	conn, shadow := serveShadowed(t, legacy, cand, dualrungrpc.WithExperimentOptions(dualrun.WithShadowTimeout(time.Hour)))

	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "x-request-id", "req-9"), 30*time.Second)
	defer cancel()
	callerDeadline, _ := ctx.Deadline()
	if r := getOrder(ctx, conn, &testpb.GetOrderRequest{Id: "o-1"}); r.status.Code() != codes.OK {
		t.Fatal(r.status.Err())
	}
	close(started) // legacy has changed its request by now
	s := <-got
	shutdown(t, shadow)
	if !s.shadow {
		t.Error("the candidate, the shadow, runs with IsShadow false")
	}
	if !slices.Equal(s.md.Get("x-request-id"), []string{"req-9"}) {
		t.Errorf("candidate saw metadata %v, want x-request-id req-9", s.md)
	}
	if s.id != "o-1" {
		t.Errorf("candidate got request id %q, want the request as received, o-1", s.id)
	}
	if s.deadline.IsZero() || s.deadline.After(callerDeadline.Add(5*time.Second)) {
		t.Errorf("candidate deadline in %v, want at most the client's, in %v (the shadow timeout is an hour)",
			time.Until(s.deadline), time.Until(callerDeadline))
	}
}

// Streaming methods run on the primary implementation, uncompared.
func TestServerStreamsPassThrough(t *testing.T) {
	list := func(side string) func(*testpb.ListOrdersRequest, grpc.ServerStreamingServer[testpb.Order]) error {
		return func(_ *testpb.ListOrdersRequest, s grpc.ServerStreamingServer[testpb.Order]) error {
			return s.Send(&testpb.Order{Id: side})
		}
	}
	tests := []struct {
		name   string
		reason string
		policy rollout.Static
		want   string
	}{
		{name: "legacy primary", reason: "the served implementation streams", policy: rollout.Static{Shadow: rollout.All}, want: "legacy"},
		{name: "candidate primary", reason: "the flag moves streams to the candidate", policy: rollout.Static{CandidatePrimary: rollout.All}, want: "candidate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, shadow := serveShadowed(t, &catalog{listOrders: list("legacy")}, &catalog{listOrders: list("candidate")},
				dualrungrpc.WithExperimentOptions(dualrun.WithRollout(tt.policy)))
			stream, err := testpb.NewCatalogClient(conn).ListOrders(t.Context(), &testpb.ListOrdersRequest{})
			if err != nil {
				t.Fatal(err)
			}
			o, err := stream.Recv()
			if err != nil || o.GetId() != tt.want {
				t.Fatalf("got %v, %v; want %s (%s)", o, err, tt.want, tt.reason)
			}
			if _, err := stream.Recv(); !errors.Is(err, errEOF) {
				t.Fatalf("end of stream: %v", err)
			}
			shutdown(t, shadow)
			s := statsOf(t, shadow.Stats(), "/dualrun.test.catalog.v1.Catalog/ListOrders")
			if !s.Stream || s.Uncompared != 1 || s.Experiment.Calls != 1 || s.Experiment.Compared != 0 {
				t.Errorf("stats %+v, want one uncompared stream", s)
			}
		})
	}
}

// Methods without a candidate, and methods beyond the cap, are served as
// without the interceptor.
func TestServerMaxMethods(t *testing.T) {
	conn, shadow := serveShadowed(t, &catalog{getOrder: fixed("legacy", order(), nil)}, &catalog{getOrder: fixed("candidate", order(), nil)},
		dualrungrpc.WithMaxMethods(1))
	client := testpb.NewCatalogClient(conn)
	if _, err := client.GetOrder(t.Context(), &testpb.GetOrderRequest{Id: "o-1"}); err != nil {
		t.Fatal(err)
	}
	if r, err := client.Echo(t.Context(), &testpb.EchoRequest{Text: "hi"}); err != nil || r.GetText() != "hi" {
		t.Fatal(r, err)
	}
	shutdown(t, shadow)
	all := shadow.Stats()
	if len(all) != 2 || all[0].Method != getOrderMethod || all[0].Experiment.Compared != 1 ||
		all[1].Method != "_OTHER" || all[1].Uncompared != 1 {
		t.Fatalf("stats %+v, want GetOrder compared once and one _OTHER call", all)
	}
}

// RegisterCandidate rejects programmer errors at once.
func TestRegisterCandidatePanics(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		call   func(*dualrungrpc.Server)
		want   string
	}{
		{name: "nil desc", reason: "nothing to register", call: func(s *dualrungrpc.Server) { s.RegisterCandidate(nil, &catalog{}) }, want: "nil"},
		{name: "wrong implementation", reason: "impl must implement the service", call: func(s *dualrungrpc.Server) { s.RegisterCandidate(&testpb.Catalog_ServiceDesc, struct{}{}) }, want: "does not implement"},
		{name: "nil implementation", reason: "impl must implement the service", call: func(s *dualrungrpc.Server) { s.RegisterCandidate(&testpb.Catalog_ServiceDesc, nil) }, want: "does not implement"},
		{name: "twice", reason: "one candidate per service", call: func(s *dualrungrpc.Server) {
			s.RegisterCandidate(&testpb.Catalog_ServiceDesc, &catalog{})
			s.RegisterCandidate(&testpb.Catalog_ServiceDesc, &catalog{})
		}, want: "registered already"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dualrungrpc.NewServer()
			defer s.Unregister()
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tt.want) {
					t.Fatalf("panic %v, want one saying %q (%s)", r, tt.want, tt.reason)
				}
			}()
			tt.call(s)
		})
	}
}
