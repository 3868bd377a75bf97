package dualrungrpc

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/dualrun/dualrun/internal/compare"
)

// The paths of this file name the differing leaves of two responses by
// proto field names, as the core names struct fields: ".items[*].price_cents"
// is the price_cents field of any element of the repeated field items,
// ".labels[*]" any entry of the map field labels.
//
// The core's own paths cannot say this. It builds them from go-cmp's steps,
// where a struct field is named and every map key is folded to "[*]"; a
// message transformed by protocmp is a map keyed by field name, so the core
// would fold every field away ("[*][*]"). So the paths are built here, by a
// cmp.Reporter that reads protocmp's steps: a key of a protocmp.Message is a
// field name, a key of any other map (a proto map field) and an index of a
// slice (a repeated field) are "[*]". They are folded and bounded as the
// core folds and bounds its own (package internal/compare): a path that
// comes back to a message type it already passed through (a recursive
// message) folds the repetition into one "…", a path is at most
// compare.MaxPathLen bytes, and one comparison yields at most
// compare.MaxPaths distinct paths.

const (
	foldMark = "…"
	rootPath = "."
	// maxLeaves is how many differing leaves a comparison describes with
	// their exact path (indexes and keys) and both values, for the diff.
	maxLeaves = 16
	// maxValueText caps one value in a leaf's description.
	maxValueText = 160
	// maxKeyText caps a map key in an exact path.
	maxKeyText = 40
)

var (
	messageType = reflect.TypeFor[protocmp.Message]()
	enumType    = reflect.TypeFor[protocmp.Enum]()
)

// ident is what a step of the path enters, for recursion folding: the
// message type of a singular message field, of an element of a repeated
// field or of a value of a map field, or the container of a repeated or map
// field of messages. Steps into scalars have no ident: a scalar is a leaf
// and cannot recur.
type ident struct {
	container byte // 0 (a message), 'l' (list of) or 'm' (map of)
	message   protoreflect.FullName
}

// frame is what one step changed, to undo it when go-cmp pops it.
type frame struct {
	step           cmp.PathStep
	end, exactEnd  int
	id             ident
	folds          int
	foldAt, tailAt int
	// md is the message descriptor of the node this step entered, when the
	// node is a message; fd the field descriptor of the field it entered.
	md protoreflect.MessageDescriptor
	fd protoreflect.FieldDescriptor
}

// leaf is one differing leaf: its exact path and both values.
type leaf struct {
	path, legacy, candidate string
}

// pathReporter is the cmp.Reporter that collects the folded paths of the
// differing leaves of two protocmp-transformed messages, and describes the
// first maxLeaves of them.
type pathReporter struct {
	frames []frame
	buf    []byte // folded path text: append-only while descending
	exact  []byte // exact path text, with indexes and map keys
	onPath map[ident]int32
	folds  int // returns to an ident on the path: 0, 1 or 2 (folded)
	foldAt int // len(buf) after the first return
	tailAt int // len(buf) after the latest return
	key    []byte

	seen   map[string]struct{}
	leaves []leaf
	differ int // differing leaves in all
}

func (r *pathReporter) reset() {
	clear(r.frames) // drop references to the messages
	r.frames, r.buf, r.exact, r.key = r.frames[:0], r.buf[:0], r.exact[:0], r.key[:0]
	clear(r.onPath)
	clear(r.seen)
	r.folds, r.foldAt, r.tailAt = 0, 0, 0
	r.leaves, r.differ = r.leaves[:0], 0
}

