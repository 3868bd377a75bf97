package compare

import (
	"errors"
	"runtime"
	"strconv"
	"time"
)

const (
	// checkEvery is how many nodes go-cmp visits between two checks of the
	// budget. A check reads the clock and yields (runtime.Gosched): about
	// 170 ns here, next to the 100 µs or more that go-cmp spends on 1,024
	// nodes. A comparison of fewer nodes never pays for one.
	checkEvery = 1 << 10
	// MaxDepth is how deep (in go-cmp path steps: fields, indexes,
	// indirections) a comparison may go before it stops with a
	// [BudgetError]. go-cmp recurses on the goroutine's stack, and a stack
	// overflow is fatal: 100,000 steps stay far below Go's 1 GB stack limit,
	// and far above any value that is not a list in disguise.
	MaxDepth = 100_000
)

// ErrBudget is matched by errors.Is for every [*BudgetError].
var ErrBudget = errors.New("comparison budget exceeded")

// BudgetError says that a comparison was stopped before it finished: it
// ran out of time, or the values nest deeper than [MaxDepth]. It unwraps
// to [ErrBudget].
type BudgetError struct {
	// Budget is the time budget of the comparison.
	Budget time.Duration
	// Nodes is how many nodes go-cmp had visited in the stopped phase.
	Nodes int64
	// Depth is the nesting depth at which the comparison was stopped, when
	// it stopped on MaxDepth rather than on time; 0 otherwise.
	Depth int
}

// Error says why the comparison stopped and how far it got.
func (e *BudgetError) Error() string {
	if e.Depth > 0 {
		return "comparison stopped at nesting depth " + strconv.Itoa(e.Depth) + " (limit " +
			strconv.Itoa(MaxDepth) + ") after " + strconv.FormatInt(e.Nodes, 10) + " nodes"
	}
	return "comparison stopped after " + strconv.FormatInt(e.Nodes, 10) +
		" nodes: it exceeded its budget of " + e.Budget.String()
}

// Unwrap returns ErrBudget.
func (e *BudgetError) Unwrap() error { return ErrBudget }

// stop is the panic value with which a meter aborts go-cmp; the engine
// recovers it and turns it into its BudgetError.
type stop struct{ err *BudgetError }

// meter counts the nodes of one phase of a comparison (equality, paths or
// diff), checks its time and depth, and yields. The clock starts at the
// first check, so a phase of fewer than checkEvery nodes reads no clock at
// all; the time of those first nodes is not charged to the budget.
type meter struct {
	budget  time.Duration // the whole comparison's
	left    time.Duration // what is left of it for this phase
	nodes   int64
	start   time.Time     // zero until the first check
	yielded time.Duration // spent in runtime.Gosched: not charged
	checks  int           // for tests: how often the meter checked and yielded
	stopped bool
}

func (m *meter) reset(budget, left time.Duration) {
	*m = meter{budget: budget, left: left}
}

// step counts one node at the given depth, and stops the comparison
// when that is beyond maxDepth.
func (m *meter) step(depth, maxDepth int) {
	m.nodes++
	if depth > maxDepth {
		m.stopped = true
		panic(stop{&BudgetError{Budget: m.budget, Nodes: m.nodes, Depth: depth}})
	}
	if m.nodes&(checkEvery-1) == 0 {
		m.check()
	}
}

// check stops the comparison when its time is up, and otherwise yields.
// The time spent yielded (waiting for a CPU the callers had) is not charged
// to the budget: on a busy machine the comparison would otherwise run out of
// budget precisely because it made way for the callers.
func (m *meter) check() {
	m.checks++
	now := time.Now()
	if m.start.IsZero() {
		m.start = now
	} else if now.Sub(m.start)-m.yielded > m.left {
		m.stopped = true
		panic(stop{&BudgetError{Budget: m.budget, Nodes: m.nodes}})
	}
	runtime.Gosched()
	m.yielded += time.Since(now)
}

// elapsed is the time charged to this phase.
func (m *meter) elapsed() time.Duration {
	if m.start.IsZero() {
		return 0
	}
	return time.Since(m.start) - m.yielded
}
