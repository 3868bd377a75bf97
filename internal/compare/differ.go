package compare

import (
	"slices"
	"unicode/utf8"
)

// Difference is what a user's differ says of two values: whether they are
// equal, the paths on which they differ (in the differ's own notation, such
// as JSON paths "$.items[*].price" or proto field paths), and a diff made
// on demand.
type Difference struct {
	// Equal reports whether the values are equal.
	Equal bool
	// Paths are the differing paths; the engine bounds them as its own:
	// at most MaxPaths distinct paths of at most MaxPathLen bytes, sorted.
	Paths []string
	// Diff, if not nil, describes the difference in at most limit bytes
	// for Reports; it is called only when a Report is built.
	Diff func(limit int) string
}

// DifferFunc sets the differ (WithDiffer); a nil fn changes nothing.
func DifferFunc[T any](fn func(legacy, candidate T) Difference) Edit {
	return func(s Spec) Spec {
		if fn != nil {
			s.Differ = fn
		}
		return s
	}
}

// boundPaths sorts, de-duplicates and bounds a differ's paths like the
// engine's own: at most MaxPaths, each at most MaxPathLen bytes (cut at a
// rune boundary, marked with the fold mark).
func boundPaths(paths []string) []string {
	if len(paths) == 0 {
		return nil
	}
	out := make([]string, 0, min(len(paths), MaxPaths))
	for _, p := range paths {
		if len(p) > MaxPathLen {
			n := MaxPathLen - len(foldMark)
			for n > 0 && !utf8.RuneStart(p[n]) {
				n--
			}
			p = p[:n] + foldMark
		}
		if p == "" {
			p = string(rootPath)
		}
		out = append(out, p)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxPaths {
		out = out[:MaxPaths]
	}
	return out
}
