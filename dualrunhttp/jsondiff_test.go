package dualrunhttp

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dualrun/dualrun/internal/compare"
)

func mustParse(t testing.TB, s string) any {
	t.Helper()
	v, err := parseJSON([]byte(s))
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

func paths(ds []part) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.path)
	}
	return out
}

func testMatcher(t testing.TB, ignore, unordered []string) *matcher {
	t.Helper()
	return newMatcher(mustCompile("ignore", ignore), mustCompile("unordered", unordered))
}

func TestDiffJSON(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		a, b      string
		ignore    []string
		unordered []string
		want      []string
	}{
		{name: "member order", reason: "objects are unordered", a: `{"a":1,"b":[1,2]}`, b: `{"b":[1,2],"a":1}`},
		{name: "numbers as decimals", reason: "1, 1.0, 1e0, 10E-1 and 0.1e1 are one number", a: `[1,1,1,1,0]`, b: `[1.0,1e0,10E-1,0.1e1,-0.0]`},
		{name: "large integers", reason: "float64 would round both to 9007199254740992", a: `{"n":9007199254740993}`, b: `{"n":9007199254740992}`, want: []string{"$.n"}},
		{name: "huge exponents equal", reason: "exponents beyond int64 are exact", a: `1e99999999999999999999999`, b: `10e99999999999999999999998`},
		{name: "huge exponents differ", reason: "one apart", a: `1e99999999999999999999999`, b: `1e99999999999999999999998`, want: []string{"$"}},
		{name: "long mantissas", reason: "no precision is lost", a: `0.10000000000000000000000000000000000001`, b: `0.1`, want: []string{"$"}},
		{name: "string is not number", reason: "kinds differ", a: `{"id":"1"}`, b: `{"id":1}`, want: []string{"$.id"}},
		{name: "null is not missing", reason: "a member set to null differs from an absent one", a: `{"a":null}`, b: `{}`, want: []string{"$.a"}},
		{name: "extra member", reason: "the candidate has more", a: `{}`, b: `{"new":true}`, want: []string{"$.new"}},
		{name: "array length", reason: "the missing element's path", a: `{"a":[1,2,3]}`, b: `{"a":[1,2]}`, want: []string{"$.a[*]"}},
		{name: "nested", reason: "indexes fold", a: `{"items":[{"price":1},{"price":2}]}`, b: `{"items":[{"price":1},{"price":3}]}`, want: []string{"$.items[*].price"}},
		{name: "folded once", reason: "many elements differ in one folded path", a: `{"items":[{"p":1},{"p":2}]}`, b: `{"items":[{"p":5},{"p":6}]}`, want: []string{"$.items[*].p"}},
		{name: "object vs array", reason: "kinds differ at the node", a: `{"x":{}}`, b: `{"x":[]}`, want: []string{"$.x"}},
		{name: "root scalar", reason: "the root is $", a: `"a"`, b: `"b"`, want: []string{"$"}},
		{name: "ignored member", reason: "request ids differ by nature", a: `{"request_id":"a","v":1}`, b: `{"request_id":"b","v":1}`, ignore: []string{"$.request_id"}},
		{name: "ignored in every element", reason: "[*] matches every index", a: `{"items":[{"u":1,"v":1},{"u":2,"v":2}]}`, b: `{"items":[{"u":3,"v":1},{"u":4,"v":2}]}`, ignore: []string{"$.items[*].u"}},
		{name: "ignored only there", reason: "the rest still counts", a: `{"items":[{"u":1,"v":1}]}`, b: `{"items":[{"u":3,"v":9}]}`, ignore: []string{"$.items[*].u"}, want: []string{"$.items[*].v"}},
		{name: "ignored index", reason: "[0] matches the first element only", a: `[1,2]`, b: `[9,8]`, ignore: []string{"$[0]"}, want: []string{"$[*]"}},
		{name: "ignored missing member", reason: "an ignored member may be absent", a: `{"debug":{"x":1}}`, b: `{}`, ignore: []string{"$.debug"}},
		{name: "wildcard member", reason: ".* matches any member", a: `{"meta":{"a":1,"b":2},"v":1}`, b: `{"meta":{"a":5,"c":3},"v":1}`, ignore: []string{"$.meta.*"}},
		{name: "quoted member", reason: `["a b"] names an odd member`, a: `{"a b":1,"a.b":1}`, b: `{"a b":2,"a.b":2}`, ignore: []string{`$["a b"]`}, want: []string{`$["a.b"]`}},
		{name: "unordered", reason: "a multiset", a: `{"tags":["a","b","a"]}`, b: `{"tags":["b","a","a"]}`, unordered: []string{"$.tags"}},
		{name: "unordered counts", reason: "multiplicity matters", a: `{"tags":["a","a","b"]}`, b: `{"tags":["a","b","b"]}`, unordered: []string{"$.tags"}, want: []string{"$.tags[*]"}},
		{name: "ordered by default", reason: "arrays keep order unless told", a: `{"tags":["a","b"]}`, b: `{"tags":["b","a"]}`, want: []string{"$.tags[*]"}},
		{
			name: "unordered objects with ignored members", reason: "elements match on what is compared",
			a: `{"items":[{"sku":"a","at":1},{"sku":"b","at":2}]}`, b: `{"items":[{"sku":"b","at":7},{"sku":"a","at":8}]}`,
			ignore: []string{"$.items[*].at"}, unordered: []string{"$.items"},
		},
		{
			name: "nested unordered", reason: "elements are canonical: inner arrays sorted too",
			a: `{"g":[{"m":[1,2]},{"m":[3]}]}`, b: `{"g":[{"m":[3]},{"m":[2,1.0]}]}`, unordered: []string{"$.g", "$.g[*].m"},
		},
		{
			name: "recursion folds", reason: "a member name met again folds the repetition",
			a: `{"children":[{"children":[{"children":[{"name":"x"}]}]}]}`, b: `{"children":[{"children":[{"children":[{"name":"y"}]}]}]}`,
			want: []string{"$.children[*].children…[*].name"},
		},
		{
			name: "one level shows in full", reason: "as the core shows .Next.V",
			a: `{"children":[{"children":[{"name":"x"}]}]}`, b: `{"children":[{"children":[{"name":"y"}]}]}`,
			want: []string{"$.children[*].children[*].name"},
		},
		{name: "duplicate keys", reason: "the last value wins, as encoding/json decides", a: `{"a":1,"a":2}`, b: `{"a":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMatcher(t, tt.ignore, tt.unordered)
			got := paths(diffJSON(m, mustParse(t, tt.a), mustParse(t, tt.b)))
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("paths %q, want %q (%s)", got, tt.want, tt.reason)
			}
			back := paths(diffJSON(m, mustParse(t, tt.b), mustParse(t, tt.a)))
			if (len(back) == 0) != (len(got) == 0) {
				t.Errorf("not symmetric: %q one way, %q the other", got, back)
			}
		})
	}
}

// TestDiffJSONTexts: a Report shows the values at a differing path,
// briefly, and the first concrete path.
func TestDiffJSONTexts(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		name, reason string
		a, b         string
		want         part
	}{
		{name: "numbers", reason: "as sent", a: `{"items":[1,{"p":10}]}`, b: `{"items":[1,{"p":11}]}`, want: part{"$.items[*].p", "$.items[1].p", "10", "11"}},
		{name: "missing", reason: "named", a: `{"a":1}`, b: `{}`, want: part{"$.a", "", "1", "<missing>"}},
		{name: "containers", reason: "by size", a: `{"a":{"x":1}}`, b: `{"a":[1,2]}`, want: part{"$.a", "", "{1 members}", "[2 elements]"}},
		{name: "long strings", reason: "an excerpt around the first difference", a: `"` + long + `a"`, b: `"` + long + `b"`, want: part{"$", "", `…"xxxxxxxxxxxxxxxxa"`, `…"xxxxxxxxxxxxxxxxb"`}},
		{name: "same text", reason: "texts that would look equal are told apart", a: `1.5`, b: `"1.5"`, want: part{"$", "", "1.5", `"1.5"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diffJSON(testMatcher(t, nil, nil), mustParse(t, tt.a), mustParse(t, tt.b))
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("diff %+v, want %+v (%s)", got, tt.want, tt.reason)
			}
		})
	}
}

