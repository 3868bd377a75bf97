package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/dualrun/dualrun/examples/service/shipping"
	"github.com/dualrun/dualrun/rollout"
)

// newTestHandler is the service's handler with a fixed rollout.
func newTestHandler(t *testing.T, candidatePrimary rollout.BasisPoints) (http.Handler, *admin) {
	t.Helper()
	tel, err := newTelemetry(context.Background(), telemetryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	adm := &admin{candidate: &candidateSwitch{}, rollout: staticRollout(candidatePrimary)}
	exp := newExperiment(tel, adm.rollout.policy)
	t.Cleanup(func() {
		if err := errors.Join(exp.Shutdown(context.Background()), tel.shutdown(context.Background())); err != nil {
			t.Error(err)
		}
	})
	return newHandler(exp, tel, adm, slog.New(slog.DiscardHandler)), adm
}

func getRollout(t *testing.T, h http.Handler) rolloutBody {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin/rollout", nil))
	var b rolloutBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET /admin/rollout: %d %s: %v", rec.Code, rec.Body, err)
	}
	return b
}

func TestAdminRolloutStatic(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		cp     rollout.BasisPoints
		want   rolloutBody
	}{
		{"legacy", "the default", 0, rolloutBody{CandidatePrimaryBP: 0, Primary: "legacy"}},
		{"mixed", "a share", 1234, rolloutBody{CandidatePrimaryBP: 1234, Primary: "mixed"}},
		{"almost all", "one basis point short is still mixed", rollout.All - 1, rolloutBody{CandidatePrimaryBP: 9999, Primary: "mixed"}},
		{"candidate", "100%", rollout.All, rolloutBody{CandidatePrimaryBP: 10000, Primary: "candidate"}},
		{"over 100%", "counts as 100%, shown as 10000", rollout.All + 5, rolloutBody{CandidatePrimaryBP: 10000, Primary: "candidate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestHandler(t, tt.cp)
			want := tt.want
			want.Experiment, want.ShadowBP, want.Candidate, want.Source = experimentName, 10000, "rewrite", "static"
			if got := getRollout(t, h); got != want {
				t.Errorf("GET /admin/rollout = %+v, want %+v (%s)", got, want, tt.reason)
			}
		})
	}
}

