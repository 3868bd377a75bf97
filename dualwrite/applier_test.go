package dualwrite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualwrite"
)

// faultyStore wraps a real store with injected faults, and logs every
// Apply: the store that errors for one key forever, or for a while.
type faultyStore struct {
	dualwrite.Store[Customer]
	mu    sync.Mutex
	fail  func(w dualwrite.Write[Customer]) error // nil: no fault
	calls []applyCall
}

type applyCall struct {
	at      time.Time
	key     string
	version uint64
	applied bool // applied (not skipped, not failed)
	err     error
}

func (f *faultyStore) Apply(ctx context.Context, w dualwrite.Write[Customer]) (dualwrite.Applied, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	var (
		a   dualwrite.Applied
		err error
	)
	if fail != nil {
		err = fail(w)
	}
	if err == nil {
		a, err = f.Store.Apply(ctx, w)
	}
	f.mu.Lock()
	f.calls = append(f.calls, applyCall{at: time.Now(), key: w.Key, version: a.Version, applied: err == nil && !a.Skipped, err: err})
	f.mu.Unlock()
	return a, err
}

func (f *faultyStore) setFail(fn func(w dualwrite.Write[Customer]) error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func (f *faultyStore) callsFor(key string) []applyCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []applyCall
	for _, c := range f.calls {
		if c.key == key {
			out = append(out, c)
		}
	}
	return out
}

var errDown = errors.New("store down")

