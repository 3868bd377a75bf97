package dualrun

// ScopeName is the instrumentation scope of every meter and tracer dualrun
// creates: the module's import path.
const ScopeName = "github.com/dualrun/dualrun"

// Version is the version of this module, reported as the instrumentation
// scope version.
const Version = "0.1.0"
