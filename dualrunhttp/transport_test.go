package dualrunhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrunhttp"
	"github.com/dualrun/dualrun/rollout"
)

// upstreams are a legacy and a candidate server, and a client whose
// Transport shadows the legacy one with the candidate.
type upstreams struct {
	legacy, candidate *struct{ URL string }
	shadow            *dualrunhttp.ShadowTransport
	client            *http.Client
	direct            *http.Client
}

// newUpstreams serves legacy and candidate on 127.0.0.1 and returns a
// client of legacy through a ShadowTransport that sends the candidate's
// requests to the candidate server.
func newUpstreams(t *testing.T, e *env, legacy, candidate http.Handler, opts ...dualrunhttp.Option) *upstreams {
	t.Helper()
	ls, cs := serve(t, legacy), serve(t, candidate)
	return newUpstreamsAt(t, e, ls.URL, cs.URL, opts...)
}

func newUpstreamsAt(t *testing.T, e *env, legacyURL, candidateURL string, opts ...dualrunhttp.Option) *upstreams {
	t.Helper()
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	st := dualrunhttp.NewTransport(base, base, e.options(append([]dualrunhttp.Option{dualrunhttp.WithCandidateURL(candidateURL)}, opts...)...)...)
	release(t, st)
	direct := &http.Transport{}
	t.Cleanup(direct.CloseIdleConnections)
	return &upstreams{
		legacy:    &struct{ URL string }{legacyURL},
		candidate: &struct{ URL string }{candidateURL},
		shadow:    st,
		client:    &http.Client{Transport: st},
		direct:    &http.Client{Transport: direct},
	}
}

// TestTransportCallerGetsPrimary: whatever the candidate upstream does,
// the caller gets the legacy upstream's status, headers and bytes exactly,
// as a direct request gets them.
func TestTransportCallerGetsPrimary(t *testing.T) {
	gone := serve(t, http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close() // connection refused from now on
	tests := []struct {
		name      string
		reason    string
		candidate http.HandlerFunc
		url       string // instead of a candidate server
		timeout   time.Duration
		want      dualrun.Outcome
		wantKind  dualrun.MismatchKind
	}{
		{
			name:   "differs",
			reason: "the candidate's response is read and compared, never returned",
			candidate: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-Served-By", "candidate")
				w.WriteHeader(http.StatusTeapot)
				_, _ = io.WriteString(w, "short and stout")
			},
			want: dualrun.Mismatch, wantKind: dualrun.ValueMismatch,
		},
		{
			name:      "fails",
			reason:    "a 500 of the candidate is a value mismatch on the status",
			candidate: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
			want:      dualrun.Mismatch, wantKind: dualrun.ValueMismatch,
		},
		{
			name:   "drops the connection",
			reason: "a transport error on the candidate is a mismatch of kind error",
			candidate: func(w http.ResponseWriter, _ *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
			},
			want: dualrun.Mismatch, wantKind: dualrun.OneSideErred,
		},
		{
			name:   "unreachable",
			reason: "connection refused on the candidate side only",
			url:    goneURL,
			want:   dualrun.Mismatch, wantKind: dualrun.OneSideErred,
		},
		{
			name:   "hangs",
			reason: "the candidate never answers: recorded as a timeout, the caller never waits",
			candidate: func(_ http.ResponseWriter, r *http.Request) {
				<-r.Context().Done() // the shadow's deadline cancels the request
			},
			timeout: 20 * time.Millisecond,
			want:    dualrun.Timeout,
		},
		{
			name:   "stalls in its body",
			reason: "headers then nothing: the shadow reads until its deadline",
			candidate: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			},
			timeout: 20 * time.Millisecond,
			want:    dualrun.Timeout,
		},
		{
			name:      "the same",
			reason:    "a faithful candidate matches",
			candidate: legacyItems,
			want:      dualrun.Match,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			legacy := http.NewServeMux()
			legacy.HandleFunc("GET /items/{id}", legacyItems)
			var opts []dualrunhttp.Option
			if tt.timeout > 0 {
				opts = append(opts, dualrunhttp.WithExperimentOptions(dualrun.WithShadowTimeout(tt.timeout)))
			}
			var u *upstreams
			if tt.url != "" {
				u = newUpstreamsAt(t, e, serve(t, legacy).URL, tt.url, opts...)
			} else {
				candidate := http.NewServeMux()
				candidate.Handle("GET /items/{id}", tt.candidate)
				u = newUpstreams(t, e, legacy, candidate, opts...)
			}
			for i := range 3 {
				url := fmt.Sprintf("%s/items/%d", u.legacy.URL, i)
				got, want := get(t, u.client, url), get(t, u.direct, url)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("the caller got\n%+v\nwant what legacy sends\n%+v\n(%s)", got, want, tt.reason)
				}
			}
			drain(t, u.shadow)
			rs := onlyRoute(t, u.shadow.Stats())
			if rs.Stats.Compared != 3 || rs.Stats.Count(tt.want) != 3 {
				t.Errorf("outcomes %v of %d compared, want 3 × %v (%s)", rs.Stats.Outcomes, rs.Stats.Compared, tt.want, tt.reason)
			}
			if tt.want == dualrun.Mismatch {
				kinds := map[dualrun.MismatchKind]int64{dualrun.ValueMismatch: rs.Stats.ValueMismatches, dualrun.OneSideErred: rs.Stats.ErrorMismatches}
				if kinds[tt.wantKind] != 3 {
					t.Errorf("mismatch kinds %v, want 3 × %v", kinds, tt.wantKind)
				}
			}
		})
	}
}

