// Package jsonl writes dualrun Reports as JSON lines: one JSON object per
// line, to any io.Writer ([New]) or to a file that rotates by size
// ([Open]).
//
// Each line is [dualrun.Report.JSON]: schema version
// [dualrun.ReportSchemaVersion] (the schema_version field), described by the
// JSON Schema [Schema] (schema.json beside this file). A version changes
// only when a field changes meaning or goes away; new fields may appear
// within a version, so readers should ignore fields they do not know.
//
// Lines are value-free by default: no diff, no error texts, no key. Add them
// with [WithValues] and [WithKeys]; [WithRedact] rewrites or skips Reports
// before they are written.
//
// A Writer is safe for concurrent use. Attach it to every experiment with
// dualrun.AddPublisher: dualrun's package-level Shutdown then flushes and
// closes it.
package jsonl
