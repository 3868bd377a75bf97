package compare

import (
	"reflect"
	"testing"
	"time"
	"unsafe"
)

type (
	namedInt    int
	namedString string
	namedFloat  float64
	plainPoint  struct{ X, Y int }
	nestedPlain struct {
		P    plainPoint
		Tags [2]namedString
		ok   bool //nolint:unused // never read: the test needs an unexported field in the type
	}
	nestedFloat struct {
		P plainPoint
		W [1]struct{ F float32 }
	}
	withIface struct{ V any }
	withPtr   struct{ P *int }
	withBlank struct {
		A int
		_ float64
	}
	withBlankSlice struct {
		A int
		_ []int
	}
	withEqual    struct{ A int }
	withPtrEqual struct{ A int }
	wrapsEqual   struct{ E withEqual }
	badEqual     struct{ A int }
)

func (withEqual) Equal(withEqual) bool         { return true }
func (*withPtrEqual) Equal(*withPtrEqual) bool { return true }
func (badEqual) Equal(badEqual) int            { return 0 }

func TestPlainComparable(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		typ    reflect.Type
		want   bool
	}{
		{"nil", "no type, nothing to compare", nil, false},
		{"bool", "== is exact", reflect.TypeFor[bool](), true},
		{"int", "== is exact", reflect.TypeFor[int](), true},
		{"int8", "== is exact", reflect.TypeFor[int8](), true},
		{"int64", "== is exact", reflect.TypeFor[int64](), true},
		{"uint", "== is exact", reflect.TypeFor[uint](), true},
		{"uint8", "== is exact", reflect.TypeFor[uint8](), true},
		{"uint64", "== is exact", reflect.TypeFor[uint64](), true},
		{"uintptr", "usually an address, so == is identity", reflect.TypeFor[uintptr](), false},
		{"string", "== compares contents", reflect.TypeFor[string](), true},
		{"float32", "NaN != NaN and -0 == +0", reflect.TypeFor[float32](), false},
		{"float64", "NaN != NaN and -0 == +0", reflect.TypeFor[float64](), false},
		{"complex64", "made of floats", reflect.TypeFor[complex64](), false},
		{"complex128", "made of floats", reflect.TypeFor[complex128](), false},
		{"pointer", "== compares addresses", reflect.TypeFor[*int](), false},
		{"unsafe pointer", "== compares addresses", reflect.TypeFor[unsafe.Pointer](), false},
		{"chan", "== compares identity", reflect.TypeFor[chan int](), false},
		{"interface", "dynamic value may be a pointer or panic on ==", reflect.TypeFor[any](), false},
		{"error", "interface type", reflect.TypeFor[error](), false},
		{"func", "not comparable", reflect.TypeFor[func()](), false},
		{"map", "not comparable", reflect.TypeFor[map[string]int](), false},
		{"slice", "not comparable", reflect.TypeFor[[]int](), false},
		{"empty struct", "all values are equal", reflect.TypeFor[struct{}](), true},
		{"zero-length int array", "all values are equal", reflect.TypeFor[[0]int](), true},
		{"int array", "element-wise ==", reflect.TypeFor[[3]int](), true},
		{"string array of arrays", "recurses through arrays", reflect.TypeFor[[2][2]string](), true},
		{"float array", "elements are floats", reflect.TypeFor[[2]float64](), false},
		{"pointer array", "elements are pointers", reflect.TypeFor[[2]*int](), false},
		{"named int", "underlying kind decides", reflect.TypeFor[namedInt](), true},
		{"named string", "underlying kind decides", reflect.TypeFor[namedString](), true},
		{"named float", "underlying kind decides", reflect.TypeFor[namedFloat](), false},
		{"plain struct", "fields are ints", reflect.TypeFor[plainPoint](), true},
		{"nested plain struct", "recurses through struct, array and unexported field", reflect.TypeFor[nestedPlain](), true},
		{"float deep inside", "float in a struct in an array in a struct", reflect.TypeFor[nestedFloat](), false},
		{"interface field", "struct containing an interface", reflect.TypeFor[withIface](), false},
		{"pointer field", "struct containing a pointer", reflect.TypeFor[withPtr](), false},
		{"blank float field", "== and cmp.Equal both skip blank fields", reflect.TypeFor[withBlank](), true},
		{"blank slice field", "a blank field still makes the struct incomparable", reflect.TypeFor[withBlankSlice](), false},
		{"Equal method", "cmp.Equal calls the method instead of comparing fields", reflect.TypeFor[withEqual](), false},
		{"nested Equal method", "cmp.Equal calls the method on the field", reflect.TypeFor[wrapsEqual](), false},
		{"pointer-receiver Equal", "not in the value's method set, cmp ignores it for values", reflect.TypeFor[withPtrEqual](), true},
		{"Equal not returning bool", "cmp ignores methods of the wrong shape", reflect.TypeFor[badEqual](), true},
		{"time.Time", "has a pointer and an Equal method", reflect.TypeFor[time.Time](), false},
		{"time.Duration", "named int64", reflect.TypeFor[time.Duration](), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PlainComparable(tt.typ); got != tt.want {
				t.Errorf("PlainComparable(%v) = %v, want %v (%s)", tt.typ, got, tt.want, tt.reason)
			}
			if tt.want && !tt.typ.Comparable() {
				t.Errorf("%v is not comparable but PlainComparable wants true", tt.typ)
			}
		})
	}
}
