package compare

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/dualrun/dualrun/internal/safe"
)

// Format writes v for a human, like fmt's %+v ({Name:value ...} for
// structs, [a b] for slices, map[k:v] for maps, the Error or String method
// where the value has one), in at most limit bytes (limit <= 0: 4096); a
// cut text ends with "…".
//
// fmt cannot be used for values the engine did not make: it does not
// detect cycles, so a map that contains itself, or a slice that holds
// itself through an interface, makes it recurse until the stack overflows,
// which kills the process and cannot be recovered; and it formats a 10 MB
// value in full before anything can cut it. Format is reflect-based and
// bounded instead:
//
//   - a pointer, map or slice met again inside itself prints as
//     <cycle *T> (pointers print as &value at any depth, which fmt only does
//     at the top);
//   - below 24 levels of nesting a value prints as …;
//   - it stops writing once limit bytes are written, so its time is
//     proportional to limit, not to the size of v (every element it visits
//     writes at least one byte);
//   - Error and String methods run behind recover (an Error method that
//     panics, as a typed-nil pointer's often does, is described by the
//     type); they are called only on values reachable through exported
//     fields, as fmt does;
//   - map entries are sorted by key when there are at most 256 of them,
//     and printed in map order otherwise.
func Format(v any, limit int) string {
	if limit <= 0 {
		limit = defaultLimit
	}
	f := formatter{limit: limit}
	f.value(reflect.ValueOf(v), 0)
	return f.text()
}

const (
	defaultLimit   = 4 << 10
	maxFormatDepth = 24
	maxSortedKeys  = 256
)

type formatter struct {
	buf   []byte
	limit int
	// visiting holds the pointers, maps and slices being written, to
	// detect a value met again inside itself.
	visiting map[visit]struct{}
}

type visit struct {
	ptr uintptr
	typ reflect.Type
	n   int
}

// full reports whether the formatter has written past its limit: the text
// will be cut, nothing more needs writing.
func (f *formatter) full() bool { return len(f.buf) > f.limit }

// text is what was written, cut to the limit on a rune boundary with "…"
// appended (without it when the limit cannot even hold it).
func (f *formatter) text() string {
	if !f.full() {
		return string(f.buf)
	}
	n, mark := f.limit-len(cutMark), cutMark
	if n < 0 {
		n, mark = f.limit, ""
	}
	for n > 0 && !utf8.RuneStart(f.buf[n]) {
		n--
	}
	return string(f.buf[:n]) + mark
}

const cutMark = "…"

func (f *formatter) str(s string) {
	if room := f.limit + 1 - len(f.buf); len(s) > room {
		s = s[:max(room, 0)] // the cut in text() makes it rune-safe
	}
	f.buf = append(f.buf, s...)
}

