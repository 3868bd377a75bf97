package dualrungrpc_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrungrpc"
	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
)

// catalog is a Catalog implementation whose methods the tests set.
type catalog struct {
	testpb.UnimplementedCatalogServer
	getOrder   func(context.Context, *testpb.GetOrderRequest) (*testpb.Order, error)
	echo       func(context.Context, *testpb.EchoRequest) (*testpb.EchoReply, error)
	listOrders func(*testpb.ListOrdersRequest, grpc.ServerStreamingServer[testpb.Order]) error
}

func (c *catalog) GetOrder(ctx context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
	return c.getOrder(ctx, req)
}

func (c *catalog) Echo(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoReply, error) {
	if c.echo == nil {
		return &testpb.EchoReply{Text: req.GetText()}, nil
	}
	return c.echo(ctx, req)
}

func (c *catalog) ListOrders(req *testpb.ListOrdersRequest, s grpc.ServerStreamingServer[testpb.Order]) error {
	return c.listOrders(req, s)
}

// fixed returns a GetOrder that answers o (a copy per call), sets header
// and trailer x-side to side, and fails with err when err is not nil.
func fixed(side string, o *testpb.Order, err error) func(context.Context, *testpb.GetOrderRequest) (*testpb.Order, error) {
	return func(ctx context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-side", side))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-side", side, "x-trailer", side+"-trailer"))
		if err != nil {
			return nil, err
		}
		out := proto.Clone(o).(*testpb.Order)
		out.Id = req.GetId()
		return out, nil
	}
}

// order is a sample response.
func order() *testpb.Order {
	return &testpb.Order{
		Id: "o-1",
		Items: []*testpb.Item{
			{Sku: "sku-a", PriceCents: 500, Quantity: 1, UpdatedAt: timestamppb.New(time.Unix(1700000000, 0))},
			{Sku: "sku-b", PriceCents: 1104, Quantity: 2, UpdatedAt: timestamppb.New(time.Unix(1700000001, 0))},
		},
		Labels:     map[string]string{"region": "eu", "tier": "gold"},
		TotalCents: 2708,
		Payment:    &testpb.Order_Card{Card: "visa"},
		Status:     testpb.OrderStatus_ORDER_STATUS_OPEN,
	}
}

// serve starts a gRPC server for impl on 127.0.0.1 and returns its address;
// the server stops at the end of the test. srv, when not nil, receives the
// server (to stop it early).
func serve(t testing.TB, impl testpb.CatalogServer, opts ...grpc.ServerOption) (string, *grpc.Server) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	testpb.RegisterCatalogServer(srv, impl)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String(), srv
}

// deadAddress returns a 127.0.0.1 address nothing listens on.
func deadAddress(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// dial connects to addr; the connection closes at the end of the test.
func dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	conn, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// result is everything a caller gets from a unary call.
type result struct {
	resp    *testpb.Order
	header  metadata.MD
	trailer metadata.MD
	status  *status.Status
}

func getOrder(ctx context.Context, conn grpc.ClientConnInterface, req *testpb.GetOrderRequest) result {
	var r result
	resp, err := testpb.NewCatalogClient(conn).GetOrder(ctx, req, grpc.Header(&r.header), grpc.Trailer(&r.trailer))
	r.resp, r.status = resp, status.Convert(err)
	return r
}

// sameResult fails the test unless got and want are equal in everything a
// caller can see.
func sameResult(t testing.TB, got, want result) {
	t.Helper()
	if !proto.Equal(got.resp, want.resp) {
		t.Errorf("response = %v, want %v", got.resp, want.resp)
	}
	if !proto.Equal(got.status.Proto(), want.status.Proto()) {
		t.Errorf("status = %v, want %v", got.status.Proto(), want.status.Proto())
	}
	if !sameMD(got.header, want.header) {
		t.Errorf("header = %v, want %v", got.header, want.header)
	}
	if !sameMD(got.trailer, want.trailer) {
		t.Errorf("trailer = %v, want %v", got.trailer, want.trailer)
	}
}

// sameMD compares metadata without the keys gRPC sets per connection.
func sameMD(a, b metadata.MD) bool {
	strip := func(md metadata.MD) metadata.MD {
		out := metadata.MD{}
		for k, v := range md {
			if k == "date" || k == "content-type" {
				continue
			}
			out[k] = v
		}
		return out
	}
	a, b = strip(a), strip(b)
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb := b[k]
		if len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}

// reports collects the Reports of experiments.
type reports struct {
	mu  sync.Mutex
	all []*dualrun.Report
}

func (r *reports) Publish(_ context.Context, rep *dualrun.Report) error {
	r.mu.Lock()
	r.all = append(r.all, rep)
	r.mu.Unlock()
	return nil
}

func (r *reports) list() []*dualrun.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*dualrun.Report(nil), r.all...)
}

// shutdown shuts s down, failing the test if shadows are still running
// after a minute, and unregisters its experiments at the end of the test.
func shutdown(t testing.TB, s interface {
	Shutdown(context.Context) error
	Unregister()
},
) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	t.Cleanup(s.Unregister)
}

// statsOf returns the stats of fullMethod, failing the test if it has none.
func statsOf(t testing.TB, all []dualrungrpc.MethodStats, fullMethod string) dualrungrpc.MethodStats {
	t.Helper()
	for _, s := range all {
		if s.Method == fullMethod {
			return s
		}
	}
	t.Fatalf("no stats for %s in %+v", fullMethod, all)
	return dualrungrpc.MethodStats{}
}

// paths returns the paths of fields.
func paths(fields []dualrun.FieldCount) []string {
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		out = append(out, f.Path)
	}
	return out
}

var errEOF = io.EOF

// captureOTelErrors collects what reaches otel.Handle until the end of the
// test.
func captureOTelErrors(t testing.TB) func() []error {
	var (
		mu   sync.Mutex
		errs []error
	)
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), errs...)
	}
}

const getOrderMethod = "/dualrun.test.catalog.v1.Catalog/GetOrder"
