package dualrunhttp

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/metric"

	"github.com/dualrun/dualrun"
)

// Defaults, each overridable by an option.
const (
	// DefaultServerName is the experiment name (before the route) of a
	// Handler without WithName.
	DefaultServerName = "http.server"
	// DefaultClientName is the experiment name (before the route) of a
	// Transport without WithName.
	DefaultClientName = "http.client"
	// DefaultMaxRequestBody is how many bytes of a request body are
	// buffered for a compared call (WithMaxRequestBody).
	DefaultMaxRequestBody = 1 << 20
	// DefaultMaxResponseBody is how many bytes of each response are kept
	// for the comparison; longer bodies are compared by length and SHA-256
	// (WithMaxResponseBody). It bounds the memory of compared calls: each
	// keeps up to this much of both responses, and a JSON comparison
	// allocates up to about 50 times the two bodies for the shapes that
	// cost encoding/json most (arrays of small numbers or objects).
	DefaultMaxResponseBody = 256 << 10
	// DefaultMaxRoutes caps the experiments one Handler or Transport makes
	// (WithMaxRoutes); further routes share the experiment of the route
	// "_OTHER".
	DefaultMaxRoutes = 256
)

// OtherRoute is the route of the calls whose route came after
// [WithMaxRoutes] routes were taken.
const OtherRoute = "_OTHER"

// config is the resolved configuration of a Handler or a Transport.
type config struct {
	name        string
	route       func(*http.Request) string
	key         func(*http.Request) string
	expOpts     []dualrun.Option
	methods     []string
	maxRequest  int64
	maxResponse int64
	maxRoutes   int
	meter       metric.MeterProvider
	cmp         compareConfig

	// Transport only.
	candidateURL *url.URL
	candidateReq func(*http.Request)
}

func newConfig(defaultName string, opts []Option) config {
	c := config{
		name:        defaultName,
		methods:     []string{http.MethodGet, http.MethodHead, http.MethodOptions},
		maxRequest:  DefaultMaxRequestBody,
		maxResponse: DefaultMaxResponseBody,
		maxRoutes:   DefaultMaxRoutes,
		cmp:         defaultCompareConfig(),
	}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// Option configures a Handler or a Transport. Options that only make sense
// on one of them say so, and are ignored by the other.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithName sets the first part of the experiment names: an experiment is
// named name, or name + " " + route when the call has a route (see
// [WithRoute]). The default is "http.server" for a Handler and
// "http.client" for a Transport. It panics if name is empty.
func WithName(name string) Option {
	if name == "" {
		panic("dualrunhttp: WithName(\"\"): want a stable, non-empty name such as \"catalog\"")
	}
	return optionFunc(func(c config) config {
		c.name = name
		return c
	})
}

// WithRoute sets the function that names the route of a request; each route
// has an experiment of its own (its rollout, outcomes, statistics and
// telemetry series). The result must come from a small, fixed set, such as
// the route templates of the service: never the raw path, whose ids would
// make an experiment per user. "" means no route.
//
// By default a Handler uses the Go 1.22 ServeMux pattern of the request
// (r.Pattern, such as "GET /items/{id}"), or, when it wraps a legacy
// *http.ServeMux and the pattern is not known yet, the pattern that mux
// would route the request to. A Transport has no route by default.
//
// Beyond [WithMaxRoutes] routes, further routes share the experiment of
// the route "_OTHER". A route func that panics gives no route for that
// call (counted in Stats.RouteFailures).
func WithRoute(fn func(*http.Request) string) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.route = fn
		}
		return c
	})
}

// WithMaxRoutes caps the experiments one Handler or Transport makes
// (default [DefaultMaxRoutes]). It panics if n < 1.
func WithMaxRoutes(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("dualrunhttp: WithMaxRoutes(%d): want at least 1", n))
	}
	return optionFunc(func(c config) config {
		c.maxRoutes = n
		return c
	})
}

// WithRolloutKey sets the function that returns the bucketing key of a
// request (a user or tenant id, say), so that percentage rollouts decide
// the same way for the same key on every replica (see dualrun.WithKey). A
// func that panics gives no key for that call.
func WithRolloutKey(fn func(*http.Request) string) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.key = fn
		}
		return c
	})
}

// WithExperimentOptions adds options for every experiment made: the rollout
// policy, telemetry providers, the shadow timeout, the in-flight limit,
// publishers, dualrun.WithIgnorePaths and dualrun.WithCalibration (both
// see the paths of Stats.Fields, such as "$.request_id"; see
// [WithIgnoreJSONPaths] for the difference). Comparison options typed for
// a value (dualrun.WithComparer, WithDiffer, WithNormalizer, WithIgnore,
// WithClone) do not apply: responses are compared by this package's
// options. They make New panic, at construction. dualrun.WithCmpOptions
// has no effect.
func WithExperimentOptions(opts ...dualrun.Option) Option {
	return optionFunc(func(c config) config {
		c.expOpts = append(slices.Clip(c.expOpts), opts...)
		return c
	})
}

// WithMeterProvider sets the MeterProvider of the experiments (as
// dualrun.WithMeterProvider) and of this package's own instrument,
// dualrun.http.skipped. A nil provider is ignored; the default is the
// global one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		if mp != nil {
			c.meter = mp
			c.expOpts = append(slices.Clip(c.expOpts), dualrun.WithMeterProvider(mp))
		}
		return c
	})
}

