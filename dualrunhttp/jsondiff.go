package dualrunhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"

	"github.com/dualrun/dualrun/internal/compare"
)

// The JSON comparison is written here rather than handed to go-cmp, which
// the core uses for Go values: a JSON document has six kinds of values, the
// rules (ignored paths, unordered arrays, numbers as exact decimals) are
// decided by the path, and the paths must name members, which go-cmp folds
// into "[*]" as map keys. A direct walk is also what keeps the cost linear
// in the documents and free of reflection.

// parseJSON decodes one JSON document, numbers kept as json.Number. It
// fails on malformed input, on trailing data, and on nesting deeper than
// encoding/json's limit (10,000 levels). Duplicate member names keep the
// last value, as encoding/json and JavaScript do.
func parseJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errTrailing
	}
	return v, nil
}

var errTrailing = errors.New("data after the JSON value")

// missingValue stands for a member or element that one side lacks.
type missingValue struct{}

// jsonDiffer compares two decoded documents.
type jsonDiffer struct {
	m      *matcher
	pb     pathBuilder
	states []state
	diffs  []part
	full   bool // compare.MaxPaths distinct paths found: stop
	canon  []byte
}

// diffJSON returns the differing paths of a and b, at most
// compare.MaxPaths of them, in the order found (members by name, elements
// by index).
func diffJSON(m *matcher, a, b any) []part {
	d := &jsonDiffer{m: m}
	d.pb.reset()
	d.states = m.roots(d.states)
	d.walk(a, b, 0, len(d.states))
	return d.diffs
}

// enter steps into a child; its states are d.states[lo:hi].
func (d *jsonDiffer) enter(st step, plo, phi int) (lo, hi int) {
	d.pb.push(st)
	lo = len(d.states)
	d.states = d.m.advance(d.states, d.states[plo:phi], st)
	return lo, len(d.states)
}

func (d *jsonDiffer) leave(lo int) {
	d.states = d.states[:lo]
	d.pb.pop()
}

func (d *jsonDiffer) walk(a, b any, lo, hi int) {
	if d.full || d.m.at(d.states[lo:hi], patIgnore) {
		return
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			d.record(a, b)
			return
		}
		d.objects(x, y, lo, hi)
	case []any:
		y, ok := b.([]any)
		if !ok {
			d.record(a, b)
			return
		}
		if d.m.at(d.states[lo:hi], patUnordered) {
			d.multiset(x, y, lo, hi)
			return
		}
		for i := range max(len(x), len(y)) {
			if d.full {
				return
			}
			clo, chi := d.enter(step{index: i}, lo, hi)
			switch {
			case i >= len(x):
				d.recordUnlessIgnored(missingValue{}, y[i], clo, chi)
			case i >= len(y):
				d.recordUnlessIgnored(x[i], missingValue{}, clo, chi)
			default:
				d.walk(x[i], y[i], clo, chi)
			}
			d.leave(clo)
		}
	case json.Number:
		if y, ok := b.(json.Number); !ok || !numbersEqual(string(x), string(y)) {
			d.record(a, b)
		}
	case string:
		if y, ok := b.(string); !ok || x != y {
			d.record(a, b)
		}
	case bool:
		if y, ok := b.(bool); !ok || x != y {
			d.record(a, b)
		}
	default: // null
		if b != nil {
			d.record(a, b)
		}
	}
}

