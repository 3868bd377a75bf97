package dualrunhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrunhttp"
	"github.com/dualrun/dualrun/rollout"
)

// legacyItems is a handler with everything a client can see: a status
// other than 200, headers of its own (a cookie among them), a flush in
// the middle of the body and a body of a few kilobytes.
func legacyItems(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Served-By", "legacy")
	w.Header().Add("Set-Cookie", "session=legacy-secret")
	w.WriteHeader(http.StatusNonAuthoritativeInfo)
	fmt.Fprintf(w, `{"id":%q,"items":[`, r.PathValue("id"))
	w.(http.Flusher).Flush()
	for i := range 100 {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		fmt.Fprintf(w, `{"sku":"sku-%d","price":%d}`, i, 100+i)
	}
	_, _ = io.WriteString(w, "]}")
}

// TestHandlerClientGetsPrimary: whatever the shadow does, the client gets
// the primary's status, headers and bytes exactly, as a server of the
// primary alone would send them.
func TestHandlerClientGetsPrimary(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		candidate http.HandlerFunc
		policy    rollout.Policy
		want      dualrun.Outcome
	}{
		{
			name:   "candidate differs everywhere",
			reason: "status, headers and body of the candidate stay in its recorder",
			candidate: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("X-Served-By", "candidate")
				w.WriteHeader(http.StatusTeapot)
				_, _ = io.WriteString(w, "short and stout")
			},
			want: dualrun.Mismatch,
		},
		{
			name:      "candidate panics",
			reason:    "a shadow's panic is recovered by dualrun, never reaches net/http",
			candidate: func(http.ResponseWriter, *http.Request) { panic("candidate bug") },
			want:      dualrun.Panic,
		},
		{
			name:      "candidate aborts",
			reason:    "http.ErrAbortHandler in the shadow does not abort the client's response",
			candidate: func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) },
			want:      dualrun.Panic,
		},
		{
			name:   "candidate writes megabytes",
			reason: "the shadow's body is hashed beyond the limit, and never sent",
			candidate: func(w http.ResponseWriter, _ *http.Request) {
				chunk := bytes.Repeat([]byte("x"), 64<<10)
				for range 64 {
					_, _ = w.Write(chunk)
				}
			},
			want: dualrun.Mismatch,
		},
		{
			name:      "candidate writes nothing",
			reason:    "an empty 200 of the shadow changes nothing",
			candidate: func(http.ResponseWriter, *http.Request) {},
			want:      dualrun.Mismatch,
		},
		{
			name:      "candidate is the same",
			reason:    "a faithful candidate matches, and the client sees no difference either",
			candidate: legacyItems,
			want:      dualrun.Match,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			opts := e.options()
			if tt.policy != nil {
				opts = append(opts, dualrunhttp.WithExperimentOptions(dualrun.WithRollout(tt.policy)))
			}
			h := dualrunhttp.NewHandler(http.HandlerFunc(legacyItems), tt.candidate, opts...)
			release(t, h)
			mux := http.NewServeMux()
			mux.Handle("GET /items/{id}", h)
			bare := http.NewServeMux()
			bare.HandleFunc("GET /items/{id}", legacyItems)
			shadowed, alone := serve(t, mux), serve(t, bare)

			for i := range 3 {
				url := fmt.Sprintf("/items/%d", i)
				got, want := get(t, shadowed.Client(), shadowed.URL+url), get(t, alone.Client(), alone.URL+url)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: the client got\n%+v\nwant what the primary alone sends\n%+v\n(%s)", url, got, want, tt.reason)
				}
			}
			drain(t, h)
			rs := onlyRoute(t, h.Stats())
			if rs.Stats.Compared != 3 || rs.Stats.Count(tt.want) != 3 {
				t.Errorf("outcomes %v of %d compared calls, want 3 × %v (%s)", rs.Stats.Outcomes, rs.Stats.Compared, tt.want, tt.reason)
			}
		})
	}
}

// TestHandlerCandidatePrimary: when the rollout makes the candidate
// authoritative, the client gets exactly what the candidate alone sends,
// and legacy runs as the shadow.
func TestHandlerCandidatePrimary(t *testing.T) {
	e := newEnv(t)
	var legacyShadow atomic.Bool
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		legacyShadow.Store(dualrun.IsShadow(r.Context()))
		_, _ = io.WriteString(w, "legacy")
	})
	h := dualrunhttp.NewHandler(legacy, http.HandlerFunc(legacyItems),
		e.options(dualrunhttp.WithExperimentOptions(dualrun.WithRollout(candidatePrimary)))...)
	release(t, h)
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", h)
	bare := http.NewServeMux()
	bare.HandleFunc("GET /items/{id}", legacyItems)
	shadowed, alone := serve(t, mux), serve(t, bare)
	got, want := get(t, shadowed.Client(), shadowed.URL+"/items/9"), get(t, alone.Client(), alone.URL+"/items/9")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the client got\n%+v\nwant the candidate's\n%+v", got, want)
	}
	drain(t, h)
	rs := onlyRoute(t, h.Stats())
	if rs.Stats.CandidatePrimary != 1 || rs.Stats.Count(dualrun.Mismatch) != 1 || !legacyShadow.Load() {
		t.Errorf("candidate primary %d, outcomes %v, legacy ran as shadow %v: want 1, one mismatch, true",
			rs.Stats.CandidatePrimary, rs.Stats.Outcomes, legacyShadow.Load())
	}
}

