package browsertest

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/debugpage"
	"github.com/dualrun/dualrun/rollout"
)

// chromium returns the path of Debian's chromium. When it is missing the
// test fails under CI=true or DUALRUN_E2E=1, and is skipped otherwise.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"chromium", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	const msg = "chromium not found: install it with `apt-get install -y chromium` (make test does)"
	if os.Getenv("CI") == "true" || os.Getenv("DUALRUN_E2E") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser starts a fresh headless chromium for the test, bounded by
// timeout; cleanup kills it.
func browser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	t.Cleanup(allocCancel) // kills chromium and waits for it
	bctx, bcancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(bctx) // closes the browser gracefully first
		bcancel()
	})
	return bctx
}

// eventually waits until the JavaScript predicate holds on the page, across
// the page's own reloads, for at most d.
func eventually(ctx context.Context, d time.Duration, predicate string) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		// A reload ends a poll with an error; poll again on the new page.
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(2*time.Second)))
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
}

// syncBuffer is a bytes.Buffer for a logger written from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type line struct {
	SKU   string
	Qty   int
	Price int
}

type order struct {
	ID    string
	Lines []line
	Total int
	Note  string
}

// run makes n calls of exp, the candidate differing on every tenth, with
// sides that take a little time so the latency chart has bars.
func run(exp *dualrun.Experiment[order], n int, note string) {
	ctx := context.Background()
	for i := range n {
		_, _ = exp.Run(ctx, func(context.Context) (order, error) {
			time.Sleep(time.Duration(150+i%40) * time.Microsecond)
			return order{ID: "o-7", Lines: []line{{"tea", 2, 450}, {"cup", 1, 1200}}, Total: 2100}, nil
		}, func(context.Context) (order, error) {
			time.Sleep(time.Duration(220+i%90) * time.Microsecond)
			o := order{ID: "o-7", Lines: []line{{"tea", 2, 450}, {"cup", 1, 1200}}, Total: 2100}
			if i%10 == 9 {
				o.Lines[1].Price, o.Total, o.Note = 1250, 2150, note
			}
			return o, nil
		})
	}
}

