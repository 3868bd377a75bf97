package debugpage

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/dualrun/dualrun/exporters/ring"
)

// DefaultRefresh is how often the page reloads itself.
const DefaultRefresh = 5 * time.Second

// Option configures the page.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// Authorize decides whether the request r may make change c, and says who
// makes it (for the log). A non-nil error refuses the change; its text is
// shown to the requester. It runs behind recover: a panic refuses.
type Authorize func(r *http.Request, c Change) (who string, err error)

type config struct {
	ring      *ring.Ring
	authorize Authorize
	logger    *slog.Logger
	refresh   time.Duration
	noValues  bool
	keys      bool
	recent    int
}

func newConfig(opts []Option) config {
	c := config{refresh: DefaultRefresh, recent: 10}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// WithRing shows the Reports of g, which the caller attaches to experiments
// (dualrun.AddPublisher or dualrun.WithPublisher). Without it the page
// makes a Ring of its own and attaches it to every experiment with
// dualrun.AddPublisher until [Page.Close] (or, for [Handler], until the
// handler is garbage collected). A nil g is ignored.
func WithRing(g *ring.Ring) Option {
	return optionFunc(func(c config) config {
		if g != nil {
			c.ring = g
		}
		return c
	})
}

// WithControls turns on the controls that change an experiment's rollout
// (a *rollout.Live's percentages, a *rollout.Ramp's pause, resume, advance
// and rollback) and pause its shadows (dualrun.Handle.PauseShadows). Every change asks
// authorize first and is logged with who made it and what it was
// ([WithLogger]). Without this option the page is read-only and says so. A
// nil authorize is ignored.
func WithControls(authorize Authorize) Option {
	return optionFunc(func(c config) config {
		if authorize != nil {
			c.authorize = authorize
		}
		return c
	})
}

// WithLogger sets where changes, and refused attempts, are logged. The
// default is slog.Default() at the time of the change. A nil l is ignored.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c config) config {
		if l != nil {
			c.logger = l
		}
		return c
	})
}

// WithRefresh sets how often the page reloads itself (default
// [DefaultRefresh]); zero or less turns reloading off. The page does not
// reload while a form field has the focus.
func WithRefresh(d time.Duration) Option {
	return optionFunc(func(c config) config { c.refresh = max(d, 0); return c })
}

// WithoutValues hides the Reports' values — diffs and error texts — from
// the page and its JSON. By default they are shown: the page is an
// operator's view of the process, like net/http/pprof. Mount it where only
// operators reach it.
func WithoutValues() Option {
	return optionFunc(func(c config) config { c.noValues = true; return c })
}

// WithKeys shows the Reports' bucketing keys (kept only by experiments with
// dualrun.WithReportKeys). Keys are often personal data, so they are hidden
// by default.
func WithKeys() Option {
	return optionFunc(func(c config) config { c.keys = true; return c })
}

// WithRecent sets how many recent Reports an experiment's page shows
// (default 10; the overview shows 3). Values below 1 are ignored.
func WithRecent(n int) Option {
	return optionFunc(func(c config) config {
		if n >= 1 {
			c.recent = n
		}
		return c
	})
}
