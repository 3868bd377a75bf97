package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	flagd "github.com/open-feature/go-sdk-contrib/providers/flagd/pkg"
	of "github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/rollout"
	dualrunof "github.com/dualrun/dualrun/rollout/openfeature"
)

// flagFile is a flag file in flagd's format: one string flag whose default
// variant is the state the call site should be in.
func flagFile(flag, state string) []byte {
	b, err := json.MarshalIndent(map[string]any{
		"$schema": "https://flagd.dev/schema/v0/flags.json",
		"flags": map[string]any{flag: map[string]any{
			"state": "ENABLED",
			"variants": map[string]any{
				"legacy": "legacy", "shadow": "shadow", "candidate": "candidate", "candidate-only": "candidate-only",
				"typo": "candidat",
			},
			"defaultVariant": state,
		}},
	}, "", "  ")
	if err != nil {
		panic(err) // static data
	}
	return b
}

// writeAtomic replaces path with data: a temporary file in the same
// directory renamed over it, so flagd never reads a half-written file.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".flags-*.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// searchSite is the call site of part 2. Each side notes whether it ran as
// primary or as shadow.
type searchSite struct {
	primary [2]atomic.Int64 // calls served, by side
	shadow  [2]atomic.Int64 // shadow runs, by side
}

func (s *searchSite) fn(side rollout.Side) dualrun.Func[int] {
	return func(ctx context.Context) (int, error) {
		if dualrun.IsShadow(ctx) {
			s.shadow[side].Add(1)
		} else {
			s.primary[side].Add(1)
		}
		return 42, nil
	}
}

// errorLog keeps what the policy reports through otel.Handle.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) Handle(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) flagErrors() []*dualrunof.FlagError {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*dualrunof.FlagError
	for _, err := range l.errs {
		var ferr *dualrunof.FlagError
		if errors.As(err, &ferr) {
			out = append(out, ferr)
		}
	}
	return out
}

func flagPart(ctx context.Context, w io.Writer) (err error) {
	const name = "search.rank"
	dir, err := os.MkdirTemp("", "dualrun-rollout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "flags.json")
	if err := writeAtomic(path, flagFile(name, "legacy")); err != nil {
		return err
	}

	errs := &errorLog{}
	prevHandler := otel.GetErrorHandler()
	otel.SetErrorHandler(errs)
	defer otel.SetErrorHandler(prevHandler)

	// The flagd provider in in-process file mode watches the file.
	provider, err := flagd.NewProvider(flagd.WithFileResolver(), flagd.WithOfflineFilePath(path))
	if err != nil {
		return err
	}
	if err := of.SetProviderAndWait(provider); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, of.ShutdownWithContext(ctx)) }()
	policy := dualrunof.NewPolicy(of.NewDefaultClient(), dualrunof.WithExperiments(name))
	defer policy.Close()

	exp := dualrun.New[int](name, dualrun.WithRollout(policy))
	defer func() { _ = exp.Shutdown(ctx) }()
	var site searchSite
	call := func(i int) error {
		kctx := rollout.WithKey(ctx, "user-"+strconv.Itoa(i%1000))
		_, err := exp.Run(kctx, site.fn(rollout.Legacy), site.fn(rollout.Candidate))
		return err
	}

	fmt.Fprintf(w, "== Part 2: %s follows the flag %q in a flagd flag file\n", name, name)
	fmt.Fprintf(w, "flag file: legacy          → %s\n", policy)

	// Each edit of the file changes what the call site does; the effect
	// is detected on the calls themselves.
	edits := []struct {
		state  string
		effect string
		done   func(before [4]int64) bool
	}{
		{"shadow", "the candidate runs as shadow", func(b [4]int64) bool { return site.shadow[rollout.Candidate].Load() > b[3] }},
		{"candidate", "the candidate is primary", func(b [4]int64) bool { return site.primary[rollout.Candidate].Load() > b[1] }},
		{"legacy", "legacy is primary again (rollback)", func(b [4]int64) bool { return site.primary[rollout.Legacy].Load() > b[0] }},
		{"candidate-only", "the candidate is primary, nothing shadowed", func(b [4]int64) bool { return site.primary[rollout.Candidate].Load() > b[1] }},
	}
	i := 0
	for _, e := range edits {
		before := [4]int64{
			site.primary[rollout.Legacy].Load(), site.primary[rollout.Candidate].Load(),
			site.shadow[rollout.Legacy].Load(), site.shadow[rollout.Candidate].Load(),
		}
		start := time.Now()
		if err := writeAtomic(path, flagFile(name, e.state)); err != nil {
			return err
		}
		for !e.done(before) {
			if time.Since(start) > 5*time.Second {
				return fmt.Errorf("%w: %s after 5s (%v)", errTimeout, e.state, policy)
			}
			if err := call(i); err != nil {
				return err
			}
			i++
			time.Sleep(100 * time.Microsecond) // a call site with some traffic, not a spin
		}
		took := time.Since(start)
		fmt.Fprintf(w, "flag file: %-15s → %s after %v (%s)\n", e.state, e.effect, took.Round(100*time.Microsecond), policy)
	}

	// A typo: flagd accepts the file, the policy rejects the value, reports
	// it once and keeps the last good value.
	if err := writeAtomic(path, flagFile(name, "typo")); err != nil {
		return err
	}
	start := time.Now()
	for len(errs.flagErrors()) == 0 {
		if time.Since(start) > 5*time.Second {
			return fmt.Errorf("%w: the typo was not reported", errTimeout)
		}
		time.Sleep(time.Millisecond)
	}
	before := site.primary[rollout.Candidate].Load()
	for j := range 100 {
		if err := call(i + j); err != nil {
			return err
		}
	}
	for _, ferr := range errs.flagErrors() {
		fmt.Fprintf(w, "flag file: typo            → reported: %s: %s\n", ferr.Type, ferr.Message)
	}
	fmt.Fprintf(w, "   the last good value stays: %d of the next 100 calls served by the candidate (%s)\n",
		site.primary[rollout.Candidate].Load()-before, policy)
	return nil
}
