package dualrun_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
)

// These tests pin publisher.go and outbox.go: per-experiment and
// process-wide publishers, their lifecycle, and the report queues that keep
// a slow, panicking or exiting publisher away from callers.

// lifecyclePublisher records what dualrun calls on it.
type lifecyclePublisher struct {
	mu        sync.Mutex
	published []*dualrun.Report
	flushes   int
	shutdowns int
	ctxs      []context.Context
}

func (p *lifecyclePublisher) Publish(ctx context.Context, r *dualrun.Report) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = append(p.published, r)
	p.ctxs = append(p.ctxs, ctx)
	return nil
}

func (p *lifecyclePublisher) Name() string { return "lifecycle" }

func (p *lifecyclePublisher) Flush(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushes++
	return nil
}

func (p *lifecyclePublisher) Shutdown(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shutdowns++
	return nil
}

func (p *lifecyclePublisher) counts() (published, flushes, shutdowns int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.published), p.flushes, p.shutdowns
}

// TestAddPublisher: a process-wide publisher reaches experiments made
// before it was added, and those made by Run; removing it stops new
// Reports; the package-level Shutdown flushes and shuts it down, while an
// experiment's Shutdown only flushes.
func TestAddPublisher(t *testing.T) {
	inChild(t, func(t *testing.T) {
		ctx := context.Background()
		before := dualrun.New[price]("global.before", dualrun.WithReportDedup(0))
		p := &lifecyclePublisher{}
		remove := dualrun.AddPublisher(p)
		after := dualrun.New[price]("global.after", dualrun.WithReportDedup(0))
		differ := ret(price{1, "EUR"}, nil)
		_, _ = before.Run(ctx, ret(eur100, nil), differ)
		_, _ = after.Run(ctx, ret(eur100, nil), differ)
		waitShutdown(t, before)
		waitShutdown(t, after)
		if n, f, s := p.counts(); n != 2 || f != 2 || s != 0 {
			t.Fatalf("after two experiment Shutdowns: published %d, flushes %d, shutdowns %d; want 2, 2, 0", n, f, s)
		}
		_, _ = dualrun.Run(ctx, ret(eur100, nil), differ, dualrun.WithName("global.run"))
		if err := dualrun.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _, s := p.counts(); n != 3 || s != 1 {
			t.Fatalf("after the package Shutdown: published %d, shutdowns %d; want 3, 1", n, s)
		}
		remove()
		remove() // idempotent
		late := dualrun.New[price]("global.late")
		_, _ = late.Run(ctx, ret(eur100, nil), differ)
		waitShutdown(t, late)
		if n, _, _ := p.counts(); n != 3 {
			t.Fatalf("a removed publisher got %d reports, want 3", n)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, r := range p.published {
			if r.ID == "" || len(r.ID) != 32 {
				t.Errorf("report ID %q, want 32 hex digits", r.ID)
			}
		}
	})
}

// TestPublishContextCanceled: a Shutdown that gives up cancels the context
// of a Publish under way.
func TestPublishContextCanceled(t *testing.T) {
	started := make(chan struct{})
	var sawCancel atomic.Bool
	pub := dualrun.PublisherFunc(func(ctx context.Context, _ *dualrun.Report) error {
		close(started)
		<-ctx.Done()
		sawCancel.Store(true)
		return ctx.Err()
	})
	exp := newExp[price](t, dualrun.WithPublisher(pub))
	_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{1, "EUR"}, nil))
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := exp.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled while a Publish blocks", err)
	}
	waitShutdown(t, exp) // the publisher saw its context end and returned
	if !sawCancel.Load() {
		t.Fatal("the Publish context was not canceled")
	}
	if s := exp.Stats(); s.ReportsDropped != 1 {
		t.Errorf("dropped %d, want 1 (the canceled publish failed)", s.ReportsDropped)
	}
}

// TestNamePublisher: the name shows in Stats.Config, and Flush reaches the
// wrapped publisher.
func TestNamePublisher(t *testing.T) {
	p := &lifecyclePublisher{}
	exp := newExp[price](t,
		dualrun.WithPublisher(dualrun.NamePublisher("tickets", p)),
		dualrun.WithPublisher(dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error { return nil })))
	waitShutdown(t, exp)
	got := exp.Stats().Config.Publishers
	if len(got) != 2 || got[0] != "tickets" || got[1] != "dualrun.PublisherFunc" {
		t.Errorf("Config.Publishers = %q", got)
	}
	if _, f, _ := p.counts(); f != 1 {
		t.Errorf("flushes through NamePublisher = %d, want 1", f)
	}
}

// TestSlowPublisherNeverBlocks: a publisher that blocks fills its queue;
// further reports are dropped and counted, and callers are not delayed.
func TestSlowPublisherNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		slow := dualrun.NamePublisher("slow", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error { <-release; return nil }))
		exp := newExp[wide](t, dualrun.WithPublisher(slow), dualrun.WithReportQueue(2), dualrun.WithReportRate(0, 1))
		start := time.Now()
		for i := range 10 {
			_, _ = exp.Run(context.Background(),
				func(context.Context) (wide, error) { return wide{}, nil },
				func(context.Context) (wide, error) { return wideWith(i), nil })
			synctest.Wait()
		}
		if time.Since(start) != 0 {
			t.Fatalf("callers were delayed by %v", time.Since(start))
		}
		// One report is being published (blocked), two wait in the queue,
		// seven were dropped.
		if s := exp.Stats(); s.ReportsDropped != 7 || s.Count(dualrun.Mismatch) != 10 || s.InFlight != 0 {
			t.Fatalf("while the publisher blocks: dropped %d, mismatches %d, in flight %d; want 7, 10, 0",
				s.ReportsDropped, s.Count(dualrun.Mismatch), s.InFlight)
		}
		close(release)
		waitShutdown(t, exp)
		if s := exp.Stats(); s.ReportsPublished != 3 || s.ReportsDropped != 7 || s.ReportsSuppressed != 0 {
			t.Fatalf("published %d, dropped %d, suppressed %d; want 3, 7, 0", s.ReportsPublished, s.ReportsDropped, s.ReportsSuppressed)
		}
	})
}

