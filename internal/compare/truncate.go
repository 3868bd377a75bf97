package compare

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Truncate returns s unchanged if len(s) <= limit (4096 if limit <= 0).
// Otherwise it keeps a prefix of s, cut at a line boundary if one lies in the
// second half of the room available and at a rune boundary otherwise, and
// appends the line
//
//	… (diff truncated: N more bytes)
//
// where N counts the dropped bytes of s. A newline is inserted before that
// line if the kept prefix does not already end with one. The result never
// exceeds limit bytes; if limit is too small to hold the marker line, the
// result is just the longest prefix of s that fits, cut at a rune boundary.
func Truncate(s string, limit int) string {
	if limit <= 0 {
		limit = defaultLimit
	}
	if len(s) <= limit {
		return s
	}
	// N <= len(s), so the marker for len(s) is at least as long as the
	// real one; one more byte is kept for a separating newline.
	room := limit - len(marker(len(s))) - 1
	if room < 0 {
		return s[:runeCut(s, limit)]
	}
	k := runeCut(s, room)
	if i := strings.LastIndexByte(s[:k], '\n'); i >= 0 && i+1 >= k/2 {
		k = i + 1
	}
	var b strings.Builder
	b.Grow(limit)
	b.WriteString(s[:k])
	if k > 0 && s[k-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString(marker(len(s) - k))
	return b.String()
}

// marker is the final line appended by Truncate.
func marker(n int) string {
	return "… (diff truncated: " + strconv.Itoa(n) + " more bytes)\n"
}

// runeCut returns the largest k <= n such that s[:k] does not end inside a
// UTF-8 sequence. For invalid UTF-8 it backs off at most utf8.UTFMax-1 bytes.
func runeCut(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for k := n; k > n-utf8.UTFMax; k-- {
		if k <= 0 {
			return 0
		}
		if utf8.RuneStart(s[k]) {
			return k
		}
	}
	return n // invalid UTF-8: no rune start nearby
}
