package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dualrun/dualrun/examples/service/shipping"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		in     string
		want   version
		ok     bool
	}{
		{"rewrite", "the default", "rewrite", versionRewrite, true},
		{"good", "the fixed rewrite", "good", versionGood, true},
		{"bad", "the broken candidate", "bad", versionBad, true},
		{"empty", "no default through the admin endpoint", "", 0, false},
		{"upper case", "names are exact", "BAD", 0, false},
		{"padded", "no trimming", " bad", 0, false},
		{"prefix", "no prefix match", "ba", 0, false},
		{"number", "not an index", "2", 0, false},
		{"NUL", "hostile bytes", "bad\x00", 0, false},
		{"long", "hostile length", strings.Repeat("x", 1<<16), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVersion(tt.in)
			if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
				t.Errorf("parseVersion(%.20q) = %v, %v; want %v, ok %v (%s)", tt.in, got, err, tt.want, tt.ok, tt.reason)
			}
			if err != nil && len(err.Error()) > 200 {
				t.Errorf("error of %d bytes: the input must be cut", len(err.Error()))
			}
		})
	}
	if s := version(7).String(); s != "version(7)" {
		t.Errorf("version(7).String() = %q", s)
	}
}

// TestCandidateVersions runs each version on the first 2000 requests of
// the known input set (plus hostile ones) on a fake clock: "good" answers
// legacy's quote or error, "bad" differs from legacy on every request and
// never fails, both after goodLatency; "rewrite" is package shipping's
// rewrite.
func TestCandidateVersions(t *testing.T) {
	reqs := append(shipping.Inputs(2000),
		shipping.Request{OrderID: "neg", WeightGrams: -1, Zone: "EU"},
		shipping.Request{OrderID: "empty"},
		shipping.Request{OrderID: "huge", WeightGrams: 1 << 62, Zone: "DOM", Express: true},
	)
	synctest.Test(t, func(t *testing.T) {
		var c candidateSwitch
		if got := c.load(); got != versionRewrite {
			t.Fatalf("zero switch: %v, want rewrite", got)
		}
		ctx := context.Background()
		for _, req := range reqs[:50] {
			if req.WeightGrams == 0 {
				continue // the rewrite panics on it, as documented
			}
			gq, gerr := c.quote(ctx, req)
			wq, werr := shipping.Candidate(ctx, req)
			if gq != wq || errText(gerr) != errText(werr) {
				t.Fatalf("rewrite %+v: %+v, %v; want package shipping's %+v, %v", req, gq, gerr, wq, werr)
			}
		}

		if prev := c.swap(versionGood); prev != versionRewrite {
			t.Errorf("swap returned %v, want rewrite", prev)
		}
		for _, req := range reqs {
			start := time.Now()
			got, err := c.quote(ctx, req)
			if d := time.Since(start); d != goodLatency {
				t.Fatalf("good %+v took %v, want %v", req, d, goodLatency)
			}
			want, werr := shipping.LegacyQuote(req)
			if got != want || errText(err) != errText(werr) {
				t.Fatalf("good %+v: %+v, %v; want legacy's %+v, %v", req, got, err, want, werr)
			}
		}

		c.swap(versionBad)
		for _, req := range reqs {
			start := time.Now()
			got, err := c.quote(ctx, req)
			if d := time.Since(start); d != goodLatency {
				t.Fatalf("bad %+v took %v, want %v", req, d, goodLatency)
			}
			if err != nil {
				t.Fatalf("bad %+v failed: %v (it must only break the mismatch rate)", req, err)
			}
			if want, werr := shipping.LegacyQuote(req); werr == nil && got == want {
				t.Fatalf("bad %+v: %+v, the same as legacy's", req, got)
			}
		}

		// A call whose context ends returns at once, with the cause.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.quote(cctx, reqs[1]); !errors.Is(err, context.Canceled) {
			t.Errorf("canceled call: %v, want context.Canceled", err)
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzParseVersion: any query value is a known version (and round-trips)
// or an error of bounded length; nothing panics.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"rewrite", "good", "bad", "", "BAD", "bad\x00", "\xff", strings.Repeat("g", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseVersion(s)
		if err != nil {
			if len(err.Error()) > 200 {
				t.Fatalf("error of %d bytes for %d bytes of input", len(err.Error()), len(s))
			}
			return
		}
		if v.String() != s {
			t.Fatalf("parseVersion(%q) = %v", s, v)
		}
	})
}
