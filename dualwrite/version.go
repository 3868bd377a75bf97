package dualwrite

// ScopeName is the instrumentation scope of dualwrite's meter and tracer:
// the package's import path.
const ScopeName = "github.com/dualrun/dualrun/dualwrite"

// Version is the version of this module, reported as the instrumentation
// scope version.
const Version = "0.1.0"
