// Package dualrunhttp brings dualrun to both sides of net/http: shadow a
// whole http.Handler while it is rewritten, or an upstream service while a
// client moves to a new one, with the core's rollout, outcomes, telemetry,
// Reports and debug page.
//
// # Server side
//
//	mux.Handle("GET /items/{id}", dualrunhttp.Handler(legacyItems, newItems,
//		dualrunhttp.WithIgnoreJSONPaths("$.request_id", "$.items[*].updated_at"),
//		dualrunhttp.WithExperimentOptions(dualrun.WithRollout(policy)),
//	))
//
// The primary (legacy, until the rollout moves it) writes to the real
// ResponseWriter exactly as without dualrun: streaming and Flush, Hijack,
// HTTP/2 and http.ResponseController keep working, and nothing is buffered
// on the way to the client. The shadow gets a clone of the request (its
// body buffered up to [WithMaxRequestBody]), writes into a recorder that
// never reaches the client, and sees dualrun.IsShadow(r.Context()) true.
//
// # Client side
//
//	client := &http.Client{Transport: dualrunhttp.Transport(nil, nil,
//		dualrunhttp.WithCandidateURL("http://orders-v2.internal:8080"))}
//
// The same request goes to both upstreams; the caller gets the primary's
// *http.Response as its RoundTripper returned it, its body streaming as it
// arrives; the other side's response is read to the end and compared.
//
// # Which calls are compared
//
// The rollout policy of each experiment decides (by default: every call,
// legacy primary). On top of it, only GET, HEAD and OPTIONS are compared,
// because comparing a write runs it twice ([WithMethods] says why and how
// to allow it); requests that upgrade the connection (WebSocket, CONNECT),
// requests whose body is longer than [WithMaxRequestBody], and requests
// made in a shadow's context (the outbound calls of a shadow handler,
// which are not shadowed again) are never compared. Such calls run the
// primary only (the rollout still picks which side), are counted by the
// core as uncompared, and here by [SkipReason], in [Stats] and the
// dualrun.http.skipped counter.
//
// # What is compared
//
// The status code; the headers of [WithHeaders] (Content-Type by default);
// and the body: byte for byte, unless both sides declare a JSON content
// type (application/json, or any +json type). JSON bodies are parsed and
// compared as JSON: member order does not matter, numbers are compared as
// exact decimals (1.0 equals 1, and 9007199254740993 differs from
// 9007199254740992, which float64 would confuse), paths of
// [WithIgnoreJSONPaths] are left out and arrays at [WithUnorderedArrays]
// are compared as multisets. Duplicate member names keep the last value,
// as encoding/json does. A gzip Content-Encoding is undone first. Bodies
// longer than [WithMaxResponseBody] are compared by length and SHA-256,
// without being kept.
//
// # Paths
//
// Each differing part of a response has a path: "status", "header
// Content-Type" (one per compared header), "body" for bodies compared as
// bytes, and for JSON bodies a JSON path folded and bounded as the core
// folds the paths of Go values: array indexes become [*]
// ("$.items[*].price"), a path that returns to a member name it passed
// through folds the repetition into "…", paths are cut at 256 bytes, and
// one comparison names at most 32 of them. They are the experiment's own
// paths (through dualrun.WithDiffer): Report.Paths, Stats.Fields (at most
// 64 per route's experiment, then "_OTHER"), the dualrun.field attribute of
// dualrun.mismatch.fields and the mismatch classes name them, and
// dualrun.WithCalibration and dualrun.WithIgnorePaths work on them. A
// Report's Diff shows each with the legacy (-) and candidate (+) values
// and, for a folded JSON path, the first concrete one:
//
//	$.items[*].price (at $.items[3].price)
//	  - 10
//	  + 11
//
// Member names are part of JSON paths, so they reach the metrics: a
// document that uses ids or personal data as member names (an object
// keyed by user) puts them in the dualrun.field attribute, up to the cap
// of 64 paths. Leave such members out with [WithIgnoreJSONPaths]
// ("$.by_user.*"), or compare those bodies as bytes ([WithBytes]).
//
// Two options leave differences out, at two stages. [WithIgnoreJSONPaths]
// takes patterns and removes those values from the comparison: the rest of
// the body is compared, and a call that differs nowhere else is a match.
// dualrun.WithIgnorePaths (in [WithExperimentOptions]) takes paths as
// Stats.Fields names them, exactly, and records a mismatch whose every
// differing path is listed as ignored, counted apart: it freezes what
// dualrun.WithCalibration learned.
//
// Headers that carry secrets (Authorization, Cookie, Set-Cookie,
// Proxy-Authorization and those of [WithSecretHeaders]) never appear in
// Reports: when compared, their values are replaced by a keyed hash that
// is equal for equal values and cannot be checked against guesses outside
// the process.
//
// # Experiments and routes
//
// Each route has an experiment of its own, named "<name> <route>", such as
// "http.server GET /items/{id}": its own rollout decision, outcomes,
// statistics and telemetry series. A Handler takes the route from the Go
// 1.22 ServeMux pattern of the request (or of the legacy *http.ServeMux it
// wraps), a Transport has none by default, and [WithRoute] sets a func of
// your own; the raw URL is never used, as it would make an experiment per
// id. Experiments are made on first use, at most [WithMaxRoutes] (further
// routes share "_OTHER"), within the process cap of
// dualrun.SetMaxExperiments.
//
// dualrun.WithCalibration works as for any experiment: on sampled calls
// legacy runs a second time once the call is over, and the paths on which
// legacy differs from itself (request ids, timestamps) are learned as
// noise. That run never reaches the client: a Handler serves it into a
// recorder, with a clone of the request; a Transport sends a copy of
// legacy's request made before the call and reads the response to its
// end. Calibrated experiments keep that copy on each compared call. Legacy
// runs twice on those calls: with [WithMethods] allowing writes, its
// writes too.
//
// # Costs
//
// A call that is not compared costs a map lookup and the policy's
// decision. A compared call buffers the request body, copies the primary's
// response body into memory as it is written or read (up to
// WithMaxResponseBody, then hashes it), runs the other side on a dualrun
// worker and compares on it; the client's response never waits for the
// shadow. BENCHMARKS.md has measured figures.
package dualrunhttp
