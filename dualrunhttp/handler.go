package dualrunhttp

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/dualrun/dualrun"
)

// ShadowHandler runs a legacy and a candidate http.Handler side by side.
// Make it with [NewHandler] or [Handler]; it is safe for concurrent use.
// The zero value is not usable.
type ShadowHandler struct {
	front
	legacy, candidate http.Handler
}

// Handler returns an http.Handler that serves each request with the
// primary handler the rollout decides (legacy by default) and, on compared
// calls, runs the other one as a shadow and compares the two responses. It
// is [NewHandler] for those who need no Shutdown.
func Handler(legacy, candidate http.Handler, opts ...Option) http.Handler {
	return NewHandler(legacy, candidate, opts...)
}

// NewHandler returns a ShadowHandler of legacy and candidate.
//
// On every request the route's experiment decides which handler is
// primary and whether the other runs as a shadow. The primary writes to
// the real ResponseWriter, unbuffered: streaming, Flush, Hijack, HTTP/2
// and http.ResponseController work as without dualrun. On calls that are
// not compared the primary gets the real writer itself; on compared calls
// a wrapper that records what passes through, with exactly the
// http.Flusher, http.Hijacker and http.Pusher of the real writer, and
// Unwrap for http.ResponseController (deadlines, full duplex). It does
// not pass on io.ReaderFrom (so no sendfile on compared calls) nor the
// deprecated http.CloseNotifier. The shadow gets a clone of the request, with the body
// buffered (up to WithMaxRequestBody; a longer body runs the primary only,
// counted as SkipRequestTooLarge), a context for which dualrun.IsShadow is
// true, and a recorder: it never writes to the client. Once both are done
// the responses are compared in the background: status, the headers of
// WithHeaders, and the body (see the package documentation).
//
// Only GET, HEAD and OPTIONS are compared unless [WithMethods] says
// otherwise: other methods run the primary only. Requests that upgrade the
// connection, and requests made in a shadow's context (a ShadowHandler
// mounted inside a handler that runs as a shadow), are never compared.
//
// NewHandler panics if a handler is nil or an experiment option is
// invalid.
func NewHandler(legacy, candidate http.Handler, opts ...Option) *ShadowHandler {
	if legacy == nil || candidate == nil {
		panic("dualrunhttp: NewHandler: the legacy and candidate handlers must not be nil")
	}
	h := &ShadowHandler{legacy: legacy, candidate: candidate}
	h.cfg = newConfig(DefaultServerName, opts)
	h.routes = newRoutes(&h.cfg)
	h.mux, _ = legacy.(*http.ServeMux)
	return h
}

// ServeHTTP serves one request.
func (h *ShadowHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, r, d := h.decide(r)
	if d.Shadow && r.Body != nil && r.Body != http.NoBody {
		body := bufferBody(r.Body, r.ContentLength, h.cfg.maxRequest)
		orig := r.Body
		r = r.WithContext(r.Context()) // a shallow copy, to change its Body
		r.Body = body.reader(orig)
		if !body.ok {
			rt.skip(body.reason)
			d.Shadow = false
		} else {
			c := h.newCall(rt, d, w, r)
			c.body, c.hasBody = body, true
			_, _ = rt.exp.RunDecision(r.Context(), d, c.legacy, c.candidate)
			return
		}
	}
	if d.Shadow {
		c := h.newCall(rt, d, w, r)
		_, _ = rt.exp.RunDecision(r.Context(), d, c.legacy, c.candidate)
		return
	}
	u := uncomparedPool.Get().(*uncompared)
	u.h, u.w, u.r, u.side = h, w, r, d.Primary
	_, _ = rt.exp.RunDecision(r.Context(), d, u.fn, u.fn)
	*u = uncompared{fn: u.fn} // a panic above skips this: the pool makes another
	uncomparedPool.Put(u)
}

// Shutdown stops new shadows (requests go on, primary only) and waits until
// every shadow has finished and been recorded, as dualrun's
// Experiment.Shutdown, for every route's experiment. It returns ctx.Err()
// if shadows are still running when ctx ends.
func (h *ShadowHandler) Shutdown(ctx context.Context) error { return h.routes.shutdown(ctx) }