// TestHandlerShadowNeverDelaysClient: a candidate that hangs, ignoring its
// context, or that is slow, honoring it, does not delay the client: the
// client's response is complete while the candidate is still blocked. The
// call is recorded as a timeout at the shadow's deadline.
func TestHandlerShadowNeverDelaysClient(t *testing.T) {
	tests := []struct {
		name    string
		reason  string
		honors  bool // the candidate returns at its context's deadline
		timeout time.Duration
	}{
		{name: "hangs", reason: "ignores its context: recorded at the deadline, its slot held until it returns", timeout: 20 * time.Millisecond},
		{name: "slow", reason: "returns when its context ends, past its deadline", honors: true, timeout: 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			entered, unblock := make(chan struct{}), make(chan struct{})
			var once sync.Once
			defer once.Do(func() { close(unblock) })
			candidate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				if tt.honors {
					<-r.Context().Done()
				}
				<-unblock
				_, _ = io.WriteString(w, "late")
			})
			h := dualrunhttp.NewHandler(http.HandlerFunc(legacyItems), candidate,
				e.options(dualrunhttp.WithExperimentOptions(dualrun.WithShadowTimeout(tt.timeout)))...)
			release(t, h)
			mux := http.NewServeMux()
			mux.Handle("GET /items/{id}", h)
			srv := serve(t, mux)

			got := get(t, srv.Client(), srv.URL+"/items/1")
			select {
			case <-entered:
			default:
				t.Fatal("the client's response came before the candidate even started: nothing was shown")
			}
			if got.status != http.StatusNonAuthoritativeInfo || !strings.HasPrefix(got.body, `{"id":"1"`) {
				t.Fatalf("the client got %d %q, want legacy's response", got.status, got.body)
			}
			// The candidate is still blocked: the client did not wait for it.
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			reps, err := e.rec.Wait(ctx, 1)
			if err != nil {
				t.Fatalf("no timeout reported: %v", err)
			}
			if reps[0].Outcome != dualrun.Timeout {
				t.Errorf("outcome %v, want timeout (%s)", reps[0].Outcome, tt.reason)
			}
			once.Do(func() { close(unblock) })
			drain(t, h)
			if rs := onlyRoute(t, h.Stats()); rs.Stats.Count(dualrun.Timeout) != 1 || rs.Stats.InFlight != 0 {
				t.Errorf("outcomes %v, in flight %d: want one timeout, none in flight", rs.Stats.Outcomes, rs.Stats.InFlight)
			}
		})
	}
}

// bodySeen records what a handler read of its request body.
type bodySeen struct {
	mu    sync.Mutex
	calls int
	n     int
	sum   [32]byte
	err   error
}

func (s *bodySeen) handler(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	s.mu.Lock()
	s.calls++
	s.n, s.sum, s.err = len(b), sha256.Sum256(b), err
	s.mu.Unlock()
	fmt.Fprintf(w, "%d bytes", len(b))
}

func (s *bodySeen) get() (calls, n int, sum [32]byte, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.n, s.sum, s.err
}

// TestHandlerRequestBodies: request bodies reach both sides intact, on
// compared calls (both get the buffered body) and on calls that are not
// compared (the primary gets it as it came, the shadow does not run).
func TestHandlerRequestBodies(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	tests := []struct {
		name          string
		reason        string
		method        string
		body          []byte
		chunked       bool
		opts          []dualrunhttp.Option
		wantCandidate bool
		wantSkip      dualrunhttp.SkipReason
	}{
		{name: "empty POST", reason: "no body to buffer", method: http.MethodPost, opts: []dualrunhttp.Option{dualrunhttp.WithMethods("POST")}, wantCandidate: true},
		{name: "one byte", reason: "buffered, a copy for each side", method: http.MethodPost, body: []byte("x"), opts: []dualrunhttp.Option{dualrunhttp.WithMethods("POST")}, wantCandidate: true},
		{name: "64 KiB", reason: "buffered within the default limit", method: http.MethodPut, body: big, opts: []dualrunhttp.Option{dualrunhttp.WithMethods("PUT")}, wantCandidate: true},
		{name: "chunked", reason: "no Content-Length: read to the end", method: http.MethodPost, body: big, chunked: true, opts: []dualrunhttp.Option{dualrunhttp.WithMethods("POST")}, wantCandidate: true},
		{name: "GET with a body", reason: "a body on a safe method is buffered too", method: http.MethodGet, body: []byte(`{"q":1}`), wantCandidate: true},
		{name: "too large", reason: "over the limit: the primary gets what was buffered and the rest", method: http.MethodPost, body: big, opts: []dualrunhttp.Option{dualrunhttp.WithMethods("POST"), dualrunhttp.WithMaxRequestBody(1000)}, wantSkip: dualrunhttp.SkipRequestTooLarge},
		{name: "too large chunked", reason: "over the limit, length unknown", method: http.MethodPost, body: big, chunked: true, opts: []dualrunhttp.Option{dualrunhttp.WithMethods("POST"), dualrunhttp.WithMaxRequestBody(1000)}, wantSkip: dualrunhttp.SkipRequestTooLarge},
		{name: "POST by default", reason: "not compared: the primary reads the body untouched", method: http.MethodPost, body: big, wantSkip: dualrunhttp.SkipMethod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var legacy, candidate bodySeen
			h := dualrunhttp.NewHandler(http.HandlerFunc(legacy.handler), http.HandlerFunc(candidate.handler), e.options(tt.opts...)...)
			release(t, h)
			srv := serve(t, h)
			var body io.Reader = bytes.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequest(tt.method, srv.URL+"/upload", body)
			if err != nil {
				t.Fatal(err)
			}
			got := do(t, srv.Client(), req)
			if want := fmt.Sprintf("%d bytes", len(tt.body)); got.body != want {
				t.Errorf("response %q, want %q", got.body, want)
			}
			drain(t, h)
			wantSum := sha256.Sum256(tt.body)
			if calls, n, sum, err := legacy.get(); calls != 1 || n != len(tt.body) || sum != wantSum || err != nil {
				t.Errorf("legacy read %d calls, %d bytes, err %v; want 1 call with the %d bytes sent (%s)", calls, n, err, len(tt.body), tt.reason)
			}
			calls, n, sum, err := candidate.get()
			if !tt.wantCandidate {
				rs := onlyRoute(t, h.Stats())
				if calls != 0 || rs.Skipped[tt.wantSkip] != 1 || rs.Stats.Compared != 0 {
					t.Errorf("candidate ran %d times, skipped %v, compared %d: want 0, one %v, 0 (%s)", calls, rs.Skipped, rs.Stats.Compared, tt.wantSkip, tt.reason)
				}
				return
			}
			if calls != 1 || n != len(tt.body) || sum != wantSum || err != nil {
				t.Errorf("candidate read %d calls, %d bytes, err %v; want 1 call with the %d bytes sent (%s)", calls, n, err, len(tt.body), tt.reason)
			}
			if rs := onlyRoute(t, h.Stats()); rs.Stats.Count(dualrun.Match) != 1 {
				t.Errorf("outcomes %v, want a match: both sides read the same body", rs.Stats.Outcomes)
			}
		})
	}
}

