package dualrungrpc_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrungrpc"
	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
	"github.com/dualrun/dualrun/rollout"
)

// detailedError is a status with details, the way services report
// validation failures.
func detailedError(t testing.TB) error {
	t.Helper()
	st, err := status.New(codes.InvalidArgument, "bad order id").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "id", Description: "unknown"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

// The caller of a shadowed connection gets exactly what a caller of a
// plain connection to the primary gets: response, status with details,
// header and trailer, whatever the other side answers.
func TestClientCallerGetsPrimaryExactly(t *testing.T) {
	other := order()
	other.Items[1].PriceCents = 1299
	tests := []struct {
		name      string
		reason    string
		legacy    *catalog
		candidate *catalog
		policy    rollout.Static
		outcome   dualrun.Outcome
		// uncompared: the call is not compared, outcome is not used.
		uncompared bool
	}{
		{
			name:      "legacy primary, values differ",
			reason:    "the candidate's response, header and trailer never reach the caller",
			legacy:    &catalog{getOrder: fixed("legacy", order(), nil)},
			candidate: &catalog{getOrder: fixed("candidate", other, nil)},
			policy:    rollout.Static{Shadow: rollout.All},
			outcome:   dualrun.Mismatch,
		},
		{
			name:      "legacy primary errs with details",
			reason:    "the primary's status, details and trailer go to the caller untouched",
			legacy:    &catalog{getOrder: fixed("legacy", nil, detailedError(t))},
			candidate: &catalog{getOrder: fixed("candidate", order(), nil)},
			policy:    rollout.Static{Shadow: rollout.All},
			outcome:   dualrun.Mismatch,
		},
		{
			name:      "both equal",
			reason:    "a match changes nothing either",
			legacy:    &catalog{getOrder: fixed("legacy", order(), nil)},
			candidate: &catalog{getOrder: fixed("candidate", order(), nil)},
			policy:    rollout.Static{Shadow: rollout.All},
			outcome:   dualrun.Match,
		},
		{
			name:      "candidate primary",
			reason:    "when the flag makes the candidate primary, its answer is the caller's, exactly",
			legacy:    &catalog{getOrder: fixed("legacy", order(), nil)},
			candidate: &catalog{getOrder: fixed("candidate", other, nil)},
			policy:    rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All},
			outcome:   dualrun.Mismatch,
		},
		{
			name:       "candidate primary errs, uncompared",
			reason:     "an uncompared call to the candidate is a plain call",
			legacy:     &catalog{getOrder: fixed("legacy", order(), nil)},
			candidate:  &catalog{getOrder: fixed("candidate", nil, detailedError(t))},
			policy:     rollout.Static{CandidatePrimary: rollout.All},
			uncompared: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			legacyAddr, _ := serve(t, tt.legacy)
			candAddr, _ := serve(t, tt.candidate)
			candConn := dial(t, candAddr)
			shadow := dualrungrpc.NewClient(candConn,
				dualrungrpc.WithExperimentOptions(dualrun.WithRollout(tt.policy)))
			conn := dial(t, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()))

			primaryConn := dial(t, legacyAddr)
			if tt.policy.CandidatePrimary == rollout.All {
				primaryConn = candConn
			}
			req := &testpb.GetOrderRequest{Id: "o-7"}
			want := getOrder(t.Context(), primaryConn, req)
			got := getOrder(t.Context(), conn, req)
			sameResult(t, got, want)

			shutdown(t, shadow)
			s := statsOf(t, shadow.Stats(), getOrderMethod).Experiment
			if tt.uncompared {
				if s.Calls != 1 || s.Compared != 0 {
					t.Errorf("calls %d, compared %d; want 1 uncompared call (%s)", s.Calls, s.Compared, tt.reason)
				}
				return
			}
			if s.Count(tt.outcome) != 1 {
				t.Errorf("outcomes %v, want one %v (%s)", s.Outcomes, tt.outcome, tt.reason)
			}
		})
	}
}