// TestDiffJSONBounded: at most compare.MaxPaths paths, each at most
// compare.MaxPathLen bytes, however many differences and however deep.
func TestDiffJSONBounded(t *testing.T) {
	var many strings.Builder
	many.WriteString("{")
	for i := range 100 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"k` + strings.Repeat("z", i%7) + string(rune('a'+i%26)) + `_` + strings.Repeat("q", i) + `":1`)
	}
	many.WriteString("}")
	deep := strings.Repeat(`{"a`, 1) + strings.Repeat(`":{"b`, 4000) + `":1` + strings.Repeat("}", 4001)
	deep2 := strings.Replace(deep, `":1`, `":2`, 1)
	arrays := strings.Repeat("[", 9000) + "1" + strings.Repeat("]", 9000)
	arrays2 := strings.Repeat("[", 9000) + "2" + strings.Repeat("]", 9000)
	longKey := `{"` + strings.Repeat("é", 5000) + `":1}`
	tests := []struct {
		name, reason string
		a, b         string
		n            int
	}{
		{name: "many members", reason: "capped at MaxPaths", a: many.String(), b: "{}", n: compare.MaxPaths},
		{name: "deep objects", reason: "a path of distinct names is cut", a: deep, b: deep2, n: 1},
		{name: "deep arrays", reason: "[*] steps are cut too", a: arrays, b: arrays2, n: 1},
		{name: "long key", reason: "cut on a rune boundary", a: longKey, b: "{}", n: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diffJSON(testMatcher(t, nil, nil), mustParse(t, tt.a), mustParse(t, tt.b))
			if len(got) != tt.n {
				t.Fatalf("%d paths, want %d (%s)", len(got), tt.n, tt.reason)
			}
			for _, d := range got {
				for _, p := range []string{d.path, d.at} {
					if len(p) > compare.MaxPathLen || !utf8.ValidString(p) {
						t.Errorf("path of %d bytes (valid UTF-8 %v), want at most %d", len(p), utf8.ValidString(p), compare.MaxPathLen)
					}
				}
			}
		})
	}
}

// TestReportedPathsArePatterns: a path a Report shows, unless folded, can
// be given to WithIgnoreJSONPaths as it is, and then silences that
// difference.
func TestReportedPathsArePatterns(t *testing.T) {
	a := `{"a b":{"x\"y":[{"ok":1,"é":2,"":3,"*":4}]}}`
	b := `{"a b":{"x\"y":[{"ok":5,"é":6,"":7,"*":8}]}}`
	diffs := diffJSON(testMatcher(t, nil, nil), mustParse(t, a), mustParse(t, b))
	if len(diffs) != 4 {
		t.Fatalf("diffs %+v, want 4", diffs)
	}
	for _, d := range diffs {
		if _, err := compilePattern(d.path); err != nil {
			t.Fatalf("reported path %q does not compile: %v", d.path, err)
		}
		rest := diffJSON(testMatcher(t, []string{d.path}, nil), mustParse(t, a), mustParse(t, b))
		for _, r := range rest {
			if r.path == d.path {
				t.Errorf("ignoring %q leaves it reported", d.path)
			}
		}
		if len(rest) != 3 {
			t.Errorf("ignoring %q leaves %d paths, want 3", d.path, len(rest))
		}
	}
}

func TestCompilePattern(t *testing.T) {
	tests := []struct {
		name, reason, in string
		want             []segment
		bad              bool
	}{
		{name: "root", reason: "the whole document", in: "$"},
		{name: "members", reason: "dot notation", in: "$.a.b_c-d", want: []segment{{kind: segName, name: "a"}, {kind: segName, name: "b_c-d"}}},
		{name: "wildcards", reason: "[*] and .*", in: "$.items[*].*", want: []segment{{kind: segName, name: "items"}, {kind: segAny}, {kind: segAny}}},
		{name: "index", reason: "[n]", in: "$[12]", want: []segment{{kind: segIndex, index: 12}}},
		{name: "quoted", reason: "a JSON string", in: `$["a.b[c]\"\u00e9"]`, want: []segment{{kind: segName, name: `a.b[c]"é`}}},
		{name: "no root", reason: "must start with $", in: "a.b", bad: true},
		{name: "recursive descent", reason: "not supported", in: "$..a", bad: true},
		{name: "trailing dot", reason: "empty name", in: "$.a.", bad: true},
		{name: "unclosed", reason: "no ]", in: "$[1", bad: true},
		{name: "bad index", reason: "too large", in: "$[99999999999999999999]", bad: true},
		{name: "bad string", reason: "invalid escape", in: `$["\q"]`, bad: true},
		{name: "unterminated string", reason: "no closing quote", in: `$["abc]`, bad: true},
		{name: "single quotes", reason: "only JSON strings", in: `$['a']`, bad: true},
		{name: "folded", reason: "not a pattern", in: "$.a…b", bad: true},
		{name: "folded after index", reason: "not a pattern", in: "$.a[*]….b", bad: true},
		{name: "garbage", reason: "after $", in: "$x", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := compilePattern(tt.in)
			if (err != nil) != tt.bad {
				t.Fatalf("err %v, want error %v (%s)", err, tt.bad, tt.reason)
			}
			if !tt.bad && !reflect.DeepEqual(p.segs, tt.want) {
				t.Errorf("segments %+v, want %+v (%s)", p.segs, tt.want, tt.reason)
			}
		})
	}
}

