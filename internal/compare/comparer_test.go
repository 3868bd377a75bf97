package compare

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dualrun/dualrun/internal/safe"
)

type (
	// account holds a secret that a redacting normalizer hides.
	account struct {
		ID     string
		Secret string
		Items  []float64
	}
	opaque struct {
		F float64
		n int
	}
)

var errA, errB, errBoom = errors.New("a"), errors.New("b"), errors.New("boom")

func redact(a account) account {
	a.Secret = "REDACTED"
	return a
}

// mustNew returns the comparer of s, with a budget of a minute unless s
// sets one: the race detector makes comparisons several times slower.
func mustNew[T any](t *testing.T, s Spec) *Comparer[T] {
	t.Helper()
	if s.Budget == 0 {
		s.Budget = time.Minute
	}
	c, err := New[T](s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerdicts(t *testing.T) {
	acct := func(id string, items ...float64) account { return account{ID: id, Secret: "s3cr3t", Items: items} }
	roundMoney := func(m money) money { m.Cents = (m.Cents + 5) / 10 * 10; return m }
	tests := []struct {
		name        string
		reason      string
		spec        Spec
		lv, cv      any
		lerr, cerr  error
		wantKind    Kind
		wantIgnored bool
		wantPaths   []string
		wantErr     string // substring of Err, for Failed
	}{
		{name: "plain equal", reason: "== for plainly comparable types", lv: money{"EUR", 1}, cv: money{"EUR", 1}, wantKind: Match},
		{name: "plain differ", reason: "paths come from go-cmp with ExportAll", lv: money{"EUR", 1}, cv: money{"EUR", 2}, wantKind: ValuesDiffer, wantPaths: []string{".Cents"}},
		{name: "deep equal", reason: "go-cmp, distinct slices", lv: acct("1", 1, 2), cv: acct("1", 1, 2), wantKind: Match},
		{name: "deep differ", reason: "folded paths", lv: acct("1", 1, 2), cv: acct("2", 1, 3), wantKind: ValuesDiffer, wantPaths: []string{".ID", ".Items[*]"}},
		{name: "NaN", reason: "NaN != NaN without EquateNaNs", lv: math.NaN(), cv: math.NaN(), wantKind: ValuesDiffer, wantPaths: []string{"."}},
		{name: "NaN equated", reason: "the user's option", spec: Spec{CmpOpts: []cmp.Option{cmpopts.EquateNaNs()}}, lv: math.NaN(), cv: math.NaN(), wantKind: Match},
		{name: "one erred", reason: "exactly one side erring differs", lv: money{}, cv: money{}, cerr: errA, wantKind: OneErred},
		{name: "both erred", reason: "equivalent by default", lerr: errA, cerr: errB, lv: money{}, cv: money{}, wantKind: Match},
		{name: "errors differ", reason: "by the error comparer", spec: Spec{ErrEqual: func(l, c error) bool { return l.Error() == c.Error() }}, lerr: errA, cerr: errB, lv: money{}, cv: money{}, wantKind: ErrorsDiffer},
		{name: "normalized equal", reason: "normalizers run first", spec: Normalizer(roundMoney)(Spec{}), lv: money{"EUR", 1000}, cv: money{"EUR", 1003}, wantKind: Match},
		{name: "comparer", reason: "the func replaces equality", spec: EqualFunc(func(_, _ money) bool { return true })(Spec{}), lv: money{"EUR", 1}, cv: money{"X", 2}, wantKind: Match},
		{name: "comparer stricter", reason: "no path when go-cmp sees none", spec: EqualFunc(func(_, _ money) bool { return false })(Spec{}), lv: money{"EUR", 1}, cv: money{"EUR", 1}, wantKind: ValuesDiffer},
		{name: "comparer on hidden", reason: "paths through ExportAll", spec: EqualFunc(func(_, _ opaque) bool { return false })(Spec{}), lv: opaque{1, 1}, cv: opaque{1, 2}, wantKind: ValuesDiffer, wantPaths: []string{".n"}},
		{name: "ignored", reason: "a rule accepts the difference; no paths are collected", spec: Ignore(func(_, _ Result[money]) bool { return true })(Spec{}), lv: money{"EUR", 1}, cv: money{"EUR", 2}, wantKind: ValuesDiffer, wantIgnored: true},
		{name: "ignore sees raw values", reason: "rules get what the sides returned", spec: Ignore(func(_, c Result[money]) bool { return c.Value.Cents == 1031 })(Normalizer(roundMoney)(Spec{})), lv: money{"EUR", 1000}, cv: money{"EUR", 1031}, wantKind: ValuesDiffer, wantIgnored: true},
		{name: "ignore not on match", reason: "rules run only on differences", spec: Ignore(func(_, _ Result[money]) bool { panic("must not run") })(Spec{}), lv: money{"EUR", 1}, cv: money{"EUR", 1}, wantKind: Match},
		{name: "unexported", reason: "go-cmp panics: failed, with advice", lv: opaque{1, 1}, cv: opaque{1, 1}, wantKind: Failed, wantErr: "go-cmp failed: cannot compare compare.opaque; go-cmp does not look at unexported fields"},
		{name: "comparer panics", reason: "named callback", spec: EqualFunc(func(_, _ money) bool { panic(errBoom) })(Spec{}), lv: money{}, cv: money{}, wantKind: Failed, wantErr: "WithComparer func failed: panic: boom"},
		{name: "normalizer panics", reason: "named callback", spec: Normalizer(func(money) money { panic(errBoom) })(Spec{}), lv: money{}, cv: money{}, wantKind: Failed, wantErr: "WithNormalizer func failed"},
		{name: "normalizer panics beside an error", reason: "normalizers run on the successful side when the other erred", spec: Normalizer(func(money) money { panic(errBoom) })(Spec{}), lv: money{}, cv: money{}, lerr: errA, wantKind: Failed, wantErr: "WithNormalizer func failed"},
		{name: "ignore panics", reason: "named callback", spec: Ignore(func(_, _ Result[money]) bool { panic(errBoom) })(Spec{}), lv: money{"A", 1}, cv: money{"B", 1}, wantKind: Failed, wantErr: "WithIgnore rule failed"},
		{name: "error comparer panics", reason: "named callback", spec: Spec{ErrEqual: func(_, _ error) bool { panic(errBoom) }}, lerr: errA, cerr: errB, lv: money{}, cv: money{}, wantKind: Failed, wantErr: "WithErrorComparer func failed"},
		{name: "cmp Comparer panics", reason: "go-cmp calls user options", spec: Spec{CmpOpts: []cmp.Option{cmp.Comparer(func(_, _ float64) bool { panic(errBoom) })}}, lv: acct("1", 1), cv: acct("1", 2), wantKind: Failed, wantErr: "go-cmp failed: cannot compare compare.account; check the options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v interface {
				kind() (Kind, bool, []string, error)
			}
			switch lv := tt.lv.(type) {
			case money:
				v = verdictOf(mustNew[money](t, tt.spec).Compare(lv, tt.lerr, tt.cv.(money), tt.cerr))
			case account:
				v = verdictOf(mustNew[account](t, tt.spec).Compare(lv, tt.lerr, tt.cv.(account), tt.cerr))
			case opaque:
				v = verdictOf(mustNew[opaque](t, tt.spec).Compare(lv, tt.lerr, tt.cv.(opaque), tt.cerr))
			case float64:
				v = verdictOf(mustNew[float64](t, tt.spec).Compare(lv, tt.lerr, tt.cv.(float64), tt.cerr))
			default:
				t.Fatalf("no case for %T", tt.lv)
			}
			kind, ignored, paths, err := v.kind()
			if kind != tt.wantKind || ignored != tt.wantIgnored {
				t.Fatalf("verdict %v ignored %v (err %v), want %v ignored %v (%s)", kind, ignored, err, tt.wantKind, tt.wantIgnored, tt.reason)
			}
			if diff := cmp.Diff(tt.wantPaths, paths); diff != "" {
				t.Errorf("paths (-want +got) (%s):\n%s", tt.reason, diff)
			}
			if (err != nil) != (tt.wantErr != "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one containing %q (%s)", err, tt.wantErr, tt.reason)
			}
			if err != nil {
				var ce *safe.CallbackError
				if !errors.As(err, &ce) {
					t.Errorf("err is a %T, want a *safe.CallbackError", err)
				}
				if strings.Contains(tt.name, "panics") && !errors.Is(err, errBoom) {
					t.Errorf("errors.Is(err, the panic value) = false: %v", err)
				}
			}
		})
	}
}

