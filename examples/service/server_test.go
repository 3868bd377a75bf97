package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/dualrun/dualrun/examples/service/shipping"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		body    string
		want    shipping.Request
		wantErr string
	}{
		{
			"valid", "every field", `{"order_id":"o-1","weight_grams":2000,"zone":"EU","express":true}`,
			shipping.Request{OrderID: "o-1", WeightGrams: 2000, Zone: "EU", Express: true},
			"",
		},
		{
			"negative weight", "the implementations reject it themselves", `{"order_id":"o-1","weight_grams":-5,"zone":"EU"}`,
			shipping.Request{OrderID: "o-1", WeightGrams: -5, Zone: "EU"},
			"",
		},
		{"unknown field", "a typo must not be ignored", `{"order_id":"o-1","weight":1,"zone":"EU"}`, shipping.Request{}, "unknown field"},
		{"two values", "one JSON value per request", `{"order_id":"o-1","zone":"EU"} {}`, shipping.Request{}, "more than one JSON value"},
		{"not JSON", "garbage", `nope`, shipping.Request{}, "bad request body"},
		{"empty", "no body", ``, shipping.Request{}, "bad request body"},
		{"no order", "the order ID is the dualrun key", `{"zone":"EU"}`, shipping.Request{}, "bad order_id"},
		{"long order", "bounded", `{"order_id":"` + strings.Repeat("x", 65) + `","zone":"EU"}`, shipping.Request{}, "bad order_id"},
		{"control in order", "printable ASCII only", `{"order_id":"o\n1","zone":"EU"}`, shipping.Request{}, "bad order_id"},
		{"lower-case zone", "zones are upper-case letters", `{"order_id":"o-1","zone":"eu"}`, shipping.Request{}, "bad zone"},
		{"long zone", "bounded", `{"order_id":"o-1","zone":"ABCDEFGHI"}`, shipping.Request{}, "bad zone"},
		{"huge weight", "bounded", `{"order_id":"o-1","zone":"EU","weight_grams":1000001}`, shipping.Request{}, "bad weight_grams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRequest(strings.NewReader(tt.body))
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Errorf("decodeRequest = %+v, %v; want %+v (%s)", got, err, tt.want, tt.reason)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("decodeRequest error %v, want one containing %q (%s)", err, tt.wantErr, tt.reason)
			}
		})
	}
}

