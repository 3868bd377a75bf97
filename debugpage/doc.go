// Package debugpage serves a live page that shows every dualrun experiment
// of the process at a glance — the migration's single pane of glass,
// with no backend needed. Mount it like net/http/pprof or expvar, where
// only operators reach it:
//
//	mux.Handle("/debug/dualrun/", debugpage.Handler())
//
// The overview lists every experiment registered in the process: its
// primary side and rollout (percentages, or a ramp's step and last
// transition), calls, comparisons, the count of each outcome, the mismatch
// rate, shed and in-flight shadows, each side's p50/p90/p99 latency as a
// small inline SVG bar chart, the top differing paths and the most recent
// Reports with their diffs. Each experiment has a page of its own
// (?experiment=name) with its differing path sets and more Reports. The
// page reloads itself (WithRefresh). It is rendered on the server with
// html/template, with a few lines of inline CSS and JavaScript and no
// external asset, so it works offline; every user-controlled text
// (experiment names, paths, diffs, error texts) is escaped.
//
// # Reports
//
// Reports come from a [ring.Ring]: the one given with [WithRing], or one the
// page attaches itself with dualrun.AddPublisher (see [New]). Diffs and
// error texts are shown unless [WithoutValues]; keys only with [WithKeys].
//
// # Controls
//
// Controls are off by default: the page is read-only and says so. With
// [WithControls] and an authorization hook, an experiment's page offers:
// setting the percentages of a *rollout.Live, pausing, resuming, advancing
// or rolling back a *rollout.Ramp, and pausing or resuming the
// experiment's shadows (any registered experiment, through
// dualrun.Experiments). Every change is authorized by the
// hook with the request, and logged with who made it and what it was, the
// state before and after ([WithLogger]); refused attempts are logged too.
// POSTs must be same-origin (net/http's CrossOriginProtection: browsers'
// Sec-Fetch-Site and Origin headers), so another site cannot make a
// logged-in operator's browser change a rollout.
//
// Every response carries a Content-Security-Policy that allows only the
// page's own nonce-tagged style and script, no framing
// (frame-ancestors 'none', X-Frame-Options: DENY) and
// X-Content-Type-Options: nosniff.
//
// # JSON
//
// A request with "Accept: application/json" gets the same data as JSON,
// schema version [SchemaVersion] (schema.json beside this file is its JSON
// Schema). New fields may appear within a version:
//
//	{
//	  "schema_version": 1,
//	  "time": "2026-11-30T12:00:00Z",
//	  "read_only": true,            // no controls (WithControls not given)
//	  "shadows_disabled": false,    // the process-wide kill switch
//	  "experiments": [{
//	    "name": "checkout.price",
//	    "rollout": {
//	      "policy": "live",         // default, static, live, ramp or other
//	      "description": "live: shadow 100%, candidate primary 10%",
//	      "shadow_percent": 100, "candidate_primary_percent": 10,
//	      "ramp": {"step": 3, "step_name": "…", "steps": 7, "paused": false,
//	               "closed": false, "waiting": "…",
//	               "last_transition": "promote 2 → 3",
//	               "last_transition_time": "…"}   // ramps only
//	    },
//	    "primary": "candidate on 10% of calls",
//	    "calls": 1200, "compared": 1200, "candidate_primary": 118,
//	    "outcomes": {"match": 1190, "mismatch": 7, "ignored": 0, "timeout": 1,
//	                 "panic": 0, "error": 0, "aborted": 0, "shed": 2},
//	    "mismatch_kinds": {"value": 6, "error": 1, "errors_differ": 0},
//	    "mismatch_rate": 0.0058,    // mismatch / (match + mismatch + ignored)
//	    "shed": 2, "in_flight": 0, "paused": false, "shut_down": false,
//	    "latency": {"legacy": {"count": 1200, "errors": 0, "mean_seconds": …,
//	                "p50_seconds": …, "p90_seconds": …, "p99_seconds": …,
//	                "max_seconds": …}, "candidate": {…}},
//	    "fields": [{"path": ".Items[*].Price", "count": 6}],
//	    "path_sets": [{"outcome": "mismatch", "kind": "value",
//	                   "paths": [".Items[*].Price"], "count": 5,
//	                   "sample_id": "…"}],   // an experiment's page only
//	    "reports": {"published": 8, "dropped": 0, "suppressed": 0},
//	    "recent": [ … ]             // Reports in the JSON-lines form
//	  }]
//	}
//
// Each of "recent" is a Report's JSON form ([dualrun.Report.JSON], the
// schema of github.com/dualrun/dualrun/exporters/jsonl), with values unless
// [WithoutValues] and the key only with [WithKeys]. An experiment's page
// (?experiment=name) answers with the same document holding that one
// experiment, or 404.
package debugpage
