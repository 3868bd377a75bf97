package debugpage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/debugpage"
	"github.com/dualrun/dualrun/rollout"
)

// Mount the page, then read it as JSON.
func ExampleHandler() {
	page := debugpage.New() // debugpage.Handler() in a service that never closes it
	defer page.Close()
	mux := http.NewServeMux()
	mux.Handle("/debug/dualrun/", page)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	exp := dualrun.New[int]("example.page")
	defer exp.Unregister()
	ctx := context.Background()
	for i := range 4 {
		_, _ = exp.Run(ctx,
			func(context.Context) (int, error) { return i, nil },
			func(context.Context) (int, error) { return i % 2, nil }) // wrong for 2 and 3
	}
	_ = exp.Shutdown(ctx)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/debug/dualrun/?experiment=example.page", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var body struct {
		Experiments []struct {
			Name         string           `json:"name"`
			Outcomes     map[string]int64 `json:"outcomes"`
			MismatchRate float64          `json:"mismatch_rate"`
		} `json:"experiments"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	e := body.Experiments[0]
	fmt.Println(e.Name, e.Outcomes["match"], e.Outcomes["mismatch"], e.MismatchRate)
	// Output: example.page 2 2 0.5
}

// Controls, authorized by the application and logged.
func ExampleWithControls() {
	live := rollout.NewLive(rollout.Static{Shadow: rollout.All})
	exp := dualrun.New[int]("example.controls", dualrun.WithRollout(live))
	defer exp.Unregister()

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "remote" {
				return slog.Attr{} // stable output for the example
			}
			return a
		},
	}))
	page := debugpage.New(
		debugpage.WithControls(func(r *http.Request, _ debugpage.Change) (string, error) {
			user, pass, ok := r.BasicAuth()
			if !ok || user != "ops" || pass != "s3cret" { // use your own authentication
				return "", fmt.Errorf("not an operator")
			}
			return user, nil
		}),
		debugpage.WithLogger(logger))
	defer page.Close()
	srv := httptest.NewServer(page)
	defer srv.Close()

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := "experiment=example.controls&action=set_rollout&shadow=100&candidate_primary=5"
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("ops", "s3cret")
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = resp.Body.Close()
	fmt.Println(resp.StatusCode, live.Load())
	// Output:
	// level=INFO msg="dualrun debug page: change" who=ops experiment=example.controls action=set_rollout before="shadow 100%" after="shadow 100%, candidate primary 5%"
	// 303 shadow 100%, candidate primary 5%
}
