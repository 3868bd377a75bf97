package dualrunhttp

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
)

// teeWriter is the primary side's ResponseWriter on a compared call: every
// call goes to the real ResponseWriter at once, unbuffered, and what was
// written is recorded for the comparison. It has the optional interfaces
// of the writer it wraps (http.Flusher, http.Hijacker, http.Pusher), and
// Unwrap, so http.ResponseController reaches the real writer for what it
// does not (deadlines, full duplex).
type teeWriter struct {
	w   http.ResponseWriter
	rec *recording
}

// Header returns the real writer's header map.
func (t *teeWriter) Header() http.Header { return t.w.Header() }

// WriteHeader writes the status through, then records it.
func (t *teeWriter) WriteHeader(code int) {
	t.w.WriteHeader(code)
	t.rec.writeHeader(code, t.w.Header())
}

// Write writes p through and records what the real writer took.
func (t *teeWriter) Write(p []byte) (int, error) {
	t.rec.writeHeader(http.StatusOK, t.w.Header()) // a no-op once written
	n, err := t.w.Write(p)
	t.rec.write(p[:max(0, min(n, len(p)))])
	return n, err
}

// Unwrap returns the real writer, for http.ResponseController.
func (t *teeWriter) Unwrap() http.ResponseWriter { return t.w }

type teeFlusher struct{ *teeWriter }

// Flush sends the header, if not yet sent, and flushes the real writer.
func (t teeFlusher) Flush() {
	t.rec.writeHeader(http.StatusOK, t.w.Header())
	t.w.(http.Flusher).Flush()
}

// FlushError is Flush that returns the real writer's error, for
// http.ResponseController.
func (t teeFlusher) FlushError() error {
	t.rec.writeHeader(http.StatusOK, t.w.Header())
	return http.NewResponseController(t.w).Flush()
}

type teeHijacker struct{ *teeWriter }

// Hijack hijacks the real connection; the call then has no response to
// compare.
func (t teeHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := t.w.(http.Hijacker).Hijack()
	if err == nil {
		t.rec.mu.Lock()
		t.rec.hijacked = true
		t.rec.mu.Unlock()
	}
	return c, rw, err
}

type teePusher struct{ *teeWriter }

// Push is the real writer's HTTP/2 server push.
func (t teePusher) Push(target string, opts *http.PushOptions) error {
	return t.w.(http.Pusher).Push(target, opts)
}

// wrapWriter returns t as a ResponseWriter with exactly the optional
// interfaces of the writer it wraps, so that code asserting them sees
// what it would see without dualrun.
func wrapWriter(t *teeWriter) http.ResponseWriter {
	_, f := t.w.(http.Flusher)
	_, h := t.w.(http.Hijacker)
	_, p := t.w.(http.Pusher)
	switch {
	case f && h && p:
		return struct {
			*teeWriter
			teeFlusher
			teeHijacker
			teePusher
		}{t, teeFlusher{t}, teeHijacker{t}, teePusher{t}}
	case f && h:
		return struct {
			*teeWriter
			teeFlusher
			teeHijacker
		}{t, teeFlusher{t}, teeHijacker{t}}
	case f && p:
		return struct {
			*teeWriter
			teeFlusher
			teePusher
		}{t, teeFlusher{t}, teePusher{t}}
	case h && p:
		return struct {
			*teeWriter
			teeHijacker
			teePusher
		}{t, teeHijacker{t}, teePusher{t}}
	case f:
		return struct {
			*teeWriter
			teeFlusher
		}{t, teeFlusher{t}}
	case h:
		return struct {
			*teeWriter
			teeHijacker
		}{t, teeHijacker{t}}
	case p:
		return struct {
			*teeWriter
			teePusher
		}{t, teePusher{t}}
	}
	return t
}

// recorder is the shadow side's ResponseWriter: it records, and never
// writes to the client. It behaves like a server's writer where handlers
// can tell: WriteHeader panics on an invalid code as net/http's does,
// Write sends an implicit 200, a body is refused after 204 and 304, and
// Flush works (as a no-op). It cannot hijack, set deadlines or push:
// http.ResponseController returns http.ErrNotSupported for those.
type recorder struct {
	header http.Header
	rec    *recording
}

// Header returns the shadow's header map.
func (r *recorder) Header() http.Header { return r.header }

// WriteHeader records the status. Like net/http, it panics when code is
// not a valid three-digit status.
func (r *recorder) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	r.rec.writeHeader(code, r.header)
}

// Write records p.
func (r *recorder) Write(p []byte) (int, error) {
	r.rec.writeHeader(http.StatusOK, r.header)
	r.rec.mu.Lock()
	status, done := r.rec.status, r.rec.done
	r.rec.mu.Unlock()
	if done {
		return 0, http.ErrHandlerTimeout
	}
	if status == http.StatusNoContent || status == http.StatusNotModified {
		return 0, http.ErrBodyNotAllowed
	}
	r.rec.write(p)
	return len(p), nil
}

// Flush records the implicit 200 of a flush before any write.
func (r *recorder) Flush() { r.rec.writeHeader(http.StatusOK, r.header) }
