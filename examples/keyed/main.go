// Command keyed shows dualrun's keyed batch comparison on a rewritten batch
// job: the nightly account-balance job moves to a new engine, and before
// its output replaces the old one we want proof of which records differ,
// how, and how often. Both jobs read the same day of transactions and
// write one row per account as CSV; CompareKeyed matches the rows by
// account and compares them through an experiment, so missing, extra and
// changed rows become outcomes, metrics and Reports, as compared calls do.
//
// The rewrite rounds the 1.5% fee half to even instead of half up, no
// longer writes a row for accounts without transactions, does not filter
// out the internal test accounts, and writes one account twice where two
// partitions overlap.
//
// It compares the outputs three ways: both sorted by account (a streaming
// merge that holds one row per side, whatever the size), the rewrite's
// output in partition order (a hash join in memory), and sorted again with
// the documented change (no row for empty accounts) accepted by an ignore
// rule.
//
//	go run ./keyed
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dualrun/dualrun"
)

const (
	numAccounts = 5000
	numTxns     = 40000
	numTest     = 25 // internal test accounts among them
	feePerMille = 15 // the fee: 1.5% of debits
	partitions  = 8  // the rewrite's output partitions
)

// Txn is one transaction of the day, in cents: positive credits, negative
// debits.
type Txn struct {
	Account string
	Cents   int64
}

// Account is a row of the accounts table.
type Account struct {
	ID   string
	Test bool // an internal test account, not billed
}

// Balance is one row of the job's output.
type Balance struct {
	Account        string
	Txns           int64
	Credits        int64
	Debits         int64
	Fees           int64
	Net            int64 // Credits - Debits - Fees
	CurrencyMinors int64 // minor units per major unit: 100
}

// makeDay returns deterministic accounts and a day of transactions. About
// 3% of the accounts have none.
func makeDay() ([]Account, []Txn) {
	r := rand.New(rand.NewPCG(7, 2026))
	accts := make([]Account, numAccounts)
	for i := range accts {
		accts[i] = Account{ID: fmt.Sprintf("acct-%05d", i)}
	}
	for _, i := range r.Perm(numAccounts)[:numTest] {
		accts[i].Test = true
	}
	active := make([]Account, 0, numAccounts)
	for _, a := range accts {
		if r.IntN(100) >= 3 {
			active = append(active, a)
		}
	}
	txns := make([]Txn, numTxns)
	for i := range txns {
		cents := int64(r.IntN(50_000)) + 1
		if r.IntN(3) == 0 {
			cents = int64(r.IntN(500)+1) * 100 // whole amounts are common
		}
		if r.IntN(2) == 0 {
			cents = -cents
		}
		txns[i] = Txn{Account: active[r.IntN(len(active))].ID, Cents: cents}
	}
	return accts, txns
}

// totals sums the transactions by account.
func totals(txns []Txn) map[string]*Balance {
	by := map[string]*Balance{}
	for _, t := range txns {
		b := by[t.Account]
		if b == nil {
			b = &Balance{Account: t.Account, CurrencyMinors: 100}
			by[t.Account] = b
		}
		b.Txns++
		if t.Cents > 0 {
			b.Credits += t.Cents
		} else {
			b.Debits -= t.Cents
		}
	}
	return by
}

// legacyJob is the job in production: a row per billed account, sorted by
// account, the fee rounded half up.
func legacyJob(accts []Account, txns []Txn) []Balance {
	by := totals(txns)
	var out []Balance
	for _, a := range accts {
		if a.Test {
			continue
		}
		b := Balance{Account: a.ID, CurrencyMinors: 100}
		if t := by[a.ID]; t != nil {
			b = *t
		}
		b.Fees = (b.Debits*feePerMille + 500) / 1000
		b.Net = b.Credits - b.Debits - b.Fees
		out = append(out, b)
	}
	return out
}

// candidateJob is the rewrite. It writes its rows by partition (hash of
// the account), each partition sorted; the last row of a partition is
// written again at the head of the next one (the overlap bug).
func candidateJob(txns []Txn) (parts [][]Balance) {
	parts = make([][]Balance, partitions)
	for _, b := range totals(txns) { // no row for accounts without transactions
		q, rem := b.Debits*feePerMille/1000, b.Debits*feePerMille%1000
		if rem > 500 || (rem == 500 && q%2 == 1) { // half to even
			q++
		}
		b.Fees = q
		b.Net = b.Credits - b.Debits - b.Fees
		p := partitionOf(b.Account)
		parts[p] = append(parts[p], *b)
	}
	for p := range parts {
		slices.SortFunc(parts[p], byAccount)
	}
	parts[1] = append([]Balance{parts[0][len(parts[0])-1]}, parts[1]...)
	return parts
}