// TestHandlerStreams: the primary's response still streams: the client
// reads the first bytes while the handler has not finished (it waits for
// the client to have them), over HTTP/1.1 and HTTP/2, with Flush and with
// http.ResponseController.
func TestHandlerStreams(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		http2  bool
		flush  func(w http.ResponseWriter) error
	}{
		{name: "HTTP/1.1 Flusher", reason: "the wrapper has Flush because the real writer has", flush: func(w http.ResponseWriter) error { w.(http.Flusher).Flush(); return nil }},
		{name: "HTTP/1.1 ResponseController", reason: "FlushError reaches the real writer", flush: func(w http.ResponseWriter) error { return http.NewResponseController(w).Flush() }},
		{name: "HTTP/2 Flusher", reason: "the HTTP/2 writer is wrapped the same way", http2: true, flush: func(w http.ResponseWriter) error { w.(http.Flusher).Flush(); return nil }},
		{name: "HTTP/2 ResponseController", reason: "through Unwrap and FlushError", http2: true, flush: func(w http.ResponseWriter) error { return http.NewResponseController(w).Flush() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			gotFirst := make(chan struct{})
			var finished atomic.Bool
			var flushErr atomic.Value
			stream := func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "first\n")
				if err := tt.flush(w); err != nil {
					flushErr.Store(err)
				}
				if !dualrun.IsShadow(r.Context()) {
					select {
					case <-gotFirst:
					case <-r.Context().Done():
					}
				}
				_, _ = io.WriteString(w, "second\n")
				if !dualrun.IsShadow(r.Context()) {
					finished.Store(true)
				}
			}
			h := dualrunhttp.NewHandler(http.HandlerFunc(stream), http.HandlerFunc(stream), e.options()...)
			release(t, h)
			srv := serve(t, h)
			if tt.http2 {
				srv = serveTLS(t, h)
			}
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("the headers did not come before the handler finished: %v (%s)", err, tt.reason)
			}
			defer resp.Body.Close()
			if tt.http2 != (resp.ProtoMajor == 2) {
				t.Fatalf("protocol %s", resp.Proto)
			}
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			if err != nil || line != "first\n" {
				t.Fatalf("first line %q, %v: the first bytes did not come before the handler finished (%s)", line, err, tt.reason)
			}
			if finished.Load() {
				t.Fatal("the handler finished before the client had its first bytes")
			}
			close(gotFirst)
			rest, err := io.ReadAll(br)
			if err != nil || string(rest) != "second\n" {
				t.Fatalf("rest %q, %v", rest, err)
			}
			if err, _ := flushErr.Load().(error); err != nil {
				t.Errorf("flush failed: %v", err)
			}
			drain(t, h)
			if rs := onlyRoute(t, h.Stats()); rs.Stats.Count(dualrun.Match) != 1 {
				t.Errorf("outcomes %v, want a match", rs.Stats.Outcomes)
			}
		})
	}
}

