package dualrunhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrunhttp"
	"github.com/dualrun/dualrun/dualruntest"
	"github.com/dualrun/dualrun/rollout"
)

// guard bounds how long a test waits for something that must happen: it
// turns a regression into a failure instead of a hung test. No test
// asserts anything about time.
const guard = 30 * time.Second

// env is what a test's Handler or Transport reports to: a Report
// recorder and a manual metric reader.
type env struct {
	t      *testing.T
	rec    *dualruntest.Recorder
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newEnv(t *testing.T) *env {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &env{t: t, rec: dualruntest.NewRecorder(), reader: reader, mp: mp}
}

// options are the options of every test: Reports go to e.rec, none is
// suppressed, metrics go to e.reader.
func (e *env) options(extra ...dualrunhttp.Option) []dualrunhttp.Option {
	return append([]dualrunhttp.Option{
		dualrunhttp.WithMeterProvider(e.mp),
		dualrunhttp.WithExperimentOptions(
			dualrun.WithPublisher(e.rec),
			dualrun.WithReportDedup(0),
			dualrun.WithReportRate(0, 1),
			dualrun.WithTracerProvider(tracenoop.NewTracerProvider()),
		),
	}, extra...)
}

// lifecycle is what ShadowHandler and ShadowTransport share.
type lifecycle interface {
	Shutdown(ctx context.Context) error
	Unregister()
	Stats() dualrunhttp.Stats
}

// drain waits until every shadow of l has been recorded.
func drain(t *testing.T, l lifecycle) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := l.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// release unregisters l when the test ends.
func release(t *testing.T, l lifecycle) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		_ = l.Shutdown(ctx)
		l.Unregister()
	})
}

// serve starts a real HTTP server for h on 127.0.0.1, closed when the test
// ends.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// serveTLS starts a real HTTPS server for h on 127.0.0.1 that speaks
// HTTP/2, closed when the test ends.
func serveTLS(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// snapshot is what a client got: status, header without Date (which
// changes by the second) and body.
type snapshot struct {
	proto  string
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, req *http.Request) snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), guard)
	defer cancel()
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	h := resp.Header.Clone()
	h.Del("Date")
	return snapshot{proto: resp.Proto, status: resp.StatusCode, header: h, body: string(b)}
}

func get(t *testing.T, c *http.Client, url string) snapshot {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

// route returns the stats of the only route of s.
func onlyRoute(t *testing.T, s dualrunhttp.Stats) dualrunhttp.RouteStats {
	t.Helper()
	if len(s.Routes) != 1 {
		t.Fatalf("routes = %+v, want exactly one", s.Routes)
	}
	return s.Routes[0]
}

// candidatePrimary is the rollout that makes the candidate authoritative
// and compares every call.
var candidatePrimary = rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}

// collect returns the metrics read now.
func (e *env) collect() metricdata.ResourceMetrics {
	e.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		e.t.Fatal(err)
	}
	return rm
}

// sumPoints returns the points of an int64 sum.
func sumPoints(t *testing.T, data metricdata.Aggregation) []metricdata.DataPoint[int64] {
	t.Helper()
	s, ok := data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%T is not an int64 sum", data)
	}
	return s.DataPoints
}
