package dualrun

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"strconv"

	"github.com/dualrun/dualrun/internal/safe"
	"github.com/dualrun/dualrun/rollout"
)

// This file is keyed batch comparison: two result sets of a batch job (a
// rewritten pipeline's output against the old one's), matched by a key and
// compared record by record through the experiment's comparison engine, so
// that missing, extra and changed records become outcomes, metrics and
// Reports like any compared call. Two modes: a streaming merge of inputs
// sorted by key, in constant memory, and a hash join of unsorted inputs
// held in memory up to a bound.

// DefaultKeyedMaxRecords is how many records the hash-join mode of
// [CompareKeyed] holds in memory unless [WithKeyedMaxRecords] says
// otherwise.
const DefaultKeyedMaxRecords = 4_000_000

// keyedCheckEvery is how many records CompareKeyed reads between two checks
// of its context.
const keyedCheckEvery = 64

// keyedConfig configures CompareKeyed (keyed batch comparison). Its options
// live with CompareKeyed in this file.
type keyedConfig struct {
	sorted     bool
	maxRecords int // 0: DefaultKeyedMaxRecords
}

// WithSortedInputs tells [CompareKeyed] that both inputs are sorted by key,
// ascending as [cmp.Compare] orders keys (byte order for strings). It then
// merges them as they stream, holding one record per side: its memory does
// not grow with the inputs, however long. A key smaller than the one before
// it on the same side stops the comparison with a [*KeyedInputError] for
// [ErrUnsorted]; the records just before it may have been recorded as
// missing or extra, since the merge could not know. Other uses of the
// option (New, Run) ignore it.
func WithSortedInputs() Option {
	return optionFunc(func(c config) config {
		c.keyed.sorted = true
		return c
	})
}

// WithKeyedMaxRecords bounds the records the hash-join mode of
// [CompareKeyed] (the default, for unsorted inputs) holds in memory: the
// distinct keys of the legacy input plus the distinct keys found only in
// the candidate input. Beyond n it stops with a [*KeyedInputError] for
// [ErrTooManyRecords] instead of running out of memory. The default is
// [DefaultKeyedMaxRecords]. It panics if n < 1.
func WithKeyedMaxRecords(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("dualrun: WithKeyedMaxRecords(%d): want at least 1", n))
	}
	return optionFunc(func(c config) config {
		c.keyed.maxRecords = n
		return c
	})
}

// Errors of keyed comparison.
var (
	// ErrRecordAbsent is matched by errors.Is on an [AbsentError]: the error
	// standing for the side of a record that only the other side has.
	ErrRecordAbsent = errors.New("dualrun: record absent")
	// ErrUnsorted is the cause of a [*KeyedInputError] when an input given
	// as sorted ([WithSortedInputs]) has a key smaller than the one before.
	ErrUnsorted = errors.New("dualrun: CompareKeyed: input not sorted by key")
	// ErrTooManyRecords is the cause of a [*KeyedInputError] when the hash
	// join would hold more records than [WithKeyedMaxRecords] allows.
	ErrTooManyRecords = errors.New("dualrun: CompareKeyed: more records than WithKeyedMaxRecords allows in memory")
	// ErrNaNKey is the cause of the outcome error recorded for a record whose
	// key is a floating-point NaN, which equals no key, itself included.
	ErrNaNKey = errors.New("dualrun: CompareKeyed: the key is NaN, which equals no key")
)

// AbsentError is the error that stands for the missing side of a record
// that only one input of [CompareKeyed] has: the candidate's error for a
// missing record (in the legacy input only), the legacy side's for an extra
// one (in the candidate input only). Such a record is recorded as outcome
// mismatch of kind "error" ([OneSideErred]); its Report tells missing from
// extra by the side that erred: CandidateErr is an AbsentError (and
// CandidateErrorType "dualrun.AbsentError") for a missing record, LegacyErr
// (and LegacyErrorType) for an extra one. An ignore rule ([WithIgnore]) can
// accept absent records: errors.Is(err, ErrRecordAbsent) recognizes them.
type AbsentError struct {
	// Side is the side whose input lacks the record.
	Side Side
}

