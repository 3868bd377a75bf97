package dualruntest

import (
	"context"
	"testing"
)

// CompareEachWith is CompareEach with the subtest runner injected, for
// tests that observe the subtests through a fake testing.TB.
func CompareEachWith[In, T any](t testing.TB, run func(name string, f func(testing.TB)), inputs []In, legacy, candidate func(context.Context, In) (T, error), opts ...Option) {
	t.Helper()
	compareEach(t, run, inputs, legacy, candidate, opts)
}
