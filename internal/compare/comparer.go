package compare

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dualrun/dualrun/internal/safe"
)

// Kind is what a comparison found.
type Kind uint8

const (
	// Match means the sides agree: equal values, or equivalent errors.
	Match Kind = iota
	// ValuesDiffer means both sides succeeded with different values.
	ValuesDiffer
	// OneErred means exactly one side returned an error.
	OneErred
	// ErrorsDiffer means both sides erred, with errors the error comparer
	// does not find equivalent.
	ErrorsDiffer
	// Failed means the comparison could not be made: a user callback or
	// go-cmp panicked, or the budget ran out. Verdict.Err says which.
	Failed
)

// How equality of two successful values is decided.
type eqMode uint8

const (
	eqPlain  eqMode = iota // ==
	eqFunc                 // the WithComparer func
	eqCmp                  // go-cmp
	eqDiffer               // the WithDiffer func: equality, paths and diff
)

// Comparer compares the two sides' results of calls returning T. Make it
// once with [New]; it is safe for concurrent use.
type Comparer[T any] struct {
	typ         reflect.Type
	mode        eqMode
	fn          func(legacy, candidate T) bool
	differ      func(legacy, candidate T) Difference
	userOpts    []cmp.Option // for the equality (eqCmp)
	pathOpts    []cmp.Option // for the paths and the diff
	normalizers []func(T) T
	ignores     []func(legacy, candidate Result[T]) bool
	errEqual    func(legacy, candidate error) bool
	budget      time.Duration
	// metered: an equality walk may be long or meet byte leaves, so it
	// runs with the engine's options; otherwise cmp.Equal runs bare.
	metered bool
	// noClaim is set once a user option turned out to apply to a byte leaf
	// the engine claimed (see leaf.go).
	noClaim atomic.Bool
	walkers sync.Pool
}

// New resolves s for T. It fails only when a typed function of s was made
// for another type than T: a programmer error.
func New[T any](s Spec) (*Comparer[T], error) {
	c := &Comparer[T]{typ: reflect.TypeFor[T](), errEqual: s.ErrEqual, budget: s.Budget}
	if c.budget <= 0 {
		c.budget = DefaultBudget
	}
	for _, n := range s.Normalizers {
		fn, err := typed[func(T) T]("WithNormalizer", n)
		if err != nil {
			return nil, err
		}
		c.normalizers = append(c.normalizers, fn)
	}
	for _, r := range s.Ignores {
		fn, err := typed[func(Result[T], Result[T]) bool]("WithIgnore", r)
		if err != nil {
			return nil, err
		}
		c.ignores = append(c.ignores, fn)
	}
	opts := append([]cmp.Option(nil), s.CmpOpts...)
	if s.Comparer != nil {
		// Checked even when a differ wins: a typed option for another T is
		// a programmer error wherever it is.
		if _, err := typed[func(T, T) bool]("WithComparer", s.Comparer); err != nil {
			return nil, err
		}
	}
	switch {
	case s.Differ != nil:
		fn, err := typed[func(T, T) Difference]("WithDiffer", s.Differ)
		if err != nil {
			return nil, err
		}
		c.mode, c.differ = eqDiffer, fn
	case s.Comparer != nil:
		fn, err := typed[func(T, T) bool]("WithComparer", s.Comparer)
		if err != nil {
			return nil, err
		}
		c.mode, c.fn = eqFunc, fn
		c.pathOpts = append(opts, ExportAll)
	case len(opts) == 0 && PlainComparable(c.typ):
		c.mode = eqPlain // exact for T, and cannot panic
		c.pathOpts = []cmp.Option{ExportAll}
	default:
		c.mode, c.userOpts, c.pathOpts = eqCmp, opts, opts
		n := nodeBound(c.typ)
		c.metered = len(opts) > 0 || n == unbounded || n >= checkEvery || holdsByteLeaf(c.typ)
	}
	if c.mode != eqDiffer {
		c.walkers.New = func() any { return newWalker(c.userOpts, c.pathOpts) }
	}
	return c, nil
}

