package debugpage_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/debugpage"
)

// TestClassesAndCalibration: an experiment's mismatch classes and what
// calibration learned show on its page, in JSON and in HTML.
func TestClassesAndCalibration(t *testing.T) {
	type receipt struct{ ID, Total int64 }
	var seq atomic.Int64
	exp := dualrun.New[receipt]("page.classes", dualrun.WithCalibration(1), dualrun.WithMaxInFlight(1))
	defer exp.Unregister()
	page := debugpage.New()
	defer page.Close()
	for i := range 40 {
		total := int64(100)
		if i%4 == 0 {
			total = 101
		}
		_, _ = exp.Run(context.Background(),
			func(context.Context) (receipt, error) { return receipt{seq.Add(1), 100}, nil },
			func(context.Context) (receipt, error) { return receipt{-1, total}, nil })
		for exp.Stats().InFlight > 0 {
			runtime.Gosched() // one comparison at a time, for exact counts
		}
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var data struct {
		Experiments []struct {
			Classes []struct {
				Kind  string   `json:"kind"`
				Paths []string `json:"paths"`
				Count int64    `json:"count"`
			} `json:"classes"`
			Calibration *struct {
				Samples    int64    `json:"samples"`
				NoisyPaths []string `json:"noisy_paths"`
			} `json:"calibration"`
		} `json:"experiments"`
	}
	rec := get(t, page, "?experiment=page.classes", "application/json")
	if err := json.Unmarshal(rec.Body.Bytes(), &data); err != nil || len(data.Experiments) != 1 {
		t.Fatalf("page JSON: %v\n%s", err, rec.Body)
	}
	e := data.Experiments[0]
	if len(e.Classes) == 0 || e.Classes[0].Kind != "value" {
		t.Errorf("classes %+v", e.Classes)
	}
	if e.Calibration == nil || e.Calibration.Samples == 0 || len(e.Calibration.NoisyPaths) != 1 || e.Calibration.NoisyPaths[0] != ".ID" {
		t.Errorf("calibration %+v, want .ID learned as noise", e.Calibration)
	}
	html := get(t, page, "?experiment=page.classes", "text/html").Body.String()
	for _, want := range []string{"mismatch classes", "calibration", "<code>.ID</code>"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}