func byAccount(a, b Balance) int { return cmp.Compare(a.Account, b.Account) }

func partitionOf(account string) int {
	h := 0
	for _, c := range account {
		h = h*31 + int(c)
	}
	return h % partitions
}

// writeCSV writes rows as the jobs' CSV output.
func writeCSV(w io.Writer, rows []Balance) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"account", "txns", "credits", "debits", "fees", "net", "minors"}); err != nil {
		return err
	}
	for _, b := range rows {
		rec := []string{b.Account}
		for _, v := range []int64{b.Txns, b.Credits, b.Debits, b.Fees, b.Net, b.CurrencyMinors} {
			rec = append(rec, strconv.FormatInt(v, 10))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// readCSV streams the rows of a CSV output, one at a time. An iterator
// cannot return an error: a malformed row stops the sequence and is kept
// in *errp, to check once the comparison is done.
func readCSV(r io.Reader, errp *error) iter.Seq[Balance] {
	return func(yield func(Balance) bool) {
		cr := csv.NewReader(r)
		cr.ReuseRecord = true
		if _, err := cr.Read(); err != nil { // the header
			*errp = fmt.Errorf("header: %w", err)
			return
		}
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			if err == nil && len(rec) != 7 {
				err = fmt.Errorf("want 7 fields, got %d", len(rec))
			}
			var n [6]int64
			for i := 0; err == nil && i < 6; i++ {
				n[i], err = strconv.ParseInt(rec[i+1], 10, 64)
			}
			if err != nil {
				*errp = err
				return
			}
			b := Balance{Account: rec[0], Txns: n[0], Credits: n[1], Debits: n[2], Fees: n[3], Net: n[4], CurrencyMinors: n[5]}
			if !yield(b) {
				return
			}
		}
	}
}

// outputs are the two jobs' CSV files (in memory here).
type outputs struct {
	legacy          []byte // sorted by account
	candidate       []byte // sorted by account
	candidateByPart []byte // in partition order
}

func runJobs() (outputs, error) {
	accts, txns := makeDay()
	parts := candidateJob(txns)
	var o outputs
	var buf bytes.Buffer
	if err := writeCSV(&buf, legacyJob(accts, txns)); err != nil {
		return o, err
	}
	o.legacy = slices.Clone(buf.Bytes())

	buf.Reset()
	if err := writeCSV(&buf, slices.Concat(parts...)); err != nil {
		return o, err
	}
	o.candidateByPart = slices.Clone(buf.Bytes())

	sorted := slices.Concat(parts...)
	slices.SortStableFunc(sorted, byAccount) // the overlap stays a duplicate
	buf.Reset()
	if err := writeCSV(&buf, sorted); err != nil {
		return o, err
	}
	o.candidate = slices.Clone(buf.Bytes())
	return o, nil
}

// comparison is what one CompareKeyed run found.
type comparison struct {
	title   string
	sum     dualrun.KeyedSummary
	stats   dualrun.Stats
	reports []*dualrun.Report
}

// compare compares a legacy and a candidate CSV output through a fresh
// experiment with opts (the mode options included), and shuts it down.
func compare(ctx context.Context, title, name string, legacy, candidate []byte, opts ...dualrun.Option) (comparison, error) {
	res := comparison{title: title}
	var mu sync.Mutex
	keep := dualrun.PublisherFunc(func(_ context.Context, r *dualrun.Report) error {
		mu.Lock()
		defer mu.Unlock()
		res.reports = append(res.reports, r)
		return nil
	})
	exp := dualrun.New[Balance](name, append([]dualrun.Option{
		dualrun.WithPublisher(keep),
		dualrun.WithReportKeys(), // account IDs are not personal data here
	}, opts...)...)
	defer exp.Unregister()

	var lerr, cerr error
	sum, err := dualrun.CompareKeyedIn(ctx, exp,
		readCSV(bytes.NewReader(legacy), &lerr), readCSV(bytes.NewReader(candidate), &cerr),
		func(b Balance) string { return b.Account }, opts...)
	// Shutdown waits for the Reports.
	if serr := exp.Shutdown(ctx); err == nil {
		err = serr
	}
	if err = errors.Join(err, lerr, cerr); err != nil {
		return res, fmt.Errorf("%s: %w", title, err)
	}
	mu.Lock()
	defer mu.Unlock()
	res.sum, res.stats = sum, exp.Stats()
	return res, nil
}

// dropsEmpty accepts the documented change: the rewrite writes no row for
// an account without transactions.
func dropsEmpty(legacy, candidate dualrun.Result[Balance]) bool {
	return errors.Is(candidate.Err, dualrun.ErrRecordAbsent) && legacy.Value.Txns == 0
}

// compareAll runs the three comparisons.
func compareAll(ctx context.Context) ([]comparison, error) {
	o, err := runJobs()
	if err != nil {
		return nil, err
	}
	runs := []struct {
		title, name string
		candidate   []byte
		opts        []dualrun.Option
	}{
		{
			"sorted outputs, streaming merge", "billing.balances.merge", o.candidate,
			[]dualrun.Option{dualrun.WithSortedInputs()},
		},
		{
			"rewrite's output in partition order, hash join", "billing.balances.join", o.candidateByPart,
			[]dualrun.Option{dualrun.WithKeyedMaxRecords(2 * numAccounts)},
		},
		{
			"sorted, empty accounts' rows no longer expected", "billing.balances.accepted", o.candidate,
			[]dualrun.Option{dualrun.WithSortedInputs(), dualrun.WithIgnore(dropsEmpty)},
		},
	}
	var out []comparison
	for _, r := range runs {
		c, err := compare(ctx, r.title, r.name, o.legacy, r.candidate, r.opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func printComparison(w io.Writer, c comparison) {
	s, st := c.sum, c.stats
	fmt.Fprintf(w, "\n== %s (experiment %q)\n", c.title, st.Name)
	fmt.Fprintf(w, "  rows read:        legacy %d, rewrite %d (duplicate keys: legacy %d, rewrite %d)\n",
		s.Legacy.Records, s.Candidate.Records, s.Legacy.Duplicates, s.Candidate.Duplicates)
	fmt.Fprintf(w, "  matched accounts: %d: same %d, changed %d (mismatch %d, ignored %d, error %d)\n",
		s.Matched, s.Same, s.Changed, s.ChangedMismatch, s.ChangedIgnored, s.ChangedError)
	fmt.Fprintf(w, "  missing:          %d (legacy only)\n", s.Missing)
	fmt.Fprintf(w, "  extra:            %d (rewrite only)\n", s.Extra)
	fmt.Fprintf(w, "  outcomes:         match %d, mismatch %d (value %d, one side absent %d), ignored %d; mismatch rate %.2f%%\n",
		st.Count(dualrun.Match), st.Count(dualrun.Mismatch), st.ValueMismatches, st.ErrorMismatches,
		st.Count(dualrun.Ignored), 100*st.MismatchRate())
	var fields []string
	for _, f := range st.Fields {
		fields = append(fields, fmt.Sprintf("%s×%d", f.Path, f.Count))
	}
	fmt.Fprintf(w, "  differing fields: %s\n", strings.Join(fields, " "))
	fmt.Fprintf(w, "  reports:          %d published (one per kind of difference a minute), %d suppressed\n",
		len(c.reports), st.ReportsSuppressed)
	for _, r := range c.reports {
		fmt.Fprintf(w, "    %s %s\n", r.Key, describe(r))
	}
	if s.Agree() {
		fmt.Fprintln(w, "  verdict: the outputs agree, up to the accepted differences")
	} else {
		fmt.Fprintln(w, "  verdict: the outputs differ")
	}
}

// describe says what a Report found, without values.
func describe(r *dualrun.Report) string {
	var absent dualrun.AbsentError
	switch {
	case errors.As(r.CandidateErr, &absent):
		return "missing from the rewrite's output"
	case errors.As(r.LegacyErr, &absent):
		return "only in the rewrite's output"
	}
	return "changed: " + strings.Join(r.Paths, " ")
}

// run compares the outputs and prints what it found to w.
func run(ctx context.Context, w io.Writer) error {
	cs, err := compareAll(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "dualrun keyed: nightly balances of %d accounts, legacy job against its rewrite\n", numAccounts)
	for _, c := range cs {
		printComparison(w, c)
	}
	return nil
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "keyed:", err)
		os.Exit(1)
	}
}
