package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualrun/dualrun/examples/service/shipping"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		target string
		ok     bool
	}{
		{"ipv4 loopback", "the default", "http://127.0.0.1:8080", true},
		{"other 127/8", "all of 127.0.0.0/8 is loopback", "http://127.1.2.3:8080/", true},
		{"ipv6 loopback", "::1", "http://[::1]:8080", true},
		{"localhost", "resolves to loopback", "http://localhost:8080", true},
		{"private address", "never another machine", "http://10.0.0.1:8080", false},
		{"public name", "never another machine", "http://example.com:8080", false},
		{"unspecified", "0.0.0.0 is not a loopback address", "http://0.0.0.0:8080", false},
		{"https", "the example serves plain HTTP", "https://127.0.0.1:8080", false},
		{"no port", "explicit port", "http://127.0.0.1", false},
		{"bad port", "out of range", "http://127.0.0.1:99999", false},
		{"path", "the base URL only", "http://127.0.0.1:8080/v1/quote", false},
		{"credentials", "none", "http://u:p@127.0.0.1:8080", false},
		{"garbage", "not a URL", "::", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := parseTarget(tt.target)
			if (err == nil) != tt.ok {
				t.Errorf("parseTarget(%q) = %v, %v; want ok %v (%s)", tt.target, u, err, tt.ok, tt.reason)
			}
		})
	}
}

func TestLoadConfigBounds(t *testing.T) {
	target, _ := url.Parse("http://127.0.0.1:1")
	ok := loadConfig{target: target, requests: 10, rate: 10, duration: time.Second, concurrency: 1}
	tests := []struct {
		name   string
		reason string
		edit   func(*loadConfig)
		ok     bool
	}{
		{"valid", "within every bound", func(*loadConfig) {}, true},
		{"no target", "nowhere to send", func(c *loadConfig) { c.target = nil }, false},
		{"no requests", "at least one", func(c *loadConfig) { c.requests = 0 }, false},
		{"too many requests", "bounded", func(c *loadConfig) { c.requests = maxRequests + 1 }, false},
		{"zero rate", "no rate", func(c *loadConfig) { c.rate = 0 }, false},
		{"NaN rate", "NaN compares false", func(c *loadConfig) { c.rate = math.NaN() }, false},
		{"rate too high", "bounded", func(c *loadConfig) { c.rate = maxRate + 1 }, false},
		{"no duration", "bounded in time", func(c *loadConfig) { c.duration = 0 }, false},
		{"too long", "bounded in time", func(c *loadConfig) { c.duration = maxDuration + 1 }, false},
		{"no concurrency", "at least one", func(c *loadConfig) { c.concurrency = 0 }, false},
		{"negative warm-up", "a pause", func(c *loadConfig) { c.warmup = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if err := c.check(); (err == nil) != tt.ok {
				t.Errorf("check() = %v, want ok %v (%s)", err, tt.ok, tt.reason)
			}
		})
	}
}

// countingServer answers quote requests with 200, or 422 for zone XX, and
// keeps the order IDs it saw, in order.
type countingServer struct {
	*httptest.Server
	mu  sync.Mutex
	ids []string
}

func newCountingServer(t *testing.T) *countingServer {
	t.Helper()
	cs := &countingServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeRequest(r.Body)
		if err != nil || r.URL.Path != quotePath || r.Method != http.MethodPost {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		cs.mu.Lock()
		cs.ids = append(cs.ids, req.OrderID)
		cs.mu.Unlock()
		if req.Zone == "XX" {
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
	}))
	t.Cleanup(cs.Close)
	return cs
}

// seen returns the order IDs received so far.
func (cs *countingServer) seen() []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return slices.Clone(cs.ids)
}

