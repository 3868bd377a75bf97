package compare

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

type (
	money struct {
		Currency string
		Cents    int64
	}
	withHidden struct {
		Pub    string
		hidden error
	}
	stringer      struct{ n int }
	panicStringer struct{}
	nilPtrErr     struct{ msg string }
	selfSlice     []any
	boxes         struct{ A, B *money }
)

func (s stringer) String() string    { return fmt.Sprintf("stringer#%d", s.n) }
func (panicStringer) String() string { panic("no string for you") }
func (e *nilPtrErr) Error() string   { return e.msg }

func TestFormat(t *testing.T) {
	var typedNil *nilPtrErr
	cycMap := map[string]any{"v": 1}
	cycMap["self"] = cycMap
	cycList := &node{V: 1}
	cycList.Next = cycList
	cycSlice := selfSlice{1, nil}
	cycSlice[1] = cycSlice
	shared := &money{"EUR", 1}
	tests := []struct {
		name   string
		reason string
		v      any
		limit  int
		want   string
	}{
		{name: "nil", reason: "a nil interface", v: nil, want: "<nil>"},
		{name: "int", reason: "as %v", v: -42, want: "-42"},
		{name: "uint8", reason: "as %v", v: uint8(200), want: "200"},
		{name: "float", reason: "shortest representation, as %v", v: 0.1 + 0.2, want: fmt.Sprint(0.1 + 0.2)},
		{name: "float32", reason: "with 32-bit precision", v: float32(0.1), want: "0.1"},
		{name: "NaN", reason: "as %v", v: math.NaN(), want: "NaN"},
		{name: "complex", reason: "as %v", v: complex(1, -2), want: "(1-2i)"},
		{name: "bool", reason: "as %v", v: true, want: "true"},
		{name: "string", reason: "unquoted, as %+v", v: "EUR", want: "EUR"},
		{name: "struct", reason: "field names, as %+v", v: money{"EUR", 1000}, want: "{Currency:EUR Cents:1000}"},
		{name: "slice", reason: "as %v", v: []int{1, 2, 3}, want: "[1 2 3]"},
		{name: "nil slice", reason: "as %v", v: []int(nil), want: "[]"},
		{name: "bytes", reason: "as %v: numbers", v: []byte("ab"), want: "[97 98]"},
		{name: "array", reason: "as %v", v: [2]bool{true, false}, want: "[true false]"},
		{name: "map sorted", reason: "keys in order, as fmt", v: map[string]int{"b": 2, "a": 1, "c": 3}, want: "map[a:1 b:2 c:3]"},
		{name: "map int keys", reason: "numeric order", v: map[int]string{10: "x", 2: "y"}, want: "map[2:y 10:x]"},
		{name: "nil map", reason: "as %v", v: map[string]int(nil), want: "map[]"},
		{name: "pointer", reason: "&value, at any depth", v: &boxes{A: shared, B: shared}, want: "&{A:&{Currency:EUR Cents:1} B:&{Currency:EUR Cents:1}}"},
		{name: "nil pointer", reason: "as %v", v: (*money)(nil), want: "<nil>"},
		{name: "Stringer", reason: "its String method, as fmt", v: stringer{7}, want: "stringer#7"},
		{name: "Stringer in a slice", reason: "methods of exported elements run", v: []stringer{{1}, {2}}, want: "[stringer#1 stringer#2]"},
		{name: "time", reason: "time.Time by its String method", v: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), want: "2026-01-02 03:04:05 +0000 UTC"},
		{name: "error", reason: "its Error method", v: errors.New("boom"), want: "boom"},
		{name: "panicking String", reason: "recovered, described by the type", v: panicStringer{}, want: "compare.panicStringer (its String method panicked)"},
		{name: "typed-nil error", reason: "an Error method that panics on a nil receiver is recovered", v: error(typedNil), want: "<nil>"},
		{name: "typed-nil error in a struct", reason: "unexported: no method runs, reflect prints it", v: withHidden{"p", typedNil}, want: "{Pub:p hidden:<nil>}"},
		{name: "cyclic map", reason: "a map inside itself is marked, not followed", v: cycMap, want: "map[self:<cycle map[string]interface {}> v:1]"},
		{name: "cyclic pointer", reason: "a pointer cycle is marked", v: cycList, want: "&{V:1 Next:<cycle *compare.node>}"},
		{name: "cyclic slice", reason: "a slice inside itself through an interface", v: cycSlice, want: "[1 <cycle compare.selfSlice>]"},
		{name: "shared is not a cycle", reason: "a pointer seen twice side by side prints twice", v: []*money{shared, shared}, want: "[&{Currency:EUR Cents:1} &{Currency:EUR Cents:1}]"},
		{name: "limit", reason: "cut with … within the limit", v: strings.Repeat("x", 100), limit: 10, want: "xxxxxxx…"},
		{name: "limit rune", reason: "never inside a rune", v: strings.Repeat("é", 10), limit: 8, want: "éé…"},
		{name: "depth", reason: "nesting beyond the depth limit prints …", v: nested(30, 1), limit: 1 << 10, want: strings.Repeat("map[k:", 24) + "map[…:…]" + strings.Repeat("]", 24)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Format(tt.v, tt.limit)
			if got != tt.want {
				t.Errorf("Format = %q, want %q (%s)", got, tt.want, tt.reason)
			}
			limit := tt.limit
			if limit <= 0 {
				limit = defaultLimit
			}
			if len(got) > limit || !utf8.ValidString(got) {
				t.Errorf("Format = %d bytes (limit %d), valid UTF-8 %v", len(got), limit, utf8.ValidString(got))
			}
		})
	}
}

