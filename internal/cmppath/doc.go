// Package cmppath wraps github.com/google/go-cmp for the comparison core.
//
// It provides:
//
//   - [PlainComparable], which tells whether == on a type is a faithful deep
//     equality, so the core can skip reflection entirely;
//   - [Equal], [Collect] and [Diff], which run go-cmp behind recover and turn
//     its panics into a [*PanicError];
//   - folded difference paths such as ".Items[*].Price", cheap to aggregate
//     as metric labels because indexes and map keys are erased;
//   - [ExportAll], an option that lets go-cmp look inside unexported fields
//     when producing human-readable paths and diffs.
package cmppath