// Error says which input lacks the record.
func (e AbsentError) Error() string {
	return "dualrun: record absent from the " + e.Side.String() + " input"
}

// Is reports whether target is [ErrRecordAbsent].
func (e AbsentError) Is(target error) bool {
	return target == ErrRecordAbsent //nolint:errorlint // the Is method of the sentinel itself
}

// KeyedInputError is an error that stopped [CompareKeyed] because of one of
// its inputs: an iterator that panicked, a key out of order
// ([ErrUnsorted]), or too many records for the hash join
// ([ErrTooManyRecords]). It does not carry the key (keys are often personal
// data): Index locates the record.
type KeyedInputError struct {
	// Side is the input at fault.
	Side Side
	// Index is the 0-based position of the record in that input (for an
	// iterator that panicked, the number of records it had yielded).
	Index int64
	// Err is the cause: ErrUnsorted, ErrTooManyRecords, or a
	// [*CallbackError] around the iterator's [*PanicError].
	Err error
}

// Error is the cause, followed by the input and the record.
func (e *KeyedInputError) Error() string {
	return fmt.Sprintf("%s (%s input, record %d)", safe.ErrorText(e.Err, 1<<10), e.Side, e.Index)
}

// Unwrap returns the cause.
func (e *KeyedInputError) Unwrap() error { return e.Err }

// KeyedSide counts what [CompareKeyed] read from one input.
type KeyedSide struct {
	// Records counts the records read, duplicates and invalid ones
	// included.
	Records int64
	// Duplicates counts records whose key was already read on this side:
	// the first record with a key is compared, later ones are counted here
	// and not compared.
	Duplicates int64
	// Invalid counts records without a usable key: the key func panicked,
	// or returned NaN. Each is recorded as outcome error.
	Invalid int64
}

// KeyedSummary is what [CompareKeyed] found. When it returns an error the
// summary covers what was done until then.
type KeyedSummary struct {
	// Legacy and Candidate count what was read from each input.
	Legacy, Candidate KeyedSide
	// Matched counts the keys present in both inputs, each compared once:
	// Matched = Same + Changed.
	Matched int64
	// Same counts the matched keys whose records compared equal (outcome
	// match).
	Same int64
	// Changed counts the other matched keys, split by outcome:
	// Changed = ChangedMismatch + ChangedIgnored + ChangedError.
	// ChangedIgnored differed in a way an ignore rule accepts;
	// ChangedError could not be compared (a comparison callback failed or
	// ran out of budget).
	Changed         int64
	ChangedMismatch int64
	ChangedIgnored  int64
	ChangedError    int64
	// Missing counts the keys only the legacy input has; Extra those only
	// the candidate input has. Each is recorded as a comparison against an
	// [AbsentError] (outcome mismatch unless an ignore rule accepts it).
	Missing int64
	Extra   int64
	// Outcomes counts every comparison this call recorded in the
	// experiment, indexed by Outcome as [Stats.Outcomes] is: matched keys,
	// missing and extra records, and invalid records (outcome error).
	Outcomes [rollout.NumOutcomes]int64
}

// Agree reports whether the inputs agree, up to the differences the
// experiment accepts: every comparison recorded was outcome match or
// ignored, and neither input had duplicate or invalid keys. It is
// meaningful when CompareKeyed returned no error.
func (s KeyedSummary) Agree() bool {
	for o, n := range s.Outcomes {
		if n != 0 && Outcome(o) != Match && Outcome(o) != Ignored {
			return false
		}
	}
	return s.Legacy.Duplicates == 0 && s.Candidate.Duplicates == 0 &&
		s.Legacy.Invalid == 0 && s.Candidate.Invalid == 0
}

