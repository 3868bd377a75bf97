package cmppath

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type (
	item struct {
		Name  string
		Price float64
	}
	inner struct{ A, B int }
	order struct {
		ID    int
		In    inner
		Items []item
		M     map[string]item
		P     *inner
		S     []int
		V     any
		T     time.Time
	}
	hidden struct {
		a     int
		inner inner
		Pub   string
	}
)

func TestCollect(t *testing.T) {
	base := func() order {
		return order{
			ID:    1,
			In:    inner{1, 2},
			Items: []item{{"a", 1}, {"b", 2}, {"c", 3}},
			M:     map[string]item{"x": {"x", 1}, "y": {"y", 2}},
			P:     &inner{3, 4},
			S:     []int{},
			V:     inner{5, 6},
			T:     time.Unix(100, 0),
		}
	}
	with := func(f func(*order)) order {
		o := base()
		f(&o)
		return o
	}
	wide := reflect.StructOf(func() []reflect.StructField {
		fs := make([]reflect.StructField, 40)
		for i := range fs {
			fs[i] = reflect.StructField{Name: fmt.Sprintf("F%02d", i), Type: reflect.TypeFor[int]()}
		}
		return fs
	}())
	wideOnes := reflect.New(wide).Elem()
	for i := range wide.NumField() {
		wideOnes.Field(i).SetInt(1)
	}
	widePaths := func(n int) []string {
		var ps []string
		for i := range n {
			ps = append(ps, fmt.Sprintf(".F%02d", i))
		}
		return ps
	}

	tests := []struct {
		name      string
		reason    string
		x, y      any
		opts      []cmp.Option
		maxPaths  int
		wantEqual bool
		wantPaths []string
	}{
		{name: "equal", reason: "no differing leaf, no path", x: base(), y: base(), wantEqual: true},
		{name: "root int", reason: "a difference at the root is the path .", x: 1, y: 2, wantPaths: []string{"."}},
		{name: "root string", reason: "root leaf", x: "a", y: "b", wantPaths: []string{"."}},
		{name: "root type mismatch", reason: "different dynamic types differ at the root", x: 1, y: "1", wantPaths: []string{"."}},
		{name: "root nil vs value", reason: "nil interface vs value", x: nil, y: 1, wantPaths: []string{"."}},
		{name: "root pointers", reason: "Indirect adds nothing", x: &inner{1, 2}, y: &inner{1, 3}, wantPaths: []string{".B"}},
		{name: "root nil pointer", reason: "nil vs non-nil pointer is a leaf", x: (*inner)(nil), y: &inner{}, wantPaths: []string{"."}},
		{name: "field", reason: "struct field folds to .Name", x: base(), y: with(func(o *order) { o.ID = 2 }), wantPaths: []string{".ID"}},
		{name: "nested struct", reason: "fields chain", x: base(), y: with(func(o *order) { o.In.B = 9 }), wantPaths: []string{".In.B"}},
		{
			name: "slice of structs", reason: "index folds to [*], parents are not reported",
			x: base(), y: with(func(o *order) { o.Items = []item{{"a", 1}, {"b", 2.5}, {"c", 3}} }),
			wantPaths: []string{".Items[*].Price"},
		},
		{
			name: "slice element added", reason: "a missing element is a leaf at the index",
			x: base(), y: with(func(o *order) { o.Items = append(o.Items, item{"d", 4}) }),
			wantPaths: []string{".Items[*]"},
		},
		{
			name: "slice elements replaced", reason: "go-cmp's edit script reports wholly different elements as removed+inserted, not field by field",
			x: base(), y: with(func(o *order) { o.Items = []item{{"p", 7}, {"q", 8}, {"r", 9}} }),
			wantPaths: []string{".Items[*]"},
		},
		{
			name: "slice paths de-duplicated", reason: "many indexes fold to one path",
			x: []int{1, 2, 3, 4}, y: []int{1, 9, 3, 9}, wantPaths: []string{"[*]"},
		},
		{name: "array", reason: "array index folds to [*]", x: [3]int{1, 2, 3}, y: [3]int{1, 2, 4}, wantPaths: []string{"[*]"}},
		{
			name: "map value", reason: "map key folds to [*]",
			x: base(), y: with(func(o *order) { o.M = map[string]item{"x": {"x", 1}, "y": {"y", 3}} }),
			wantPaths: []string{".M[*].Price"},
		},
		{
			name: "map key missing", reason: "a missing entry is a leaf at the key",
			x: base(), y: with(func(o *order) { o.M = map[string]item{"x": {"x", 1}} }),
			wantPaths: []string{".M[*]"},
		},
		{name: "nil map", reason: "nil vs non-nil map is a leaf", x: base(), y: with(func(o *order) { o.M = nil }), wantPaths: []string{".M"}},
		{name: "pointer field", reason: "Indirect adds nothing", x: base(), y: with(func(o *order) { o.P = &inner{3, 5} }), wantPaths: []string{".P.B"}},
		{name: "nil pointer field", reason: "nil vs non-nil pointer is a leaf", x: base(), y: with(func(o *order) { o.P = nil }), wantPaths: []string{".P"}},
		{name: "nil vs empty slice", reason: "cmp treats nil and empty slices as different", x: base(), y: with(func(o *order) { o.S = nil }), wantPaths: []string{".S"}},
		{
			name: "nil vs empty slice with EquateEmpty", reason: "option makes them equal",
			x: base(), y: with(func(o *order) { o.S = nil }), opts: []cmp.Option{cmpopts.EquateEmpty()}, wantEqual: true,
		},
		{name: "interface field", reason: "TypeAssertion adds nothing", x: base(), y: with(func(o *order) { o.V = inner{5, 7} }), wantPaths: []string{".V.B"}},
		{name: "interface type mismatch", reason: "different dynamic types are a leaf", x: base(), y: with(func(o *order) { o.V = 5 }), wantPaths: []string{".V"}},
		{name: "interface nil", reason: "nil vs non-nil interface is a leaf", x: base(), y: with(func(o *order) { o.V = nil }), wantPaths: []string{".V"}},
		{name: "Equal method", reason: "time.Time.Equal decides, the path stops at the field", x: base(), y: with(func(o *order) { o.T = time.Unix(101, 0) }), wantPaths: []string{".T"}},
		{
			name: "Equal method says equal", reason: "same instant, different location: no path",
			x: base(), y: with(func(o *order) { o.T = o.T.In(time.FixedZone("X", 3600)) }), wantEqual: true,
		},
		{
			name: "several", reason: "sorted and de-duplicated",
			x: base(), y: with(func(o *order) { o.ID, o.In.A, o.Items[0].Price, o.Items[2].Price = 0, 0, 0, 0 }),
			wantPaths: []string{".ID", ".In.A", ".Items[*].Price"},
		},
		{
			name: "IgnoreFields", reason: "ignored leaves are reported as equal",
			x: base(), y: with(func(o *order) { o.ID, o.In.B = 7, 7 }),
			opts:      []cmp.Option{cmpopts.IgnoreFields(order{}, "ID", "In.B")},
			wantEqual: true,
		},
		{
			name: "IgnoreFields partial", reason: "only the remaining difference is reported",
			x: base(), y: with(func(o *order) { o.ID, o.In.A = 7, 7 }),
			opts:      []cmp.Option{cmpopts.IgnoreFields(order{}, "ID")},
			wantPaths: []string{".In.A"},
		},
		{
			name: "EquateApprox", reason: "a Comparer deciding equal must not produce a path",
			x: base(), y: with(func(o *order) { o.Items[1].Price += 1e-9 }),
			opts: []cmp.Option{cmpopts.EquateApprox(0, 1e-6)}, wantEqual: true,
		},
		{
			name: "EquateApprox unequal", reason: "a Comparer deciding unequal is a leaf",
			x: base(), y: with(func(o *order) { o.Items[1].Price++ }),
			opts: []cmp.Option{cmpopts.EquateApprox(0, 1e-6)}, wantPaths: []string{".Items[*].Price"},
		},
		{
			name: "NaN", reason: "NaN != NaN without EquateNaNs",
			x: []float64{math.NaN()}, y: []float64{math.NaN()}, wantPaths: []string{"[*]"},
		},
		{
			name: "Transformer", reason: "Transform steps add nothing",
			x: base(), y: with(func(o *order) { o.S = []int{2} }),
			opts:      []cmp.Option{cmpopts.SortSlices(func(a, b int) bool { return a < b })},
			wantPaths: []string{".S[*]"},
		},
		{
			name: "Transformer equal", reason: "sorting makes them equal",
			x: []int{2, 1}, y: []int{1, 2},
			opts:      []cmp.Option{cmpopts.SortSlices(func(a, b int) bool { return a < b })},
			wantEqual: true,
		},
		{
			name: "ExportAll", reason: "unexported fields are traversed and folded like exported ones",
			x: hidden{1, inner{1, 2}, "p"}, y: hidden{2, inner{1, 3}, "p"},
			opts: []cmp.Option{ExportAll}, wantPaths: []string{".a", ".inner.B"},
		},
		{
			name: "maxPaths", reason: "extra distinct paths are dropped, equal stays false",
			x: reflect.New(wide).Elem().Interface(), y: wideOnes.Interface(), maxPaths: 3,
			wantPaths: widePaths(3),
		},
		{
			name: "maxPaths default", reason: "maxPaths <= 0 means 32",
			x: reflect.New(wide).Elem().Interface(), y: wideOnes.Interface(), maxPaths: -1,
			wantPaths: widePaths(32),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eq, paths, err := Collect(tt.x, tt.y, tt.opts, tt.maxPaths)
			if err != nil {
				t.Fatalf("Collect: unexpected error %v (%s)", err, tt.reason)
			}
			if eq != tt.wantEqual {
				t.Errorf("Collect equal = %v, want %v (%s)", eq, tt.wantEqual, tt.reason)
			}
			if diff := cmp.Diff(tt.wantPaths, paths); diff != "" {
				t.Errorf("Collect paths mismatch (-want +got) (%s):\n%s", tt.reason, diff)
			}
			fast, err := Equal(tt.x, tt.y, tt.opts)
			if err != nil || fast != eq {
				t.Errorf("Equal = %v, %v; Collect said %v", fast, err, eq)
			}
		})
	}
}

