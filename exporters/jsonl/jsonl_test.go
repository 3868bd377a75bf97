package jsonl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/exptest"
	"github.com/dualrun/dualrun/exporters/jsonl"
)

// lines decodes every line of b, failing on a line that is not one JSON
// object.
func lines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, l := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %q", i, err, l)
		}
		out = append(out, m)
	}
	return out
}

func TestRedaction(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		opts      []jsonl.Option
		secret    bool     // the secret appears in the line
		present   []string // top-level fields that must be there
		absent    []string // top-level fields that must not
		wantLines int
	}{
		{
			name:      "default",
			reason:    "values and keys leave the process only when asked for",
			present:   []string{"schema_version", "id", "experiment", "outcome", "kind", "paths", "shadow_span_id"},
			absent:    []string{"diff", "key", "callback_error"},
			wantLines: 1,
		},
		{
			name:      "values",
			reason:    "WithValues adds the diff and the error texts, not the key",
			opts:      []jsonl.Option{jsonl.WithValues()},
			secret:    true,
			present:   []string{"diff"},
			absent:    []string{"key"},
			wantLines: 1,
		},
		{
			name:      "keys",
			reason:    "WithKeys adds the key alone",
			opts:      []jsonl.Option{jsonl.WithKeys()},
			secret:    true,
			present:   []string{"key"},
			absent:    []string{"diff"},
			wantLines: 1,
		},
		{
			name:   "hook rewrites",
			reason: "the hook runs before anything is written, even with values on",
			opts: []jsonl.Option{jsonl.WithValues(), jsonl.WithKeys(), jsonl.WithRedact(func(r *dualrun.Report) *dualrun.Report {
				r.Diff = strings.ReplaceAll(r.Diff, exptest.Secret, "XXXX")
				r.Key = ""
				r.CandidateErr = errors.New("declined")
				return r
			})},
			present:   []string{"diff"},
			absent:    []string{"key"},
			wantLines: 1,
		},
		{
			name:      "hook skips",
			reason:    "a hook that returns nil skips the report",
			opts:      []jsonl.Option{jsonl.WithRedact(func(*dualrun.Report) *dualrun.Report { return nil })},
			wantLines: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := jsonl.New(&buf, tt.opts...)
			r := exptest.Sample("checkout.price")
			if err := w.Publish(context.Background(), r); err != nil {
				t.Fatalf("Publish: %v (%s)", err, tt.reason)
			}
			got := lines(t, buf.Bytes())
			if len(got) != tt.wantLines {
				t.Fatalf("%d lines, want %d (%s)", len(got), tt.wantLines, tt.reason)
			}
			if has := strings.Contains(buf.String(), exptest.Secret); has != tt.secret {
				t.Errorf("secret in output = %v, want %v (%s):\n%s", has, tt.secret, tt.reason, buf.String())
			}
			if tt.wantLines == 0 {
				return
			}
			for _, k := range tt.present {
				if _, ok := got[0][k]; !ok {
					t.Errorf("field %q missing (%s): %v", k, tt.reason, got[0])
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[0][k]; ok {
					t.Errorf("field %q present (%s): %v", k, tt.reason, got[0])
				}
			}
			if r.Key == "" || !strings.Contains(r.Diff, exptest.Secret) {
				t.Errorf("the hook changed the shared Report: %+v", r)
			}
		})
	}
}

func TestHookPanicDropsReport(t *testing.T) {
	var buf bytes.Buffer
	w := jsonl.New(&buf, jsonl.WithValues(), jsonl.WithRedact(func(*dualrun.Report) *dualrun.Report { panic("boom") }))
	err := w.Publish(context.Background(), exptest.Sample("x"))
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Publish = %v, want the hook's panic", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("a report whose redaction failed was written: %q", buf.String())
	}
}

