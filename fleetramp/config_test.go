package fleetramp_test

import (
	"strings"
	"testing"

	"github.com/dualrun/dualrun/fleetramp"
)

const goodConfig = `{"experiments":[{"name":"shipping.quote","flag_key":"shipping.quote",
  "steps":[{"name":"shadow 100%","shadow_percent":100},
           {"shadow_percent":100,"candidate_primary_percent":50},
           {"shadow_percent":100,"candidate_primary_percent":100}],
  "guard":{"max_mismatch_rate":0.05,"max_candidate_failure_rate":0.05,"max_p99_ratio":5},
  "interval":"2s","window":"30s","hold":"6s","min_comparisons":50,
  "min_samples":20,"hysteresis":0.1,"rollback_to":0}]}`

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		in      string
		wantErr string // empty: valid
	}{
		{"interface example", "the config of the interface document parses", goodConfig, ""},
		{"defaults", "only a name: the in-process ramp's default steps, no guard", `{"experiments":[{"name":"a"}]}`, ""},
		{"no experiments", "nothing to ramp is a mistake", `{"experiments":[]}`, "no experiments"},
		{"unknown field", "a typo must not be ignored", `{"experiments":[{"name":"a","hodl":"1s"}]}`, "unknown field"},
		{"trailing data", "two documents are not one config", `{"experiments":[{"name":"a"}]} {}`, "trailing"},
		{"empty name", "the experiment label must be known", `{"experiments":[{"name":""}]}`, "name"},
		{"duplicate", "two ramps of one flag would fight", `{"experiments":[{"name":"a"},{"name":"b","flag_key":"a"}]}`, "twice"},
		{"percent over 100", "a rollout is a percentage", `{"experiments":[{"name":"a","steps":[{"shadow_percent":101}]}]}`, "percentage"},
		{"negative percent", "a rollout is a percentage", `{"experiments":[{"name":"a","steps":[{"shadow_percent":-1}]}]}`, "percentage"},
		{"no rollback step", "every step has the candidate primary: nowhere safe to go back to", `{"experiments":[{"name":"a","steps":[{"candidate_primary_percent":100}]}]}`, "roll back"},
		{"rollback out of range", "the rollback step must exist", `{"experiments":[{"name":"a","steps":[{}],"rollback_to":3}]}`, "out of range"},
		{"bad duration", "durations are Go duration strings", `{"experiments":[{"name":"a","interval":"soon"}]}`, "duration"},
		{"number duration", "a bare number has no unit", `{"experiments":[{"name":"a","interval":5}]}`, "duration"},
		{"tiny interval", "an interval under 100ms would hammer Prometheus", `{"experiments":[{"name":"a","interval":"1ms"}]}`, "interval"},
		{"rate over 1", "a rate threshold is a fraction", `{"experiments":[{"name":"a","guard":{"max_mismatch_rate":5}}]}`, "fraction"},
		{"zero ratio", "a p99 ratio of 0 cannot be met", `{"experiments":[{"name":"a","guard":{"max_p99_ratio":0}}]}`, "ratio"},
		{"hysteresis 1", "a band of the whole threshold never advances", `{"experiments":[{"name":"a","hysteresis":1}]}`, "hysteresis"},
		{"negative min comparisons", "a count", `{"experiments":[{"name":"a","min_comparisons":-1}]}`, "comparisons"},
		{"negative hold", "a duration >= 0", `{"experiments":[{"name":"a","hold":"-1s"}]}`, "hold"},
		{"min samples 0 is default", "zero means the default, like the other fields", `{"experiments":[{"name":"a","min_samples":0}]}`, ""},
		{"negative min samples", "a count >= 1", `{"experiments":[{"name":"a","min_samples":-3}]}`, "min_samples"},
		{"null", "not an object", `null`, "no experiments"},
		{"not json", "garbage", `experiments: [a]`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fleetramp.ParseConfig([]byte(tt.in))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ParseConfig: %v, want no error (%s)", err, tt.reason)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("ParseConfig: %v, want an error containing %q (%s)", err, tt.wantErr, tt.reason)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte(`{"experiments":[{"name":"a"}]}`))
	f.Add([]byte(`{"experiments":[{"name":"a","steps":[{"shadow_percent":1e308}],"hysteresis":-0}]}`))
	f.Add([]byte(`{"experiments":[{"name":"a","interval":"9999999h","window":"1ns"}]}`))
	f.Add([]byte(`{"experiments":[{"name":"\u0000","flag_key":"\"}"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := fleetramp.ParseConfig(data)
		if err != nil {
			return
		}
		// A config that parses is valid, and a controller can be built on it.
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config Validate rejects: %v", err)
		}
		if _, err := fleetramp.New(cfg, nopSource{}, t.TempDir()+"/flags.json"); err != nil {
			t.Fatalf("New rejected a parsed config: %v", err)
		}
	})
}
