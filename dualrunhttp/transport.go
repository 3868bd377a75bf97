package dualrunhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/safe"
)

// ShadowTransport sends each request to a legacy and a candidate upstream
// side by side. Make it with [NewTransport] or [Transport]; it is safe for
// concurrent use. The zero value is not usable.
type ShadowTransport struct {
	front
	legacy, candidate http.RoundTripper
}

// Transport returns an http.RoundTripper for client-side migrations (an
// upstream service moves to a new one). It is [NewTransport] for those who
// need no Shutdown.
func Transport(legacy, candidate http.RoundTripper, opts ...Option) http.RoundTripper {
	return NewTransport(legacy, candidate, opts...)
}

// NewTransport returns a ShadowTransport of legacy and candidate. Either
// may be nil for http.DefaultTransport; then [WithCandidateURL] (or
// [WithCandidateRequest]) says where the candidate is.
//
// On every request the experiment decides which side is primary and
// whether the other runs as a shadow. The primary's response is returned
// as its RoundTripper returned it: status, header and trailer untouched,
// its body streaming to the caller as it arrives (on compared calls,
// through a reader that records what the caller reads). The shadow gets
// the same request (the candidate's rewritten by WithCandidateURL and
// WithCandidateRequest) in a context for which dualrun.IsShadow is true;
// its response is read to the end and closed. Request bodies reach both
// sides intact: on compared calls the body is buffered (up to
// WithMaxRequestBody; a longer body runs the primary only).
//
// The bodies are compared once the caller has read the primary's body to
// its end (or closed it early: then only status and headers are compared,
// counted in RouteStats.BodyUnread). A caller that keeps the body open
// past the shadow timeout makes the call a timeout.
//
// Only GET, HEAD and OPTIONS are compared unless [WithMethods] says
// otherwise. Requests made in a shadow's context (dualrun.IsShadow) are
// sent to the primary only, counted as [SkipNestedShadow]: the outbound
// calls of a shadow handler (of a ShadowHandler, or of any dualrun
// experiment) are not shadowed again.
func NewTransport(legacy, candidate http.RoundTripper, opts ...Option) *ShadowTransport {
	if legacy == nil {
		legacy = http.DefaultTransport
	}
	if candidate == nil {
		candidate = http.DefaultTransport
	}
	t := &ShadowTransport{legacy: legacy, candidate: candidate}
	t.cfg = newConfig(DefaultClientName, opts)
	t.routes = newRoutes(&t.cfg)
	return t
}

// RoundTrip sends one request.
func (t *ShadowTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt, r, d := t.decide(req)
	c := &transportCall{t: t, rt: rt, req: r}
	if d.Shadow && req.Body != nil && req.Body != http.NoBody {
		c.body = bufferBody(req.Body, req.ContentLength, t.cfg.maxRequest)
		c.hasBody = true
		if !c.body.ok {
			rt.skip(c.body.reason)
			d.Shadow = false
		} else {
			_ = req.Body.Close() // read to the end: the sides get copies
		}
	}
	legacy, candidate := c.direct, c.directCandidate
	if d.Shadow {
		c.primarySide = d.Primary
		c.ready = make(chan struct{})
		c.prepareShadow()
		legacy, candidate = c.primary, c.shadow
		if d.Primary == dualrun.Candidate {
			legacy, candidate = c.shadow, c.primary
		}
	}
	_, err := rt.exp.RunDecision(r.Context(), d, legacy, candidate)
	if err != nil {
		return nil, err
	}
	return c.resp, nil
}

// Shutdown stops new shadows (requests go on, primary only) and waits until
// every shadow has finished and been recorded, for every route's
// experiment. It returns ctx.Err() if shadows are still running when ctx
// ends.
func (t *ShadowTransport) Shutdown(ctx context.Context) error { return t.routes.shutdown(ctx) }

// Unregister releases the experiments and this package's instrument
// callback. Requests go on, primary only.
func (t *ShadowTransport) Unregister() { t.routes.unregister() }

// Stats returns a snapshot of the routes' experiments and counters.
func (t *ShadowTransport) Stats() Stats { return t.routes.stats() }