type verdictView[T any] struct{ v Verdict[T] }

func verdictOf[T any](v Verdict[T]) verdictView[T] { return verdictView[T]{v} }

func (w verdictView[T]) kind() (Kind, bool, []string, error) {
	return w.v.Kind, w.v.Ignored, w.v.Paths, w.v.Err
}

// TestNormalizersOnEveryReportedValue is a regression test: when exactly
// one side erred, the diff showed the other side's raw value, bypassing a
// redacting normalizer. Every kind of difference is checked, both ways.
func TestNormalizersOnEveryReportedValue(t *testing.T) {
	spec := Normalizer(redact)(Spec{})
	c := mustNew[account](t, spec)
	plain := mustNew[account](t, Spec{}) // shows the secret: the test can fail
	secret := func(id string) account { return account{ID: id, Secret: "s3cr3t-" + id} }
	tests := []struct {
		name       string
		reason     string
		lv, cv     account
		lerr, cerr error
		errEqual   bool
		want       Kind
	}{
		{name: "values differ", reason: "both normalized before the diff", lv: secret("1"), cv: secret("2"), want: ValuesDiffer},
		{name: "legacy erred", reason: "the candidate's value is normalized", cv: secret("2"), lerr: errA, want: OneErred},
		{name: "candidate erred", reason: "the legacy value is normalized", lv: secret("1"), cerr: errA, want: OneErred},
		{name: "comparer stricter", reason: "the fallback prints normalized values", lv: secret("1"), cv: secret("1"), want: ValuesDiffer},
		{name: "errors differ", reason: "no values at all", lv: secret("1"), cv: secret("2"), lerr: errA, cerr: errB, errEqual: true, want: ErrorsDiffer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, plain := c, plain
			s := spec
			if tt.name == "comparer stricter" {
				s = EqualFunc(func(_, _ account) bool { return false })(s)
				c, plain = mustNew[account](t, s), mustNew[account](t, EqualFunc(func(_, _ account) bool { return false })(Spec{}))
			}
			if tt.errEqual {
				s = ErrorComparer(func(_, _ error) bool { return false })(s)
				c, plain = mustNew[account](t, s), mustNew[account](t, ErrorComparer(func(_, _ error) bool { return false })(Spec{}))
			}
			v := c.Compare(tt.lv, tt.lerr, tt.cv, tt.cerr)
			if v.Kind != tt.want {
				t.Fatalf("verdict %v, want %v", v.Kind, tt.want)
			}
			d := v.Diff(0)
			if strings.Contains(d, "s3cr3t") {
				t.Errorf("diff shows the secret (%s):\n%s", tt.reason, d)
			}
			for _, r := range []Result[account]{v.Legacy, v.Candidate} {
				if r.Err == nil && r.Value.Secret != "REDACTED" {
					t.Errorf("Verdict holds an unnormalized value %+v (%s)", r.Value, tt.reason)
				}
			}
			raw := plain.Compare(tt.lv, tt.lerr, tt.cv, tt.cerr)
			if rd := raw.Diff(0); tt.want != ErrorsDiffer && !strings.Contains(rd, "s3cr3t") {
				t.Errorf("without the normalizer the diff should show the secret; it is:\n%s", rd)
			}
		})
	}
}

