package rollout

import (
	"context"
	"time"
)

// Side names one of the two implementations of a call site.
type Side uint8

const (
	// Legacy is the implementation being migrated away from.
	Legacy Side = iota
	// Candidate is the new implementation.
	Candidate
)

// String returns "legacy" or "candidate", the values of the dualrun.side and
// dualrun.primary telemetry attributes.
func (s Side) String() string {
	switch s {
	case Legacy:
		return "legacy"
	case Candidate:
		return "candidate"
	default:
		return "unknown"
	}
}

// Other returns the side that is not s.
func (s Side) Other() Side {
	if s == Legacy {
		return Candidate
	}
	return Legacy
}

// Decision is what a [Policy] returns for one call: which side is
// authoritative, and whether the other side also runs, as a shadow, to be
// compared. The zero Decision is "legacy primary, no shadow": the behaviour
// of the code before the migration started.
type Decision struct {
	// Primary is the side whose result the caller gets.
	Primary Side
	// Shadow reports whether the other side runs too and is compared.
	Shadow bool
}

// Outcome classifies one compared call. See the outcome table in the dualrun
// package documentation for when each is recorded.
type Outcome uint8

const (
	// Match means both sides succeeded with equal values, or both erred with
	// equivalent errors.
	Match Outcome = iota
	// Mismatch means the values differ, exactly one side erred, or the errors
	// are not equivalent.
	Mismatch
	// Ignored means the sides differed, but an ignore rule matched.
	Ignored
	// Timeout means the shadow's deadline passed before it returned.
	Timeout
	// Panic means the shadow panicked.
	Panic
	// Error means a comparer, normalizer or other user callback failed.
	Error
	// Aborted means the primary panicked, called runtime.Goexit, or failed
	// because the caller canceled; there was nothing fair to compare.
	Aborted
	// Shed means no shadow slot was free, so only the primary ran.
	Shed

	// NumOutcomes is the number of outcomes, for arrays indexed by Outcome.
	NumOutcomes = int(Shed) + 1
)

var outcomeNames = [...]string{
	Match:    "match",
	Mismatch: "mismatch",
	Ignored:  "ignored",
	Timeout:  "timeout",
	Panic:    "panic",
	Error:    "error",
	Aborted:  "aborted",
	Shed:     "shed",
}

// String returns the value of the dualrun.outcome attribute.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// InMismatchRate reports whether o counts in the mismatch-rate denominator
// (match, mismatch and ignored do; the others say nothing about equality).
func (o Outcome) InMismatchRate() bool {
	return o == Match || o == Mismatch || o == Ignored
}

// Policy decides, per call, the primary side and whether to shadow.
//
// Decide is called on the caller's goroutine for every call, so it must be
// cheap, must not block and must be safe for concurrent use. A policy that
// panics is recovered by dualrun: the call runs legacy only, and the panic is
// counted.
type Policy interface {
	// Decide returns the decision for one call of the named experiment.
	Decide(ctx context.Context, experiment string) Decision
}

// Observation describes one finished comparison, as given to an [Observer].
type Observation struct {
	Experiment string
	Outcome    Outcome
	// Primary is the side that was authoritative for the call.
	Primary Side
	// LegacyDuration and CandidateDuration are the sides' wall-clock
	// durations. A shadow that timed out has the time it ran until its
	// deadline; a primary that did not finish (abort, or still running at
	// the shadow's timeout) has zero.
	LegacyDuration    time.Duration
	CandidateDuration time.Duration
	// LegacyErr and CandidateErr report whether each side returned an error
	// (or, for the shadow, panicked).
	LegacyErr    bool
	CandidateErr bool
}

// Observer is an optional interface for a [Policy]: dualrun calls Observe
// after every compared call (never for shed calls), on a background
// goroutine, behind recover. Guarded ramps use it to advance or roll back.
type Observer interface {
	// Observe receives one finished comparison.
	Observe(Observation)
}
