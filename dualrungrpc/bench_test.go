package dualrungrpc_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrungrpc"
	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
	"github.com/dualrun/dualrun/rollout"
)

// The benchmarks come in two sets. The in-process ones call the
// interceptors directly, with an invoker (client) or handler (server) that
// answers at once: they measure what the interceptor adds to a call, with
// nothing else in the way. The TCP ones make real gRPC calls on 127.0.0.1:
// they put that overhead next to the cost of a call. Each has a bare
// variant (no interceptor), an uncompared one (the rollout never
// shadows) and a compared one (every call shadowed, equal responses). A
// compared run is drained: the in-flight limits are lifted, a caller waits
// while more than maxBacklog shadows are still running (so the loop cannot
// outrun its shadows), and the run ends with Shutdown inside the timed
// loop, so that it pays for every shadow and comparison. shed/op reports
// the share of calls shed for want of a shadow slot: 0 in a drained run.

func benchOpts(b *testing.B, policy rollout.Static) dualrungrpc.Option {
	if policy.Shadow > 0 {
		dualrun.SetProcessMaxInFlight(1 << 20)
		b.Cleanup(func() { dualrun.SetProcessMaxInFlight(dualrun.DefaultProcessMaxInFlight) })
	}
	return dualrungrpc.WithExperimentOptions(
		dualrun.WithRollout(policy),
		dualrun.WithMaxInFlight(1<<20),
		dualrun.WithMeterProvider(metricnoop.NewMeterProvider()),
		dualrun.WithTracerProvider(tracenoop.NewTracerProvider()),
	)
}

// maxBacklog is how many shadows a drained run lets run at once.
const maxBacklog = 64

// backlog counts the shadows of a drained run that have not returned.
type backlog struct{ n atomic.Int64 }

// wait holds the caller while maxBacklog shadows run, then counts one more.
func (l *backlog) wait() {
	for l.n.Load() >= maxBacklog {
		runtime.Gosched()
	}
	l.n.Add(1)
}

// done counts a shadow that returned.
func (l *backlog) done() { l.n.Add(-1) }

var (
	uncompared = rollout.Static{}
	compared   = rollout.Static{Shadow: rollout.All}
)

// answerConn is a grpc.ClientConnInterface whose calls answer resp at once.
type answerConn struct {
	resp *testpb.Order
	l    *backlog
}

func (c answerConn) Invoke(_ context.Context, _ string, _, reply any, _ ...grpc.CallOption) error {
	proto.Merge(reply.(proto.Message), c.resp)
	if c.l != nil {
		c.l.done()
	}
	return nil
}

func (answerConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	panic("not used")
}

// finish shuts s down (inside the timed loop: a compared run pays for its
// shadows) and reports the calls shed, then unregisters s.
func finish(b *testing.B, s interface {
	Shutdown(context.Context) error
	Unregister()
	Stats() []dualrungrpc.MethodStats
},
) {
	if err := s.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	var shed, calls int64
	for _, m := range s.Stats() {
		shed += m.Experiment.Count(dualrun.Shed)
		calls += m.Experiment.Calls
	}
	if calls > 0 {
		b.ReportMetric(float64(shed)/float64(calls), "shed/op")
	}
	s.Unregister()
}

func BenchmarkClientInterceptor(b *testing.B) {
	resp := order()
	invoker := func(ctx context.Context, method string, req, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		return answerConn{resp: resp}.Invoke(ctx, method, req, reply, opts...)
	}
	req := &testpb.GetOrderRequest{Id: "o-1"}
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out testpb.Order
			if err := invoker(ctx, getOrderMethod, req, &out, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name   string
		policy rollout.Static
	}{{"uncompared", uncompared}, {"compared", compared}} {
		b.Run(bc.name, func(b *testing.B) {
			l := &backlog{}
			shadow := dualrungrpc.NewClient(answerConn{resp, l}, benchOpts(b, bc.policy))
			icpt := shadow.UnaryClientInterceptor()
			b.ReportAllocs()
			for b.Loop() {
				if bc.policy.Shadow > 0 {
					l.wait()
				}
				var out testpb.Order
				if err := icpt(ctx, getOrderMethod, req, &out, nil, invoker); err != nil {
					b.Fatal(err)
				}
			}
			finish(b, shadow)
		})
	}
}