// TestTransportCandidatePrimary: with the candidate authoritative, the
// caller gets the candidate upstream's response; legacy is the shadow.
func TestTransportCandidatePrimary(t *testing.T) {
	e := newEnv(t)
	var legacyCalls atomic.Int64
	legacy := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		legacyCalls.Add(1)
		_, _ = io.WriteString(w, "legacy")
	})
	candidate := http.NewServeMux()
	candidate.HandleFunc("GET /items/{id}", legacyItems)
	u := newUpstreams(t, e, legacy, candidate, dualrunhttp.WithExperimentOptions(dualrun.WithRollout(candidatePrimary)))
	got := get(t, u.client, u.legacy.URL+"/items/5")
	want := get(t, u.direct, u.candidate.URL+"/items/5")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the caller got\n%+v\nwant the candidate's\n%+v", got, want)
	}
	drain(t, u.shadow)
	rs := onlyRoute(t, u.shadow.Stats())
	if legacyCalls.Load() != 1 || rs.Stats.CandidatePrimary != 1 || rs.Stats.Count(dualrun.Mismatch) != 1 {
		t.Errorf("legacy calls %d, candidate primary %d, outcomes %v", legacyCalls.Load(), rs.Stats.CandidatePrimary, rs.Stats.Outcomes)
	}
}

