package dualrun

// keyedConfig configures CompareKeyed (keyed batch comparison). Its options
// live with CompareKeyed in this file.
type keyedConfig struct{}
