package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	flagd "github.com/open-feature/go-sdk-contrib/providers/flagd/pkg"
	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/dualrun/dualrun/rollout"
	dualrunof "github.com/dualrun/dualrun/rollout/openfeature"
)

// flagdStartTimeout bounds the flagd provider's first read of the flag file.
const flagdStartTimeout = 10 * time.Second

// rolloutSource is where the quote experiment's rollout comes from: a
// fixed one (-candidate-primary), or the flag of the experiment in a flagd
// flag file (-flag-file), which the flagd OpenFeature provider watches, so
// that every replica reading the same file follows it.
type rolloutSource struct {
	policy rollout.Policy
	static rollout.Static    // the fixed rollout, when flags is nil
	flags  *dualrunof.Policy // the flag file's policy, or nil
	api    *of.EvaluationAPI // the OpenFeature API of the flagd provider, or nil
	path   string
}

// staticRollout is a fixed rollout: every call compared, the candidate
// primary on candidatePrimary of the calls.
func staticRollout(candidatePrimary rollout.BasisPoints) *rolloutSource {
	st := rollout.Static{Shadow: rollout.All, CandidatePrimary: candidatePrimary}
	return &rolloutSource{policy: st, static: st}
}

// flagFileRollout starts the flagd provider in in-process file mode on
// path, in an OpenFeature API of its own, and returns the rollout it
// drives: the experiment's flag (key experimentName), through
// rollout/openfeature's policy. A file flagd cannot read at start-up is an
// error; once started, a bad edit of the file (unparsable, a bad value, the
// flag deleted) leaves the last good rollout in force, and the policy
// reports it through otel.Handle and in problem().
func flagFileRollout(ctx context.Context, path string) (*rolloutSource, error) {
	if err := checkFlagFile(path); err != nil {
		return nil, err
	}
	prov, err := flagd.NewProvider(flagd.WithFileResolver(), flagd.WithOfflineFilePath(path))
	if err != nil {
		return nil, fmt.Errorf("flag file %s: %w", path, err)
	}
	api := isolated.NewAPI()
	sctx, cancel := context.WithTimeout(ctx, flagdStartTimeout)
	defer cancel()
	if err := api.SetProviderAndWait(sctx, prov); err != nil {
		return nil, errors.Join(fmt.Errorf("flag file %s: %w", path, err), api.Shutdown(context.WithoutCancel(ctx)))
	}
	p := dualrunof.NewPolicy(api.NewClient(), dualrunof.WithExperiments(experimentName))
	return &rolloutSource{policy: p, flags: p, api: api, path: path}, nil
}

// maxFlagFileBytes bounds the flag file that checkFlagFile reads.
const maxFlagFileBytes = 16 << 20

// checkFlagFile checks, before flagd reads it, that path is a regular file
// of JSON. The flagd provider (v0.6.0) reports such problems only after a
// failed start, and then leaves its watcher goroutines running; this check
// also gives a clearer message.
func checkFlagFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("flag file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("flag file %s: not a regular file", path)
	}
	if fi.Size() > maxFlagFileBytes {
		return fmt.Errorf("flag file %s: %d bytes, more than %d", path, fi.Size(), maxFlagFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("flag file: %w", err)
	}
	if !json.Valid(data) {
		return fmt.Errorf("flag file %s: not JSON", path)
	}
	return nil
}

// load returns the rollout in force.
func (r *rolloutSource) load() rollout.Static {
	if r.flags != nil {
		return r.flags.Load(experimentName)
	}
	return r.static
}

// problem describes what is wrong with the flag's latest value, or is
// empty.
func (r *rolloutSource) problem() string {
	if r.flags == nil {
		return ""
	}
	for _, f := range r.flags.Flags() {
		if f.Experiment == experimentName && f.Problem != nil {
			return f.Problem.Type + ": " + f.Problem.Message
		}
	}
	return ""
}

// close stops the policy and the flagd provider.
func (r *rolloutSource) close(ctx context.Context) error {
	if r.flags == nil {
		return nil
	}
	r.flags.Close()
	return r.api.Shutdown(ctx)
}