var errBoom = errors.New("boom")

func TestCollectPanics(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		x, y      any
		opts      []cmp.Option
		wantValue string // substring of the panic value
		wantIs    error
	}{
		{
			name: "unexported field", reason: "go-cmp refuses unexported fields without an option",
			x: hidden{a: 1}, y: hidden{a: 2}, wantValue: "cannot handle unexported field",
		},
		{
			name: "Comparer panics with string", reason: "user code may panic",
			x: item{"a", 1}, y: item{"a", 2},
			opts:      []cmp.Option{cmp.Comparer(func(_, _ float64) bool { panic("bad comparer") })},
			wantValue: "bad comparer",
		},
		{
			name: "Comparer panics with error", reason: "Unwrap exposes error panic values",
			x: item{"a", 1}, y: item{"a", 2},
			opts:      []cmp.Option{cmp.Comparer(func(_, _ float64) bool { panic(errBoom) })},
			wantValue: "boom", wantIs: errBoom,
		},
		{
			name: "ambiguous options", reason: "go-cmp panics on conflicting Comparers",
			x: 1, y: 2,
			opts: []cmp.Option{
				cmp.Comparer(func(_, _ int) bool { return true }),
				cmp.Comparer(func(_, _ int) bool { return false }),
			},
			wantValue: "ambiguous set of applicable options",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(fn string, eq bool, err error) {
				t.Helper()
				var pe *PanicError
				if !errors.As(err, &pe) {
					t.Fatalf("%s error = %v, want *PanicError (%s)", fn, err, tt.reason)
				}
				if eq {
					t.Errorf("%s equal = true on panic", fn)
				}
				if !strings.Contains(fmt.Sprint(pe.Value), tt.wantValue) {
					t.Errorf("%s panic value = %v, want it to contain %q", fn, pe.Value, tt.wantValue)
				}
				if !strings.HasPrefix(pe.Error(), "cmp panicked: ") {
					t.Errorf("%s Error() = %q", fn, pe.Error())
				}
				if len(pe.Stack) == 0 {
					t.Errorf("%s: empty stack", fn)
				}
				if got := errors.Is(err, tt.wantIs); tt.wantIs != nil && !got {
					t.Errorf("%s: errors.Is(err, %v) = false", fn, tt.wantIs)
				}
				if tt.wantIs == nil && pe.Unwrap() != nil {
					t.Errorf("%s: Unwrap() = %v, want nil for a non-error value", fn, pe.Unwrap())
				}
			}
			eq, paths, err := Collect(tt.x, tt.y, tt.opts, 0)
			check("Collect", eq, err)
			if paths != nil {
				t.Errorf("Collect paths = %q, want nil on panic", paths)
			}
			eq, err = Equal(tt.x, tt.y, tt.opts)
			check("Equal", eq, err)
			d, err := Diff(tt.x, tt.y, tt.opts, 0)
			check("Diff", false, err)
			if d != "" {
				t.Errorf("Diff = %q, want empty on panic", d)
			}
		})
	}
}

func TestCollectDoesNotMutateOpts(t *testing.T) {
	sentinel := cmpopts.EquateEmpty()
	backing := []cmp.Option{cmpopts.EquateNaNs(), sentinel}
	opts := backing[:1] // spare capacity: a naive append would overwrite backing[1]
	if _, _, err := Collect(1, 2, opts, 0); err != nil {
		t.Fatal(err)
	}
	if backing[1] != sentinel {
		t.Errorf("Collect wrote into the caller's option slice")
	}
}