// String summarizes s on one line, without values or keys.
func (s KeyedSummary) String() string {
	return fmt.Sprintf("legacy %d records, candidate %d; matched %d: same %d, changed %d "+
		"(mismatch %d, ignored %d, error %d); missing %d, extra %d; "+
		"duplicates %d/%d, invalid keys %d/%d (legacy/candidate)",
		s.Legacy.Records, s.Candidate.Records, s.Matched, s.Same, s.Changed,
		s.ChangedMismatch, s.ChangedIgnored, s.ChangedError, s.Missing, s.Extra,
		s.Legacy.Duplicates, s.Candidate.Duplicates, s.Legacy.Invalid, s.Candidate.Invalid)
}

// CompareKeyed compares two result sets of a batch job, the legacy output
// and the candidate's, record by record: records are matched by key(record)
// and each matched pair is compared as a compared call of the experiment
// name, kept as [Run] keeps its experiments (one per name, made with the
// first call's options; the same name used with another T panics). The
// experiment's comparison options apply: normalizers, ignore rules,
// comparers, go-cmp options, error comparer and budget. Every comparison
// is counted in its Stats and metrics and may make a Report, as with Run:
//
//   - a matched key is compared as compare(legacy, candidate): outcome
//     match, mismatch (kind "value", with its paths), ignored or error;
//   - a missing record (in legacy only) is compared against an
//     [AbsentError] on the candidate side, an extra record (in candidate
//     only) against one on the legacy side: outcome mismatch of kind
//     "error", unless an ignore rule accepts it;
//   - a record whose key func panicked or returned NaN is not compared: it
//     is recorded as outcome error, its Report's CallbackErr saying why
//     ([ErrNaNKey] for NaN);
//   - a duplicate key on one side: the first record with that key is the
//     one compared, the later ones are only counted
//     ([KeyedSide.Duplicates]).
//
// With [WithReportKeys], a Report carries the record's key (formatted as
// text, strings cut at 256 bytes) in Report.Key.
//
// By default CompareKeyed hash-joins: it reads the whole legacy input into
// memory (at most [WithKeyedMaxRecords] records, default
// [DefaultKeyedMaxRecords]), then streams the candidate input, then
// records the missing records in legacy order. With [WithSortedInputs] it
// merges inputs sorted by key as they stream, in memory that does not grow
// with the inputs. WithSortedInputs and WithKeyedMaxRecords apply to each
// call; the other options, as with Run, only on the first call with a
// name.
//
// Records are compared one at a time, on the caller's goroutine: the
// comparison is the caller's own work, so the rollout policy is not asked
// (every record is compared), and shadows being paused, disabled or shut
// down do not stop it. A policy that observes outcomes ([rollout.Observer])
// is told each one.
//
// CompareKeyed checks ctx every 64 records and returns ctx.Err() when it
// ends, with the summary so far; an iterator blocked in its own work is not
// interrupted, so an iterator that reads a network or a file should watch
// ctx itself. It returns a [*KeyedInputError] when an input is at fault (an
// iterator panicked, keys out of order, too many records), with the summary
// so far. A runtime.Goexit in an iterator, the key func or a comparison
// callback ends the calling goroutine, as it would in a loop of the
// caller's own; CompareKeyed holds nothing then (both iterators are
// stopped). A nil input is empty. It panics on programmer errors: an empty
// name, a nil key func, a typed option for another T.
func CompareKeyed[T any, K cmp.Ordered](ctx context.Context, name string, legacy, candidate iter.Seq[T], key func(T) K, opts ...Option) (KeyedSummary, error) {
	if name == "" {
		panic("dualrun: CompareKeyed: the experiment name is empty; give every comparison a stable name such as \"billing.nightly\"")
	}
	if key == nil {
		panic("dualrun: CompareKeyed: the key func is nil")
	}
	e := runExperiment[T](name, opts)
	return compareKeyed(ctx, e, legacy, candidate, key, newConfig(opts).keyed)
}