func openJournal(t testing.TB, dir string) *dualwrite.Journal {
	t.Helper()
	j, err := dualwrite.OpenJournal(context.Background(), filepath.Join(dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestApplierBackoff: a write the secondary refuses three times is retried
// after pauses that double (with jitter in the upper half), then applied.
func TestApplierBackoff(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		neu := &faultyStore{Store: dualwrite.NewMemStore[Customer]()}
		failures := 0
		neu.setFail(func(w dualwrite.Write[Customer]) error {
			if w.Key == "k1" && failures < 3 {
				failures++
				return errDown
			}
			return nil
		})
		old := dualwrite.NewMemStore[Customer]()
		w, err := dualwrite.New("backoff", old, neu, dualwrite.WithJournal(j),
			dualwrite.WithBackoff(time.Second, 8*time.Second), dualwrite.WithPollInterval(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		if _, err := w.Put(ctx, "k1", customer(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Put(ctx, "k2", customer(2)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()

		calls := neu.callsFor("k1")
		if len(calls) != 4 || !calls[3].applied {
			t.Fatalf("k1: %d attempts %+v, want 3 failures then the write", len(calls), calls)
		}
		for i := 1; i < len(calls); i++ {
			// Pause after failure i: initial·2^(i-1), drawn in its upper half.
			full := time.Second << (i - 1)
			gap := calls[i].at.Sub(calls[i-1].at)
			if gap < full/2 || gap > full {
				t.Errorf("pause %d = %v, want within [%v, %v]", i, gap, full/2, full)
			}
		}
		if c := neu.callsFor("k2"); len(c) != 1 || !c[0].applied {
			t.Fatalf("k2 was held up by k1's failures: %+v", c)
		}
		st := w.Stats()
		if st.Retries != 3 || st.Failures != 0 || st.Pending != [2]int64{} {
			t.Fatalf("stats: retries %d failures %d pending %v", st.Retries, st.Failures, st.Pending)
		}
		if !strings.Contains(st.LastError, "store down") || !strings.Contains(st.LastError, `"k1"`) {
			t.Fatalf("LastError %q does not say which key failed and why", st.LastError)
		}
	})
}

// TestOneKeyFailingForever: a store that errors for one key forever holds
// back that key only; after the attempts are used up its writes are in the
// failed state, counted, listed, and a Retry after the fix applies them.
func TestOneKeyFailingForever(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		neu := &faultyStore{Store: dualwrite.NewMemStore[Customer]()}
		neu.setFail(func(w dualwrite.Write[Customer]) error {
			if w.Key == "bad" {
				return fmt.Errorf("key %s: %w", w.Key, errDown)
			}
			return nil
		})
		old := dualwrite.NewMemStore[Customer]()
		w, err := dualwrite.New("forever", old, neu, dualwrite.WithJournal(j),
			dualwrite.WithBackoff(time.Second, 4*time.Second), dualwrite.WithMaxAttempts(4))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		for i := range 30 {
			k := key(i)
			if i%10 == 5 {
				k = "bad" // three writes of the failing key, among the others
			}
			if _, err := w.Put(ctx, k, customer(i)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Minute)
		synctest.Wait()

		for i := range 30 {
			if i%10 == 5 {
				continue
			}
			if _, err := neu.Get(ctx, key(i)); err != nil {
				t.Fatalf("key %s held up by the failing key: %v", key(i), err)
			}
		}
		st := w.Stats()
		if st.Failures != 3 || st.Failed[dualrun.Candidate] != 3 || st.Pending[dualrun.Candidate] != 0 {
			t.Fatalf("failures %d failed %v pending %v; want the 3 writes of the failing key failed", st.Failures, st.Failed, st.Pending)
		}
		failed, err := w.Failed(ctx, 10)
		if err != nil || len(failed) != 3 {
			t.Fatalf("Failed = %d, %v", len(failed), err)
		}
		for _, f := range failed {
			if f.Key != "bad" || f.Target != dualrun.Candidate || f.Attempts != 4 || !strings.Contains(f.LastError, "store down") {
				t.Fatalf("failed write %+v", f)
			}
		}

		neu.setFail(nil) // the fix
		if n, err := w.Retry(ctx); err != nil || n != 3 {
			t.Fatalf("Retry = %d, %v", n, err)
		}
		if err := w.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := w.Reconcile(ctx, dualwrite.WithRate(0))
		if err != nil || rep.Divergent() != 0 {
			t.Fatalf("after Retry: %v %v", rep.Summary(), err)
		}
		// The failing key's writes were applied in journal order: versions
		// ascending, the last one wins.
		var last uint64
		for _, c := range neu.callsFor("bad") {
			if c.applied {
				if c.version <= last {
					t.Fatalf("bad: version %d applied after %d", c.version, last)
				}
				last = c.version
			}
		}
		if r, _ := neu.Get(ctx, "bad"); r.Value != customer(25) {
			t.Fatalf("bad = %+v, want the last write", r.Value)
		}
	})
}

// TestApplierOrderPerKey: with every secondary write left to the applier
// (shadows disabled), each key's writes are applied in journal order, all
// of them, several keys at once.
func TestApplierOrderPerKey(t *testing.T) {
	dir := t.TempDir()
	dualrun.DisableShadows()
	t.Cleanup(dualrun.EnableShadows)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		neu := &faultyStore{Store: dualwrite.NewMemStore[Customer]()}
		w, err := dualwrite.New("order", dualwrite.NewMemStore[Customer](), neu, dualwrite.WithJournal(j),
			dualwrite.WithApplyConcurrency(3))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		acks := map[string][]uint64{}
		for i := range 60 {
			k := key(i % 4)
			a, err := w.Put(ctx, k, customer(i))
			if err != nil {
				t.Fatal(err)
			}
			acks[k] = append(acks[k], a.Version)
		}
		if err := w.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		for k, want := range acks {
			var got []uint64
			for _, c := range neu.callsFor(k) {
				if c.applied {
					got = append(got, c.version)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("key %s: applied versions %v, want every write in order %v", k, got, want)
			}
		}
	})
}

// ambiguousStore is a primary whose Apply fails, before or after writing
// (a timeout after the commit): the caller cannot tell which.
type ambiguousStore struct {
	dualwrite.Store[Customer]
	after map[string]bool // key -> write, then fail; absent: fail without writing
}

func (s ambiguousStore) Apply(ctx context.Context, w dualwrite.Write[Customer]) (dualwrite.Applied, error) {
	after, ok := s.after[w.Key]
	if !ok {
		return s.Store.Apply(ctx, w)
	}
	if after {
		if _, err := s.Store.Apply(ctx, w); err != nil {
			return dualwrite.Applied{}, err
		}
	}
	return dualwrite.Applied{}, context.DeadlineExceeded
}

// TestIntentResolution: with the embedded journal, the intent is synced
// before the primary write; when the primary call fails, the applier asks
// the primary (after the settle time) and copies the write if it was
// taken, drops it if not.
func TestIntentResolution(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j := openJournal(t, dir)
		defer j.Close()
		mem := dualwrite.NewMemStore[Customer]()
		old := ambiguousStore{Store: mem, after: map[string]bool{"taken": true, "lost": false}}
		neu := dualwrite.NewMemStore[Customer]()
		w, err := dualwrite.New("intents", old, neu, dualwrite.WithJournal(j), dualwrite.WithApplyTimeout(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		for _, k := range []string{"taken", "lost"} {
			if _, err := w.Put(ctx, k, customer(1)); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Put(%s) = %v, want the primary's error", k, err)
			}
		}
		if _, err := w.Put(ctx, "plain", customer(2)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // the plain write's entry is applied and removed
		synctest.Wait()
		if n, _ := w.Pending(ctx); n != 2 {
			t.Fatalf("%d pending before the settle time, want the 2 unresolved intents", n)
		}
		time.Sleep(2 * time.Second) // the settle time: max(2 × 1s, 3s)
		synctest.Wait()
		if n, _ := w.Pending(ctx); n != 0 {
			t.Fatalf("%d pending after the settle time", n)
		}
		if r, err := neu.Get(ctx, "taken"); err != nil || r.Value != customer(1) || r.Version != mem.Version("taken") {
			t.Fatalf("the write the primary took: %+v, %v", r, err)
		}
		if _, err := neu.Get(ctx, "lost"); !errors.Is(err, dualwrite.ErrNotFound) {
			t.Fatalf("the write the primary never took reached the secondary: %v", err)
		}
		rep, err := w.Reconcile(ctx, dualwrite.WithRate(0))
		if err != nil || rep.Divergent() != 0 || rep.Scanned != 2 {
			t.Fatalf("%s %v", rep.Summary(), err)
		}
	})
}