// TestHandlerWriterInterfaces: on a compared call the primary's writer
// has exactly the optional interfaces of the real one, and
// http.ResponseController's deadlines and full duplex reach the real one.
func TestHandlerWriterInterfaces(t *testing.T) {
	type seen struct {
		flusher, hijacker, pusher bool
		deadline, duplex          string
	}
	probe := func(out chan<- seen) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if dualrun.IsShadow(r.Context()) {
				return
			}
			var s seen
			_, s.flusher = w.(http.Flusher)
			_, s.hijacker = w.(http.Hijacker)
			_, s.pusher = w.(http.Pusher)
			rc := http.NewResponseController(w)
			s.deadline = fmt.Sprint(rc.SetWriteDeadline(time.Now().Add(time.Hour)))
			s.duplex = fmt.Sprint(rc.EnableFullDuplex())
			out <- s
		}
	}
	for _, http2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", http2), func(t *testing.T) {
			e := newEnv(t)
			start := serve
			if http2 {
				start = serveTLS
			}
			bareSeen, shadowSeen := make(chan seen, 1), make(chan seen, 1)
			bare := start(t, probe(bareSeen))
			h := dualrunhttp.NewHandler(probe(shadowSeen), http.NotFoundHandler(), e.options()...)
			release(t, h)
			shadowed := start(t, h)
			get(t, bare.Client(), bare.URL)
			get(t, shadowed.Client(), shadowed.URL)
			want, got := <-bareSeen, <-shadowSeen
			if got != want {
				t.Errorf("the primary's writer has %+v, the real one %+v", got, want)
			}
			drain(t, h)
			if rs := onlyRoute(t, h.Stats()); rs.Stats.Compared != 1 {
				t.Errorf("compared %d, want 1: the call must have been compared", rs.Stats.Compared)
			}
		})
	}
}

// TestHandlerHijack: the primary can hijack the connection on a compared
// call; there is then no response to compare, and the outcome is ignored.
func TestHandlerHijack(t *testing.T) {
	e := newEnv(t)
	legacy := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		brw.Flush()
	})
	h := dualrunhttp.NewHandler(legacy, http.HandlerFunc(legacyItems), e.options()...)
	release(t, h)
	srv := serve(t, h)
	if got := get(t, srv.Client(), srv.URL); got.body != "hijacked" {
		t.Fatalf("the client got %q, want what the hijacking handler wrote", got.body)
	}
	drain(t, h)
	rs := onlyRoute(t, h.Stats())
	if rs.Hijacked != 1 || rs.Stats.Count(dualrun.Ignored) != 1 {
		t.Errorf("hijacked %d, outcomes %v: want 1 and one ignored", rs.Hijacked, rs.Stats.Outcomes)
	}
}

// TestHandlerMethods: only GET, HEAD and OPTIONS are compared by default;
// writes run the primary only, counted as SkipMethod, unless WithMethods
// allows them. The rollout still picks the primary for them.
func TestHandlerMethods(t *testing.T) {
	methods := []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	tests := []struct {
		name     string
		reason   string
		opts     []dualrunhttp.Option
		policy   rollout.Policy
		compared int64
		skipped  int64
		primary  string
	}{
		{name: "default", reason: "a write compared is a write done twice", compared: 3, skipped: 4, primary: "legacy"},
		{name: "writes allowed", reason: "WithMethods opts in", opts: []dualrunhttp.Option{dualrunhttp.WithMethods("get", "head", "options", "post", "put", "patch", "delete")}, compared: 7, primary: "legacy"},
		{name: "candidate primary", reason: "uncompared writes still go to the side the rollout picks", policy: candidatePrimary, compared: 3, skipped: 4, primary: "candidate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var mu sync.Mutex
			shadowed := map[string]int{}
			served := map[string]string{}
			side := func(name string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					if dualrun.IsShadow(r.Context()) {
						shadowed[r.Method]++
					} else {
						served[r.Method] = name
					}
					mu.Unlock()
					_, _ = io.WriteString(w, "ok")
				}
			}
			opts := e.options(tt.opts...)
			if tt.policy != nil {
				opts = append(opts, dualrunhttp.WithExperimentOptions(dualrun.WithRollout(tt.policy)))
			}
			h := dualrunhttp.NewHandler(side("legacy"), side("candidate"), opts...)
			release(t, h)
			srv := serve(t, h)
			for _, m := range methods {
				req, _ := http.NewRequest(m, srv.URL, strings.NewReader("payload"))
				do(t, srv.Client(), req)
			}
			drain(t, h)
			rs := onlyRoute(t, h.Stats())
			if rs.Stats.Compared != tt.compared || rs.Skipped[dualrunhttp.SkipMethod] != tt.skipped {
				t.Errorf("compared %d, skipped %v; want %d and %d for method (%s)", rs.Stats.Compared, rs.Skipped, tt.compared, tt.skipped, tt.reason)
			}
			mu.Lock()
			defer mu.Unlock()
			var n int
			for m, c := range shadowed {
				n += c
				if tt.skipped > 0 && m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions {
					t.Errorf("%s ran as shadow: writes must not be shadowed by default", m)
				}
			}
			if int64(n) != tt.compared {
				t.Errorf("%d shadows ran, want %d", n, tt.compared)
			}
			for _, m := range methods {
				if served[m] != tt.primary {
					t.Errorf("%s served by %q, want %q", m, served[m], tt.primary)
				}
			}
		})
	}
}

// TestHandlerUpgradeNotCompared: requests that take over the connection
// run the primary only.
func TestHandlerUpgradeNotCompared(t *testing.T) {
	e := newEnv(t)
	var shadows atomic.Int64
	candidate := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { shadows.Add(1) })
	h := dualrunhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "no upgrade") }), candidate, e.options()...)
	release(t, h)
	srv := serve(t, h)
	for _, hdr := range []http.Header{
		{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}},
		{"Connection": {"keep-alive, Upgrade"}},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header = hdr
		if got := do(t, srv.Client(), req); got.body != "no upgrade" {
			t.Fatalf("body %q", got.body)
		}
	}
	drain(t, h)
	rs := onlyRoute(t, h.Stats())
	if shadows.Load() != 0 || rs.Skipped[dualrunhttp.SkipUpgrade] != 2 {
		t.Errorf("shadows %d, skipped %v: want none and 2 upgrades", shadows.Load(), rs.Skipped)
	}
}