// A candidate that is slow, hangs, fails or cannot be reached never delays
// or changes the caller's result. Each candidate below is still blocked
// (or has failed) when the caller already has its answer: the test lets it
// go only after the call returned, so an interceptor that waited for the
// shadow would never return.
func TestClientCandidateNeverDelaysOrChangesTheCaller(t *testing.T) {
	type candidateKind int
	const (
		slow candidateKind = iota
		hanging
		failing
		unreachable
	)
	tests := []struct {
		name    string
		reason  string
		kind    candidateKind
		outcome dualrun.Outcome
		errType string
	}{
		{name: "slow", reason: "answers once released, after the caller returned", kind: slow, outcome: dualrun.Match},
		{name: "hanging", reason: "never answers; its server is stopped after the caller returned", kind: hanging, outcome: dualrun.Mismatch, errType: "UNAVAILABLE"},
		{name: "failing", reason: "fails at once", kind: failing, outcome: dualrun.Mismatch, errType: "INTERNAL"},
		{name: "unreachable", reason: "nothing listens at its address", kind: unreachable, outcome: dualrun.Mismatch, errType: "UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			legacyAddr, _ := serve(t, &catalog{getOrder: fixed("legacy", order(), nil)})
			release := make(chan struct{})
			started := make(chan struct{}, 1)
			var finished atomic.Bool
			cand := &catalog{getOrder: func(ctx context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
				started <- struct{}{}
				defer finished.Store(true)
				switch tt.kind {
				case slow:
					<-release
					return fixed("candidate", order(), nil)(ctx, req)
				case hanging:
					<-ctx.Done()
					return nil, ctx.Err()
				}
				return nil, status.Error(codes.Internal, "boom")
			}}
			var candAddr string
			var candSrv *grpc.Server
			if tt.kind == unreachable {
				candAddr = deadAddress(t)
			} else {
				candAddr, candSrv = serve(t, cand)
			}
			rec := &reports{}
			shadow := dualrungrpc.NewClient(dial(t, candAddr), dualrungrpc.WithExperimentOptions(
				dualrun.WithShadowTimeout(time.Minute), dualrun.WithPublisher(rec)))
			conn := dial(t, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()))

			want := getOrder(t.Context(), dial(t, legacyAddr), &testpb.GetOrderRequest{Id: "o-1"})
			got := getOrder(t.Context(), conn, &testpb.GetOrderRequest{Id: "o-1"})
			sameResult(t, got, want)

			switch tt.kind {
			case slow, hanging:
				<-started // the shadow did reach the candidate…
				if finished.Load() {
					t.Fatalf("the candidate finished before the caller got its answer (%s)", tt.reason)
				}
				close(release) // …and is still there, after the caller returned
				if tt.kind == hanging {
					candSrv.Stop()
				}
			default:
				close(release)
			}
			shutdown(t, shadow)
			s := statsOf(t, shadow.Stats(), getOrderMethod).Experiment
			if s.Count(tt.outcome) != 1 {
				t.Fatalf("outcomes %v, want one %v", s.Outcomes, tt.outcome)
			}
			if tt.errType != "" {
				reps := rec.list()
				if len(reps) != 1 || reps[0].CandidateErrorType != tt.errType {
					t.Fatalf("reports %v, want one whose candidate error type is %s", reps, tt.errType)
				}
				// The diff shows the legacy response beside the error.
				if d := reps[0].Diff; !strings.Contains(d, "sku-b") || !strings.Contains(d, "+candidate: error:") {
					t.Errorf("diff %q, want the legacy response and the candidate's error", d)
				}
			}
		})
	}
}

// The shadow's deadline is the earlier of the caller's deadline and the
// shadow timeout, and gRPC carries it to the candidate server.
func TestClientCallerDeadlineBoundsTheShadow(t *testing.T) {
	tests := []struct {
		name          string
		reason        string
		callerTimeout time.Duration
		shadowTimeout time.Duration
	}{
		{name: "caller deadline first", reason: "a caller with 20s left gives the shadow 20s, not the minute of its timeout", callerTimeout: 20 * time.Second, shadowTimeout: time.Minute},
		{name: "shadow timeout first", reason: "a shadow timeout of 20s bounds a caller with a minute left", callerTimeout: time.Minute, shadowTimeout: 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			legacyAddr, _ := serve(t, &catalog{getOrder: fixed("legacy", order(), nil)})
			seen := make(chan time.Time, 1)
			candAddr, _ := serve(t, &catalog{getOrder: func(ctx context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
				d, ok := ctx.Deadline()
				if !ok {
					d = time.Time{}
				}
				seen <- d
				return fixed("candidate", order(), nil)(ctx, req)
			}})
			shadow := dualrungrpc.NewClient(dial(t, candAddr), dualrungrpc.WithExperimentOptions(dualrun.WithShadowTimeout(tt.shadowTimeout)))
			conn := dial(t, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()))

			start := time.Now()
			ctx, cancel := context.WithTimeout(t.Context(), tt.callerTimeout)
			defer cancel()
			if r := getOrder(ctx, conn, &testpb.GetOrderRequest{Id: "o-1"}); r.status.Code() != codes.OK {
				t.Fatal(r.status.Err())
			}
			got := <-seen
			want := start.Add(min(tt.callerTimeout, tt.shadowTimeout))
			// gRPC sends the time left, which the server adds to its own
			// clock: allow the transit, not the difference of the timeouts.
			if got.IsZero() || got.Before(want.Add(-5*time.Second)) || got.After(want.Add(5*time.Second)) {
				t.Errorf("candidate deadline %v from now, want about %v (%s)", time.Until(got), time.Until(want), tt.reason)
			}
			shutdown(t, shadow)
		})
	}
}