// TestSlowGlobalPublisherNeverBlocks: a process-wide publisher that blocks
// fills its queue and drops; callers never wait.
func TestSlowGlobalPublisherNeverBlocks(t *testing.T) {
	inChild(t, func(t *testing.T) {
		release := make(chan struct{})
		remove := dualrun.AddPublisher(dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
			<-release
			return nil
		}))
		defer remove()
		exp := dualrun.New[int]("global.slow", dualrun.WithReportDedup(0), dualrun.WithReportRate(0, 1))
		start := time.Now()
		calls := 0
		for ; exp.Stats().Count(dualrun.Mismatch) < dualrun.DefaultReportQueue+100 && calls < 1e6; calls++ {
			v := calls + 1
			_, _ = exp.Run(context.Background(), func(context.Context) (int, error) { return 0, nil },
				func(context.Context) (int, error) { return v, nil })
		}
		elapsed := time.Since(start)
		close(release)
		waitShutdown(t, exp)
		s := exp.Stats()
		if s.ReportsDropped == 0 || s.ReportsPublished+s.ReportsDropped != int64(s.Count(dualrun.Mismatch)) {
			t.Fatalf("published %d + dropped %d != mismatches %d (or nothing dropped)", s.ReportsPublished, s.ReportsDropped, s.Count(dualrun.Mismatch))
		}
		t.Logf("%d calls with a blocked global publisher took %v", calls, elapsed)
	})
}

// TestPublisherPanics: a panicking publisher is recovered and counted as a
// dropped report.
func TestPublisherPanics(t *testing.T) {
	exp := newExp[price](t, dualrun.WithPublisher(dualrun.NamePublisher("bad", dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
		panic("publisher bug")
	}))))
	_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{}, nil))
	waitShutdown(t, exp)
	if s := exp.Stats(); s.ReportsDropped != 1 || s.Count(dualrun.Mismatch) != 1 {
		t.Fatalf("dropped %d, outcomes %v", s.ReportsDropped, s.Outcomes)
	}
}

// TestPublisherGoexit: a publisher that calls runtime.Goexit loses that
// report (counted as dropped), and the next ones are still published.
func TestPublisherGoexit(t *testing.T) {
	var n atomic.Int64
	pub := dualrun.PublisherFunc(func(context.Context, *dualrun.Report) error {
		if n.Add(1) == 1 {
			runtime.Goexit()
		}
		return nil
	})
	exp := newExp[price](t, dualrun.WithPublisher(pub), dualrun.WithReportDedup(0))
	for range 3 {
		_, _ = exp.Run(context.Background(), ret(eur100, nil), ret(price{1, "EUR"}, nil))
	}
	waitShutdown(t, exp)
	s := exp.Stats()
	if n.Load() != 3 || s.ReportsDropped != 1 || s.ReportsPublished != 2 {
		t.Fatalf("publish calls %d, dropped %d, published %d; want 3, 1, 2", n.Load(), s.ReportsDropped, s.ReportsPublished)
	}
}

// TestTelemetryReportsDropped: reports a full queue drops are counted on
// dualrun.reports.dropped per publisher and in Stats.
func TestTelemetryReportsDropped(t *testing.T) {
	for _, primary := range bothPrimaries {
		t.Run("primary="+primary.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newTelHarness(t)
				name := expName(t)
				entered := make(chan *dualrun.Report, 8)
				release := make(chan struct{})
				slow := dualrun.NamePublisher("slow", dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
					entered <- r
					<-release
					return nil
				}))
				exp := dualrun.New[wide](name, h.with(dualrun.WithRollout(alwaysCompare(primary)),
					dualrun.WithPublisher(slow), dualrun.WithReportQueue(1), dualrun.WithReportRate(0, 1))...)
				const calls = 5
				for i := range calls {
					// A distinct differing path per call, so that
					// deduplication does not suppress any report.
					legacy, candidate := ret(wide{}, nil), ret(wideWith(i), nil)
					if _, err := exp.Run(context.Background(), legacy, candidate); err != nil {
						t.Fatal(err)
					}
					// The shadow has recorded and pushed its report; the
					// publisher holds the first one.
					synctest.Wait()
				}
				if got := len(entered); got != 1 {
					t.Fatalf("the slow publisher got %d reports while blocked, want 1", got)
				}
				// One report is in Publish, one waits in the queue of 1,
				// the other three were dropped.
				const wantDropped = calls - 2
				close(release)
				waitShutdown(t, exp)

				telAssertSum(t, h.collect(t), dualrun.MetricReportsDropped, "{report}", true, false,
					telPoint(wantDropped, dualrun.AttrExperiment.String(name), dualrun.AttrExporter.String("slow")))
				s := exp.Stats()
				if s.ReportsDropped != wantDropped || s.ReportsPublished != 2 || s.ReportsSuppressed != 0 {
					t.Errorf("Stats reports: dropped %d, published %d, suppressed %d; want %d, 2, 0",
						s.ReportsDropped, s.ReportsPublished, s.ReportsSuppressed, wantDropped)
				}
				if got := len(entered); got != 2 {
					t.Errorf("the slow publisher got %d reports in all, want 2", got)
				}
			})
		})
	}
}
