package ring

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/redact"
)

// Ring is a dualrun Publisher that keeps the latest Reports in memory. Make
// it with [New]; the zero Ring is not usable. It is safe for concurrent
// use.
type Ring struct {
	cfg config

	mu    sync.Mutex
	exps  map[string]*experiment
	clock uint64 // orders experiments by last publish, for eviction
}

type experiment struct {
	recent   []*dualrun.Report // ring buffer of cfg.size
	next     int               // where the next Report goes
	received int64
	sets     []*PathSet
	used     uint64
}

// PathSet counts the Reports of one experiment that share an outcome, a
// mismatch kind and a set of differing paths.
type PathSet struct {
	Outcome dualrun.Outcome
	Kind    dualrun.MismatchKind
	// Paths are the folded differing paths; empty for outcomes without
	// paths (timeout, panic, error) and for error mismatches.
	Paths []string
	// Count is how many Reports had this path set. When more distinct sets
	// arrive than [WithMaxPathSets], the least frequent one makes room and
	// its count is carried over (the space-saving algorithm), so Count may
	// overstate by at most Overcount; the most frequent sets stay exact.
	Count     int64
	Overcount int64
	// Sample is the latest Report with this path set, and Last its time.
	Sample *dualrun.Report
	Last   time.Time
}

// String describes the path set, e.g. "mismatch/value [.Items[*].Price]".
func (p PathSet) String() string {
	s := p.Outcome.String()
	if p.Kind != dualrun.NoMismatch {
		s += "/" + p.Kind.String()
	}
	if len(p.Paths) > 0 {
		s += " [" + strings.Join(p.Paths, " ") + "]"
	}
	return s
}

// Snapshot is what a Ring holds for one experiment.
type Snapshot struct {
	Experiment string
	// Received counts the Reports kept since the Ring first saw the
	// experiment (or since it was last forgotten).
	Received int64
	// Recent are the latest Reports, newest first.
	Recent []*dualrun.Report
	// PathSets are the path sets, most frequent first.
	PathSets []PathSet
}

// New returns an empty Ring.
func New(opts ...Option) *Ring {
	return &Ring{cfg: newConfig(opts), exps: make(map[string]*experiment)}
}

// Name returns "ring", the dualrun.exporter attribute of the Reports it
// drops.
func (g *Ring) Name() string { return "ring" }

// Publish keeps r. It fails only when the redaction hook panics.
func (g *Ring) Publish(_ context.Context, r *dualrun.Report) error {
	r, err := redact.Apply(r, g.cfg.redact, g.cfg.maxDiff)
	if err != nil || r == nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.exps[r.Experiment]
	if e == nil {
		if len(g.exps) >= g.cfg.maxExps {
			g.evictLocked()
		}
		e = &experiment{recent: make([]*dualrun.Report, g.cfg.size)}
		g.exps[r.Experiment] = e
	}
	g.clock++
	e.used = g.clock
	e.received++
	e.recent[e.next] = r
	e.next = (e.next + 1) % len(e.recent)
	e.count(r, g.cfg.maxSets)
	return nil
}

// evictLocked forgets the experiment that published least recently.
func (g *Ring) evictLocked() {
	var oldest string
	var at uint64
	first := true
	for name, e := range g.exps {
		if first || e.used < at {
			oldest, at, first = name, e.used, false
		}
	}
	delete(g.exps, oldest)
}

func (e *experiment) count(r *dualrun.Report, maxSets int) {
	for _, s := range e.sets {
		if s.Outcome == r.Outcome && s.Kind == r.Kind && slices.Equal(s.Paths, r.Paths) {
			s.Count++
			s.Sample, s.Last = r, r.Time
			return
		}
	}
	s := &PathSet{Outcome: r.Outcome, Kind: r.Kind, Paths: slices.Clone(r.Paths), Count: 1, Sample: r, Last: r.Time}
	if len(e.sets) < maxSets {
		e.sets = append(e.sets, s)
		return
	}
	// Space-saving: the least frequent set makes room, and its count
	// carries over as the newcomer's possible overcount.
	low := 0
	for i, x := range e.sets {
		if x.Count < e.sets[low].Count {
			low = i
		}
	}
	s.Overcount = e.sets[low].Count
	s.Count += s.Overcount
	e.sets[low] = s
}

// Snapshot returns what the Ring holds for the named experiment, and false
// if it holds nothing.
func (g *Ring) Snapshot(experiment string) (Snapshot, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.exps[experiment]
	if e == nil {
		return Snapshot{Experiment: experiment}, false
	}
	s := Snapshot{Experiment: experiment, Received: e.received, Recent: e.recentLocked()}
	s.PathSets = make([]PathSet, 0, len(e.sets))
	for _, p := range e.sets {
		c := *p
		c.Paths = slices.Clone(p.Paths)
		s.PathSets = append(s.PathSets, c)
	}
	sort.SliceStable(s.PathSets, func(i, j int) bool {
		a, b := s.PathSets[i], s.PathSets[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Last.After(b.Last)
	})
	return s, true
}

func (e *experiment) recentLocked() []*dualrun.Report {
	out := make([]*dualrun.Report, 0, len(e.recent))
	for i := 1; i <= len(e.recent); i++ {
		r := e.recent[(e.next-i+len(e.recent))%len(e.recent)]
		if r == nil {
			break
		}
		out = append(out, r)
	}
	return out
}

// Recent returns the latest Reports of the named experiment, newest first.
// The Reports are shared: treat them as read-only.
func (g *Ring) Recent(experiment string) []*dualrun.Report {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.exps[experiment]; e != nil {
		return e.recentLocked()
	}
	return nil
}

// Experiments returns the names of the experiments the Ring holds Reports
// of, sorted.
func (g *Ring) Experiments() []string {
	g.mu.Lock()
	out := make([]string, 0, len(g.exps))
	for name := range g.exps {
		out = append(out, name)
	}
	g.mu.Unlock()
	sort.Strings(out)
	return out
}