// TestTransportRequestBodies: both upstreams get the request body intact
// on compared calls; on calls that are not compared the primary does.
func TestTransportRequestBodies(t *testing.T) {
	big := bytes.Repeat([]byte("fedcba9876543210"), 8192) // 128 KiB
	tests := []struct {
		name          string
		reason        string
		body          []byte
		chunked       bool
		opts          []dualrunhttp.Option
		wantCandidate bool
		wantSkip      dualrunhttp.SkipReason
	}{
		{name: "small", reason: "buffered, a copy for each side", body: []byte(`{"qty":3}`), opts: []dualrunhttp.Option{dualrunhttp.WithMethods("POST")}, wantCandidate: true},
		{name: "128 KiB", reason: "within the limit", body: big, opts: []dualrunhttp.Option{dualrunhttp.WithMethods("POST")}, wantCandidate: true},
		{name: "chunked", reason: "length unknown: read to the end", body: big, chunked: true, opts: []dualrunhttp.Option{dualrunhttp.WithMethods("POST")}, wantCandidate: true},
		{name: "empty", reason: "nothing to buffer", opts: []dualrunhttp.Option{dualrunhttp.WithMethods("POST")}, wantCandidate: true},
		{name: "too large", reason: "the primary gets the buffered part and the rest", body: big, opts: []dualrunhttp.Option{dualrunhttp.WithMethods("POST"), dualrunhttp.WithMaxRequestBody(4096)}, wantSkip: dualrunhttp.SkipRequestTooLarge},
		{name: "POST by default", reason: "not compared, the body passes untouched", body: big, wantSkip: dualrunhttp.SkipMethod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var legacy, candidate bodySeen
			u := newUpstreams(t, e, http.HandlerFunc(legacy.handler), http.HandlerFunc(candidate.handler), tt.opts...)
			var body io.Reader = bytes.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body)
			}
			req, _ := http.NewRequest(http.MethodPost, u.legacy.URL+"/orders", body)
			got := do(t, u.client, req)
			if want := fmt.Sprintf("%d bytes", len(tt.body)); got.body != want {
				t.Errorf("response %q, want %q", got.body, want)
			}
			drain(t, u.shadow)
			wantSum := sha256.Sum256(tt.body)
			if calls, n, sum, err := legacy.get(); calls != 1 || n != len(tt.body) || sum != wantSum || err != nil {
				t.Errorf("legacy: %d calls, %d bytes, err %v; want 1 with the %d bytes sent (%s)", calls, n, err, len(tt.body), tt.reason)
			}
			calls, n, sum, err := candidate.get()
			rs := onlyRoute(t, u.shadow.Stats())
			if !tt.wantCandidate {
				if calls != 0 || rs.Skipped[tt.wantSkip] != 1 {
					t.Errorf("candidate ran %d times, skipped %v; want 0 and one %v (%s)", calls, rs.Skipped, tt.wantSkip, tt.reason)
				}
				return
			}
			if calls != 1 || n != len(tt.body) || sum != wantSum || err != nil {
				t.Errorf("candidate: %d calls, %d bytes, err %v; want 1 with the %d bytes sent (%s)", calls, n, err, len(tt.body), tt.reason)
			}
			if rs.Stats.Count(dualrun.Match) != 1 {
				t.Errorf("outcomes %v, want a match", rs.Stats.Outcomes)
			}
		})
	}
}

// TestTransportStreams: the primary's body streams to the caller: its
// first bytes arrive while the upstream has not finished (it waits for
// the caller to have them).
func TestTransportStreams(t *testing.T) {
	e := newEnv(t)
	gotFirst := make(chan struct{})
	var finished atomic.Bool
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-gotFirst:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "second\n")
		finished.Store(true)
	})
	candidate := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "first\nsecond\n") })
	u := newUpstreams(t, e, legacy, candidate)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.legacy.URL, nil)
	resp, err := u.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v: the body did not stream", line, err)
	}
	if finished.Load() {
		t.Fatal("the upstream finished before the caller had its first bytes")
	}
	close(gotFirst)
	if rest, err := io.ReadAll(br); err != nil || string(rest) != "second\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	resp.Body.Close()
	drain(t, u.shadow)
	if rs := onlyRoute(t, u.shadow.Stats()); rs.Stats.Count(dualrun.Match) != 1 {
		t.Errorf("outcomes %v, want a match: the body the caller read is compared", rs.Stats.Outcomes)
	}
}

