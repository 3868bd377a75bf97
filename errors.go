package dualrun

import (
	"context"
	"fmt"
	"time"

	"github.com/dualrun/dualrun/internal/safe"
)

// PanicError is the error recorded when a shadow or a user callback panics
// (or calls runtime.Goexit). Such panics are recovered and never reach the
// caller; the panic value and the stack of the panicking goroutine are kept
// for the Report, and Unwrap returns the value when it is an error, so
// errors.Is and errors.As see through it.
type PanicError = safe.PanicError

// CallbackError is the failure of a named user callback (comparer,
// normalizer, ignore rule, clone, shadow context hook, observer, publisher):
// Report.CallbackErr for outcome error. It unwraps to a *PanicError when the
// callback panicked, and through it to the panic value.
type CallbackError = safe.CallbackError

// ErrGoexit is the cause recorded, inside a *PanicError, when a shadow or
// a user callback calls runtime.Goexit (t.FailNow or t.SkipNow in a test
// helper, say). dualrun treats it like a panic: errors.Is(err, ErrGoexit)
// finds it in a Report's errors.
var ErrGoexit = safe.ErrGoexit

// TimeoutError is the shadow's error in a Report when its deadline passed
// before it returned. It unwraps to context.DeadlineExceeded.
type TimeoutError struct {
	// After is how long the shadow had run when its deadline passed.
	After time.Duration
}

// Error says how long the shadow ran.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("shadow timed out after %v", e.After)
}

// Unwrap returns context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }
