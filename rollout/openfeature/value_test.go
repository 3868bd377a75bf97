package openfeature

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/dualrun/dualrun/rollout"
)

func TestParseValue(t *testing.T) {
	all := rollout.All
	tests := []struct {
		name    string
		reason  string
		value   any
		want    rollout.Static
		errType string
	}{
		{"legacy", "string shorthand: legacy only", "legacy", rollout.Static{}, ""},
		{"shadow", "legacy primary, candidate shadowed on every call", "shadow", rollout.Static{Shadow: all}, ""},
		{"candidate", "candidate primary, legacy shadowed", "candidate", rollout.Static{Shadow: all, CandidatePrimary: all}, ""},
		{"candidate-only", "the end state", "candidate-only", rollout.Static{CandidatePrimary: all}, ""},
		{"empty object", "every field optional: legacy only", map[string]any{}, rollout.Static{}, ""},
		{"primary candidate", "absent candidate percent is 100 when primary is candidate; absent shadow is 0", map[string]any{"primary": "candidate"}, rollout.Static{CandidatePrimary: all}, ""},
		{"primary legacy", "absent candidate percent is 0", map[string]any{"primary": "legacy", "shadow_percent": 100.0}, rollout.Static{Shadow: all}, ""},
		{"explicit percent wins", "primary only sets the default", map[string]any{"primary": "candidate", "candidate_primary_percent": 10.0, "shadow_percent": 100.0}, rollout.Static{Shadow: all, CandidatePrimary: 1000}, ""},
		{"fractional", "basis points: 0.01% steps", map[string]any{"candidate_primary_percent": 0.01, "shadow_percent": 12.345}, rollout.Static{Shadow: 1235, CandidatePrimary: 1}, ""},
		{"integers", "in-memory providers hand back Go ints", map[string]any{"candidate_primary_percent": 50, "shadow_percent": int64(100)}, rollout.Static{Shadow: all, CandidatePrimary: 5000}, ""},
		{"json.Number", "decoders using UseNumber", map[string]any{"shadow_percent": json.Number("2.5")}, rollout.Static{Shadow: 250}, ""},
		{"bounds", "0 and 100 are in range", map[string]any{"candidate_primary_percent": 0.0, "shadow_percent": 100.0}, rollout.Static{Shadow: all}, ""},

		{"unknown string", "a typo of a side", "candidat", rollout.Static{}, ErrorTypeUnknownSide},
		{"case matters", "values are exact", "Legacy", rollout.Static{}, ErrorTypeUnknownSide},
		{"unknown primary", "shadow is not a side", map[string]any{"primary": "shadow"}, rollout.Static{}, ErrorTypeUnknownSide},
		{"primary not a string", "wrong field type", map[string]any{"primary": true}, rollout.Static{}, ErrorTypeInvalidValue},
		{"unknown field", "a typo must not silently mean 100%", map[string]any{"primary": "candidate", "candidate_primary_pct": 10.0}, rollout.Static{}, ErrorTypeInvalidValue},
		{"percent as string", "wrong field type", map[string]any{"shadow_percent": "10"}, rollout.Static{}, ErrorTypeInvalidValue},
		{"bad json.Number", "not a number", map[string]any{"shadow_percent": json.Number("ten")}, rollout.Static{}, ErrorTypeInvalidValue},
		{"above 100", "out of range", map[string]any{"shadow_percent": 100.5}, rollout.Static{}, ErrorTypePercentOutOfRange},
		{"negative", "out of range", map[string]any{"candidate_primary_percent": -1}, rollout.Static{}, ErrorTypePercentOutOfRange},
		{"NaN", "never a percentage", map[string]any{"shadow_percent": math.NaN()}, rollout.Static{}, ErrorTypePercentOutOfRange},
		{"infinity", "never a percentage", map[string]any{"shadow_percent": math.Inf(1)}, rollout.Static{}, ErrorTypePercentOutOfRange},
		{"huge uint", "out of range", map[string]any{"shadow_percent": uint64(math.MaxUint64)}, rollout.Static{}, ErrorTypePercentOutOfRange},
		{"boolean flag", "wrong type", true, rollout.Static{}, ErrorTypeTypeMismatch},
		{"number flag", "wrong type", 42.0, rollout.Static{}, ErrorTypeTypeMismatch},
		{"null", "no value", nil, rollout.Static{}, ErrorTypeTypeMismatch},
		{"array", "wrong type", []any{"legacy"}, rollout.Static{}, ErrorTypeTypeMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, prob := parseValue(tt.value)
			if tt.errType == "" {
				if prob != nil || got != tt.want {
					t.Fatalf("%s: parseValue(%v) = %+v, %v; want %+v", tt.reason, tt.value, got, prob, tt.want)
				}
				return
			}
			if prob == nil || prob.typ != tt.errType {
				t.Fatalf("%s: parseValue(%v) = %+v, %v; want error type %s", tt.reason, tt.value, got, prob, tt.errType)
			}
			if prob.msg == "" || !strings.HasPrefix(prob.Error(), tt.errType+": ") {
				t.Fatalf("problem text %q", prob.Error())
			}
		})
	}
}

// FuzzParseValue feeds flag values decoded from arbitrary JSON, as a
// provider would hand them over: parsing never panics, and a value it
// accepts is a rollout within [0, 100%].
func FuzzParseValue(f *testing.F) {
	for _, seed := range []string{
		`"legacy"`, `"shadow"`, `"candidate"`, `"candidate-only"`, `"nope"`, `{}`, `null`, `true`, `12`,
		`{"primary":"candidate"}`, `{"primary":"legacy","shadow_percent":100}`,
		`{"primary":"candidate","candidate_primary_percent":10,"shadow_percent":100}`,
		`{"candidate_primary_percent":0.01}`, `{"shadow_percent":-1}`, `{"shadow_percent":1e309}`,
		`{"shadow_percent":"5"}`, `{"primary":{"x":1}}`, `{"extra":1}`, `[1,2]`,
		`{"primary":"candidate","candidate_primary_percent":100.004999}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, useNumber bool) {
		dec := json.NewDecoder(strings.NewReader(string(data)))
		if useNumber {
			dec.UseNumber()
		}
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		st, prob := parseValue(v)
		if prob != nil {
			if prob.typ == "" || prob.msg == "" || len(prob.msg) > 512 {
				t.Fatalf("problem %+v", prob)
			}
			return
		}
		if st.Shadow > rollout.All || st.CandidatePrimary > rollout.All {
			t.Fatalf("accepted %s as %+v", data, st)
		}
	})
}
