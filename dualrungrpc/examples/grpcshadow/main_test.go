package main

import (
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The example runs to the end and shows what it promises: the cut-over
// halfway on the client side, and the differing proto fields on both. How
// many calls are shed depends on the machine's load, so counts are checked
// against each other, not against fixed numbers.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	tests := []struct {
		name   string
		reason string
		want   string
	}{
		{name: "cut-over", reason: "the flag moved half the calls to the new backend", want: "the caller was answered by map[new:100 old:100]"},
		{name: "server primary", reason: "the served implementation answered every call", want: "the client was answered by map[old:200]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(text, tt.want) {
				t.Fatalf("output lacks %q (%s):\n%s", tt.want, tt.reason, text)
			}
		})
	}
	t.Run("diff", func(t *testing.T) {
		// A Report's diff lists the differing values by exact path.
		if !regexp.MustCompile(`- \.items\[\d\]\.price_cents: \d+`).MatchString(text) {
			t.Fatalf("no diff of a price:\n%s", text)
		}
	})
	t.Run("fields", func(t *testing.T) {
		// Every mismatch is the rounding: the price and the total differ,
		// named by proto field; updated_at, ignored, never shows.
		stats := regexp.MustCompile(`(\d+) mismatch .*\n\s+differing field \.items\[\*\]\.price_cents: (\d+)\n\s+differing field \.total_cents: (\d+)\n`)
		all := stats.FindAllStringSubmatch(text, -1)
		if len(all) != 2 {
			t.Fatalf("want the fields of both sides:\n%s", text)
		}
		for _, m := range all {
			if m[1] == "0" || m[1] != m[2] || m[1] != m[3] {
				t.Errorf("mismatches and fields disagree: %q", m[0])
			}
		}
		if strings.Contains(text, "updated_at") {
			t.Errorf("an ignored field shows:\n%s", text)
		}
	})
}
