package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dualrun/dualrun/internal/e2e"
)

// A test waits for the line a started server prints (Start connects the
// process's standard output to an Output).
func ExampleOutput_Line() {
	out := e2e.NewOutput()
	fmt.Fprintln(out, "starting")
	fmt.Fprintln(out, "listening on http://127.0.0.1:8080")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	addr, err := out.Line(ctx, "listening on ")
	fmt.Println(addr, err)
	// Output: http://127.0.0.1:8080 <nil>
}

// Poll retries until the condition holds, and says what did not happen
// when it never does.
func ExamplePoll() {
	calls := 0
	err := e2e.Poll(context.Background(), time.Second, time.Millisecond, "ready", func(context.Context) error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	fmt.Println(calls, err)

	err = e2e.Poll(context.Background(), 20*time.Millisecond, time.Millisecond, "never", func(context.Context) error {
		return errors.New("still starting")
	})
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// never: not within 20ms: still starting
}
