package cmppath

import "reflect"

// PlainComparable reports whether values of t can be compared with == and the
// result is a faithful deep equality, i.e. the same answer cmp.Equal gives
// without options (other than ExportAll, needed for unexported fields).
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
	m, ok := t.MethodByName("Equal")
	if !ok {
		return false
	}
	ft := m.Type // includes the receiver as In(0)
	return !ft.IsVariadic() && ft.NumIn() == 2 && ft.NumOut() == 1 &&
		ft.In(0).AssignableTo(ft.In(1)) && ft.Out(0) == reflect.TypeFor[bool]()
}