func BenchmarkServerInterceptor(b *testing.B) {
	impl := &catalog{getOrder: func(_ context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
		o := order()
		o.Id = req.GetId()
		return o, nil
	}}
	handler := func(ctx context.Context, req any) (any, error) {
		return impl.GetOrder(ctx, req.(*testpb.GetOrderRequest))
	}
	info := &grpc.UnaryServerInfo{Server: impl, FullMethod: getOrderMethod}
	req := &testpb.GetOrderRequest{Id: "o-1"}
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := handler(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name   string
		policy rollout.Static
	}{{"uncompared", uncompared}, {"compared", compared}} {
		b.Run(bc.name, func(b *testing.B) {
			l := &backlog{}
			shadow := dualrungrpc.NewServer(benchOpts(b, bc.policy))
			shadow.RegisterCandidate(&testpb.Catalog_ServiceDesc, &catalog{getOrder: func(ctx context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
				defer l.done()
				return impl.GetOrder(ctx, req)
			}})
			icpt := shadow.UnaryServerInterceptor()
			b.ReportAllocs()
			for b.Loop() {
				if bc.policy.Shadow > 0 {
					l.wait()
				}
				if _, err := icpt(ctx, req, info, handler); err != nil {
					b.Fatal(err)
				}
			}
			finish(b, shadow)
		})
	}
}

func BenchmarkClientTCP(b *testing.B) {
	impl := &catalog{getOrder: fixed("legacy", order(), nil)}
	legacyAddr, _ := serve(b, impl)
	candAddr, _ := serve(b, &catalog{getOrder: fixed("candidate", order(), nil)})
	req := &testpb.GetOrderRequest{Id: "o-1"}
	ctx := context.Background()
	run := func(b *testing.B, conn *grpc.ClientConn) {
		client := testpb.NewCatalogClient(conn)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.GetOrder(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, dial(b, legacyAddr)) })
	for _, bc := range []struct {
		name   string
		policy rollout.Static
	}{{"uncompared", uncompared}, {"compared", compared}} {
		b.Run(bc.name, func(b *testing.B) {
			shadow := dualrungrpc.NewClient(dial(b, candAddr), benchOpts(b, bc.policy))
			run(b, dial(b, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor())))
			finish(b, shadow)
		})
	}
}

func BenchmarkServerTCP(b *testing.B) {
	impl := &catalog{getOrder: fixed("legacy", order(), nil)}
	req := &testpb.GetOrderRequest{Id: "o-1"}
	ctx := context.Background()
	run := func(b *testing.B, addr string) {
		client := testpb.NewCatalogClient(dial(b, addr))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.GetOrder(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("bare", func(b *testing.B) {
		addr, _ := serve(b, impl)
		run(b, addr)
	})
	for _, bc := range []struct {
		name   string
		policy rollout.Static
	}{{"uncompared", uncompared}, {"compared", compared}} {
		b.Run(bc.name, func(b *testing.B) {
			shadow := dualrungrpc.NewServer(benchOpts(b, bc.policy))
			shadow.RegisterCandidate(&testpb.Catalog_ServiceDesc, &catalog{getOrder: fixed("candidate", order(), nil)})
			addr, _ := serve(b, impl, grpc.ChainUnaryInterceptor(shadow.UnaryServerInterceptor()))
			run(b, addr)
			finish(b, shadow)
		})
	}
}

// BenchmarkInterceptorOverhead isolates what the interceptors add to an
// uncompared call: the invoker and the handler do nothing, so the bare
// variant is a function call and the rest is dualrungrpc and dualrun.
func BenchmarkInterceptorOverhead(b *testing.B) {
	resp := order()
	req := &testpb.GetOrderRequest{Id: "o-1"}
	ctx := context.Background()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	handler := func(context.Context, any) (any, error) { return resp, nil }
	info := &grpc.UnaryServerInfo{FullMethod: getOrderMethod}
	var out testpb.Order
	b.Run("client/bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = invoker(ctx, getOrderMethod, req, &out, nil)
		}
	})
	b.Run("client/uncompared", func(b *testing.B) {
		shadow := dualrungrpc.NewClient(answerConn{resp: resp}, benchOpts(b, uncompared))
		icpt := shadow.UnaryClientInterceptor()
		b.ReportAllocs()
		for b.Loop() {
			_ = icpt(ctx, getOrderMethod, req, &out, nil, invoker)
		}
		finish(b, shadow)
	})
	b.Run("server/bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = handler(ctx, req)
		}
	})
	b.Run("server/uncompared", func(b *testing.B) {
		shadow := dualrungrpc.NewServer(benchOpts(b, uncompared))
		shadow.RegisterCandidate(&testpb.Catalog_ServiceDesc, &catalog{})
		icpt := shadow.UnaryServerInterceptor()
		b.ReportAllocs()
		for b.Loop() {
			_, _ = icpt(ctx, req, info, handler)
		}
		finish(b, shadow)
	})
}