func TestMaxDiff(t *testing.T) {
	var buf bytes.Buffer
	w := jsonl.New(&buf, jsonl.WithValues(), jsonl.WithMaxDiff(100))
	r := exptest.Sample("x")
	r.Diff = strings.Repeat("é", 1000)
	if err := w.Publish(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	diff, _ := lines(t, buf.Bytes())[0]["diff"].(string)
	if len(diff) > 100 || !strings.HasSuffix(diff, "…") {
		t.Fatalf("diff of %d bytes, want at most 100 ending in …: %q", len(diff), diff)
	}
	if len(r.Diff) != 2000 {
		t.Fatal("cutting the diff changed the shared Report")
	}
}

// TestRealExperiment publishes through dualrun's own queue.
func TestRealExperiment(t *testing.T) {
	var buf bytes.Buffer
	w := jsonl.New(&buf)
	st := exptest.Mismatch(t, "jsonl.real", dualrun.WithPublisher(w))
	if st.ReportsPublished != 1 {
		t.Fatalf("ReportsPublished = %d, want 1", st.ReportsPublished)
	}
	got := lines(t, buf.Bytes())
	if len(got) != 1 || got[0]["experiment"] != "jsonl.real" || got[0]["outcome"] != "mismatch" ||
		got[0]["schema_version"] != float64(dualrun.ReportSchemaVersion) {
		t.Fatalf("lines = %v", got)
	}
	if strings.Contains(buf.String(), exptest.Secret) {
		t.Fatalf("value-free line holds a value: %s", buf.String())
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteFailureCountsDropped(t *testing.T) {
	st := exptest.Mismatch(t, "jsonl.fail", dualrun.WithPublisher(jsonl.New(failWriter{})))
	if st.ReportsDropped != 1 || st.ReportsPublished != 0 {
		t.Fatalf("dropped %d, published %d: want the failed write counted as dropped", st.ReportsDropped, st.ReportsPublished)
	}
}

func TestBufferedFlushAndClose(t *testing.T) {
	var buf bytes.Buffer
	w := jsonl.New(&buf, jsonl.WithBufferSize(1<<16))
	ctx := context.Background()
	if err := w.Publish(ctx, exptest.Sample("x")); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatal("buffered line written before Flush")
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(lines(t, buf.Bytes())); n != 1 {
		t.Fatalf("%d lines after Flush, want 1", n)
	}
	if err := w.Publish(ctx, exptest.Sample("y")); err != nil {
		t.Fatal(err)
	}
	if err := w.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(lines(t, buf.Bytes())); n != 2 {
		t.Fatalf("%d lines after Shutdown, want 2", n)
	}
	if err := w.Publish(ctx, exptest.Sample("z")); !errors.Is(err, jsonl.ErrClosed) {
		t.Fatalf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := w.Flush(ctx); !errors.Is(err, jsonl.ErrClosed) {
		t.Fatalf("Flush after Close = %v, want ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	var buf bytes.Buffer
	w := jsonl.New(&buf, jsonl.WithValues(), jsonl.WithBufferSize(512))
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				r := exptest.Sample("exp")
				r.Diff = strings.Repeat(string(rune('a'+g)), 100+i)
				if err := w.Publish(context.Background(), r); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := lines(t, buf.Bytes())
	if len(got) != writers*each {
		t.Fatalf("%d lines, want %d", len(got), writers*each)
	}
	for _, l := range got {
		d, _ := l["diff"].(string)
		if d == "" || strings.Trim(d, d[:1]) != "" {
			t.Fatalf("interleaved line: diff %q", d)
		}
	}
}

func TestSchemaEmbedded(t *testing.T) {
	var s struct {
		Properties map[string]struct {
			Const any `json:"const"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(jsonl.Schema(), &s); err != nil {
		t.Fatalf("schema.json is not JSON: %v", err)
	}
	if got := s.Properties["schema_version"].Const; got != float64(dualrun.ReportSchemaVersion) {
		t.Fatalf("schema describes schema_version %v, the core writes %d", got, dualrun.ReportSchemaVersion)
	}
}
