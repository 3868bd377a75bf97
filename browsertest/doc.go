// Package browsertest holds the tests that need more than the library's
// own dependencies: the debug page driven in a real headless Chromium
// (github.com/chromedp/chromedp), and the JSON Schema validation of the
// JSON-lines exporter's output and of the debug page's JSON
// (github.com/santhosh-tekuri/jsonschema/v6). It is a module of its own so
// that users of dualrun never download them.
//
// The browser test needs Debian's chromium (apt-get install chromium). When
// it is missing the test fails if the environment has CI=true or
// DUALRUN_E2E=1, and is skipped otherwise.
package browsertest
