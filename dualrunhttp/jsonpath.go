package dualrunhttp

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dualrun/dualrun/internal/compare"
	"github.com/dualrun/dualrun/internal/safe"
)

// This file is the JSON path syntax of the options (patterns, matched
// while the comparison descends) and of Reports (folded paths, built as
// the comparison descends).

// segKind is what one step of a pattern matches.
type segKind uint8

const (
	segName  segKind = iota // .name or ["name"]: the member name
	segIndex                // [3]: the array element 3
	segAny                  // [*] or .*: any element or member
)

type segment struct {
	kind  segKind
	name  string
	index int
}

// pattern is a compiled JSON path such as "$.items[*].updated_at".
type pattern struct {
	text string
	segs []segment
}

// maxPatternIndex bounds the index of a "[n]" step; larger indexes are
// rejected rather than overflowing.
const maxPatternIndex = 1 << 30

var errFolded = errors.New(`a folded path (with "…") is not a pattern: write the steps out, with [*] for any element`)

// compilePattern parses the path syntax of WithIgnoreJSONPaths.
func compilePattern(s string) (pattern, error) {
	p := pattern{text: s}
	if !strings.HasPrefix(s, "$") {
		return p, errors.New(`a path starts with "$"`)
	}
	i := 1
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			if i < len(s) && s[i] == '*' {
				p.segs = append(p.segs, segment{kind: segAny})
				i++
				continue
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i {
				return p, errors.New(`empty name after "." (recursive descent ".." is not supported)`)
			}
			name := s[i:j]
			if strings.Contains(name, "…") {
				return p, errFolded
			}
			p.segs = append(p.segs, segment{kind: segName, name: name})
			i = j
		case '[':
			seg, n, err := parseBracket(s[i:])
			if err != nil {
				return p, err
			}
			p.segs = append(p.segs, seg)
			i += n
		default:
			if strings.HasPrefix(s[i:], "…") {
				return p, errFolded
			}
			return p, errors.New("want \".\" or \"[\" at offset " + strconv.Itoa(i))
		}
	}
	return p, nil
}

// parseBracket parses one bracketed step at the start of s and returns it
// with its length.
func parseBracket(s string) (segment, int, error) {
	switch {
	case strings.HasPrefix(s, "[*]"):
		return segment{kind: segAny}, 3, nil
	case len(s) > 1 && s[1] >= '0' && s[1] <= '9':
		j := 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == len(s) || s[j] != ']' {
			return segment{}, 0, errors.New(`want "]" after an index`)
		}
		n, err := strconv.Atoi(s[1:j])
		if err != nil || n > maxPatternIndex {
			return segment{}, 0, errors.New("index " + s[1:j] + " is out of range")
		}
		return segment{kind: segIndex, index: n}, j + 1, nil
	case len(s) > 1 && s[1] == '"':
		j := 2
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(s) || j+1 >= len(s) || s[j+1] != ']' {
			return segment{}, 0, errors.New(`want a JSON string and "]" after "["`)
		}
		var name string
		if err := json.Unmarshal([]byte(s[1:j+1]), &name); err != nil {
			return segment{}, 0, errors.New("bad JSON string " + s[1:j+1] + ": " + err.Error())
		}
		return segment{kind: segName, name: name}, j + 2, nil
	}
	return segment{}, 0, errors.New(`want "[*]", "[n]" or ["name"] after "["`)
}

// step is one step down a JSON value: into a member or an element. An
// index of -1 stands for "some element" (inside an unordered array).
type step struct {
	name   string
	index  int
	member bool
}

func (g segment) matches(st step) bool {
	switch g.kind {
	case segAny:
		return true
	case segName:
		return st.member && st.name == g.name
	}
	return !st.member && st.index == g.index
}

// patKind says what a matched pattern does.
type patKind uint8

const (
	patIgnore patKind = iota
	patUnordered
)

// matcher holds the patterns of one comparison configuration.
type matcher struct {
	pats  []pattern
	kinds []patKind
}

func newMatcher(ignore, unordered []pattern) *matcher {
	m := &matcher{}
	for _, p := range ignore {
		m.pats, m.kinds = append(m.pats, p), append(m.kinds, patIgnore)
	}
	for _, p := range unordered {
		m.pats, m.kinds = append(m.pats, p), append(m.kinds, patUnordered)
	}
	return m
}

// state is a pattern matched up to (not including) segment i.
type state struct{ p, i int32 }

// roots appends the states of the root value.
func (m *matcher) roots(dst []state) []state {
	for p := range m.pats {
		dst = append(dst, state{p: int32(p)})
	}
	return dst
}