func TestDiffTexts(t *testing.T) {
	var typedNil *nilPtrErr
	big := make([]int, 2000)
	bigY := make([]int, 2000)
	for i := range bigY {
		bigY[i] = i
	}
	tests := []struct {
		name   string
		reason string
		diff   func() string
		want   []string
		limit  int
	}{
		{
			name: "one erred", reason: "the value and the error",
			diff: func() string {
				v := mustNew[money](t, Spec{}).Compare(money{"EUR", 1}, nil, money{}, errA)
				return v.Diff(0)
			},
			want: []string{"-legacy:    {Currency:EUR Cents:1}\n+candidate: error: a\n"},
		},
		{
			name: "errors differ", reason: "both errors with their types",
			diff: func() string {
				v := mustNew[money](t, ErrorComparer(func(_, _ error) bool { return false })(Spec{})).Compare(money{}, errA, money{}, typedNil)
				return v.Diff(0)
			},
			want: []string{"-legacy error:    a (*errors.errorString)\n+candidate error: *compare.nilPtrErr (its Error method panicked) (*compare.nilPtrErr)\n"},
		},
		{
			name: "typed-nil error beside a value", reason: "an Error method that panics is described",
			diff: func() string {
				v := mustNew[money](t, Spec{}).Compare(money{}, typedNil, money{"EUR", 2}, nil)
				return v.Diff(0)
			},
			want: []string{"-legacy:    error: *compare.nilPtrErr (its Error method panicked)\n+candidate: {Currency:EUR Cents:2}\n"},
		},
		{
			name: "go-cmp diff", reason: "go-cmp's text for values",
			diff: func() string {
				v := mustNew[account](t, Spec{}).Compare(account{ID: "1"}, nil, account{ID: "2"}, nil)
				return v.Diff(0)
			},
			want: []string{"ID:", `"1"`, `"2"`},
		},
		{
			name: "fallback", reason: "a stricter comparer: both values printed",
			diff: func() string {
				v := mustNew[money](t, EqualFunc(func(_, _ money) bool { return false })(Spec{})).Compare(money{"EUR", 1}, nil, money{"EUR", 1}, nil)
				return v.Diff(0)
			},
			want: []string{"-legacy:    {Currency:EUR Cents:1}\n+candidate: {Currency:EUR Cents:1}\n"},
		},
		{
			name: "truncated", reason: "a long diff is cut to the limit",
			diff: func() string {
				v := mustNew[[]int](t, Spec{}).Compare(big, nil, bigY, nil)
				return v.Diff(300)
			},
			want: []string{"… (diff truncated: "}, limit: 300,
		},
		{
			name: "too many differences", reason: "beyond maxDiffLeaves go-cmp's diff is not even built: paths and values say enough",
			diff: func() string {
				x, y := make([]int, maxDiffLeaves+1), make([]int, maxDiffLeaves+1)
				for i := range y {
					y[i] = i + 1
				}
				v := mustNew[[]int](t, Spec{}).Compare(x, nil, y, nil)
				return v.Diff(0)
			},
			want: []string{"(no go-cmp diff: too many differing values for a diff)\n-legacy:    [0 0 0", "+candidate: [1 2 3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.diff()
			wantDiff(t, d, tt.want...)
			limit := tt.limit
			if limit == 0 {
				limit = defaultLimit
			}
			if len(d) > limit {
				t.Errorf("diff of %d bytes > %d", len(d), limit)
			}
		})
	}
}

