package dualrunhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrunhttp"
	"github.com/dualrun/dualrun/rollout"
)

// The benchmarks measure what dualrunhttp adds to a handler: the bare
// handler, the same through a ShadowHandler whose rollout compares nothing
// (uncompared) and compares everything (compared), in process (ServeHTTP
// on a discarding writer) and over a real connection on 127.0.0.1.
//
// A compared benchmark keeps at most maxBacklog shadows pending, waiting
// for them when there are more: its ns/op is the whole cost of a compared
// call, both handlers and the comparison, on the machine's CPUs.
// caller-ns/op is the time ServeHTTP took, which is what the client waits.

const maxBacklog = 64

var (
	jsonBody = `{"id":42,"name":"espresso machine","price":{"amount":"199.99","currency":"EUR"},` +
		`"tags":["kitchen","coffee","sale"],"stock":[{"store":"ams","qty":3},{"store":"ber","qty":0}],"updated_at":"2026-11-30T08:00:00Z"}`
	// jsonReordered is jsonBody with its members in another order and
	// 199.990 for 199.99: equal as JSON, not as bytes, so that the
	// comparison parses both.
	jsonReordered = `{"updated_at":"2026-11-30T08:00:00Z","stock":[{"qty":3,"store":"ams"},{"qty":0,"store":"ber"}],` +
		`"tags":["kitchen","coffee","sale"],"price":{"currency":"EUR","amount":"199.99"},"name":"espresso machine","id":42}`
	textBody = strings.Repeat("lorem ipsum ", 24)
)

func jsonReorderedHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, jsonReordered)
}

func jsonHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, jsonBody)
}

func textHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, textBody)
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Flush()                      {}

func benchOptions(policy rollout.Policy) []dualrunhttp.Option {
	return []dualrunhttp.Option{
		dualrunhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		dualrunhttp.WithExperimentOptions(
			dualrun.WithTracerProvider(tracenoop.NewTracerProvider()),
			dualrun.WithRollout(policy),
			dualrun.WithMaxInFlight(1<<20),
		),
	}
}

// waitBacklog lets pending shadows finish until at most maxBacklog are left.
func waitBacklog() {
	for dualrun.ProcessInFlight() > maxBacklog {
		runtime.Gosched()
	}
}

// finish drains the ShadowHandler and checks that every call was compared
// and matched: a benchmark that shed calls would measure the wrong thing.
func finish(b *testing.B, l lifecycle, compared bool) {
	b.StopTimer()
	if err := l.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	for _, r := range l.Stats().Routes {
		s := r.Stats
		if compared && (s.Compared != s.Calls || s.Count(dualrun.Match) != s.Compared) {
			b.Fatalf("%d calls, %d compared, outcomes %v: want every call compared and matched", s.Calls, s.Compared, s.Outcomes)
		}
	}
	l.Unregister()
}

func BenchmarkHandler(b *testing.B) {
	dualrun.SetProcessMaxInFlight(1 << 20)
	defer dualrun.SetProcessMaxInFlight(dualrun.DefaultProcessMaxInFlight)
	for _, body := range []struct {
		name      string
		h, shadow http.HandlerFunc
	}{
		{"json", jsonHandler, jsonReorderedHandler}, // JSON-equal, byte-different: both parsed
		{"bytes", textHandler, textHandler},         // byte-equal: no parse
	} {
		r := httptest.NewRequest(http.MethodGet, "/items/42", nil)
		b.Run(body.name+"/bare", func(b *testing.B) {
			w := &discard{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				body.h.ServeHTTP(w, r)
			}
		})
		b.Run(body.name+"/uncompared", func(b *testing.B) {
			h := dualrunhttp.NewHandler(body.h, body.shadow, benchOptions(rollout.Static{})...)
			w := &discard{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			finish(b, h, false)
		})
		b.Run(body.name+"/compared", func(b *testing.B) {
			h := dualrunhttp.NewHandler(body.h, body.shadow, benchOptions(rollout.Static{Shadow: rollout.All})...)
			w := &discard{h: make(http.Header)}
			var caller time.Duration
			b.ReportAllocs()
			for b.Loop() {
				waitBacklog()
				start := time.Now()
				h.ServeHTTP(w, r)
				caller += time.Since(start)
			}
			b.ReportMetric(float64(caller.Nanoseconds())/float64(b.N), "caller-ns/op")
			finish(b, h, true)
		})
	}
}

func BenchmarkHandlerParallel(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "/items/42", nil)
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discard{h: make(http.Header)}
			for pb.Next() {
				jsonHandler(w, r)
			}
		})
	})
	b.Run("uncompared", func(b *testing.B) {
		h := dualrunhttp.NewHandler(http.HandlerFunc(jsonHandler), http.HandlerFunc(jsonHandler), benchOptions(rollout.Static{})...)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discard{h: make(http.Header)}
			for pb.Next() {
				h.ServeHTTP(w, r)
			}
		})
		finish(b, h, false)
	})
}

