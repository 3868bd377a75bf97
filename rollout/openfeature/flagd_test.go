package openfeature_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	flagd "github.com/open-feature/go-sdk-contrib/providers/flagd/pkg"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/dualrun/dualrun/rollout"
	"github.com/dualrun/dualrun/rollout/openfeature"
)

// These tests run the flagd provider in in-process file mode for real: it
// watches a flag file in flagd's own JSON format. File watching happens in
// real time, so they wait for effects (bounded), but never use synctest.

// flagdFile is a flag file in flagd's format with one flag per experiment.
func flagdFile(t testing.TB, fl map[string]any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{
		"$schema": "https://flagd.dev/schema/v0/flags.json",
		"flags":   fl,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rolloutFlag is a flagd string flag with the four states as variants,
// the given one by default.
func rolloutFlag(defaultVariant string) map[string]any {
	return map[string]any{
		"state": "ENABLED",
		"variants": map[string]any{
			"legacy": "legacy", "shadow": "shadow", "candidate": "candidate", "candidate-only": "candidate-only",
		},
		"defaultVariant": defaultVariant,
	}
}

// objectFlag is a flagd object flag with percentages (flagd wants every
// variant of a flag to have the same type).
func objectFlag(defaultVariant string) map[string]any {
	return map[string]any{
		"state": "ENABLED",
		"variants": map[string]any{
			"off":         map[string]any{"primary": "legacy"},
			"ten-percent": map[string]any{"primary": "candidate", "candidate_primary_percent": 10, "shadow_percent": 100},
			"half":        map[string]any{"candidate_primary_percent": 50.5, "shadow_percent": 25},
		},
		"defaultVariant": defaultVariant,
	}
}

// writeAtomic replaces path with data the way a deploy tool should: write a
// temporary file in the same directory, then rename it over the old one, so
// the watcher never reads a half-written file.
func writeAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".flags-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// newFlagdClient starts the flagd provider on a flag file and returns an
// OpenFeature client of an isolated API; both are shut down at the end.
func newFlagdClient(t testing.TB, path string) *of.Client {
	t.Helper()
	prov, err := flagd.NewProvider(flagd.WithFileResolver(), flagd.WithOfflineFilePath(path))
	if err != nil {
		t.Fatal(err)
	}
	api := isolated.NewAPI()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := api.SetProviderAndWait(ctx, prov); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	return api.NewClient()
}

// waitFor polls cond until it holds and returns the time since start. The
// deadline only stops a hung test: it asserts nothing about timing.
func waitFor(t *testing.T, what string, start time.Time, cond func() bool) time.Duration {
	t.Helper()
	for !cond() {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s: no effect after %v", what, time.Since(start))
		}
		time.Sleep(50 * time.Microsecond)
	}
	return time.Since(start)
}

// TestFlagdFileFlipsPrimary: rewriting the flag file moves the primary of a
// running experiment through every state; after a bad edit the last good
// value stays. The time from the start of the write (temporary file,
// write, rename) to the first call that follows the new value is measured
// and logged.
func TestFlagdFileFlipsPrimary(t *testing.T) {
	rec := recordErrors(t)
	path := filepath.Join(t.TempDir(), "flags.json")
	writeAtomic(t, path, flagdFile(t, map[string]any{exp: rolloutFlag("legacy")}))
	client := newFlagdClient(t, path)
	p := openfeature.NewPolicy(client, openfeature.WithExperiments(exp))
	defer p.Close()
	if got := p.Load(exp); got != (rollout.Static{}) {
		t.Fatalf("initial: %v", got)
	}

	var took []time.Duration
	for _, step := range []struct {
		flag    func(string) map[string]any
		variant string
		want    rollout.Static
	}{
		{rolloutFlag, "shadow", rollout.Static{Shadow: rollout.All}},
		{objectFlag, "ten-percent", rollout.Static{Shadow: rollout.All, CandidatePrimary: 1000}},
		{objectFlag, "half", rollout.Static{Shadow: 2500, CandidatePrimary: 5050}},
		{rolloutFlag, "candidate", rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}},
		{rolloutFlag, "candidate-only", rollout.Static{CandidatePrimary: rollout.All}},
		{objectFlag, "off", rollout.Static{}},
		{rolloutFlag, "candidate", rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}},
	} {
		start := time.Now()
		writeAtomic(t, path, flagdFile(t, map[string]any{exp: step.flag(step.variant)}))
		d := waitFor(t, "flip to "+step.variant, start, func() bool { return p.Load(exp) == step.want })
		took = append(took, d)
		// The call site follows: a keyed call decides with the new value.
		ctx := rollout.WithKey(context.Background(), "account-1")
		if got, want := p.Decide(ctx, exp), step.want.Decide(ctx, exp); got != want {
			t.Fatalf("%s: decided %+v, want %+v", step.variant, got, want)
		}
	}
	slices.Sort(took)
	t.Logf("flagd file, start of the write to effect, over %d flips: min %v, median %v, max %v",
		len(took), took[0].Round(time.Microsecond), took[len(took)/2].Round(time.Microsecond), took[len(took)-1].Round(time.Microsecond))

	// A flag file with an unknown state for our flag: flagd accepts it (a
	// string is a string), the policy rejects it and keeps "candidate".
	writeAtomic(t, path, flagdFile(t, map[string]any{exp: map[string]any{
		"state": "ENABLED", "variants": map[string]any{"oops": "primary-please"}, "defaultVariant": "oops",
	}}))
	waitFor(t, "the bad value reported", time.Now(), func() bool {
		fs := p.Flags()
		return fs[0].Problem != nil && fs[0].Problem.Type == openfeature.ErrorTypeUnknownSide
	})
	if got := p.Load(exp); got != (rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}) {
		t.Fatalf("after a bad value: %v, want the last good value", got)
	}
	// A deleted flag: flag_not_found, still the last good value.
	writeAtomic(t, path, flagdFile(t, map[string]any{"other": rolloutFlag("legacy")}))
	waitFor(t, "the missing flag reported", time.Now(), func() bool {
		fs := p.Flags()
		return fs[0].Problem != nil && fs[0].Problem.Type == openfeature.ErrorTypeFlagNotFound
	})
	if got := p.Load(exp); got != (rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.All}) {
		t.Fatalf("after the flag was deleted: %v, want the last good value", got)
	}
	// A file flagd cannot parse (a truncated write that bypassed the
	// rename): flagd keeps its previous flags and goes to state ERROR; the
	// policy keeps the value in force. A good file then takes effect again.
	writeAtomic(t, path, flagdFile(t, map[string]any{exp: rolloutFlag("shadow")}))
	waitFor(t, "back to shadow", time.Now(), func() bool { return p.Load(exp) == rollout.Static{Shadow: rollout.All} })
	writeAtomic(t, path, []byte(`{"flags": {"checkout.price": {"state": "ENA`))
	waitFor(t, "flagd's error state", time.Now(), func() bool { return client.State() == of.ErrorState })
	if err := p.Refresh(context.Background()); err != nil || p.Load(exp) != (rollout.Static{Shadow: rollout.All}) {
		t.Fatalf("after a broken file: %v, %v; want shadow still in force", err, p.Load(exp))
	}
	writeAtomic(t, path, flagdFile(t, map[string]any{exp: rolloutFlag("candidate-only")}))
	waitFor(t, "recovery", time.Now(), func() bool { return p.Load(exp) == rollout.Static{CandidatePrimary: rollout.All} })

	var types []string
	for _, err := range rec.take() {
		var ferr *openfeature.FlagError
		if errors.As(err, &ferr) {
			types = append(types, ferr.Type)
		}
	}
	if !slices.Contains(types, openfeature.ErrorTypeUnknownSide) || !slices.Contains(types, openfeature.ErrorTypeFlagNotFound) {
		t.Fatalf("reported %v; want unknown_side and flag_not_found", types)
	}
}