// TestTransportBodyUnread: a caller that closes the primary's body early
// gets what it read; the call compares status and headers only.
func TestTransportBodyUnread(t *testing.T) {
	e := newEnv(t)
	legacy := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(bytes.Repeat([]byte("a"), 1<<20))
	})
	candidate := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(bytes.Repeat([]byte("b"), 1<<20)) // differs, but unread
	})
	u := newUpstreams(t, e, legacy, candidate)
	resp, err := u.client.Get(u.legacy.URL)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "aaaaaaaaaa" {
		t.Fatalf("read %q, %v", buf, err)
	}
	resp.Body.Close()
	drain(t, u.shadow)
	rs := onlyRoute(t, u.shadow.Stats())
	if rs.BodyUnread != 1 || rs.Stats.Count(dualrun.Match) != 1 {
		t.Errorf("body unread %d, outcomes %v: want 1 and a match on status and headers", rs.BodyUnread, rs.Stats.Outcomes)
	}
}

// TestTransportMethods: writes are not shadowed by default.
func TestTransportMethods(t *testing.T) {
	e := newEnv(t)
	var candidateCalls atomic.Int64
	candidate := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { candidateCalls.Add(1) })
	u := newUpstreams(t, e, http.NotFoundHandler(), candidate)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions} {
		req, _ := http.NewRequest(m, u.legacy.URL, strings.NewReader("x"))
		do(t, u.client, req)
	}
	drain(t, u.shadow)
	rs := onlyRoute(t, u.shadow.Stats())
	if candidateCalls.Load() != 3 || rs.Skipped[dualrunhttp.SkipMethod] != 4 || rs.Stats.Compared != 3 {
		t.Errorf("candidate calls %d, skipped %v, compared %d; want 3, 4 for method, 3", candidateCalls.Load(), rs.Skipped, rs.Stats.Compared)
	}
}

// TestTransportCandidateRequest: WithCandidateURL rewrites scheme, host
// and path prefix and keeps the query; the Host header is the
// candidate's; WithCandidateRequest edits the copy; a hook that panics
// fails the candidate side only.
func TestTransportCandidateRequest(t *testing.T) {
	type seen struct{ path, query, host, header string }
	tests := []struct {
		name    string
		reason  string
		prefix  string
		hook    func(*http.Request)
		want    seen
		outcome dualrun.Outcome
	}{
		{name: "host only", reason: "the path is kept", want: seen{path: "/items/1", query: "a=b"}, outcome: dualrun.Match},
		{name: "prefix", reason: "the base path comes first", prefix: "/v2/", want: seen{path: "/v2/items/1", query: "a=b"}, outcome: dualrun.Match},
		{name: "hook", reason: "the hook edits the candidate's copy", hook: func(r *http.Request) { r.Header.Set("X-Shadow", "1") }, want: seen{path: "/items/1", query: "a=b", header: "1"}, outcome: dualrun.Match},
		{name: "panicking hook", reason: "the candidate side fails, the caller does not", hook: func(*http.Request) { panic("hook bug") }, outcome: dualrun.Mismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var mu sync.Mutex
			var got seen
			candidate := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = seen{r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Get("X-Shadow")}
				mu.Unlock()
				_, _ = io.WriteString(w, "same")
			}))
			legacy := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "same") }))
			var opts []dualrunhttp.Option
			if tt.hook != nil {
				opts = append(opts, dualrunhttp.WithCandidateRequest(tt.hook))
			}
			u := newUpstreamsAt(t, e, legacy.URL, candidate.URL+tt.prefix, opts...)
			if r := get(t, u.client, legacy.URL+"/items/1?a=b"); r.body != "same" {
				t.Fatalf("caller got %q", r.body)
			}
			drain(t, u.shadow)
			mu.Lock()
			defer mu.Unlock()
			if tt.outcome == dualrun.Match {
				tt.want.host = strings.TrimPrefix(candidate.URL, "http://")
				if got != tt.want {
					t.Errorf("the candidate saw %+v, want %+v (%s)", got, tt.want, tt.reason)
				}
			}
			if rs := onlyRoute(t, u.shadow.Stats()); rs.Stats.Count(tt.outcome) != 1 {
				t.Errorf("outcomes %v, want one %v (%s)", rs.Stats.Outcomes, tt.outcome, tt.reason)
			}
		})
	}
}