// advance appends to dst the states of the child reached by st.
func (m *matcher) advance(dst, cur []state, st step) []state {
	for _, s := range cur {
		segs := m.pats[s.p].segs
		if int(s.i) < len(segs) && segs[s.i].matches(st) {
			dst = append(dst, state{p: s.p, i: s.i + 1})
		}
	}
	return dst
}

// at reports whether a pattern of kind k ends at the node of cur.
func (m *matcher) at(cur []state, k patKind) bool {
	for _, s := range cur {
		if m.kinds[s.p] == k && int(s.i) == len(m.pats[s.p].segs) {
			return true
		}
	}
	return false
}

// pathBuilder builds, step by step, the folded JSON path of the node the
// comparison is at, and its concrete path.
//
// It folds as the core's paths do: array indexes become "[*]", and a path
// that comes back to a member name it already passed through (a tree of
// "children", nested "replies") folds the steps between the second return
// and the latest one into one "…": a difference in the third level of
// {"children":[{"children":[{"children":[{"name":…}]}]}]} is at
// `$.children[*].children…[*].name`, in the second at
// `$.children[*].children[*].name`. Paths are cut at compare.MaxPathLen
// bytes. The text of every step stays in buf while the comparison is
// below it, so building is linear in the steps.
type pathBuilder struct {
	buf    []byte // folded steps
	conc   []byte // concrete steps
	frames []pathFrame
	onPath map[string]int32
	folds  int
	foldAt int
	tailAt int
}

type pathFrame struct {
	end, cend      int
	name           string
	member         bool
	folds          int
	foldAt, tailAt int
}

func (b *pathBuilder) reset() {
	b.buf = append(b.buf[:0], '$')
	b.conc = append(b.conc[:0], '$')
	b.frames = b.frames[:0]
	clear(b.onPath)
	b.folds, b.foldAt, b.tailAt = 0, 0, 0
}

func (b *pathBuilder) push(st step) {
	f := pathFrame{end: len(b.buf), cend: len(b.conc), folds: b.folds, foldAt: b.foldAt, tailAt: b.tailAt}
	if !st.member {
		b.buf = append(b.buf, "[*]"...)
		if st.index < 0 {
			b.conc = append(b.conc, "[*]"...)
		} else {
			b.conc = append(b.conc, '[')
			b.conc = strconv.AppendInt(b.conc, int64(st.index), 10)
			b.conc = append(b.conc, ']')
		}
		b.frames = append(b.frames, f)
		return
	}
	b.buf = appendMember(b.buf, st.name)
	b.conc = appendMember(b.conc, st.name)
	f.name, f.member = st.name, true
	if b.onPath[st.name] > 0 {
		if b.folds == 0 {
			b.folds, b.foldAt = 1, len(b.buf)
		} else {
			b.folds, b.tailAt = 2, len(b.buf)
		}
	}
	if b.onPath == nil {
		b.onPath = make(map[string]int32)
	}
	b.onPath[st.name]++
	b.frames = append(b.frames, f)
}

func (b *pathBuilder) pop() {
	n := len(b.frames) - 1
	f := b.frames[n]
	b.frames = b.frames[:n]
	b.buf, b.conc = b.buf[:f.end], b.conc[:f.cend]
	b.folds, b.foldAt, b.tailAt = f.folds, f.foldAt, f.tailAt
	if f.member {
		if b.onPath[f.name]--; b.onPath[f.name] == 0 {
			delete(b.onPath, f.name)
		}
	}
}

// folded returns the folded path of the current node.
func (b *pathBuilder) folded() string {
	var s string
	if b.folds < 2 {
		s = string(b.buf[:min(len(b.buf), compare.MaxPathLen+utf8.UTFMax)])
	} else {
		head := b.buf[:min(b.foldAt, compare.MaxPathLen+utf8.UTFMax)]
		tail := b.buf[b.tailAt:]
		if len(head)+len(tail) > compare.MaxPathLen {
			tail = tail[:min(len(tail), compare.MaxPathLen+utf8.UTFMax)]
		}
		s = string(head) + "…" + string(tail)
	}
	return safe.Cut(s, compare.MaxPathLen)
}

// concrete returns the path of the current node with its indexes.
func (b *pathBuilder) concrete() string {
	return safe.Cut(string(b.conc[:min(len(b.conc), compare.MaxPathLen+utf8.UTFMax)]), compare.MaxPathLen)
}

// appendMember appends the step into the member name: ".name" for names
// of letters, digits, "_" and "-", and `["name"]` (a JSON string)
// otherwise, so that every path a Report shows, unless folded, is a
// pattern that matches it.
func appendMember(dst []byte, name string) []byte {
	if plainName(name) {
		dst = append(dst, '.')
		return append(dst, name...)
	}
	dst = append(dst, '[')
	dst = appendJSONString(dst, name)
	return append(dst, ']')
}

func plainName(s string) bool {
	if s == "" || s == "*" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
