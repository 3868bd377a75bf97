package dualrun

import (
	"context"
	"testing"
	"time"
)

// TestCancelKeyProbe: the probe finds the context package's cancellation
// key on this Go version, so the shadow context saves its WithoutCancel
// allocation; if a Go release changes that, this test says so (the code
// falls back to context.WithoutCancel and stays correct).
func TestCancelKeyProbe(t *testing.T) {
	if cancelCtxKey == nil {
		t.Fatal("probe found no cancellation key: shadow contexts fall back to context.WithoutCancel")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var sc detachedContext
	sc.init(ctx)
	sc.deadline = monoNow() + time.Hour
	defer sc.release()
	if v := sc.Value(cancelCtxKey); v != nil {
		t.Fatalf("shadow context exposes the caller's cancellation: %v", v)
	}
	if err := context.Cause(&sc); err != nil {
		t.Fatalf("context.Cause(shadow) = %v after the caller canceled, want nil", err)
	}
}
