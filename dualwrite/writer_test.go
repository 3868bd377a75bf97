package dualwrite_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
	"github.com/dualrun/dualrun/rollout"
)

func TestWriteReadBothStores(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	p := sqlitePair(t)
	flag := rollout.NewLive(rollout.Static{Shadow: rollout.All})
	w := newWriter(t, "customers", p.old, p.neu, dualwrite.WithRollout(flag))
	var acks []acked
	for i := range 20 {
		a, err := w.Put(ctx, key(i), customer(i))
		if err != nil {
			t.Fatal(err)
		}
		if a.Primary != dualrun.Legacy || a.Key != key(i) || a.Version == 0 {
			t.Fatalf("ack %+v", a)
		}
		acks = append(acks, acked{key: key(i), value: customer(i), version: a.Version})
	}
	a, err := w.Delete(ctx, key(3))
	if err != nil {
		t.Fatal(err)
	}
	acks = append(acks, acked{key: key(3), deleted: true, version: a.Version})
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	checkAcked(t, ctx, [2]dualwrite.Store[Customer]{p.old, p.neu}, acks)
	got, err := w.Get(ctx, key(5))
	if err != nil || got != customer(5) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := w.Get(ctx, key(3)); !errors.Is(err, dualwrite.ErrNotFound) {
		t.Fatalf("Get of a deleted key: %v", err)
	}
	rep := reconcileClean(t, ctx, w)
	if rep.Scanned != 19 {
		t.Fatalf("scanned %d, want 19", rep.Scanned)
	}
}

// panicStore is a hostile store: Apply panics, with a value whose Error
// method panics too, until healed.
type panicStore struct {
	dualwrite.Store[Customer]
	healed atomic.Bool
}

type nastyErr struct{ p *int }

func (e *nastyErr) Error() string { return fmt.Sprint(*e.p) } // panics: p is nil

func (s *panicStore) Apply(ctx context.Context, w dualwrite.Write[Customer]) (dualwrite.Applied, error) {
	if !s.healed.Load() {
		panic(&nastyErr{})
	}
	return s.Store.Apply(ctx, w)
}

