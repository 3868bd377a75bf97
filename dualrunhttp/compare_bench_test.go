package dualrunhttp

import (
	"net/http"
	"testing"
)

// BenchmarkCompare is the comparison of two responses alone, as the shadow
// side runs it: byte-equal bodies (no parse), JSON bodies equal as JSON
// but not as bytes (both parsed and walked), and JSON bodies that differ
// in one member (parsed, walked, the difference described).
func BenchmarkCompare(b *testing.B) {
	const (
		body      = `{"id":42,"name":"espresso machine","price":{"amount":"199.99","currency":"EUR"},"tags":["kitchen","coffee","sale"],"stock":[{"store":"ams","qty":3},{"store":"ber","qty":0}],"updated_at":"2026-11-30T08:00:00Z"}`
		reordered = `{"updated_at":"2026-11-30T08:00:00Z","stock":[{"qty":3,"store":"ams"},{"qty":0,"store":"ber"}],"tags":["kitchen","coffee","sale"],"price":{"currency":"EUR","amount":"199.99"},"name":"espresso machine","id":42}`
		differs   = `{"updated_at":"2026-11-30T08:00:00Z","stock":[{"qty":2,"store":"ams"},{"qty":0,"store":"ber"}],"tags":["kitchen","coffee","sale"],"price":{"currency":"EUR","amount":"199.99"},"name":"espresso machine","id":42}`
	)
	h := http.Header{"Content-Type": {"application/json"}}
	for _, tt := range []struct {
		name string
		a, c string
		want bool
	}{{"bytes-equal", body, body, true}, {"json-equal", body, reordered, true}, {"json-differs", body, differs, false}} {
		b.Run(tt.name, func(b *testing.B) {
			cc := defaultCompareConfig()
			cc.resolve()
			rt := &route{}
			l, r := side{200, h, tt.a}.response(&cc, rt, DefaultMaxResponseBody), side{200, h, tt.c}.response(&cc, rt, DefaultMaxResponseBody)
			b.ReportAllocs()
			for b.Loop() {
				if cc.differ(l, r).Equal != tt.want {
					b.Fatal("wrong result")
				}
			}
		})
	}
}
