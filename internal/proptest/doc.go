// Package proptest holds the property tests of package dualrun, which use
// pgregory.net/rapid to draw random inputs and shrink failures.
//
// They live in a package of their own, not beside the code they test, so
// that rapid stays out of the root package's test binary: rapid builds
// about 1 MB of Unicode tables when it is initialised, and that live heap
// would make every garbage collection in the root package's benchmarks mark
// it, which is a cost of the test binary, not of dualrun. The tests use
// only dualrun's exported API.
package proptest