// CompareKeyedIn is [CompareKeyed] on an experiment made with [New]: its
// options are the experiment's, and of opts only [WithSortedInputs] and
// [WithKeyedMaxRecords] apply. A batch job that keeps its experiment can
// call its Shutdown at the end, which waits for the Reports. It panics if e
// or key is nil.
func CompareKeyedIn[T any, K cmp.Ordered](ctx context.Context, e *Experiment[T], legacy, candidate iter.Seq[T], key func(T) K, opts ...Option) (KeyedSummary, error) {
	if e == nil {
		panic("dualrun: CompareKeyedIn: the experiment is nil")
	}
	if key == nil {
		panic("dualrun: CompareKeyedIn: the key func is nil")
	}
	return compareKeyed(ctx, e, legacy, candidate, key, newConfig(opts).keyed)
}

func compareKeyed[T any, K cmp.Ordered](ctx context.Context, e *Experiment[T], legacy, candidate iter.Seq[T], key func(T) K, cfg keyedConfig) (sum KeyedSummary, err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	kr := &keyedRun[T, K]{ctx: ctx, e: e, key: key, withKeys: e.c.cfg.reportKeys}
	var in [2]*keyedInput[T]
	in[Legacy] = openInput(Legacy, legacy)
	defer func() {
		if cerr := in[Legacy].close(); err == nil {
			err = cerr
		}
	}()
	in[Candidate] = openInput(Candidate, candidate)
	defer func() {
		if cerr := in[Candidate].close(); err == nil {
			err = cerr
		}
	}()
	if err := ctx.Err(); err != nil {
		return kr.sum, err
	}
	if cfg.sorted {
		err = kr.merge(in)
	} else {
		maxRecords := cfg.maxRecords
		if maxRecords <= 0 {
			maxRecords = DefaultKeyedMaxRecords
		}
		err = kr.join(in, maxRecords)
	}
	return kr.sum, err
}

// keyedRun is the state of one CompareKeyed call.
type keyedRun[T any, K cmp.Ordered] struct {
	ctx      context.Context
	e        *Experiment[T]
	key      func(T) K
	withKeys bool // Reports carry the record's key (WithReportKeys)
	sum      KeyedSummary
	tick     int
}

func (kr *keyedRun[T, K]) side(s Side) *KeyedSide {
	if s == Legacy {
		return &kr.sum.Legacy
	}
	return &kr.sum.Candidate
}

// check returns ctx.Err() every keyedCheckEvery calls.
func (kr *keyedRun[T, K]) check() error {
	kr.tick++
	if kr.tick%keyedCheckEvery != 0 {
		return nil
	}
	return kr.ctx.Err()
}

// read reads the next record of in that has a usable key. A record
// without one is counted and recorded as outcome error, and skipped.
func (kr *keyedRun[T, K]) read(in *keyedInput[T]) (v T, k K, ok bool, err error) {
	s := kr.side(in.side)
	for {
		if err := kr.check(); err != nil {
			return v, k, false, err
		}
		v, ok, err = in.read()
		if err != nil || !ok {
			return v, k, false, err
		}
		s.Records++
		k, err = kr.keyOf(v)
		if err == nil {
			return v, k, true, nil
		}
		s.Invalid++
		kr.recordInvalid(err)
	}
}

// keyOf runs the key func behind recover and rejects NaN keys.
func (kr *keyedRun[T, K]) keyOf(v T) (k K, err error) {
	if err := safe.Call("CompareKeyed key func", func() { k = kr.key(v) }, nil); err != nil {
		return k, err
	}
	if isNaN(k) {
		return k, &CallbackError{Callback: "CompareKeyed key func", Err: ErrNaNKey}
	}
	return k, nil
}

// isNaN reports whether k is a floating-point NaN, the one value of an
// ordered type that is not equal to itself.
func isNaN[K cmp.Ordered](k K) bool {
	return k != k //nolint:staticcheck // NaN is the value not equal to itself
}

// recCtx is the context of the comparison of the record with key k: with
// the key as the call's key when Reports may carry it.
func (kr *keyedRun[T, K]) recCtx(k K) context.Context {
	if !kr.withKeys {
		return kr.ctx
	}
	return WithKey(kr.ctx, keyText(k))
}

