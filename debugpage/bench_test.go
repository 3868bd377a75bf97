package debugpage_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dualrun/dualrun/debugpage"
)

// BenchmarkOverview measures rendering the overview with one experiment
// and its Report.
func BenchmarkOverview(b *testing.B) {
	page := debugpage.New()
	defer page.Close()
	mismatch(b, "bench.page", "n")
	for _, accept := range []string{"text/html", "application/json"} {
		b.Run(accept, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Accept", accept)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				page.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