func (d *jsonDiffer) objects(x, y map[string]any, lo, hi int) {
	keys := make([]string, 0, max(len(x), len(y)))
	for k := range x {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if d.full {
			return
		}
		clo, chi := d.enter(step{name: k, member: true}, lo, hi)
		if yv, ok := y[k]; ok {
			d.walk(x[k], yv, clo, chi)
		} else {
			d.recordUnlessIgnored(x[k], missingValue{}, clo, chi)
		}
		d.leave(clo)
	}
	keys = keys[:0]
	for k := range y {
		if _, ok := x[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if d.full {
			return
		}
		clo, chi := d.enter(step{name: k, member: true}, lo, hi)
		d.recordUnlessIgnored(missingValue{}, y[k], clo, chi)
		d.leave(clo)
	}
}

func (d *jsonDiffer) recordUnlessIgnored(a, b any, lo, hi int) {
	if !d.m.at(d.states[lo:hi], patIgnore) {
		d.record(a, b)
	}
}

// multiset compares two arrays whose order does not matter: elements are
// matched by their canonical text (ignored paths left out, numbers as
// decimals, members sorted, nested unordered arrays sorted). An element
// without a match on the other side is a difference at "<array>[*]".
func (d *jsonDiffer) multiset(x, y []any, lo, hi int) {
	clo, chi := d.enter(step{index: -1}, lo, hi)
	defer d.leave(clo)
	keys := make([]string, len(x))
	count := make(map[string]int, len(x))
	for i, v := range x {
		keys[i] = d.canonical(v, clo, chi)
		count[keys[i]]++
	}
	var extra any = missingValue{}
	for _, v := range y {
		k := d.canonical(v, clo, chi)
		if count[k] > 0 {
			count[k]--
			continue
		}
		if _, ok := extra.(missingValue); ok {
			extra = v
		}
	}
	var lack any = missingValue{}
	for i, k := range keys {
		if count[k] > 0 {
			lack = x[i]
			break
		}
	}
	_, noExtra := extra.(missingValue)
	_, noLack := lack.(missingValue)
	if !noExtra || !noLack {
		d.record(lack, extra)
	}
}

// canonical returns the canonical text of v at the node whose states are
// d.states[lo:hi].
func (d *jsonDiffer) canonical(v any, lo, hi int) string {
	d.canon = d.appendCanonical(d.canon[:0], v, lo, hi)
	return string(d.canon)
}

func (d *jsonDiffer) appendCanonical(dst []byte, v any, lo, hi int) []byte {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		n := 0
		for _, k := range keys {
			clo := len(d.states)
			d.states = d.m.advance(d.states, d.states[lo:hi], step{name: k, member: true})
			chi := len(d.states)
			if !d.m.at(d.states[clo:chi], patIgnore) {
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst = appendJSONString(dst, k)
				dst = append(dst, ':')
				dst = d.appendCanonical(dst, x[k], clo, chi)
			}
			d.states = d.states[:clo]
		}
		return append(dst, '}')
	case []any:
		unordered := d.m.at(d.states[lo:hi], patUnordered)
		var elems []string
		dst = append(dst, '[')
		for i, e := range x {
			st := step{index: i}
			if unordered {
				st.index = -1
			}
			clo := len(d.states)
			d.states = d.m.advance(d.states, d.states[lo:hi], st)
			chi := len(d.states)
			if !d.m.at(d.states[clo:chi], patIgnore) {
				if unordered {
					elems = append(elems, string(d.appendCanonical(nil, e, clo, chi)))
				} else {
					if i > 0 {
						dst = append(dst, ',')
					}
					dst = d.appendCanonical(dst, e, clo, chi)
				}
			}
			d.states = d.states[:clo]
		}
		if unordered {
			slices.Sort(elems)
			for i, e := range elems {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, e...)
			}
		}
		return append(dst, ']')
	case json.Number:
		if dec, ok := parseDecimal(string(x)); ok {
			return dec.appendCanonical(dst)
		}
		return append(dst, x...)
	case string:
		return appendJSONString(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	}
	return append(dst, "null"...)
}

// record notes a difference at the current node, once per folded path.
func (d *jsonDiffer) record(a, b any) {
	path := d.pb.folded()
	for i := range d.diffs {
		if d.diffs[i].path == path {
			return
		}
	}
	if len(d.diffs) >= compare.MaxPaths {
		d.full = true
		return
	}
	lt, ct := valueTexts(a, b)
	at := d.pb.concrete()
	if at == path {
		at = ""
	}
	d.diffs = append(d.diffs, part{path: path, at: at, legacy: lt, candidate: ct})
}

// maxValueText bounds the text of a value in a Report.
const maxValueText = 64

// valueTexts describes two differing values, briefly: scalars as JSON,
// containers by their size, and two strings that share a long prefix by an
// excerpt around their first difference.
func valueTexts(a, b any) (string, string) {
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok && (len(x) > maxValueText || len(y) > maxValueText) {
			off := firstDifference([]byte(x), []byte(y))
			return excerpt([]byte(x), off, true), excerpt([]byte(y), off, true)
		}
	}
	lt, ct := valueText(a), valueText(b)
	if lt == ct {
		lt, ct = lt+" (legacy)", ct+" (candidate)"
	}
	return lt, ct
}

func valueText(v any) string {
	switch x := v.(type) {
	case missingValue:
		return "<missing>"
	case map[string]any:
		return "{" + strconv.Itoa(len(x)) + " members}"
	case []any:
		return "[" + strconv.Itoa(len(x)) + " elements]"
	case json.Number:
		if len(x) > maxValueText {
			return string(x[:maxValueText]) + "…"
		}
		return string(x)
	case string:
		return string(appendJSONString(nil, cutUTF8(x, maxValueText)))
	case bool:
		return strconv.FormatBool(x)
	}
	return "null"
}
