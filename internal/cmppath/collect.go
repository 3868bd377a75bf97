package cmppath

import (
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"

	"github.com/google/go-cmp/cmp"
)

// defaultMaxPaths is used by Collect when maxPaths <= 0.
const defaultMaxPaths = 32

// ExportAll lets go-cmp traverse unexported fields of every struct type. Use
// it only to compute paths and diffs for humans (for example for types that
// PlainComparable accepts but that have unexported fields), never to decide
// equality.
var ExportAll cmp.Option = cmp.Exporter(func(reflect.Type) bool { return true })

// PanicError is returned when go-cmp panics, for example on an unexported
// field without an Exporter or IgnoreUnexported option, or when a user
// supplied Comparer or Transformer panics.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the stack of the panicking goroutine
}

// Error returns "cmp panicked: " followed by the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("cmp panicked: %v", e.Value) }

// Unwrap returns the panic value if it is an error, and nil otherwise.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// catch converts a panic into *PanicError. It must be deferred directly.
func catch(err *error) {
	if v := recover(); v != nil {
		*err = &PanicError{Value: v, Stack: debug.Stack()}
	}
}

// Equal is cmp.Equal behind recover. It is the fast path: no reporter, no
// paths.
func Equal(x, y any, opts []cmp.Option) (equal bool, err error) {
	defer catch(&err)
	return cmp.Equal(x, y, opts...), nil
}

// Collect runs cmp.Equal with a reporter that records the folded path of every
// differing leaf. Struct fields fold to ".Name", slice and array indexes and
// map keys to "[*]"; pointer indirections, type assertions and transforms add
// nothing. A difference at the root is reported as ".".
//
// paths is sorted, de-duplicated and holds at most maxPaths entries (32 if
// maxPaths <= 0): the first ones met in traversal order. Further distinct
// paths are dropped but equal stays false.
//
// The paths follow go-cmp's view of the values: a slice element that differs
// too much from its counterpart is reported as removed and inserted, so the
// path stops at "[*]" instead of naming the differing fields; likewise a
// type with an Equal method, or a value decided by a Comparer, is a single
// leaf.
//
// If go-cmp panics, Collect returns false, nil and a *PanicError.
func Collect(x, y any, opts []cmp.Option, maxPaths int) (equal bool, paths []string, err error) {
	if maxPaths <= 0 {
		maxPaths = defaultMaxPaths
	}
	defer catch(&err)
	r := &pathReporter{buf: make([]byte, 0, 64), ends: make([]int, 0, 16), max: maxPaths}
	// A fresh slice: appending to opts could write into the caller's array.
	all := append(slices.Clip(opts), cmp.Reporter(r))
	equal = cmp.Equal(x, y, all...)
	for p := range r.seen {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return equal, paths, nil
}

// pathReporter implements the interface expected by cmp.Reporter.
type pathReporter struct {
	buf  []byte // folded path of the current node
	ends []int  // len(buf) before each pushed step
	seen map[string]struct{}
	max  int
}

func (r *pathReporter) PushStep(ps cmp.PathStep) {
	r.ends = append(r.ends, len(r.buf))
	switch ps := ps.(type) {
	case cmp.StructField:
		r.buf = append(r.buf, '.')
		r.buf = append(r.buf, ps.Name()...)
	case cmp.SliceIndex, cmp.MapIndex:
		r.buf = append(r.buf, "[*]"...)
	}
}

func (r *pathReporter) PopStep() {
	n := len(r.ends) - 1
	r.buf, r.ends = r.buf[:r.ends[n]], r.ends[:n]
}

// Report is called once per leaf; parents whose children differ are never
// reported, so recording unequal leaves is enough.
func (r *pathReporter) Report(res cmp.Result) {
	if res.Equal() {
		return
	}
	key := r.buf
	if len(key) == 0 {
		key = rootPath
	}
	if _, ok := r.seen[string(key)]; ok || len(r.seen) >= r.max {
		return // string(key) in a map index does not allocate
	}
	if r.seen == nil {
		r.seen = make(map[string]struct{})
	}
	r.seen[string(key)] = struct{}{}
}

var rootPath = []byte(".")
