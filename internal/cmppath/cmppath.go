// Package cmppath forwards to internal/compare, the comparison engine,
// for the one caller (the root package's comparison gate) that has not
// moved there yet. Delete it once that caller imports internal/compare.
package cmppath

import (
	"reflect"

	"github.com/dualrun/dualrun/internal/compare"
)

// PlainComparable is [compare.PlainComparable].
func PlainComparable(t reflect.Type) bool { return compare.PlainComparable(t) }