// A caller deadline that passes while the candidate hangs ends the shadow
// with outcome timeout; the caller, answered by a fast legacy, never sees
// it.
func TestClientCallerDeadlineEndsAHangingShadow(t *testing.T) {
	legacyAddr, _ := serve(t, &catalog{getOrder: fixed("legacy", order(), nil)})
	candAddr, _ := serve(t, &catalog{getOrder: func(ctx context.Context, _ *testpb.GetOrderRequest) (*testpb.Order, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	shadow := dualrungrpc.NewClient(dial(t, candAddr), dualrungrpc.WithExperimentOptions(dualrun.WithShadowTimeout(time.Minute)))
	conn := dial(t, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()))

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	r := getOrder(ctx, conn, &testpb.GetOrderRequest{Id: "o-1"})
	if r.status.Code() != codes.OK || r.resp.GetId() != "o-1" {
		t.Fatalf("caller got %v, %v", r.resp, r.status.Err())
	}
	shutdown(t, shadow) // returns once the shadow ended, at the caller's deadline
	s := statsOf(t, shadow.Stats(), getOrderMethod).Experiment
	if s.Count(dualrun.Timeout) != 1 {
		t.Fatalf("outcomes %v, want one timeout", s.Outcomes)
	}
}

// Mismatch paths name proto fields, folded and ignored as asked, and the
// Report's diff lists each differing value by its exact path.
func TestClientMismatchPathsNameProtoFields(t *testing.T) {
	legacyAddr, _ := serve(t, &catalog{getOrder: fixed("legacy", order(), nil)})
	cand := order()
	cand.Items[1].PriceCents = 1299
	cand.Items[0].UpdatedAt.Seconds++ // ignored below
	cand.Labels["region"] = "us"
	cand.Payment = &testpb.Order_Voucher{Voucher: "v-1"}
	candAddr, _ := serve(t, &catalog{getOrder: fixed("candidate", cand, nil)})
	rec := &reports{}
	shadow := dualrungrpc.NewClient(dial(t, candAddr),
		dualrungrpc.WithIgnoreFields("items.updated_at"),
		dualrungrpc.WithExperimentOptions(dualrun.WithPublisher(rec)))
	conn := dial(t, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()))

	if r := getOrder(t.Context(), conn, &testpb.GetOrderRequest{Id: "o-1"}); r.status.Code() != codes.OK {
		t.Fatal(r.status.Err())
	}
	shutdown(t, shadow)
	s := statsOf(t, shadow.Stats(), getOrderMethod)
	want := []string{".card", ".items[*].price_cents", ".labels[*]", ".voucher"}
	got := paths(s.Fields)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("paths %q, want %q", got, want)
	}
	reps := rec.list()
	if len(reps) != 1 {
		t.Fatalf("%d reports, want 1", len(reps))
	}
	rep := reps[0]
	if !slices.Equal(rep.Paths, want) {
		t.Errorf("report paths %q, want the proto field paths %q", rep.Paths, want)
	}
	for _, line := range []string{`.items[1].price_cents: 1104`, `.items[1].price_cents: 1299`, `.labels["region"]: "eu"`, `.labels["region"]: "us"`, `.card: "visa"`, `.voucher: "v-1"`} {
		if !strings.Contains(rep.Diff, line) {
			t.Errorf("diff lacks %q:\n%s", line, rep.Diff)
		}
	}
	if strings.Contains(rep.Diff, "updated_at") {
		t.Errorf("diff shows an ignored field:\n%s", rep.Diff)
	}
}