// FuzzDecodeRequest: any body is rejected with an error or decoded into a
// request within the bounds, and never panics.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"order_id":"o-1","weight_grams":2000,"zone":"EU","express":true}`,
		`{"order_id":"o-1","weight_grams":-1,"zone":"XX"}`,
		`{"order_id":"","zone":""}`,
		`{"order_id":"o-1","zone":"EU"}{}`,
		`{"order_id":"\u0000","zone":"EU"}`,
		`[]`, `null`, `{"weight_grams":1e400}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRequest(bytes.NewReader(body))
		if err != nil {
			return
		}
		if req.OrderID == "" || len(req.OrderID) > maxOrderIDLen || req.Zone == "" || len(req.Zone) > maxZoneLen ||
			req.WeightGrams > maxWeightGrams {
			t.Fatalf("decodeRequest(%q) accepted %+v", body, req)
		}
	})
}

// TestServeQuote sends one request of each case through the real handler,
// on a fake clock, and checks the responses (legacy's quote) and the
// metrics on /metrics (what dualrun compared).
func TestServeQuote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tel, err := newTelemetry(context.Background(), telemetryConfig{})
		if err != nil {
			t.Fatal(err)
		}
		adm := &admin{candidate: &candidateSwitch{}, rollout: staticRollout(0)}
		exp := newExperiment(tel, adm.rollout.policy)
		h := newHandler(exp, tel, adm, slog.New(slog.DiscardHandler))

		tests := []struct {
			name       string
			reason     string
			req        shipping.Request
			wantStatus int
		}{
			{"match", "both agree", shipping.Request{OrderID: "a", WeightGrams: 1000, Zone: "DOM"}, http.StatusOK},
			{"value mismatch", "2 kg", shipping.Request{OrderID: "b", WeightGrams: 2000, Zone: "DOM"}, http.StatusOK},
			{"error mismatch", "the rewrite has no islands", shipping.Request{OrderID: "c", WeightGrams: 500, Zone: "ISL"}, http.StatusOK},
			{"both fail", "legacy's error is the answer", shipping.Request{OrderID: "d", WeightGrams: 500, Zone: "XX"}, http.StatusUnprocessableEntity},
			{"panic", "the rewrite panics; the caller gets legacy's quote", shipping.Request{OrderID: "e", WeightGrams: 0, Zone: "EU"}, http.StatusOK},
			{"timeout", "the rewrite's freight lookup", shipping.Request{OrderID: "f", WeightGrams: 40000, Zone: "EU"}, http.StatusOK},
		}
		for _, tt := range tests {
			body, _ := json.Marshal(tt.req)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, quotePath, bytes.NewReader(body)))
			if rec.Code != tt.wantStatus {
				t.Errorf("%s: status %d, want %d (%s): %s", tt.name, rec.Code, tt.wantStatus, tt.reason, rec.Body)
				continue
			}
			if rec.Code == http.StatusOK {
				want, _ := shipping.LegacyQuote(tt.req)
				var got shipping.Quote
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got != want {
					t.Errorf("%s: body %s, want legacy's %+v", tt.name, rec.Body, want)
				}
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, quotePath, strings.NewReader(`{`)))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("bad body: status %d, want 400", rec.Code)
		}

		if err := exp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		metrics := scrape(t, h)
		for outcome, want := range map[string]int{
			`dualrun_outcome="match"`:                                          2,
			`dualrun_mismatch_kind="value",dualrun_outcome="mismatch"`:         1,
			`dualrun_mismatch_kind="error",dualrun_outcome="mismatch"`:         1,
			`dualrun_outcome="panic"`:                                          1,
			`dualrun_outcome="timeout"`:                                        1,
			`dualrun_mismatch_kind="errors_differ",dualrun_outcome="mismatch"`: 0,
			`dualrun_outcome="shed"`:                                           0,
		} {
			if got := counter(t, metrics, `dualrun_comparisons_total\{dualrun_experiment="shipping.quote",`+regexp.QuoteMeta(outcome)+`,dualrun_primary="legacy"[^}]*\}`); got != want {
				t.Errorf("dualrun_comparisons_total{%s} = %d, want %d", outcome, got, want)
			}
		}
		for _, field := range []string{".CostCents", ".Carrier"} {
			if got := counter(t, metrics, `dualrun_mismatch_fields_total\{dualrun_experiment="shipping.quote",dualrun_field="`+regexp.QuoteMeta(field)+`"[^}]*\}`); got != 1 {
				t.Errorf("dualrun_mismatch_fields_total{%s} = %d, want 1", field, got)
			}
		}

		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats", nil))
		var st statsBody
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatalf("/stats: %v: %s", err, rec.Body)
		}
		if st.Experiment != experimentName || st.Calls != 6 || st.Compared != 6 || st.Outcomes["match"] != 2 ||
			st.Outcomes["mismatch"] != 2 || st.Outcomes["panic"] != 1 || st.Outcomes["timeout"] != 1 || st.MismatchRate != 0.5 {
			t.Errorf("/stats: %+v", st)
		}
		// On the fake clock each side takes exactly its modelled time.
		if st.Legacy.Count != 6 || !near(st.Legacy.P50, shipping.LegacyLatencyTime.Seconds()) ||
			!near(st.Candidate.P99, shipping.ShadowTimeout.Seconds()) {
			t.Errorf("/stats latency: legacy %+v, candidate %+v", st.Legacy, st.Candidate)
		}
		if err := tel.shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// near reports whether got is within dualrun's histogram error (1/64) of
// want.
func near(got, want float64) bool { return got >= want*(1-1.0/64) && got <= want*(1+1.0/64) }

// scrape reads the handler's /metrics.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// counter returns the value of the one series of metrics matching pattern.
func counter(t *testing.T, metrics, pattern string) int {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + pattern + ` (\S+)$`)
	m := re.FindAllStringSubmatch(metrics, -1)
	if len(m) != 1 {
		t.Fatalf("%d series match %s in:\n%s", len(m), pattern, grep(metrics, "dualrun_"))
	}
	v, err := strconv.ParseFloat(m[0][1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return int(v)
}

func grep(s, sub string) string {
	var b strings.Builder
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			b.WriteString(l)
		}
	}
	return b.String()
}

// TestHealthz checks the health check.
func TestHealthz(t *testing.T) {
	tel, err := newTelemetry(context.Background(), telemetryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	adm := &admin{candidate: &candidateSwitch{}, rollout: staticRollout(0)}
	exp := newExperiment(tel, adm.rollout.policy)
	t.Cleanup(func() {
		if err := errors.Join(exp.Shutdown(context.Background()), tel.shutdown(context.Background())); err != nil {
			t.Error(err)
		}
	})
	rec := httptest.NewRecorder()
	newHandler(exp, tel, adm, slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("/healthz: %d %q", rec.Code, body)
	}
}