func TestAdminCandidate(t *testing.T) {
	tests := []struct {
		name       string
		reason     string
		method     string
		target     string
		remote     string // the caller's address; empty: 127.0.0.1:40000
		wantStatus int
		want       version // the version in force afterwards
	}{
		{"bad", "the broken candidate", http.MethodPost, "/admin/candidate?version=bad", "", http.StatusOK, versionBad},
		{"good", "the fixed rewrite", http.MethodPost, "/admin/candidate?version=good", "", http.StatusOK, versionGood},
		{"rewrite", "back to the default", http.MethodPost, "/admin/candidate?version=rewrite", "", http.StatusOK, versionRewrite},
		{"unknown", "only the three names", http.MethodPost, "/admin/candidate?version=worse", "", http.StatusBadRequest, versionGood},
		{"empty", "no default", http.MethodPost, "/admin/candidate?version=", "", http.StatusBadRequest, versionGood},
		{"missing", "the parameter is required", http.MethodPost, "/admin/candidate", "", http.StatusBadRequest, versionGood},
		{"twice", "ambiguous", http.MethodPost, "/admin/candidate?version=bad&version=good", "", http.StatusBadRequest, versionGood},
		{"extra parameter", "a typo must not pass", http.MethodPost, "/admin/candidate?version=bad&force=1", "", http.StatusBadRequest, versionGood},
		{"escaped junk", "hostile bytes", http.MethodPost, "/admin/candidate?version=%00%ff%0a", "", http.StatusBadRequest, versionGood},
		{"long", "hostile length", http.MethodPost, "/admin/candidate?version=" + strings.Repeat("b", 4000), "", http.StatusBadRequest, versionGood},
		{"GET", "a switch is a POST", http.MethodGet, "/admin/candidate?version=bad", "", http.StatusMethodNotAllowed, versionGood},
		{"POST rollout", "read only", http.MethodPost, "/admin/rollout", "", http.StatusMethodNotAllowed, versionGood},
		{"remote caller", "switched from this machine only", http.MethodPost, "/admin/candidate?version=bad", "192.0.2.1:5000", http.StatusForbidden, versionGood},
		{"IPv6 loopback", "::1 is this machine", http.MethodPost, "/admin/candidate?version=bad", "[::1]:5000", http.StatusOK, versionBad},
		{"other 127/8", "all of 127.0.0.0/8 is loopback", http.MethodPost, "/admin/candidate?version=bad", "127.8.9.10:5000", http.StatusOK, versionBad},
		{"garbage address", "not host:port", http.MethodPost, "/admin/candidate?version=bad", "nonsense", http.StatusForbidden, versionGood},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, adm := newTestHandler(t, 0)
			adm.candidate.swap(versionGood)
			req := httptest.NewRequest(tt.method, tt.target, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			if tt.remote != "" {
				req.RemoteAddr = tt.remote
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %.60s: %d %s, want %d (%s)", tt.method, tt.target, rec.Code, rec.Body, tt.wantStatus, tt.reason)
			}
			if got := adm.candidate.load(); got != tt.want {
				t.Errorf("candidate %v afterwards, want %v (%s)", got, tt.want, tt.reason)
			}
			if got := getRollout(t, h).Candidate; got != tt.want.String() {
				t.Errorf("GET /admin/rollout says candidate %q, want %q", got, tt.want)
			}
			if rec.Code == http.StatusOK {
				var b candidateBody
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b != (candidateBody{Candidate: tt.want.String(), Previous: "good"}) {
					t.Errorf("body %s: %v", rec.Body, err)
				}
			}
			if rec.Code == http.StatusBadRequest && len(rec.Body.String()) > 300 {
				t.Errorf("error body of %d bytes: the input must be cut", rec.Body.Len())
			}
		})
	}
}

// TestAdminCandidateBadIsServed: with the candidate primary on every call,
// switching to "bad" changes what callers get, and every comparison is a
// mismatch; "good" agrees with legacy again.
func TestAdminCandidateBadIsServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newTestHandler(t, rollout.All)
		post := func(target string, body []byte) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			req.RemoteAddr = "127.0.0.1:40000"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		reqs := shipping.Inputs(20)
		for _, v := range []string{"good", "bad", "good"} {
			if rec := post("/admin/candidate?version="+v, nil); rec.Code != http.StatusOK {
				t.Fatalf("switch to %s: %d %s", v, rec.Code, rec.Body)
			}
			for _, req := range reqs {
				body, _ := json.Marshal(req)
				rec := post(quotePath, body)
				want, werr := shipping.LegacyQuote(req)
				var got shipping.Quote
				_ = json.Unmarshal(rec.Body.Bytes(), &got)
				same := werr == nil && rec.Code == http.StatusOK && got == want ||
					werr != nil && rec.Code == http.StatusUnprocessableEntity
				if same != (v == "good") {
					t.Errorf("%s %+v: %d %s, legacy %+v %v", v, req, rec.Code, rec.Body, want, werr)
				}
			}
		}
		synctest.Wait()
		metrics := scrape(t, h)
		mismatches := counter(t, metrics, `dualrun_comparisons_total\{dualrun_experiment="shipping.quote",dualrun_mismatch_kind="value",dualrun_outcome="mismatch",dualrun_primary="candidate"[^}]*\}`) +
			counter(t, metrics, `dualrun_comparisons_total\{dualrun_experiment="shipping.quote",dualrun_mismatch_kind="error",dualrun_outcome="mismatch",dualrun_primary="candidate"[^}]*\}`)
		if mismatches != len(reqs) {
			t.Errorf("%d mismatches, want %d: one per call of the bad version", mismatches, len(reqs))
		}
	})
}