// TestHandlerShadowContext: the shadow sees IsShadow, its own clone of the
// request (with the route's path values), and a context that the client
// going away does not cancel.
func TestHandlerShadowContext(t *testing.T) {
	e := newEnv(t)
	type view struct {
		shadow  bool
		id      string
		pattern string
		header  string
	}
	views := make(chan view, 2)
	side := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if dualrun.IsShadow(r.Context()) {
			r.Header.Set("X-Mutated", "by the shadow") // its own clone
		}
		views <- view{dualrun.IsShadow(r.Context()), r.PathValue("id"), r.Pattern, r.Header.Get("X-Mutated")}
	})
	h := dualrunhttp.NewHandler(side, side, e.options()...)
	release(t, h)
	mux := http.NewServeMux()
	mux.Handle("GET /users/{id}", h)
	srv := serve(t, mux)
	get(t, srv.Client(), srv.URL+"/users/42")
	drain(t, h)
	got := map[bool]view{}
	for range 2 {
		v := <-views
		got[v.shadow] = v
	}
	if p := got[false]; p.id != "42" || p.pattern != "GET /users/{id}" || p.header != "" {
		t.Errorf("primary saw %+v", p)
	}
	if s := got[true]; s.id != "42" || s.pattern != "GET /users/{id}" || s.header != "by the shadow" {
		t.Errorf("shadow saw %+v", s)
	}
}

// TestHandlerRoutes: experiments are named by route, never by URL; ids
// share their route's experiment; the cap folds further routes into
// "_OTHER".
func TestHandlerRoutes(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	tests := []struct {
		name   string
		reason string
		mount  func(h http.Handler) http.Handler
		opts   []dualrunhttp.Option
		legacy http.Handler
		paths  []string
		want   map[string]int64 // experiment → calls
		fails  int64
	}{
		{
			name:   "ServeMux patterns",
			reason: "r.Pattern names the route; ids do not multiply experiments",
			mount: func(h http.Handler) http.Handler {
				mux := http.NewServeMux()
				mux.Handle("GET /items/{id}", h)
				mux.Handle("/static/", h)
				return mux
			},
			paths: []string{"/items/1", "/items/2", "/items/3", "/static/a.css", "/static/b/c.js"},
			want:  map[string]int64{"http.server GET /items/{id}": 3, "http.server /static/": 2},
		},
		{
			name:   "wrapping a legacy ServeMux",
			reason: "the pattern the legacy mux would route to",
			legacy: func() http.Handler {
				mux := http.NewServeMux()
				mux.Handle("GET /a/{x}", ok)
				mux.Handle("GET /b", ok)
				return mux
			}(),
			paths: []string{"/a/1", "/a/2", "/b", "/nowhere"},
			want:  map[string]int64{"http.server GET /a/{x}": 2, "http.server GET /b": 1, "http.server": 1},
		},
		{
			name:   "no pattern",
			reason: "the name alone",
			opts:   []dualrunhttp.Option{dualrunhttp.WithName("catalog")},
			paths:  []string{"/x/1", "/y/2"},
			want:   map[string]int64{"catalog": 2},
		},
		{
			name:   "route func",
			reason: "a func of one's own",
			opts: []dualrunhttp.Option{dualrunhttp.WithRoute(func(r *http.Request) string {
				first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
				return first
			})},
			paths: []string{"/x/1", "/x/2", "/y/2"},
			want:  map[string]int64{"http.server x": 2, "http.server y": 1},
		},
		{
			name:   "capped",
			reason: "beyond WithMaxRoutes, routes share _OTHER",
			opts: []dualrunhttp.Option{dualrunhttp.WithMaxRoutes(2), dualrunhttp.WithRoute(func(r *http.Request) string {
				return r.URL.Path // high cardinality on purpose
			})},
			paths: []string{"/1", "/2", "/3", "/4", "/1"},
			want:  map[string]int64{"http.server /1": 2, "http.server /2": 1, "http.server _OTHER": 2},
		},
		{
			name:   "panicking route func",
			reason: "no route for that call, counted",
			opts:   []dualrunhttp.Option{dualrunhttp.WithRoute(func(*http.Request) string { panic("route bug") })},
			paths:  []string{"/1", "/2"},
			want:   map[string]int64{"http.server": 2},
			fails:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			legacy := tt.legacy
			if legacy == nil {
				legacy = ok
			}
			h := dualrunhttp.NewHandler(legacy, ok, e.options(tt.opts...)...)
			release(t, h)
			var root http.Handler = h
			if tt.mount != nil {
				root = tt.mount(h)
			}
			srv := serve(t, root)
			for _, p := range tt.paths {
				get(t, srv.Client(), srv.URL+p)
			}
			drain(t, h)
			s := h.Stats()
			got := map[string]int64{}
			for _, r := range s.Routes {
				got[r.Stats.Name] = r.Stats.Calls
			}
			if !reflect.DeepEqual(got, tt.want) || s.RouteFailures != tt.fails {
				t.Errorf("experiments %v, route failures %d; want %v, %d (%s)", got, s.RouteFailures, tt.want, tt.fails, tt.reason)
			}
		})
	}
}

