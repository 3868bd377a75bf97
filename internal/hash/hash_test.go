package hash

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestKeyGolden pins the hash: it must never change between releases, or
// keys would move between buckets on upgrade.
func TestKeyGolden(t *testing.T) {
	tests := []struct {
		name     string
		reason   string
		exp, key string
		want     uint64
	}{
		{"typical", "a call site and a user ID", "checkout.price", "user-1", 0x30e1faad837553a4},
		{"empty", "empty strings hash too", "", "", 0x25fc6dd36ce04b20},
		{"separator", "(ab, c) must not collide with (a, bc)", "ab", "c", 0x9291f5e7171dc35a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Key(tt.exp, tt.key); got != tt.want {
				t.Errorf("%s: Key(%q, %q) = %#x, want %#x", tt.reason, tt.exp, tt.key, got, tt.want)
			}
		})
	}
	if Key("ab", "c") == Key("a", "bc") {
		t.Error("the zero separator does not separate experiment and key")
	}
}

func TestBucketRange(t *testing.T) {
	tests := []struct {
		name string
		r, n uint32
		want uint32
	}{
		{"zero", 0, 10000, 0},
		{"max", ^uint32(0), 10000, 9999},
		{"half", 1 << 31, 10000, 5000},
		{"n=1", 12345, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Bucket(tt.r, tt.n); got != tt.want {
				t.Errorf("Bucket(%d, %d) = %d, want %d", tt.r, tt.n, got, tt.want)
			}
		})
	}
}

func TestKeyDoesNotAllocate(t *testing.T) {
	if a := testing.AllocsPerRun(100, func() { _ = Key("experiment", "key") }); a != 0 {
		t.Fatalf("%v allocs", a)
	}
}
