package dualrunhttp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine is left running: every
// shadow, server and connection must be gone once a test is done.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
