package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v      uint64
		reason string
	}{
		{"zero", 0, "the linear range starts at 0"},
		{"last exact", 1023, "values below 1,024ns have a bucket each"},
		{"first shifted", 1024, "from 1,024ns buckets are 2ns wide"},
		{"100µs", 100_000, "the legacy work of the soak"},
		{"10ms", 10_000_000, "the slow candidate"},
		{"top", 1<<40 - 1, "the last regular bucket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := bucket(tc.v)
			if i < 0 || i >= histBuckets {
				t.Fatalf("bucket(%d) = %d, out of range (%s)", tc.v, i, tc.reason)
			}
			mid := bucketMid(i)
			if diff := float64(mid) - float64(tc.v); diff < 0 && -diff > float64(tc.v)/1024+1 || diff > float64(tc.v)/1024+1 {
				t.Errorf("bucketMid(bucket(%d)) = %d, more than 1/1024 away (%s)", tc.v, mid, tc.reason)
			}
			if tc.v < 1024 && mid != tc.v {
				t.Errorf("bucketMid(bucket(%d)) = %d, want exact (%s)", tc.v, mid, tc.reason)
			}
		})
	}
	if i := bucket(1 << 50); i != histBuckets-1 {
		t.Errorf("bucket(2^50) = %d, want the last bucket %d", i, histBuckets-1)
	}
}

func TestQuantilesMatchSortedSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := newHistogram(), newHistogram()
	var all []time.Duration
	for i := range 20000 {
		d := time.Duration(90_000 + r.IntN(20_000))
		if i%100 == 0 {
			d = time.Duration(r.IntN(10_000_000)) // a tail
		}
		all = append(all, d)
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	a.merge(b)
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := all[int(q*float64(len(all)))-1]
		got := a.quantile(q)
		if diff := (got - want).Abs(); diff > want/1000+1 {
			t.Errorf("quantile(%v) = %v, want %v within 0.1%%", q, got, want)
		}
	}
	if a.n != uint64(len(all)) || time.Duration(a.max) != all[len(all)-1] {
		t.Errorf("n = %d, max = %v; want %d, %v", a.n, time.Duration(a.max), len(all), all[len(all)-1])
	}
}
