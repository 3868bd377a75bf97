package dualrunhttp

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dualrun/dualrun/internal/compare"
)

// jsonSeeds are bodies that have broken JSON comparers: malformed input,
// nesting at and beyond encoding/json's limit, numbers beyond float64 and
// int64, duplicate members, invalid UTF-8 and escapes.
var jsonSeeds = []string{
	`{"a":1,"b":[1,2,3],"c":{"d":null}}`,
	`{"a":1,"a":2}`,
	`{"a":1,"a":{"b":2},"a":[3]}`,
	`[1, 1.0, 1e0, 10E-1, -0, 0e999999999999999999999]`,
	`9007199254740993`,
	`123456789012345678901234567890e-99999999999999999999999999`,
	`1e9223372036854775807`,
	`-1E-9223372036854775809`,
	`"\ud800"`,
	`"\u0000\\\"\/\b\f\n\r\t"`,
	"\"\xff\xfe\"",
	"\xef\xbb\xbf{}",
	`{"a":`,
	`{"a" 1}`,
	`[1,]`,
	`{}{}`,
	`NaN`,
	`01`,
	`-`,
	`1e`,
	`{"items":[{"updated_at":"x","p":1},{"updated_at":"y","p":2}],"request_id":"r"}`,
	`{"children":[{"children":[{"children":[{"name":"x"}]}]}]}`,
	strings.Repeat("[", 9999) + strings.Repeat("]", 9999),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000),
	`{"` + strings.Repeat("k", 1000) + `":1}`,
	"",
	" ",
}

var patternSeeds = []string{
	"$", "$.a", "$.items[*].updated_at", "$[*]", "$.*", "$[0]", `$["a b"]`, `$["\u00e9"]`,
	"$..a", "$.a.", "$[", "$[*", `$["`, `$["\"]`, "$.a…b", "$[99999999999999999999]", "a", "",
}

// FuzzCompareJSON: comparing any two bodies, with any ignore and
// unordered pattern, never panics; it is reflexive and symmetric; it
// names at most compare.MaxPaths paths of at most compare.MaxPathLen
// bytes, and every path it names that is not folded is a pattern.
func FuzzCompareJSON(f *testing.F) {
	for i, a := range jsonSeeds {
		b := jsonSeeds[(i+1)%len(jsonSeeds)]
		f.Add(a, b, patternSeeds[i%len(patternSeeds)])
		f.Add(a, a, "$")
	}
	f.Fuzz(func(t *testing.T, a, b, pat string) {
		cc := defaultCompareConfig()
		if p, err := compilePattern(pat); err == nil {
			cc.ignore = []pattern{p}
			cc.unordered = []pattern{p}
		}
		if len(pat) > 1 {
			if p, err := compilePattern(pat[:len(pat)/2]); err == nil {
				cc.unordered = append(cc.unordered, p)
			}
		}
		cc.resolve()
		resp := func(body string) *response {
			return side{200, http.Header{"Content-Type": {"application/json"}}, body}.response(&cc, &route{}, 1<<20)
		}
		if _, eq := cc.compare(resp(a), resp(a)); !eq {
			t.Fatalf("a body differs from itself: %q", a)
		}
		d := cc.differ(resp(a), resp(b))
		parts, ab := cc.compare(resp(a), resp(b))
		if _, ba := cc.compare(resp(b), resp(a)); ab != ba || d.Equal != ab {
			t.Fatalf("not symmetric: equal(a, b) = %v, equal(b, a) = %v (differ: %v)", ab, ba, d.Equal)
		}
		if len(parts) > compare.MaxPaths || len(d.Paths) != len(parts) {
			t.Fatalf("%d parts, %d paths", len(parts), len(d.Paths))
		}
		for _, p := range parts {
			if len(p.path) > compare.MaxPathLen || !utf8.ValidString(p.path) {
				t.Fatalf("path %q: %d bytes", p.path, len(p.path))
			}
			if p.legacy == p.candidate {
				t.Fatalf("path %q: the same text %q on both sides", p.path, p.legacy)
			}
			if p.path != "body" && !strings.Contains(p.path, "…") {
				if _, err := compilePattern(p.path); err != nil {
					t.Fatalf("path %q is not a pattern: %v", p.path, err)
				}
			}
		}
		if d.Diff != nil {
			if text := d.Diff(512); len(text) > 512 || !utf8.ValidString(text) {
				t.Fatalf("diff of %d bytes (valid UTF-8 %v), want at most 512", len(text), utf8.ValidString(text))
			}
		}
	})
}

// FuzzPattern: compiling any text never panics, and the step a Report
// writes for any member name compiles back to that name.
func FuzzPattern(f *testing.F) {
	for _, p := range patternSeeds {
		f.Add(p, "name")
	}
	f.Add("$", "a.b[c]")
	f.Add("$", "*")
	f.Add("$", "")
	f.Add("$", "\x00\"\\é…")
	f.Fuzz(func(t *testing.T, pat, name string) {
		if p, err := compilePattern(pat); err == nil {
			for _, s := range p.segs {
				if s.kind == segIndex && (s.index < 0 || s.index > maxPatternIndex) {
					t.Fatalf("index %d", s.index)
				}
			}
		}
		if !utf8.ValidString(name) {
			return // encoding/json makes member names valid UTF-8
		}
		text := string(appendMember([]byte("$"), name))
		p, err := compilePattern(text)
		if err != nil {
			t.Fatalf("the step for %q, %q, does not compile: %v", name, text, err)
		}
		if len(p.segs) != 1 || p.segs[0].kind != segName || p.segs[0].name != name {
			t.Fatalf("the step for %q, %q, compiles to %+v", name, text, p.segs)
		}
	})
}