// BenchmarkHandlerHTTP is BenchmarkHandler/json over a real connection: a
// keep-alive client on 127.0.0.1.
func BenchmarkHandlerHTTP(b *testing.B) {
	dualrun.SetProcessMaxInFlight(1 << 20)
	defer dualrun.SetProcessMaxInFlight(dualrun.DefaultProcessMaxInFlight)
	run := func(b *testing.B, h http.Handler, backlog bool) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := srv.Client()
		b.ReportAllocs()
		for b.Loop() {
			if backlog {
				waitBacklog()
			}
			resp, err := client.Get(srv.URL + "/items/42")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, http.HandlerFunc(jsonHandler), false) })
	b.Run("uncompared", func(b *testing.B) {
		h := dualrunhttp.NewHandler(http.HandlerFunc(jsonHandler), http.HandlerFunc(jsonHandler), benchOptions(rollout.Static{})...)
		run(b, h, false)
		finish(b, h, false)
	})
	b.Run("compared", func(b *testing.B) {
		h := dualrunhttp.NewHandler(http.HandlerFunc(jsonHandler), http.HandlerFunc(jsonReorderedHandler), benchOptions(rollout.Static{Shadow: rollout.All})...)
		run(b, h, true)
		finish(b, h, true)
	})
}

// BenchmarkTransport is a client's request to an upstream on 127.0.0.1:
// direct, through a ShadowTransport that compares nothing, and through one
// that sends every request to a second upstream too and compares.
func BenchmarkTransport(b *testing.B) {
	dualrun.SetProcessMaxInFlight(1 << 20)
	defer dualrun.SetProcessMaxInFlight(dualrun.DefaultProcessMaxInFlight)
	legacy := httptest.NewServer(http.HandlerFunc(jsonHandler))
	defer legacy.Close()
	candidate := httptest.NewServer(http.HandlerFunc(jsonHandler))
	defer candidate.Close()
	run := func(b *testing.B, rt http.RoundTripper, backlog bool) {
		client := &http.Client{Transport: rt}
		b.ReportAllocs()
		for b.Loop() {
			if backlog {
				waitBacklog()
			}
			resp, err := client.Get(legacy.URL + "/items/42")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	base := &http.Transport{MaxIdleConnsPerHost: 256}
	defer base.CloseIdleConnections()
	b.Run("bare", func(b *testing.B) { run(b, base, false) })
	b.Run("uncompared", func(b *testing.B) {
		tr := dualrunhttp.NewTransport(base, base, append(benchOptions(rollout.Static{}), dualrunhttp.WithCandidateURL(candidate.URL))...)
		run(b, tr, false)
		finish(b, tr, false)
	})
	b.Run("compared", func(b *testing.B) {
		tr := dualrunhttp.NewTransport(base, base, append(benchOptions(rollout.Static{Shadow: rollout.All}), dualrunhttp.WithCandidateURL(candidate.URL))...)
		run(b, tr, true)
		finish(b, tr, true)
	})
}
