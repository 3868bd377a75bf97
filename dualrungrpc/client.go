package dualrungrpc

import (
	"context"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/dualrun/dualrun"
)

// Client shadows the calls of a client connection (the legacy backend) to a
// second one (the candidate backend). Make it with [NewClient] and install
// its interceptors on the legacy connection:
//
//	shadow := dualrungrpc.NewClient(candidateConn, opts...)
//	conn, err := grpc.NewClient(legacyTarget,
//		grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()),
//		grpc.WithChainStreamInterceptor(shadow.StreamClientInterceptor()))
//
// Each method has an experiment, named by its full method name. Per call,
// its rollout policy decides which backend is primary and whether the other
// gets the same request as a shadow. The caller gets the primary's
// response, header, trailer and status exactly as without the interceptor;
// the shadow's response is compared with it in the background, as protobuf
// messages. A Client is safe for concurrent use; the zero value is not
// usable.
type Client struct {
	candidate grpc.ClientConnInterface
	ms        *methods
	calls     sync.Pool // *clientCall of uncompared calls
}

// NewClient returns a Client whose shadows (or, when the rollout makes it
// primary, whose calls) go to candidate, usually a *grpc.ClientConn to the
// new backend. It panics if candidate is nil.
func NewClient(candidate grpc.ClientConnInterface, opts ...Option) *Client {
	if candidate == nil {
		panic("dualrungrpc: NewClient: the candidate connection is nil")
	}
	c := &Client{candidate: candidate, ms: newMethods(newConfig(opts))}
	c.calls.New = func() any { return newClientCall(c) }
	return c
}

// UnaryClientInterceptor returns the interceptor that shadows unary calls.
// Install it last among the connection's interceptors (innermost), so that
// the shadow's request is the one the primary sends.
//
// On a compared call the shadow sends a copy of the request, made before
// the primary starts, with the caller's context values (its outgoing
// metadata among them), dualrun.IsShadow(ctx) true, the deadline of
// dualrun's shadow context, and the caller's call options except those that
// write into the caller's variables or call its functions (grpc.Header,
// grpc.Trailer, grpc.Peer, grpc.OnFinish). The primary's response is copied
// (proto.Clone) for the comparison, since the caller owns the message it
// gets. Uncompared calls cost a lookup and the rollout's decision, and
// allocate nothing.
func (c *Client) UnaryClientInterceptor() grpc.UnaryClientInterceptor { return c.intercept }

// StreamClientInterceptor returns the interceptor of streaming calls. They
// are not compared: each goes to the backend the rollout makes primary (the
// legacy connection or the candidate's) and is counted in its method's
// experiment as an uncompared call.
func (c *Client) StreamClientInterceptor() grpc.StreamClientInterceptor { return c.interceptStream }

// Stats returns the statistics of every method the Client has seen, sorted
// by full method name.
func (c *Client) Stats() []MethodStats { return c.ms.stats() }

// Shutdown stops new shadows and waits until every running shadow has
// returned and every comparison is recorded and published, or until ctx
// ends (then it returns ctx.Err()). Calls go on afterwards, to the primary
// only. It is idempotent.
func (c *Client) Shutdown(ctx context.Context) error { return c.ms.shutdown(ctx) }

// Unregister releases the Client's experiments from the process
// (dualrun.AllStats, the debug page, their OpenTelemetry series). Call
// Shutdown first to wait for running shadows.
func (c *Client) Unregister() { c.ms.unregister() }

func (c *Client) intercept(ctx context.Context, fullMethod string, req, resp any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption,
) error {
	m := c.ms.get(fullMethod, false)
	if m.unary == nil {
		m.uncompared.Add(1)
		return invoker(ctx, fullMethod, req, resp, cc, opts...)
	}
	d := m.unary.Decide(ctx)
	var reqMsg, respMsg proto.Message
	if d.Shadow {
		var okReq, okResp bool
		reqMsg, okReq = req.(proto.Message)
		respMsg, okResp = resp.(proto.Message)
		if !okReq || !okResp || !m.shadow {
			d.Shadow = false
			m.uncompared.Add(1)
		}
	}
	if !d.Shadow {
		cl := c.calls.Get().(*clientCall)
		cl.method, cl.req, cl.resp, cl.cc, cl.invoker, cl.opts, cl.primary = fullMethod, req, resp, cc, invoker, opts, d.Primary
		_, err := m.unary.RunDecision(ctx, d, cl.legacyF, cl.candidateF)
		*cl = clientCall{c: c, legacyF: cl.legacyF, candidateF: cl.candidateF}
		c.calls.Put(cl)
		return err
	}
	cl := newClientCall(c)
	cl.method, cl.req, cl.resp, cl.cc, cl.invoker, cl.opts, cl.primary = fullMethod, req, resp, cc, invoker, opts, d.Primary
	cl.compared = true
	cl.respType = respMsg.ProtoReflect().Type()
	cl.shadowReq = proto.Clone(reqMsg)
	cl.shadowOpts = shadowCallOptions(opts)
	_, err := m.unary.RunDecision(ctx, d, cl.legacyF, cl.candidateF)
	return err
}