// PushStep enters a step.
func (r *pathReporter) PushStep(ps cmp.PathStep) {
	f := frame{step: ps, end: len(r.buf), exactEnd: len(r.exact), folds: r.folds, foldAt: r.foldAt, tailAt: r.tailAt}
	var parent *frame
	if n := len(r.frames); n > 0 {
		parent = &r.frames[n-1]
		f.fd = parent.fd
	}
	switch s := ps.(type) {
	case cmp.MapIndex:
		if parent != nil && parent.step.Type() == messageType {
			r.field(&f, parent, s.Key().String())
		} else {
			r.buf = append(r.buf, "[*]"...)
			r.exact = append(r.exact, '[')
			r.exact = appendKey(r.exact, s.Key())
			r.exact = append(r.exact, ']')
			f.id = elemIdent(f.fd)
		}
	case cmp.SliceIndex:
		r.buf = append(r.buf, "[*]"...)
		ix, iy := s.SplitKeys()
		r.exact = append(r.exact, '[')
		r.exact = strconv.AppendInt(r.exact, int64(max(ix, iy)), 10)
		r.exact = append(r.exact, ']')
		f.id = elemIdent(f.fd)
	case cmp.StructField:
		// protocmp leaves no struct to walk but its own Enum, which
		// go-cmp compares with its Equal method; name any other.
		r.buf = append(append(r.buf, '.'), s.Name()...)
		r.exact = append(append(r.exact, '.'), s.Name()...)
	}
	if ps.Type() == messageType {
		f.md = messageOf(ps)
		if f.md != nil && len(r.frames) > 0 && len(r.buf) == 0 && f.id == (ident{}) {
			f.id = ident{message: f.md.FullName()} // the response itself
		}
	} else if parent != nil && parent.md != nil && f.fd == parent.fd {
		f.md = parent.md // a step that adds nothing: a type assertion
	}
	if f.id != (ident{}) {
		if r.onPath[f.id] > 0 {
			if r.folds == 0 {
				r.folds, r.foldAt = 1, len(r.buf)
			} else {
				r.folds, r.tailAt = 2, len(r.buf)
			}
		}
		if r.onPath == nil {
			r.onPath = make(map[ident]int32)
		}
		r.onPath[f.id]++
	}
	r.frames = append(r.frames, f)
}

// field enters the field named key of the message at parent.
func (r *pathReporter) field(f *frame, parent *frame, key string) {
	r.buf = append(append(r.buf, '.'), key...)
	r.exact = append(append(r.exact, '.'), key...)
	f.fd = nil
	if parent.md == nil {
		return
	}
	fd := parent.md.Fields().ByTextName(key)
	if fd == nil {
		return // an extension ("[pkg.ext]"), an unknown field (its number) or protocmp's "@type"
	}
	f.fd = fd
	switch {
	case fd.IsMap():
		if v := fd.MapValue(); v.Message() != nil {
			f.id = ident{container: 'm', message: v.Message().FullName()}
		}
	case fd.Message() == nil:
	case fd.IsList():
		f.id = ident{container: 'l', message: fd.Message().FullName()}
	default:
		f.id = ident{message: fd.Message().FullName()}
	}
}

// elemIdent is the ident of an element of the repeated or map field fd.
func elemIdent(fd protoreflect.FieldDescriptor) ident {
	if fd == nil {
		return ident{}
	}
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	if fd.Message() == nil {
		return ident{}
	}
	return ident{message: fd.Message().FullName()}
}

// messageOf returns the descriptor of the protocmp.Message a step entered.
func messageOf(ps cmp.PathStep) protoreflect.MessageDescriptor {
	vx, vy := ps.Values()
	for _, v := range [2]reflect.Value{vx, vy} {
		if v.IsValid() && v.CanInterface() {
			if m, ok := v.Interface().(protocmp.Message); ok && m != nil {
				if md := m.Descriptor(); md != nil {
					return md
				}
			}
		}
	}
	return nil
}

// PopStep leaves the innermost step.
func (r *pathReporter) PopStep() {
	n := len(r.frames) - 1
	f := r.frames[n]
	r.frames[n] = frame{}
	r.frames = r.frames[:n]
	r.buf, r.exact = r.buf[:f.end], r.exact[:f.exactEnd]
	r.folds, r.foldAt, r.tailAt = f.folds, f.foldAt, f.tailAt
	if f.id != (ident{}) {
		r.onPath[f.id]--
	}
}

