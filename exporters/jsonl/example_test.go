package jsonl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/jsonl"
)

// Every experiment's Reports as JSON lines on standard output, value-free.
func ExampleNew() {
	w := jsonl.New(os.Stdout, jsonl.WithRedact(func(r *dualrun.Report) *dualrun.Report {
		// Stable output for the example: no id, time or durations.
		r.ID, r.Time = "", time.Time{}
		r.LegacyDuration, r.CandidateDuration = 0, 0
		return r
	}))
	exp := dualrun.New[int]("example.jsonl", dualrun.WithPublisher(w))
	_, _ = exp.Run(context.Background(),
		func(context.Context) (int, error) { return 1, nil },
		func(context.Context) (int, error) { return 2, nil })
	_ = exp.Shutdown(context.Background())
	exp.Unregister()
	// Output:
	// {"schema_version":1,"id":"","experiment":"example.jsonl","time":"0001-01-01T00:00:00Z","outcome":"mismatch","kind":"value","primary":"legacy","legacy":{},"candidate":{},"paths":["."]}
}

// A file that rotates at 10 MiB and keeps three old files, for every
// experiment of the process; dualrun.Shutdown flushes and closes it.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "dualrun")
	defer os.RemoveAll(dir)

	w, err := jsonl.Open(filepath.Join(dir, "reports.jsonl"),
		jsonl.WithMaxSize(10<<20), jsonl.WithMaxBackups(3), jsonl.WithBufferSize(64<<10))
	if err != nil {
		fmt.Println(err)
		return
	}
	remove := dualrun.AddPublisher(w)
	defer remove()

	exp := dualrun.New[string]("example.jsonl.file")
	_, _ = exp.Run(context.Background(),
		func(context.Context) (string, error) { return "a", nil },
		func(context.Context) (string, error) { return "b", nil })
	_ = exp.Shutdown(context.Background()) // waits for the Report, flushes w
	exp.Unregister()
	_ = w.Close()

	b, _ := os.ReadFile(filepath.Join(dir, "reports.jsonl"))
	fmt.Println(len(b) > 0)
	// Output: true
}
