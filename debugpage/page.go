package debugpage

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/exporters/ring"
	"github.com/dualrun/dualrun/internal/safe"
	"github.com/dualrun/dualrun/rollout"
)

// Page is the debug page: an http.Handler. Make it with [New] or [Handler].
// It is safe for concurrent use.
type Page struct {
	cfg  config
	ring *ring.Ring
	cop  *http.CrossOriginProtection

	detachOnce sync.Once
	detach     func()
}

// Handler returns the debug page, to mount where operators reach it:
//
//	mux.Handle("/debug/dualrun/", debugpage.Handler())
//
// Without [WithRing] the page attaches a ring.Ring of its own to every
// experiment (dualrun.AddPublisher) for as long as the handler is
// reachable: when it is garbage collected, the ring is detached. Use [New]
// and [Page.Close] to detach it at a time of your choosing.
func Handler(opts ...Option) http.Handler { return New(opts...) }

// New returns the debug page. Unless given [WithRing], it attaches a
// ring.Ring to every experiment with dualrun.AddPublisher, and detaches it
// on [Page.Close] or, failing that, when the Page is garbage collected.
// Neither attaches a goroutine: nothing runs at rest.
func New(opts ...Option) *Page {
	p := &Page{cfg: newConfig(opts), cop: http.NewCrossOriginProtection(), detach: func() {}}
	p.ring = p.cfg.ring
	if p.ring == nil {
		p.ring = ring.New()
		remove := dualrun.AddPublisher(dualrun.NamePublisher("debugpage", p.ring))
		var once sync.Once
		p.detach = func() { once.Do(remove) }
		// The cleanup must not reach p, or p would never be collected: it
		// holds only the detach func.
		runtime.AddCleanup(p, func(detach func()) { detach() }, p.detach)
	}
	return p
}

// Ring returns the ring.Ring whose Reports the page shows.
func (p *Page) Ring() *ring.Ring { return p.ring }

// Close detaches the ring the page attached (see [New]); the page keeps
// serving what the ring holds. It is idempotent, and does nothing for a
// page given [WithRing].
func (p *Page) Close() { p.detachOnce.Do(p.detach) }