// TestTransportRoutes: a Transport has one experiment unless WithRoute
// says otherwise.
func TestTransportRoutes(t *testing.T) {
	e := newEnv(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	u := newUpstreams(t, e, ok, ok, dualrunhttp.WithName("orders-api"), dualrunhttp.WithRoute(func(r *http.Request) string {
		return r.Method + " " + strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
	}))
	for _, p := range []string{"/orders/1", "/orders/2", "/users/1"} {
		get(t, u.client, u.legacy.URL+p)
	}
	drain(t, u.shadow)
	got := map[string]int64{}
	for _, r := range u.shadow.Stats().Routes {
		got[r.Stats.Name] = r.Stats.Count(dualrun.Match)
	}
	if want := map[string]int64{"orders-api GET orders": 2, "orders-api GET users": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("experiments %v, want %v", got, want)
	}
}

// TestTransportDefaultsToDefaultTransport: nil RoundTrippers are
// http.DefaultTransport.
func TestTransportDefaultsToDefaultTransport(t *testing.T) {
	e := newEnv(t)
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	tr := dualrunhttp.NewTransport(nil, nil, e.options(dualrunhttp.WithExperimentOptions(dualrun.WithRollout(rollout.Static{})))...)
	release(t, tr)
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
	if got := get(t, &http.Client{Transport: tr}, srv.URL); got.body != "ok" {
		t.Fatalf("got %q", got.body)
	}
}

// TestTransportSkipsNestedShadow: a shadow handler's outbound calls
// through a ShadowTransport are not shadowed again: they go to the
// primary upstream only, counted as SkipNestedShadow, while the primary
// handler's calls are compared as usual.
func TestTransportSkipsNestedShadow(t *testing.T) {
	e := newEnv(t)
	var legacyCalls, candidateCalls atomic.Int64
	upstream := func(n *atomic.Int64) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			n.Add(1)
			_, _ = io.WriteString(w, "stock: 3")
		}
	}
	u := newUpstreams(t, e, upstream(&legacyCalls), upstream(&candidateCalls), dualrunhttp.WithName("stock"))
	// Both handlers of the service call the stock upstream through the
	// shadowing client, as a service does once its client is migrated.
	page := func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, u.legacy.URL+"/stock/1", nil)
		resp, err := u.client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	}
	h := dualrunhttp.NewHandler(http.HandlerFunc(page), http.HandlerFunc(page), e.options(dualrunhttp.WithName("page"))...)
	release(t, h)
	srv := serve(t, h)
	if got := get(t, srv.Client(), srv.URL); got.body != "stock: 3" {
		t.Fatalf("the client got %q", got.body)
	}
	drain(t, h) // the shadow handler's outbound call is done
	drain(t, u.shadow)
	rs := onlyRoute(t, u.shadow.Stats())
	if rs.Stats.Calls != 2 || rs.Stats.Compared != 1 || rs.Skipped[dualrunhttp.SkipNestedShadow] != 1 || rs.Stats.Count(dualrun.Match) != 1 {
		t.Errorf("stock: %d calls, %d compared, skipped %v, outcomes %v; want 2 calls, the primary's compared and matching, the shadow's skipped as nested_shadow",
			rs.Stats.Calls, rs.Stats.Compared, rs.Skipped, rs.Stats.Outcomes)
	}
	if legacyCalls.Load() != 2 || candidateCalls.Load() != 1 {
		t.Errorf("legacy upstream called %d times, candidate %d; want 2 (both handlers) and 1 (the primary handler's call, shadowed)", legacyCalls.Load(), candidateCalls.Load())
	}
	if hs := onlyRoute(t, h.Stats()); hs.Stats.Count(dualrun.Match) != 1 {
		t.Errorf("page: outcomes %v, want a match", hs.Stats.Outcomes)
	}
}

