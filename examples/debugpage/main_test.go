package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun serves the page briefly, reads its JSON form while calls go on,
// and checks the summary line.
func TestRun(t *testing.T) {
	var out strings.Builder
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(1500*time.Millisecond, &out, ready) }()
	url := <-ready
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	var page struct {
		Experiments []struct {
			Name     string           `json:"name"`
			Outcomes map[string]int64 `json:"outcomes"`
		} `json:"experiments"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("page JSON: %v\n%s", err, body)
	}
	found := false
	for _, e := range page.Experiments {
		if e.Name == "pricing.quote" {
			found = true
			if _, ok := e.Outcomes["match"]; !ok {
				t.Errorf("outcomes %v lack match", e.Outcomes)
			}
		}
	}
	if !found {
		t.Fatalf("pricing.quote not on the page: %s", body)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "dualrun debug page: http://127.0.0.1:") || !strings.Contains(out.String(), "calls, mismatch rate") {
		t.Errorf("output:\n%s", out.String())
	}
}