// TestHostileSecondary: a secondary store that panics (with an error
// whose Error panics) fails no write and crashes nothing: its writes are
// retried until it behaves.
func TestHostileSecondary(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	j := openJournal(t, t.TempDir())
	defer j.Close()
	neu := &panicStore{Store: dualwrite.NewMemStore[Customer]()}
	old := dualwrite.NewMemStore[Customer]()
	w := newWriter(t, "hostile", old, neu, dualwrite.WithJournal(j),
		dualwrite.WithBackoff(time.Millisecond, 5*time.Millisecond), dualwrite.WithPollInterval(10*time.Millisecond))
	for i := range 10 {
		if _, err := w.Put(ctx, key(i), customer(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, "retries of the panicking store", func() bool { return w.Stats().Retries >= 10 })
	if st := w.Stats(); !strings.Contains(st.LastError, "panic") {
		t.Fatalf("LastError %q", st.LastError)
	}
	neu.healed.Store(true)
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	reconcileClean(t, ctx, w)
}

// failingCodec refuses some values and returns garbage for others.
type failingCodec struct{ dualwrite.JSONCodec[Customer] }

func (failingCodec) Marshal(c Customer) ([]byte, error) {
	switch c.First {
	case "refuse":
		return nil, errors.New("cannot encode")
	case "panic":
		panic("codec panic")
	}
	return dualwrite.JSONCodec[Customer]{}.Marshal(c)
}

func TestWriterErrors(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	j := openJournal(t, t.TempDir())
	defer j.Close()
	old, neu := dualwrite.NewMemStore[Customer](), dualwrite.NewMemStore[Customer]()
	w := newWriter(t, "errors", old, neu, dualwrite.WithJournal(j), dualwrite.WithCodec[Customer](failingCodec{}))
	tests := []struct {
		name, reason string
		value        Customer
		want         string
	}{
		{name: "codec-error", reason: "a value the codec refuses is not written at all", value: Customer{First: "refuse"}, want: "cannot encode"},
		{name: "codec-panic", reason: "a panicking codec is an error, not a crash", value: Customer{First: "panic"}, want: "codec panic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.Put(ctx, "k-"+tt.name, tt.value)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: err = %v", tt.reason, err)
			}
			if _, err := old.Get(ctx, "k-"+tt.name); !errors.Is(err, dualwrite.ErrNotFound) {
				t.Fatalf("%s: the primary was written", tt.reason)
			}
		})
	}
	t.Run("journal-closed", func(t *testing.T) {
		j2 := openJournal(t, t.TempDir())
		w2 := newWriter(t, "closed-journal", dualwrite.NewMemStore[Customer](), dualwrite.NewMemStore[Customer](), dualwrite.WithJournal(j2))
		if err := j2.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := w2.Put(ctx, "k", customer(1))
		var je *dualwrite.JournalError
		if !errors.As(err, &je) || !errors.Is(err, dualwrite.ErrJournalClosed) || je.Key != "k" {
			t.Fatalf("a write whose journal is closed: %v", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		w3, err := dualwrite.New("closed", dualwrite.NewMemStore[Customer](), dualwrite.NewMemStore[Customer](), dualwrite.WithJournal(j))
		if err != nil {
			t.Fatal(err)
		}
		if err := w3.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w3.Close(ctx); err != nil {
			t.Fatal("Close is not idempotent")
		}
		if _, err := w3.Put(ctx, "k", customer(1)); !errors.Is(err, dualwrite.ErrClosed) {
			t.Fatalf("Put after Close: %v", err)
		}
		if err := w3.Drain(ctx); !errors.Is(err, dualwrite.ErrClosed) {
			t.Fatalf("Drain after Close: %v", err)
		}
		if _, err := w3.Reconcile(ctx); !errors.Is(err, dualwrite.ErrClosed) {
			t.Fatalf("Reconcile after Close: %v", err)
		}
	})
}

func TestNewErrors(t *testing.T) {
	mem := dualwrite.NewMemStore[Customer]()
	j := openJournal(t, t.TempDir())
	defer j.Close()
	tests := []struct {
		name, reason string
		wname        string
		old, neu     dualwrite.Store[Customer]
		opts         []dualwrite.Option
		want         string
	}{
		{name: "no-name", reason: "a writer needs a name", old: mem, neu: mem, want: "name is empty"},
		{name: "no-store", reason: "both stores are required", wname: "w", old: mem, want: "both stores"},
		{name: "no-journal", reason: "a store without an outbox needs the journal", wname: "w", old: mem, neu: mem, want: "WithJournal"},
		{
			name: "codec-type", reason: "a codec of another type is refused", wname: "w", old: mem, neu: mem,
			opts: []dualwrite.Option{dualwrite.WithJournal(j), dualwrite.WithCodec[int](nil), dualwrite.WithCodec[string](dualwrite.JSONCodec[string]{})}, want: "WithCodec",
		},
		{
			name: "normalizer-type", reason: "a normalizer of another type is refused", wname: "w", old: mem, neu: mem,
			opts: []dualwrite.Option{dualwrite.WithJournal(j), dualwrite.WithNormalizer(func(s string) string { return s })}, want: "string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := dualwrite.New(tt.wname, tt.old, tt.neu, tt.opts...)
			if err == nil {
				_ = w.Close(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: err = %v, want %q", tt.reason, err, tt.want)
			}
		})
	}
}

// TestSyncBudget: with a budget, a write returns once the secondary has it
// (here at once), and never later than the budget when the secondary
// hangs.
func TestSyncBudget(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		neu := &faultyStore{Store: dualwrite.NewMemStore[Customer]()}
		block := make(chan struct{})
		w, err := dualwrite.New("budget", dualwrite.NewMemStore[Customer](), neu, dualwrite.WithJournal(j),
			dualwrite.WithSyncBudget(300*time.Millisecond), dualwrite.WithSecondaryTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		start := time.Now()
		if _, err := w.Put(ctx, "fast", customer(1)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("a write whose secondary is instant took %v", d)
		}
		if _, err := neu.Get(ctx, "fast"); err != nil {
			t.Fatalf("the budget did not wait for the secondary: %v", err)
		}
		neu.setFail(func(dualwrite.Write[Customer]) error { <-block; return nil })
		start = time.Now()
		if _, err := w.Put(ctx, "hung", customer(2)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 300*time.Millisecond {
			t.Fatalf("a write whose secondary hangs took %v, want the budget", d)
		}
		close(block)
		if err := w.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
