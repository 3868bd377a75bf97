package dualrungrpc

import (
	"testing"

	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
)

// BenchmarkCompareMessages is the comparison of two responses alone, as
// the shadow side runs it: equal ones (one proto.Equal), equal but for an
// ignored field (a go-cmp walk with protocmp), and differing ones (the
// walk, the paths and the diff lines).
func BenchmarkCompareMessages(b *testing.B) {
	differ := sample()
	differ.Items[1].PriceCents++
	stamp := sample()
	stamp.Items[0].UpdatedAt.Seconds++
	for _, bc := range []struct {
		name      string
		opts      []Option
		candidate *testpb.Order
	}{
		{"equal", nil, sample()},
		{"ignored", []Option{WithIgnoreFields("items.updated_at")}, stamp},
		{"differ", nil, differ},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ms := newMethods(newConfig(bc.opts))
			m := &method{}
			m.fields.max = 64
			legacy := sample()
			want := bc.name != "differ"
			b.ReportAllocs()
			for b.Loop() {
				if ms.cmp.equal(m, &reply{msg: legacy}, &reply{msg: bc.candidate}) != want {
					b.Fatal("wrong verdict")
				}
			}
		})
	}
}
