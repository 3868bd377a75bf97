package jsonl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
)

// rotator is the file behind a Writer made by Open. Rotation is written
// here rather than taken from a logging library: exporters import only the
// standard library and the OpenTelemetry API, and what is needed (rotate at
// a line boundary, numbered backups) is small. The Writer's mutex guards
// it.
type rotator struct {
	path       string
	maxSize    int64
	maxBackups int
	mode       os.FileMode

	f *os.File // nil after a failed reopen: the next write tries again
	// size is the bytes in the current file, counting lines reserved but
	// still buffered; limit is the size at which it rotates, pushed one
	// maxSize further after a failed rotation so that a failing disk is
	// reported once per maxSize bytes, not on every line.
	size  int64
	limit int64
}

func openRotator(path string, cfg config) (*rotator, error) {
	r := &rotator{path: path, maxSize: cfg.maxSize, maxBackups: cfg.maxBackups, mode: cfg.mode}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotator) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, r.mode)
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("jsonl: %w", err)
	}
	r.f, r.size = f, fi.Size()
	r.limit = r.maxSize
	return nil
}

// due reports whether a line of n bytes must go to a fresh file.
func (r *rotator) due(n int) bool {
	return r.f != nil && r.size > 0 && r.size+int64(n) > r.limit
}

func (r *rotator) reserve(n int) { r.size += int64(n) }

// Write writes p to the current file, reopening it first after a failed
// rotation.
func (r *rotator) Write(p []byte) (int, error) {
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	return r.f.Write(p)
}

// backup is the name of the i-th rotated file: "reports.jsonl" →
// "reports.<i>.jsonl", "reports" → "reports.<i>".
func (r *rotator) backup(i int) string {
	ext := filepath.Ext(r.path)
	return strings.TrimSuffix(r.path, ext) + "." + strconv.Itoa(i) + ext
}

// rotate moves the current file to the first backup and opens a new one.
// Its failures go to the OpenTelemetry error handler: the line that caused
// the rotation is still written, to the old file if need be.
func (r *rotator) rotate() {
	if err := r.f.Close(); err != nil {
		otel.Handle(fmt.Errorf("jsonl: closing %s for rotation: %w", r.path, err))
	}
	r.f = nil
	err := r.shift()
	if oerr := r.open(); oerr != nil {
		err = errors.Join(err, oerr)
	}
	if err != nil {
		r.limit = r.size + r.maxSize
		otel.Handle(fmt.Errorf("jsonl: rotating %s: %w", r.path, err))
	}
}

func (r *rotator) shift() error {
	if r.maxBackups == 0 {
		return os.Remove(r.path)
	}
	for i := r.maxBackups - 1; i >= 1; i-- {
		if err := os.Rename(r.backup(i), r.backup(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return os.Rename(r.path, r.backup(1))
}

func (r *rotator) close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}
