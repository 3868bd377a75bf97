package debugpage_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/debugpage"
	"github.com/dualrun/dualrun/exporters/ring"
	"github.com/dualrun/dualrun/rollout"
)

const secret = "4111-1111-1111-1111"

type order struct {
	ID   string
	Card string
	Note string
}

// mismatch runs one mismatching call of a new experiment named name, whose
// candidate's Note is note, waits for its Report, and unregisters the
// experiment at the end of the test.
func mismatch(t testing.TB, name, note string, opts ...dualrun.Option) *dualrun.Experiment[order] {
	t.Helper()
	exp := dualrun.New[order](name, opts...)
	t.Cleanup(exp.Unregister)
	ctx := context.Background()
	_, _ = exp.Run(ctx,
		func(context.Context) (order, error) { return order{ID: "o-1", Card: secret}, nil },
		func(context.Context) (order, error) { return order{ID: "o-1", Card: secret, Note: note}, nil })
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := exp.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	return exp
}

func get(t *testing.T, h http.Handler, query, accept string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/debug/dualrun/"+query, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type pageJSON struct {
	SchemaVersion int  `json:"schema_version"`
	ReadOnly      bool `json:"read_only"`
	Experiments   []struct {
		Name         string           `json:"name"`
		Outcomes     map[string]int64 `json:"outcomes"`
		MismatchRate float64          `json:"mismatch_rate"`
		Rollout      struct {
			Policy string `json:"policy"`
		} `json:"rollout"`
		PathSets []struct {
			Paths []string `json:"paths"`
			Count int64    `json:"count"`
		} `json:"path_sets"`
		Recent []map[string]any `json:"recent"`
	} `json:"experiments"`
}

func decode(t *testing.T, rec *httptest.ResponseRecorder) pageJSON {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var p pageJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("%v: %s", err, rec.Body.String())
	}
	return p
}

func TestJSON(t *testing.T) {
	page := debugpage.New()
	defer page.Close()
	live := rollout.NewLive(rollout.Static{Shadow: rollout.All})
	mismatch(t, "page.json", "n", dualrun.WithRollout(live))

	tests := []struct {
		name   string
		reason string
		query  string
		accept string
		status int
		recent int
	}{
		{name: "overview", reason: "every experiment, the latest Reports", accept: "application/json", status: 200, recent: 1},
		{name: "detail", reason: "one experiment", query: "?experiment=page.json", accept: "text/html;q=0.5, application/json", status: 200, recent: 1},
		{name: "unknown", reason: "an unknown experiment is 404, still JSON", query: "?experiment=nope", accept: "application/json", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, page, tt.query, tt.accept)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tt.status, tt.reason)
			}
			p := decode(t, rec)
			if p.SchemaVersion != debugpage.SchemaVersion || !p.ReadOnly {
				t.Fatalf("schema %d read_only %v", p.SchemaVersion, p.ReadOnly)
			}
			if tt.status == 404 {
				if len(p.Experiments) != 0 {
					t.Fatalf("experiments %v for an unknown name", p.Experiments)
				}
				return
			}
			found := false
			for _, e := range p.Experiments {
				if e.Name != "page.json" {
					continue
				}
				found = true
				if e.Outcomes["mismatch"] != 1 || e.Outcomes["match"] != 0 || len(e.Outcomes) != rollout.NumOutcomes {
					t.Errorf("outcomes %v (%s)", e.Outcomes, tt.reason)
				}
				if e.MismatchRate != 1 || e.Rollout.Policy != "live" {
					t.Errorf("mismatch_rate %v policy %q", e.MismatchRate, e.Rollout.Policy)
				}
				if len(e.Recent) != tt.recent || e.Recent[0]["experiment"] != "page.json" {
					t.Errorf("recent %v (%s)", e.Recent, tt.reason)
				}
				if d, _ := e.Recent[0]["diff"].(string); !strings.Contains(d, "Note") {
					t.Errorf("recent report without its diff: %v", e.Recent[0])
				}
			}
			if !found {
				t.Fatalf("experiment missing from %s (%s)", rec.Body.String(), tt.reason)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	page := debugpage.New(debugpage.WithLogger(slog.New(slog.DiscardHandler)))
	defer page.Close()
	for _, tt := range []struct {
		name   string
		reason string
		method string
		accept string
	}{
		{name: "html", reason: "the page itself", method: http.MethodGet},
		{name: "json", reason: "the JSON form", method: http.MethodGet, accept: "application/json"},
		{name: "refused post", reason: "error answers too", method: http.MethodPost},
		{name: "head", reason: "HEAD answers like GET, without a body", method: http.MethodHead},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/", nil)
			req.Header.Set("Accept", tt.accept)
			rec := httptest.NewRecorder()
			page.ServeHTTP(rec, req)
			h := rec.Header()
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "script-src 'nonce-"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q (%s)", csp, want, tt.reason)
				}
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers %v (%s)", h, tt.reason)
			}
			if tt.method == http.MethodHead && rec.Body.Len() != 0 {
				t.Errorf("HEAD wrote a body")
			}
		})
	}
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE: %d, want 405", rec.Code)
	}
}

