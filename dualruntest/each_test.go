package dualruntest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dualrun/dualrun/dualruntest"
)

// subtest is what the fake runner saw of one subtest.
type subtest struct {
	Name   string
	Errors []string
}

// runEach runs CompareEach's logic on a fake parent named "TestPrice" whose
// subtests are fakes too, and returns the parent and its subtests.
func runEach[In, T any](inputs []In, legacy, candidate func(context.Context, In) (T, error), opts ...dualruntest.Option) (*fakeTB, []subtest) {
	var subs []subtest
	parent := runFake("TestPrice", func(tb testing.TB) {
		run := func(name string, f func(testing.TB)) {
			sub := runFake(tb.Name()+"/"+name, f)
			subs = append(subs, subtest{Name: name, Errors: sub.errors})
		}
		dualruntest.CompareEachWith(tb, run, inputs, legacy, candidate, opts...)
	})
	return parent, subs
}

type cart struct {
	Name  string
	Cents int64
}

func legacyPrice(_ context.Context, c cart) (Money, error) {
	if c.Cents < 0 {
		return Money{}, errors.New("negative price")
	}
	return Money{"EUR", c.Cents}, nil
}

// newPrice rounds to 10 cents, and accepts negative prices.
func newPrice(_ context.Context, c cart) (Money, error) {
	return Money{"EUR", (c.Cents + 5) / 10 * 10}, nil
}

func TestCompareEachSubtests(t *testing.T) {
	carts := []cart{
		{"round", 1000},
		{"eur-rounding", 1003},
		{"refund", -10},
	}
	tests := []struct {
		name      string
		reason    string
		inputs    []cart
		opts      []dualruntest.Option
		wantSubs  []subtest
		wantErrs  []want // on the parent
		wantFatal []want
	}{
		{
			name: "named by WithCaseName", reason: "each input is a subtest named by the func; failures name the case",
			inputs: carts, opts: []dualruntest.Option{dualruntest.WithCaseName(func(c cart) string { return c.Name })},
			wantSubs: []subtest{
				{Name: "round"},
				{Name: "eur-rounding", Errors: []string{"values differ"}},
				{Name: "refund", Errors: []string{"legacy erred, candidate did not: negative price"}},
			},
		},
		{
			name: "named by %+v", reason: "without WithCaseName the input is formatted",
			inputs: carts[:2],
			wantSubs: []subtest{
				{Name: "{Name:round Cents:1000}"},
				{Name: "{Name:eur-rounding Cents:1003}", Errors: []string{"values differ"}},
			},
		},
		{
			name: "long names cut", reason: "default names are cut to 48 bytes at a rune boundary",
			inputs: []cart{{"x" + strings.Repeat("é", 30), 1000}},
			wantSubs: []subtest{
				{Name: "{Name:x" + strings.Repeat("é", 20) + "…"}, // 47 bytes: byte 48 is inside a rune
			},
		},
		{
			name: "options apply to every case", reason: "a normalizer accepts the rounding",
			inputs: carts[:2],
			opts: []dualruntest.Option{
				dualruntest.WithCaseName(func(c cart) string { return c.Name }),
				dualruntest.WithNormalizer(roundCents),
				dualruntest.WithCase("ignored"),
			},
			wantSubs: []subtest{{Name: "round"}, {Name: "eur-rounding"}},
		},
		{
			name: "no inputs", reason: "a table that checks nothing fails",
			wantErrs: []want{{"dualruntest: CompareEach: no inputs, nothing was compared"}},
		},
		{
			name: "WithCaseName for another type", reason: "a programmer error stops the test before any subtest",
			inputs: carts, opts: []dualruntest.Option{dualruntest.WithCaseName(func(s string) string { return s })},
			wantFatal: []want{{"dualruntest: CompareEach: WithCaseName was given a func(string) string, want func(dualruntest_test.cart) string"}},
		},
		{
			name: "WithComparer for another type", reason: "checked once, before any subtest",
			inputs: carts, opts: []dualruntest.Option{dualruntest.WithComparer(func(_, _ cart) bool { return true })},
			wantFatal: []want{{"dualruntest: CompareEach: WithComparer was given"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, subs := runEach(tt.inputs, legacyPrice, newPrice, tt.opts...)
			check(t, "parent Errorf", parent.errors, tt.wantErrs, tt.reason)
			check(t, "parent Fatalf", parent.fatals, tt.wantFatal, tt.reason)
			var names []string
			for _, s := range subs {
				names = append(names, s.Name)
			}
			var wantNames []string
			for _, s := range tt.wantSubs {
				wantNames = append(wantNames, s.Name)
			}
			if diff := cmp.Diff(wantNames, names); diff != "" {
				t.Fatalf("subtests (-want +got) (%s):\n%s", tt.reason, diff)
			}
			for i, s := range subs {
				var ws []want
				for _, e := range tt.wantSubs[i].Errors {
					ws = append(ws, want{`dualruntest: case "` + s.Name + `": ` + e})
				}
				check(t, "subtest "+s.Name+" Errorf", s.Errors, ws, tt.reason)
			}
		})
	}
}

func TestCompareEachNilFuncs(t *testing.T) {
	parent, subs := runEach([]cart{{}}, nil, newPrice)
	check(t, "Fatalf", parent.fatals, []want{{"dualruntest: CompareEach: the legacy func is nil"}}, "programmer error")
	if len(subs) != 0 {
		t.Errorf("ran %d subtests, want none", len(subs))
	}
}
