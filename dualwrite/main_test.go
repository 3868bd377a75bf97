package dualwrite_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/dualrun/dualrun/dualwrite/internal/pgtest"
)

// runStopping runs the tests, then stops the shared PostgreSQL cluster, so
// that the leak check runs with nothing of the tests left.
type runStopping struct{ m *testing.M }

func (r runStopping) Run() int {
	code := r.m.Run()
	pgtest.StopShared()
	return code
}

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	goleak.VerifyTestMain(runStopping{m})
}
