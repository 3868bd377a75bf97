package compare

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type (
	blob struct {
		Name string
		Data []byte
	}
	text struct {
		Name string
		Body string
	}
	digest struct {
		Sum [64 << 10]byte
		Alt float64 // not plainly comparable: go-cmp runs
	}
	raw       []byte
	caseless  []byte
	hiddenRaw struct {
		Pub  int
		data []byte
	}
	keyed struct{ M map[string][4]byte }
)

// Equal makes caseless compared by its method, which the engine must not
// bypass.
func (c caseless) Equal(o caseless) bool { return bytes.EqualFold(c, o) }

const tenMB = 10 << 20

// bigPair returns two 10 MB slices, differing at offset off unless off < 0.
func bigPair(off int) (x, y []byte) {
	x, y = make([]byte, tenMB), make([]byte, tenMB)
	if off >= 0 {
		y[off] = 1
	}
	return x, y
}

// TestByteLeaves is a regression test: go-cmp compared a 10 MB []byte one
// byte at a time, asking every option about every byte (11 s; bytes.Equal
// takes milliseconds). Byte slices and arrays are now compared as a whole,
// at the root and inside structs, and their paths are still reported.
func TestByteLeaves(t *testing.T) {
	x, y := bigPair(tenMB / 2)
	same, _ := bigPair(-1)
	tests := []struct {
		name      string
		reason    string
		compare   func() (Kind, []string)
		want      Kind
		wantPaths []string
	}{
		{
			name: "root equal", reason: "T itself is []byte",
			compare: func() (Kind, []string) {
				v := mustNew[[]byte](t, Spec{}).Compare(x, nil, x[:len(x):len(x)], nil)
				return v.Kind, v.Paths
			},
			want: Match,
		},
		{
			name: "root differ", reason: "one leaf at the root",
			compare: func() (Kind, []string) {
				v := mustNew[[]byte](t, Spec{}).Compare(x, nil, y, nil)
				return v.Kind, v.Paths
			},
			want: ValuesDiffer, wantPaths: []string{"."},
		},
		{
			name: "field equal", reason: "distinct but equal slices in a struct",
			compare: func() (Kind, []string) {
				v := mustNew[blob](t, Spec{}).Compare(blob{"a", same}, nil, blob{"a", bytes.Clone(same)}, nil)
				return v.Kind, v.Paths
			},
			want: Match,
		},
		{
			name: "field differ", reason: "the field's path is reported",
			compare: func() (Kind, []string) {
				v := mustNew[blob](t, Spec{}).Compare(blob{"a", x}, nil, blob{"b", y}, nil)
				return v.Kind, v.Paths
			},
			want: ValuesDiffer, wantPaths: []string{".Data", ".Name"},
		},
		{
			name: "length differs", reason: "a shorter slice differs",
			compare: func() (Kind, []string) {
				v := mustNew[blob](t, Spec{}).Compare(blob{"a", x}, nil, blob{"a", x[:len(x)-1]}, nil)
				return v.Kind, v.Paths
			},
			want: ValuesDiffer, wantPaths: []string{".Data"},
		},
		{
			name: "nil and empty", reason: "go-cmp's rule stays: nil differs from empty",
			compare: func() (Kind, []string) {
				v := mustNew[blob](t, Spec{}).Compare(blob{Data: nil}, nil, blob{Data: []byte{}}, nil)
				return v.Kind, v.Paths
			},
			want: ValuesDiffer, wantPaths: []string{".Data"},
		},
		{
			name: "nil and empty equated", reason: "the user's EquateEmpty applies",
			compare: func() (Kind, []string) {
				v := mustNew[blob](t, CmpOptions(cmpopts.EquateEmpty())(Spec{})).Compare(blob{Data: nil}, nil, blob{Data: []byte{}}, nil)
				return v.Kind, v.Paths
			},
			want: Match,
		},
		{
			name: "named byte slice", reason: "a named []byte is a byte leaf too",
			compare: func() (Kind, []string) {
				v := mustNew[raw](t, Spec{}).Compare(raw(x), nil, raw(y), nil)
				return v.Kind, v.Paths
			},
			want: ValuesDiffer, wantPaths: []string{"."},
		},
		{
			name: "Equal method", reason: "a type's Equal method still decides",
			compare: func() (Kind, []string) {
				v := mustNew[caseless](t, Spec{}).Compare(caseless("ABC"), nil, caseless("abc"), nil)
				return v.Kind, v.Paths
			},
			want: Match,
		},
		{
			name: "byte array", reason: "a 64 KiB array in a struct, compared as a whole",
			compare: func() (Kind, []string) {
				a, b := new(digest), new(digest)
				b.Sum[100] = 1
				v := mustNew[*digest](t, Spec{}).Compare(a, nil, b, nil)
				return v.Kind, v.Paths
			},
			want: ValuesDiffer, wantPaths: []string{".Sum"},
		},
		{
			name: "byte array in a map", reason: "map values are not addressable: go-cmp walks them",
			compare: func() (Kind, []string) {
				v := mustNew[keyed](t, Spec{}).Compare(keyed{map[string][4]byte{"k": {1}}}, nil, keyed{map[string][4]byte{"k": {2}}}, nil)
				return v.Kind, v.Paths
			},
			want: ValuesDiffer, wantPaths: []string{".M[*][*]"},
		},
		{
			name: "unexported without an option", reason: "go-cmp's refusal stays",
			compare: func() (Kind, []string) {
				v := mustNew[hiddenRaw](t, Spec{}).Compare(hiddenRaw{1, x}, nil, hiddenRaw{1, x}, nil)
				return v.Kind, v.Paths
			},
			want: Failed,
		},
		{
			name: "unexported allowed", reason: "with AllowUnexported the field is a byte leaf",
			compare: func() (Kind, []string) {
				v := mustNew[hiddenRaw](t, CmpOptions(cmp.AllowUnexported(hiddenRaw{}))(Spec{})).Compare(hiddenRaw{1, x}, nil, hiddenRaw{1, y}, nil)
				return v.Kind, v.Paths
			},
			want: ValuesDiffer, wantPaths: []string{".data"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, paths := tt.compare()
			if kind != tt.want {
				t.Fatalf("verdict %v, want %v (%s)", kind, tt.want, tt.reason)
			}
			if !cmp.Equal(paths, tt.wantPaths) {
				t.Errorf("paths %q, want %q (%s)", paths, tt.wantPaths, tt.reason)
			}
		})
	}
}

