package dualrunhttp

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/dualrun/dualrun"
)

// This file holds what the Handler and the Transport share on the request
// side: the route and key of a request, the decision, and the buffering of
// request bodies for compared calls.

// front is the part of a Handler or Transport that decides a call.
type front struct {
	cfg    config
	routes *routes
	mux    *http.ServeMux // the legacy handler, when it is a ServeMux
}

// decide finds the request's experiment and decides the call. ctx carries
// the rollout key, when there is one.
func (f *front) decide(r *http.Request) (*route, *http.Request, dualrun.Decision) {
	rt := f.routes.get(f.routeOf(r))
	if f.cfg.key != nil {
		if k := nameOf(f.cfg.key, r, &f.routes.keyFailures); k != "" {
			r = r.WithContext(dualrun.WithKey(r.Context(), k))
		}
	}
	d := rt.exp.Decide(r.Context())
	if d.Shadow {
		if reason, skip := f.skip(r); skip {
			rt.skip(reason)
			d.Shadow = false
		}
	}
	return rt, r, d
}

func (f *front) routeOf(r *http.Request) string {
	if f.cfg.route != nil {
		return nameOf(f.cfg.route, r, &f.routes.routeFailures)
	}
	if r.Pattern != "" {
		return r.Pattern
	}
	if f.mux != nil {
		_, p := f.mux.Handler(r)
		return p
	}
	return ""
}

// skip says whether a call the policy chose to compare must run the
// primary only, and why (the body's size is checked later, by reading it).
func (f *front) skip(r *http.Request) (SkipReason, bool) {
	if dualrun.IsShadow(r.Context()) {
		return SkipNestedShadow, true
	}
	if !slices.Contains(f.cfg.methods, r.Method) {
		return SkipMethod, true
	}
	if r.Method == http.MethodConnect || r.Header.Get("Upgrade") != "" ||
		headerHasToken(r.Header, "Connection", "upgrade") {
		return SkipUpgrade, true
	}
	return 0, false
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[name] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// buffered is a request body read for a compared call.
type buffered struct {
	data []byte
	// rest is what a too-large or failed read left: the primary reads
	// data, then rest, so that it gets the body intact.
	rest   io.ReadCloser
	reason SkipReason
	ok     bool // the whole body is in data
}

// bufferBody reads body for a compared call, up to limit bytes.
func bufferBody(body io.ReadCloser, contentLength, limit int64) buffered {
	if body == nil || body == http.NoBody {
		return buffered{ok: true}
	}
	var buf bytes.Buffer
	if contentLength > 0 && contentLength <= limit {
		buf.Grow(int(contentLength) + 1) // +1: the read that sees EOF
	}
	_, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	data := buf.Bytes()
	switch {
	case err != nil:
		return buffered{data: data, rest: body, reason: SkipRequestBodyError}
	case int64(len(data)) > limit:
		return buffered{data: data, rest: body, reason: SkipRequestTooLarge}
	}
	return buffered{data: data, ok: true}
}

// reader returns a fresh reader of the whole body: data, then what was
// left unread. Closing it closes closer (the original body, for a
// Handler; nil for a Transport, which closes it itself), or the original
// body when the read stopped early.
func (b *buffered) reader(closer io.Closer) io.ReadCloser {
	if b.rest != nil {
		return readCloser{io.MultiReader(bytes.NewReader(b.data), b.rest), b.rest}
	}
	if len(b.data) == 0 {
		return readCloser{http.NoBody, closer}
	}
	return readCloser{bytes.NewReader(b.data), closer}
}

// copyReader returns a reader of data alone, for the shadow's request.
func (b *buffered) copyReader() io.ReadCloser {
	if len(b.data) == 0 {
		return http.NoBody
	}
	return io.NopCloser(bytes.NewReader(b.data))
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error {
	if r.c == nil {
		return nil
	}
	return r.c.Close()
}