// TestTransportCalibration: with dualrun.WithCalibration, legacy's request
// is sent a second time after the call, with the request body intact,
// whichever side is primary; the caller's response is not touched.
func TestTransportCalibration(t *testing.T) {
	body := bytes.Repeat([]byte("payload "), 1000)
	tests := []struct {
		name, reason string
		policy       rollout.Policy
	}{
		{name: "legacy primary", reason: "a copy of legacy's request is kept for the second run"},
		{name: "candidate primary", reason: "legacy is the shadow, and runs twice", policy: candidatePrimary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var legacy, candidate bodySeen
			var legacyBadBodies atomic.Int64
			checked := func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if err != nil || !bytes.Equal(b, body) {
					legacyBadBodies.Add(1)
				}
				r.Body = io.NopCloser(bytes.NewReader(b))
				legacy.handler(w, r)
			}
			opts := []dualrunhttp.Option{dualrunhttp.WithMethods("POST"), dualrunhttp.WithExperimentOptions(dualrun.WithCalibration(1))}
			if tt.policy != nil {
				opts = append(opts, dualrunhttp.WithExperimentOptions(dualrun.WithRollout(tt.policy)))
			}
			u := newUpstreams(t, e, http.HandlerFunc(checked), http.HandlerFunc(candidate.handler), opts...)
			const calls = 3
			for range calls {
				req, _ := http.NewRequest(http.MethodPost, u.legacy.URL+"/orders", bytes.NewReader(body))
				if got := do(t, u.client, req); got.body != fmt.Sprintf("%d bytes", len(body)) {
					t.Fatalf("the caller got %q", got.body)
				}
			}
			drain(t, u.shadow)
			want := sha256.Sum256(body)
			if n, size, sum, err := legacy.get(); n != 2*calls || size != len(body) || sum != want || err != nil || legacyBadBodies.Load() != 0 {
				t.Errorf("legacy: %d calls, %d without the body, the last with %d bytes (%v); want %d, each with the body (%s)",
					n, legacyBadBodies.Load(), size, err, 2*calls, tt.reason)
			}
			if n, _, _, _ := candidate.get(); n != calls {
				t.Errorf("candidate: %d calls, want %d", n, calls)
			}
			st := onlyRoute(t, u.shadow.Stats()).Stats
			if cal := st.Calibration; cal.Calls != calls || cal.Samples != calls || st.Count(dualrun.Match) != calls {
				t.Errorf("calibration calls %d, samples %d, outcomes %v; want %d, %d and all matches (%s)", cal.Calls, cal.Samples, st.Outcomes, calls, calls, tt.reason)
			}
		})
	}
}

// TestTransportReportOneSideErred: when only the candidate fails, the
// Report shows legacy's response by its status and compared headers: the
// body, which the caller may still be reading, is not read for it.
func TestTransportReportOneSideErred(t *testing.T) {
	e := newEnv(t)
	gone := serve(t, http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	legacy := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"secret_body":1}`)
	}))
	u := newUpstreamsAt(t, e, legacy.URL, goneURL)
	get(t, u.client, legacy.URL)
	drain(t, u.shadow)
	reps := e.rec.Reports()
	if len(reps) != 1 || reps[0].Kind != dualrun.OneSideErred {
		t.Fatalf("reports %v, want one of kind %v", reps, dualrun.OneSideErred)
	}
	d := reps[0].Diff
	if !strings.Contains(d, "-legacy:    status 200, Content-Type: application/json\n") || !strings.Contains(d, "+candidate: error: ") || strings.Contains(d, "secret_body") {
		t.Errorf("diff\n%s\nwant legacy's status and header, the candidate's error, and no body", d)
	}
	if len(reps[0].Paths) != 0 {
		t.Errorf("paths %q, want none: the sides were not compared", reps[0].Paths)
	}
}
