package debugpage

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dualrun/dualrun/rollout"
)

func TestParsePercent(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		in     string
		want   rollout.BasisPoints
		ok     bool
	}{
		{name: "integer", reason: "a plain number", in: "10", want: 1000, ok: true},
		{name: "percent sign", reason: "a trailing % is allowed", in: " 12.5% ", want: 1250, ok: true},
		{name: "basis point", reason: "rounded to the nearest basis point", in: "0.014", want: 1, ok: true},
		{name: "zero", reason: "the bottom of the range", in: "0", want: 0, ok: true},
		{name: "all", reason: "the top of the range", in: "100", want: rollout.All, ok: true},
		{name: "above", reason: "more than everything", in: "100.01"},
		{name: "negative", reason: "less than nothing", in: "-1"},
		{name: "nan", reason: "not a number", in: "NaN"},
		{name: "inf", reason: "infinite", in: "+Inf"},
		{name: "empty", reason: "nothing", in: ""},
		{name: "long", reason: "bounded input", in: strings.Repeat("1", 40)},
		{name: "hex", reason: "ParseFloat reads hex floats; still in range", in: "0x1p-2", want: 25, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePercent(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("parsePercent(%q) = %v, %v; want %v, ok %v (%s)", tt.in, got, err, tt.want, tt.ok, tt.reason)
			}
		})
	}
}

func TestWantsJSON(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		accept string
		want   bool
	}{
		{name: "json", reason: "asked for", accept: "application/json", want: true},
		{name: "browser", reason: "a browser's Accept", accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		{name: "none", reason: "no Accept header: HTML", accept: ""},
		{name: "wildcard", reason: "*/* alone: HTML", accept: "*/*"},
		{name: "json preferred", reason: "higher quality", accept: "text/html;q=0.5, application/json", want: true},
		{name: "html preferred", reason: "higher quality", accept: "application/json;q=0.4, text/html"},
		{name: "refused", reason: "q=0 means not acceptable", accept: "application/json;q=0"},
		{name: "case", reason: "media types are case-insensitive", accept: "Application/JSON", want: true},
		{name: "bad q", reason: "a malformed quality counts as 0", accept: "application/json;q=abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wantsJSON(tt.accept); got != tt.want {
				t.Fatalf("wantsJSON(%q) = %v, want %v (%s)", tt.accept, got, tt.want, tt.reason)
			}
		})
	}
}

// FuzzParseChange: any form either parses into a valid change or is
// refused; nothing panics.
func FuzzParseChange(f *testing.F) {
	for _, s := range []string{
		"experiment=checkout.price&action=set_rollout&shadow=100&candidate_primary=12.5%25",
		"experiment=x&action=ramp_advance",
		"experiment=x&action=pause_shadows",
		"experiment=%3Cscript%3E&action=set_rollout&shadow=NaN&candidate_primary=1",
		"experiment=&action=set_rollout",
		"action=drop&experiment=x&shadow=1e309",
		"experiment=x&action=set_rollout&shadow=-0&candidate_primary=0x1p-2",
		"%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		c, err := parseChange(form)
		if err != nil {
			return
		}
		if c.Experiment == "" || len(c.Experiment) > maxName || !actions[c.Action] {
			t.Fatalf("accepted an invalid change %+v", c)
		}
		if c.Rollout.Shadow > rollout.All || c.Rollout.CandidatePrimary > rollout.All {
			t.Fatalf("accepted a rollout over 100%%: %+v", c.Rollout)
		}
		if c.Action != ActionSetRollout && c.Rollout != (rollout.Static{}) {
			t.Fatalf("a rollout on a %s change", c.Action)
		}
	})
}

// FuzzWantsJSON: any Accept header is answered without panicking, and
// "application/json" on its own always wins.
func FuzzWantsJSON(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/json", "text/html;q=0.5, application/json", "application/json;q=", ";;;,,,q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		_ = wantsJSON(accept)
		if !strings.Contains(accept, ",") && !wantsJSON(accept+", application/json;q=1") && !strings.Contains(strings.ToLower(accept), "html") {
			t.Fatalf("application/json;q=1 lost to %q", accept)
		}
	})
}

var scriptRE = regexp.MustCompile(`(?i)<script`)

// FuzzPageQuery: whatever the query and the Accept header, the page answers
// 200 or 404 with exactly its own script tag in HTML.
func FuzzPageQuery(f *testing.F) {
	for _, s := range []string{"", "experiment=x", "experiment=%3Cscript%3Ealert(1)%3C/script%3E", "done=set_rollout", "done=%3Cb%3E", "experiment=&experiment=y"} {
		f.Add(s, "")
		f.Add(s, "application/json")
	}
	page := New(WithRing(nil))
	defer page.Close()
	f.Fuzz(func(t *testing.T, query, accept string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.RawQuery = query
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusNotFound {
			t.Fatalf("query %q: status %d", query, rec.Code)
		}
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			if n := len(scriptRE.FindAllString(rec.Body.String(), -1)); n != 1 {
				t.Fatalf("query %q: %d script tags", query, n)
			}
		}
	})
}
