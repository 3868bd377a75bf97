// Command httpshadow shows dualrunhttp on the two HTTP migrations a service
// team meets most:
//
//   - server side, a catalog API is rewritten: every request is served by
//     the legacy handlers, and the rewrite runs beside them as a shadow whose
//     JSON is compared (member order, request ids and the order of tags do
//     not count; prices do);
//   - client side, the service's orders client moves from the orders-v1
//     upstream to orders-v2: every GET also goes to v2, the caller gets v1's
//     response, and the two are compared.
//
// Everything runs on 127.0.0.1 with a fixed set of requests, then shuts
// down and prints what dualrun measured: no telemetry backend is needed.
//
//	go run ./httpshadow
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrunhttp"
)

const (
	numProducts = 300
	numOrders   = 200
)

// The catalog: legacy and rewrite. The rewrite writes members in another
// order, makes its own request ids, lists tags in another order and, for
// every seventh product, rounds the price to whole euros: the one real
// difference.

func legacyCatalog() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%d,"name":"product %d","price":{"amount":%d.%02d,"currency":"EUR"},"tags":["a","b","c"],"request_id":"legacy-%d"}`,
			id, id, 10+id%50, id%100, id)
	})
	mux.HandleFunc("POST /products", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	return mux
}

func rewriteCatalog() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /products/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		cents := id % 100
		if id%7 == 0 {
			cents = 0 // the bug: rounded to whole euros
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"request_id":"v2-%x","tags":["c","a","b"],"price":{"currency":"EUR","amount":%d.%02d},"name":"product %d","id":%d}`,
			id*7919, 10+id%50, cents, id, id)
	})
	mux.HandleFunc("POST /products", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	return mux
}

// The orders upstreams: v2 drops the cents of the second line of every
// fifth order.

func ordersV1(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"order":%d,"lines":[{"sku":"s-%d","cents":%d},{"sku":"t-%d","cents":%d}]}`, id, id, 100+id, id, 250+id)
}

func ordersV2(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	second := 250 + id
	if id%5 == 0 {
		second -= second % 100
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"lines":[{"cents":%d,"sku":"s-%d"},{"cents":%d,"sku":"t-%d"}],"order":%d}`, 100+id, id, second, id, id)
}

// server is an HTTP server on a free 127.0.0.1 port.
type server struct {
	srv *http.Server
	url string
}

func start(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}, url: "http://" + ln.Addr().String()}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "httpshadow:", err)
		}
	}()
	return s, nil
}

func (s *server) close() { _ = s.srv.Close() }

// result is what the run measured.
type result struct {
	catalog dualrunhttp.Stats
	orders  dualrunhttp.Stats
	// wrong counts responses that were not what the legacy side alone
	// sends.
	wrongCatalog, wrongOrders int
	reports                   []*dualrun.Report
}

