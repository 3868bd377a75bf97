package dualrun_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// childEnv names the test a child process runs.
const childEnv = "DUALRUN_TEST_CHILD"

// inChild runs body in a fresh process: this test binary started again on
// the calling test alone. A scenario that would crash the process (a stack
// overflow cannot be recovered) or that changes process-wide state (the
// package-level Shutdown, the experiment cap) then fails its test instead of
// killing the test binary or leaking into other tests. The child's output
// is shown when it fails.
func inChild(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		body(t)
		return
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process for %s failed: %v\n%s", t.Name(), err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("child process for %s did not report PASS:\n%s", t.Name(), out)
	}
}

// waitShutdown shuts e down with a bound, failing the test if it does not
// complete: a leaked slot or a wedged report queue shows as a timeout here.
func waitShutdown(t *testing.T, e interface{ Shutdown(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		buf := make([]byte, 64<<10)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("Shutdown did not complete: %v (a slot or a report is stuck); goroutines:\n%s", err, buf)
	}
}

// newMeterProvider returns a real SDK meter provider with a manual reader,
// shut down when the test ends.
func newMeterProvider(t *testing.T) *sdkmetric.MeterProvider {
	t.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp
}

// newTracerProvider returns a real SDK tracer provider that samples
// everything into a span recorder, shut down when the test ends.
func newTracerProvider(t *testing.T) *sdktrace.TracerProvider {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}
