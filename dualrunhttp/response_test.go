package dualrunhttp

import (
	"bytes"
	"compress/gzip"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dualrun/dualrun"
)

// side is one side's response in a comparison test.
type side struct {
	status int
	header http.Header
	body   string
}

func (s side) response(cc *compareConfig, rt *route, limit int64) *response {
	rec := newRecording(cc, rt, limit)
	rec.writeHeader(s.status, s.header)
	rec.write([]byte(s.body))
	return rec.finish(nil)
}

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

var (
	jsonHeader  = http.Header{"Content-Type": {"application/json"}}
	textHeader  = http.Header{"Content-Type": {"text/plain"}}
	gzipHeader  = http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}
	problemJSON = http.Header{"Content-Type": {"application/problem+json; charset=utf-8"}}
)

func TestCompareResponses(t *testing.T) {
	tests := []struct {
		name, reason string
		l, r         side
		configure    func(*compareConfig)
		limit        int64
		want         bool
		paths        []string        // the paths of the differing parts
		texts        map[string]part // some parts in full
	}{
		{name: "equal", reason: "same status, header and bytes", l: side{200, textHeader, "a"}, r: side{200, textHeader, "a"}, want: true},
		{
			name: "status", reason: "the status is compared", l: side{200, textHeader, "a"}, r: side{500, textHeader, "a"}, paths: []string{"status"},
			texts: map[string]part{"status": {path: "status", legacy: "200", candidate: "500"}},
		},
		{
			name: "content type", reason: "compared by default", l: side{200, textHeader, "a"}, r: side{200, http.Header{"Content-Type": {"text/html"}}, "a"}, paths: []string{"header Content-Type"},
			texts: map[string]part{"header Content-Type": {path: "header Content-Type", legacy: `"text/plain"`, candidate: `"text/html"`}},
		},
		{
			name: "header on one side", reason: "a missing header differs", l: side{200, textHeader, "a"}, r: side{200, nil, "a"}, paths: []string{"header Content-Type"},
			texts: map[string]part{"header Content-Type": {path: "header Content-Type", legacy: `"text/plain"`, candidate: "<missing>"}},
		},
		{name: "other headers", reason: "not compared unless chosen", l: side{200, http.Header{"X-Id": {"1"}}, ""}, r: side{200, http.Header{"X-Id": {"2"}}, ""}, want: true},
		{name: "chosen headers", reason: "WithHeaders", configure: func(c *compareConfig) { c.headers = []string{"X-Id"} }, l: side{200, http.Header{"X-Id": {"1"}}, ""}, r: side{200, http.Header{"X-Id": {"2"}}, ""}, paths: []string{"header X-Id"}},
		{
			name: "status, header and body", reason: "every part named, in this order", configure: func(c *compareConfig) { c.headers = []string{"X-Id", "Content-Type"} },
			l: side{200, http.Header{"X-Id": {"1"}, "Content-Type": {"application/json"}}, `{"a":1}`}, r: side{404, http.Header{"X-Id": {"2"}, "Content-Type": {"application/json"}}, `{"a":2}`},
			paths: []string{"status", "header X-Id", "$.a"},
		},
		{
			name: "bytes", reason: "described with the offset of the first difference",
			l: side{200, textHeader, "hello world"}, r: side{200, textHeader, "hello there"}, paths: []string{"body"},
			texts: map[string]part{"body": {path: "body", legacy: `11 bytes, first difference at offset 6: "hello world"`, candidate: `11 bytes, first difference at offset 6: "hello there"`}},
		},
		{name: "JSON as bytes", reason: "text/plain bodies are bytes", l: side{200, textHeader, `{"a":1,"b":2}`}, r: side{200, textHeader, `{"b":2,"a":1}`}, paths: []string{"body"}},
		{name: "JSON", reason: "member order ignored", l: side{200, jsonHeader, `{"a":1,"b":2}`}, r: side{200, jsonHeader, `{"b":2,"a":1.0}`}, want: true},
		{name: "problem+json", reason: "any +json type", l: side{400, problemJSON, `{"a":1,"b":2}`}, r: side{400, problemJSON, `{"b":2,"a":1}`}, want: true},
		{name: "WithBytes", reason: "JSON compared as bytes on request", configure: func(c *compareConfig) { c.bytesOnly = true }, l: side{200, jsonHeader, `{"a":1,"b":2}`}, r: side{200, jsonHeader, `{"b":2,"a":1}`}, paths: []string{"body"}},
		{
			name: "JSON path", reason: "the folded path, both values and where", l: side{200, jsonHeader, `{"items":[{"p":1},{"p":2}]}`}, r: side{200, jsonHeader, `{"items":[{"p":1},{"p":3}]}`},
			paths: []string{"$.items[*].p"}, texts: map[string]part{"$.items[*].p": {path: "$.items[*].p", at: "$.items[1].p", legacy: "2", candidate: "3"}},
		},
		{name: "one side invalid JSON", reason: "named at the root", l: side{200, jsonHeader, `{"a":1}`}, r: side{200, jsonHeader, `{"a":1`}, paths: []string{"$"}},
		{name: "both invalid, same bytes", reason: "then compared as bytes", l: side{200, jsonHeader, `{"a":`}, r: side{200, jsonHeader, `{"a":`}, want: true},
		{name: "both invalid, other bytes", reason: "then compared as bytes", l: side{200, jsonHeader, `{"a":`}, r: side{200, jsonHeader, `{"b":`}, paths: []string{"body"}},
		{name: "hashed, equal", reason: "beyond the limit, length and SHA-256", limit: 16, l: side{200, textHeader, strings.Repeat("x", 100)}, r: side{200, textHeader, strings.Repeat("x", 100)}, want: true},
		{
			name: "hashed, different", reason: "described by length and hash", limit: 16, l: side{200, textHeader, strings.Repeat("x", 100)}, r: side{200, textHeader, strings.Repeat("x", 99) + "y"},
			paths: []string{"body"},
		},
		{name: "one side hashed", reason: "lengths differ", limit: 16, l: side{200, textHeader, strings.Repeat("x", 100)}, r: side{200, textHeader, "x"}, paths: []string{"body"}},
		{name: "gzip", reason: "undone before comparing", l: side{200, gzipHeader, gzipped(`{"a":1,"b":2}`)}, r: side{200, jsonHeader, `{"b":2,"a":1}`}, want: true},
		{name: "gzip bomb", reason: "beyond the limit it stays compressed", limit: 1 << 10, l: side{200, gzipHeader, gzipped(strings.Repeat("0", 1<<20))}, r: side{200, gzipHeader, gzipped(strings.Repeat("0", 1<<20-1) + "1")}, paths: []string{"body"}},
		{name: "bad gzip", reason: "compared as sent", l: side{200, gzipHeader, "not gzip"}, r: side{200, gzipHeader, "not gzip"}, want: true},
		{name: "invalid UTF-8", reason: "the excerpt stays short without rune boundaries", l: side{200, textHeader, strings.Repeat("\x80", 5000) + "a"}, r: side{200, textHeader, strings.Repeat("\x80", 5000) + "b"}, paths: []string{"body"}},
		{name: "long strings in JSON", reason: "an excerpt", l: side{200, jsonHeader, `"` + strings.Repeat("\x80", 5000) + `a"`}, r: side{200, jsonHeader, `"` + strings.Repeat("\x80", 5000) + `b"`}, paths: []string{"$"}},
		{
			name: "long header", reason: "cut", configure: func(c *compareConfig) { c.headers = []string{"X-Id"} },
			l: side{200, http.Header{"X-Id": {strings.Repeat("a", 5000)}}, ""}, r: side{200, http.Header{"X-Id": {strings.Repeat("b", 5000)}}, ""}, paths: []string{"header X-Id"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := defaultCompareConfig()
			if tt.configure != nil {
				tt.configure(&cc)
			}
			cc.resolve()
			limit := tt.limit
			if limit == 0 {
				limit = DefaultMaxResponseBody
			}
			rt := &route{}
			l, r := tt.l.response(&cc, rt, limit), tt.r.response(&cc, rt, limit)
			parts, equal := cc.compare(l, r)
			if equal != tt.want {
				t.Fatalf("equal = %v, want %v (%s); parts %+v", equal, tt.want, tt.reason, parts)
			}
			var paths []string
			for _, p := range parts {
				paths = append(paths, p.path)
				if len(p.path)+len(p.at)+len(p.legacy)+len(p.candidate) > 1024 {
					t.Errorf("%q: %d and %d bytes of text, want a short description", p.path, len(p.legacy), len(p.candidate))
				}
				if p.legacy == p.candidate {
					t.Errorf("%q is %q on both sides: a Report would show no difference", p.path, p.legacy)
				}
			}
			if !reflect.DeepEqual(paths, tt.paths) {
				t.Errorf("paths %q, want %q (%s)", paths, tt.paths, tt.reason)
			}
			for path, want := range tt.texts {
				i := slices.IndexFunc(parts, func(p part) bool { return p.path == path })
				if i < 0 || parts[i] != want {
					t.Errorf("part %q = %+v, want %+v", path, parts, want)
				}
			}
			d := cc.differ(l, r)
			if d.Equal != tt.want || !slices.Equal(d.Paths, paths) || (d.Diff == nil) != tt.want {
				t.Errorf("differ: equal %v, paths %q, diff func %v; want %v, %q and a diff func unless equal", d.Equal, d.Paths, d.Diff != nil, tt.want, paths)
			}
		})
	}
}