func TestNumbersEqual(t *testing.T) {
	tests := []struct {
		name, reason string
		a, b         string
		want         bool
	}{
		{name: "same text", reason: "fast path", a: "12", b: "12", want: true},
		{name: "trailing zeros", reason: "1.50 is 1.5", a: "1.50", b: "1.5", want: true},
		{name: "exponent", reason: "15e-1 is 1.5", a: "15e-1", b: "1.5", want: true},
		{name: "plus exponent", reason: "1E+2 is 100", a: "1E+2", b: "100", want: true},
		{name: "zeros", reason: "-0, 0.0 and 0e9 are zero", a: "-0", b: "0e9", want: true},
		{name: "sign", reason: "-1 is not 1", a: "-1", b: "1"},
		{name: "beyond float64", reason: "2^53+1 is not 2^53", a: "9007199254740993", b: "9007199254740992"},
		{name: "leading zeros in exponent", reason: "1e0000000000000000000001 is 10", a: "1e0000000000000000000001", b: "10", want: true},
		{name: "huge negative exponents", reason: "exact", a: "1e-99999999999999999999", b: "10e-100000000000000000000", want: true},
		{name: "not numbers", reason: "texts compared as they are", a: "NaN", b: "nan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := numbersEqual(tt.a, tt.b); got != tt.want {
				t.Errorf("numbersEqual(%q, %q) = %v, want %v (%s)", tt.a, tt.b, got, tt.want, tt.reason)
			}
			if got := numbersEqual(tt.b, tt.a); got != tt.want {
				t.Errorf("not symmetric for %q, %q", tt.b, tt.a)
			}
		})
	}
}