// Cheap reports whether comparing costs no more than an ==: T is plainly
// comparable, and no option asks for more.
func (c *Comparer[T]) Cheap() bool {
	return c.mode == eqPlain && len(c.normalizers) == 0 && len(c.ignores) == 0
}

// Verdict is the result of one comparison.
type Verdict[T any] struct {
	Kind Kind
	// Ignored says that an ignore rule accepted the difference of Kind.
	Ignored bool
	// Paths are the folded differing paths (ValuesDiffer, not ignored).
	Paths []string
	// Err is the failure (Failed): a *safe.CallbackError naming the callback
	// ("WithNormalizer func", "go-cmp", ...); for a budget overrun it wraps
	// a *BudgetError.
	Err error
	// Legacy and Candidate are the sides' results, the values normalized.
	Legacy, Candidate Result[T]

	c       *Comparer[T]
	spent   time.Duration // of the budget, by the equality and the paths
	leaves  int           // differing leaves found by the paths, -1 if not known
	differ  Difference    // what the WithDiffer func said
	deepest int           // path steps to the deepest of them
}

// Compare compares the legacy result (lv, lerr) with the candidate's. A
// callback that calls runtime.Goexit ends the calling goroutine: Compare
// does not return then, and holds no lock meanwhile.
func (c *Comparer[T]) Compare(lv T, lerr error, cv T, cerr error) Verdict[T] {
	v := Verdict[T]{c: c, leaves: -1, Legacy: Result[T]{lv, lerr}, Candidate: Result[T]{cv, cerr}}
	if len(c.normalizers) > 0 {
		if err := c.normalize(&v); err != nil {
			return v.fail(err)
		}
	}
	switch {
	case lerr == nil && cerr == nil:
		eq, err := c.equal(&v)
		if err != nil {
			return v.fail(err)
		}
		if eq {
			return v
		}
		v.Kind = ValuesDiffer
	case lerr == nil || cerr == nil:
		v.Kind = OneErred
	default:
		if c.errEqual == nil {
			return v
		}
		var eq bool
		if err := safe.Call("WithErrorComparer func", func() { eq = c.errEqual(lerr, cerr) }, nil); err != nil {
			return v.fail(err)
		}
		if eq {
			return v
		}
		v.Kind = ErrorsDiffer
	}
	if len(c.ignores) > 0 {
		ignored, err := c.ignored(Result[T]{lv, lerr}, Result[T]{cv, cerr})
		if err != nil {
			return v.fail(err)
		}
		if ignored {
			v.Ignored = true
			return v
		}
	}
	if v.Kind == ValuesDiffer {
		if err := c.collect(&v); err != nil {
			return v.fail(err)
		}
	}
	return v
}

func (v Verdict[T]) fail(err error) Verdict[T] {
	v.Kind, v.Ignored, v.Paths, v.Err = Failed, false, nil, err
	return v
}

// normalize runs the normalizers on every successful value.
func (c *Comparer[T]) normalize(v *Verdict[T]) error {
	l, r := &v.Legacy, &v.Candidate
	return safe.Call("WithNormalizer func", func() {
		for _, n := range c.normalizers {
			if l.Err == nil {
				l.Value = n(l.Value)
			}
			if r.Err == nil {
				r.Value = n(r.Value)
			}
		}
	}, nil)
}

func (c *Comparer[T]) ignored(l, r Result[T]) (ign bool, err error) {
	err = safe.Call("WithIgnore rule", func() {
		for _, rule := range c.ignores {
			if rule(l, r) {
				ign = true
				return
			}
		}
	}, nil)
	return ign, err
}

// equal decides whether the (normalized) values are equal.
func (c *Comparer[T]) equal(v *Verdict[T]) (eq bool, err error) {
	l, r := v.Legacy.Value, v.Candidate.Value
	switch c.mode {
	case eqPlain:
		return any(l) == any(r), nil
	case eqFunc:
		err = safe.Call("WithComparer func", func() { eq = c.fn(l, r) }, nil)
		return eq, err
	case eqDiffer:
		var d Difference
		err = safe.Call("WithDiffer func", func() { d = c.differ(l, r) }, nil)
		v.differ = d
		return d.Equal, err
	}
	if !c.metered {
		err = safe.Call("go-cmp", func() { eq = cmp.Equal(l, r, c.userOpts...) }, nil)
		return eq, c.cmpError(err)
	}
	w := c.walker(equalMode, c.budget)
	defer c.walkers.Put(w)
	err = c.walk(w, func() { eq = cmp.Equal(l, r, w.opts()...) })
	v.spent += w.m.elapsed()
	return eq, c.cmpError(err)
}

