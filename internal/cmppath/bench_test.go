package cmppath

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

type benchLine struct {
	SKU string
	Qty int
}

// benchRecord has 10 fields, one of them a nested slice.
type benchRecord struct {
	ID       int64
	Customer string
	Country  string
	Currency string
	Total    int64
	Paid     bool
	Retries  int
	Channel  string
	Tags     [3]string
	Lines    []benchLine
}

func newBenchRecord() benchRecord {
	return benchRecord{
		ID: 42, Customer: "c-17", Country: "NL", Currency: "EUR", Total: 12345,
		Paid: true, Retries: 1, Channel: "web", Tags: [3]string{"a", "b", "c"},
		Lines: []benchLine{{"sku-1", 1}, {"sku-2", 2}, {"sku-3", 3}, {"sku-4", 4}},
	}
}

func benchPair(equal bool) (x, y benchRecord) {
	x, y = newBenchRecord(), newBenchRecord()
	y.Lines = append([]benchLine(nil), y.Lines...)
	if !equal {
		y.Total++
		y.Lines[2].Qty = 30
	}
	return x, y
}

func BenchmarkCompare(b *testing.B) {
	for _, equal := range []bool{true, false} {
		name := "unequal"
		if equal {
			name = "equal"
		}
		x, y := benchPair(equal)
		b.Run("Equal/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if eq, err := Equal(x, y, nil); err != nil || eq != equal {
					b.Fatal(eq, err)
				}
			}
		})
		b.Run("Collect/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if eq, _, err := Collect(x, y, nil, 0); err != nil || eq != equal {
					b.Fatal(eq, err)
				}
			}
		})
		b.Run("cmp.Equal/"+name, func(b *testing.B) { // baseline without recover
			b.ReportAllocs()
			for b.Loop() {
				if cmp.Equal(x, y) != equal {
					b.Fatal()
				}
			}
		})
	}
}
