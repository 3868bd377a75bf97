package debugpage_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/debugpage"
	"github.com/dualrun/dualrun/rollout"
)

func post(page http.Handler, form url.Values, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "http://example.com/debug/dualrun/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, req)
	return rec
}

// allowAlice authorizes requests with the header "X-User: alice".
func allowAlice(r *http.Request, _ debugpage.Change) (string, error) {
	if u := r.Header.Get("X-User"); u == "alice" {
		return u, nil
	}
	return "", errors.New("only alice may change rollouts")
}

func TestLiveControl(t *testing.T) {
	alice := http.Header{"X-User": {"alice"}}
	set := func(shadow, cand string) url.Values {
		return url.Values{"experiment": {"ctl.live"}, "action": {"set_rollout"}, "shadow": {shadow}, "candidate_primary": {cand}}
	}
	tests := []struct {
		name      string
		reason    string
		authorize debugpage.Authorize
		form      url.Values
		header    http.Header
		status    int
		want      rollout.Static // the rollout afterwards
		log       []string       // in the log
	}{
		{
			name: "authorized", reason: "an authorized change takes effect and is logged with who and what",
			authorize: allowAlice, form: set("100", "12.5%"), header: alice, status: http.StatusSeeOther,
			want: rollout.Static{Shadow: rollout.All, CandidatePrimary: 1250},
			log:  []string{`"who":"alice"`, `"experiment":"ctl.live"`, `"action":"set_rollout"`, `"before":"shadow 100%"`, `"after":"shadow 100%, candidate primary 12.5%"`},
		},
		{
			name: "read-only", reason: "without WithControls the page refuses every change",
			form: set("100", "50"), header: alice, status: http.StatusForbidden,
			want: rollout.Static{Shadow: rollout.All},
			log:  []string{"change refused", "read-only"},
		},
		{
			name: "not authorized", reason: "the hook refuses",
			authorize: allowAlice, form: set("100", "50"), status: http.StatusForbidden,
			want: rollout.Static{Shadow: rollout.All},
			log:  []string{"change refused", "only alice"},
		},
		{
			name: "hook panics", reason: "a panicking hook refuses",
			authorize: func(*http.Request, debugpage.Change) (string, error) { panic("auth down") },
			form:      set("100", "50"), header: alice, status: http.StatusForbidden,
			want: rollout.Static{Shadow: rollout.All},
			log:  []string{"change refused", "auth down"},
		},
		{
			name: "cross-site", reason: "a POST from another site is refused before the hook runs",
			authorize: allowAlice, form: set("100", "50"), status: http.StatusForbidden,
			header: http.Header{"X-User": {"alice"}, "Sec-Fetch-Site": {"cross-site"}},
			want:   rollout.Static{Shadow: rollout.All},
			log:    []string{"cross-origin"},
		},
		{
			name: "foreign origin", reason: "an Origin that is not the page's host is refused",
			authorize: allowAlice, form: set("100", "50"), status: http.StatusForbidden,
			header: http.Header{"X-User": {"alice"}, "Origin": {"http://evil.example"}},
			want:   rollout.Static{Shadow: rollout.All},
			log:    []string{"cross-origin"},
		},
		{
			name: "bad percentage", reason: "out-of-range input is refused",
			authorize: allowAlice, form: set("100", "101"), header: alice, status: http.StatusBadRequest,
			want: rollout.Static{Shadow: rollout.All},
			log:  []string{"candidate primary"},
		},
		{
			name: "unknown action", reason: "only the page's actions exist",
			authorize: allowAlice, form: url.Values{"experiment": {"ctl.live"}, "action": {"drop_table"}}, header: alice,
			status: http.StatusBadRequest, want: rollout.Static{Shadow: rollout.All},
			log: []string{"unknown action"},
		},
		{
			name: "not a ramp", reason: "ramp actions need a ramp",
			authorize: allowAlice, form: url.Values{"experiment": {"ctl.live"}, "action": {"ramp_advance"}}, header: alice,
			status: http.StatusConflict, want: rollout.Static{Shadow: rollout.All},
			log: []string{"not a ramp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := rollout.NewLive(rollout.Static{Shadow: rollout.All})
			exp := dualrun.New[int]("ctl.live", dualrun.WithRollout(live))
			defer exp.Unregister()
			var logs bytes.Buffer
			opts := []debugpage.Option{debugpage.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))), debugpage.WithRing(nil)}
			if tt.authorize != nil {
				opts = append(opts, debugpage.WithControls(tt.authorize))
			}
			page := debugpage.New(opts...)
			defer page.Close()
			rec := post(page, tt.form, tt.header)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d (%s): %s", rec.Code, tt.status, tt.reason, rec.Body.String())
			}
			if got := live.Load(); got != tt.want {
				t.Fatalf("rollout %v, want %v (%s)", got, tt.want, tt.reason)
			}
			for _, want := range tt.log {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q (%s):\n%s", want, tt.reason, logs.String())
				}
			}
			if tt.status == http.StatusSeeOther {
				if loc := rec.Header().Get("Location"); loc != "?done=set_rollout&experiment=ctl.live" {
					t.Errorf("redirect to %q", loc)
				}
			} else if !strings.Contains(rec.Body.String(), `id="problem"`) {
				t.Errorf("a refusal does not say why on the page (%s)", tt.reason)
			}
		})
	}
}

