// Command debugpage serves dualrun's debug page for a small migration that
// runs while you look at it, and prints the page's URL.
//
//	go run ./debugpage             # serves for 10 minutes
//	go run ./debugpage -for 2s     # a short look
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/debugpage"
	"github.com/dualrun/dualrun/rollout"
)

type quote struct {
	SKU      string
	Cents    int
	Currency string
}

func legacyQuote(_ context.Context) (quote, error) {
	time.Sleep(time.Duration(200+rand.IntN(300)) * time.Microsecond)
	return quote{SKU: "tea", Cents: 450, Currency: "EUR"}, nil
}

func newQuote(_ context.Context) (quote, error) {
	time.Sleep(time.Duration(150+rand.IntN(500)) * time.Microsecond)
	q := quote{SKU: "tea", Cents: 450, Currency: "EUR"}
	if rand.IntN(50) == 0 {
		q.Cents = 451 // a rounding bug the page will show
	}
	return q, nil
}

func main() {
	serveFor := flag.Duration("for", 10*time.Minute, "how long to serve the page")
	flag.Parse()
	if err := run(*serveFor, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves the page for serveFor while calls go through the experiment,
// printing the page's URL to out; ready, if not nil, receives the URL.
func run(serveFor time.Duration, out io.Writer, ready chan<- string) error {
	live := rollout.NewLive(rollout.Static{Shadow: rollout.All})
	exp := dualrun.New[quote]("pricing.quote", dualrun.WithRollout(live))

	// Controls: allowed from this machine only, and logged. A real service
	// checks its own authentication here.
	page := debugpage.New(
		debugpage.WithControls(func(r *http.Request, _ debugpage.Change) (string, error) {
			if host, _, _ := net.SplitHostPort(r.RemoteAddr); host != "127.0.0.1" && host != "::1" {
				return "", errors.New("local operators only")
			}
			return "local operator", nil
		}),
		debugpage.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))),
	)
	defer page.Close()
	mux := http.NewServeMux()
	mux.Handle("/debug/dualrun/", page)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	url := fmt.Sprintf("http://%s/debug/dualrun/", ln.Addr())
	fmt.Fprintln(out, "dualrun debug page:", url)
	if ready != nil {
		ready <- url
	}

	ctx, cancel := context.WithTimeout(context.Background(), serveFor)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			_, _ = exp.Run(ctx, legacyQuote, newQuote)
		}
	}
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = srv.Shutdown(shutdownCtx)
	_ = exp.Shutdown(shutdownCtx)
	exp.Unregister()
	st := exp.Stats()
	_, err = fmt.Fprintf(out, "%d calls, mismatch rate %.2f%%\n", st.Calls, 100*st.MismatchRate())
	return err
}