// Unregister releases the experiments (dualrun's Experiment.Unregister)
// and this package's instrument callback. Requests go on, primary only.
func (h *ShadowHandler) Unregister() { h.routes.unregister() }

// Stats returns a snapshot of the routes' experiments and counters.
func (h *ShadowHandler) Stats() Stats { return h.routes.stats() }

// uncompared serves a call without a shadow: the primary gets the real
// writer and request, untouched. It is pooled, with its method value
// bound once, so that such a call allocates nothing of dualrun's.
type uncompared struct {
	h    *ShadowHandler
	w    http.ResponseWriter
	r    *http.Request
	side dualrun.Side
	fn   dualrun.Func[*response]
}

var uncomparedPool = sync.Pool{New: func() any {
	u := &uncompared{}
	u.fn = u.run
	return u
}}

// run serves the side RunDecision runs: a call that is not compared runs
// the primary only, which is the side its decision named.
func (u *uncompared) run(context.Context) (*response, error) {
	if u.side == dualrun.Candidate {
		u.h.candidate.ServeHTTP(u.w, u.r)
	} else {
		u.h.legacy.ServeHTTP(u.w, u.r)
	}
	return nil, nil
}

// handlerCall is one compared call of a ShadowHandler.
type handlerCall struct {
	h       *ShadowHandler
	rt      *route
	primary http.Handler
	shadow  http.Handler
	w       http.ResponseWriter
	r       *http.Request // the primary's
	sr      *http.Request // the shadow's clone
	body    buffered
	hasBody bool
	// served is set once the primary has been served: a second run is
	// calibration's (see runPrimary).
	served atomic.Bool

	legacy, candidate dualrun.Func[*response]
}

func (h *ShadowHandler) newCall(rt *route, d dualrun.Decision, w http.ResponseWriter, r *http.Request) *handlerCall {
	// The shadow's clone is made now, on the caller's goroutine: once the
	// primary runs, its handlers may change r (a ServeMux sets r.Pattern).
	c := &handlerCall{h: h, rt: rt, w: w, r: r, sr: r.Clone(r.Context()), primary: h.legacy, shadow: h.candidate}
	c.legacy, c.candidate = c.runPrimary, c.runShadow
	if d.Primary == dualrun.Candidate {
		c.primary, c.shadow = h.candidate, h.legacy
		c.legacy, c.candidate = c.runShadow, c.runPrimary
	}
	return c
}

// runPrimary serves the primary into the real writer, through a tee. It is
// never recovered: a panic unwinds into net/http as without dualrun.
//
// dualrun's calibration (WithCalibration) runs legacy a second time, in a
// shadow context, once the call is over: that run, when legacy is the
// primary, is served like a shadow, into a recorder. The real writer
// belongs to net/http again once ServeHTTP has returned.
func (c *handlerCall) runPrimary(ctx context.Context) (*response, error) {
	if c.served.Swap(true) {
		return c.serveShadow(ctx, c.primary)
	}
	rec := newRecording(&c.h.cfg.cmp, c.rt, c.h.cfg.maxResponse)
	c.primary.ServeHTTP(wrapWriter(&teeWriter{w: c.w, rec: rec}), c.r)
	return rec.finish(c.w.Header()), nil
}

// runShadow serves the shadow.
func (c *handlerCall) runShadow(ctx context.Context) (*response, error) {
	return c.serveShadow(ctx, c.shadow)
}

// serveShadow serves h into a recorder, with a clone of the request in
// ctx, a shadow's context.
func (c *handlerCall) serveShadow(ctx context.Context, h http.Handler) (*response, error) {
	rec := newRecording(&c.h.cfg.cmp, c.rt, c.h.cfg.maxResponse)
	rw := &recorder{header: make(http.Header), rec: rec}
	var sr *http.Request
	if c.h.routes.calibrated {
		sr = c.sr.Clone(ctx) // legacy may run again: keep c.sr as it came
	} else {
		sr = c.sr.WithContext(ctx) // the only run: c.sr is its own
	}
	if c.hasBody {
		sr.Body = c.body.copyReader()
	}
	h.ServeHTTP(rw, sr)
	return rec.finish(rw.header), nil
}
