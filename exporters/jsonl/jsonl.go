package jsonl

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/internal/redact"
)

// ErrClosed is returned by Publish and Flush after Close or Shutdown.
var ErrClosed = errors.New("jsonl: writer closed")

//go:embed schema.json
var schema []byte

// Schema returns the JSON Schema (draft 2020-12) of one line, for tools that
// read the lines. It describes schema version [dualrun.ReportSchemaVersion].
func Schema() []byte { return slices.Clone(schema) }

// Writer is a dualrun Publisher that writes each Report as one line of
// JSON. Make it with [New] or [Open]; the zero Writer is not usable. It is
// safe for concurrent use: lines are never interleaved.
type Writer struct {
	cfg config

	mu     sync.Mutex
	dst    io.Writer     // the user's writer, or the current file
	buf    *bufio.Writer // nil without WithBufferSize
	file   *rotator      // nil for New
	closed bool
}

// New returns a Writer that writes lines to w. Closing the Writer does not
// close w.
func New(w io.Writer, opts ...Option) *Writer {
	if w == nil {
		panic("jsonl.New: nil io.Writer")
	}
	x := &Writer{cfg: newConfig(opts), dst: w}
	if x.cfg.bufSize > 0 {
		x.buf = bufio.NewWriterSize(w, x.cfg.bufSize)
	}
	return x
}

// Open returns a Writer that appends lines to the file at path, creating it
// if needed, and rotates it when it would grow past [WithMaxSize]:
// "reports.jsonl" becomes "reports.1.jsonl", the previous "reports.1.jsonl"
// becomes "reports.2.jsonl", and so on up to [WithMaxBackups]. A line is
// never split across files. Close (or Shutdown, or dualrun's package-level
// Shutdown when the Writer was given to dualrun.AddPublisher) closes the
// file.
func Open(path string, opts ...Option) (*Writer, error) {
	cfg := newConfig(opts)
	f, err := openRotator(path, cfg)
	if err != nil {
		return nil, err
	}
	x := &Writer{cfg: cfg, dst: f, file: f}
	if cfg.bufSize > 0 {
		x.buf = bufio.NewWriterSize(f, cfg.bufSize)
	}
	return x, nil
}

// Name returns "jsonl", the dualrun.exporter attribute of the Reports it
// drops.
func (w *Writer) Name() string { return "jsonl" }

// Publish writes r as one line. It returns an error when the line cannot be
// written (dualrun counts the Report as dropped and passes the error to the
// OpenTelemetry error handler), when the redaction hook panics, or after
// Close.
func (w *Writer) Publish(_ context.Context, r *dualrun.Report) error {
	out, err := redact.Apply(r, w.cfg.redact, w.cfg.maxDiff)
	if err != nil || out == nil {
		return err
	}
	line, err := out.JSON(dualrun.JSONOptions{Values: w.cfg.values, Key: w.cfg.keys})
	if err != nil {
		return fmt.Errorf("jsonl: encoding report %s: %w", out.ID, err)
	}
	line = append(line, '\n')

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.file != nil && w.file.due(len(line)) {
		// Rotate at a line boundary: what is buffered belongs to the old
		// file.
		if w.buf != nil {
			if err := w.buf.Flush(); err != nil {
				w.buf.Reset(w.file)
				return fmt.Errorf("jsonl: %w", err)
			}
		}
		w.file.rotate()
	}
	if w.file != nil {
		w.file.reserve(len(line))
	}
	if w.buf != nil {
		_, err = w.buf.Write(line)
		if err != nil {
			// A bufio.Writer keeps its first error forever; start over so
			// that a destination that recovers is written to again.
			w.buf.Reset(w.dst)
		}
	} else {
		_, err = w.dst.Write(line)
	}
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}

// Flush writes the buffered lines ([WithBufferSize]) to the destination.
// It implements dualrun.Flusher.
func (w *Writer) Flush(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.buf == nil {
		return nil
	}
	if err := w.buf.Flush(); err != nil {
		w.buf.Reset(w.dst)
		return fmt.Errorf("jsonl: flush: %w", err)
	}
	return nil
}

// Shutdown flushes and closes the Writer, as Close does. It implements
// dualrun.Shutdowner.
func (w *Writer) Shutdown(context.Context) error { return w.Close() }

// Close writes the buffered lines and, for a Writer made by [Open], closes
// the file. Later Publish and Flush calls return [ErrClosed]; a second
// Close returns nil.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.flushLocked()
	if w.file != nil {
		err = errors.Join(err, w.file.close())
	}
	return err
}