// TestDescribeParts: a Report's Diff shows each part with both sides,
// legacy first, the first concrete JSON path where the path is folded, and
// stays within the limit it is given.
func TestDescribeParts(t *testing.T) {
	parts := []part{
		{path: "status", legacy: "200", candidate: "500"},
		{path: "$.items[*].price", at: "$.items[3].price", legacy: "10", candidate: "11"},
	}
	want := "status\n  - 200\n  + 500\n$.items[*].price (at $.items[3].price)\n  - 10\n  + 11\n"
	tests := []struct {
		name, reason string
		parts        []part
		limit        int
		want         string
	}{
		{name: "whole", reason: "room for everything", parts: parts, limit: 4096, want: want},
		{name: "none", reason: "no part, no text", limit: 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeParts(tt.parts, tt.limit); got != tt.want {
				t.Errorf("got %q, want %q (%s)", got, tt.want, tt.reason)
			}
		})
	}
	many := make([]part, 0, 1000)
	for i := range 1000 {
		many = append(many, part{path: "$.a" + strconv.Itoa(i), legacy: strings.Repeat("é", 40), candidate: "x"})
	}
	for _, limit := range []int{1, 10, 100, 4096} {
		if got := describeParts(many, limit); len(got) > limit || !utf8.ValidString(got) {
			t.Errorf("limit %d: %d bytes (valid UTF-8 %v)", limit, len(got), utf8.ValidString(got))
		}
	}
}

