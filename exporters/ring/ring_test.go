package ring_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/exptest"
	"github.com/dualrun/dualrun/exporters/ring"
)

// rep returns a report of experiment exp with id i and the given paths.
func rep(exp string, i int, paths ...string) *dualrun.Report {
	r := exptest.Sample(exp)
	r.ID = fmt.Sprint(i)
	r.Paths = paths
	return r
}

func publish(t *testing.T, g *ring.Ring, rs ...*dualrun.Report) {
	t.Helper()
	for _, r := range rs {
		if err := g.Publish(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(rs []*dualrun.Report) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestRecent(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		size   int
		n      int
		want   []string
	}{
		{name: "fewer than size", reason: "every report is kept, newest first", size: 3, n: 2, want: []string{"1", "0"}},
		{name: "exactly size", reason: "the buffer fills without dropping", size: 3, n: 3, want: []string{"2", "1", "0"}},
		{name: "wraps", reason: "only the last size reports stay", size: 3, n: 7, want: []string{"6", "5", "4"}},
		{name: "none", reason: "an experiment never seen has nothing", size: 3, n: 0, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := ring.New(ring.WithSize(tt.size))
			for i := range tt.n {
				publish(t, g, rep("e", i, "."))
			}
			if got := ids(g.Recent("e")); !slices.Equal(got, tt.want) {
				t.Fatalf("Recent = %v, want %v (%s)", got, tt.want, tt.reason)
			}
			s, ok := g.Snapshot("e")
			if ok != (tt.n > 0) || s.Received != int64(tt.n) || !slices.Equal(ids(s.Recent), tt.want) {
				t.Fatalf("Snapshot = %+v, %v (%s)", s, ok, tt.reason)
			}
		})
	}
}

func TestPathSets(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		maxSets int
		publish [][]string // path sets, in order
		want    []string   // String of each set, most frequent first
		counts  []int64
		over    []int64
		sample  string // ID of the most frequent set's sample
	}{
		{
			name:    "counted",
			reason:  "the most frequent set comes first, its sample is the latest",
			maxSets: 4,
			publish: [][]string{{".A"}, {".B"}, {".A"}, {".A", ".B"}, {".A"}},
			want:    []string{"mismatch/value [.A]", "mismatch/value [.B]", "mismatch/value [.A .B]"},
			counts:  []int64{3, 1, 1},
			over:    []int64{0, 0, 0},
			sample:  "4",
		},
		{
			name:    "space saving",
			reason:  "beyond the bound the least frequent set makes room; the newcomer carries its count as overcount",
			maxSets: 2,
			publish: [][]string{{".A"}, {".A"}, {".A"}, {".B"}, {".B"}, {".C"}},
			want:    []string{"mismatch/value [.A]", "mismatch/value [.C]"},
			counts:  []int64{3, 3},
			over:    []int64{0, 2},
			sample:  "2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := ring.New(ring.WithMaxPathSets(tt.maxSets))
			for i, p := range tt.publish {
				publish(t, g, rep("e", i, p...))
			}
			s, _ := g.Snapshot("e")
			var got []string
			var counts, over []int64
			for _, p := range s.PathSets {
				got = append(got, p.String())
				counts = append(counts, p.Count)
				over = append(over, p.Overcount)
			}
			if !slices.Equal(got, tt.want) || !slices.Equal(counts, tt.counts) || !slices.Equal(over, tt.over) {
				t.Fatalf("path sets %v counts %v overcounts %v, want %v %v %v (%s)", got, counts, over, tt.want, tt.counts, tt.over, tt.reason)
			}
			if s.PathSets[0].Sample.ID != tt.sample {
				t.Fatalf("sample %s, want %s (%s)", s.PathSets[0].Sample.ID, tt.sample, tt.reason)
			}
		})
	}
}