// TestByteLeafUserOptions: an option of the user's that applies to a byte
// slice the engine claims makes go-cmp panic on the ambiguity; the engine
// compares again without claiming, and stops claiming for that comparer.
func TestByteLeafUserOptions(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		opt    cmp.Option
		x, y   []byte
		want   Kind
	}{
		{name: "Comparer(bytes.Equal)", reason: "go-cmp's own advice for []byte", opt: cmp.Comparer(bytes.Equal), x: []byte("abc"), y: []byte("abd"), want: ValuesDiffer},
		{
			name: "Transformer", reason: "the user's transform decides: equal once lower-cased",
			opt: cmp.Transformer("lower", func(b []byte) string { return strings.ToLower(string(b)) }),
			x:   []byte("ABC"), y: []byte("abc"), want: Match,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew[blob](t, CmpOptions(tt.opt)(Spec{}))
			for i := range 2 {
				v := c.Compare(blob{Data: tt.x}, nil, blob{Data: tt.y}, nil)
				if v.Kind != tt.want {
					t.Fatalf("run %d: verdict %v (%v), want %v (%s)", i, v.Kind, v.Err, tt.want, tt.reason)
				}
				if tt.want == ValuesDiffer && !slicesEqual(v.Paths, []string{".Data"}) {
					t.Errorf("run %d: paths %q", i, v.Paths)
				}
			}
			if !c.noClaim.Load() {
				t.Errorf("the comparer still claims byte leaves after an ambiguity (%s)", tt.reason)
			}
			// The paths of a walk that had to start again are those of the
			// second walk alone.
			fresh := mustNew[blob](t, CmpOptions(tt.opt)(Spec{}))
			w := fresh.walker(collectMode, time.Minute)
			defer fresh.walkers.Put(w)
			x, y := blob{Name: "a", Data: tt.x}, blob{Name: "b", Data: tt.y}
			if err := fresh.walk(w, func() { cmp.Equal(x, y, w.opts()...) }); err != nil {
				t.Fatal(err)
			}
			want := []string{".Data", ".Name"}
			if tt.want == Match {
				want = want[1:]
			}
			if got := w.col.paths(); !slicesEqual(got, want) || len(w.col.frames) != 0 {
				t.Errorf("paths after a restart %q (%d steps left), want %q", got, len(w.col.frames), want)
			}
		})
	}
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }

// TestHugeLeafDiff: a diff never hands a huge leaf to go-cmp's reporter
// (which formats 10 MB before anything can cut it): it describes it, with
// the offset of the first difference and an excerpt.
func TestHugeLeafDiff(t *testing.T) {
	x, y := bigPair(5242880)
	body := strings.Repeat("lorem ipsum ", tenMB/12)
	tests := []struct {
		name   string
		reason string
		diff   func() string
		want   []string
	}{
		{
			name: "bytes in a struct", reason: "the field is described, the rest is go-cmp's diff",
			diff: func() string {
				v := mustNew[blob](t, Spec{}).Compare(blob{"a", x}, nil, blob{"b", y}, nil)
				return v.Diff(0)
			},
			want: []string{
				".Data: []uint8 of 10485760 and 10485760 bytes, first difference at offset 5242880\n",
				`-legacy:    …"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"…`,
				`+candidate: …"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00`,
				`Name: "a"`,
			},
		},
		{
			name: "bytes at the root", reason: "T itself is []byte",
			diff: func() string { v := mustNew[[]byte](t, Spec{}).Compare(x, nil, y[:tenMB-3], nil); return v.Diff(0) },
			want: []string{".: []uint8 of 10485760 and 10485757 bytes, first difference at offset 5242880"},
		},
		{
			name: "string", reason: "a huge string is described too",
			diff: func() string {
				v := mustNew[text](t, Spec{}).Compare(text{"n", body}, nil, text{"n", body + "!"}, nil)
				return v.Diff(0)
			},
			want: []string{".Body: string of 10485756 and 10485757 bytes, first difference at offset 10485756", `-legacy:    …"sum lorem ipsum "`, `+candidate: …"sum lorem ipsum !"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.diff()
			wantDiff(t, d, tt.want...)
			if len(d) > defaultLimit {
				t.Errorf("diff of %d bytes", len(d))
			}
		})
	}
}

// TestLargeComparisonsYield: a comparison checks its budget and yields
// (runtime.Gosched) while it works on large values, and never on small
// ones.
func TestLargeComparisonsYield(t *testing.T) {
	x, y := bigPair(-1)
	type small struct {
		A    string
		B    []int
		Data []byte
	}
	tests := []struct {
		name       string
		reason     string
		walk       func(w *walker)
		wantChecks bool
	}{
		{name: "small struct", reason: "a few nodes: no clock, no yield", walk: func(w *walker) {
			cmp.Equal(small{"a", []int{1, 2}, []byte("x")}, small{"a", []int{1, 2}, []byte("x")}, w.opts()...)
		}},
		{name: "10 MB of bytes", reason: "a check between chunks of the byte comparison", wantChecks: true, walk: func(w *walker) {
			cmp.Equal(small{Data: x}, small{Data: y}, w.opts()...)
		}},
		{name: "100,000 ints", reason: "a check every 1,024 nodes", wantChecks: true, walk: func(w *walker) {
			cmp.Equal(make([]int, 100_000), make([]int, 100_000), w.opts()...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew[any](t, Spec{})
			w := c.walker(equalMode, time.Minute)
			defer c.walkers.Put(w)
			tt.walk(w)
			if got := w.m.checks > 0; got != tt.wantChecks {
				t.Errorf("%d checks after %d nodes, want checks %v (%s)", w.m.checks, w.m.nodes, tt.wantChecks, tt.reason)
			}
		})
	}
}
