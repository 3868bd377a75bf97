package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/debugpage"
	"github.com/dualrun/dualrun/exporters/jsonl"
	"github.com/dualrun/dualrun/rollout"
)

// compile compiles a JSON Schema, asserting formats (date-time).
func compile(t *testing.T, name string, schema []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, doc []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("not JSON: %v: %s", err, doc)
	}
	return s.Validate(v)
}

type item struct {
	SKU   string
	Price int
}

// TestJSONLinesSchema runs real experiments with every kind of Report into
// the JSON-lines exporter, with and without values, and validates every
// line against the committed schema.
func TestJSONLinesSchema(t *testing.T) {
	s := compile(t, "jsonl/schema.json", jsonl.Schema())
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()

	tests := []struct {
		name   string
		reason string
		opts   []jsonl.Option
	}{
		{name: "value-free", reason: "the default lines"},
		{name: "values and keys", reason: "every optional field present", opts: []jsonl.Option{jsonl.WithValues(), jsonl.WithKeys()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := jsonl.New(&buf, tt.opts...)
			exp := dualrun.New[[]item]("schema."+strings.ReplaceAll(tt.name, " ", "_"),
				dualrun.WithPublisher(w), dualrun.WithTracerProvider(tp), dualrun.WithReportKeys(),
				dualrun.WithReportDedup(0), dualrun.WithShadowTimeout(50*time.Millisecond),
				dualrun.WithComparer(func(a, b []item) bool {
					if len(a) == 3 {
						panic("comparer bug")
					}
					return fmt.Sprint(a) == fmt.Sprint(b)
				}))
			ctx := dualrun.WithKey(context.Background(), "customer-42")
			legacy := func(context.Context) ([]item, error) { return []item{{"a", 1}}, nil }
			runs := []dualrun.Func[[]item]{
				func(context.Context) ([]item, error) { return []item{{"a", 2}}, nil },            // value mismatch
				func(context.Context) ([]item, error) { return nil, errors.New("no stock") },      // error mismatch
				func(context.Context) ([]item, error) { panic("candidate bug") },                  // panic
				func(ctx context.Context) ([]item, error) { <-ctx.Done(); return nil, ctx.Err() }, // timeout
			}
			for _, cand := range runs {
				_, _ = exp.Run(ctx, legacy, cand)
			}
			_, _ = exp.Run(ctx, func(context.Context) ([]item, error) { return make([]item, 3), nil },
				func(context.Context) ([]item, error) { return nil, nil }) // comparer panics: error
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := exp.Shutdown(sctx); err != nil {
				t.Fatal(err)
			}
			exp.Unregister()

			lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
			outcomes := map[string]bool{}
			for _, l := range lines {
				if err := validate(t, s, l); err != nil {
					t.Errorf("line does not match the schema (%s): %v\n%s", tt.reason, err, l)
				}
				var o struct{ Outcome string }
				_ = json.Unmarshal(l, &o)
				outcomes[o.Outcome] = true
			}
			for _, want := range []string{"mismatch", "panic", "timeout", "error"} {
				if !outcomes[want] {
					t.Errorf("no %s line among %d: the test did not cover it", want, len(lines))
				}
			}
		})
	}
}

// TestSchemaRejects: the validator is live; lines that break the schema
// fail.
func TestSchemaRejects(t *testing.T) {
	s := compile(t, "jsonl/schema.json", jsonl.Schema())
	tests := []struct {
		name   string
		reason string
		line   string
	}{
		{name: "version", reason: "another schema version", line: `{"schema_version":2,"id":"","experiment":"x","time":"2026-01-01T00:00:00Z","outcome":"mismatch","primary":"legacy","legacy":{},"candidate":{}}`},
		{name: "missing", reason: "a required field is missing", line: `{"schema_version":1,"id":"","time":"2026-01-01T00:00:00Z","outcome":"mismatch","primary":"legacy","legacy":{},"candidate":{}}`},
		{name: "outcome", reason: "an unknown outcome", line: `{"schema_version":1,"id":"","experiment":"x","time":"2026-01-01T00:00:00Z","outcome":"maybe","primary":"legacy","legacy":{},"candidate":{}}`},
		{name: "time", reason: "not a date-time", line: `{"schema_version":1,"id":"","experiment":"x","time":"yesterday","outcome":"mismatch","primary":"legacy","legacy":{},"candidate":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validate(t, s, []byte(tt.line)); err == nil {
				t.Fatalf("validated (%s)", tt.reason)
			}
		})
	}
}

// TestDebugPageSchema validates the page's JSON, overview and one
// experiment, against the committed schema.
func TestDebugPageSchema(t *testing.T) {
	s := compile(t, "debugpage/schema.json", debugpage.Schema())
	live := rollout.NewLive(rollout.Static{Shadow: rollout.All, CandidatePrimary: 1000})
	ramp := rollout.NewRamp("schema.ramp", rollout.DefaultSteps(), rollout.WithInterval(time.Hour))
	defer ramp.Close()
	ramp.Advance()
	a := dualrun.New[int]("schema.live", dualrun.WithRollout(live))
	b := dualrun.New[int]("schema.ramp", dualrun.WithRollout(ramp))
	defer a.Unregister()
	defer b.Unregister()
	page := debugpage.New(debugpage.WithControls(func(*http.Request, debugpage.Change) (string, error) { return "t", nil }))
	defer page.Close()
	ctx := context.Background()
	for i := range 20 {
		_, _ = a.Run(ctx, func(context.Context) (int, error) { return i, nil }, func(context.Context) (int, error) { return i % 3, nil })
		_, _ = b.Run(ctx, func(context.Context) (int, error) { return i, nil }, func(context.Context) (int, error) { return i, nil })
	}
	_ = a.Shutdown(ctx)
	_ = b.Shutdown(ctx)
	for _, q := range []string{"", "?experiment=schema.live", "?experiment=schema.ramp"} {
		req := httptest.NewRequest(http.MethodGet, "/"+q, nil)
		req.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%q: %d", q, rec.Code)
		}
		if err := validate(t, s, rec.Body.Bytes()); err != nil {
			t.Errorf("%q does not match the page schema: %v", q, err)
		}
		if q == "?experiment=schema.ramp" && !strings.Contains(rec.Body.String(), `"step": 1`) {
			t.Errorf("ramp state missing: %s", rec.Body.String())
		}
	}
}
