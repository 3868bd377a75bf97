package dualrunhttp

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/compare"
)

// response is one side's response as an experiment compares it: the
// status and compared headers (secrets redacted) at the time the side wrote
// its header, and the recording, which the comparison reads once both
// sides are done (see [compareConfig.differ]).
type response struct {
	status int
	header map[string]string
	raw    *recording
}

// String describes r by its status and compared headers. The core prints a
// value this way when it has no comparison to show (a Report of a call on
// which only one side erred): String never reads the recording, whose body
// the caller of a Transport may still be reading, and so still writing.
func (r *response) String() string {
	if r == nil {
		return "<nil>"
	}
	var b strings.Builder
	b.WriteString("status ")
	b.WriteString(strconv.Itoa(r.status))
	for _, name := range slices.Sorted(maps.Keys(r.header)) {
		b.WriteString(", " + name + ": " + r.header[name])
	}
	return b.String()
}

// recording is what one side wrote: status, the headers the comparison
// needs, and the body. A side's writes and the comparison meet here: the
// writes of a side stop being recorded once it is done (a handler's
// goroutine that writes late), under mu.
type recording struct {
	mu          sync.Mutex
	cfg         *compareConfig
	rt          *route
	wrote       bool
	done        bool
	status      int
	header      map[string]string
	contentType string
	encoding    string
	body        bodyCapture
	hijacked    bool
	// noted is set once the comparison counted this side as hijacked or
	// its body as unread: calibration compares the same side again.
	noted atomic.Bool
	// ready, when not nil, is closed once the body is complete (the
	// caller of a Transport read it to the end) or abandoned; complete
	// says which.
	ready    chan struct{}
	complete bool
}

func newRecording(cfg *compareConfig, rt *route, limit int64) *recording {
	return &recording{cfg: cfg, rt: rt, body: bodyCapture{limit: limit}}
}

// writeHeader records the final status and the header at that moment.
// Informational statuses (1xx but 101) are not final.
func (r *recording) writeHeader(code int, h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wrote || r.done || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		return
	}
	r.wrote, r.status = true, code
	r.snapshot(h)
}

func (r *recording) snapshot(h http.Header) {
	r.contentType, r.encoding = h.Get("Content-Type"), h.Get("Content-Encoding")
	r.header = r.cfg.snapshot(h)
}

// write records body bytes the side wrote.
func (r *recording) write(p []byte) {
	r.mu.Lock()
	if !r.done {
		r.body.write(p)
	}
	r.mu.Unlock()
}

// finish ends the recording and returns the side's response. A side that
// never wrote a header sent 200 with the header it had at the end.
func (r *recording) finish(h http.Header) *response {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.wrote {
		r.wrote, r.status = true, http.StatusOK
		if h != nil && !r.hijacked {
			r.snapshot(h)
		}
	}
	r.done = true
	return &response{status: r.status, header: r.header, raw: r}
}

// response returns the side's response as recorded so far, for a side
// whose body is still being recorded.
func (r *recording) response() *response {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &response{status: r.status, header: r.header, raw: r}
}

// bodyComplete reports whether the whole body was recorded; it waits for
// nothing.
func (r *recording) bodyComplete() bool {
	if r.ready == nil {
		return true
	}
	select {
	case <-r.ready:
		return r.complete
	default:
		return false
	}
}

// compareConfig is how responses are compared.
type compareConfig struct {
	headers   []string
	secrets   []string
	ignore    []pattern
	unordered []pattern
	bytesOnly bool
	matcher   *matcher
}

// DefaultSecretHeaders are the headers whose values never appear in
// Reports, whatever the options.
var DefaultSecretHeaders = []string{"Authorization", "Cookie", "Proxy-Authorization", "Set-Cookie"}

func defaultCompareConfig() compareConfig {
	return compareConfig{
		headers: []string{"Content-Type"},
		secrets: slices.Clone(DefaultSecretHeaders),
	}
}

// resolve finishes the configuration once the options are applied.
func (c *compareConfig) resolve() {
	c.matcher = newMatcher(c.ignore, c.unordered)
}

// snapshot returns the compared headers of h, secrets redacted, or nil.
func (c *compareConfig) snapshot(h http.Header) map[string]string {
	var out map[string]string
	for _, name := range c.headers {
		vs, ok := h[name]
		if !ok {
			continue
		}
		v := strings.Join(vs, ", ")
		if slices.Contains(c.secrets, name) {
			v = redact(v)
		}
		if out == nil {
			out = make(map[string]string, len(c.headers))
		}
		out[name] = v
	}
	return out
}

// redactKey keys the hash that stands for a secret header's value: equal
// values give equal tags, so secrets are still compared, but a tag cannot
// be tried against guesses outside this process.
var redactKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	return k
})

func redact(v string) string {
	m := hmac.New(sha256.New, redactKey())
	m.Write([]byte(v))
	return "[redacted " + hex.EncodeToString(m.Sum(nil)[:6]) + "]"
}

// part is one differing part of two responses: the status, a compared
// header, or a place in the bodies.
type part struct {
	// path names the part as Reports, Stats.Fields and the dualrun.field
	// attribute show it: "status", "header Content-Type", "body" (bytes)
	// or a folded JSON path such as "$.items[*].price".
	path string
	// at is the first concrete JSON path of a folded one, such as
	// "$.items[3].price", or "".
	at string
	// legacy and candidate describe the two sides there, briefly.
	legacy, candidate string
}

// newPart is a part whose texts tell the sides apart even when they read
// the same (a string "1" and a number 1 are told apart by their JSON).
func newPart(path, legacy, candidate string) part {
	if legacy == candidate {
		legacy, candidate = legacy+" (legacy)", candidate+" (candidate)"
	}
	return part{path: path, legacy: legacy, candidate: candidate}
}

