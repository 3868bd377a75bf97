package safe

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type nilErr struct{ msg *string }

func (e *nilErr) Error() string { return *e.msg }

type panicStringer struct{}

func (panicStringer) String() string { panic("no") }

var errCause = errors.New("cause")

func TestCall(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		fn      func()
		wantNil bool
		wantIs  error
		wantSub string
	}{
		{name: "returns", reason: "a normal return is no error", fn: func() {}, wantNil: true},
		{name: "panic-string", reason: "the value is described", fn: func() { panic("boom") }, wantSub: "cmp failed: panic: boom"},
		{name: "panic-error", reason: "errors.Is sees the cause through both layers", fn: func() { panic(fmt.Errorf("wrapped: %w", errCause)) }, wantIs: errCause},
		{name: "panic-typed-nil", reason: "a panic value whose Error panics is described by its type", fn: func() { panic(error((*nilErr)(nil))) }, wantSub: "*safe.nilErr (its Error method panicked)"},
		{name: "panic-stringer", reason: "a String method that panics is described by its type", fn: func() { panic(panicStringer{}) }, wantSub: "safe.panicStringer (its String method panicked)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Call("cmp", tt.fn, nil)
			if tt.wantNil {
				if err != nil {
					t.Fatalf("Call = %v, want nil (%s)", err, tt.reason)
				}
				return
			}
			var pe *PanicError
			if !errors.As(err, &pe) || len(pe.Stack) == 0 {
				t.Fatalf("Call = %#v, want a *PanicError with a stack (%s)", err, tt.reason)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, cause) = false (%s)", err, tt.reason)
			}
			if tt.wantSub != "" && !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("Error() = %q, want it to contain %q (%s)", err.Error(), tt.wantSub, tt.reason)
			}
		})
	}
}

func TestCallGoexit(t *testing.T) {
	var (
		wg  sync.WaitGroup
		got error
		ret bool
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = Call("hook", func() { runtimeGoexit() }, func(err error) { got = err })
		ret = true
	}()
	wg.Wait()
	if ret {
		t.Fatal("Call returned after runtime.Goexit; the goroutine must unwind")
	}
	var pe *PanicError
	if !errors.As(got, &pe) || !errors.Is(got, ErrGoexit) {
		t.Fatalf("goexit callback got %v, want a PanicError of ErrGoexit", got)
	}
}

func TestErrorText(t *testing.T) {
	long := strings.Repeat("é", 100)
	tests := []struct {
		name, reason string
		err          error
		limit        int
		want         string
	}{
		{"nil", "a nil error is spelled", nil, 10, "<nil>"},
		{"plain", "short texts are kept", errors.New("x"), 10, "x"},
		{"typed-nil", "Error() panics on a nil receiver", (*nilErr)(nil), 100, "*safe.nilErr (its Error method panicked)"},
		{"cut", "long texts end in … on a rune boundary", errors.New(long), 11, strings.Repeat("é", 4) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ErrorText(tt.err, tt.limit)
			if got != tt.want {
				t.Errorf("ErrorText = %q, want %q (%s)", got, tt.want, tt.reason)
			}
			if tt.limit > 0 && len(got) > tt.limit && tt.err != nil && !strings.Contains(got, "panicked") {
				t.Errorf("len = %d > limit %d", len(got), tt.limit)
			}
			if !utf8.ValidString(got) {
				t.Errorf("%q is not valid UTF-8", got)
			}
		})
	}
}

func TestText(t *testing.T) {
	m := map[string]any{}
	m["self"] = m // a cyclic value: Text must not walk into it
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, "<nil>"},
		{"int", 42, "42"},
		{"string", "s", "s"},
		{"cyclic-map", m, "map[string]interface {} value"},
		{"stringer-panics", panicStringer{}, "safe.panicStringer (its String method panicked)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.v, 100); got != tt.want {
				t.Errorf("Text = %q, want %q", got, tt.want)
			}
		})
	}
}
