package dualrunhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrunhttp"
)

// A handler is rewritten: the new one orders its JSON members differently,
// writes 1999.0 for 1999 and makes its own request ids. Clients keep
// getting the legacy response; the comparison finds no real difference.
func ExampleHandler() {
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%s,"price":1999,"request_id":"a1"}`, r.PathValue("id"))
	})
	rewrite := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"request_id":"b2","price":1999.0,"id":%s}`, r.PathValue("id"))
	})
	h := dualrunhttp.NewHandler(legacy, rewrite, dualrunhttp.WithIgnoreJSONPaths("$.request_id"))
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/items/42")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	_ = h.Shutdown(context.Background()) // waits for the comparison
	for _, r := range h.Stats().Routes {
		fmt.Printf("%s: %d match\n", r.Stats.Name, r.Stats.Count(dualrun.Match))
	}
	h.Unregister()
	// Output:
	// {"id":42,"price":1999,"request_id":"a1"}
	// http.server GET /items/{id}: 1 match
}

// A client moves from one upstream to its replacement. Every request also
// goes to the replacement; the caller gets the old upstream's response,
// and the difference is named by its JSON path.
func ExampleTransport() {
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":7,"lines":[{"sku":"a","cents":100},{"sku":"b","cents":250}]}`)
	}))
	defer old.Close()
	replacement := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":7,"lines":[{"sku":"a","cents":100},{"sku":"b","cents":249}]}`)
	}))
	defer replacement.Close()

	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr := dualrunhttp.NewTransport(base, base, dualrunhttp.WithName("orders"), dualrunhttp.WithCandidateURL(replacement.URL))
	client := &http.Client{Transport: tr}
	resp, err := client.Get(old.URL + "/orders/7")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	_ = tr.Shutdown(context.Background())
	for _, r := range tr.Stats().Routes {
		fmt.Printf("%s: %d mismatch\n", r.Stats.Name, r.Stats.Count(dualrun.Mismatch))
		for _, f := range r.Stats.Fields {
			fmt.Printf("  %s ×%d\n", f.Path, f.Count)
		}
	}
	tr.Unregister()
	// Output:
	// {"id":7,"lines":[{"sku":"a","cents":100},{"sku":"b","cents":250}]}
	// orders: 1 mismatch
	//   $.lines[*].cents ×1
}

// Arrays whose order carries no meaning are compared as multisets.
func ExampleWithUnorderedArrays() {
	legacy := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"tags":["new","sale","eu"]}`)
	})
	rewrite := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"tags":["eu","new","sale"]}`)
	})
	h := dualrunhttp.NewHandler(legacy, rewrite, dualrunhttp.WithName("tags"), dualrunhttp.WithUnorderedArrays("$.tags"))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	_ = h.Shutdown(context.Background())
	s := h.Stats().Routes[0].Stats
	fmt.Printf("match %d, mismatch %d\n", s.Count(dualrun.Match), s.Count(dualrun.Mismatch))
	h.Unregister()
	// Output:
	// match 1, mismatch 0
}

// Two ways to leave a difference out. WithIgnoreJSONPaths takes patterns
// and removes those values from the comparison: the new handler's own
// request ids never count, and its price still does. dualrun.WithIgnorePaths
// takes paths exactly as Stats.Fields names them, and records a mismatch
// on nothing but those paths as ignored, counted apart: here, the known
// difference in the served_by header.
func ExampleWithIgnoreJSONPaths() {
	side := func(server, requestID string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Served-By", server)
			price := "10"
			if server == "v2" && r.URL.Query().Get("id") == "3" {
				price = "11"
			}
			fmt.Fprintf(w, `{"request_id":%q,"items":[{"price":%s}]}`, requestID+r.URL.Query().Get("id"), price)
		}
	}
	h := dualrunhttp.NewHandler(side("v1", "a"), side("v2", "b"),
		dualrunhttp.WithName("items"),
		dualrunhttp.WithHeaders("Content-Type", "Served-By"),
		dualrunhttp.WithIgnoreJSONPaths("$.request_id"),
		dualrunhttp.WithExperimentOptions(dualrun.WithIgnorePaths("header Served-By")),
	)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, id := range []string{"1", "2", "3"} {
		resp, err := srv.Client().Get(srv.URL + "?id=" + id)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	_ = h.Shutdown(context.Background())
	s := h.Stats().Routes[0].Stats
	fmt.Printf("ignored %d, mismatch %d\n", s.Count(dualrun.Ignored), s.Count(dualrun.Mismatch))
	for _, f := range s.Fields {
		fmt.Printf("  %s ×%d\n", f.Path, f.Count)
	}
	h.Unregister()
	// Output:
	// ignored 2, mismatch 1
	//   $.items[*].price ×1
	//   header Served-By ×1
}
