package compare

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	lines := "line one\nline two\nline three\n" // 29 bytes
	tests := []struct {
		name   string
		reason string
		s      string
		limit  int
		want   string
	}{
		{"empty", "nothing to cut", "", 10, ""},
		{"short", "fits", "abc", 10, "abc"},
		{"exact", "len == limit fits", "abcde", 5, "abcde"},
		{
			"line boundary", "cut after the last whole line that fits",
			lines + strings.Repeat("x", 100), 80,
			lines + "… (diff truncated: 100 more bytes)\n",
		},
		{
			"mid-line", "no newline in reach: cut mid-line and start the marker on its own line",
			strings.Repeat("x", 100), 60,
			strings.Repeat("x", 60-len(marker(100))-1) + "\n" + marker(100-(60-len(marker(100))-1)),
		},
		{
			"early newline ignored", "a newline in the first half of the room would waste too much",
			"a\n" + strings.Repeat("x", 100), 60,
			"a\n" + strings.Repeat("x", 60-len(marker(102))-1-2) + "\n" + marker(102-(60-len(marker(102))-1)),
		},
		{
			"rune boundary", "never split a multi-byte rune",
			strings.Repeat("€", 30), 58, // room = 58-len(marker(90))-1 = 21 bytes = 7 runes exactly
			strings.Repeat("€", 7) + "\n" + marker(90-21),
		},
		{
			"rune boundary backs off", "room ends inside a rune",
			strings.Repeat("€", 30), 57, // room = 20: back off to 18
			strings.Repeat("€", 6) + "\n" + marker(90-18),
		},
		{
			"marker only", "room for the marker but no content",
			strings.Repeat("x", 100), len(marker(100)) + 1,
			marker(100),
		},
		{
			"too small for marker", "plain rune-aligned prefix",
			"ab€cd", 4,
			"ab",
		},
		{"one byte", "nothing but a 1-byte rune fits", "€abc", 1, ""},
		{"zero limit", "limit <= 0 means 4096", strings.Repeat("x", 4096), 0, strings.Repeat("x", 4096)},
		{
			"negative limit", "limit <= 0 means 4096",
			strings.Repeat("x", 5000), -1,
			strings.Repeat("x", 4096-len(marker(5000))-1) + "\n" + marker(5000-(4096-len(marker(5000))-1)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Truncate(tt.s, tt.limit)
			if got != tt.want {
				t.Errorf("Truncate(%q, %d) =\n%q\nwant\n%q\n(%s)", tt.s, tt.limit, got, tt.want, tt.reason)
			}
			limit := tt.limit
			if limit <= 0 {
				limit = defaultLimit
			}
			if len(got) > limit {
				t.Errorf("len = %d > limit %d", len(got), limit)
			}
		})
	}
}

var markerRx = regexp.MustCompile(`… \(diff truncated: (\d+) more bytes\)\n\z`)

// checkTruncate asserts the properties truncate promises for limit > 0.
func checkTruncate(t *testing.T, s string, limit int) {
	t.Helper()
	got := Truncate(s, limit)
	if len(got) > limit {
		t.Fatalf("len(Truncate(%q, %d)) = %d > limit", s, limit, len(got))
	}
	if utf8.ValidString(s) && !utf8.ValidString(got) {
		t.Fatalf("Truncate(%q, %d) = %q is not valid UTF-8", s, limit, got)
	}
	if len(s) <= limit {
		if got != s {
			t.Fatalf("Truncate(%q, %d) = %q, want input unchanged", s, limit, got)
		}
		return
	}
	room := limit - len(marker(len(s))) - 1
	if room < 0 {
		// No marker: a plain prefix, as long as possible up to a rune.
		if !strings.HasPrefix(s, got) || len(got) < limit-utf8.UTFMax+1 {
			t.Fatalf("Truncate(%q, %d) = %q, want a near-limit prefix", s, limit, got)
		}
		return
	}
	m := markerRx.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("Truncate(%q, %d) = %q has no marker line", s, limit, got)
	}
	n, _ := strconv.Atoi(m[1])
	body := got[:len(got)-len(m[0])]
	kept := body
	if len(s)-len(kept) != n || !strings.HasPrefix(s, kept) {
		// The newline may have been inserted before the marker.
		kept = strings.TrimSuffix(body, "\n")
		if kept == body || kept == "" || strings.HasSuffix(kept, "\n") {
			t.Fatalf("Truncate(%q, %d) = %q: body is not a prefix of the input", s, limit, got)
		}
	}
	if !strings.HasPrefix(s, kept) || len(s)-len(kept) != n || n <= 0 {
		t.Fatalf("Truncate(%q, %d) = %q: kept %d bytes, marker says %d more of %d", s, limit, got, len(kept), n, len(s))
	}
	if utf8.ValidString(s) && len(kept) < (room-utf8.UTFMax+1)/2 {
		t.Fatalf("Truncate(%q, %d) = %q keeps only %d of %d bytes of room", s, limit, got, len(kept), room)
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("", 0)
	f.Add("abc", 2)
	f.Add(strings.Repeat("x", 5000), -7)
	f.Add(strings.Repeat("line\n", 100), 64)
	f.Add(strings.Repeat("€", 100), 61)
	f.Add("\xff\x80\x80\x80\x80abc", 3)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit <= 0 {
			if Truncate(s, limit) != Truncate(s, defaultLimit) {
				t.Fatalf("Truncate(%q, %d) differs from the default limit", s, limit)
			}
			limit = defaultLimit
		} else {
			// Spread limits over [1, len(s)+64] so short, exact and long all occur.
			limit = 1 + (limit-1)%(len(s)+64)
		}
		checkTruncate(t, s, limit)
	})
}