// transportCall is one call of a ShadowTransport.
type transportCall struct {
	t           *ShadowTransport
	rt          *route
	req         *http.Request
	body        buffered
	hasBody     bool
	primarySide dualrun.Side
	resp        *http.Response // the primary's, for the caller
	sreq        *http.Request  // the shadow's
	sreqErr     error          // WithCandidateRequest failed
	lreq        *http.Request  // legacy's, for calibration's second run
	ready       chan struct{}  // closed when the primary's body is done with
	readyOnce   sync.Once
	sent        atomic.Bool // the primary's request was sent
}

// direct runs legacy uncompared: the request as it came.
func (c *transportCall) direct(context.Context) (*response, error) {
	r := c.req
	if c.hasBody {
		r = c.req.WithContext(c.req.Context())
		r.Body = c.body.reader(nil)
	}
	resp, err := c.t.legacy.RoundTrip(r)
	c.resp = resp
	return nil, err
}

// directCandidate runs the candidate uncompared.
func (c *transportCall) directCandidate(ctx context.Context) (*response, error) {
	var body io.ReadCloser
	if c.hasBody {
		body = c.body.reader(nil)
	}
	r, err := c.t.candidateRequest(ctx, c.req, body, c.hasBody)
	if err != nil {
		return nil, err
	}
	resp, err := c.t.candidate.RoundTrip(r)
	c.resp = resp
	return nil, err
}

func (c *transportCall) done() { c.readyOnce.Do(func() { close(c.ready) }) }

// primary sends the primary's request, and returns its response to the
// caller with a body that records what the caller reads. It is never
// recovered.
//
// dualrun's calibration (WithCalibration) runs legacy a second time, in a
// shadow context, once the call is over: that run, when legacy is the
// primary, sends a copy of legacy's request made before the call (the
// caller may have reused req since) and reads the response like a
// shadow's; the caller's response is not touched.
func (c *transportCall) primary(ctx context.Context) (res *response, err error) {
	if c.sent.Swap(true) {
		if c.lreq == nil {
			return nil, errNoSecondRun
		}
		return c.fetch(ctx, c.t.legacy, c.lreq, true)
	}
	wrapped := false
	defer func() {
		if !wrapped {
			c.done() // no body to wait for: the shadow must not wait
		}
	}()
	var r *http.Request
	if c.primarySide == dualrun.Candidate {
		var body io.ReadCloser
		if c.hasBody {
			body = c.body.copyReader()
		}
		r, err = c.t.candidateRequest(ctx, c.req, body, c.hasBody)
		if err != nil {
			return nil, err
		}
	} else {
		r = c.req
		if c.hasBody {
			r = c.req.WithContext(c.req.Context())
			r.Body = c.body.copyReader()
			setGetBody(r, &c.body)
		}
	}
	rt := c.t.legacy
	if c.primarySide == dualrun.Candidate {
		rt = c.t.candidate
	}
	resp, err := rt.RoundTrip(r)
	c.resp = resp
	if err != nil {
		return nil, err
	}
	rec := newRecording(&c.t.cfg.cmp, c.rt, c.t.cfg.maxResponse)
	rec.writeHeader(resp.StatusCode, resp.Header)
	res = rec.response() // the body is still to come
	if resp.Body != nil && resp.Body != http.NoBody {
		rec.ready = c.ready
		resp.Body = &teeBody{rc: resp.Body, rec: rec, done: c.done}
		wrapped = true
	}
	return res, nil
}

// errNoSecondRun fails a second run of the primary that no copy of its
// request was kept for; calibration then skips that sample.
var errNoSecondRun = errors.New("dualrunhttp: the primary's request was not kept for a second run")

// prepareShadow makes the shadow's request now, on the caller's
// goroutine: once RoundTrip has returned and the body is closed, the
// caller may change or reuse req. With calibration and legacy primary, it
// keeps a copy of legacy's request too.
func (c *transportCall) prepareShadow() {
	if c.primarySide == dualrun.Candidate {
		c.sreq = c.req.Clone(c.req.Context()) // legacy's: fetch adds the body
		return
	}
	if c.t.routes.calibrated {
		c.lreq = c.req.Clone(c.req.Context())
	}
	var body io.ReadCloser
	if c.hasBody {
		body = c.body.copyReader()
	}
	c.sreq, c.sreqErr = c.t.candidateRequest(c.req.Context(), c.req, body, c.hasBody)
	if c.sreqErr == nil && c.hasBody {
		setGetBody(c.sreq, &c.body)
	}
}

