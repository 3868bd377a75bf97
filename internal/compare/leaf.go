package compare

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// go-cmp compares a []byte element by element, asking every option about
// every byte: 1.3 µs a byte here, 11 s for 10 MB, where bytes.Equal takes
// a millisecond. The engine therefore decides byte slices and arrays
// itself, inside go-cmp's walk, with a cmp.FilterPath (walker.filter):
//
//   - equal ones are ignored (cmp.Ignore), which wins over every other
//     option and is always right: any sane option finds equal bytes equal;
//   - differing ones are reported as one differing leaf (a Comparer that
//     says false), so their path is still collected. If a user option also
//     applies to the same slice (say cmp.Comparer(bytes.Equal), which
//     go-cmp's own documentation recommends), go-cmp panics on the
//     ambiguity; the engine then compares again without claiming differing
//     slices, and stops claiming them for that comparer. Options that apply
//     to single bytes (a Comparer on byte, cmpopts.IgnoreSliceElements on a
//     []byte) do not apply, as with cmp.Comparer(bytes.Equal);
//   - in a diff, byte slices, byte arrays and strings of at least hugeLeaf
//     bytes are never given to go-cmp's reporter, which would format them
//     (0.7 s for 10 MB before any truncation): the diff describes them
//     instead, with their lengths, the offset of the first difference and a
//     short excerpt around it.
//
// Large comparisons go in chunks of leafChunk bytes, with a budget check
// (and a yield) between chunks.

const (
	// hugeLeaf is the size from which a diff describes a leaf instead of
	// letting go-cmp print it.
	hugeLeaf = 4 << 10
	// leafChunk is the piece of a byte comparison between two checks of
	// the budget.
	leafChunk = 256 << 10
	// excerpt is how many bytes a description shows on each side of the
	// first difference.
	excerpt = 16
	// maxHugeNotes bounds the huge leaves a diff describes.
	maxHugeNotes = 8
)

// leafBytes returns the bytes of a byte slice, an addressable byte array
// or a string (read-only), and false for anything else.
func leafBytes(v reflect.Value) ([]byte, bool) {
	switch v.Kind() {
	case reflect.Slice:
		return v.Bytes(), true
	case reflect.Array:
		if !v.CanAddr() {
			return nil, false // a map value: go-cmp walks it, its length is fixed anyway
		}
		return v.Bytes(), true
	case reflect.String:
		s := v.String()
		return unsafe.Slice(unsafe.StringData(s), len(s)), true
	}
	return nil, false
}

// firstDiff returns the offset of the first byte at which x and y differ,
// or -1 when they are equal, comparing a chunk at a time with a budget
// check between chunks.
func firstDiff(m *meter, x, y []byte) int {
	n := min(len(x), len(y))
	for off := 0; off < n; off += leafChunk {
		end := min(off+leafChunk, n)
		if !bytes.Equal(x[off:end], y[off:end]) {
			for i := off; ; i++ {
				if x[i] != y[i] {
					return i
				}
			}
		}
		if end < n {
			m.check()
		}
	}
	if len(x) != len(y) {
		return n
	}
	return -1
}

// bytesEqual is bytes.Equal in chunks, with a budget check between them.
func bytesEqual(m *meter, x, y []byte) bool {
	if len(x) != len(y) {
		return false
	}
	if len(x) <= leafChunk {
		return bytes.Equal(x, y)
	}
	return firstDiff(m, x, y) < 0
}

// describeLeaf describes two differing huge leaves at path p.
func describeLeaf(p cmp.Path, t reflect.Type, x, y []byte, off int) string {
	var b strings.Builder
	b.WriteString(pathOf(p))
	b.WriteString(": ")
	b.WriteString(t.String())
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(len(x)))
	b.WriteString(" and ")
	b.WriteString(strconv.Itoa(len(y)))
	b.WriteString(" bytes, first difference at offset ")
	b.WriteString(strconv.Itoa(off))
	b.WriteString("\n\t-legacy:    ")
	writeExcerpt(&b, x, off)
	b.WriteString("\n\t+candidate: ")
	writeExcerpt(&b, y, off)
	b.WriteByte('\n')
	return b.String()
}

// writeExcerpt writes the bytes of s around off, quoted.
func writeExcerpt(b *strings.Builder, s []byte, off int) {
	lo, hi := max(off-excerpt, 0), min(off+excerpt, len(s))
	if lo > 0 {
		b.WriteString("…")
	}
	b.WriteString(strconv.Quote(string(s[min(lo, hi):hi])))
	if hi < len(s) {
		b.WriteString("…")
	}
}