// Report records a leaf go-cmp found unequal. Parents whose children differ
// are never reported, so the unequal leaves are all there is to record.
func (r *pathReporter) Report(res cmp.Result) {
	if res.Equal() {
		return
	}
	r.differ++
	if len(r.seen) < compare.MaxPaths {
		p := r.path()
		if _, ok := r.seen[string(p)]; !ok {
			if r.seen == nil {
				r.seen = make(map[string]struct{})
			}
			r.seen[string(p)] = struct{}{}
		}
	}
	if len(r.leaves) < maxLeaves && len(r.frames) > 0 {
		vx, vy := r.frames[len(r.frames)-1].step.Values()
		exact := string(r.exact)
		if exact == "" {
			exact = rootPath
		}
		r.leaves = append(r.leaves, leaf{
			path:      cut(exact, compare.MaxPathLen),
			legacy:    valueText(vx),
			candidate: valueText(vy),
		})
	}
}

// path renders the folded path of the current node into r.key.
func (r *pathReporter) path() []byte {
	k := r.key[:0]
	if r.folds < 2 {
		k = append(k, r.buf...)
	} else {
		k = append(k, r.buf[:r.foldAt]...)
		k = append(k, foldMark...)
		k = append(k, r.buf[r.tailAt:]...)
	}
	if len(k) == 0 {
		k = append(k, rootPath...)
	}
	if len(k) > compare.MaxPathLen {
		n := compare.MaxPathLen - len(foldMark)
		for n > 0 && !utf8.RuneStart(k[n]) {
			n--
		}
		k = append(k[:n], foldMark...)
	}
	r.key = k
	return k
}

// paths returns the collected folded paths, sorted.
func (r *pathReporter) paths() []string {
	if len(r.seen) == 0 {
		return nil
	}
	out := make([]string, 0, len(r.seen))
	for p := range r.seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// appendKey writes a map key of an exact path: strings quoted, cut.
func appendKey(b []byte, k reflect.Value) []byte {
	if !k.IsValid() {
		return append(b, '?')
	}
	if k.Kind() == reflect.String {
		return strconv.AppendQuote(b, cut(k.String(), maxKeyText))
	}
	if !k.CanInterface() {
		return append(b, '?')
	}
	return append(b, compare.Format(k.Interface(), maxKeyText)...)
}

// valueText describes one side's value of a differing leaf.
func valueText(v reflect.Value) string {
	if v.IsValid() && v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	switch {
	case !v.IsValid():
		return "(unset)"
	case !v.CanInterface():
		return "(?)"
	case v.Kind() == reflect.String:
		return strconv.Quote(cut(v.String(), maxValueText))
	case v.Type() == messageType || v.Type() == enumType:
		// Their String methods print proto text (protocmp's own format),
		// as bounded as the message: cut after.
		return cut(compare.Format(v.Interface(), 4*maxValueText), maxValueText)
	}
	return compare.Format(v.Interface(), maxValueText)
}

// cut returns s cut to at most n bytes on a rune boundary, with "…" in
// place of what was cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	m := n - len(foldMark)
	for m > 0 && !utf8.RuneStart(s[m]) {
		m--
	}
	return s[:m] + foldMark
}

// errBadPath is the error of a malformed field path.
var errBadPath = errors.New(`want proto field names separated by dots, such as "items.updated_at"`)

// parseFieldPath splits a field path of WithIgnoreFields into its field
// names. It accepts "items.updated_at" and the reported form
// ".items[*].updated_at".
func parseFieldPath(p string) ([]string, error) {
	s := strings.ReplaceAll(p, "[*]", "")
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, errBadPath
	}
	names := strings.Split(s, ".")
	for _, n := range names {
		if !isIdent(n) {
			return nil, errBadPath
		}
	}
	return names, nil
}

// isIdent reports whether s is a proto field name: a letter or an
// underscore, then letters, digits and underscores (ASCII).
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
