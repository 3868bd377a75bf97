// Package hash is the fixed-seed hash behind sticky bucketing. Its output for
// a given input must never change between releases: keys would move between
// buckets on upgrade.
package hash

const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

// Key hashes (experiment, key) with FNV-1a over experiment, a zero byte and
// key, then applies the SplitMix64 finalizer so that every output bit depends
// on every input bit. It does not allocate.
func Key(experiment, key string) uint64 {
	h := uint64(offset64)
	for i := 0; i < len(experiment); i++ {
		h ^= uint64(experiment[i])
		h *= prime64
	}
	h ^= 0
	h *= prime64
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= prime64
	}
	return Mix(h)
}

// Mix is the SplitMix64 finalizer.
func Mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// Bucket maps 32 random bits onto [0, n) without modulo bias worth
// measuring (multiply-shift).
func Bucket(r uint32, n uint32) uint32 {
	return uint32((uint64(r) * uint64(n)) >> 32)
}
