// Package integration holds tests of dualrun against real backends whose
// client libraries the core module must not make its users download: here
// the OpenTelemetry Prometheus exporter and the Prometheus client, scraped
// in-process, to pin the metric names and labels exactly as Prometheus
// shows them.
//
// It is a module of its own (github.com/dualrun/dualrun/integration) that
// replaces the root module with the checkout above it; it has no non-test
// code and is not meant to be imported.
package integration
