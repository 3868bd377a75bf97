package dualruntest_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// fakeTB records what a helper reports. The embedded testing.TB is nil, so
// a call to any method not overridden here panics: the tests see every
// method Compare uses.
type fakeTB struct {
	testing.TB
	name string

	mu     sync.Mutex
	errors []string
	fatals []string
	logs   []string
	exited bool // the function ended with runtime.Goexit
}

func (f *fakeTB) Helper()                  {}
func (f *fakeTB) Name() string             { return f.name }
func (f *fakeTB) Context() context.Context { return context.Background() }

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

// Fatalf records the message and ends the goroutine, as testing.T does.
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit()
}

// runFake runs fn with a fakeTB named name on its own goroutine, so that
// Fatalf and runtime.Goexit end fn but not the calling test.
func runFake(name string, fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{name: name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		normal := false
		defer func() {
			if !normal {
				f.exited = true
			}
		}()
		fn(f)
		normal = true
	}()
	<-done
	return f
}
