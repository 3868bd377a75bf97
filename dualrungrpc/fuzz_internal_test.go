package dualrungrpc

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
	"github.com/dualrun/dualrun/internal/compare"
)

// FuzzCompare compares responses decoded from arbitrary bytes, as a
// backend may send them: the comparison never panics, agrees with
// proto.Equal on equal messages, is symmetric, and keeps its paths and its
// diff within their bounds.
func FuzzCompare(f *testing.F) {
	marshal := func(o *testpb.Order) []byte {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(o)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	deep := sample()
	c := deep.Category
	for range 50 {
		c.Children = []*testpb.Category{{Name: "n"}}
		c = c.Children[0]
	}
	seeds := [][2]*testpb.Order{
		{sample(), sample()},
		{sample(), edit(func(o *testpb.Order) { o.Items[1].PriceCents++ })},
		{sample(), edit(func(o *testpb.Order) { o.Labels["x"] = "y"; o.Payment = nil })},
		{sample(), unknownField(sample(), 3)},
		{edit(func(o *testpb.Order) { o.Extra = anyOf(f, true) }), edit(func(o *testpb.Order) { o.Extra = anyOf(f, false) })},
		{edit(func(o *testpb.Order) { o.Score = math.NaN() }), edit(func(o *testpb.Order) { o.Score = math.Inf(1) })},
		{deep, sample()},
	}
	for i, s := range seeds {
		f.Add(marshal(s[0]), marshal(s[1]), i%2 == 0)
	}
	f.Add([]byte{0x0a, 0x80}, []byte{}, false)      // truncated
	f.Add([]byte{0xff, 0xff, 0xff}, []byte{}, true) // garbage
	f.Fuzz(func(t *testing.T, a, b []byte, ignore bool) {
		l, r := &testpb.Order{}, &testpb.Order{}
		opts := proto.UnmarshalOptions{AllowPartial: true}
		if opts.Unmarshal(a, l) != nil || opts.Unmarshal(b, r) != nil {
			return
		}
		var cfg []Option
		if ignore {
			cfg = append(cfg, WithIgnoreFields("items.updated_at", "labels", "category.name"))
		}
		ms := newMethods(newConfig(cfg))
		m := &method{}
		m.fields.max = 1 << 20 // every path, to check each one
		lr, rr := &reply{msg: l}, &reply{msg: r}
		defer func() {
			// A comparison may run out of budget (dualrun records it as
			// outcome error); nothing else may panic.
			if v := recover(); v != nil {
				if err, _ := v.(error); !errors.Is(err, dualrun.ErrCompareBudget) {
					panic(v)
				}
			}
		}()
		eq := ms.cmp.equal(m, lr, rr)
		if proto.Equal(l, r) && !eq {
			t.Fatalf("proto.Equal holds but the comparison found %v", m.fields.top())
		}
		// The fast paths (proto.Equal, cleared ignored fields) agree with
		// the go-cmp walk alone.
		walk := newMethods(newConfig(cfg))
		walk.cmp.walkOnly = true
		wm := &method{fields: fieldSet{max: 1 << 20}}
		if weq := walk.cmp.equal(wm, &reply{msg: l}, &reply{msg: r}); weq != eq {
			t.Fatalf("equal = %v, but the walk alone says %v (%v)", eq, weq, wm.fields.top())
		}
		if back := ms.cmp.equal(&method{fields: fieldSet{max: 1}}, &reply{msg: r}, &reply{msg: l}); back != eq {
			t.Fatalf("equal(l, r) = %v but equal(r, l) = %v", eq, back)
		}
		fields := m.fields.top()
		if eq != (len(fields) == 0) {
			t.Fatalf("equal = %v with paths %v", eq, fields)
		}
		if len(fields) > compare.MaxPaths {
			t.Fatalf("%d paths, more than %d", len(fields), compare.MaxPaths)
		}
		for _, p := range fields {
			if len(p.Path) > compare.MaxPathLen || !strings.HasPrefix(p.Path, ".") {
				t.Fatalf("path %q: longer than %d bytes or not rooted", p.Path, compare.MaxPathLen)
			}
		}
		for _, d := range []string{lr.diff, rr.diff} {
			if n := strings.Count(d, "\n"); n > maxLeaves+1 {
				t.Fatalf("diff of %d lines:\n%s", n, d)
			}
			if len(d) > (maxLeaves+1)*(compare.MaxPathLen+maxValueText+8) {
				t.Fatalf("diff of %d bytes", len(d))
			}
		}
	})
}
