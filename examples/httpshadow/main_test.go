package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrunhttp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// differ counts, by calling both sides directly and comparing the one
// field that can differ as an exact decimal, the ids on which they
// disagree: what the experiments must have found, independently of them.
func differ(t *testing.T, n int, path string, legacy, candidate http.Handler, field func([]byte) (string, error)) int64 {
	t.Helper()
	var count int64
	for id := range n {
		var vals [2]*big.Rat
		for i, h := range []http.Handler{legacy, candidate} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, fmt.Sprintf(path, id), nil)
			mux := http.NewServeMux()
			mux.Handle("GET "+strings.Replace(path, "%d", "{id}", 1), h)
			mux.ServeHTTP(rec, req)
			text, err := field(rec.Body.Bytes())
			if err != nil {
				t.Fatalf("id %d: %v", id, err)
			}
			r, ok := new(big.Rat).SetString(text)
			if !ok {
				t.Fatalf("id %d: %q is not a number", id, text)
			}
			vals[i] = r
		}
		if vals[0].Cmp(vals[1]) != 0 {
			count++
		}
	}
	return count
}

func price(b []byte) (string, error) {
	var v struct {
		Price struct{ Amount json.Number }
	}
	err := json.Unmarshal(b, &v)
	return v.Price.Amount.String(), err
}

func secondLine(b []byte) (string, error) {
	var v struct{ Lines []struct{ Cents json.Number } }
	if err := json.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("%q: %w", b, err)
	}
	if len(v.Lines) != 2 {
		return "", fmt.Errorf("%q: want two lines", b)
	}
	return v.Lines[1].Cents.String(), nil
}

func route(t *testing.T, s dualrunhttp.Stats, name string) dualrunhttp.RouteStats {
	t.Helper()
	for _, r := range s.Routes {
		if r.Stats.Name == name {
			return r
		}
	}
	t.Fatalf("no experiment %q in %+v", name, s.Routes)
	return dualrunhttp.RouteStats{}
}

func TestRun(t *testing.T) {
	var buf bytes.Buffer
	res, err := run(&buf)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.wrongCatalog != 0 || res.wrongOrders != 0 {
		t.Errorf("clients got %d catalog and %d orders responses that legacy alone does not send", res.wrongCatalog, res.wrongOrders)
	}

	wantCatalog := differ(t, numProducts, "/products/%d", legacyCatalog(), rewriteCatalog(), price)
	wantOrders := differ(t, numOrders, "/orders/%d", http.HandlerFunc(ordersV1), http.HandlerFunc(ordersV2), secondLine)
	if wantCatalog == 0 || wantOrders == 0 {
		t.Fatalf("the sides differ on %d products and %d orders: the example must show differences", wantCatalog, wantOrders)
	}
	for _, tt := range []struct {
		name, reason string
		rs           dualrunhttp.RouteStats
		calls, want  int64
		path         string
	}{
		{name: "catalog GET /products/{id}", reason: "server side, one experiment for every id", rs: route(t, res.catalog, "catalog GET /products/{id}"), calls: numProducts, want: wantCatalog, path: "$.price.amount"},
		{name: "orders-client GET /orders/{id}", reason: "client side", rs: route(t, res.orders, "orders-client GET /orders/{id}"), calls: numOrders, want: wantOrders, path: "$.lines[*].cents"},
	} {
		s := tt.rs.Stats
		shed := s.Count(dualrun.Shed)
		if s.Calls != tt.calls || s.Compared != tt.calls {
			t.Errorf("%s: %d calls, %d compared; want %d, all compared (%s)", tt.name, s.Calls, s.Compared, tt.calls, tt.reason)
		}
		// A shed call is not compared, and may hide one difference.
		if got := s.Count(dualrun.Mismatch); got > tt.want || got < tt.want-shed {
			t.Errorf("%s: %d mismatches, want %d (minus at most %d shed)", tt.name, got, tt.want, shed)
		}
		if s.Count(dualrun.Match)+s.Count(dualrun.Mismatch)+shed != s.Compared {
			t.Errorf("%s: outcomes %v: want only match, mismatch and shed", tt.name, s.Outcomes)
		}
		if len(s.Fields) != 1 || s.Fields[0].Path != tt.path || s.Fields[0].Count != s.Count(dualrun.Mismatch) {
			t.Errorf("%s: fields %v, want only %s on every mismatch", tt.name, s.Fields, tt.path)
		}
	}
	// Reports name the same JSON paths as the experiments' fields.
	paths := map[string]string{"catalog GET /products/{id}": "$.price.amount", "orders-client GET /orders/{id}": "$.lines[*].cents"}
	for _, r := range res.reports {
		if want, ok := paths[r.Experiment]; !ok || r.Outcome != dualrun.Mismatch || len(r.Paths) != 1 || r.Paths[0] != want || !strings.HasPrefix(r.Diff, want) {
			t.Errorf("report %s, diff %q: want a mismatch on %q", r, r.Diff, want)
		}
	}
	if len(res.reports) == 0 {
		t.Error("no reports")
	}
	post := route(t, res.catalog, "catalog POST /products")
	if post.Stats.Compared != 0 || post.Skipped[dualrunhttp.SkipMethod] != post.Stats.Calls || post.Stats.Calls == 0 {
		t.Errorf("POST: %d calls, %d compared, skipped %v: writes must not be shadowed", post.Stats.Calls, post.Stats.Compared, post.Skipped)
	}
	out := buf.String()
	for _, want := range []string{"EXPERIMENT", "catalog GET /products/{id}", "$.price.amount", "$.lines[*].cents", "SAMPLE REPORT", "0/300 wrong"} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("summary:\n%s", out)
	}
}
