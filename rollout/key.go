package rollout

import (
	"context"
	"sync/atomic"
)

type keyCtxKey struct{}

// keysUsed turns true the first time any context gets a key. Until then
// policies skip the context lookup entirely, which keeps the uncompared path
// of processes that never use keys free of a Value walk.
var keysUsed atomic.Bool

// WithKey returns a copy of ctx that carries the bucketing key of the call
// (a user, account or order ID). Policies that bucket hash (experiment, key)
// with a fixed seed, so the same key gets the same decision on every replica
// and after every restart, and raising a percentage never moves a key back.
func WithKey(ctx context.Context, key string) context.Context {
	if !keysUsed.Load() {
		keysUsed.Store(true)
	}
	return context.WithValue(ctx, keyCtxKey{}, key)
}

// KeyFrom returns the key set by [WithKey], if any.
func KeyFrom(ctx context.Context) (string, bool) {
	if !keysUsed.Load() || ctx == nil {
		return "", false
	}
	k, ok := ctx.Value(keyCtxKey{}).(string)
	return k, ok
}
