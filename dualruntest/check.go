package dualruntest

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/google/go-cmp/cmp"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/cmppath"
)

const (
	// maxPaths bounds the differing paths listed in one failure, as
	// dualrun bounds them per call.
	maxPaths = 32
	// diffLimit caps the diff and the values printed in one failure. It is
	// larger than dualrun's Report default: this is a test's output.
	diffLimit = 64 << 10
)

// kind classifies a comparison the way dualrun records it.
type kind uint8

const (
	kindMatch        kind = iota // dualrun.Match
	kindIgnored                  // dualrun.Ignored
	kindValue                    // dualrun.Mismatch, dualrun.ValueMismatch
	kindError                    // dualrun.Mismatch, dualrun.ErrorMismatch
	kindErrorsDiffer             // dualrun.Mismatch, dualrun.ErrorsDiffer
	kindFailed                   // dualrun.Error: go-cmp or a user callback failed
)

// verdict is the result of one comparison. msg explains anything but a
// match, without the "dualruntest: case ..." prefix.
type verdict struct {
	kind  kind
	msg   string
	paths []string
}

// checker compares the two sides' results exactly as a dualrun experiment
// with the same options does (dualrun's compare.go): values only when both
// succeeded, after the normalizers; == for plainly comparable types without
// cmp options, cmp.Equal otherwise, or the WithComparer func; errors by
// nil-ness unless WithErrorComparer says otherwise; ignore rules last, on
// the raw results. The parity test keeps the two in step.
type checker[T any] struct {
	eq          func(legacy, candidate T) (bool, error)
	pathOpts    []cmp.Option // for differing paths and diffs only
	normalizers []func(T) T
	errEqual    func(legacy, candidate error) bool
	ignores     []func(legacy, candidate dualrun.Result[T]) bool
}

// newChecker resolves the typed options for T. It fails only on a typed
// option made for another type: a programmer error.
func newChecker[T any](cfg config) (*checker[T], error) {
	ck := &checker[T]{errEqual: cfg.errEqual}
	for _, n := range cfg.normalizers {
		fn, err := typed[func(T) T]("WithNormalizer", n)
		if err != nil {
			return nil, err
		}
		ck.normalizers = append(ck.normalizers, fn)
	}
	for _, r := range cfg.ignores {
		fn, err := typed[func(dualrun.Result[T], dualrun.Result[T]) bool]("WithIgnore", r)
		if err != nil {
			return nil, err
		}
		ck.ignores = append(ck.ignores, fn)
	}
	typ := reflect.TypeFor[T]()
	opts := cfg.cmpOpts
	switch {
	case cfg.comparer != nil:
		fn, err := typed[func(T, T) bool]("WithComparer", cfg.comparer)
		if err != nil {
			return nil, err
		}
		ck.eq = func(l, c T) (eq bool, err error) {
			defer recoverCallback("WithComparer func", &err)
			return fn(l, c), nil
		}
		ck.pathOpts = append(append([]cmp.Option(nil), opts...), cmppath.ExportAll)
	case len(opts) == 0 && cmppath.PlainComparable(typ):
		// == is exact for T and cannot panic.
		ck.eq = func(l, c T) (bool, error) { return any(l) == any(c), nil }
		ck.pathOpts = []cmp.Option{cmppath.ExportAll}
	default:
		ck.eq = func(l, c T) (bool, error) {
			eq, err := cmppath.Equal(l, c, opts)
			if err != nil {
				return false, cmpFailure(typ, err)
			}
			return eq, nil
		}
		ck.pathOpts = opts
	}
	return ck, nil
}

