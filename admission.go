package dualrun

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// This file is admission: who may start a shadow. Shadows are admitted,
// never queued: a call takes a slot under its experiment's limit and under
// the process-wide cap with two CAS loops, or is shed.

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
// [Experiment.PauseShadows] is the per-experiment switch.
func DisableShadows() { shadowsOff.Store(true) }

// EnableShadows undoes DisableShadows (and the environment variable).
func EnableShadows() { shadowsOff.Store(false) }

// ShadowsEnabled reports whether the kill switch is off.
func ShadowsEnabled() bool { return !shadowsOff.Load() }

// SetProcessMaxInFlight sets the process-wide cap on running shadows across
// all experiments (default 1,024). An experiment's own limit
// ([WithMaxInFlight]) above the cap is capped by it: Stats shows both and
// the effective limit. It panics if n < 1.
func SetProcessMaxInFlight(n int) {
	if n < 1 {
		panic("dualrun: SetProcessMaxInFlight(" + strconv.Itoa(n) + "): want at least 1")
	}
	processLimit.Store(int64(n))
}

// ProcessInFlight returns how many shadows are running in the process.
func ProcessInFlight() int { return int(processSlots.Load()) }

// acquire claims a shadow slot under the experiment's limit and the
// process-wide cap, without locks. It reports false (shed) when either is
// full, and closed when the experiment was shut down meanwhile.
func (c *core) acquire() (ok, closed bool) {
	limit := int64(c.cfg.maxInFlight)
	for {
		n := c.inflight.Load()
		if n >= limit {
			return false, false
		}
		if c.inflight.CompareAndSwap(n, n+1) {
			break
		}
	}
	if !acquireProcessSlot() {
		c.inflight.Add(-1)
		return false, false
	}
	if c.closed.Load() {
		c.releaseSlot()
		return false, true
	}
	c.pending.Add(1)
	return true, false
}

func (c *core) releaseSlot() {
	c.inflight.Add(-1)
	releaseProcessSlot()
	c.notifyIdle()
}

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
