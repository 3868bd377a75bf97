// Command grpcshadow shows dualrungrpc on both sides of gRPC, with real
// servers on 127.0.0.1.
//
// An order service is being rewritten. The rewrite rounds line prices up
// to the next 5 cents for bulk quantities, and stamps updated_at with its
// own clock (a difference that does not matter, so it is ignored).
//
//   - Client side: a caller moves from the old backend to the new one. Every
//     call goes to both; the caller gets the old backend's answer until the
//     flag makes the new one primary, halfway through.
//   - Server side: a service rewrites its implementation in place; the new
//     implementation runs beside the served one, on the same requests.
//
// It prints what each side measured, from in-process Stats and one Report:
// no telemetry backend is needed. It makes a few hundred calls and exits.
// Calls that find all 64 shadow slots of their method taken (the calls are
// fast, their shadows run behind them) run their primary only, and are
// counted as shed.
//
//	go run ./examples/grpcshadow
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrungrpc"
	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
	"github.com/dualrun/dualrun/rollout"
)

const calls = 200

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "grpcshadow:", err)
		os.Exit(1)
	}
}

// orders is an implementation of the order service; rewrite says which.
type orders struct {
	testpb.UnimplementedCatalogServer
	rewrite bool
}

// GetOrder prices an order made up from its id.
func (o orders) GetOrder(ctx context.Context, req *testpb.GetOrderRequest) (*testpb.Order, error) {
	side := "old"
	if o.rewrite {
		side = "new"
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-served-by", side))
	n := len(req.GetId())
	out := &testpb.Order{Id: req.GetId(), UpdatedAt: timestamppb.New(time.Unix(1_700_000_000, 0))}
	for i := range 3 {
		qty := int32((n*7+i*3)%12 + 1)
		price := int64(199 + (n*31+i*17)%800)
		if o.rewrite && qty >= 10 {
			price = (price + 4) / 5 * 5 // the rewrite's rounding
		}
		out.Items = append(out.Items, &testpb.Item{Sku: fmt.Sprintf("sku-%d", i), PriceCents: price, Quantity: qty})
		out.TotalCents += price * int64(qty)
	}
	if o.rewrite {
		out.UpdatedAt = timestamppb.Now()
	}
	return out, nil
}

// firstReport keeps the first mismatch Report.
type firstReport struct {
	mu  sync.Mutex
	rep *dualrun.Report
}

func (f *firstReport) Publish(_ context.Context, r *dualrun.Report) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rep == nil && r.Outcome == dualrun.Mismatch {
		f.rep = r
	}
	return nil
}

func run(w io.Writer) error {
	ctx := context.Background()
	oldAddr, stopOld, err := serve(orders{})
	if err != nil {
		return err
	}
	defer stopOld()
	newAddr, stopNew, err := serve(orders{rewrite: true})
	if err != nil {
		return err
	}
	defer stopNew()

	// Client side: the caller's connection to the old backend shadows its
	// calls to the new one.
	flag := rollout.NewLive(rollout.Static{Shadow: rollout.All})
	first := &firstReport{}
	newConn, err := connect(newAddr)
	if err != nil {
		return err
	}
	defer newConn.Close()
	client := dualrungrpc.NewClient(newConn,
		dualrungrpc.WithIgnoreFields("updated_at"),
		dualrungrpc.WithExperimentName(func(m string) string { return "client" + m }),
		dualrungrpc.WithExperimentOptions(dualrun.WithRollout(flag), dualrun.WithPublisher(first)))
	defer client.Unregister()
	conn, err := connect(oldAddr, grpc.WithChainUnaryInterceptor(client.UnaryClientInterceptor()))
	if err != nil {
		return err
	}
	defer conn.Close()
	servedBy, err := callOrders(ctx, conn, func(i int) {
		if i == calls/2 {
			flag.Set(rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}) // cut-over
		}
	})
	if err != nil {
		return err
	}
	if err := client.Shutdown(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "client side: the caller was answered by %v\n", servedBy)
	report(w, client.Stats())
	if r := first.rep; r != nil {
		fmt.Fprintf(w, "  first report: %s\n  diff:\n    %s\n", r, strings.ReplaceAll(strings.TrimSpace(r.Diff), "\n", "\n    "))
	}

	// Server side: one server serves the old implementation, with the
	// rewrite registered as its candidate.
	server := dualrungrpc.NewServer(
		dualrungrpc.WithIgnoreFields("updated_at"),
		dualrungrpc.WithExperimentName(func(m string) string { return "server" + m }))
	defer server.Unregister()
	server.RegisterCandidate(&testpb.Catalog_ServiceDesc, orders{rewrite: true})
	addr, stop, err := serve(orders{},
		grpc.ChainUnaryInterceptor(server.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(server.StreamServerInterceptor()))
	if err != nil {
		return err
	}
	defer stop()
	sconn, err := connect(addr)
	if err != nil {
		return err
	}
	defer sconn.Close()
	servedBy, err = callOrders(ctx, sconn, func(int) {})
	if err != nil {
		return err
	}
	if err := server.Shutdown(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "server side: the client was answered by %v\n", servedBy)
	report(w, server.Stats())
	return nil
}

// callOrders makes the calls and counts who answered them.
func callOrders(ctx context.Context, conn *grpc.ClientConn, before func(i int)) (map[string]int, error) {
	client := testpb.NewCatalogClient(conn)
	servedBy := map[string]int{}
	for i := range calls {
		before(i)
		var header metadata.MD
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := client.GetOrder(cctx, &testpb.GetOrderRequest{Id: strings.Repeat("x", i%40+1)}, grpc.Header(&header))
		cancel()
		if err != nil {
			return nil, err
		}
		servedBy[strings.Join(header.Get("x-served-by"), ",")]++
	}
	return servedBy, nil
}

// report prints the methods that were called.
func report(w io.Writer, all []dualrungrpc.MethodStats) {
	for _, m := range all {
		s := m.Experiment
		if s.Calls == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s: %d calls, %d compared: %d match, %d mismatch (%.1f%%); %d shed\n",
			s.Name, s.Calls, s.Compared, s.Count(dualrun.Match), s.Count(dualrun.Mismatch), 100*s.MismatchRate(),
			s.Count(dualrun.Shed))
		for _, f := range m.Fields {
			fmt.Fprintf(w, "    differing field %s: %d\n", f.Path, f.Count)
		}
	}
}

func serve(impl testpb.CatalogServer, opts ...grpc.ServerOption) (string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := grpc.NewServer(opts...)
	testpb.RegisterCatalogServer(srv, impl)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	return lis.Addr().String(), func() {
		srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			fmt.Fprintln(os.Stderr, "grpcshadow: serve:", err)
		}
	}, nil
}

func connect(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	return grpc.NewClient("passthrough:///"+addr, opts...)
}