// check compares the legacy result (lv, lerr) with the candidate's.
func (ck *checker[T]) check(lv T, lerr error, cv T, cerr error) verdict {
	var v verdict
	switch {
	case lerr == nil && cerr == nil:
		nl, nc, err := ck.normalize(lv, cv)
		if err != nil {
			return verdict{kind: kindFailed, msg: err.Error()}
		}
		eq, err := ck.eq(nl, nc)
		if err != nil {
			return verdict{kind: kindFailed, msg: err.Error()}
		}
		if eq {
			return verdict{kind: kindMatch}
		}
		v = ck.valueDiff(nl, nc)
	case lerr == nil:
		v = verdict{kind: kindError, msg: fmt.Sprintf(
			"candidate erred, legacy did not: %v\nlegacy returned: %s", cerr, format(lv))}
	case cerr == nil:
		v = verdict{kind: kindError, msg: fmt.Sprintf(
			"legacy erred, candidate did not: %v\ncandidate returned: %s", lerr, format(cv))}
	default:
		if ck.errEqual == nil {
			return verdict{kind: kindMatch}
		}
		eq, err := safeErrEqual(ck.errEqual, lerr, cerr)
		if err != nil {
			return verdict{kind: kindFailed, msg: err.Error()}
		}
		if eq {
			return verdict{kind: kindMatch}
		}
		v = verdict{kind: kindErrorsDiffer, msg: fmt.Sprintf(
			"errors differ by the WithErrorComparer func (legacy -, candidate +):\n-legacy error:    %v (%T)\n+candidate error: %v (%T)",
			lerr, lerr, cerr, cerr)}
	}
	if len(ck.ignores) > 0 {
		ignored, err := ck.ignored(dualrun.Result[T]{Value: lv, Err: lerr}, dualrun.Result[T]{Value: cv, Err: cerr})
		if err != nil {
			return verdict{kind: kindFailed, msg: err.Error()}
		}
		if ignored {
			v.kind = kindIgnored
		}
	}
	return v
}

// valueDiff explains two successful, unequal (normalized) values: a diff
// from legacy (-) to candidate (+) and the folded differing paths.
func (ck *checker[T]) valueDiff(nl, nc T) verdict {
	_, paths, _ := cmppath.Collect(nl, nc, ck.pathOpts, maxPaths)
	d, err := cmppath.Diff(nl, nc, ck.pathOpts, diffLimit)
	if err != nil || d == "" {
		// go-cmp could not diff, or sees no difference where the
		// WithComparer func does: print both values.
		d = fmt.Sprintf("-legacy:    %s\n+candidate: %s\n", format(nl), format(nc))
	}
	var b strings.Builder
	b.WriteString("values differ (legacy -, candidate +):\n")
	b.WriteString(d)
	if len(paths) > 0 {
		b.WriteString("differing paths: ")
		b.WriteString(strings.Join(paths, ", "))
	}
	return verdict{kind: kindValue, msg: strings.TrimRight(b.String(), "\n"), paths: paths}
}

func (ck *checker[T]) normalize(l, c T) (nl, nc T, err error) {
	if len(ck.normalizers) == 0 {
		return l, c, nil
	}
	defer recoverCallback("WithNormalizer func", &err)
	for _, n := range ck.normalizers {
		l, c = n(l), n(c)
	}
	return l, c, nil
}

func (ck *checker[T]) ignored(l, c dualrun.Result[T]) (ign bool, err error) {
	defer recoverCallback("WithIgnore rule", &err)
	for _, rule := range ck.ignores {
		if rule(l, c) {
			return true, nil
		}
	}
	return false, nil
}

func safeErrEqual(fn func(error, error) bool, l, c error) (eq bool, err error) {
	defer recoverCallback("WithErrorComparer func", &err)
	return fn(l, c), nil
}

// recoverCallback turns a panic in a user callback into an error that
// names the callback and carries the stack. It must be deferred directly.
func recoverCallback(what string, err *error) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("%s panicked: %v\n%s", what, v, debug.Stack())
	}
}

// cmpFailure explains a go-cmp panic with advice that fits it.
func cmpFailure(typ reflect.Type, err error) error {
	var pe *cmppath.PanicError
	if !errors.As(err, &pe) {
		return fmt.Errorf("go-cmp cannot compare %v: %w", typ, err)
	}
	var advice string
	msg := fmt.Sprint(pe.Value)
	switch {
	case strings.Contains(msg, "unexported field"):
		advice = "go-cmp does not look at unexported fields unless told to: add " +
			"dualruntest.WithCmpOptions(cmpopts.IgnoreUnexported(X{})) to skip them, " +
			"dualruntest.WithCmpOptions(cmp.AllowUnexported(X{})) to compare them, " +
			"or dualruntest.WithComparer to decide equality yourself " +
			"(X being the struct named above); pass the same options to dualrun"
	default:
		advice = "check the options given to WithCmpOptions (a Comparer or Transformer " +
			"may have panicked, or two options apply to the same values), " +
			"or decide equality with dualruntest.WithComparer"
	}
	text := fmt.Sprintf("go-cmp cannot compare %v: %v\n%s", typ, msg, advice)
	if _, ok := pe.Value.(runtime.Error); ok {
		// A runtime error is a bug in a Comparer or Transformer: show where.
		text += "\n" + string(pe.Stack)
	}
	return errors.New(text)
}

// format prints a value for a failure message, size-limited.
func format(v any) string {
	return cmppath.Truncate(fmt.Sprintf("%+v", v), diffLimit)
}
