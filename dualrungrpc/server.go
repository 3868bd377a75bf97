package dualrungrpc

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/dualrun/dualrun"
)

// Server shadows the unary methods of a gRPC server with a second
// implementation of the same generated service, registered as their
// candidate. Make it with [NewServer], register candidates, and install its
// interceptors on the server that serves the legacy implementation:
//
//	shadow := dualrungrpc.NewServer(opts...)
//	shadow.RegisterCandidate(&pb.Catalog_ServiceDesc, newCatalog)
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(shadow.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(shadow.StreamServerInterceptor()))
//	pb.RegisterCatalogServer(srv, legacyCatalog)
//
// Each method with a candidate has an experiment, named by its full method
// name. Per call, its rollout policy decides which implementation is
// primary (its response and status go to the client, and only its headers
// and trailers) and whether the other runs as a shadow; the two responses
// are compared in the background, as protobuf messages. Methods without a
// candidate are not touched. A Server is safe for concurrent use; the zero
// value is not usable.
type Server struct {
	ms    *methods
	calls sync.Pool // *serverCall of uncompared calls
}

// candidate is one service's candidate implementation, and the generated
// handler of one of its methods.
type candidate struct {
	impl   any
	unary  grpc.MethodHandler
	stream grpc.StreamHandler
}

// NewServer returns a Server with no candidates yet.
func NewServer(opts ...Option) *Server {
	s := &Server{ms: newMethods(newConfig(opts))}
	s.calls.New = func() any { return newServerCall() }
	return s
}

// RegisterCandidate registers impl as the candidate implementation of the
// service that desc describes: the generated service descriptor, such as
// &pb.Catalog_ServiceDesc, of the service whose legacy implementation the
// grpc.Server serves. Register candidates before the server starts serving.
// It makes the experiments of the service's methods (up to WithMaxMethods
// for the Server).
//
// It panics if desc is nil, if impl does not implement the service
// (desc.HandlerType), or if a candidate of the service is registered
// already: programmer errors, as grpc.Server.RegisterService treats them.
func (s *Server) RegisterCandidate(desc *grpc.ServiceDesc, impl any) {
	if desc == nil {
		panic("dualrungrpc: RegisterCandidate: the service descriptor is nil")
	}
	if desc.HandlerType != nil {
		ht := reflect.TypeOf(desc.HandlerType).Elem()
		if it := reflect.TypeOf(impl); it == nil || !it.Implements(ht) {
			panic(fmt.Sprintf("dualrungrpc: RegisterCandidate: %T does not implement %v, the handler type of %s", impl, ht, desc.ServiceName))
		}
	}
	for _, md := range desc.Methods {
		s.checkNew(desc, md.MethodName)
	}
	for _, sd := range desc.Streams {
		s.checkNew(desc, sd.StreamName)
	}
	for _, md := range desc.Methods {
		s.ms.add("/"+desc.ServiceName+"/"+md.MethodName, false, &candidate{impl: impl, unary: md.Handler})
	}
	for _, sd := range desc.Streams {
		s.ms.add("/"+desc.ServiceName+"/"+sd.StreamName, true, &candidate{impl: impl, stream: sd.Handler})
	}
}

func (s *Server) checkNew(desc *grpc.ServiceDesc, method string) {
	if s.ms.lookup("/"+desc.ServiceName+"/"+method) != nil {
		panic("dualrungrpc: RegisterCandidate: a candidate of " + desc.ServiceName + " is registered already")
	}
}

// UnaryServerInterceptor returns the interceptor that shadows the unary
// methods that have a candidate. Install it last (innermost), so that both
// implementations run behind the same interceptors: the candidate is
// called directly, without the interceptors that come after this one.
//
// On a compared call the shadow gets a copy of the request, made before
// the primary starts, and a context with the caller's values (incoming
// metadata, peer), dualrun.IsShadow(ctx) true and the deadline of
// dualrun's shadow context. Headers and trailers it sets (grpc.SetHeader,
// grpc.SetTrailer, grpc.SendHeader) go nowhere: only the primary's reach
// the client. The primary's response is not copied: gRPC only reads it,
// to send it, and so does the comparison; a handler must not change a
// response after returning it. Uncompared calls cost a lookup and the
// rollout's decision, and allocate nothing.
func (s *Server) UnaryServerInterceptor() grpc.UnaryServerInterceptor { return s.intercept }

// StreamServerInterceptor returns the interceptor of streaming methods
// that have a candidate. They are not compared: each runs on the
// implementation the rollout makes primary, and is counted in its method's
// experiment as an uncompared call.
func (s *Server) StreamServerInterceptor() grpc.StreamServerInterceptor { return s.interceptStream }

// Stats returns the statistics of every method with a candidate, sorted
// by full method name.
func (s *Server) Stats() []MethodStats { return s.ms.stats() }

// Shutdown stops new shadows and waits until every running shadow has
// returned and every comparison is recorded and published, or until ctx
// ends (then it returns ctx.Err()). Calls go on afterwards, to the primary
// only. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error { return s.ms.shutdown(ctx) }