// The shadow call carries the caller's outgoing metadata and a context
// for which dualrun.IsShadow is true; the primary's does not.
func TestClientShadowContext(t *testing.T) {
	legacyAddr, _ := serve(t, &catalog{getOrder: fixed("legacy", order(), nil)})
	gotMD := make(chan metadata.MD, 1)
	candAddr, _ := serve(t, &catalog{getOrder: func(ctx context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		gotMD <- md
		return fixed("candidate", order(), nil)(ctx, req)
	}})
	var candShadow, legacyShadow atomic.Int32
	observe := func(n *atomic.Int32) grpc.UnaryClientInterceptor {
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if dualrun.IsShadow(ctx) {
				n.Add(1)
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}
	}
	shadow := dualrungrpc.NewClient(dial(t, candAddr, grpc.WithChainUnaryInterceptor(observe(&candShadow))))
	conn := dial(t, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor(), observe(&legacyShadow)))

	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-request-id", "req-42")
	if r := getOrder(ctx, conn, &testpb.GetOrderRequest{Id: "o-1"}); r.status.Code() != codes.OK {
		t.Fatal(r.status.Err())
	}
	shutdown(t, shadow)
	if md := <-gotMD; !slices.Equal(md.Get("x-request-id"), []string{"req-42"}) {
		t.Errorf("candidate saw metadata %v, want x-request-id req-42", md)
	}
	if candShadow.Load() != 1 || legacyShadow.Load() != 0 {
		t.Errorf("IsShadow true on %d candidate and %d legacy calls, want 1 and 0", candShadow.Load(), legacyShadow.Load())
	}
}

// The shadow sends the request as it was when the call started, and
// compares the response the caller got before the caller changed it: the
// caller owns both once the call returns (and -race watches).
func TestClientCallerOwnsRequestAndResponse(t *testing.T) {
	legacyAddr, _ := serve(t, &catalog{getOrder: fixed("legacy", order(), nil)})
	candAddr, _ := serve(t, &catalog{getOrder: fixed("candidate", order(), nil)})
	release := make(chan struct{})
	hold := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		<-release // the shadow waits here until the caller changed everything
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	shadow := dualrungrpc.NewClient(dial(t, candAddr, grpc.WithChainUnaryInterceptor(hold)))
	conn := dial(t, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()))

	req := &testpb.GetOrderRequest{Id: "o-1"}
	resp, err := testpb.NewCatalogClient(conn).GetOrder(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	req.Id = "o-changed"
	resp.Items = nil
	resp.Labels["region"] = "changed"
	close(release)
	shutdown(t, shadow)
	s := statsOf(t, shadow.Stats(), getOrderMethod).Experiment
	if s.Count(dualrun.Match) != 1 {
		t.Fatalf("outcomes %v, want a match: the shadow sent o-1 and was compared with the response as received", s.Outcomes)
	}
}

