// Command dualrun-ramp ramps dualrun experiments across a fleet: it reads
// the fleet's dualrun metrics from Prometheus, advances each experiment
// through its steps while the guard holds, rolls it back by itself when
// the guard breaks, and writes the rollout to a flagd flag file that every
// replica reads through rollout/openfeature.
//
// Usage:
//
//	dualrun-ramp run -config ramp.json -prometheus http://127.0.0.1:9090 \
//	    -flag-file flags.json [-status-file status.json] [-listen 127.0.0.1:9464] [-dry-run]
//	dualrun-ramp status -status-file status.json
//	dualrun-ramp pause|resume|advance|rollback -flag-file flags.json EXPERIMENT
//
// Run `dualrun-ramp -h` or `dualrun-ramp COMMAND -h` for the flags. The
// library is package github.com/dualrun/dualrun/fleetramp.
package main

import (
	"context"
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

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/dualrun/dualrun/fleetramp"
)

const usage = `dualrun-ramp ramps dualrun experiments across a fleet, from Prometheus
data, through a flagd flag file that every replica reads.

Usage:
  dualrun-ramp run -config ramp.json -prometheus URL -flag-file flags.json
      [-status-file status.json] [-listen 127.0.0.1:9464] [-dry-run]
        Evaluate every experiment at its interval: advance while the guard
        holds, roll back by itself when it breaks, hold on missing data.
        Serves /status and /metrics on -listen. SIGINT/SIGTERM stop it.
  dualrun-ramp status -status-file status.json
        Print the status the running controller last wrote.
  dualrun-ramp pause    -flag-file flags.json EXPERIMENT
  dualrun-ramp resume   -flag-file flags.json EXPERIMENT
  dualrun-ramp advance  -flag-file flags.json EXPERIMENT
  dualrun-ramp rollback -flag-file flags.json EXPERIMENT
        Move an experiment's ramp by hand, in the flag file (safe while
        run is running: both lock the file).

Run 'dualrun-ramp COMMAND -h' for a command's flags.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command, with its exit code: 0 done, 1 failed, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "run":
		return runCmd(ctx, rest, stdout, stderr)
	case "status":
		return statusCmd(rest, stdout, stderr)
	case "pause", "resume", "advance", "rollback":
		return manualCmd(fleetramp.Op(cmd), rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "dualrun-ramp: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("dualrun-ramp "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: dualrun-ramp %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a command's flags: 0 to go on, or the exit code.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", `run -config ramp.json -prometheus URL -flag-file flags.json [flags]

Evaluates every experiment of the config at its interval, from the fleet's
metrics in Prometheus, and writes each experiment's rollout to its flag in
the flag file (atomically). The controller's state (step, paused, last
transition) is in the flag's metadata, so a restart resumes where it was.
Missing data or an unreachable Prometheus holds the step. Logs one line per
decision to stderr; prints "listening on ADDR" once /status and /metrics
are served.`, stderr)
	config := fs.String("config", "", "the ramp configuration (JSON; required)")
	prom := fs.String("prometheus", "", "the Prometheus base URL, e.g. http://127.0.0.1:9090 (required)")
	flagFile := fs.String("flag-file", "", "the flagd flag file to write (required)")
	statusFile := fs.String("status-file", "", "write the status here as JSON after every evaluation")
	listen := fs.String("listen", "127.0.0.1:9464", "serve /status and /metrics on this address (empty: not at all)")
	dryRun := fs.Bool("dry-run", false, "log what it would do; never write the flag file")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *config == "" || *prom == "" || *flagFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "dualrun-ramp run: -config, -prometheus and -flag-file are required, and no arguments")
		fs.Usage()
		return 2
	}
	data, err := os.ReadFile(*config)
	if err != nil {
		fmt.Fprintln(stderr, "dualrun-ramp run:", err)
		return 1
	}
	cfg, err := fleetramp.ParseConfig(data)
	if err != nil {
		fmt.Fprintf(stderr, "dualrun-ramp run: %s: %v\n", *config, err)
		return 1
	}
	client, err := api.NewClient(api.Config{Address: *prom})
	if err != nil {
		fmt.Fprintln(stderr, "dualrun-ramp run: -prometheus:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	c, err := fleetramp.New(cfg, fleetramp.PrometheusSource{API: promv1.NewAPI(client)}, *flagFile,
		fleetramp.WithStatusFile(*statusFile), fleetramp.WithDryRun(*dryRun), fleetramp.WithLogger(logger))
	if err != nil {
		fmt.Fprintln(stderr, "dualrun-ramp run:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var srv *http.Server
	serveErr := make(chan error, 1)
	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			fmt.Fprintln(stderr, "dualrun-ramp run: -listen:", err)
			return 1
		}
		srv = &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { serveErr <- srv.Serve(ln) }()
		// Tests and scripts wait for this line, on either stream.
		fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
		fmt.Fprintf(stderr, "listening on %s\n", ln.Addr())
	}
	if *dryRun {
		fmt.Fprintln(stderr, "dry-run: the flag file is never written")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(ctx)
	}()
	code := 0
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		fmt.Fprintln(stderr, "dualrun-ramp run: serve:", err)
		code = 1
		stop()
	}
	<-done
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	return code
}

func statusCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", `status -status-file status.json

Prints the status the running controller last wrote: per experiment, the
step, whether it is paused, why it holds, the last transition and its
reason, and the last Prometheus error.`, stderr)
	statusFile := fs.String("status-file", "", "the status file of dualrun-ramp run (required)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *statusFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "dualrun-ramp status: -status-file is required, and no arguments")
		fs.Usage()
		return 2
	}
	data, err := os.ReadFile(*statusFile)
	if err != nil {
		fmt.Fprintln(stderr, "dualrun-ramp status:", err)
		return 1
	}
	if _, err := stdout.Write(data); err != nil {
		return 1
	}
	return 0
}

func manualCmd(op fleetramp.Op, args []string, stdout, stderr io.Writer) int {
	what := map[fleetramp.Op]string{
		fleetramp.OpPause:    "Pauses the ramp: it stops advancing; the guard still rolls it back.",
		fleetramp.OpResume:   "Resumes a paused ramp from its step, with the step's evidence started afresh.",
		fleetramp.OpAdvance:  "Moves the ramp one step forward, whatever its guard says.",
		fleetramp.OpRollback: "Moves the ramp back to its rollback step and pauses it.",
	}[op]
	fs := newFlagSet(string(op), string(op)+" -flag-file flags.json EXPERIMENT\n\n"+what+
		"\nThe experiment is named by its name or its flag key. Exit status 3: nothing to do.", stderr)
	flagFile := fs.String("flag-file", "", "the flag file dualrun-ramp run writes (required)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *flagFile == "" || fs.NArg() != 1 {
		fmt.Fprintf(stderr, "dualrun-ramp %s: -flag-file and one EXPERIMENT are required\n", op)
		fs.Usage()
		return 2
	}
	tr, err := fleetramp.Manual(*flagFile, fs.Arg(0), op, time.Now())
	switch {
	case errors.Is(err, fleetramp.ErrNoChange):
		fmt.Fprintf(stderr, "dualrun-ramp %s: %v\n", op, err)
		return 3
	case err != nil:
		fmt.Fprintf(stderr, "dualrun-ramp %s: %v\n", op, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", fs.Arg(0), tr)
	return 0
}