func shutdown(t *testing.T, exps ...interface{ Shutdown(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, e := range exps {
		if err := e.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDebugPageInBrowser drives the debug page in a real headless
// chromium: an injected mismatch appears with its diff (the page reloads
// itself), a control change takes effect when authorized and is refused
// when not, a <script> in an experiment name and in a diff shows as text,
// and a screenshot is saved and checked to be non-blank.
func TestDebugPageInBrowser(t *testing.T) {
	ctx := browser(t, 2*time.Minute)

	live := rollout.NewLive(rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.Percent(10)})
	checkout := dualrun.New[order]("checkout.price", dualrun.WithRollout(live), dualrun.WithReportDedup(0))
	defer checkout.Unregister()
	ramp := rollout.NewRamp("inventory.lookup", rollout.DefaultSteps(), rollout.WithInterval(time.Hour))
	defer ramp.Close()
	ramp.Advance()
	inventory := dualrun.New[order]("inventory.lookup", dualrun.WithRollout(ramp))
	defer inventory.Unregister()
	const evilName = `<script>window.__pwned="name"</script>`
	const evilNote = `<script>window.__pwned="diff"</script>`
	evil := dualrun.New[order](evilName)
	defer evil.Unregister()

	var logs syncBuffer
	authorize := func(r *http.Request, _ debugpage.Change) (string, error) {
		if u := r.Header.Get("X-Operator"); u == "alice" {
			return u, nil
		}
		return "", errors.New("only operators may change rollouts")
	}
	view := debugpage.New(debugpage.WithRefresh(time.Second))
	defer view.Close()
	ctl := debugpage.New(debugpage.WithRing(view.Ring()), debugpage.WithRefresh(0),
		debugpage.WithControls(authorize),
		debugpage.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	mux := http.NewServeMux()
	mux.Handle("/debug/dualrun/", view)
	mux.Handle("/admin/dualrun/", http.StripPrefix("/admin/dualrun", ctl))
	srv := httptest.NewServer(mux) // on 127.0.0.1
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server at %s, want 127.0.0.1", srv.URL)
	}

	run(checkout, 40, "")
	run(inventory, 30, "")

	// 1. The page is open; then a mismatch is injected, and it appears
	// with its diff when the page reloads itself.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/debug/dualrun/"),
		chromedp.WaitVisible(chromedp.ID("read-only"))); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	run(checkout, 10, "gift wrap")
	run(evil, 10, evilNote)
	shutdown(t, checkout, evil)
	if err := eventually(ctx, 20*time.Second,
		`[...document.querySelectorAll("pre.diff")].some(p => p.innerText.includes('"gift wrap"') && p.innerText.includes("1250"))`); err != nil {
		t.Fatalf("the injected mismatch did not appear with its diff: %v", err)
	}

	// 2. The <script> in the name and in the diff are text, not scripts.
	for _, q := range []string{"", "?experiment=" + url.QueryEscape(evilName)} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/debug/dualrun/"+q)); err != nil {
			t.Fatal(err)
		}
		res, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
			Pwned   bool
			Scripts int
			Text    string
		}](`({Pwned: window.__pwned !== undefined, Scripts: document.scripts.length, Text: document.body.innerText})`))
		if err != nil {
			t.Fatal(err)
		}
		if res.Pwned || res.Scripts != 1 {
			t.Fatalf("%q: injected script ran (%v) or was parsed (%d script elements)", q, res.Pwned, res.Scripts)
		}
		if !strings.Contains(res.Text, evilName) || !strings.Contains(res.Text, evilNote) {
			t.Fatalf("%q: the name and the diff are not shown as text:\n%s", q, res.Text)
		}
	}

	// 3. The read-only page says so and has no forms.
	forms, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.forms.length`))
	if err != nil || forms != 0 {
		t.Fatalf("read-only page has %d forms (%v)", forms, err)
	}

	// 4. Controls: refused without authorization, then done with it.
	setRollout := func(candidate string) (string, error) {
		err := chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/admin/dualrun/?experiment=checkout.price"),
			chromedp.SetValue(chromedp.ID("candidate_primary"), candidate),
		)
		if err != nil {
			return "", err
		}
		_, err = chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("set-rollout"))))
		if err != nil {
			return "", err
		}
		return chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#notice, #problem") || {innerText: ""}).innerText`))
	}
	msg, err := setRollout("50")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "not authorized") || live.Load().CandidatePrimary != rollout.Percent(10) {
		t.Fatalf("unauthorized change: page says %q, rollout %v", msg, live.Load())
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"X-Operator": "alice"}}); err != nil {
		t.Fatal(err)
	}
	msg, err = setRollout("25")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "Done: set_rollout") || live.Load() != (rollout.Static{Shadow: rollout.All, CandidatePrimary: rollout.Percent(25)}) {
		t.Fatalf("authorized change: page says %q, rollout %v", msg, live.Load())
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("td.rollout")))
	if err != nil || !strings.Contains(text, "candidate primary 25%") {
		t.Fatalf("the page shows rollout %q (%v)", text, err)
	}
	for _, want := range []string{`"who":"alice"`, `"action":"set_rollout"`, `"after":"shadow 100%, candidate primary 25%"`, "change refused"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/dualrun/?experiment=inventory.lookup")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("ramp_advance")))); err != nil {
		t.Fatal(err)
	}
	if s := ramp.State(); s.Step != 2 || s.Last == nil || s.Last.Reason != rollout.ReasonManual {
		t.Fatalf("ramp at step %d after Advance from the page, want 2", s.Step)
	}

	// 5. A screenshot of the overview, checked to be non-blank.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/dualrun/"),
		chromedp.WaitVisible(chromedp.CSS("svg.chart"))); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	checkNotBlank(t, shot)
	path := t.TempDir() + "/debugpage.png"
	if p := os.Getenv("DUALRUN_SCREENSHOT"); p != "" {
		path = p // make screenshot: refresh docs/debugpage.png
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
	shutdown(t, inventory)
}

// checkNotBlank decodes the PNG and fails unless it has many colours: a
// blank or failed page renders in one or two.
func checkNotBlank(t *testing.T, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	colors := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			c0, c1, c2, c3 := img.At(x, y).RGBA()
			colors[[4]uint32{c0, c1, c2, c3}] = true
		}
	}
	if r.Dx() < 800 || r.Dy() < 600 || len(colors) < 32 {
		t.Fatalf("screenshot of %v with %d distinct colours: blank?", r, len(colors))
	}
}