// TestSecretHeaders: a secret header is compared by a keyed hash, and its
// value is nowhere in what a Report can show.
func TestSecretHeaders(t *testing.T) {
	cc := defaultCompareConfig()
	cc.headers = []string{"Set-Cookie", "Authorization", "X-Api-Key", "Content-Type"}
	cc.secrets = append(cc.secrets, "X-Api-Key")
	cc.resolve()
	h := func(cookie, auth, key string) http.Header {
		return http.Header{"Set-Cookie": {cookie}, "Authorization": {auth}, "X-Api-Key": {key}, "Content-Type": {"text/plain"}}
	}
	rt := &route{}
	same := side{200, h("s=hunter2", "Bearer tok-1", "key-1"), "a"}
	if _, equal := cc.compare(same.response(&cc, rt, 1<<10), same.response(&cc, rt, 1<<10)); !equal {
		t.Fatal("equal secrets compare unequal")
	}
	l := side{200, h("s=hunter2", "Bearer tok-1", "key-1"), "a"}.response(&cc, rt, 1<<10)
	r := side{200, h("s=swordfish", "Bearer tok-2", "key-2"), "a"}.response(&cc, rt, 1<<10)
	d := cc.differ(l, r)
	if d.Equal {
		t.Fatal("different secrets compare equal")
	}
	if want := []string{"header Set-Cookie", "header Authorization", "header X-Api-Key"}; !slices.Equal(d.Paths, want) {
		t.Errorf("paths %q, want %q", d.Paths, want)
	}
	text := d.Diff(4096) + l.String() + r.String()
	for _, resp := range []*response{l, r} {
		text += strings.Join(slices.Collect(maps.Values(resp.header)), " ")
		for _, name := range []string{"Set-Cookie", "Authorization", "X-Api-Key"} {
			if !strings.HasPrefix(resp.header[name], "[redacted ") {
				t.Errorf("%s = %q, want redacted", name, resp.header[name])
			}
		}
	}
	for _, secret := range []string{"hunter2", "swordfish", "tok-1", "tok-2", "key-1", "key-2"} {
		if strings.Contains(text, secret) {
			t.Errorf("%q shows in %q", secret, text)
		}
	}
	if l.header["Set-Cookie"] == r.header["Set-Cookie"] {
		t.Error("different cookies have the same tag")
	}
}

