// Package e2e is the harness of dualrun's end-to-end tests, shared by the
// modules whose tests run real outside programs on loopback (the dashboards
// test, the fleet ramp test): it starts processes so that none outlives the
// test, captures their output, waits for conditions with a bound, builds Go
// binaries, and runs a real Prometheus with a test configuration and queries
// it through the Prometheus HTTP API client.
//
// Tests that need outside tools call [NeedTools]: a missing tool skips the
// test, unless [Strict] (CI=true or DUALRUN_E2E=1) makes it a failure.
//
// Every helper takes the test's [testing.TB] and registers its own cleanup
// with it (processes stopped with their process group, temporary
// directories removed), so a test tears everything down even when it
// fails.
//
// It lives in a module of its own under internal/, so that the core module
// does not depend on the Prometheus client and the test modules import it
// with a replace directive.
package e2e
