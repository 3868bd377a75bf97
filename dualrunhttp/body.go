package dualrunhttp

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"
)

// bodyCapture keeps a response body for the comparison: its bytes up to a
// limit, and beyond it only its length and SHA-256, so that its memory
// stays bounded whatever the body's size.
type bodyCapture struct {
	limit int64
	buf   []byte
	sum   hash.Hash // not nil once the body passed the limit
	n     int64
}

func (c *bodyCapture) write(p []byte) {
	c.n += int64(len(p))
	switch {
	case c.sum != nil:
		c.sum.Write(p)
	case int64(len(c.buf)+len(p)) <= c.limit:
		c.buf = append(c.buf, p...)
	default:
		c.sum = sha256.New()
		c.sum.Write(c.buf)
		c.sum.Write(p)
		c.buf = nil
	}
}

// Write lets a capture be the destination of io.Copy.
func (c *bodyCapture) Write(p []byte) (int, error) {
	c.write(p)
	return len(p), nil
}

// hashed reports whether only the length and hash were kept.
func (c *bodyCapture) hashed() bool { return c.sum != nil }

func (c *bodyCapture) digest() []byte {
	if c.sum != nil {
		return c.sum.Sum(nil)
	}
	s := sha256.Sum256(c.buf)
	return s[:]
}

// decoded returns the bytes to compare: the kept bytes, gunzipped when
// the Content-Encoding is gzip and the result fits in the limit (a body
// that does not gunzip, or gunzips beyond the limit, is compared as it
// was sent).
func (c *bodyCapture) decoded(encoding string) []byte {
	if c.sum != nil || !strings.EqualFold(strings.TrimSpace(encoding), "gzip") {
		return c.buf
	}
	zr, err := gzip.NewReader(bytes.NewReader(c.buf))
	if err != nil {
		return c.buf
	}
	out, err := io.ReadAll(io.LimitReader(zr, c.limit+1))
	if err != nil || int64(len(out)) > c.limit {
		return c.buf
	}
	return out
}

// isJSON reports whether a Content-Type names JSON: application/json or
// any type with the +json suffix (application/problem+json, say).
func isJSON(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// firstDifference returns the offset of the first differing byte of x
// and y (the shorter length if one is a prefix of the other), or -1 when
// they are equal.
func firstDifference(x, y []byte) int {
	n := min(len(x), len(y))
	for i := range n {
		if x[i] != y[i] {
			return i
		}
	}
	if len(x) != len(y) {
		return n
	}
	return -1
}

// excerptLen is how many bytes an excerpt shows on each side of an offset.
const excerptLen = 16

// excerpt shows b around off, quoted (as a JSON string when asJSON).
func excerpt(b []byte, off int, asJSON bool) string {
	lo, hi := max(off-excerptLen, 0), min(off+excerptLen, len(b))
	lo = min(lo, hi)
	// Move to rune boundaries, at most a rune's length (invalid UTF-8
	// has no boundary to find).
	for i := 0; i < utf8.UTFMax && lo > 0 && lo < len(b) && !utf8.RuneStart(b[lo]); i++ {
		lo--
	}
	for i := 0; i < utf8.UTFMax && hi < len(b) && !utf8.RuneStart(b[hi]); i++ {
		hi++
	}
	var s strings.Builder
	if lo > 0 {
		s.WriteString("…")
	}
	if asJSON {
		s.Write(appendJSONString(nil, string(b[lo:hi])))
	} else {
		s.WriteString(strconv.Quote(string(b[lo:hi])))
	}
	if hi < len(b) {
		s.WriteString("…")
	}
	return s.String()
}

// describeBytes describes two differing bodies that were kept: their
// lengths, the offset of the first difference and excerpts around it.
func describeBytes(x, y []byte) (string, string) {
	off := firstDifference(x, y)
	at := " bytes, first difference at offset " + strconv.Itoa(off) + ": "
	return strconv.Itoa(len(x)) + at + excerpt(x, off, false),
		strconv.Itoa(len(y)) + at + excerpt(y, off, false)
}

// describeHashed describes a body by its length and hash.
func describeHashed(n int64, sum []byte) string {
	return strconv.FormatInt(n, 10) + " bytes, sha256 " + hex.EncodeToString(sum[:8]) + "…"
}

// cutUTF8 returns s cut to at most n bytes at a rune boundary, with "…"
// appended when cut.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
