package dualrunhttp

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// failingReader returns data, then err.
type failingReader struct {
	data []byte
	err  error
	n    int // reads after the data
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) > 0 {
		n := copy(p, f.data)
		f.data = f.data[n:]
		return n, nil
	}
	f.n++
	return 0, f.err
}

func (f *failingReader) Close() error { return nil }

// TestBufferBody: a body within the limit is read whole; one beyond it, or
// one whose read fails, is not compared, and the primary still reads it
// all (the buffered part, then the rest or the same error).
func TestBufferBody(t *testing.T) {
	errBroken := errors.New("connection reset")
	tests := []struct {
		name, reason string
		body         io.ReadCloser
		length       int64
		limit        int64
		wantOK       bool
		wantReason   SkipReason
		wantPrimary  string
		wantErr      error
	}{
		{name: "no body", reason: "nothing to read", body: http.NoBody, wantOK: true, limit: 10},
		{name: "within", reason: "read whole", body: io.NopCloser(strings.NewReader("0123456789")), length: 10, limit: 10, wantOK: true, wantPrimary: "0123456789"},
		{name: "unknown length", reason: "read whole", body: io.NopCloser(strings.NewReader("abc")), length: -1, limit: 10, wantOK: true, wantPrimary: "abc"},
		{name: "beyond", reason: "the primary gets all of it", body: io.NopCloser(strings.NewReader("0123456789A")), length: 11, limit: 10, wantReason: SkipRequestTooLarge, wantPrimary: "0123456789A"},
		{name: "zero limit", reason: "any body is too large", body: io.NopCloser(strings.NewReader("x")), length: 1, wantReason: SkipRequestTooLarge, wantPrimary: "x"},
		{name: "failing", reason: "the primary gets the part read, then the error", body: &failingReader{data: []byte("abc"), err: errBroken}, length: -1, limit: 10, wantReason: SkipRequestBodyError, wantPrimary: "abc", wantErr: errBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bufferBody(tt.body, tt.length, tt.limit)
			if b.ok != tt.wantOK || (!b.ok && b.reason != tt.wantReason) {
				t.Fatalf("ok %v reason %v, want %v %v (%s)", b.ok, b.reason, tt.wantOK, tt.wantReason, tt.reason)
			}
			if tt.body == http.NoBody {
				return
			}
			got, err := io.ReadAll(b.reader(tt.body))
			if string(got) != tt.wantPrimary || !errors.Is(err, tt.wantErr) {
				t.Errorf("the primary read %q, %v; want %q, %v (%s)", got, err, tt.wantPrimary, tt.wantErr, tt.reason)
			}
			if b.ok {
				shadow, _ := io.ReadAll(b.copyReader())
				if !bytes.Equal(shadow, got) {
					t.Errorf("the shadow read %q, the primary %q", shadow, got)
				}
			}
		})
	}
}