// WithMethods sets the request methods that may be compared (default GET,
// HEAD and OPTIONS); requests with other methods run the primary only,
// counted as [SkipMethod].
//
// Comparing a method that writes is a dual write: the write runs twice,
// once on each side. A POST that charges a card, sends an e-mail or inserts
// a row does so on the legacy and on the candidate. Allow such methods only
// when the shadow side writes nowhere that matters (a separate store, or
// code that checks dualrun.IsShadow(r.Context()) and skips its side
// effects), and keep in mind that the two writes race each other.
func WithMethods(methods ...string) Option {
	ms := make([]string, 0, len(methods))
	for _, m := range methods {
		ms = append(ms, strings.ToUpper(m))
	}
	return optionFunc(func(c config) config {
		c.methods = ms
		return c
	})
}

// WithMaxRequestBody sets how many bytes of a request body are buffered
// for a compared call, so that both sides get it intact (default
// [DefaultMaxRequestBody]). A longer body is not buffered further: the call
// runs the primary only, with the body intact, counted as
// [SkipRequestTooLarge]. It panics if n < 0.
func WithMaxRequestBody(n int64) Option {
	if n < 0 {
		panic(fmt.Sprintf("dualrunhttp: WithMaxRequestBody(%d): want n >= 0", n))
	}
	return optionFunc(func(c config) config {
		c.maxRequest = n
		return c
	})
}

// WithMaxResponseBody sets how many bytes of each side's response are kept
// for the comparison (default [DefaultMaxResponseBody]). Longer bodies are
// compared by their length and SHA-256, without being kept. It panics if
// n < 0.
func WithMaxResponseBody(n int64) Option {
	if n < 0 {
		panic(fmt.Sprintf("dualrunhttp: WithMaxResponseBody(%d): want n >= 0", n))
	}
	return optionFunc(func(c config) config {
		c.maxResponse = n
		return c
	})
}

// WithHeaders sets the response headers that are compared (default
// Content-Type). Headers that carry secrets ([WithSecretHeaders]) are
// compared by a keyed hash and shown in Reports as "[redacted …]", never
// by value.
func WithHeaders(names ...string) Option {
	hs := canonicalNames(names)
	return optionFunc(func(c config) config {
		c.cmp.headers = hs
		return c
	})
}

// WithSecretHeaders adds header names whose values never appear in
// Reports to [DefaultSecretHeaders] (Authorization, Cookie,
// Proxy-Authorization and Set-Cookie).
func WithSecretHeaders(names ...string) Option {
	hs := canonicalNames(names)
	return optionFunc(func(c config) config {
		c.cmp.secrets = append(slices.Clip(c.cmp.secrets), hs...)
		return c
	})
}

// WithIgnoreJSONPaths adds JSON paths whose values are left out of the
// comparison of JSON bodies, such as "$.request_id" or
// "$.items[*].updated_at": they are not compared, nor named in paths, and
// the rest of the body still is (elements of unordered arrays are matched
// without them too). The syntax: "$" then any of ".name", `["any name"]`
// (a JSON string), "[3]" (an array index), and "[*]" or ".*" (any element
// or member). The JSON paths that Reports and Stats.Fields show can be
// given as they are, unless folded (with a "…"). It panics on a malformed
// path.
//
// It is not dualrun.WithIgnorePaths, which [WithExperimentOptions] also
// takes: that one compares as usual, then records a mismatch as ignored
// when every differing path is in its list (the paths exactly as
// Stats.Fields names them, "header X-Id" and "status" among them; no
// patterns), counted in Stats.Calibration.IgnoredByPaths. It freezes the
// noise that dualrun.WithCalibration learned; this one says what is never
// compared.
func WithIgnoreJSONPaths(paths ...string) Option {
	ps := mustCompile("WithIgnoreJSONPaths", paths)
	return optionFunc(func(c config) config {
		c.cmp.ignore = append(slices.Clip(c.cmp.ignore), ps...)
		return c
	})
}

// WithUnorderedArrays adds JSON paths of arrays whose order does not
// matter, such as "$.tags" or "$.items[*].labels": they are compared as
// multisets. The syntax is that of [WithIgnoreJSONPaths]. It panics on a
// malformed path.
func WithUnorderedArrays(paths ...string) Option {
	ps := mustCompile("WithUnorderedArrays", paths)
	return optionFunc(func(c config) config {
		c.cmp.unordered = append(slices.Clip(c.cmp.unordered), ps...)
		return c
	})
}

// WithBytes makes bodies compare byte for byte even when their content
// type is JSON.
func WithBytes() Option {
	return optionFunc(func(c config) config {
		c.cmp.bytesOnly = true
		return c
	})
}

// WithCandidateURL makes the Transport send the candidate side's request
// to base: its scheme and host replace the request's, and its path is
// prefixed to the request's path; the query is kept. The Host header is
// cleared, so the candidate gets its own. Transport only. It panics if
// base is not an absolute URL.
func WithCandidateURL(base string) Option {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		panic(fmt.Sprintf("dualrunhttp: WithCandidateURL(%q): want an absolute URL such as \"http://orders-v2:8080\"", base))
	}
	return optionFunc(func(c config) config {
		c.candidateURL = u
		return c
	})
}

// WithCandidateRequest sets a hook that edits the candidate side's request
// (a clone, after WithCandidateURL's rewrite) before the Transport sends
// it: add a header, change the path. If it panics, the candidate side fails
// with a *dualrun.CallbackError. Transport only.
func WithCandidateRequest(fn func(*http.Request)) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.candidateReq = fn
		}
		return c
	})
}

func canonicalNames(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n = http.CanonicalHeaderKey(strings.TrimSpace(n)); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func mustCompile(option string, paths []string) []pattern {
	out := make([]pattern, 0, len(paths))
	for _, p := range paths {
		pt, err := compilePattern(p)
		if err != nil {
			panic(fmt.Sprintf("dualrunhttp: %s(%q): %v", option, p, err))
		}
		out = append(out, pt)
	}
	return out
}