func run(out io.Writer) (res result, err error) {
	keep := make(chan *dualrun.Report, 1024)
	publisher := dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		select {
		case keep <- r:
		default:
		}
		return nil
	})
	common := dualrunhttp.WithExperimentOptions(dualrun.WithPublisher(publisher), dualrun.WithReportDedup(0), dualrun.WithReportRate(0, 1))

	// Server side: wrap the two muxes. Routes come from the legacy mux's
	// patterns, so "GET /products/{id}" is one experiment however many ids.
	legacy := legacyCatalog()
	catalog := dualrunhttp.NewHandler(legacy, rewriteCatalog(), common,
		dualrunhttp.WithName("catalog"),
		dualrunhttp.WithIgnoreJSONPaths("$.request_id"),
		dualrunhttp.WithUnorderedArrays("$.tags"),
	)
	defer catalog.Unregister()
	api, err := start(catalog)
	if err != nil {
		return res, err
	}
	defer api.close()
	alone, err := start(legacy) // to check what clients got
	if err != nil {
		return res, err
	}
	defer alone.close()

	// Client side: the orders client shadows v1 with v2.
	v1mux, v2mux := http.NewServeMux(), http.NewServeMux()
	v1mux.HandleFunc("GET /orders/{id}", ordersV1)
	v2mux.HandleFunc("GET /orders/{id}", ordersV2)
	v1, err := start(v1mux)
	if err != nil {
		return res, err
	}
	defer v1.close()
	v2, err := start(v2mux)
	if err != nil {
		return res, err
	}
	defer v2.close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	orders := dualrunhttp.NewTransport(base, base, common,
		dualrunhttp.WithName("orders-client"),
		dualrunhttp.WithCandidateURL(v2.url),
		dualrunhttp.WithRoute(func(r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/orders/") {
				return "GET /orders/{id}"
			}
			return ""
		}),
	)
	defer orders.Unregister()

	shadowed := &http.Client{Transport: orders, Timeout: 10 * time.Second}
	direct := &http.Client{Transport: base, Timeout: 10 * time.Second}
	for id := range numProducts {
		got, err := fetch(direct, fmt.Sprintf("%s/products/%d", api.url, id))
		if err != nil {
			return res, err
		}
		want, err := fetch(direct, fmt.Sprintf("%s/products/%d", alone.url, id))
		if err != nil {
			return res, err
		}
		if got != want {
			res.wrongCatalog++
		}
		if id%50 == 0 { // a write: served by legacy, never shadowed
			resp, err := direct.Post(api.url+"/products", "application/json", strings.NewReader(`{"name":"new"}`))
			if err != nil {
				return res, err
			}
			resp.Body.Close()
		}
	}
	for id := range numOrders {
		url := fmt.Sprintf("%s/orders/%d", v1.url, id)
		got, err := fetch(shadowed, url)
		if err != nil {
			return res, err
		}
		want, err := fetch(direct, url)
		if err != nil {
			return res, err
		}
		if got != want {
			res.wrongOrders++
		}
	}

	// Shutdown waits for the shadows still running and their Reports.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := errors.Join(catalog.Shutdown(ctx), orders.Shutdown(ctx)); err != nil {
		return res, err
	}
	res.catalog, res.orders = catalog.Stats(), orders.Stats()
	close(keep)
	for r := range keep {
		res.reports = append(res.reports, r)
	}
	summarize(out, res)
	return res, nil
}

// fetch returns the status, content type and body of a GET.
func fetch(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.Status + " " + resp.Header.Get("Content-Type") + " " + string(b), err
}

func summarize(out io.Writer, res result) {
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "EXPERIMENT\tCALLS\tCOMPARED\tMATCH\tMISMATCH\tSHED\tSKIPPED (METHOD)\tMISMATCH RATE")
	for _, s := range [...]dualrunhttp.Stats{res.catalog, res.orders} {
		for _, r := range s.Routes {
			st := r.Stats
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f%%\n", st.Name, st.Calls, st.Compared,
				st.Count(dualrun.Match), st.Count(dualrun.Mismatch), st.Count(dualrun.Shed),
				r.Skipped[dualrunhttp.SkipMethod], 100*st.MismatchRate())
		}
	}
	tw.Flush()
	fmt.Fprintln(out, "\nDIFFERING PARTS (the experiments' Stats.Fields: JSON paths, folded)")
	for _, s := range [...]dualrunhttp.Stats{res.catalog, res.orders} {
		for _, r := range s.Routes {
			for _, f := range r.Stats.Fields {
				fmt.Fprintf(out, "  %-32s %-28s ×%d\n", r.Stats.Name, f.Path, f.Count)
			}
		}
	}
	fmt.Fprintf(out, "\nclients got the legacy response: catalog %d/%d wrong, orders %d/%d wrong\n",
		res.wrongCatalog, numProducts, res.wrongOrders, numOrders)
	// One Report per experiment, as a sample. A Report holds values of the
	// responses: the diff stays in the process unless an exporter sends it.
	seen := map[string]bool{}
	reports := slices.Clone(res.reports)
	slices.SortFunc(reports, func(a, b *dualrun.Report) int { return strings.Compare(a.Experiment, b.Experiment) })
	for _, r := range reports {
		if seen[r.Experiment] {
			continue
		}
		seen[r.Experiment] = true
		fmt.Fprintf(out, "\nSAMPLE REPORT %s\n%s", r, r.Diff)
	}
}

func main() {
	if _, err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "httpshadow:", err)
		os.Exit(1)
	}
}