// differ is the experiments' comparison (dualrun.WithDiffer), called
// once per compared call after both sides are done, on the shadow's
// goroutine (and again by calibration, on the same goroutine). The
// differing parts' paths become the core's: Report.Paths, Stats.Fields,
// dualrun.mismatch.fields and mismatch classes; the Report's Diff shows
// both sides at each of them.
func (c *compareConfig) differ(l, r *response) dualrun.Difference {
	parts, equal := c.compare(l, r)
	if equal {
		return dualrun.Difference{Equal: true}
	}
	paths := make([]string, len(parts))
	for i, p := range parts {
		paths[i] = p.path
	}
	return dualrun.Difference{Paths: paths, Diff: func(limit int) string { return describeParts(parts, limit) }}
}

// compare returns the parts on which two responses differ, and whether
// they are equal. A hijacked side has no response: not equal, no part
// (the ignore rule hijacked makes the call ignored).
func (c *compareConfig) compare(l, r *response) ([]part, bool) {
	if l == nil || r == nil || l.raw == nil || r.raw == nil {
		if l == r {
			return nil, true
		}
		return []part{newPart("response", l.String(), r.String())}, false
	}
	if l.raw.hijacked || r.raw.hijacked {
		noteOnce(l.raw, r.raw, func(rec *recording) bool { return rec.hijacked }, &l.raw.rt.hijacked)
		return nil, false
	}
	var parts []part
	if l.status != r.status {
		parts = append(parts, newPart("status", strconv.Itoa(l.status), strconv.Itoa(r.status)))
	}
	for _, name := range c.headers {
		v, lok := l.header[name]
		w, rok := r.header[name]
		if lok != rok || v != w {
			parts = append(parts, newPart("header "+name, headerText(v, lok), headerText(w, rok)))
		}
	}
	parts = c.bodies(parts, l.raw, r.raw)
	return parts, len(parts) == 0
}

// noteOnce adds one to n the first time a comparison meets a side for
// which has is true (hijacked, body unread): calibration compares the
// primary's side again, and must not count it twice.
func noteOnce(l, r *recording, has func(*recording) bool, n *atomic.Int64) {
	for _, rec := range [...]*recording{l, r} {
		if has(rec) {
			if rec.noted.CompareAndSwap(false, true) {
				n.Add(1)
			}
			return
		}
	}
}

// maxHeaderText bounds the text of a header value in a Report.
const maxHeaderText = 256

func headerText(v string, ok bool) string {
	if !ok {
		return "<missing>"
	}
	return strconv.Quote(cutUTF8(v, maxHeaderText))
}

// describeParts is the Diff of a Report: each differing part, then the
// legacy (-) and candidate (+) sides there, in at most limit bytes.
//
//	$.items[*].price (at $.items[3].price)
//	  - 10
//	  + 11
func describeParts(parts []part, limit int) string {
	var b strings.Builder
	for _, p := range parts {
		if b.Len() > limit {
			break
		}
		b.WriteString(p.path)
		if p.at != "" {
			b.WriteString(" (at " + p.at + ")")
		}
		b.WriteString("\n  - " + p.legacy + "\n  + " + p.candidate + "\n")
	}
	return compare.Truncate(b.String(), limit)
}

// hijacked is the experiments' ignore rule: a hijacked connection has no
// response to compare.
func hijacked(l, r dualrun.Result[*response]) bool {
	return l.Value != nil && l.Value.raw != nil && l.Value.raw.hijacked ||
		r.Value != nil && r.Value.raw != nil && r.Value.raw.hijacked
}

// experimentOptions are the comparison options of every experiment.
func (c *compareConfig) experimentOptions() []dualrun.Option {
	return []dualrun.Option{
		dualrun.WithDiffer(c.differ),
		dualrun.WithIgnore(hijacked),
	}
}

// bodies appends the parts on which the bodies of two recordings differ.
// A body the caller of a Transport did not read to its end is not
// compared.
func (c *compareConfig) bodies(parts []part, lr, rr *recording) []part {
	if !lr.bodyComplete() || !rr.bodyComplete() {
		noteOnce(lr, rr, func(rec *recording) bool { return !rec.bodyComplete() }, &lr.rt.bodyUnread)
		return parts
	}
	lb, rb := &lr.body, &rr.body
	if lb.hashed() || rb.hashed() {
		if lb.n != rb.n || !bytes.Equal(lb.digest(), rb.digest()) {
			parts = append(parts, newPart("body", describeHashed(lb.n, lb.digest()), describeHashed(rb.n, rb.digest())))
		}
		return parts
	}
	x, y := lb.decoded(lr.encoding), rb.decoded(rr.encoding)
	if bytes.Equal(x, y) {
		return parts // equal bytes are equal JSON: nothing to parse
	}
	if !c.bytesOnly && isJSON(lr.contentType) && isJSON(rr.contentType) {
		if js, ok := c.json(x, y); ok {
			return append(parts, js...)
		}
	}
	lt, rt := describeBytes(x, y)
	return append(parts, newPart("body", lt, rt))
}

// json returns the parts on which two JSON bodies differ; ok is false when
// neither parses, so that they are compared as bytes.
func (c *compareConfig) json(x, y []byte) (parts []part, ok bool) {
	a, errA := parseJSON(x)
	b, errB := parseJSON(y)
	switch {
	case errA != nil && errB != nil:
		return nil, false
	case errA != nil:
		return []part{newPart("$", "invalid JSON: "+cutUTF8(errA.Error(), maxValueText), valueText(b))}, true
	case errB != nil:
		return []part{newPart("$", valueText(a), "invalid JSON: "+cutUTF8(errB.Error(), maxValueText))}, true
	}
	return diffJSON(c.matcher, a, b), true
}