func (f *formatter) value(v reflect.Value, depth int) {
	if f.full() {
		return
	}
	if !v.IsValid() {
		f.str("<nil>")
		return
	}
	if depth > maxFormatDepth {
		f.str("…")
		return
	}
	if f.method(v) {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		f.buf = strconv.AppendBool(f.buf, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f.buf = strconv.AppendInt(f.buf, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		f.buf = strconv.AppendUint(f.buf, v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		f.buf = strconv.AppendFloat(f.buf, v.Float(), 'g', -1, v.Type().Bits())
	case reflect.Complex64, reflect.Complex128:
		f.str(fmt.Sprint(v.Complex())) // a number: fmt cannot recurse here
	case reflect.String:
		f.str(v.String())
	case reflect.Pointer:
		if v.IsNil() {
			f.str("<nil>")
			return
		}
		if !f.enter(v, 0) {
			return
		}
		f.str("&")
		f.value(v.Elem(), depth+1)
		f.leave(v, 0)
	case reflect.Interface:
		f.value(v.Elem(), depth) // an interface adds no level of its own
	case reflect.Struct:
		f.structure(v, depth)
	case reflect.Slice:
		if !f.enter(v, v.Len()) {
			return
		}
		f.list(v, depth)
		f.leave(v, v.Len())
	case reflect.Array:
		f.list(v, depth)
	case reflect.Map:
		if v.IsNil() {
			f.str("map[]")
			return
		}
		if !f.enter(v, 0) {
			return
		}
		f.mapping(v, depth)
		f.leave(v, 0)
	default: // chan, func, unsafe.Pointer
		if v.IsNil() {
			f.str("<nil>")
			return
		}
		f.str("0x")
		f.buf = strconv.AppendUint(f.buf, uint64(v.Pointer()), 16)
	}
}

// method writes v by its Error or String method, if it has one that fmt
// would call, and reports whether it did.
func (f *formatter) method(v reflect.Value) bool {
	if !v.CanInterface() {
		return false
	}
	k := v.Kind()
	if (k == reflect.Pointer || k == reflect.Interface) && v.IsNil() {
		return false // a nil receiver: print <nil>, as fmt does
	}
	switch x := v.Interface().(type) {
	case error, fmt.Stringer:
		f.str(safe.Text(x, f.limit+1-len(f.buf)))
		return true
	}
	return false
}

// enter marks a pointer, map or slice as being written; it reports false,
// and writes a cycle marker, when it already is.
func (f *formatter) enter(v reflect.Value, n int) bool {
	k := visit{ptr: v.Pointer(), typ: v.Type(), n: n}
	if k.ptr == 0 {
		return true
	}
	if _, ok := f.visiting[k]; ok {
		f.str("<cycle ")
		f.str(v.Type().String())
		f.str(">")
		return false
	}
	if f.visiting == nil {
		f.visiting = make(map[visit]struct{})
	}
	f.visiting[k] = struct{}{}
	return true
}

func (f *formatter) leave(v reflect.Value, n int) {
	if p := v.Pointer(); p != 0 {
		delete(f.visiting, visit{ptr: p, typ: v.Type(), n: n})
	}
}

func (f *formatter) structure(v reflect.Value, depth int) {
	f.str("{")
	t := v.Type()
	for i := range v.NumField() {
		if f.full() {
			return
		}
		if i > 0 {
			f.str(" ")
		}
		f.str(t.Field(i).Name)
		f.str(":")
		f.value(v.Field(i), depth+1)
	}
	f.str("}")
}

func (f *formatter) list(v reflect.Value, depth int) {
	f.str("[")
	for i := range v.Len() {
		if f.full() {
			return
		}
		if i > 0 {
			f.str(" ")
		}
		f.value(v.Index(i), depth+1)
	}
	f.str("]")
}

func (f *formatter) mapping(v reflect.Value, depth int) {
	f.str("map[")
	entry := func(i int, k, e reflect.Value) {
		if i > 0 {
			f.str(" ")
		}
		f.value(k, depth+1)
		f.str(":")
		f.value(e, depth+1)
	}
	if v.Len() <= maxSortedKeys {
		keys := v.MapKeys()
		slices.SortFunc(keys, compareKeys)
		for i, k := range keys {
			if f.full() {
				return
			}
			entry(i, k, v.MapIndex(k))
		}
	} else {
		it := v.MapRange()
		for i := 0; it.Next(); i++ {
			if f.full() {
				return
			}
			entry(i, it.Key(), it.Value())
		}
	}
	f.str("]")
}

// compareKeys orders map keys of the basic kinds by value, as fmt does,
// and any others by kind only (their order is then the map's).
func compareKeys(a, b reflect.Value) int {
	if a.Kind() != b.Kind() {
		return cmp.Compare(a.Kind(), b.Kind())
	}
	switch a.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cmp.Compare(a.Int(), b.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return cmp.Compare(a.Uint(), b.Uint())
	case reflect.Float32, reflect.Float64:
		return cmp.Compare(a.Float(), b.Float())
	case reflect.String:
		return cmp.Compare(a.String(), b.String())
	case reflect.Bool:
		switch {
		case a.Bool() == b.Bool():
			return 0
		case a.Bool():
			return 1
		}
		return -1
	}
	return 0
}
