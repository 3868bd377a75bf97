package compare

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Result is one side's return values, as seen by an ignore rule.
type Result[T any] struct {
	Value T
	Err   error
}

// DefaultBudget is the time one comparison may take (the equality check,
// the differing paths and the diff together) when [Spec.Budget] is not set.
const DefaultBudget = 250 * time.Millisecond

// Spec is a comparison's configuration before it is resolved for a type:
// the fronts' options write it (see [Edit]), [New] checks and resolves it.
// The typed functions are held as any; New asserts them to T. The zero
// Spec compares with the defaults.
type Spec struct {
	// CmpOpts are go-cmp options for the comparison, the paths and the diff.
	CmpOpts []cmp.Option
	// Comparer is a func(legacy, candidate T) bool replacing equality.
	Comparer any
	// Normalizers are func(T) T, applied in order to every successful value.
	Normalizers []any
	// Ignores are func(legacy, candidate Result[T]) bool.
	Ignores []any
	// ErrEqual decides whether two non-nil errors are equivalent; nil means
	// they always are.
	ErrEqual func(legacy, candidate error) bool
	// Budget bounds the time of one comparison; <= 0 means DefaultBudget.
	Budget time.Duration
	// Differ is a func(legacy, candidate T) Difference replacing the
	// equality, the paths and the diff of successful values (it wins over
	// Comparer and CmpOpts).
	Differ any
}

// Edit changes a Spec: the fronts' comparison options are Edits. An Edit
// returns a modified copy and never writes into the slices of the Spec it
// is given, so options can be shared.
type Edit func(Spec) Spec

// CmpOptions adds go-cmp options.
func CmpOptions(opts ...cmp.Option) Edit {
	return func(s Spec) Spec {
		s.CmpOpts = append(slices.Clip(s.CmpOpts), opts...)
		return s
	}
}

// ErrorComparer sets the error comparer; a nil fn changes nothing.
func ErrorComparer(fn func(legacy, candidate error) bool) Edit {
	return func(s Spec) Spec {
		if fn != nil {
			s.ErrEqual = fn
		}
		return s
	}
}

// EqualFunc sets the comparer (WithComparer); a nil fn changes nothing.
func EqualFunc[T any](fn func(legacy, candidate T) bool) Edit {
	return func(s Spec) Spec {
		if fn != nil {
			s.Comparer = fn
		}
		return s
	}
}

// Normalizer adds a normalizer; a nil fn changes nothing.
func Normalizer[T any](fn func(T) T) Edit {
	return func(s Spec) Spec {
		if fn != nil {
			s.Normalizers = append(slices.Clip(s.Normalizers), fn)
		}
		return s
	}
}

// Ignore adds an ignore rule; a nil rule changes nothing.
func Ignore[T any](rule func(legacy, candidate Result[T]) bool) Edit {
	return func(s Spec) Spec {
		if rule != nil {
			s.Ignores = append(slices.Clip(s.Ignores), rule)
		}
		return s
	}
}

// typed asserts a typed option's function to the type the comparison
// needs.
func typed[F any](option string, fn any) (F, error) {
	f, ok := fn.(F)
	if !ok {
		return f, fmt.Errorf("%s was given a %s, want %s", option,
			publicName(reflect.TypeOf(fn)), publicName(reflect.TypeFor[F]()))
	}
	return f, nil
}

// publicName is t's name as users know it: Result is theirs as
// dualrun.Result, an alias of this package's type, which reflect names
// compare.Result.
func publicName(t reflect.Type) string {
	return strings.ReplaceAll(t.String(), "compare.Result[", "dualrun.Result[")
}