func TestMaxExperiments(t *testing.T) {
	g := ring.New(ring.WithMaxExperiments(2))
	publish(t, g, rep("a", 0), rep("b", 1), rep("a", 2), rep("c", 3))
	if got := g.Experiments(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("Experiments = %v, want [a c]: b published least recently", got)
	}
}

func TestBoundedMemory(t *testing.T) {
	g := ring.New(ring.WithSize(4), ring.WithMaxPathSets(3), ring.WithMaxExperiments(5), ring.WithMaxDiff(64))
	for i := range 5000 {
		r := rep(fmt.Sprint("exp", i/100), i, fmt.Sprint(".F", i%17)) // 50 experiments, 100 reports each
		r.Diff = strings.Repeat("x", 10000)
		publish(t, g, r)
	}
	exps := g.Experiments()
	if len(exps) != 5 {
		t.Fatalf("%d experiments kept, want 5", len(exps))
	}
	for _, e := range exps {
		s, _ := g.Snapshot(e)
		if len(s.Recent) != 4 || len(s.PathSets) != 3 {
			t.Fatalf("%s: %d reports, %d path sets; want 4 and 3", e, len(s.Recent), len(s.PathSets))
		}
		for _, r := range s.Recent {
			if len(r.Diff) > 64 {
				t.Fatalf("diff of %d bytes kept, want at most 64", len(r.Diff))
			}
		}
	}
}

func TestRedact(t *testing.T) {
	g := ring.New(ring.WithRedact(func(r *dualrun.Report) *dualrun.Report {
		if r.Experiment == "skip" {
			return nil
		}
		r.Diff = strings.ReplaceAll(r.Diff, exptest.Secret, "XXXX")
		return r
	}))
	orig := exptest.Sample("keep")
	publish(t, g, orig, exptest.Sample("skip"))
	if got := g.Experiments(); !slices.Equal(got, []string{"keep"}) {
		t.Fatalf("Experiments = %v, want [keep]", got)
	}
	if d := g.Recent("keep")[0].Diff; strings.Contains(d, exptest.Secret) || !strings.Contains(d, "XXXX") {
		t.Fatalf("kept diff %q not redacted", d)
	}
	if !strings.Contains(orig.Diff, exptest.Secret) {
		t.Fatal("the hook changed the shared Report")
	}

	bad := ring.New(ring.WithRedact(func(*dualrun.Report) *dualrun.Report { panic("boom") }))
	if err := bad.Publish(context.Background(), exptest.Sample("x")); err == nil {
		t.Fatal("Publish with a panicking hook succeeded")
	}
	if len(bad.Experiments()) != 0 {
		t.Fatal("a report whose redaction failed was kept")
	}
}

func TestRealExperiment(t *testing.T) {
	g := ring.New()
	exptest.Mismatch(t, "ring.real", dualrun.WithPublisher(g))
	s, ok := g.Snapshot("ring.real")
	if !ok || len(s.Recent) != 1 || len(s.PathSets) != 1 {
		t.Fatalf("snapshot %+v", s)
	}
	if got := s.PathSets[0].String(); got != "mismatch/value [.Card .Total]" {
		t.Fatalf("path set %q", got)
	}
	if !strings.Contains(s.Recent[0].Diff, exptest.Secret) {
		t.Fatalf("the ring keeps values in the process; diff %q", s.Recent[0].Diff)
	}
}

func TestConcurrent(t *testing.T) {
	g := ring.New(ring.WithSize(8), ring.WithMaxExperiments(4))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 500 {
				_ = g.Publish(context.Background(), rep(fmt.Sprint("e", (w+i)%6), i, fmt.Sprint(".P", i%5)))
			}
		})
		wg.Go(func() {
			for range 200 {
				for _, e := range g.Experiments() {
					s, _ := g.Snapshot(e)
					if len(s.Recent) > 8 {
						t.Errorf("%d reports kept, want at most 8", len(s.Recent))
					}
				}
			}
		})
	}
	wg.Wait()
	if n := len(g.Experiments()); n != 4 {
		t.Fatalf("%d experiments, want 4", n)
	}
}
