package openfeature_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The flagd provider (v0.6.0) never closes its in-process service's event
// channel on Shutdown, so the provider's handleEvents goroutine stays
// blocked after the provider is shut down: an upstream bug, still open when
// this was written. That one goroutine is ignored; everything else,
// including every goroutine of this package, must be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/open-feature/go-sdk-contrib/providers/flagd/pkg.(*Provider).handleEvents"))
}