// TestFormatAsFmt checks Format against fmt's %+v on values fmt handles
// well (no pointers inside, no cycles): they read the same.
func TestFormatAsFmt(t *testing.T) {
	values := []any{
		money{"EUR", -5},
		[]money{{"A", 1}, {"B", 2}},
		map[string][]int{"x": {1}, "y": nil},
		[3]float64{1.5, -0.25, 1e21},
		struct {
			A any
			B []string
		}{A: 3, B: []string{"p", "q"}},
		uint64(math.MaxUint64), int8(-128), "",
		[0]int{},
	}
	for _, v := range values {
		if got, want := Format(v, 0), fmt.Sprintf("%+v", v); got != want {
			t.Errorf("Format(%T) = %q, fmt says %q", v, got, want)
		}
	}
}

// TestFormatIsBoundedByItsLimit: the time and memory of Format follow the
// limit, not the value: a 100 MB value and a map of a million entries
// print in a few bytes.
func TestFormatIsBoundedByItsLimit(t *testing.T) {
	big := make([]int64, 100<<20/8)
	m := make(map[int]int, 1<<20)
	for i := range 1 << 20 {
		m[i] = i
	}
	tests := []struct {
		name   string
		reason string
		v      any
	}{
		{name: "huge slice", reason: "stops writing at the limit", v: big},
		{name: "huge string", reason: "copies only what fits", v: strings.Repeat("x", 100<<20)},
		{name: "huge map", reason: "map order beyond 256 entries, stopping at the limit", v: m},
		{name: "wide cycle", reason: "many cycles still stop at the limit", v: func() any {
			s := make([]any, 1<<20)
			for i := range s {
				s[i] = s
			}
			return s
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(1, func() { _ = Format(tt.v, 64) })
			got := Format(tt.v, 64)
			if len(got) > 64 || !strings.HasSuffix(got, "…") {
				t.Errorf("Format = %q (%d bytes), want ≤ 64 bytes ending in … (%s)", got, len(got), tt.reason)
			}
			// A bounded formatter allocates a bounded number of times,
			// whatever the value's size (the huge map's sorted-keys path
			// is skipped, the cycle map holds one entry per level).
			if allocs > 64 {
				t.Errorf("Format allocated %v times (%s)", allocs, tt.reason)
			}
		})
	}
}

// FuzzFormat: whatever the text and the limit, Format stays within the
// limit and never cuts a rune.
func FuzzFormat(f *testing.F) {
	f.Add("EUR", 0)
	f.Add(strings.Repeat("é", 40), 9)
	f.Add("\xff\xfe", 4)
	f.Add("", 1)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit = limit%(2*len(s)+8) + 1 // short, exact and long limits alike
		if limit <= 0 {
			limit += 2*len(s) + 8
		}
		v := struct {
			S string
			B []byte
			M map[string]string
		}{s, []byte(s), map[string]string{s: s}}
		got := Format(v, limit)
		if len(got) > limit {
			t.Fatalf("Format = %q: %d bytes > limit %d", got, len(got), limit)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Format = %q cuts a rune", got)
		}
	})
}