var scriptTag = regexp.MustCompile(`(?i)<script`)

func TestEscaping(t *testing.T) {
	page := debugpage.New()
	defer page.Close()
	name := `<script>alert("name")</script>`
	mismatch(t, name, `<script>alert("diff")</script>`)
	for _, query := range []string{"", "?experiment=" + url.QueryEscape(name)} {
		body := get(t, page, query, "").Body.String()
		if n := len(scriptTag.FindAllString(body, -1)); n != 1 {
			t.Fatalf("%q: %d <script tags, want only the page's own", query, n)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;") {
			t.Fatalf("%q: the name is not shown escaped", query)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;diff&#34;)&lt;/script&gt;") {
			t.Fatalf("%q: the diff is not shown escaped:\n%s", query, body)
		}
	}
	// A name in the query of an unknown experiment is echoed escaped.
	body := get(t, page, "?experiment="+url.QueryEscape(`<img src=x onerror=alert(1)>`), "").Body.String()
	if strings.Contains(body, "<img") || !strings.Contains(body, "&lt;img") {
		t.Fatal("an unknown experiment's name is not escaped")
	}
}

func TestValuesAndKeys(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		opts   []debugpage.Option
		diff   bool
		key    bool
	}{
		{name: "default", reason: "an operator's page shows diffs, not keys", diff: true},
		{name: "without values", reason: "WithoutValues hides diffs and error texts", opts: []debugpage.Option{debugpage.WithoutValues()}},
		{name: "keys", reason: "WithKeys shows keys", opts: []debugpage.Option{debugpage.WithKeys()}, diff: true, key: true},
	}
	g := ring.New()
	remove := dualrun.AddPublisher(g)
	defer remove()
	exp := dualrun.New[order]("page.values", dualrun.WithReportKeys())
	defer exp.Unregister()
	ctx := dualrun.WithKey(context.Background(), "customer-"+secret)
	_, _ = exp.Run(ctx,
		func(context.Context) (order, error) { return order{Card: secret}, nil },
		func(context.Context) (order, error) { return order{}, nil })
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := debugpage.New(append(tt.opts, debugpage.WithRing(g))...)
			for _, accept := range []string{"", "application/json"} {
				body := get(t, page, "?experiment=page.values", accept).Body.String()
				if got := strings.Contains(body, `Card: &#34;`+secret) || strings.Contains(body, `Card: \"`+secret); got != tt.diff {
					t.Errorf("%q: diff shown = %v, want %v (%s)", accept, got, tt.diff, tt.reason)
				}
				if got := strings.Contains(body, "customer-"+secret); got != tt.key {
					t.Errorf("%q: key shown = %v, want %v (%s)", accept, got, tt.key, tt.reason)
				}
			}
		})
	}
}

// TestLastReportFallback: Reports published before the page existed show
// through the experiment's LastReport.
func TestLastReportFallback(t *testing.T) {
	mismatch(t, "page.before", "early")
	page := debugpage.New()
	defer page.Close()
	if body := get(t, page, "?experiment=page.before", "").Body.String(); !strings.Contains(body, "early") {
		t.Fatal("the report made before the page is not shown")
	}
}

func TestCloseDetaches(t *testing.T) {
	page := debugpage.New()
	mismatch(t, "page.attached", "a")
	if _, ok := page.Ring().Snapshot("page.attached"); !ok {
		t.Fatal("the page's own ring did not receive the report")
	}
	page.Close()
	page.Close()
	mismatch(t, "page.detached", "b")
	if _, ok := page.Ring().Snapshot("page.detached"); ok {
		t.Fatal("the ring still receives reports after Close")
	}
}

// TestHandlerDetachesWhenCollected: a Handler that is no longer reachable
// stops receiving Reports once garbage collected.
func TestHandlerDetachesWhenCollected(t *testing.T) {
	var g *ring.Ring
	func() {
		h := debugpage.Handler()
		g = h.(*debugpage.Page).Ring()
	}()
	for i := range 20 {
		runtime.GC()
		name := "page.collected." + string(rune('a'+i))
		mismatch(t, name, "x")
		if _, ok := g.Snapshot(name); !ok {
			return // detached
		}
	}
	t.Fatal("the ring of an unreachable Handler is still attached after 20 collections")
}

func TestFailingStringer(t *testing.T) {
	page := debugpage.New()
	defer page.Close()
	exp := dualrun.New[int]("page.badpolicy", dualrun.WithRollout(badPolicy{}))
	defer exp.Unregister()
	rec := get(t, page, "?experiment=page.badpolicy", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "String method panicked") {
		t.Fatalf("status %d; a policy whose String panics must not break the page", rec.Code)
	}
}

// badPolicy is a policy whose String method panics.
type badPolicy struct{}

func (badPolicy) Decide(context.Context, string) rollout.Decision { return rollout.Decision{} }
func (badPolicy) String() string                                  { panic(errors.New("no")) }