// TestFlagdFractionalPerCall: with per-call evaluation, flagd's own
// fractional rule splits keys: stickily (same key, same side, on every call
// and after a restart of provider and policy) and in about the configured
// proportion.
func TestFlagdFractionalPerCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	fl := rolloutFlag("legacy")
	fl["targeting"] = map[string]any{"fractional": []any{[]any{"legacy", 70}, []any{"candidate", 30}}}
	writeAtomic(t, path, flagdFile(t, map[string]any{exp: fl}))

	const keys = 1000
	decide := func() []rollout.Decision {
		client := newFlagdClient(t, path)
		p := openfeature.NewPolicy(client, openfeature.WithPerCallEvaluation())
		defer p.Close()
		out := make([]rollout.Decision, keys)
		for i := range out {
			ctx := rollout.WithKey(context.Background(), fmt.Sprint("account-", i))
			out[i] = p.Decide(ctx, exp)
			if again := p.Decide(ctx, exp); again != out[i] {
				t.Fatalf("key %d: %+v then %+v", i, out[i], again)
			}
		}
		return out
	}
	first := decide()
	cand := 0
	for _, d := range first {
		switch d {
		case rollout.Decision{}:
		case rollout.Decision{Primary: rollout.Candidate, Shadow: true}:
			cand++
		default:
			t.Fatalf("decision %+v is neither variant", d)
		}
	}
	// 30% of 1,000: mean 300, sigma about 14.5; allow 6 sigma.
	if math.Abs(float64(cand)-keys*0.3) > 6*math.Sqrt(keys*0.3*0.7) {
		t.Fatalf("%d of %d keys on the candidate, want about 30%%", cand, keys)
	}
	if again := decide(); !slices.Equal(first, again) {
		t.Fatal("a new provider and policy split the keys differently")
	}
}
