// Package ring keeps the latest dualrun Reports in memory: the last N per
// experiment, and per experiment the most frequent differing path sets with
// their counts and one sample Report each. The debug page
// (github.com/dualrun/dualrun/debugpage) and tests read it.
//
// Memory is bounded: [WithSize] Reports and [WithMaxPathSets] path sets per
// experiment, for at most [WithMaxExperiments] experiments (the one that
// published least recently is forgotten first), each Report's diff cut to
// [WithMaxDiff].
//
// A Ring sends nothing out of the process, so it keeps Reports whole,
// values and keys included; what reads it decides what to show.
// [WithRedact] rewrites or skips Reports before they are kept.
package ring
