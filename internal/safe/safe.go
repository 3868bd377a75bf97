// Package safe runs user callbacks behind recover, describes panics and
// errors without trusting them, and is the one place dualrun does either.
//
// Every user callback (comparer, normalizer, ignore rule, clone, shadow
// context hook, policy, observer, publisher) runs through [Call]. A panic
// becomes a [*PanicError] that keeps the panic value, so errors.Is and
// errors.As see through it to the cause. runtime.Goexit cannot be stopped
// by recover: Call reports it through its goexit argument, and the caller
// keeps the bookkeeping that must still happen in its own deferred code.
package safe

import (
	"errors"
	"fmt"
	"runtime/debug"
	"unicode/utf8"
)

// PanicError is a recovered panic: the value passed to panic and the stack
// of the panicking goroutine.
type PanicError struct {
	// Value is the value passed to panic (ErrGoexit for runtime.Goexit).
	Value any
	// Stack is the stack trace of the panicking goroutine.
	Stack []byte
}

// Error returns "panic: " followed by the panic value. Formatting the value
// is itself protected: a value whose Error or String method panics is
// described by its type.
func (p *PanicError) Error() string {
	return "panic: " + Text(p.Value, maxText)
}

// Unwrap returns the panic value if it is an error, so that errors.Is and
// errors.As see through a recovered panic.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// ErrGoexit is the panic value recorded when a shadow or a callback calls
// runtime.Goexit (t.FailNow, t.SkipNow in a test helper).
var ErrGoexit = errors.New("runtime.Goexit called")

// CallbackError is the failure of a named user callback, such as
// "WithComparer func" or "publisher audit". Err is a *PanicError when the
// callback panicked or called runtime.Goexit, or the error it returned.
type CallbackError struct {
	Callback string
	Err      error
}

// Error returns the callback's name and what went wrong.
func (e *CallbackError) Error() string {
	return e.Callback + " failed: " + ErrorText(e.Err, maxText)
}

// Unwrap returns the callback's error.
func (e *CallbackError) Unwrap() error { return e.Err }

// Recovered turns a value returned by recover into an error: a
// *CallbackError naming what failed, around a *PanicError with the stack.
func Recovered(what string, v any) error {
	return &CallbackError{Callback: what, Err: &PanicError{Value: v, Stack: debug.Stack()}}
}

// Goexited is the error for a callback that called runtime.Goexit.
func Goexited(what string) error {
	return &CallbackError{Callback: what, Err: &PanicError{Value: ErrGoexit, Stack: debug.Stack()}}
}

// Call runs fn behind recover. A panic is returned as a *CallbackError
// naming what. If fn calls runtime.Goexit, Call cannot stop it: it calls
// goexit (when not nil) with the error while the goroutine unwinds, and
// never returns.
func Call(what string, fn func(), goexit func(error)) (err error) {
	normal := false
	defer func() {
		if normal {
			return
		}
		if v := recover(); v != nil {
			err = Recovered(what, v)
			return
		}
		if goexit != nil {
			goexit(Goexited(what))
		}
	}()
	fn()
	normal = true
	return nil
}

// maxText bounds the texts made by PanicError and CallbackError.
const maxText = 1 << 10

// ErrorText returns err.Error(), cut to at most limit bytes (at a rune
// boundary, with "…" appended). An Error method that panics — a typed-nil
// pointer error, a type that assumes a field is set — is recovered, and the
// error is described by its type instead. A nil err gives "<nil>".
func ErrorText(err error, limit int) (s string) {
	if err == nil {
		return "<nil>"
	}
	defer func() {
		if v := recover(); v != nil {
			s = fmt.Sprintf("%T (its Error method panicked)", err)
		}
	}()
	return Cut(err.Error(), limit)
}

// Text describes a panic value: an error by ErrorText, a fmt.Stringer by
// its String method (behind recover), a string as it is, and anything else
// by its type and, for basic kinds, its value. It never walks into the
// value, so cyclic or huge values cost nothing.
func Text(v any, limit int) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("%T (its String method panicked)", v)
		}
	}()
	switch v := v.(type) {
	case nil:
		return "<nil>"
	case error:
		return ErrorText(v, limit)
	case string:
		return Cut(v, limit)
	case fmt.Stringer:
		return Cut(v.String(), limit)
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64, complex64, complex128:
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%T value", v)
}

// Cut returns s if it is at most limit bytes long (limit <= 0: no limit),
// and otherwise its longest prefix that ends on a rune boundary and leaves
// room for the "…" it appends.
func Cut(s string, limit int) string {
	if limit <= 0 || len(s) <= limit {
		return s
	}
	k := max(limit-len("…"), 0)
	for k > 0 && !utf8.RuneStart(s[k]) {
		k--
	}
	return s[:k] + "…"
}