// collect finds the differing paths. go-cmp failing here (which the
// equality did not, or did not use) leaves the paths out; running out of
// budget fails the comparison.
func (c *Comparer[T]) collect(v *Verdict[T]) error {
	if c.mode == eqDiffer {
		v.Paths = boundPaths(v.differ.Paths)
		return nil
	}
	w := c.walker(collectMode, c.budget-v.spent)
	defer c.walkers.Put(w)
	l, r := v.Legacy.Value, v.Candidate.Value
	err := c.walk(w, func() { cmp.Equal(l, r, w.opts()...) })
	v.spent += w.m.elapsed()
	if budgetError(err) {
		return err
	}
	if err == nil {
		v.Paths = w.col.paths()
		v.leaves, v.deepest = w.col.leaves, w.col.maxDepth
	}
	return nil
}

func (c *Comparer[T]) walker(mode walkMode, left time.Duration) *walker {
	w := c.walkers.Get().(*walker)
	w.reset(mode, c.budget, left, !c.noClaim.Load())
	return w
}

// walk runs fn, a go-cmp call with w's options, behind recover. A budget
// stop becomes a CallbackError around the BudgetError. When go-cmp panics
// right after the walker claimed a differing byte leaf, a user option
// applies to that leaf too: fn runs again without claims.
func (c *Comparer[T]) walk(w *walker, fn func()) error {
	for {
		err := safe.Call("go-cmp", fn, nil)
		if err == nil {
			return nil
		}
		var pe *safe.PanicError
		if errors.As(err, &pe) {
			if s, ok := pe.Value.(stop); ok {
				return &safe.CallbackError{Callback: "go-cmp", Err: s.err}
			}
		}
		if !w.claimPending {
			return err
		}
		c.noClaim.Store(true)
		w.claim, w.claimPending = false, false
		w.col.reset() // the aborted walk left its steps pushed
		w.notes, w.moreNotes = w.notes[:0], 0
	}
}

func budgetError(err error) bool { return errors.Is(err, ErrBudget) }

// cmpError adds advice to a go-cmp panic (not to a budget stop).
func (c *Comparer[T]) cmpError(err error) error {
	var ce *safe.CallbackError
	if err == nil || budgetError(err) || !errors.As(err, &ce) {
		return err
	}
	return &safe.CallbackError{Callback: ce.Callback, Err: &CmpError{Type: c.typ, Err: ce.Err}}
}

// CmpError is go-cmp's failure to compare values of Type, with advice on
// the options that avoid it. Err is the *safe.PanicError of go-cmp's panic.
type CmpError struct {
	Type reflect.Type
	Err  error
}

// Error gives the advice first, then what go-cmp said.
func (e *CmpError) Error() string {
	return "cannot compare " + e.Type.String() + "; " + e.Advice() + "; go-cmp: " + safe.ErrorText(e.Err, 0)
}

// Advice says which options avoid the failure.
func (e *CmpError) Advice() string {
	if strings.Contains(safe.ErrorText(e.Err, 0), "unexported field") {
		return "go-cmp does not look at unexported fields unless told to: add " +
			"WithCmpOptions(cmpopts.IgnoreUnexported(X{})) to skip them or " +
			"WithCmpOptions(cmp.AllowUnexported(X{})) to compare them (X being the struct go-cmp names), " +
			"or decide equality with WithComparer"
	}
	return "check the options given to WithCmpOptions (a Comparer or Transformer may have panicked, " +
		"or two options apply to the same values), or decide equality with WithComparer"
}

// Unwrap returns the panic of go-cmp.
func (e *CmpError) Unwrap() error { return e.Err }
