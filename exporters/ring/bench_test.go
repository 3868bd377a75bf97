package ring_test

import (
	"context"
	"testing"

	"github.com/dualrun/dualrun/exporters/internal/exptest"
	"github.com/dualrun/dualrun/exporters/ring"
)

// BenchmarkPublish measures keeping one Report and counting its path set.
func BenchmarkPublish(b *testing.B) {
	g := ring.New()
	r := exptest.Sample("bench")
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Publish(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}
