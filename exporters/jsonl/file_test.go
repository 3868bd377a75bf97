package jsonl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"

	"github.com/dualrun/dualrun/exporters/internal/exptest"
	"github.com/dualrun/dualrun/exporters/jsonl"
)

// ids returns the ids of the lines in the file at path, in order; none if
// the file does not exist.
func ids(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lines(t, b) {
		out = append(out, l["id"].(string))
	}
	return out
}

func id(i int) string { return fmt.Sprintf("%032x", i) }

func publishN(t *testing.T, w *jsonl.Writer, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		r := exptest.Sample("rot")
		r.ID = id(i)
		if err := w.Publish(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRotation(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		backups int
		buffer  int
		files   []string // that must exist afterwards
		gone    []string // that must not
	}{
		{
			name:    "numbered backups",
			reason:  "the newest rotated file is .1; beyond MaxBackups the oldest goes",
			backups: 2,
			files:   []string{"r.jsonl", "r.1.jsonl", "r.2.jsonl"},
			gone:    []string{"r.3.jsonl"},
		},
		{
			name:    "buffered",
			reason:  "buffered lines belong to the file they were reserved for: no line is split",
			backups: 2,
			buffer:  700,
			files:   []string{"r.jsonl", "r.1.jsonl", "r.2.jsonl"},
			gone:    []string{"r.3.jsonl"},
		},
		{
			name:    "no backups",
			reason:  "MaxBackups 0 truncates",
			backups: 0,
			files:   []string{"r.jsonl"},
			gone:    []string{"r.1.jsonl"},
		},
	}
	const maxSize, n = 2000, 40
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "r.jsonl")
			w, err := jsonl.Open(path, jsonl.WithMaxSize(maxSize), jsonl.WithMaxBackups(tt.backups), jsonl.WithBufferSize(tt.buffer))
			if err != nil {
				t.Fatal(err)
			}
			publishN(t, w, 0, n)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			for _, f := range tt.files {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Fatalf("%s: %v (%s)", f, err, tt.reason)
				}
				if fi.Size() > maxSize {
					t.Errorf("%s is %d bytes, over the %d limit (%s)", f, fi.Size(), maxSize, tt.reason)
				}
				if fi.Mode().Perm() != jsonl.DefaultFileMode {
					t.Errorf("%s has mode %v, want %v", f, fi.Mode().Perm(), jsonl.DefaultFileMode)
				}
			}
			for _, f := range tt.gone {
				if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
					t.Errorf("%s exists (%v), want it gone (%s)", f, err, tt.reason)
				}
			}
			// The files kept, oldest first, hold the last lines written, in
			// order and without a gap.
			var kept []string
			for i := len(tt.files) - 1; i >= 1; i-- {
				kept = append(kept, ids(t, filepath.Join(dir, fmt.Sprintf("r.%d.jsonl", i)))...)
			}
			kept = append(kept, ids(t, path)...)
			var want []string
			for i := n - len(kept); i < n; i++ {
				want = append(want, id(i))
			}
			if len(kept) == 0 || !slices.Equal(kept, want) {
				t.Fatalf("kept lines %v, want the last %d in order (%s)", kept, len(kept), tt.reason)
			}
		})
	}
}

func TestOpenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	for round := range 2 {
		w, err := jsonl.Open(path, jsonl.WithMaxSize(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		publishN(t, w, round*3, 3)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids(t, path); len(got) != 6 || got[0] != id(0) || got[5] != id(5) {
		t.Fatalf("ids %v, want 6 lines from two Writers in order", got)
	}
}

func TestOpenError(t *testing.T) {
	if _, err := jsonl.Open(filepath.Join(t.TempDir(), "missing", "r.jsonl")); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

// TestRotationFailure: a rotation that cannot rename is reported to the
// OpenTelemetry error handler, and lines go on to the current file.
func TestRotationFailure(t *testing.T) {
	var mu sync.Mutex
	var handled []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		handled = append(handled, err)
		mu.Unlock()
	}))
	defer otel.SetErrorHandler(prev)

	dir := t.TempDir()
	path := filepath.Join(dir, "r.jsonl")
	// A non-empty directory where the first backup goes: the rename fails.
	if err := os.MkdirAll(filepath.Join(dir, "r.1.jsonl", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := jsonl.Open(path, jsonl.WithMaxSize(1000), jsonl.WithMaxBackups(1))
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, w, 0, 10)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, path); len(got) != 10 {
		t.Fatalf("%d lines in the current file, want all 10", len(got))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handled) == 0 || !strings.Contains(handled[0].Error(), "rotating") {
		t.Fatalf("handled errors %v, want the failed rotation", handled)
	}
	// Reported once per MaxSize bytes written, not once per line.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if limit := int(fi.Size()/1000) + 1; len(handled) > limit || len(handled) >= 10 {
		t.Fatalf("%d errors handled for 10 lines of %d bytes: want at most one per 1000 bytes", len(handled), fi.Size())
	}
}

func TestConcurrentRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.jsonl")
	w, err := jsonl.Open(path, jsonl.WithMaxSize(4000), jsonl.WithMaxBackups(1000), jsonl.WithBufferSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				r := exptest.Sample("rot")
				r.ID = id(g*each + i)
				if err := w.Publish(context.Background(), r); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Size() > 4000 {
			t.Errorf("%s is %d bytes, over the limit", e.Name(), fi.Size())
		}
		for _, x := range ids(t, filepath.Join(dir, e.Name())) {
			if seen[x] {
				t.Fatalf("line %s written twice", x)
			}
			seen[x] = true
		}
	}
	if len(seen) != writers*each || len(entries) < 3 {
		t.Fatalf("%d distinct lines in %d files, want %d lines in several files", len(seen), len(entries), writers*each)
	}
}
