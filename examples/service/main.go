// Command service is a small HTTP JSON service in the middle of a
// migration: its shipping quote endpoint runs the legacy quote code as
// primary and the rewrite as a dualrun shadow, and exports dualrun's
// metrics on a Prometheus scrape endpoint (/metrics) and, when an OTLP
// endpoint is set, metrics and traces over OTLP/HTTP. With -load it is
// instead a load generator that sends the known input set of package
// shipping to a running service on this machine, at a bounded rate.
//
// Serve on 127.0.0.1:8080 (metrics on /metrics):
//
//	go run ./service
//	go run ./service -otlp http://127.0.0.1:4318   # also OTLP/HTTP
//
// Follow the flag "shipping.quote" of a flagd flag file (the fleet ramp
// controller, dualrun-ramp, writes it for every replica), with the fixed
// rewrite as candidate:
//
//	go run ./service -flag-file flags.json -candidate good
//
// Send the first 3000 requests of the known input set at 50 per second:
//
//	go run ./service -load -target http://127.0.0.1:8080 -n 3000 -rate 50
//
// The quote endpoint is POST /v1/quote with a body such as
// {"order_id":"o-1","weight_grams":2000,"zone":"EU","express":false}. The
// rewrite disagrees with legacy on a known subset of inputs (see package
// shipping), so the mismatch rate, the outcomes, the latency of each side
// and the differing fields all have known values.
//
// Admin endpoints, on the same listener:
//
//	GET  /admin/rollout                  the rollout in force, as JSON
//	POST /admin/candidate?version=bad    switch the candidate code
//
// The candidate versions are "rewrite" (package shipping's rewrite, the
// default), "good" (the rewrite with its bugs fixed: it agrees with legacy
// on every input, at a latency close to legacy's) and "bad" (it differs
// from legacy on every call, at the latency of "good", and never fails:
// of a ramp guard's signals only the mismatch rate breaks).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dualrun/dualrun/rollout"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	load bool

	// Serving.
	addr             string
	otlp             string
	otlpInterval     time.Duration
	candidatePrimary float64
	flagFile         string
	candidate        string

	// Load.
	target      string
	requests    int
	rate        float64
	duration    time.Duration
	concurrency int
	warmup      time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.load, "load", false, "run as load generator instead of serving")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to serve on (port 0: any free port)")
	fs.StringVar(&o.otlp, "otlp", os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
		"base URL of an OTLP/HTTP receiver for metrics and traces, e.g. http://127.0.0.1:4318 (default $OTEL_EXPORTER_OTLP_ENDPOINT; empty: no OTLP)")
	fs.DurationVar(&o.otlpInterval, "otlp-interval", 10*time.Second, "how often metrics and spans are pushed over OTLP")
	fs.Float64Var(&o.candidatePrimary, "candidate-primary", 0, "percentage of calls on which the rewrite is primary (without -flag-file)")
	fs.StringVar(&o.flagFile, "flag-file", "",
		"flagd flag file whose flag "+experimentName+" sets the rollout (read through the flagd OpenFeature provider, watched for changes); empty: -candidate-primary")
	fs.StringVar(&o.candidate, "candidate", versionRewrite.String(), "candidate code at start: rewrite, good or bad (POST /admin/candidate switches it)")
	fs.StringVar(&o.target, "target", "http://127.0.0.1:8080", "load: base URL of the service (loopback addresses only)")
	fs.IntVar(&o.requests, "n", 3000, "load: number of requests, the first ones of the known input set")
	fs.Float64Var(&o.rate, "rate", 50, "load: requests per second")
	fs.DurationVar(&o.duration, "duration", 5*time.Minute, "load: stop after this long even if requests remain")
	fs.IntVar(&o.concurrency, "concurrency", 8, "load: requests in flight at most")
	fs.DurationVar(&o.warmup, "warmup", 0, "load: pause after the first request, so that a scrape sees every series before the load")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

// run is the program: it serves until SIGINT or SIGTERM, or runs the load.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.load {
		return load(ctx, o, stdout)
	}
	if !(o.candidatePrimary >= 0 && o.candidatePrimary <= 100) {
		return fmt.Errorf("-candidate-primary %v: want a percentage in [0, 100]", o.candidatePrimary)
	}
	if o.flagFile != "" && o.candidatePrimary != 0 {
		return errors.New("-candidate-primary and -flag-file: want one of them")
	}
	if _, err := parseVersion(o.candidate); err != nil {
		return fmt.Errorf("-candidate: %w", err)
	}
	if o.otlpInterval <= 0 {
		return fmt.Errorf("-otlp-interval %v: want a positive duration", o.otlpInterval)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	return serve(ctx, ln, o, stdout, log)
}

// load runs the load generator and prints its summary.
func load(ctx context.Context, o options, stdout io.Writer) error {
	target, err := parseTarget(o.target)
	if err != nil {
		return err
	}
	transport := &http.Transport{MaxIdleConnsPerHost: o.concurrency}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	sum, err := runLoad(ctx, loadConfig{
		target:      target,
		requests:    o.requests,
		rate:        o.rate,
		duration:    o.duration,
		concurrency: o.concurrency,
		warmup:      o.warmup,
	}, client)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(stdout).Encode(sum); err != nil {
		return err
	}
	if !sum.Complete || sum.Failed > 0 {
		return fmt.Errorf("load: %d of %d requests answered, %d failed", sum.Sent, o.requests, sum.Failed)
	}
	return nil
}

// serve serves on ln until ctx ends, then shuts down: the server, the
// experiment (running shadows finish), the flag file's provider, then
// telemetry (the last metrics and spans are pushed).
func serve(ctx context.Context, ln net.Listener, o options, stdout io.Writer, log *slog.Logger) error {
	adm := &admin{candidate: &candidateSwitch{}, rollout: staticRollout(rollout.Percent(o.candidatePrimary))}
	v, err := parseVersion(o.candidate)
	if err != nil {
		ln.Close()
		return fmt.Errorf("-candidate: %w", err)
	}
	adm.candidate.swap(v)
	if o.flagFile != "" {
		if adm.rollout, err = flagFileRollout(ctx, o.flagFile); err != nil {
			ln.Close()
			return err
		}
	}
	tel, err := newTelemetry(ctx, telemetryConfig{otlpEndpoint: o.otlp, otlpInterval: o.otlpInterval})
	if err != nil {
		ln.Close()
		return errors.Join(err, adm.rollout.close(context.WithoutCancel(ctx)))
	}
	exp := newExperiment(tel, adm.rollout.policy)
	srv := &http.Server{
		Handler:           newHandler(exp, tel, adm, log),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The first line of standard output says where the service is, for
	// scripts and tests that start it on port 0.
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	errs := []error{srv.Shutdown(sctx), exp.Shutdown(sctx), adm.rollout.close(sctx), tel.shutdown(sctx)}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		errs = append(errs, serveErr)
	}
	return errors.Join(errs...)
}
