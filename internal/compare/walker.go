package compare

import (
	"reflect"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ExportAll lets go-cmp traverse unexported fields of every struct type. The
// engine uses it only to compute paths and diffs for humans (for types that
// == or a WithComparer func compares, which go-cmp does not need to
// understand), never to decide equality.
var ExportAll cmp.Option = cmp.Exporter(func(reflect.Type) bool { return true })

type walkMode uint8

const (
	equalMode   walkMode = iota // cmp.Equal: is there a difference?
	collectMode                 // cmp.Equal with a reporter: where?
	diffMode                    // cmp.Diff: how, for a human?
)

// maxDiffDepth is how deep a diff may go: go-cmp's diff text indents every
// level, so a deep difference costs the square of its depth to format
// (600 MB and 14 s for a list of 20,000 nodes). Deeper differences are
// described by their paths and the values printed by Format.
const maxDiffDepth = 128

// walker is the state of one go-cmp walk, and the options that report to
// it: one cmp.FilterPath that sees every node (it counts it on the meter and
// decides byte leaves, see leaf.go) and, for the paths, a reporter. Its
// options are built once and the walker is reused through a pool, so a walk
// allocates nothing of its own.
type walker struct {
	m        meter
	mode     walkMode
	maxDepth int
	claim    bool // report differing byte leaves as differing, without walking them
	// claimPending says that the filter has just claimed a differing byte
	// leaf and go-cmp has not yet called the claiming comparer: a panic
	// now is go-cmp's complaint that a user option applies too.
	claimPending bool
	leafEqual    bool // what the filter found for the leaf it just claimed
	col          collector
	notes        []string // diffMode: descriptions of huge differing leaves
	moreNotes    int      // huge differing leaves beyond maxHugeNotes

	equalOpts, collectOpts, diffOpts []cmp.Option
}

func newWalker(userOpts, pathOpts []cmp.Option) *walker {
	w := &walker{}
	engine := cmp.FilterPath(w.filter, cmp.Options{
		cmp.FilterPath(func(cmp.Path) bool { return w.leafEqual }, cmp.Ignore()),
		cmp.FilterPath(func(cmp.Path) bool { return !w.leafEqual }, cmp.Comparer(w.differ)),
	})
	w.equalOpts = append(append([]cmp.Option(nil), userOpts...), engine)
	w.diffOpts = append(append([]cmp.Option(nil), pathOpts...), engine)
	w.collectOpts = append(append([]cmp.Option(nil), pathOpts...), engine, cmp.Reporter(&w.col))
	return w
}

func (w *walker) reset(mode walkMode, budget, left time.Duration, claim bool) {
	w.m.reset(budget, left)
	w.mode, w.claim, w.claimPending, w.leafEqual = mode, claim, false, false
	w.maxDepth = MaxDepth
	if mode == diffMode {
		w.maxDepth = maxDiffDepth
	}
	w.col.reset()
	w.notes, w.moreNotes = w.notes[:0], 0
}

func (w *walker) opts() []cmp.Option {
	switch w.mode {
	case collectMode:
		return w.collectOpts
	case diffMode:
		return w.diffOpts
	}
	return w.equalOpts
}

// differ is the comparer of claimed differing byte leaves.
func (w *walker) differ(_, _ any) bool {
	w.claimPending = false
	return false
}

// filter sees every node go-cmp visits (unless a user's Ignore option
// took it first): it counts it on the meter, and claims the byte leaves
// the engine decides itself.
func (w *walker) filter(p cmp.Path) bool {
	w.claimPending = false
	w.m.step(len(p), w.maxDepth)
	ps := p.Last()
	t := ps.Type()
	if t == nil {
		return false
	}
	str := t.Kind() == reflect.String
	if !byteLeafType(t) && (!str || w.mode != diffMode) {
		return false
	}
	vx, vy := ps.Values()
	if !vx.IsValid() || !vy.IsValid() || !vx.CanInterface() || !vy.CanInterface() {
		return false // go-cmp's own rules apply (a missing entry, an unexported field)
	}
	x, okx := leafBytes(vx)
	y, oky := leafBytes(vy)
	if !okx || !oky || (len(x) == 0 && len(y) == 0) {
		return false // go-cmp tells nil from empty
	}
	huge := w.mode == diffMode && max(len(x), len(y)) >= hugeLeaf
	if str && !huge {
		return false // go-cmp compares strings with ==, and diffs short ones well
	}
	if huge {
		if off := firstDiff(&w.m, x, y); off >= 0 {
			w.note(p, t, x, y, off)
		}
		w.leafEqual = true // described, not diffed
		return true
	}
	w.leafEqual = bytesEqual(&w.m, x, y)
	if !w.leafEqual {
		if !w.claim {
			return false // let go-cmp and the user's options walk it
		}
		w.claimPending = true
	}
	return true
}

func (w *walker) note(p cmp.Path, t reflect.Type, x, y []byte, off int) {
	if len(w.notes) >= maxHugeNotes {
		w.moreNotes++
		return
	}
	w.notes = append(w.notes, describeLeaf(p, t, x, y, off))
}