// ServeHTTP serves the overview, one experiment's page (?experiment=name),
// their JSON form (Accept: application/json), and the controls (POST).
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	nonce := newNonce()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
		"'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept")

	switch r.Method {
	case http.MethodGet, http.MethodHead:
		name := r.URL.Query().Get("experiment")
		p.render(w, r, nonce, name, http.StatusOK, notice(r.URL.Query().Get("done")), "")
	case http.MethodPost:
		p.post(w, r, nonce)
	default:
		h.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// notice is the message shown after a change; done is from the query, so
// only known actions are echoed.
func notice(done string) string {
	if !actions[Action(done)] {
		return ""
	}
	return "Done: " + done + "."
}

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// render writes the overview (name empty) or one experiment's page, as
// HTML or JSON.
func (p *Page) render(w http.ResponseWriter, r *http.Request, nonce, name string, status int, note, problem string) {
	d := pageData{
		SchemaVersion: SchemaVersion,
		Time:          time.Now().UTC(),
		ReadOnly:      p.cfg.authorize == nil,
		Experiments:   []experimentData{},
		Nonce:         nonce,
		Refresh:       int(p.cfg.refresh / time.Second),
		Notice:        note,
		Problem:       problem,
	}
	if p.cfg.refresh > 0 {
		d.Refresh = max(d.Refresh, 1)
	}
	if name != "" {
		d.Detail = true
		st, ok := dualrun.StatsOf(name)
		if !ok {
			status = http.StatusNotFound
			d.Problem = "No experiment named " + safe.Cut(name, maxName) + "."
		} else {
			d.Experiments = append(d.Experiments, p.experiment(st, true))
		}
	} else {
		for _, st := range dualrun.AllStats() {
			d.Experiments = append(d.Experiments, p.experiment(st, false))
		}
	}
	d.ShadowsDisabled = !dualrun.ShadowsEnabled()
	var buf bytes.Buffer
	if wantsJSON(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			http.Error(w, "encoding the page failed", http.StatusInternalServerError)
			return
		}
	} else {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := pageTemplate.Execute(&buf, d); err != nil {
			http.Error(w, "rendering the page failed", http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// post applies one control: same-origin check, form, experiment, the
// user's authorization, the change, the log line; then back to the
// experiment's page.
func (p *Page) post(w http.ResponseWriter, r *http.Request, nonce string) {
	logger := p.cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	refuse := func(status int, name, why string, c *Change, attrs ...any) {
		attrs = append(attrs, "remote", r.RemoteAddr, "reason", why)
		if c != nil {
			attrs = append(attrs, "experiment", c.Experiment, "action", string(c.Action))
		}
		logger.Warn("dualrun debug page: change refused", attrs...)
		p.render(w, r, nonce, name, status, "", "Refused: "+why)
	}
	if err := p.cop.Check(r); err != nil {
		refuse(http.StatusForbidden, "", "cross-origin request", nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		refuse(http.StatusBadRequest, "", "unreadable form", nil)
		return
	}
	if p.cfg.authorize == nil {
		refuse(http.StatusForbidden, safe.Cut(r.PostForm.Get("experiment"), maxName),
			"this page is read-only (controls need debugpage.WithControls)", nil)
		return
	}
	c, err := parseChange(r.PostForm)
	if err != nil {
		refuse(http.StatusBadRequest, "", err.Error(), nil)
		return
	}
	st, ok := dualrun.StatsOf(c.Experiment)
	if !ok {
		refuse(http.StatusNotFound, "", "no such experiment", &c)
		return
	}
	var who string
	var aerr error
	if cerr := safe.Call("debugpage authorize", func() { who, aerr = p.cfg.authorize(r, c) }, nil); cerr != nil {
		aerr = cerr
	}
	if aerr != nil {
		refuse(http.StatusForbidden, c.Experiment, "not authorized: "+safe.ErrorText(aerr, 200), &c)
		return
	}
	if who == "" {
		who = "anonymous"
	}
	before, after, err := p.apply(st, c)
	if err != nil {
		refuse(http.StatusConflict, c.Experiment, err.Error(), &c, "who", who)
		return
	}
	logger.Info("dualrun debug page: change",
		"who", who, "experiment", c.Experiment, "action", string(c.Action),
		"before", before, "after", after, "remote", r.RemoteAddr)
	q := url.Values{"experiment": {c.Experiment}, "done": {string(c.Action)}}
	// A relative Location: the browser resolves it against the page's own
	// URL, wherever the page is mounted (http.Redirect would resolve it
	// against the request path, which http.StripPrefix shortened).
	w.Header().Set("Location", "?"+q.Encode())
	w.WriteHeader(http.StatusSeeOther)
}

// apply makes change c to the experiment of st and describes its state
// before and after.
func (p *Page) apply(st dualrun.Stats, c Change) (before, after string, err error) {
	pol := st.Config.Policy
	var ok bool
	switch c.Action {
	case ActionSetRollout:
		l, isLive := pol.(livePolicy)
		if _, isRamp := pol.(rampPolicy); !isLive || isRamp {
			return "", "", errors.New("the experiment's rollout is not a rollout.Live")
		}
		err = safe.Call("policy Set", func() {
			before = l.Load().String()
			l.Set(c.Rollout)
			after = l.Load().String()
		}, nil)
		return before, after, err
	case ActionRampPause, ActionRampResume, ActionRampAdvance, ActionRampRollback:
		rp, isRamp := pol.(rampPolicy)
		if !isRamp {
			return "", "", errors.New("the experiment's rollout is not a ramp")
		}
		err = safe.Call("ramp "+string(c.Action), func() {
			before = rampLine(rp.State())
			switch c.Action {
			case ActionRampPause:
				ok = rp.Pause()
			case ActionRampResume:
				ok = rp.Resume()
			case ActionRampAdvance:
				ok = rp.Advance()
			default:
				ok = rp.Rollback()
			}
			after = rampLine(rp.State())
		}, nil)
		if err == nil && !ok && c.Action != ActionRampRollback {
			err = fmt.Errorf("the ramp did not %s (already so, or at its last step)", c.Action[len("ramp_"):])
		}
		return before, after, err
	default: // pause_shadows, resume_shadows
		e, has := handleOf(c.Experiment)
		if !has {
			return "", "", errors.New("the experiment is no longer registered")
		}
		before = pausedLine(st.Config.Paused)
		err = safe.Call("PauseShadows", func() {
			if c.Action == ActionPauseShadows {
				e.PauseShadows()
			} else {
				e.ResumeShadows()
			}
		}, nil)
		if s, ok := dualrun.StatsOf(c.Experiment); ok {
			after = pausedLine(s.Config.Paused)
		}
		return before, after, err
	}
}

func rampLine(s rollout.RampState) string {
	state := "running"
	if s.Paused {
		state = "paused"
	}
	return fmt.Sprintf("step %d %q, %s", s.Step, safe.Cut(s.StepName, 128), state)
}

func pausedLine(p bool) string {
	if p {
		return "shadows paused"
	}
	return "shadows running"
}

//go:embed schema.json
var schema []byte

// Schema returns the JSON Schema (draft 2020-12) of the page's JSON form,
// schema version [SchemaVersion].
func Schema() []byte { return slices.Clone(schema) }

// handleOf returns the handle of the experiment named name (the first
// registered under it, as dualrun.StatsOf finds it).
func handleOf(name string) (dualrun.Handle, bool) {
	var found dualrun.Handle
	ok := false
	for _, h := range dualrun.Experiments() {
		if h.Name() == name && (!ok || h.ID() < found.ID()) {
			found, ok = h, true
		}
	}
	return found, ok
}
