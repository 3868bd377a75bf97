package fleetramp_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun/fleetramp"
	"github.com/dualrun/dualrun/rollout"
)

func TestFlagFileKeepsOtherFlags(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		other := `{"$schema":"https://flagd.dev/schema/v0/flags.json","$evaluators":{"x":{"in":["a","b"]}},
"flags":{"other":{"state":"ENABLED","defaultVariant":"on","variants":{"on":true,"off":false},"targeting":{"if":[true,"off"]}}}}`
		if err := os.WriteFile(h.flags, []byte(other), 0o644); err != nil {
			t.Fatal(err)
		}
		h.src.set(signals(100, 0), nil)
		h.eval()
		data, err := os.ReadFile(h.flags)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Evaluators json.RawMessage            `json:"$evaluators"`
			Flags      map[string]json.RawMessage `json:"flags"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc.Flags["other"]), `"targeting"`) || len(doc.Evaluators) == 0 {
			t.Fatalf("the flag file lost what the controller does not manage:\n%s", data)
		}
		var f struct {
			DefaultVariant string                    `json:"defaultVariant"`
			Variants       map[string]map[string]any `json:"variants"`
		}
		if err := json.Unmarshal(doc.Flags["shipping.quote"], &f); err != nil {
			t.Fatal(err)
		}
		// The value rollout/openfeature reads: both percentages, explicit.
		if v := f.Variants[f.DefaultVariant]; v["shadow_percent"] != 100.0 || v["candidate_primary_percent"] != 0.0 || len(v) != 2 {
			t.Fatalf("current variant %v, want shadow 100%%, candidate 0%%", v)
		}
	})
}

func TestParseFlagFile(t *testing.T) {
	managed := func(md string) string {
		return `{"flags":{"e":{"state":"ENABLED","defaultVariant":"step1","variants":{
"step0":{"shadow_percent":100,"candidate_primary_percent":0},
"step1":{"shadow_percent":100,"candidate_primary_percent":50}},"metadata":{` + md + `}}}}`
	}
	tests := []struct {
		name    string
		reason  string
		in      string
		want    *rollout.StepState // nil: not managed
		wantErr string
	}{
		{"empty file", "a new file has no flags", "", nil, ""},
		{"unmanaged", "a flag without dualrunRampStep is someone else's", `{"flags":{"x":{"state":"ENABLED","defaultVariant":"on","variants":{"on":true}}}}`, nil, ""},
		{
			"managed", "the state is read back", managed(`"dualrunRampStep":1,"dualrunRampRollbackTo":0,"dualrunRampPaused":true,"dualrunRampStepStarted":"2026-11-30T10:00:00Z"`),
			&rollout.StepState{Step: 1, Paused: true, StepStarted: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)}, "",
		},
		{"step out of range", "a step with no variant", managed(`"dualrunRampStep":2,"dualrunRampRollbackTo":0`), nil, "step index"},
		{"fractional step", "steps are integers", managed(`"dualrunRampStep":0.5,"dualrunRampRollbackTo":0`), nil, "step index"},
		{"default variant disagrees", "the flag serves another step than recorded", managed(`"dualrunRampStep":0,"dualrunRampRollbackTo":0`), nil, "defaultVariant"},
		{"bad time", "the step start must parse", managed(`"dualrunRampStep":1,"dualrunRampRollbackTo":0,"dualrunRampStepStarted":"yesterday"`), nil, "StepStarted"},
		{"bad percent", "a variant outside [0, 100]", `{"flags":{"e":{"state":"ENABLED","defaultVariant":"step0","variants":{"step0":{"shadow_percent":1000}},"metadata":{"dualrunRampStep":0,"dualrunRampRollbackTo":0}}}}`, nil, "percentage"},
		{"trailing", "one document", `{} {}`, nil, "trailing"},
		{"null", "not an object", `null`, nil, "null"},
		{"flags not an object", "flags is a map", `{"flags":[1]}`, nil, "flags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fleetramp.ParseFlagFile([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFlagFile: %v, want an error containing %q (%s)", err, tt.wantErr, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFlagFile: %v (%s)", err, tt.reason)
			}
			st, ok := got["e"]
			switch {
			case tt.want == nil && len(got) != 0:
				t.Fatalf("managed flags %v, want none (%s)", got, tt.reason)
			case tt.want != nil && (!ok || st.State.Step != tt.want.Step || st.State.Paused != tt.want.Paused || !st.State.StepStarted.Equal(tt.want.StepStarted)):
				t.Fatalf("state %+v, want %+v (%s)", st.State, *tt.want, tt.reason)
			}
		})
	}
}

func FuzzParseFlagFile(f *testing.F) {
	f.Add([]byte(``))
	f.Add([]byte(`{"flags":{}}`))
	f.Add([]byte(`{"$schema":"https://flagd.dev/schema/v0/flags.json","flags":{"e":{"state":"ENABLED","defaultVariant":"step0","variants":{"step0":{"shadow_percent":100,"candidate_primary_percent":0}},"metadata":{"dualrunRampStep":0,"dualrunRampRollbackTo":0,"dualrunRampLastReason":"rollback","dualrunRampLastSignal":"mismatch_rate","dualrunRampLastValue":1e308}}}}`))
	f.Add([]byte(`{"flags":{"e":{"metadata":{"dualrunRampStep":-1}}}}`))
	f.Add([]byte(`{"flags":{"e":{"variants":{"step0":"legacy"},"metadata":{"dualrunRampStep":0}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		states, err := fleetramp.ParseFlagFile(data)
		if err != nil {
			return
		}
		for key, st := range states {
			if st.State.Step < 0 || st.State.Step >= len(st.Steps) || st.RollbackTo < 0 || st.RollbackTo >= len(st.Steps) {
				t.Fatalf("flag %q: state %+v out of its %d steps", key, st.State, len(st.Steps))
			}
		}
		// Every manual move on a file that parses either applies or says
		// why not, and leaves a file that parses.
		path := filepath.Join(t.TempDir(), "flags.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for key := range states {
			for _, op := range []fleetramp.Op{fleetramp.OpAdvance, fleetramp.OpRollback, fleetramp.OpResume, fleetramp.OpPause} {
				_, _ = fleetramp.Manual(path, key, op, time.Unix(0, 0))
			}
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fleetramp.ParseFlagFile(after); err != nil {
			t.Fatalf("a manual move left a file that does not parse: %v\n%s", err, after)
		}
	})
}
