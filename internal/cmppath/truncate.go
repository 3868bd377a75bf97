package cmppath

// Truncate cuts s to at most limit bytes (limit <= 0 means 4096) as Diff
// does: at a line end where it can, ending in a line that says how much was
// cut when there is room for it.
func Truncate(s string, limit int) string { return truncate(s, limit) }