// TestHandlerRolloutKey: WithRolloutKey buckets by the key, so a key keeps
// its decision; a panicking key func is counted and gives no key.
func TestHandlerRolloutKey(t *testing.T) {
	e := newEnv(t)
	var keys sync.Map
	legacy := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		k, _ := rollout.KeyFrom(r.Context())
		keys.Store(k, true)
	})
	h := dualrunhttp.NewHandler(legacy, legacy, e.options(dualrunhttp.WithRolloutKey(func(r *http.Request) string {
		if r.URL.Query().Get("user") == "bad" {
			panic("key bug")
		}
		return r.URL.Query().Get("user")
	}))...)
	release(t, h)
	srv := serve(t, h)
	for _, u := range []string{"ann", "bob", "bad"} {
		get(t, srv.Client(), srv.URL+"/?user="+u)
	}
	drain(t, h)
	for _, k := range []string{"ann", "bob", ""} {
		if _, ok := keys.Load(k); !ok {
			t.Errorf("no call saw the key %q", k)
		}
	}
	if s := h.Stats(); s.KeyFailures != 1 {
		t.Errorf("key failures %d, want 1", s.KeyFailures)
	}
}

// TestHandlerSkippedMetric: the skipped calls are exported per experiment
// and reason, every reason from the route's first call.
func TestHandlerSkippedMetric(t *testing.T) {
	e := newEnv(t)
	h := dualrunhttp.NewHandler(http.NotFoundHandler(), http.NotFoundHandler(), e.options(dualrunhttp.WithName("shop"))...)
	release(t, h)
	srv := serve(t, h)
	for range 2 {
		req, _ := http.NewRequest(http.MethodDelete, srv.URL, nil)
		do(t, srv.Client(), req)
	}
	drain(t, h)
	got := map[string]int64{}
	for _, sm := range e.collect().ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != dualrunhttp.MetricSkipped {
				continue
			}
			if sm.Scope.Name != dualrunhttp.ScopeName || m.Unit != "{call}" {
				t.Errorf("scope %q unit %q", sm.Scope.Name, m.Unit)
			}
			for _, dp := range sumPoints(t, m.Data) {
				exp, _ := dp.Attributes.Value(dualrun.AttrExperiment)
				reason, _ := dp.Attributes.Value(dualrunhttp.AttrReason)
				got[exp.AsString()+"/"+reason.AsString()] = dp.Value
			}
		}
	}
	want := map[string]int64{"shop/method": 2, "shop/upgrade": 0, "shop/request_too_large": 0, "shop/request_body_error": 0, "shop/nested_shadow": 0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", dualrunhttp.MetricSkipped, got, want)
	}
	h.Unregister()
	for _, sm := range e.collect().ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == dualrunhttp.MetricSkipped && len(sumPoints(t, m.Data)) > 0 {
				t.Errorf("after Unregister %s is still exported", m.Name)
			}
		}
	}
}

// TestNewHandlerPanics: programmer errors are found at construction.
func TestNewHandlerPanics(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		build  func()
	}{
		{name: "nil legacy", reason: "nothing to serve", build: func() { dualrunhttp.NewHandler(nil, http.NotFoundHandler()) }},
		{name: "typed option for another type", reason: "dualrun.New would panic on the first request", build: func() {
			dualrunhttp.NewHandler(http.NotFoundHandler(), http.NotFoundHandler(),
				dualrunhttp.WithExperimentOptions(dualrun.WithNormalizer(func(v int) int { return v })))
		}},
		{name: "bad ignore path", reason: "a pattern must start with $", build: func() { dualrunhttp.WithIgnoreJSONPaths("items.id") }},
		{name: "folded path", reason: "a Report's folded path is not a pattern", build: func() { dualrunhttp.WithUnorderedArrays("$.a…b") }},
		{name: "relative candidate URL", reason: "the Transport needs a scheme and host", build: func() { dualrunhttp.WithCandidateURL("/v2") }},
		{name: "empty name", reason: "an experiment needs a name", build: func() { dualrunhttp.WithName("") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic (%s)", tt.reason)
				}
			}()
			tt.build()
		})
	}
}