// shadow sends the shadow's request, reads its response to the end, then
// waits (within the shadow's deadline) until the caller is done with the
// primary's body, so that the comparison sees both bodies whole. It may
// run twice: calibration runs legacy again when legacy is the shadow.
func (c *transportCall) shadow(ctx context.Context) (*response, error) {
	if c.sreqErr != nil {
		return nil, c.sreqErr
	}
	// Legacy's request gets a fresh copy of the body on every run; the
	// candidate's runs once, with the body WithCandidateRequest left it.
	rt, isLegacy := c.t.candidate, c.primarySide == dualrun.Candidate
	if isLegacy {
		rt = c.t.legacy
	}
	res, err := c.fetch(ctx, rt, c.sreq, isLegacy)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
	}
	return res, nil
}

// fetch sends a copy of req in ctx through rt (with a fresh copy of the
// buffered body if freshBody), and reads the response to its end.
func (c *transportCall) fetch(ctx context.Context, rt http.RoundTripper, req *http.Request, freshBody bool) (*response, error) {
	r := req.WithContext(ctx)
	if freshBody && c.hasBody {
		r.Body = c.body.copyReader()
		setGetBody(r, &c.body)
	}
	resp, err := rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	rec := newRecording(&c.t.cfg.cmp, c.rt, c.t.cfg.maxResponse)
	rec.writeHeader(resp.StatusCode, resp.Header)
	_, err = io.Copy(&rec.body, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	return rec.finish(nil), nil
}

// candidateRequest returns the candidate's copy of req in ctx, with body,
// rewritten by WithCandidateURL and WithCandidateRequest.
func (t *ShadowTransport) candidateRequest(ctx context.Context, req *http.Request, body io.ReadCloser, hasBody bool) (*http.Request, error) {
	r := req.Clone(ctx)
	if hasBody {
		r.Body = body
	}
	if u := t.cfg.candidateURL; u != nil {
		r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
		if u.User != nil {
			r.URL.User = u.User
		}
		r.URL.Path, r.URL.RawPath = joinPath(u, r.URL)
		r.Host = ""
	}
	if t.cfg.candidateReq != nil {
		if err := safe.Call("WithCandidateRequest hook", func() { t.cfg.candidateReq(r) }, nil); err != nil {
			if body != nil {
				_ = body.Close()
			}
			return nil, err
		}
	}
	return r, nil
}

// joinPath prefixes base's path to u's, with one slash between them.
func joinPath(base, u *url.URL) (path, rawPath string) {
	if base.Path == "" || base.Path == "/" {
		return u.Path, u.RawPath
	}
	path = strings.TrimSuffix(base.Path, "/") + "/" + strings.TrimPrefix(u.Path, "/")
	if base.RawPath == "" && u.RawPath == "" {
		return path, ""
	}
	return path, strings.TrimSuffix(base.EscapedPath(), "/") + "/" + strings.TrimPrefix(u.EscapedPath(), "/")
}

// setGetBody lets the transport replay the buffered body (redirects,
// retries on a reused connection).
func setGetBody(r *http.Request, b *buffered) {
	r.GetBody = func() (io.ReadCloser, error) { return b.copyReader(), nil }
}

// teeBody is the primary's response body on a compared call: reads and
// Close go to the real body, and what the caller reads is recorded.
type teeBody struct {
	rc   io.ReadCloser
	rec  *recording
	done func()
	mu   sync.Mutex
	end  bool
}

// Read reads from the real body and records what it returned.
func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	if !b.end {
		b.rec.body.write(p[:max(0, min(n, len(p)))])
		if err != nil {
			b.finish(errors.Is(err, io.EOF))
		}
	}
	b.mu.Unlock()
	return n, err
}

// Close closes the real body; a body closed before its end is not
// compared.
func (b *teeBody) Close() error {
	err := b.rc.Close()
	b.mu.Lock()
	if !b.end {
		b.finish(false)
	}
	b.mu.Unlock()
	return err
}

// finish marks the body recorded (complete or not) and lets the shadow
// side go on. b.mu is held.
func (b *teeBody) finish(complete bool) {
	b.end = true
	b.rec.mu.Lock()
	b.rec.complete, b.rec.done = complete, true
	b.rec.mu.Unlock()
	b.done()
}
