package dualrun_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine is still running once
// they are done: every shadow and every report dispatcher must have exited
// after its experiment's Shutdown.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
