package dualruntest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualruntest"
)

// The Recorder is a publisher as dualrun sees it.
var _ dualrun.NamedPublisher = (*dualruntest.Recorder)(nil)

func report(exp string) *dualrun.Report { return &dualrun.Report{Experiment: exp} }

func names(rs []*dualrun.Report) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Experiment)
	}
	return out
}

func TestRecorder(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		rec    *dualruntest.Recorder
		do     func(r *dualruntest.Recorder)
		want   []string
	}{
		{name: "empty", reason: "nothing published", rec: dualruntest.NewRecorder(), do: func(*dualruntest.Recorder) {}, want: []string{}},
		{name: "in order", reason: "reports kept in publishing order", rec: dualruntest.NewRecorder(), do: func(r *dualruntest.Recorder) {
			_ = r.Publish(context.Background(), report("a"))
			_ = r.Publish(context.Background(), report("b"))
		}, want: []string{"a", "b"}},
		{name: "reset", reason: "Reset forgets what came before", rec: dualruntest.NewRecorder(), do: func(r *dualruntest.Recorder) {
			_ = r.Publish(context.Background(), report("a"))
			r.Reset()
			_ = r.Publish(context.Background(), report("c"))
		}, want: []string{"c"}},
		{name: "zero value", reason: "a Recorder{} works without NewRecorder", rec: &dualruntest.Recorder{}, do: func(r *dualruntest.Recorder) {
			_ = r.Publish(context.Background(), report("z"))
		}, want: []string{"z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.do(tt.rec)
			got := tt.rec.Reports()
			if fmt.Sprint(names(got)) != fmt.Sprint(tt.want) || tt.rec.Len() != len(tt.want) {
				t.Errorf("Reports %v, Len %d; want %v (%s)", names(got), tt.rec.Len(), tt.want, tt.reason)
			}
			if len(got) > 0 {
				got[0] = nil // a copy: the recorder keeps its own
				if tt.rec.Reports()[0] == nil {
					t.Error("Reports returned the recorder's own slice")
				}
			}
			if n := tt.rec.Name(); n != "dualruntest.Recorder" {
				t.Errorf("Name() = %q", n)
			}
		})
	}
}

func TestRecorderWait(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		publish int           // reports published by another goroutine
		n       int           // waited for
		timeout time.Duration // of the waiting context
		wantN   int
		wantErr error
	}{
		{name: "already there", reason: "n = 0 returns at once", n: 0, timeout: time.Second},
		{name: "arriving", reason: "returns once n have arrived", publish: 3, n: 3, timeout: time.Hour, wantN: 3},
		{name: "more than enough", reason: "returns every report, at least n", publish: 5, n: 2, timeout: time.Hour, wantN: 5},
		{name: "too few", reason: "the context ends first: what arrived, and its error", publish: 1, n: 2, timeout: time.Second, wantN: 1, wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := dualruntest.NewRecorder()
				ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
				defer cancel()
				var wg sync.WaitGroup
				wg.Go(func() {
					for i := range tt.publish {
						time.Sleep(time.Millisecond) // fake time: orders the reports after Wait starts
						_ = rec.Publish(context.Background(), report(fmt.Sprint(i)))
					}
				})
				got, err := rec.Wait(ctx, tt.n)
				if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
					t.Errorf("Wait error %v, want %v (%s)", err, tt.wantErr, tt.reason)
				}
				synctest.Wait()
				if tt.wantErr == nil && len(got) < tt.n {
					t.Errorf("Wait returned %d reports, want at least %d (%s)", len(got), tt.n, tt.reason)
				}
				if tt.wantErr != nil && len(got) != tt.wantN {
					t.Errorf("Wait returned %d reports, want %d (%s)", len(got), tt.wantN, tt.reason)
				}
				wg.Wait()
				if rec.Len() != tt.publish {
					t.Errorf("Len %d, want %d", rec.Len(), tt.publish)
				}
			})
		})
	}
}

// TestRecorderConcurrent: many publishers and waiters at once (run with
// -race).
func TestRecorderConcurrent(t *testing.T) {
	const publishers, each = 8, 100
	rec := dualruntest.NewRecorder()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got, err := rec.Wait(t.Context(), publishers*each); err != nil || len(got) != publishers*each {
				t.Errorf("Wait: %d reports, %v", len(got), err)
			}
		})
	}
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				_ = rec.Publish(context.Background(), report(fmt.Sprint(p, i)))
				_ = rec.Len()
			}
		})
	}
	wg.Wait()
	if rec.Len() != publishers*each {
		t.Errorf("Len %d, want %d", rec.Len(), publishers*each)
	}
}

// TestRecorderWithExperiment: the recorder attached to a real experiment
// receives its reports, normalized diffs included.
func TestRecorderWithExperiment(t *testing.T) {
	rec := dualruntest.NewRecorder()
	exp := dualrun.New[Money]("dualruntest.recorder.experiment", dualrun.WithPublisher(rec), dualrun.WithReportDedup(0),
		dualrun.WithNormalizer(func(m Money) Money { m.Currency = "***"; return m }))
	for range 3 {
		_, _ = exp.Run(t.Context(),
			func(context.Context) (Money, error) { return Money{"EUR", 1}, nil },
			func(context.Context) (Money, error) { return Money{"EUR", 2}, nil })
	}
	got, err := rec.Wait(t.Context(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Outcome != dualrun.Mismatch || fmt.Sprint(r.Paths) != "[.Cents]" || strings.Contains(r.Diff, "EUR") {
			t.Errorf("report %v, diff:\n%s", r, r.Diff)
		}
	}
}

// A Recorder collects the Reports of an experiment for a test to check.
func ExampleRecorder() {
	rec := dualruntest.NewRecorder()
	exp := dualrun.New[Money]("example.recorder", dualrun.WithPublisher(rec))
	ctx := context.Background()

	_, _ = exp.Run(ctx,
		func(context.Context) (Money, error) { return Money{"EUR", 100}, nil },
		func(context.Context) (Money, error) { return Money{"EUR", 101}, nil })
	_ = exp.Shutdown(ctx) // publishes every queued Report

	for _, r := range rec.Reports() {
		fmt.Println(r.Outcome, r.Kind, r.Paths)
	}
	// Output:
	// mismatch value [.Cents]
}
