package dualrungrpc_test

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrungrpc"
	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
)

// orders answers GetOrder with one item at the given price.
type orders struct {
	testpb.UnimplementedCatalogServer
	price int64
}

func (o orders) GetOrder(_ context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
	return &testpb.Order{Id: req.GetId(), Items: []*testpb.Item{{Sku: "sku-1", PriceCents: o.price}}}, nil
}

// start serves impl on 127.0.0.1 and returns its address and a stop func.
func start(impl testpb.CatalogServer, opts ...grpc.ServerOption) (string, func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(opts...)
	testpb.RegisterCatalogServer(srv, impl)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	return lis.Addr().String(), func() { srv.Stop(); <-done }
}

func connect(addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	conn, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		panic(err)
	}
	return conn
}

// A client moves from the legacy backend to a new one: every call goes to
// both, the caller gets the legacy answer, and the differences are named
// by proto field.
func ExampleNewClient() {
	legacyAddr, stopLegacy := start(orders{price: 1104})
	defer stopLegacy()
	candAddr, stopCand := start(orders{price: 1299})
	defer stopCand()

	candConn := connect(candAddr)
	defer candConn.Close()
	shadow := dualrungrpc.NewClient(candConn)
	defer shadow.Unregister()
	conn := connect(legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()))
	defer conn.Close()

	order, err := testpb.NewCatalogClient(conn).GetOrder(context.Background(), &testpb.GetOrderRequest{Id: "o-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println("caller got", order.GetItems()[0].GetPriceCents())

	_ = shadow.Shutdown(context.Background()) // waits for the comparison
	for _, m := range shadow.Stats() {
		fmt.Println(m.Method, m.Experiment.Count(dualrun.Mismatch), "mismatch at", m.Fields[0].Path)
	}
	// Output:
	// caller got 1104
	// /dualrun.test.catalog.v1.Catalog/GetOrder 1 mismatch at .items[*].price_cents
}

// A service rewrites its implementation in place: the candidate runs
// beside the served one, on the same requests.
func ExampleServer_RegisterCandidate() {
	shadow := dualrungrpc.NewServer(dualrungrpc.WithIgnoreFields("items.price_cents"))
	defer shadow.Unregister()
	shadow.RegisterCandidate(&testpb.Catalog_ServiceDesc, orders{price: 1299})
	addr, stop := start(orders{price: 1104},
		grpc.ChainUnaryInterceptor(shadow.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(shadow.StreamServerInterceptor()))
	defer stop()
	conn := connect(addr)
	defer conn.Close()

	order, err := testpb.NewCatalogClient(conn).GetOrder(context.Background(), &testpb.GetOrderRequest{Id: "o-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println("client got", order.GetItems()[0].GetPriceCents())

	_ = shadow.Shutdown(context.Background())
	for _, m := range shadow.Stats() { // every method of the service
		s := m.Experiment
		fmt.Println(m.Method, "calls:", s.Calls, "match:", s.Count(dualrun.Match))
	}
	// Output:
	// client got 1104
	// /dualrun.test.catalog.v1.Catalog/Echo calls: 0 match: 0
	// /dualrun.test.catalog.v1.Catalog/GetOrder calls: 1 match: 1
	// /dualrun.test.catalog.v1.Catalog/ListOrders calls: 0 match: 0
}
