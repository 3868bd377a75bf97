package compare

import "reflect"

// PlainComparable reports whether values of t can be compared with == and the
// result is a faithful deep equality, i.e. the same answer cmp.Equal gives
// without options (other than an exporter, needed for unexported fields).
//
// That holds for bool, signed and unsigned integers, strings, and structs and
// arrays built only from those. It does not hold for floats and complex
// numbers (NaN != NaN, -0 == +0), pointers, unsafe.Pointer, uintptr (usually
// an address in disguise), chans and interfaces (== compares identity or
// dynamic values that may panic), nor for funcs, maps and slices, which are
// not comparable at all. It also does not hold when t or any nested type has
// an Equal method that cmp.Equal would call instead of comparing fields.
// Unexported fields do not matter to ==, so they do not affect the result;
// blank (_) fields are skipped by both == and cmp.Equal, so they are ignored.
func PlainComparable(t reflect.Type) bool {
	if t == nil || !t.Comparable() || hasEqualMethod(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	case reflect.Array:
		return PlainComparable(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Name != "_" && !PlainComparable(f.Type) { // == and cmp skip blank fields
				return false
			}
		}
		return true
	default:
		return false
	}
}

// hasEqualMethod mirrors the rule cmp.Equal uses to prefer a type's own
// method: (T) Equal(I) bool where T is assignable to I.
func hasEqualMethod(t reflect.Type) bool {
	if t.NumMethod() == 0 {
		return false
	}
	m, ok := t.MethodByName("Equal")
	if !ok {
		return false
	}
	ft := m.Type // includes the receiver as In(0)
	return !ft.IsVariadic() && ft.NumIn() == 2 && ft.NumOut() == 1 &&
		ft.In(0).AssignableTo(ft.In(1)) && ft.Out(0) == reflect.TypeFor[bool]()
}

// unbounded is what nodeBound returns for a type whose values go-cmp may
// walk without a bound known from the type alone.
const unbounded = -1

// nodeBound returns how many nodes go-cmp visits at most to compare two
// values of t, or unbounded when slices, maps, pointers, interfaces or an
// Equal method (user code) make that depend on the values. It saturates at
// checkEvery: beyond that the answer changes nothing.
func nodeBound(t reflect.Type) int {
	if hasEqualMethod(t) {
		return unbounded
	}
	switch t.Kind() {
	case reflect.Array:
		if t.Len() == 0 {
			return 1
		}
		n := nodeBound(t.Elem())
		if n == unbounded {
			return unbounded
		}
		return min(1+t.Len()*n, checkEvery)
	case reflect.Struct:
		total := 1
		for i := range t.NumField() {
			n := nodeBound(t.Field(i).Type)
			if n == unbounded {
				return unbounded
			}
			total = min(total+n, checkEvery)
		}
		return total
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return unbounded
	default:
		return 1
	}
}

// byteLeafType reports whether t is a slice or array of bytes that the
// engine compares as a whole: its elements are uint8 and it has no Equal
// method that go-cmp would call instead.
func byteLeafType(t reflect.Type) bool {
	k := t.Kind()
	return (k == reflect.Slice || k == reflect.Array) && t.Elem().Kind() == reflect.Uint8 && !hasEqualMethod(t)
}

// holdsByteLeaf reports whether values of t may hold a byte slice or
// array, as far as the type says without following pointers or
// interfaces (which make a type unbounded anyway).
func holdsByteLeaf(t reflect.Type) bool {
	if byteLeafType(t) {
		return true
	}
	switch t.Kind() {
	case reflect.Array:
		return holdsByteLeaf(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsByteLeaf(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