// TestHandlerReports: a mismatch's differing parts are the experiment's
// own paths — the JSON paths and the compared headers — in the Report's
// Paths, the experiment's Stats.Fields and mismatch classes, and the
// dualrun.mismatch.fields metric; the Report's Diff shows both values at
// each, and never a secret header's value.
func TestHandlerReports(t *testing.T) {
	e := newEnv(t)
	item := func(price string) string {
		return `{"sku":"a","price":1,"updated_at":"t1"},{"sku":"b","price":` + price + `,"updated_at":"t2"}`
	}
	side := func(requestID, price, tags, cookie string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Set-Cookie", cookie)
			w.Header().Set("Authorization", "Bearer "+cookie)
			fmt.Fprintf(w, `{"request_id":%q,"items":[%s],"tags":%s,"total":9007199254740993}`, requestID, item(price), tags)
		}
	}
	legacy := side("r-1", "2", `["x","y"]`, "session=hunter2")
	candidate := side("r-2", "3", `["y","x"]`, "session=swordfish")
	h := dualrunhttp.NewHandler(legacy, candidate, e.options(
		dualrunhttp.WithName("items"),
		dualrunhttp.WithHeaders("Content-Type", "Set-Cookie", "Authorization"),
		dualrunhttp.WithIgnoreJSONPaths("$.request_id", "$.items[*].updated_at"),
		dualrunhttp.WithUnorderedArrays("$.tags"),
	)...)
	release(t, h)
	srv := serve(t, h)
	got := get(t, srv.Client(), srv.URL)
	if got.header.Get("Set-Cookie") != "session=hunter2" {
		t.Fatalf("the client got cookie %q, want legacy's", got.header.Get("Set-Cookie"))
	}
	drain(t, h)
	reps := e.rec.Reports()
	if len(reps) != 1 {
		t.Fatalf("%d reports, want 1", len(reps))
	}
	r := reps[0]
	wantPaths := []string{"$.items[*].price", "header Authorization", "header Set-Cookie"}
	if !reflect.DeepEqual(r.Paths, wantPaths) {
		t.Errorf("report paths %q, want %q", r.Paths, wantPaths)
	}
	for _, want := range []string{"$.items[*].price (at $.items[1].price)\n  - 2\n  + 3\n", "header Set-Cookie\n  - \"[redacted "} {
		if !strings.Contains(r.Diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, r.Diff)
		}
	}
	for _, secret := range []string{"hunter2", "swordfish"} {
		if strings.Contains(r.Diff, secret) || strings.Contains(fmt.Sprint(r), secret) {
			t.Errorf("the report shows the secret %q:\n%s", secret, r.Diff)
		}
	}
	for _, quiet := range []string{"request_id", "updated_at", "tags", "total"} {
		if strings.Contains(r.Diff, quiet) {
			t.Errorf("the diff shows %q, which is ignored, unordered or equal:\n%s", quiet, r.Diff)
		}
	}
	st := onlyRoute(t, h.Stats()).Stats
	fields := map[string]int64{}
	for _, f := range st.Fields {
		fields[f.Path] = f.Count
	}
	want := map[string]int64{"$.items[*].price": 1, "header Authorization": 1, "header Set-Cookie": 1}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("experiment fields %v, want %v", fields, want)
	}
	if len(st.Classes) != 1 || !reflect.DeepEqual(st.Classes[0].Paths, wantPaths) || st.Classes[0].Kind != dualrun.ValueMismatch {
		t.Errorf("classes %+v, want one value mismatch on %q", st.Classes, wantPaths)
	}
	metric := map[string]int64{}
	for _, sm := range e.collect().ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != dualrun.MetricMismatchFields {
				continue
			}
			for _, dp := range sumPoints(t, m.Data) {
				exp, _ := dp.Attributes.Value(dualrun.AttrExperiment)
				field, _ := dp.Attributes.Value(dualrun.AttrField)
				if exp.AsString() == "items" {
					metric[field.AsString()] = dp.Value
				}
			}
		}
	}
	if !reflect.DeepEqual(metric, want) {
		t.Errorf("%s by %s = %v, want %v", dualrun.MetricMismatchFields, dualrun.AttrField, metric, want)
	}
}

// TestHandlerPrimaryPanics: the primary is never recovered: its panic
// reaches net/http as without dualrun (the client's connection is cut),
// and the call is recorded as aborted.
func TestHandlerPrimaryPanics(t *testing.T) {
	e := newEnv(t)
	legacy := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	h := dualrunhttp.NewHandler(legacy, http.HandlerFunc(legacyItems), e.options()...)
	release(t, h)
	srv := serve(t, h)
	bare := serve(t, legacy)
	for _, url := range []string{bare.URL, srv.URL} {
		resp, err := srv.Client().Get(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "partial" || err == nil {
			t.Errorf("%s: read %q, %v; want the flushed part, then the connection cut", url, b, err)
		}
	}
	drain(t, h)
	if rs := onlyRoute(t, h.Stats()); rs.Stats.Count(dualrun.Aborted) != 1 {
		t.Errorf("outcomes %v, want one aborted", rs.Stats.Outcomes)
	}
}

// TestHandlerSkipsNestedShadow: a request whose context is already a
// shadow's (a ShadowHandler mounted inside a handler that runs as a
// shadow) runs the primary only, counted as SkipNestedShadow.
func TestHandlerSkipsNestedShadow(t *testing.T) {
	e := newEnv(t)
	var candidateRuns atomic.Int64
	candidate := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { candidateRuns.Add(1) })
	legacy := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "legacy") })
	h := dualrunhttp.NewHandler(legacy, candidate, e.options()...)
	release(t, h)
	for _, shadow := range []bool{true, false} {
		ctx := context.Background()
		if shadow {
			ctx = dualrun.AsShadow(ctx)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil))
		if rec.Body.String() != "legacy" {
			t.Fatalf("shadow context %v: served %q, want legacy's response", shadow, rec.Body.String())
		}
	}
	drain(t, h)
	rs := onlyRoute(t, h.Stats())
	if candidateRuns.Load() != 1 || rs.Skipped[dualrunhttp.SkipNestedShadow] != 1 || rs.Stats.Compared != 1 || rs.Stats.Calls != 2 {
		t.Errorf("candidate ran %d times, skipped %v, %d of %d calls compared; want 1, one nested_shadow, 1 of 2",
			candidateRuns.Load(), rs.Skipped, rs.Stats.Compared, rs.Stats.Calls)
	}
}

