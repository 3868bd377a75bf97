package dualrun

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PanicError is the error recorded when a shadow or a user callback panics.
// Such panics are recovered and never reach the caller; the panic value and
// the stack of the panicking goroutine are kept for the Report.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the stack trace of the panicking goroutine.
	Stack []byte
}

// Error returns "panic: " followed by the panic value.
func (p *PanicError) Error() string {
	return fmt.Sprintf("panic: %v", p.Value)
}

// Unwrap returns the panic value if it is an error, so that errors.Is and
// errors.As see through a recovered panic.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// errGoexit is the panic value recorded when a shadow calls runtime.Goexit.
var errGoexit = errors.New("runtime.Goexit called in shadow")

// ErrorMessagesEqual is an error comparer for [WithErrorComparer]: two
// errors are equivalent when their messages are equal.
func ErrorMessagesEqual(legacy, candidate error) bool {
	return legacy.Error() == candidate.Error()
}

// ErrorsMatchTargets returns an error comparer for [WithErrorComparer]: two
// errors are equivalent when errors.Is matches the same set of targets for
// both, for instance sql.ErrNoRows and a package's ErrNotFound. Errors that
// match none of the targets are equivalent to each other.
func ErrorsMatchTargets(targets ...error) func(legacy, candidate error) bool {
	targets = append([]error(nil), targets...)
	return func(legacy, candidate error) bool {
		for _, t := range targets {
			if errors.Is(legacy, t) != errors.Is(candidate, t) {
				return false
			}
		}
		return true
	}
}

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
