package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/examples/service/shipping"
	"github.com/dualrun/dualrun/rollout"
)

// experimentName is the experiment of the quote endpoint, as dashboards and
// alerts show it (label dualrun_experiment in Prometheus).
const experimentName = "shipping.quote"

// quotePath is the quote endpoint.
const quotePath = "/v1/quote"

// Bounds of a request body: the service parses outside input.
const (
	maxBodyBytes   = 4 << 10
	maxOrderIDLen  = 64
	maxZoneLen     = 8
	maxWeightGrams = 1_000_000
)

// newExperiment makes the experiment of the quote endpoint, whose rollout
// policy decides which side is primary and which calls are compared, with
// a shadow timeout of shipping.ShadowTimeout (1 s).
func newExperiment(tel *telemetry, policy rollout.Policy) *dualrun.Experiment[shipping.Quote] {
	return dualrun.New[shipping.Quote](experimentName,
		dualrun.WithMeterProvider(tel.meterProvider),
		dualrun.WithTracerProvider(tel.tracerProvider),
		dualrun.WithRollout(policy),
		dualrun.WithShadowTimeout(shipping.ShadowTimeout),
		dualrun.WithMaxInFlight(256),
	)
}

// newHandler returns the service's routes: the quote endpoint (traced by
// otelhttp), the Prometheus scrape endpoint, dualrun's in-process
// statistics, a health check, and the admin endpoints: the rollout in
// force (GET /admin/rollout) and the switch of the candidate code (POST
// /admin/candidate?version=rewrite|good|bad).
func newHandler(exp *dualrun.Experiment[shipping.Quote], tel *telemetry, adm *admin, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	quote := otelhttp.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveQuote(w, r, exp, adm.candidate, log)
	}), "POST "+quotePath,
		otelhttp.WithTracerProvider(tel.tracerProvider),
		otelhttp.WithMeterProvider(tel.meterProvider))
	mux.Handle("POST "+quotePath, quote)
	mux.Handle("GET /metrics", promhttp.HandlerFor(tel.registry, promhttp.HandlerOpts{
		Registry:          prometheus.Registerer(tel.registry),
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, newStatsBody(exp.Stats()))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /admin/rollout", adm.handleRollout)
	mux.HandleFunc("POST /admin/candidate", func(w http.ResponseWriter, r *http.Request) {
		adm.handleCandidate(w, r, log)
	})
	return mux
}

// serveQuote answers one quote request with the primary's quote (legacy's,
// unless the rollout makes the candidate primary), while dualrun compares
// the other side's in the background.
func serveQuote(w http.ResponseWriter, r *http.Request, exp *dualrun.Experiment[shipping.Quote], cand *candidateSwitch, log *slog.Logger) {
	req, err := decodeRequest(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	ctx := dualrun.WithKey(r.Context(), req.OrderID)
	q, err := exp.Run(ctx,
		func(ctx context.Context) (shipping.Quote, error) { return shipping.Legacy(ctx, req) },
		func(ctx context.Context) (shipping.Quote, error) { return cand.quote(ctx, req) })
	var (
		zoneErr   *shipping.ZoneError
		weightErr *shipping.WeightError
	)
	switch {
	case errors.As(err, &zoneErr), errors.As(err, &weightErr):
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: err.Error()})
	case err != nil:
		log.Warn("quote failed", "order", req.OrderID, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "quote failed"})
	default:
		writeJSON(w, http.StatusOK, q)
	}
}

// errorBody is the body of an error response.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeRequest parses and checks a quote request: one JSON object with
// known fields only, nothing after it, an order ID of 1 to 64 printable
// ASCII characters, a zone of 1 to 8 upper-case letters and a weight in
// [0, 1000 kg] (a negative weight is the implementations' to reject).
func decodeRequest(body io.Reader) (shipping.Request, error) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	var req shipping.Request
	if err := dec.Decode(&req); err != nil {
		return shipping.Request{}, fmt.Errorf("bad request body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return shipping.Request{}, errors.New("bad request body: more than one JSON value")
	}
	switch {
	case req.OrderID == "" || len(req.OrderID) > maxOrderIDLen || strings.IndexFunc(req.OrderID, notPrintableASCII) >= 0:
		return shipping.Request{}, fmt.Errorf("bad order_id: want 1 to %d printable ASCII characters", maxOrderIDLen)
	case req.Zone == "" || len(req.Zone) > maxZoneLen || strings.IndexFunc(req.Zone, notUpper) >= 0:
		return shipping.Request{}, fmt.Errorf("bad zone: want 1 to %d upper-case letters", maxZoneLen)
	case req.WeightGrams > maxWeightGrams:
		return shipping.Request{}, fmt.Errorf("bad weight_grams: over %d", maxWeightGrams)
	}
	return req, nil
}

func notPrintableASCII(r rune) bool { return r < 0x21 || r > 0x7e }
func notUpper(r rune) bool          { return r < 'A' || r > 'Z' }

// statsBody is the body of GET /stats: the experiment's in-process
// statistics (dualrun's Stats), which need no telemetry backend. Its
// latency quantiles come from dualrun's own fine-grained histogram (within
// 1/64 of the exact sample quantile), a reference for the coarser
// Prometheus histogram.
type statsBody struct {
	Experiment   string           `json:"experiment"`
	Calls        int64            `json:"calls"`
	Compared     int64            `json:"compared"`
	Outcomes     map[string]int64 `json:"outcomes"`
	MismatchRate float64          `json:"mismatch_rate"`
	InFlight     int64            `json:"in_flight"`
	Legacy       sideStats        `json:"legacy"`
	Candidate    sideStats        `json:"candidate"`
}

// sideStats is one side's latency on compared calls, in seconds.
type sideStats struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_seconds"`
	P99   float64 `json:"p99_seconds"`
	Max   float64 `json:"max_seconds"`
}

func newStatsBody(s dualrun.Stats) statsBody {
	b := statsBody{
		Experiment:   s.Name,
		Calls:        s.Calls,
		Compared:     s.Compared,
		Outcomes:     make(map[string]int64, rollout.NumOutcomes),
		MismatchRate: s.MismatchRate(),
		InFlight:     s.InFlight,
		Legacy:       newSideStats(s.Legacy),
		Candidate:    newSideStats(s.Candidate),
	}
	for o := range rollout.NumOutcomes {
		b.Outcomes[rollout.Outcome(o).String()] = s.Count(rollout.Outcome(o))
	}
	return b
}

func newSideStats(l dualrun.Latency) sideStats {
	return sideStats{Count: l.Count, P50: l.P50.Seconds(), P99: l.P99.Seconds(), Max: l.Max.Seconds()}
}