// TestCompareMemoryBounded: comparing two bodies allocates memory linear
// in their size, whatever their shape: four times the input costs at most
// five times the memory (nothing quadratic), and at most maxAllocRatio
// times the input. encoding/json's maps and interfaces dominate: a small
// object of a few bytes costs a map of a few hundred.
func TestCompareMemoryBounded(t *testing.T) {
	const maxAllocRatio = 128
	tests := []struct {
		name, reason string
		gen          func(n int) (a, b string) // about n bytes each
		unordered    []string
	}{
		{name: "wide array", reason: "one small number per two bytes", gen: func(n int) (string, string) {
			return "[" + strings.Repeat("1,", n/2) + "2]", "[" + strings.Repeat("1,", n/2) + "3]"
		}},
		{name: "unordered objects", reason: "canonical texts of every element", unordered: []string{"$", "$[*].a"}, gen: func(n int) (string, string) {
			return "[" + strings.Repeat(`{"a":[1,2]},`, n/12) + "1]", "[" + strings.Repeat(`{"a":[2,1]},`, n/12) + "2]"
		}},
		{name: "deep", reason: "one member per level", gen: func(n int) (string, string) {
			d := min(n/6, 9000) // encoding/json stops at 10,000 levels
			return strings.Repeat(`{"k":`, d) + "1" + strings.Repeat("}", d), strings.Repeat(`{"k":`, d) + "2" + strings.Repeat("}", d)
		}},
		{name: "malformed", reason: "compared as bytes", gen: func(n int) (string, string) {
			return "[" + strings.Repeat("1,", n/2), "[" + strings.Repeat("2,", n/2)
		}},
		{name: "long strings", reason: "one string per side", gen: func(n int) (string, string) {
			return `"` + strings.Repeat("a", n) + `"`, `"` + strings.Repeat("a", n-1) + `b"`
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := defaultCompareConfig()
			cc.unordered = mustCompile("unordered", tt.unordered)
			cc.resolve()
			measure := func(n int) (used, in uint64) {
				a, b := tt.gen(n)
				l, r := jsonResponse(&cc, a), jsonResponse(&cc, b)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				parts, eq := cc.compare(l, r)
				runtime.ReadMemStats(&after)
				if eq {
					t.Fatalf("equal, want a difference")
				}
				if len(parts) == 0 || len(parts) > compare.MaxPaths {
					t.Errorf("%d body paths", len(parts))
				}
				return after.TotalAlloc - before.TotalAlloc, uint64(len(a) + len(b))
			}
			small, inSmall := measure(32 << 10)
			large, inLarge := measure(128 << 10)
			if large > 5*small+64<<10 {
				t.Errorf("%d bytes allocated for %d bytes of input, %d for %d: not linear (%s)", small, inSmall, large, inLarge, tt.reason)
			}
			if large > maxAllocRatio*inLarge {
				t.Errorf("%d bytes allocated for %d bytes of input: more than %d× (%s)", large, inLarge, maxAllocRatio, tt.reason)
			}
			t.Logf("%d bytes in: %d allocated (%.1f×)", inLarge, large, float64(large)/float64(inLarge))
		})
	}
}

// jsonResponse is a response of status 200 with a JSON body.
func jsonResponse(cc *compareConfig, body string) *response {
	rec := newRecording(cc, &route{}, DefaultMaxResponseBody+1<<20)
	h := map[string][]string{"Content-Type": {"application/json"}}
	rec.writeHeader(200, h)
	rec.write([]byte(body))
	return rec.finish(nil)
}
