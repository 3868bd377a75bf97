package dualrungrpc_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrungrpc"
	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
)

// The examples of options call the client interceptor directly, with an
// in-process legacy (the invoker) and candidate (a ClientConnInterface).

// backend answers every call with resp, or fails with err.
type backend struct {
	resp proto.Message
	err  error
}

func (b backend) Invoke(_ context.Context, _ string, _, reply any, _ ...grpc.CallOption) error {
	if b.err != nil {
		return b.err
	}
	proto.Merge(reply.(proto.Message), b.resp)
	return nil
}

func (backend) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "no streams here")
}

func (b backend) invoker(ctx context.Context, method string, req, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
	return b.Invoke(ctx, method, req, reply, opts...)
}

// call makes one call of method through the client's interceptor, with
// legacy answering.
func call(c *dualrungrpc.Client, legacy backend, method string) {
	var out testpb.Order
	_ = c.UnaryClientInterceptor()(context.Background(), method, &testpb.GetOrderRequest{Id: "o-1"}, &out, nil, legacy.invoker)
}

// Writes are not shadowed: their shadow would be a second write.
func ExampleWithMethodFilter() {
	order := &testpb.Order{Id: "o-1"}
	c := dualrungrpc.NewClient(backend{resp: order}, dualrungrpc.WithMethodFilter(func(m string) bool {
		return m != "/shop.v1.Orders/CreateOrder"
	}))
	defer c.Unregister()
	call(c, backend{resp: order}, "/shop.v1.Orders/GetOrder")
	call(c, backend{resp: order}, "/shop.v1.Orders/CreateOrder")
	_ = c.Shutdown(context.Background())
	for _, m := range c.Stats() {
		fmt.Println(m.Method, "compared:", m.Experiment.Compared, "uncompared:", m.Uncompared)
	}
	// Output:
	// /shop.v1.Orders/CreateOrder compared: 0 uncompared: 1
	// /shop.v1.Orders/GetOrder compared: 1 uncompared: 0
}

// Two clients of one method in one process keep their metrics apart.
func ExampleWithExperimentName() {
	c := dualrungrpc.NewClient(backend{resp: &testpb.Order{}},
		dualrungrpc.WithExperimentName(func(m string) string { return "billing-client" + m }))
	defer c.Unregister()
	call(c, backend{resp: &testpb.Order{}}, "/shop.v1.Orders/GetOrder")
	_ = c.Shutdown(context.Background())
	fmt.Println(c.Stats()[0].Experiment.Name)
	// Output: billing-client/shop.v1.Orders/GetOrder
}

// By default two errors are equivalent when their codes are; with
// WithStatusMessages their messages must be equal too.
func ExampleWithStatusMessages() {
	legacy := backend{err: status.Error(codes.NotFound, "no such order")}
	candidate := backend{err: status.Error(codes.NotFound, "order o-1 not found")}
	for _, opts := range [][]dualrungrpc.Option{nil, {dualrungrpc.WithStatusMessages()}} {
		c := dualrungrpc.NewClient(candidate, opts...)
		call(c, legacy, "/shop.v1.Orders/GetOrder")
		_ = c.Shutdown(context.Background())
		s := c.Stats()[0].Experiment
		fmt.Println("match:", s.Count(dualrun.Match), "mismatch:", s.Count(dualrun.Mismatch))
		c.Unregister()
	}
	// Output:
	// match: 1 mismatch: 0
	// match: 0 mismatch: 1
}

// protocmp's options apply: here the order of tags does not matter.
func ExampleWithCmpOptions() {
	legacy := backend{resp: &testpb.Order{Id: "o-1", Tags: []string{"gift", "express"}}}
	candidate := backend{resp: &testpb.Order{Id: "o-1", Tags: []string{"express", "gift"}}}
	c := dualrungrpc.NewClient(candidate,
		dualrungrpc.WithCmpOptions(protocmp.SortRepeatedFields(&testpb.Order{}, "tags")))
	defer c.Unregister()
	call(c, legacy, "/shop.v1.Orders/GetOrder")
	_ = c.Shutdown(context.Background())
	fmt.Println("match:", c.Stats()[0].Experiment.Count(dualrun.Match))
	// Output: match: 1
}