// keyText formats a key for Report.Key, by its kind (a String method of
// the key's type is not called).
func keyText[K cmp.Ordered](k K) string {
	v := reflect.ValueOf(k)
	switch v.Kind() {
	case reflect.String:
		return safe.Cut(v.String(), 256)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, v.Type().Bits())
	}
	return ""
}

// matched compares the records of a key both inputs have.
func (kr *keyedRun[T, K]) matched(k K, lv, cv T) {
	o, _ := kr.e.compareAndRecord(kr.recCtx(k), Result[T]{Value: lv}, Result[T]{Value: cv})
	s := &kr.sum
	s.Outcomes[o]++
	s.Matched++
	switch o {
	case Match:
		s.Same++
		return
	case Mismatch:
		s.ChangedMismatch++
	case Ignored:
		s.ChangedIgnored++
	default:
		s.ChangedError++
	}
	s.Changed++
}

// absent records a record that the input from lacks.
func (kr *keyedRun[T, K]) absent(k K, v T, from Side) {
	present, gone := Result[T]{Value: v}, Result[T]{Err: AbsentError{Side: from}}
	var o Outcome
	if from == Candidate {
		o, _ = kr.e.compareAndRecord(kr.recCtx(k), present, gone)
		kr.sum.Missing++
	} else {
		o, _ = kr.e.compareAndRecord(kr.recCtx(k), gone, present)
		kr.sum.Extra++
	}
	kr.sum.Outcomes[o]++
}

// recordInvalid records a record without a usable key as outcome error,
// as a compared call of the experiment whose comparison failed.
func (kr *keyedRun[T, K]) recordInvalid(err error) {
	kr.sum.Outcomes[kr.e.failAndRecord(kr.ctx, err)]++
}