// TestCompareUnreadAndHijacked: a body the caller did not read to its end
// is left out; a hijacked side is not compared at all. Each is counted
// once per call, however often the call's sides are compared
// (calibration compares the primary's side again).
func TestCompareUnreadAndHijacked(t *testing.T) {
	cc := defaultCompareConfig()
	cc.resolve()
	rt := &route{}
	l := side{200, textHeader, "partial"}.response(&cc, rt, 1<<10)
	r := side{200, textHeader, "the whole body"}.response(&cc, rt, 1<<10)
	l.raw.ready = make(chan struct{}) // never closed: still being read
	if _, equal := cc.compare(l, r); !equal || rt.bodyUnread.Load() != 1 {
		t.Errorf("unread body: equal false or not counted (%d)", rt.bodyUnread.Load())
	}
	close(l.raw.ready) // closed, but not complete: closed early
	if _, equal := cc.compare(l, r); !equal || rt.bodyUnread.Load() != 1 {
		t.Errorf("body closed early, compared again: equal false or counted again (%d)", rt.bodyUnread.Load())
	}
	other := side{200, textHeader, "partial"}.response(&cc, rt, 1<<10)
	other.raw.ready = l.raw.ready
	if _, equal := cc.compare(r, other); !equal || rt.bodyUnread.Load() != 2 {
		t.Errorf("another call's unread body, on the candidate side: equal false or not counted (%d)", rt.bodyUnread.Load())
	}
	h := side{200, textHeader, "x"}.response(&cc, rt, 1<<10)
	h.raw.hijacked = true
	for range 2 {
		if parts, equal := cc.compare(h, r); equal || len(parts) != 0 || rt.hijacked.Load() != 1 {
			t.Errorf("hijacked: equal %v, parts %+v, counted %d; want not equal (the ignore rule accepts it), no part, counted once", equal, parts, rt.hijacked.Load())
		}
	}
	if !hijacked(resultOf(h), resultOf(r)) || !hijacked(resultOf(r), resultOf(h)) || hijacked(resultOf(l), resultOf(r)) {
		t.Error("the ignore rule does not accept exactly the hijacked sides")
	}
}

// TestCompareNilResponses: nil responses (which no side returns) compare
// without a panic.
func TestCompareNilResponses(t *testing.T) {
	cc := defaultCompareConfig()
	cc.resolve()
	r := side{200, textHeader, "x"}.response(&cc, &route{}, 1<<10)
	if _, equal := cc.compare(nil, nil); !equal {
		t.Error("nil, nil: not equal")
	}
	if parts, equal := cc.compare(nil, r); equal || len(parts) != 1 || parts[0].path != "response" {
		t.Errorf("nil, response: equal %v, parts %+v", equal, parts)
	}
	if s := (*response)(nil).String(); s != "<nil>" {
		t.Errorf("String of nil = %q", s)
	}
}

func resultOf(r *response) dualrun.Result[*response] { return dualrun.Result[*response]{Value: r} }