// clientCall is one unary call: what both sides need to run it.
type clientCall struct {
	c       *Client
	method  string
	req     any
	resp    any
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker
	opts    []grpc.CallOption
	primary dualrun.Side

	// A compared call's shadow sends shadowReq (a copy: the caller may
	// reuse its request once the primary returned) with shadowOpts, into a
	// new message of respType.
	compared   bool
	shadowReq  proto.Message
	shadowOpts []grpc.CallOption
	respType   protoreflect.MessageType

	// The sides, made once per clientCall (pooled for uncompared calls).
	legacyF, candidateF dualrun.Func[*reply]

	// primaryRan is set by the primary's run. A later run of the same side
	// (dualrun.WithCalibration runs legacy again after the call returned,
	// on a dualrun goroutine) must not write into the caller's response: it
	// runs as a shadow does.
	primaryRan atomic.Bool
}

func newClientCall(c *Client) *clientCall {
	cl := &clientCall{c: c}
	cl.legacyF, cl.candidateF = cl.legacy, cl.candidate
	return cl
}

// legacy runs the call on the connection the interceptor is installed on.
func (cl *clientCall) legacy(ctx context.Context) (*reply, error) {
	if cl.primary == dualrun.Legacy && cl.primaryRan.CompareAndSwap(false, true) {
		return cl.primaryResult(cl.invoker(ctx, cl.method, cl.req, cl.resp, cl.cc, cl.opts...))
	}
	out := cl.respType.New().Interface()
	return shadowResult(out, cl.invoker(ctx, cl.method, cl.shadowReq, out, cl.cc, cl.shadowOpts...))
}

// candidate runs the call on the candidate connection.
func (cl *clientCall) candidate(ctx context.Context) (*reply, error) {
	if cl.primary == dualrun.Candidate && cl.primaryRan.CompareAndSwap(false, true) {
		return cl.primaryResult(cl.c.candidate.Invoke(ctx, cl.method, cl.req, cl.resp, cl.opts...))
	}
	out := cl.respType.New().Interface()
	return shadowResult(out, cl.c.candidate.Invoke(ctx, cl.method, cl.shadowReq, out, cl.shadowOpts...))
}

// primaryResult is the primary's side of the comparison: a copy of the
// response the caller got, which is the caller's to change.
func (cl *clientCall) primaryResult(err error) (*reply, error) {
	if err != nil || !cl.compared {
		return nil, err
	}
	return &reply{msg: proto.Clone(cl.resp.(proto.Message))}, nil
}

func shadowResult(out proto.Message, err error) (*reply, error) {
	if err != nil {
		return nil, err
	}
	return &reply{msg: out}, nil
}

// shadowCallOptions are the call options of the shadow: the caller's,
// without those that write into the caller's variables or call the
// caller's functions after the call.
func shadowCallOptions(opts []grpc.CallOption) []grpc.CallOption {
	out := make([]grpc.CallOption, 0, len(opts))
	for _, o := range opts {
		switch o.(type) {
		case grpc.HeaderCallOption, *grpc.HeaderCallOption,
			grpc.TrailerCallOption, *grpc.TrailerCallOption,
			grpc.PeerCallOption, *grpc.PeerCallOption,
			grpc.OnFinishCallOption, *grpc.OnFinishCallOption:
			continue
		}
		out = append(out, o)
	}
	return out
}

func (c *Client) interceptStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, fullMethod string,
	streamer grpc.Streamer, opts ...grpc.CallOption,
) (grpc.ClientStream, error) {
	m := c.ms.get(fullMethod, true)
	m.uncompared.Add(1)
	if m.streams == nil {
		return streamer(ctx, desc, cc, fullMethod, opts...)
	}
	d := m.streams.Decide(ctx)
	d.Shadow = false
	var cs grpc.ClientStream
	_, err := m.streams.RunDecision(ctx, d,
		func(ctx context.Context) (any, error) {
			s, err := streamer(ctx, desc, cc, fullMethod, opts...)
			cs = s
			return nil, err
		},
		func(ctx context.Context) (any, error) {
			s, err := c.candidate.NewStream(ctx, desc, fullMethod, opts...)
			cs = s
			return nil, err
		})
	return cs, err
}
