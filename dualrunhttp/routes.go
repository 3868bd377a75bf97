package dualrunhttp

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/safe"
)

// ScopeName is the instrumentation scope of this package's own instrument.
const ScopeName = "github.com/dualrun/dualrun/dualrunhttp"

// MetricSkipped is the name of the instrument that counts, per experiment
// and reason, the calls the policy chose to compare but that ran the
// primary only (an Int64ObservableCounter, unit {call}; in Prometheus
// dualrun_http_skipped_total).
const MetricSkipped = "dualrun.http.skipped"

// AttrReason is the attribute of MetricSkipped that holds the
// [SkipReason].
const AttrReason = attribute.Key("dualrun.http.reason")

// SkipReason says why a call that the rollout policy chose to compare ran
// the primary only. Such calls are counted by the core as uncompared
// (dualrun.calls with dualrun.compared=false), and by reason here.
type SkipReason uint8

const (
	// SkipMethod is a request method that is not compared (see
	// WithMethods).
	SkipMethod SkipReason = iota
	// SkipUpgrade is a protocol upgrade (an Upgrade header, such as
	// WebSocket's) or a CONNECT request: they take over the connection.
	SkipUpgrade
	// SkipRequestTooLarge is a request body longer than
	// WithMaxRequestBody.
	SkipRequestTooLarge
	// SkipRequestBodyError is a request body whose reading failed.
	SkipRequestBodyError
	// SkipNestedShadow is a request made in a shadow's context
	// (dualrun.IsShadow is true): the outbound call of a shadow handler
	// through a Transport, say. The shadow is already the other side of
	// a comparison; shadowing its calls again would compare a shadow with
	// a shadow of it and double the load the shadow puts on upstreams.
	SkipNestedShadow

	// NumSkipReasons is the number of reasons, for arrays indexed by
	// SkipReason.
	NumSkipReasons = int(SkipNestedShadow) + 1
)

var skipNames = [NumSkipReasons]string{"method", "upgrade", "request_too_large", "request_body_error", "nested_shadow"}

// String returns the value of the dualrun.http.reason attribute.
func (s SkipReason) String() string {
	if int(s) < len(skipNames) {
		return skipNames[s]
	}
	return "unknown"
}

// route is one experiment of a Handler or Transport, and its counters.
type route struct {
	route      string
	exp        *dualrun.Experiment[*response]
	skipped    [NumSkipReasons]atomic.Int64
	skipAttrs  [NumSkipReasons]metric.ObserveOption
	bodyUnread atomic.Int64
	hijacked   atomic.Int64
}

func (rt *route) skip(r SkipReason) { rt.skipped[r].Add(1) }

// routes holds the experiments of one Handler or Transport, one per route,
// made on first use and capped.
type routes struct {
	base    string
	opts    []dualrun.Option
	max     int
	byName  sync.Map // route → *route
	mu      sync.Mutex
	list    []*route
	closed  bool // Shutdown ran: new experiments are born shut down
	gone    bool // Unregister ran: new experiments are born unregistered
	reg     metric.Registration
	skipped metric.Int64ObservableCounter

	// calibrated says that the experiments run legacy a second time
	// (dualrun.WithCalibration): the calls then keep what that run needs.
	calibrated bool

	routeFailures atomic.Int64
	keyFailures   atomic.Int64
}

func newRoutes(cfg *config) *routes {
	cfg.cmp.resolve()
	opts := append(slices.Clip(cfg.expOpts), cfg.cmp.experimentOptions()...)
	// Options that make New panic (a typed option for another type) are
	// programmer errors: find them now rather than on the first request.
	probe := dualrun.New[*response](cfg.name, opts...)
	calibrated := probe.Stats().Calibration.Enabled
	probe.Unregister()
	rs := &routes{base: cfg.name, opts: opts, max: cfg.maxRoutes, calibrated: calibrated}
	mp := cfg.meter
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName, metric.WithInstrumentationVersion(dualrun.Version))
	var err error
	rs.skipped, err = meter.Int64ObservableCounter(MetricSkipped, metric.WithUnit("{call}"),
		metric.WithDescription("Calls the rollout policy chose to compare that ran the primary only, by reason."))
	if err == nil {
		rs.reg, err = meter.RegisterCallback(rs.observe, rs.skipped)
	}
	if err != nil {
		otel.Handle(err)
	}
	return rs
}

func (rs *routes) observe(_ context.Context, o metric.Observer) error {
	rs.mu.Lock()
	list := rs.list
	rs.mu.Unlock()
	for _, rt := range list {
		for i := range rt.skipped {
			o.ObserveInt64(rs.skipped, rt.skipped[i].Load(), rt.skipAttrs[i])
		}
	}
	return nil
}

