// Package compare is dualrun's comparison engine: the one place where the
// rules live that decide whether the two sides of a call agree, and that
// explain how they differ. The root package (in the background, counting)
// and dualruntest (synchronously, failing a test) are fronts on it: they
// resolve their options into a [Spec], ask [Comparer.Compare] for a
// [Verdict], and format and advise.
//
// The rules, in order:
//
//   - Every successful value runs through the normalizers first, whether or
//     not the other side succeeded: what is reported is always normalized
//     (a redacting normalizer redacts every diff).
//   - Values are compared only when both sides succeeded: with == when T is
//     plainly comparable ([PlainComparable]) and no cmp option is given,
//     with the WithComparer func when there is one, and with go-cmp
//     otherwise.
//   - Exactly one side erring is a difference; two errors are equivalent
//     unless the error comparer says otherwise.
//   - Ignore rules run last, on the raw (not normalized) results, and only
//     when the sides differ.
//
// Every user callback, and go-cmp itself, runs through internal/safe: a
// panic is a failed comparison ([Failed]) whose error names the callback.
//
// go-cmp is bounded here. Byte slices and arrays are compared as a whole
// with bytes.Equal, in chunks, instead of byte by byte (see leaf.go); a
// comparison has a time budget, checked every 1,024 nodes while go-cmp
// walks, and a nesting limit ([BudgetError]); at each check the goroutine
// yields (runtime.Gosched), so a large comparison cannot hold a CPU from
// the callers on a small machine. Small values never reach a check.
//
// Differing paths are folded for aggregation (paths.go), and every value
// formatted for a human goes through [Format], which survives cycles and
// is bounded in depth and size.
package compare