func TestRunLoad(t *testing.T) {
	srv := newCountingServer(t)
	target, err := parseTarget(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	const requests = 300
	sum, err := runLoad(context.Background(), loadConfig{
		target: target, requests: requests, rate: maxRate, duration: time.Minute, concurrency: 8,
	}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	want422 := 0
	for _, r := range shipping.Inputs(requests) {
		if r.Zone == "XX" {
			want422++
		}
	}
	if n := len(srv.seen()); !sum.Complete || sum.Sent != requests || sum.Failed != 0 || n != requests {
		t.Errorf("summary %+v, server saw %d; want all %d sent", sum, n, requests)
	}
	if sum.Statuses["422"] != want422 || sum.Statuses["200"] != requests-want422 {
		t.Errorf("statuses %v, want 422: %d, 200: %d", sum.Statuses, want422, requests-want422)
	}
}

// TestRunLoadBounded checks that the duration bounds the load: at 20
// requests per second, 100 requests cannot all go in 300 ms.
func TestRunLoadBounded(t *testing.T) {
	srv := newCountingServer(t)
	target, _ := parseTarget(srv.URL)
	start := time.Now()
	sum, err := runLoad(context.Background(), loadConfig{
		target: target, requests: 100, rate: 20, duration: 300 * time.Millisecond, concurrency: 2,
	}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Complete || sum.Sent+sum.Failed >= 100 || sum.Sent > len(srv.seen()) {
		t.Errorf("summary %+v: want an incomplete run", sum)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the load took %v with a 300ms bound", d)
	}
}

// TestRunLoadWarmup checks that the warm-up request goes alone, first.
func TestRunLoadWarmup(t *testing.T) {
	srv := newCountingServer(t)
	target, _ := parseTarget(srv.URL)
	sum, err := runLoad(context.Background(), loadConfig{
		target: target, requests: 5, rate: maxRate, duration: time.Minute, concurrency: 4, warmup: 50 * time.Millisecond,
	}, srv.Client())
	if err != nil || !sum.Complete {
		t.Fatalf("runLoad: %+v, %v", sum, err)
	}
	if seen := srv.seen(); len(seen) != 5 || seen[0] != shipping.Inputs(1)[0].OrderID {
		t.Errorf("order IDs seen %v: want 5, the first input first", seen)
	}
}

// TestRunServeAndLoad runs the program: it serves on a free port, the load
// generator mode sends it requests, and it shuts down when its context
// ends. The /metrics endpoint shows the experiment.
func TestRunServeAndLoad(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := newLineWriter()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, out, io.Discard) }()
	var addr string
	select {
	case addr = <-out.first:
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	}
	addr = strings.TrimPrefix(addr, "listening on ")

	var load strings.Builder
	if err := run(context.Background(), []string{"-load", "-target", addr, "-n", "40", "-rate", "1000"}, &load, io.Discard); err != nil {
		t.Fatalf("load: %v", err)
	}
	var sum loadSummary
	if err := json.Unmarshal([]byte(load.String()), &sum); err != nil || sum.Sent != 40 || !sum.Complete {
		t.Errorf("load summary %q: %v", load.String(), err)
	}

	resp, err := http.Get(addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `dualrun_calls_total{dualrun_compared="true",dualrun_experiment="shipping.quote",dualrun_primary="legacy"`) {
		t.Errorf("/metrics lacks the experiment's calls:\n%s", grep(string(body), "dualrun_calls"))
	}
	http.DefaultClient.CloseIdleConnections()

	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func TestRunFlags(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		args   []string
	}{
		{"unknown flag", "flag errors are returned", []string{"-nope"}},
		{"extra argument", "no positional arguments", []string{"serve"}},
		{"bad percentage", "a percentage", []string{"-candidate-primary", "101"}},
		{"bad interval", "positive", []string{"-otlp-interval", "0s"}},
		{"unknown candidate", "rewrite, good or bad", []string{"-candidate", "worse"}},
		{"flag file and percentage", "one source of the rollout", []string{"-flag-file", "flags.json", "-candidate-primary", "5"}},
		{"missing flag file", "nothing to follow", []string{"-addr", "127.0.0.1:0", "-flag-file", "/nonexistent/flags.json"}},
		{"remote target", "loopback only", []string{"-load", "-target", "http://192.0.2.1:80"}},
		{"bad rate", "bounded", []string{"-load", "-rate", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := run(context.Background(), tt.args, io.Discard, io.Discard); err == nil {
				t.Errorf("run(%q) succeeded, want an error (%s)", tt.args, tt.reason)
			}
		})
	}
}

// lineWriter hands its first line to first.
type lineWriter struct {
	first chan string
	buf   strings.Builder
	sent  bool
}

func newLineWriter() *lineWriter { return &lineWriter{first: make(chan string, 1)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if s := w.buf.String(); !w.sent && strings.Contains(s, "\n") {
		w.sent = true
		w.first <- strings.TrimSpace(s[:strings.Index(s, "\n")])
	}
	return len(p), nil
}