// Unregister releases the Server's experiments from the process
// (dualrun.AllStats, the debug page, their OpenTelemetry series). Call
// Shutdown first to wait for running shadows.
func (s *Server) Unregister() { s.ms.unregister() }

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	m := s.ms.lookup(info.FullMethod)
	if m == nil {
		return handler(ctx, req)
	}
	if m.unary == nil || m.cand == nil || m.cand.unary == nil {
		m.uncompared.Add(1)
		return handler(ctx, req)
	}
	d := m.unary.Decide(ctx)
	var reqMsg proto.Message
	if d.Shadow {
		var okReq bool
		reqMsg, okReq = req.(proto.Message)
		if !okReq || !m.shadow {
			d.Shadow = false
			m.uncompared.Add(1)
		}
	}
	if !d.Shadow {
		sc := s.calls.Get().(*serverCall)
		sc.set(m, info, req, handler, d.Primary)
		sc.candReq = req
		_, err := m.unary.RunDecision(ctx, d, sc.legacyF, sc.candidateF)
		resp := sc.resp
		sc.clear()
		s.calls.Put(sc)
		return resp, err
	}
	sc := newServerCall()
	sc.set(m, info, req, handler, d.Primary)
	sc.compared = true
	sc.shadowReq = proto.Clone(reqMsg)
	sc.candReq = req
	if d.Primary == dualrun.Legacy {
		sc.candReq = sc.shadowReq
	}
	_, err := m.unary.RunDecision(ctx, d, sc.legacyF, sc.candidateF)
	return sc.resp, err
}

// serverCall is one unary call: what both sides need to run it.
type serverCall struct {
	m       *method
	method  string
	req     any
	handler grpc.UnaryHandler
	primary dualrun.Side
	resp    any // the primary's response, for the caller

	compared  bool
	shadowReq proto.Message // a compared call's copy of the request
	candReq   any           // the request the candidate gets

	// The sides, made once per serverCall (pooled for uncompared calls),
	// and the interceptor through which the candidate's generated handler
	// hands candReq to its method.
	legacyF, candidateF dualrun.Func[*reply]
	passReq             grpc.UnaryServerInterceptor

	// primaryRan is set by the primary's run: a later run of the same side
	// (dualrun.WithCalibration runs legacy again after the call returned)
	// runs as a shadow does, on a transport stream of its own.
	primaryRan atomic.Bool
}

func newServerCall() *serverCall {
	sc := &serverCall{}
	sc.legacyF, sc.candidateF, sc.passReq = sc.legacy, sc.candidate, sc.pass
	return sc
}

func (sc *serverCall) set(m *method, info *grpc.UnaryServerInfo, req any, handler grpc.UnaryHandler, primary dualrun.Side) {
	sc.m, sc.method, sc.req, sc.handler, sc.primary = m, info.FullMethod, req, handler, primary
}

func (sc *serverCall) clear() {
	*sc = serverCall{legacyF: sc.legacyF, candidateF: sc.candidateF, passReq: sc.passReq}
}

// legacy runs the call on the implementation the grpc.Server serves.
func (sc *serverCall) legacy(ctx context.Context) (*reply, error) {
	if sc.primary == dualrun.Legacy && sc.primaryRan.CompareAndSwap(false, true) {
		return sc.primaryResult(sc.handler(ctx, sc.req))
	}
	return shadowReply(sc.handler(shadowStream(ctx, sc.method), sc.shadowReq))
}

// candidate runs the call on the candidate implementation, through its
// generated handler: the request is handed over by passReq, not decoded.
func (sc *serverCall) candidate(ctx context.Context) (*reply, error) {
	c := sc.m.cand
	if sc.primary == dualrun.Candidate && sc.primaryRan.CompareAndSwap(false, true) {
		return sc.primaryResult(c.unary(c.impl, ctx, noDecode, sc.passReq))
	}
	return shadowReply(c.unary(c.impl, shadowStream(ctx, sc.method), noDecode, sc.passReq))
}

// pass is the interceptor given to the candidate's generated handler: it
// calls the method with candReq instead of the empty request the handler
// made.
func (sc *serverCall) pass(ctx context.Context, _ any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(ctx, sc.candReq)
}

// noDecode is the generated handler's decoder: the request is handed over
// by the interceptor instead.
func noDecode(any) error { return nil }

func (sc *serverCall) primaryResult(resp any, err error) (*reply, error) {
	sc.resp = resp
	if err != nil || !sc.compared {
		return nil, err
	}
	msg, _ := resp.(proto.Message)
	return &reply{msg: msg, raw: resp}, nil
}

func shadowReply(resp any, err error) (*reply, error) {
	if err != nil {
		return nil, err
	}
	msg, _ := resp.(proto.Message)
	return &reply{msg: msg, raw: resp}, nil
}

// shadowStream gives the shadow a transport stream of its own, so that the
// headers and trailers it sets never reach the client.
func shadowStream(ctx context.Context, fullMethod string) context.Context {
	return grpc.NewContextWithServerTransportStream(ctx, &discardStream{method: fullMethod})
}

// discardStream is the shadow's grpc.ServerTransportStream: what the
// shadow sets goes nowhere.
type discardStream struct{ method string }

func (s *discardStream) Method() string               { return s.method }
func (s *discardStream) SetHeader(metadata.MD) error  { return nil }
func (s *discardStream) SendHeader(metadata.MD) error { return nil }
func (s *discardStream) SetTrailer(metadata.MD) error { return nil }

func (s *Server) interceptStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	m := s.ms.lookup(info.FullMethod)
	if m == nil {
		return handler(srv, ss)
	}
	m.uncompared.Add(1)
	if m.streams == nil || m.cand == nil || m.cand.stream == nil {
		return handler(srv, ss)
	}
	ctx := ss.Context()
	d := m.streams.Decide(ctx)
	d.Shadow = false
	_, err := m.streams.RunDecision(ctx, d,
		func(context.Context) (any, error) { return nil, handler(srv, ss) },
		func(context.Context) (any, error) { return nil, m.cand.stream(m.cand.impl, ss) })
	return err
}
