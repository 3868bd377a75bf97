// Package exporters is the home of dualrun's Report exporters: publishers
// that send the Reports of every experiment somewhere. Each lives in a small
// package of its own, so that an application imports only what it uses:
//
//   - [github.com/dualrun/dualrun/exporters/slogexp]: one structured record
//     per Report on a *slog.Logger.
//   - [github.com/dualrun/dualrun/exporters/jsonl]: JSON lines to an
//     io.Writer or to a size-rotated file, in a versioned schema.
//   - [github.com/dualrun/dualrun/exporters/ring]: the last Reports per
//     experiment in memory, with the most frequent differing path sets; the
//     debug page and tests read it.
//   - [github.com/dualrun/dualrun/exporters/otellog]: log records through
//     the OpenTelemetry Logs API, carrying the shadow span's trace and span
//     ids.
//
// Attach one to every experiment of the process with [dualrun.AddPublisher],
// or to one experiment with [dualrun.WithPublisher].
//
// Every exporter is safe for concurrent use and never runs on a caller's
// goroutine: dualrun's bounded queue in front of it does the waiting, and
// drops (and counts) Reports rather than block. A failure is returned from
// Publish, which dualrun counts in dualrun.reports.dropped and passes to the
// OpenTelemetry error handler; failures outside Publish (closing a rotated
// file, say) go to otel.Handle directly.
//
// Every exporter redacts by default. A Report's values — its diff and the
// texts of its errors, copies of the data the wrapped call handled — and its
// key (often personal data) leave the process only when the exporter is told
// so (WithValues, WithKeys). A redaction hook (WithRedact) runs on a copy of
// each Report before anything is written, behind recover: a hook that
// panics drops the Report instead of letting it out unredacted. The diff is
// cut to a size limit (WithMaxDiff, 4 KiB by default) in every exporter.
package exporters