func TestReadOnlyPageSaysSo(t *testing.T) {
	live := rollout.NewLive(rollout.Static{Shadow: rollout.All})
	exp := dualrun.New[int]("ctl.ro", dualrun.WithRollout(live))
	defer exp.Unregister()
	for _, tt := range []struct {
		name     string
		reason   string
		opts     []debugpage.Option
		readOnly bool
	}{
		{name: "default", reason: "controls are off by default, and the page says so", readOnly: true},
		{name: "controls", reason: "with a hook the page offers the Live form", opts: []debugpage.Option{debugpage.WithControls(allowAlice)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			page := debugpage.New(tt.opts...)
			defer page.Close()
			body := get(t, page, "?experiment=ctl.ro", "").Body.String()
			if got := strings.Contains(body, `id="read-only"`); got != tt.readOnly {
				t.Errorf("read-only notice = %v (%s)", got, tt.reason)
			}
			if got := strings.Contains(body, `<form method="post"`); got == tt.readOnly {
				t.Errorf("forms shown = %v (%s)", got, tt.reason)
			}
		})
	}
}

func TestRampControl(t *testing.T) {
	steps := []rollout.Step{
		{Name: "shadow", Rollout: rollout.Static{Shadow: rollout.All}},
		{Name: "half", Rollout: rollout.Static{Shadow: rollout.All, CandidatePrimary: 5000}},
		{Name: "all", Rollout: rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}},
	}
	ramp := rollout.NewRamp("ctl.ramp", steps, rollout.WithInterval(time.Hour))
	defer ramp.Close()
	exp := dualrun.New[int]("ctl.ramp", dualrun.WithRollout(ramp))
	defer exp.Unregister()
	var logs bytes.Buffer
	page := debugpage.New(debugpage.WithControls(allowAlice), debugpage.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	defer page.Close()
	alice := http.Header{"X-User": {"alice"}}
	tests := []struct {
		name   string
		reason string
		action string
		status int
		step   int
		paused bool
	}{
		{name: "advance", reason: "one step forward", action: "ramp_advance", status: 303, step: 1},
		{name: "pause", reason: "the ramp stops advancing", action: "ramp_pause", status: 303, step: 1, paused: true},
		{name: "pause again", reason: "already paused: nothing changed, said so", action: "ramp_pause", status: 409, step: 1, paused: true},
		{name: "resume", reason: "the ramp runs again", action: "ramp_resume", status: 303, step: 1},
		{name: "advance to last", reason: "to the last step", action: "ramp_advance", status: 303, step: 2},
		{name: "advance past last", reason: "there is no step beyond the last", action: "ramp_advance", status: 409, step: 2},
		{name: "rollback", reason: "back to the rollback step, paused", action: "ramp_rollback", status: 303, step: 0, paused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(page, url.Values{"experiment": {"ctl.ramp"}, "action": {tt.action}}, alice)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d (%s): %s", rec.Code, tt.status, tt.reason, rec.Body.String())
			}
			if s := ramp.State(); s.Step != tt.step || s.Paused != tt.paused {
				t.Fatalf("ramp at step %d paused %v, want %d %v (%s)", s.Step, s.Paused, tt.step, tt.paused, tt.reason)
			}
		})
	}
	if !strings.Contains(logs.String(), "who=alice experiment=ctl.ramp action=ramp_advance") {
		t.Fatalf("log:\n%s", logs.String())
	}
	body := get(t, page, "?experiment=ctl.ramp", "").Body.String()
	for _, want := range []string{`id="ramp_advance"`, "Roll back", "step 0", "last: manual 2 → 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("ramp page lacks %q", want)
		}
	}
}

func TestPauseShadows(t *testing.T) {
	withPause := dualrun.New[int]("ctl.pause")
	defer withPause.Unregister()
	without := dualrun.New[int]("ctl.nopause")
	defer without.Unregister()
	page := debugpage.New(debugpage.WithControls(allowAlice),
		debugpage.WithLogger(slog.New(slog.DiscardHandler)))
	defer page.Close()
	alice := http.Header{"X-User": {"alice"}}
	tests := []struct {
		name   string
		reason string
		exp    string
		action string
		status int
		paused bool
	}{
		{name: "pause", reason: "any registered experiment is reached through dualrun.Experiments", exp: "ctl.pause", action: "pause_shadows", status: 303, paused: true},
		{name: "resume", reason: "and back", exp: "ctl.pause", action: "resume_shadows", status: 303},
		{name: "another", reason: "no experiment has to be given to the page", exp: "ctl.nopause", action: "pause_shadows", status: 303, paused: true},
		{name: "unknown", reason: "no such experiment", exp: "ctl.none", action: "pause_shadows", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(page, url.Values{"experiment": {tt.exp}, "action": {tt.action}}, alice)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tt.status, tt.reason)
			}
			if st, ok := dualrun.StatsOf(tt.exp); ok && st.Config.Paused != tt.paused {
				t.Fatalf("paused %v, want %v (%s)", st.Config.Paused, tt.paused, tt.reason)
			}
		})
	}
	_, _ = withPause.Run(context.Background(), func(context.Context) (int, error) { return 1, nil }, nil)
}
