package jsonl_test

import (
	"context"
	"io"
	"testing"

	"github.com/dualrun/dualrun/exporters/internal/exptest"
	"github.com/dualrun/dualrun/exporters/jsonl"
)

// BenchmarkPublish measures one line: encoding and one Write.
func BenchmarkPublish(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []jsonl.Option
	}{
		{name: "value-free"},
		{name: "values", opts: []jsonl.Option{jsonl.WithValues()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := jsonl.New(io.Discard, bc.opts...)
			r := exptest.Sample("bench")
			b.ReportAllocs()
			for b.Loop() {
				if err := w.Publish(context.Background(), r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
