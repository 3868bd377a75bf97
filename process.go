package dualrun

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// EnvDisableShadows is the environment variable that, set to a true value
// ("1", "true", "yes", "on") when the process starts, turns every shadow off
// as DisableShadows does. It is the kill switch that needs no code change.
const EnvDisableShadows = "DUALRUN_DISABLE_SHADOWS"

var (
	shadowsOff   atomic.Bool
	processSlots atomic.Int64
	processLimit atomic.Int64
)

func init() {
	processLimit.Store(DefaultProcessMaxInFlight)
	if envTrue(os.Getenv(EnvDisableShadows)) {
		shadowsOff.Store(true)
	}
}

func envTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}

// DisableShadows is the process-wide kill switch: from now on no experiment
// starts a shadow. Calls go on running their primary side, which still
// follows each experiment's rollout policy. Shadows already running finish.
func DisableShadows() { shadowsOff.Store(true) }

// EnableShadows undoes DisableShadows (and the environment variable).
func EnableShadows() { shadowsOff.Store(false) }

// ShadowsEnabled reports whether the kill switch is off.
func ShadowsEnabled() bool { return !shadowsOff.Load() }

// SetProcessMaxInFlight sets the process-wide cap on running shadows across
// all experiments (default 1,024). It panics if n < 1.
func SetProcessMaxInFlight(n int) {
	if n < 1 {
		panic("dualrun: SetProcessMaxInFlight(" + strconv.Itoa(n) + "): want at least 1")
	}
	processLimit.Store(int64(n))
}

// ProcessInFlight returns how many shadows are running in the process.
func ProcessInFlight() int { return int(processSlots.Load()) }

// acquireProcessSlot takes a slot under the process-wide cap, lock-free.
func acquireProcessSlot() bool {
	for {
		n := processSlots.Load()
		if n >= processLimit.Load() {
			return false
		}
		if processSlots.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func releaseProcessSlot() { processSlots.Add(-1) }

// Shutdown shuts down every experiment made by [Run]: new calls run their
// primary only, and it waits for running shadows and queued reports. It
// returns ctx.Err() if some are still running when ctx ends, and the first
// error otherwise. It is idempotent and safe against concurrent Run.
// Experiments made by [New] are shut down by their own Shutdown.
func Shutdown(ctx context.Context) error {
	var errs []error
	runExperiments.Range(func(_, v any) bool {
		if err := v.(interface{ Shutdown(context.Context) error }).Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		return true
	})
	if len(errs) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("dualrun: shutdown: %w", errs[0])
	}
	return nil
}