// Streams are not compared: they go to the primary, counted.
func TestClientStreamsPassThrough(t *testing.T) {
	list := func(side string) func(*testpb.ListOrdersRequest, grpc.ServerStreamingServer[testpb.Order]) error {
		return func(req *testpb.ListOrdersRequest, s grpc.ServerStreamingServer[testpb.Order]) error {
			for i := range int(req.GetLimit()) {
				if err := s.Send(&testpb.Order{Id: side + "-" + string(rune('a'+i))}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	tests := []struct {
		name   string
		reason string
		policy rollout.Static
		want   string
	}{
		{name: "legacy primary", reason: "a stream stays on the legacy connection", policy: rollout.Static{Shadow: rollout.All}, want: "legacy"},
		{name: "candidate primary", reason: "the flag moves streams too", policy: rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}, want: "candidate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			legacyAddr, _ := serve(t, &catalog{listOrders: list("legacy")})
			candAddr, _ := serve(t, &catalog{listOrders: list("candidate")})
			shadow := dualrungrpc.NewClient(dial(t, candAddr), dualrungrpc.WithExperimentOptions(dualrun.WithRollout(tt.policy)))
			conn := dial(t, legacyAddr, grpc.WithChainStreamInterceptor(shadow.StreamClientInterceptor()))

			stream, err := testpb.NewCatalogClient(conn).ListOrders(t.Context(), &testpb.ListOrdersRequest{Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for {
				o, err := stream.Recv()
				if err != nil {
					if !errors.Is(err, errEOF) && status.Code(err) != codes.OK {
						t.Fatal(err)
					}
					break
				}
				ids = append(ids, o.GetId())
			}
			want := []string{tt.want + "-a", tt.want + "-b", tt.want + "-c"}
			if !slices.Equal(ids, want) {
				t.Errorf("received %q, want %q (%s)", ids, want, tt.reason)
			}
			shutdown(t, shadow)
			s := statsOf(t, shadow.Stats(), "/dualrun.test.catalog.v1.Catalog/ListOrders")
			if !s.Stream || s.Uncompared != 1 || s.Experiment.Calls != 1 || s.Experiment.Compared != 0 {
				t.Errorf("stats %+v, want one uncompared stream", s)
			}
		})
	}
}

// Hostile or mistaken options never break a call: the method runs
// uncompared, counted.
func TestClientHostileOptions(t *testing.T) {
	tests := []struct {
		name     string
		reason   string
		opts     []dualrungrpc.Option
		compared int64
	}{
		{name: "filter panics", reason: "the method is not shadowed", opts: []dualrungrpc.Option{dualrungrpc.WithMethodFilter(func(string) bool { panic("filter") })}},
		{name: "filter says no", reason: "the method is not shadowed", opts: []dualrungrpc.Option{dualrungrpc.WithMethodFilter(func(m string) bool { return m != getOrderMethod })}},
		{name: "name func panics", reason: "the full method name is the name", opts: []dualrungrpc.Option{dualrungrpc.WithExperimentName(func(string) string { panic("name") })}, compared: 1},
		{name: "typed option for another type", reason: "the experiment cannot be made: the method runs uncompared", opts: []dualrungrpc.Option{dualrungrpc.WithExperimentOptions(dualrun.WithComparer(func(a, b int) bool { return a == b }))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			otelErrors := captureOTelErrors(t)
			legacyAddr, _ := serve(t, &catalog{getOrder: fixed("legacy", order(), nil)})
			candAddr, _ := serve(t, &catalog{getOrder: fixed("candidate", order(), nil)})
			shadow := dualrungrpc.NewClient(dial(t, candAddr), tt.opts...)
			conn := dial(t, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()))
			want := getOrder(t.Context(), dial(t, legacyAddr), &testpb.GetOrderRequest{Id: "o-1"})
			got := getOrder(t.Context(), conn, &testpb.GetOrderRequest{Id: "o-1"})
			sameResult(t, got, want)
			shutdown(t, shadow)
			s := statsOf(t, shadow.Stats(), getOrderMethod)
			if s.Experiment.Compared != tt.compared || s.Uncompared != 1-tt.compared {
				t.Errorf("compared %d, uncompared %d; want %d compared (%s)", s.Experiment.Compared, s.Uncompared, tt.compared, tt.reason)
			}
			if strings.Contains(tt.name, "panics") || strings.Contains(tt.name, "typed") {
				if len(otelErrors()) == 0 {
					t.Errorf("nothing reported to otel.Handle")
				}
			}
		})
	}
}

// Methods beyond WithMaxMethods run on the legacy connection, counted
// under "_OTHER".
func TestClientMaxMethods(t *testing.T) {
	legacyAddr, _ := serve(t, &catalog{getOrder: fixed("legacy", order(), nil)})
	candAddr, _ := serve(t, &catalog{getOrder: fixed("candidate", order(), nil)})
	shadow := dualrungrpc.NewClient(dial(t, candAddr), dualrungrpc.WithMaxMethods(1))
	conn := dial(t, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()))
	client := testpb.NewCatalogClient(conn)
	for range 2 {
		if _, err := client.GetOrder(t.Context(), &testpb.GetOrderRequest{Id: "o-1"}); err != nil {
			t.Fatal(err)
		}
		if r, err := client.Echo(t.Context(), &testpb.EchoRequest{Text: "hi"}); err != nil || r.GetText() != "hi" {
			t.Fatal(r, err)
		}
	}
	shutdown(t, shadow)
	all := shadow.Stats()
	if len(all) != 2 || all[0].Method != getOrderMethod || all[0].Experiment.Compared != 2 ||
		all[1].Method != "_OTHER" || all[1].Uncompared != 2 {
		t.Fatalf("stats %+v, want GetOrder compared twice and two _OTHER calls", all)
	}
}

// Messages that are not protobuf messages (a custom codec) are passed
// through uncompared.
func TestClientNonProtoMessagesPassThrough(t *testing.T) {
	candAddr, _ := serve(t, &catalog{getOrder: fixed("candidate", order(), nil)})
	shadow := dualrungrpc.NewClient(dial(t, candAddr))
	var called bool
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		called = true
		return nil
	}
	var reply struct{ text string }
	if err := shadow.UnaryClientInterceptor()(t.Context(), getOrderMethod, "request", &reply, nil, invoker); err != nil || !called {
		t.Fatalf("err %v, called %v", err, called)
	}
	shutdown(t, shadow)
	if s := statsOf(t, shadow.Stats(), getOrderMethod); s.Uncompared != 1 || s.Experiment.Compared != 0 {
		t.Fatalf("stats %+v, want one uncompared call", s)
	}
}

// NewClient needs a candidate connection.
func TestNewClientPanicsWithoutCandidate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewClient(nil) did not panic")
		}
	}()
	dualrungrpc.NewClient(nil)
}
