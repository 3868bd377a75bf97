package compare

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// collectPaths compares x and y as a Comparer[any] with opts does, and
// returns whether they are equal and the differing paths.
func collectPaths(t *testing.T, x, y any, opts ...cmp.Option) (bool, []string) {
	t.Helper()
	c, err := New[any](Spec{CmpOpts: opts, Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	v := c.Compare(x, nil, y, nil)
	switch v.Kind {
	case Match:
		return true, nil
	case ValuesDiffer:
		return false, v.Paths
	}
	t.Fatalf("verdict %v: %v", v.Kind, v.Err)
	return false, nil
}

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

func TestPaths(t *testing.T) {
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
			name: "MaxPaths", reason: "distinct paths beyond MaxPaths are dropped, the values still differ",
			x: reflect.New(wide).Elem().Interface(), y: wideOnes.Interface(),
			wantPaths: widePaths(MaxPaths),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eq, paths := collectPaths(t, tt.x, tt.y, tt.opts...)
			if eq != tt.wantEqual {
				t.Errorf("equal = %v, want %v (%s)", eq, tt.wantEqual, tt.reason)
			}
			if diff := cmp.Diff(tt.wantPaths, paths); diff != "" {
				t.Errorf("paths mismatch (-want +got) (%s):\n%s", tt.reason, diff)
			}
		})
	}
}

type (
	node struct {
		V    int
		Next *node
	}
	tree struct {
		V           int
		Left, Right *tree
	}
	family struct {
		V        int
		Children []family
	}
)

// list returns a list of n nodes with values 0..n-1.
func list(n int) *node {
	var head *node
	for i := n - 1; i >= 0; i-- {
		head = &node{V: i, Next: head}
	}
	return head
}

// at returns the i-th node of l.
func at(l *node, i int) *node {
	for ; i > 0; i-- {
		l = l.Next
	}
	return l
}

func withV(l *node, i, v int) *node {
	at(l, i).V = v
	return l
}

// nested returns map[string]any nested depth levels deep around leaf.
func nested(depth int, leaf any) any {
	v := leaf
	for range depth {
		v = map[string]any{"k": v}
	}
	return v
}

func TestFoldedPaths(t *testing.T) {
	longName := reflect.StructOf([]reflect.StructField{{Name: "F" + fmt.Sprintf("%0300d", 0), Type: reflect.TypeFor[int]()}})
	long := func(v int) any {
		x := reflect.New(longName).Elem()
		x.Field(0).SetInt(int64(v))
		return x.Interface()
	}
	tests := []struct {
		name   string
		reason string
		x, y   any
		want   []string
	}{
		{name: "list head", reason: "no recursion on the path", x: list(5), y: withV(list(5), 0, -1), want: []string{".V"}},
		{name: "list second", reason: "one return to the node type is kept as is", x: list(5), y: withV(list(5), 1, -1), want: []string{".Next.V"}},
		{name: "list third", reason: "the second return folds", x: list(5), y: withV(list(5), 2, -1), want: []string{".Next….V"}},
		{name: "list last", reason: "any depth folds to the same path", x: list(50), y: withV(list(50), 49, -1), want: []string{".Next….V"}},
		{name: "list length", reason: "nil against a node at depth 5", x: list(5), y: list(6), want: []string{".Next…"}},
		{name: "list by value", reason: "pointers are stripped: a Node value and a *Node are one type", x: *list(5), y: *withV(list(5), 3, -1), want: []string{".Next….V"}},
		{
			name: "tree", reason: "mixed recursion keeps the first step and folds the rest",
			x: &tree{Left: &tree{Right: &tree{V: 1}}}, y: &tree{Left: &tree{Right: &tree{V: 2}}},
			want: []string{".Left….V"},
		},
		{
			name: "tree shallow", reason: "one level is kept",
			x: &tree{Left: &tree{V: 1}}, y: &tree{Left: &tree{V: 2}},
			want: []string{".Left.V"},
		},
		{
			name: "children", reason: "recursion through a slice",
			x: family{Children: []family{{Children: []family{{V: 1}}}}}, y: family{Children: []family{{Children: []family{{V: 2}}}}},
			want: []string{".Children[*]….V"},
		},
		{name: "json 1", reason: "one level of nesting", x: nested(1, 1.0), y: nested(1, 2.0), want: []string{"[*]"}},
		{name: "json 2", reason: "the interface type returns once", x: nested(2, 1.0), y: nested(2, 2.0), want: []string{"[*][*]"}},
		{name: "json 9", reason: "deeper nesting folds", x: nested(9, 1.0), y: nested(9, 2.0), want: []string{"[*][*]…"}},
		{
			name: "capped", reason: "a path longer than MaxPathLen is cut, ending in …",
			x: long(1), y: long(2), want: []string{"." + longName.Field(0).Name[:MaxPathLen-1-len(foldMark)] + foldMark},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eq, paths := collectPaths(t, tt.x, tt.y)
			if eq {
				t.Fatalf("equal, want a difference (%s)", tt.reason)
			}
			if diff := cmp.Diff(tt.want, paths); diff != "" {
				t.Errorf("paths (-want +got) (%s):\n%s", tt.reason, diff)
			}
			for _, p := range paths {
				if len(p) > MaxPathLen {
					t.Errorf("path of %d bytes > MaxPathLen", len(p))
				}
			}
		})
	}
}

// TestPathsOfLongListStayLinear is a regression test: a recursive value of
// 3,000 nodes gave a 15 KB path, and one of 20,000 nodes a 100 KB path that
// took 9.6 s to build, because every differing leaf's path held the whole
// chain. With every V of 20,000 nodes differing, the paths now fold into
// three, and rendering them copies a bounded number of bytes per differing
// leaf (the time is in BenchmarkPathsLongList).
func TestPathsOfLongListStayLinear(t *testing.T) {
	const n = 20_000
	x, y := list(n), list(n)
	for l := y; l != nil; l = l.Next {
		l.V = -l.V - 1
	}
	c, err := New[*node](Spec{Budget: time.Minute}) // generous: -race is slow
	if err != nil {
		t.Fatal(err)
	}
	v := c.Compare(x, nil, y, nil)
	if v.Kind != ValuesDiffer {
		t.Fatalf("verdict %v (%v), want ValuesDiffer", v.Kind, v.Err)
	}
	if want := []string{".Next.V", ".Next….V", ".V"}; !slices.Equal(v.Paths, want) {
		t.Errorf("paths %q, want %q", v.Paths, want)
	}
	if v.leaves != n {
		t.Errorf("%d differing leaves, want %d", v.leaves, n)
	}
	w := c.walker(collectMode, time.Minute)
	defer c.walkers.Put(w)
	cmp.Equal(x, y, w.opts()...)
	if per := w.col.copied / n; per > len(".Next….V") {
		t.Errorf("rendering copied %d bytes for %d leaves (%d each): not linear", w.col.copied, n, per)
	}
}