// get returns the route's experiment, making it on first use.
func (rs *routes) get(name string) *route {
	if v, ok := rs.byName.Load(name); ok {
		return v.(*route)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if v, ok := rs.byName.Load(name); ok {
		return v.(*route)
	}
	if len(rs.list) >= rs.max {
		if v, ok := rs.byName.Load(OtherRoute); ok {
			return v.(*route)
		}
		name = OtherRoute
	}
	exp := rs.base
	if name != "" {
		exp += " " + name
	}
	rt := &route{route: name, exp: dualrun.New[*response](exp, rs.opts...)}
	for i := range rt.skipAttrs {
		rt.skipAttrs[i] = metric.WithAttributeSet(attribute.NewSet(
			dualrun.AttrExperiment.String(exp), AttrReason.String(SkipReason(i).String())))
	}
	if rs.closed {
		_ = rt.exp.Shutdown(context.Background()) // idle: returns at once
	}
	if rs.gone {
		rt.exp.Unregister()
	}
	// A new slice, so that observe and stats read theirs without the lock.
	rs.list = append(slices.Clip(rs.list), rt)
	rs.byName.Store(name, rt)
	return rt
}

// maxRouteLen bounds a route name (and so the experiment name) in bytes.
const maxRouteLen = 200

// nameOf runs a user's route or key func on r behind recover.
func nameOf(fn func(*http.Request) string, r *http.Request, failures *atomic.Int64) string {
	var s string
	if err := safe.Call("dualrunhttp route func", func() { s = fn(r) }, nil); err != nil {
		failures.Add(1)
		return ""
	}
	return safe.Cut(strings.ToValidUTF8(s, "\uFFFD"), maxRouteLen)
}

func (rs *routes) all() []*route {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.list
}

// shutdown shuts every experiment down, see ShadowHandler.Shutdown.
func (rs *routes) shutdown(ctx context.Context) error {
	rs.mu.Lock()
	rs.closed = true
	list := rs.list
	rs.mu.Unlock()
	var errs []error
	for _, rt := range list {
		if err := rt.exp.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if ctx.Err() != nil && len(errs) > 0 {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

// unregister releases every experiment and the instrument's callback.
func (rs *routes) unregister() {
	rs.mu.Lock()
	rs.gone = true
	list := rs.list
	reg := rs.reg
	rs.reg = nil
	rs.mu.Unlock()
	for _, rt := range list {
		rt.exp.Unregister()
	}
	if reg != nil {
		if err := reg.Unregister(); err != nil {
			otel.Handle(err)
		}
	}
}

// Stats is a snapshot of a ShadowHandler's or ShadowTransport's
// experiments.
type Stats struct {
	// Routes has one entry per route that had a call, sorted by route.
	Routes []RouteStats
	// RouteFailures counts calls whose WithRoute func panicked (they used
	// no route); KeyFailures those whose WithRolloutKey func panicked
	// (they had no key).
	RouteFailures int64
	KeyFailures   int64
}

// RouteStats is the state of one route's experiment.
type RouteStats struct {
	// Route is the route ("" for calls without one, "_OTHER" for those
	// beyond WithMaxRoutes); Stats.Name is the experiment's name.
	Route string
	// Skipped counts, by reason, the calls the policy chose to compare
	// that ran the primary only.
	Skipped [NumSkipReasons]int64
	// BodyUnread counts compared calls of a Transport whose caller closed
	// the primary's body before its end: their status and headers were
	// compared, their bodies not.
	BodyUnread int64
	// Hijacked counts compared calls on which a handler hijacked the
	// connection: there is no response to compare, the outcome is
	// ignored.
	Hijacked int64
	// Stats are the experiment's statistics. Its Fields count the
	// differing parts of the route's mismatches, most frequent first:
	// "status", "header Content-Type", "body" (bytes) and JSON paths such
	// as "$.items[*].price" (folded).
	Stats dualrun.Stats
}

func (rs *routes) stats() Stats {
	list := rs.all()
	s := Stats{Routes: make([]RouteStats, 0, len(list)), RouteFailures: rs.routeFailures.Load(), KeyFailures: rs.keyFailures.Load()}
	for _, rt := range list {
		r := RouteStats{
			Route: rt.route, BodyUnread: rt.bodyUnread.Load(), Hijacked: rt.hijacked.Load(),
			Stats: rt.exp.Stats(),
		}
		for i := range r.Skipped {
			r.Skipped[i] = rt.skipped[i].Load()
		}
		s.Routes = append(s.Routes, r)
	}
	slices.SortFunc(s.Routes, func(a, b RouteStats) int { return strings.Compare(a.Route, b.Route) })
	return s
}
