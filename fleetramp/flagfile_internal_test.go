package fleetramp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun/rollout"
)

func TestWriteAtomicFailureLeavesTheFile(t *testing.T) {
	boom := errors.New("disk on fire")
	tests := []struct {
		name   string
		reason string
		w      fileWriter
	}{
		{"fsync fails", "the data may not be on disk: do not rename", fileWriter{sync: func(*os.File) error { return boom }, rename: os.Rename}},
		{"rename fails", "the old file stays in place", fileWriter{sync: (*os.File).Sync, rename: func(string, string) error { return boom }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "flags.json")
			old := []byte(`{"flags":{}}` + "\n")
			if err := os.WriteFile(path, old, 0o600); err != nil {
				t.Fatal(err)
			}
			err := tt.w.writeAtomic(path, []byte(`{"new":true}`), 0o644)
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), "left as it was") {
				t.Fatalf("writeAtomic: %v, want the failure reported (%s)", err, tt.reason)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != string(old) {
				t.Fatalf("file after a failed write: %q, %v; want %q (%s)", got, err, old, tt.reason)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Fatalf("directory holds %d entries, want only the flag file: the temporary file is removed", len(entries))
			}
		})
	}
}

func TestWriteAtomicKeepsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	if err := os.WriteFile(path, []byte("{}"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := osWriter.writeAtomic(path, []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v: want the old file's 0640", fi.Mode(), err)
	}
}

// TestControllerWriteFailure: a transition that cannot be written is not
// made: the old file stays, the error is reported and the next evaluation
// decides again.
func TestControllerWriteFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flags.json")
	cfg, err := ParseConfig([]byte(`{"experiments":[{"name":"e","hold":"0s","min_comparisons":0,"min_samples":1,
		"steps":[{"shadow_percent":100},{"shadow_percent":100,"candidate_primary_percent":50},{"shadow_percent":100,"candidate_primary_percent":100}],
		"guard":{"max_mismatch_rate":0.1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	src := constSource{Signals{Range: time.Minute, InStep: 10, Window: rollout.WindowStats{MismatchSamples: 10}}}
	c, err := New(cfg, src, path)
	if err != nil {
		t.Fatal(err)
	}
	c.writer.rename = func(string, string) error { return errors.New("read-only file system") }
	es := c.EvaluateAll(t.Context()).Experiments[0]
	if es.Result != ResultError || !strings.Contains(es.FlagFileError, "read-only") {
		t.Fatalf("status %+v: want the write error", es)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("flag file after a failed first write: %v, want none", err)
	}
	c.writer = osWriter
	// Written at step 0, and promoted at once (hold 0).
	if es := c.EvaluateAll(t.Context()).Experiments[0]; es.FlagFileError != "" || es.Step != 1 {
		t.Fatalf("status %+v: want step 1 written", es)
	}
	before, _ := os.ReadFile(path)
	c.writer.rename = func(string, string) error { return errors.New("read-only file system") }
	es = c.EvaluateAll(t.Context()).Experiments[0]
	after, _ := os.ReadFile(path)
	if es.Result != ResultError || es.Step != 1 || string(after) != string(before) {
		t.Fatalf("failed promotion: status %+v, file changed %v: want step 1 kept, error reported", es, string(after) != string(before))
	}
	c.writer = osWriter
	if es := c.EvaluateAll(t.Context()).Experiments[0]; es.Step != 2 || es.Result != ResultAdvance {
		t.Fatalf("after the file system recovers: %+v, want the promotion made", es)
	}
}

type constSource struct{ s Signals }

func (c constSource) Signals(context.Context, string, time.Time, time.Time, time.Duration) (Signals, error) {
	return c.s, nil
}

// TestStoreRefusesAStaleState: a manual move made between the
// controller's read and its write wins; the controller decides again.
func TestStoreRefusesAStaleState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	cfg, err := ParseConfig([]byte(`{"experiments":[{"name":"e"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, constSource{}, path)
	if err != nil {
		t.Fatal(err)
	}
	p := c.plans[0]
	now := time.Now()
	st, rec, adopt, err := c.load(p, now)
	if err != nil || rec != nil || !adopt {
		t.Fatalf("load of a new file: %v %v %v, want nothing recorded and a write due", rec, adopt, err)
	}
	if err := c.store(p, rec, st); err != nil {
		t.Fatal(err)
	}
	st, rec, _, err = c.load(p, now)
	if err != nil || rec == nil {
		t.Fatalf("load: %v, %v", rec, err)
	}
	if _, err := Manual(path, "e", OpPause, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	next := st
	next.State.Step = 1
	if err := c.store(p, rec, next); !errors.Is(err, errChanged) {
		t.Fatalf("store over a manual move: %v, want errChanged", err)
	}
	if err := c.store(p, nil, next); !errors.Is(err, errChanged) {
		t.Fatalf("store of a new flag over an existing one: %v, want errChanged", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("a refused store changed the file")
	}
}
