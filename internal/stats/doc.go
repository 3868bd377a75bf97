// Package stats holds the small, allocation-free building blocks behind
// dualrun's in-process statistics:
//
//   - [Striped], counters for the caller's hot path that spread increments
//     over cache-line-padded stripes so concurrent callers do not contend on
//     one cache line;
//   - [Histogram], a fixed-size, lock-free log-linear latency histogram whose
//     [Snapshot] answers quantile queries (p50/p90/p99) with a bounded
//     relative error;
//   - [Limiter], a token-bucket rate limiter for published reports.
//
// None of these types export telemetry themselves; they are the storage that
// the telemetry layer reads.
package stats