// TestHandlerCalibration: with dualrun.WithCalibration, legacy runs a
// second time after the call, into a recorder, never to the client; the
// JSON paths on which legacy differs from itself are learned as noise, and
// mismatches on nothing else become ignored, while a real difference stays
// a mismatch.
func TestHandlerCalibration(t *testing.T) {
	const calls = 20
	e := newEnv(t)
	var served, n atomic.Int64
	calibrated := make(chan struct{}, calls)
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"request_id":"L-%d","v":1}`, n.Add(1))
		if dualrun.IsShadow(r.Context()) {
			calibrated <- struct{}{}
		} else {
			served.Add(1)
		}
	})
	candidate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := 1
		if r.URL.Query().Get("i") == "15" {
			v = 2 // the one real difference
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"request_id":"C-%d","v":%d}`, n.Add(1), v)
	})
	h := dualrunhttp.NewHandler(legacy, candidate, e.options(dualrunhttp.WithExperimentOptions(dualrun.WithCalibration(1)))...)
	release(t, h)
	srv := serve(t, h)
	for i := range calls {
		got := get(t, srv.Client(), fmt.Sprintf("%s/?i=%d", srv.URL, i))
		var doc struct {
			RequestID string `json:"request_id"`
			V         int
		}
		if err := json.Unmarshal([]byte(got.body), &doc); err != nil || !strings.HasPrefix(doc.RequestID, "L-") || doc.V != 1 {
			t.Fatalf("call %d: the client got %q (%v), want one response of legacy's", i, got.body, err)
		}
		select { // the calibration run of this call, before the next call
		case <-calibrated:
		case <-time.After(guard):
			t.Fatalf("call %d: legacy did not run a second time", i)
		}
	}
	drain(t, h)
	st := onlyRoute(t, h.Stats()).Stats
	cal := st.Calibration
	if served.Load() != calls || cal.Calls != calls || cal.Samples != calls {
		t.Fatalf("legacy served %d clients, calibration calls %d, samples %d; want %d each", served.Load(), cal.Calls, cal.Samples, calls)
	}
	if len(cal.Paths) == 0 || cal.Paths[0].Path != "$.request_id" || cal.Paths[0].Noise != calls {
		t.Errorf("learned %+v, want $.request_id as noise on every sample", cal.Paths)
	}
	// Calls from the 12th on see at least 10 samples (one calibration
	// may still be recording when the next call is compared).
	if st.Count(dualrun.Ignored) < calls-12 || cal.IgnoredAsNoise != st.Count(dualrun.Ignored) ||
		st.Count(dualrun.Ignored)+st.Count(dualrun.Mismatch) != calls {
		t.Errorf("outcomes %v, ignored as noise %d: want at least %d ignored as noise, the rest mismatches", st.Outcomes, cal.IgnoredAsNoise, calls-12)
	}
	for _, f := range st.Fields {
		if f.Path == "$.v" && f.Count != 1 {
			t.Errorf("$.v counted %d times, want the one real difference", f.Count)
		}
	}
	if !slices.ContainsFunc(st.Fields, func(f dualrun.FieldCount) bool { return f.Path == "$.v" }) {
		t.Errorf("fields %v lack the real difference $.v", st.Fields)
	}
}

// TestHandlerCalibrationRuns: legacy's second run gets the request as it
// came — body intact, headers as the client sent them, even after a run
// changed its own copy — whichever side is primary, and never writes to
// the client.
func TestHandlerCalibrationRuns(t *testing.T) {
	body := bytes.Repeat([]byte("payload "), 1000)
	tests := []struct {
		name, reason string
		policy       rollout.Policy
		primary      string
	}{
		{name: "legacy primary", reason: "the second run of the primary is served like a shadow", primary: "legacy"},
		{name: "candidate primary", reason: "legacy is the shadow, and runs twice", policy: candidatePrimary, primary: "candidate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var legacyRuns, spoiled atomic.Int64
			legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				legacyRuns.Add(1)
				b, err := io.ReadAll(r.Body)
				if err != nil || !bytes.Equal(b, body) || r.Header.Get("X-Seen") != "" || r.PathValue("id") != "7" {
					spoiled.Add(1)
				}
				r.Header.Set("X-Seen", "yes") // changes this run's request only
				_, _ = io.WriteString(w, "legacy")
			})
			candidate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(w, "candidate")
			})
			opts := e.options(dualrunhttp.WithMethods("POST"), dualrunhttp.WithExperimentOptions(dualrun.WithCalibration(1)))
			if tt.policy != nil {
				opts = append(opts, dualrunhttp.WithExperimentOptions(dualrun.WithRollout(tt.policy)))
			}
			h := dualrunhttp.NewHandler(legacy, candidate, opts...)
			release(t, h)
			mux := http.NewServeMux()
			mux.Handle("POST /orders/{id}", h)
			srv := serve(t, mux)
			const calls = 3
			for range calls {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/orders/7", bytes.NewReader(body))
				if got := do(t, srv.Client(), req); got.body != tt.primary {
					t.Fatalf("the client got %q, want only %s's response (%s)", got.body, tt.primary, tt.reason)
				}
			}
			drain(t, h)
			st := onlyRoute(t, h.Stats()).Stats
			if legacyRuns.Load() != 2*calls || spoiled.Load() != 0 || st.Calibration.Samples != calls {
				t.Errorf("legacy ran %d times, %d of them on a spoiled request, %d samples; want %d, 0, %d (%s)",
					legacyRuns.Load(), spoiled.Load(), st.Calibration.Samples, 2*calls, calls, tt.reason)
			}
		})
	}
}
