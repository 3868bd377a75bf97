package compare

import (
	"reflect"
	"slices"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

const (
	// MaxPathLen caps the length of one folded path in bytes.
	MaxPathLen = 256
	// MaxPaths bounds the distinct paths collected from one comparison.
	MaxPaths = 32
	// foldMark stands for the steps of a recursion folded out of a path.
	foldMark = "…"
	// rootPath is the path of a difference at the root.
	rootPath = "."
)

// pathBuilder builds the folded path of the node go-cmp is at, one step at
// a time, in time linear in the steps.
//
// Struct fields add ".Name", slice and array indexes and map keys add
// "[*]"; indirections, type assertions and transforms add nothing. A path
// that comes back to a type it already passed through (a recursive value:
// a list, a tree, nested JSON objects) folds: the steps between the second
// return and the latest one become one "…". A difference in the V of the
// 15,000th node of type Node struct{ V int; Next *Node } is at
// ".Next….V"; in the second node, ".Next.V". The result is at most
// MaxPathLen bytes, cut with "…" beyond.
//
// The text of every step stays in buf (append-only while going down), so
// that going back up restores a shorter path exactly; the folded path is
// buf[:foldAt] + "…" + buf[tailAt:].
type pathBuilder struct {
	buf    []byte
	frames []frame
	onPath map[reflect.Type]int32 // types (pointers stripped) of the steps on the path
	folds  int                    // returns to a type on the path: 0, 1 or 2 (folded)
	foldAt int                    // len(buf) after the first return
	tailAt int                    // len(buf) after the latest return
	key    []byte                 // the rendered path
	copied int                    // bytes rendered into keys, to show the work stays linear
}

// frame is what a step changed, to undo it.
type frame struct {
	end            int
	typ            reflect.Type // nil: the step adds no text and no type
	folds          int
	foldAt, tailAt int
}

func (b *pathBuilder) reset() {
	b.buf, b.frames, b.key = b.buf[:0], b.frames[:0], b.key[:0]
	clear(b.onPath)
	b.folds, b.foldAt, b.tailAt, b.copied = 0, 0, 0, 0
}

// push enters step ps.
func (b *pathBuilder) push(ps cmp.PathStep) {
	f := frame{end: len(b.buf), folds: b.folds, foldAt: b.foldAt, tailAt: b.tailAt}
	root := len(b.frames) == 0
	switch ps := ps.(type) {
	case cmp.StructField:
		b.buf = append(b.buf, '.')
		b.buf = append(b.buf, ps.Name()...)
		f.typ = ps.Type()
	case cmp.SliceIndex, cmp.MapIndex:
		b.buf = append(b.buf, "[*]"...)
		f.typ = ps.Type()
	default:
		if root {
			f.typ = ps.Type()
		}
	}
	if f.typ != nil {
		f.typ = stripPointers(f.typ)
		if b.onPath[f.typ] > 0 {
			if b.folds == 0 {
				b.folds, b.foldAt = 1, len(b.buf)
			} else {
				b.folds, b.tailAt = 2, len(b.buf)
			}
		}
		if b.onPath == nil {
			b.onPath = make(map[reflect.Type]int32)
		}
		b.onPath[f.typ]++
	}
	b.frames = append(b.frames, f)
}

// pop leaves the innermost step.
func (b *pathBuilder) pop() {
	n := len(b.frames) - 1
	f := b.frames[n]
	b.frames = b.frames[:n]
	b.buf = b.buf[:f.end]
	b.folds, b.foldAt, b.tailAt = f.folds, f.foldAt, f.tailAt
	if f.typ != nil {
		b.onPath[f.typ]--
	}
}

// path renders the folded path of the current node into b.key and returns
// it; the slice is reused by the next call. Its length is bounded by the
// types on the path, not by the values: a recursion is folded.
func (b *pathBuilder) path() []byte {
	k := b.key[:0]
	if b.folds < 2 {
		k = append(k, b.buf...)
	} else {
		k = append(k, b.buf[:b.foldAt]...)
		k = append(k, foldMark...)
		k = append(k, b.buf[b.tailAt:]...)
	}
	if len(k) == 0 {
		k = append(k, rootPath...)
	}
	if len(k) > MaxPathLen {
		n := MaxPathLen - len(foldMark)
		for n > 0 && !utf8.RuneStart(k[n]) {
			n--
		}
		k = append(k[:n], foldMark...)
	}
	b.key = k
	b.copied += len(k)
	return k
}

// stripPointers returns the type t points to, through any number of
// pointers.
func stripPointers(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// pathOf returns the folded path of p, for the rare places (huge leaves)
// that need one outside a reporter.
func pathOf(p cmp.Path) string {
	var b pathBuilder
	for _, ps := range p {
		b.push(ps)
	}
	return string(b.path())
}

// collector is the cmp.Reporter that records the folded path of every
// differing leaf. It counts the differing leaves and their greatest depth,
// which tell whether go-cmp's diff of the values can be afforded.
type collector struct {
	pathBuilder
	seen     map[string]struct{}
	leaves   int // differing leaves
	maxDepth int // path steps to the deepest differing leaf
}

func (c *collector) reset() {
	c.pathBuilder.reset()
	clear(c.seen)
	c.leaves, c.maxDepth = 0, 0
}

// PushStep enters a step.
func (c *collector) PushStep(ps cmp.PathStep) { c.push(ps) }

// PopStep leaves a step.
func (c *collector) PopStep() { c.pop() }

// Report is called once per leaf; parents whose children differ are never
// reported, so recording unequal leaves is enough.
func (c *collector) Report(res cmp.Result) {
	if res.Equal() {
		return
	}
	c.leaves++
	c.maxDepth = max(c.maxDepth, len(c.frames))
	if len(c.seen) >= MaxPaths {
		return
	}
	key := c.path()
	if _, ok := c.seen[string(key)]; ok { // string(key) in a map index does not allocate
		return
	}
	if c.seen == nil {
		c.seen = make(map[string]struct{})
	}
	c.seen[string(key)] = struct{}{}
}

// paths returns the collected paths, sorted.
func (c *collector) paths() []string {
	if len(c.seen) == 0 {
		return nil
	}
	out := make([]string, 0, len(c.seen))
	for p := range c.seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