// TestGoexitInCallback: runtime.Goexit in a callback (t.FailNow in a test
// helper) ends the comparing goroutine; Compare never returns and holds
// nothing that another comparison would wait for.
func TestGoexitInCallback(t *testing.T) {
	c := mustNew[money](t, Normalizer(func(m money) money {
		runtime.Goexit()
		return m
	})(Spec{}))
	for range 2 { // a second run would block on anything the first left held
		var wg sync.WaitGroup
		returned := false
		wg.Go(func() {
			c.Compare(money{}, nil, money{}, nil)
			returned = true
		})
		wg.Wait()
		if returned {
			t.Fatal("Compare returned after its callback called runtime.Goexit")
		}
	}
}

func TestNewProgrammerErrors(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		spec   Spec
		want   string
	}{
		{name: "comparer", reason: "for another type", spec: EqualFunc(func(_, _ int) bool { return true })(Spec{}), want: "WithComparer was given a func(int, int) bool, want func(compare.money, compare.money) bool"},
		{name: "normalizer", reason: "for another type", spec: Normalizer(func(s string) string { return s })(Spec{}), want: "WithNormalizer was given a func(string) string"},
		{name: "ignore", reason: "named as users know Result", spec: Ignore(func(_, _ Result[int]) bool { return true })(Spec{}), want: "WithIgnore was given a func(dualrun.Result[int], dualrun.Result[int]) bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New[money](tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want %q (%s)", err, tt.want, tt.reason)
			}
		})
	}
}

func TestEditsCopy(t *testing.T) {
	base := CmpOptions(cmpopts.EquateEmpty())(Spec{})
	a := Normalizer(func(m money) money { return m })(CmpOptions(cmpopts.EquateNaNs())(base))
	b := CmpOptions(cmpopts.EquateApproxTime(0))(base)
	if len(base.CmpOpts) != 1 || len(a.CmpOpts) != 2 || len(b.CmpOpts) != 2 || len(base.Normalizers) != 0 {
		t.Errorf("an Edit wrote into the Spec it was given: base %d opts %d normalizers", len(base.CmpOpts), len(base.Normalizers))
	}
	if a.CmpOpts[1] == b.CmpOpts[1] {
		t.Error("two Specs share an option slot")
	}
	if EqualFunc[money](nil)(base).Comparer != nil || Normalizer[money](nil)(base).Normalizers != nil ||
		Ignore[money](nil)(base).Ignores != nil || ErrorComparer(nil)(base).ErrEqual != nil {
		t.Error("a nil func changed the Spec")
	}
}

func TestCheap(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		cheap  bool
		c      interface{ Cheap() bool }
	}{
		{name: "plain", reason: "== and nothing else", cheap: true, c: mustNew[money](t, Spec{})},
		{name: "normalizer", reason: "a callback runs", c: mustNew[money](t, Normalizer(redactMoney)(Spec{}))},
		{name: "options", reason: "go-cmp runs", c: mustNew[money](t, CmpOptions(cmpopts.EquateEmpty())(Spec{}))},
		{name: "slice", reason: "go-cmp runs", c: mustNew[[]int](t, Spec{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Cheap(); got != tt.cheap {
				t.Errorf("Cheap() = %v, want %v (%s)", got, tt.cheap, tt.reason)
			}
		})
	}
}

func redactMoney(m money) money { m.Currency = "?"; return m }
