package dualrun_test

import (
	"testing"

	"github.com/dualrun/dualrun"
)

// These tests pin the programmer errors of options.go (and of New, which
// checks the typed options against T): a bad option panics with a clear
// message.

// TestProgrammerErrors: bad options panic with a clear message.
func TestProgrammerErrors(t *testing.T) {
	tests := []struct {
		name string
		want string
		f    func()
	}{
		{"empty name", "name is empty", func() { dualrun.New[int]("") }},
		{"zero timeout", "WithShadowTimeout", func() { dualrun.WithShadowTimeout(0) }},
		{"zero in-flight", "WithMaxInFlight", func() { dualrun.WithMaxInFlight(0) }},
		{"process limit", "SetProcessMaxInFlight", func() { dualrun.SetProcessMaxInFlight(0) }},
		{"comparer type", "WithComparer", func() {
			dualrun.New[int]("wrong-comparer", dualrun.WithComparer(func(a, b string) bool { return a == b }))
		}},
		{"normalizer type", "WithNormalizer", func() {
			dualrun.New[int]("wrong-normalizer", dualrun.WithNormalizer(func(s string) string { return s }))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustPanic(t, tt.want, tt.f) })
	}
}
