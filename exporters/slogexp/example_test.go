package slogexp_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/slogexp"
)

// Every experiment's Reports as structured log records.
func ExampleNew() {
	// A text handler without time, for a stable example output.
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "dualrun.report.id", "dualrun.legacy.duration", "dualrun.candidate.duration":
				return slog.Attr{}
			}
			return a
		},
	})
	remove := dualrun.AddPublisher(slogexp.New(slog.New(h)))
	defer remove()

	exp := dualrun.New[int]("example.slog")
	_, _ = exp.Run(context.Background(),
		func(context.Context) (int, error) { return 1, nil },
		func(context.Context) (int, error) { return 2, nil })
	_ = exp.Shutdown(context.Background())
	exp.Unregister()
	// Output:
	// level=WARN msg="dualrun mismatch" dualrun.experiment=example.slog dualrun.outcome=mismatch dualrun.mismatch.kind=value dualrun.primary=legacy dualrun.paths=[.]
}