// merge is the sorted mode: a merge join of two inputs sorted by key,
// holding one record per side.
func (kr *keyedRun[T, K]) merge(in [2]*keyedInput[T]) error {
	var h [2]sortedHead[T, K]
	for s := range h {
		if err := kr.advance(in[s], &h[s]); err != nil {
			return err
		}
	}
	l, c := &h[Legacy], &h[Candidate]
	for l.ok || c.ok {
		var err error
		switch {
		case !c.ok || (l.ok && cmp.Less(l.k, c.k)):
			kr.absent(l.k, l.v, Candidate)
			err = kr.advance(in[Legacy], l)
		case !l.ok || cmp.Less(c.k, l.k):
			kr.absent(c.k, c.v, Legacy)
			err = kr.advance(in[Candidate], c)
		default:
			kr.matched(l.k, l.v, c.v)
			if err = kr.advance(in[Legacy], l); err == nil {
				err = kr.advance(in[Candidate], c)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sortedHead is the next record of one sorted input.
type sortedHead[T any, K cmp.Ordered] struct {
	v       T
	k       K
	ok      bool // v and k hold a record; false at the end of the input
	last    K    // the key of the last record taken
	started bool // last is set
}

// advance moves h to the next record of in with a new key, counting
// duplicates of the last key and failing on a smaller one.
func (kr *keyedRun[T, K]) advance(in *keyedInput[T], h *sortedHead[T, K]) error {
	for {
		v, k, ok, err := kr.read(in)
		if err != nil || !ok {
			var zero T
			h.v, h.ok = zero, false
			return err
		}
		if h.started {
			if c := cmp.Compare(k, h.last); c < 0 {
				h.ok = false
				return &KeyedInputError{Side: in.side, Index: in.n - 1, Err: ErrUnsorted}
			} else if c == 0 {
				kr.side(in.side).Duplicates++
				continue
			}
		}
		h.v, h.k, h.ok, h.last, h.started = v, k, true, k, true
		return nil
	}
}

// joinSlot is one legacy record held by the hash join.
type joinSlot[T any, K cmp.Ordered] struct {
	k       K
	v       T
	matched bool
}

// join is the hash-join mode: the legacy input is held in memory, the
// candidate input streamed against it, and the legacy records no candidate
// record matched are recorded as missing, in legacy order.
func (kr *keyedRun[T, K]) join(in [2]*keyedInput[T], maxRecords int) error {
	var (
		slots []joinSlot[T, K]
		// index holds the position in slots of each legacy key, and -1 for
		// each key found only in the candidate input.
		index = make(map[K]int)
	)
	for {
		v, k, ok, err := kr.read(in[Legacy])
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if _, dup := index[k]; dup {
			kr.sum.Legacy.Duplicates++
			continue
		}
		if len(index) >= maxRecords {
			return &KeyedInputError{Side: Legacy, Index: in[Legacy].n - 1, Err: ErrTooManyRecords}
		}
		index[k] = len(slots)
		slots = append(slots, joinSlot[T, K]{k: k, v: v})
	}
	var zero T
	for {
		v, k, ok, err := kr.read(in[Candidate])
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		i, seen := index[k]
		switch {
		case !seen:
			if len(index) >= maxRecords {
				return &KeyedInputError{Side: Candidate, Index: in[Candidate].n - 1, Err: ErrTooManyRecords}
			}
			index[k] = -1
			kr.absent(k, v, Legacy)
		case i < 0 || slots[i].matched:
			kr.sum.Candidate.Duplicates++
		default:
			slots[i].matched = true
			kr.matched(k, slots[i].v, v)
			slots[i].v = zero // let the value go
		}
	}
	for i := range slots {
		if slots[i].matched {
			continue
		}
		if err := kr.check(); err != nil {
			return err
		}
		kr.absent(slots[i].k, slots[i].v, Candidate)
	}
	return nil
}

// keyedInput is one input of CompareKeyed, pulled one record at a time.
type keyedInput[T any] struct {
	side Side
	what string // the iterator's name in errors
	next func() (T, bool)
	stop func()
	n    int64 // records yielded so far
}

func openInput[T any](side Side, seq iter.Seq[T]) *keyedInput[T] {
	in := &keyedInput[T]{side: side, what: "CompareKeyed " + side.String() + " iterator"}
	if seq == nil {
		seq = func(func(T) bool) {}
	}
	in.next, in.stop = iter.Pull(guard(seq))
	return in
}

// read returns the next record, or ok false at the end of the input. A
// panic of the iterator is returned as a *KeyedInputError.
func (in *keyedInput[T]) read() (v T, ok bool, err error) {
	if err := safe.Call(in.what, func() { v, ok = in.next() }, nil); err != nil {
		return v, false, &KeyedInputError{Side: in.side, Index: in.n, Err: err}
	}
	if ok {
		in.n++
	}
	return v, ok, nil
}

// close stops the iterator: one not run to its end is resumed, its yield
// returning false, and returns. A panic there is returned as a
// *KeyedInputError.
func (in *keyedInput[T]) close() error {
	if err := safe.Call(in.what, in.stop, nil); err != nil {
		return &KeyedInputError{Side: in.side, Index: in.n, Err: err}
	}
	return nil
}

// errYieldAfterStop is the panic of an iterator that calls yield again
// after it returned false.
var errYieldAfterStop = errors.New("the iterator called yield again after yield returned false")

// guard makes an iterator that keeps calling yield after yield returned
// false panic, as a range loop over it would, instead of spinning for ever
// inside iter.Pull's stop (whose yield keeps returning false). A call
// after seq returned (from a goroutine it left behind) returns false.
func guard[T any](seq iter.Seq[T]) iter.Seq[T] {
	return func(yield func(T) bool) {
		stopped, running := false, true
		defer func() { running = false }()
		seq(func(v T) bool {
			if stopped {
				if running {
					panic(errYieldAfterStop)
				}
				return false
			}
			if !yield(v) {
				stopped = true
				return false
			}
			return true
		})
	}
}
