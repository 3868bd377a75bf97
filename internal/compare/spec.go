package compare

import (
	"fmt"
	"reflect"
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
// the fronts' options write it, [New] checks and resolves it. The typed
// functions are held as any; New asserts them to T. The zero Spec compares
// with the defaults. A Spec is a value: the With functions return a
// modified copy and never write into the slices of the one they were given.
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
}

// WithCmpOptions returns s with opts added to its go-cmp options.
func (s Spec) WithCmpOptions(opts ...cmp.Option) Spec {
	s.CmpOpts = append(append([]cmp.Option(nil), s.CmpOpts...), opts...)
	return s
}

// WithErrorComparer returns s with fn as its error comparer; a nil fn
// leaves s as it is.
func (s Spec) WithErrorComparer(fn func(legacy, candidate error) bool) Spec {
	if fn != nil {
		s.ErrEqual = fn
	}
	return s
}

// WithComparer returns s with fn as its comparer; a nil fn leaves s as it
// is.
func WithComparer[T any](s Spec, fn func(legacy, candidate T) bool) Spec {
	if fn != nil {
		s.Comparer = fn
	}
	return s
}

// WithNormalizer returns s with fn added to its normalizers; a nil fn
// leaves s as it is.
func WithNormalizer[T any](s Spec, fn func(T) T) Spec {
	if fn != nil {
		s.Normalizers = append(append([]any(nil), s.Normalizers...), fn)
	}
	return s
}

// WithIgnore returns s with rule added to its ignore rules; a nil rule
// leaves s as it is.
func WithIgnore[T any](s Spec, rule func(legacy, candidate Result[T]) bool) Spec {
	if rule != nil {
		s.Ignores = append(append([]any(nil), s.Ignores...), rule)
	}
	return s
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
