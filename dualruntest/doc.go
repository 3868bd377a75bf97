// Package dualruntest checks, in ordinary unit tests, that a candidate
// implementation of a call site agrees with the legacy one, before any
// traffic goes through [dualrun].
//
// Where dualrun compares in the background and counts, dualruntest compares
// synchronously and fails the test, with a diff:
//
//	func TestPrice(t *testing.T) {
//		for _, tc := range cases {
//			t.Run(tc.name, func(t *testing.T) {
//				got, err := dualruntest.Compare(t, t.Context(),
//					func(ctx context.Context) (Money, error) { return legacyPrice(ctx, tc.cart) },
//					func(ctx context.Context) (Money, error) { return newPrice(ctx, tc.cart) },
//					dualruntest.WithNormalizer(roundCents))
//				// got, err are the legacy result: assert on them as before.
//			})
//		}
//	}
//
// or, for a table of inputs, [CompareEach]:
//
//	dualruntest.CompareEach(t, carts, legacyPrice, newPrice, dualruntest.WithNormalizer(roundCents))
//
// A mismatch fails the test with t.Errorf, so the other cases still run:
//
//	dualruntest: case "TestPrice/eur-rounding": values differ (legacy -, candidate +):
//	  pricing.Money{
//	  	Currency: "EUR",
//	- 	Cents:    1000,
//	+ 	Cents:    1001,
//	  }
//	differing paths: .Cents
//
// # Same verdict as production
//
// The comparison options ([WithCmpOptions], [WithComparer],
// [WithNormalizer], [WithIgnore], [WithErrorComparer]) take the same
// functions as the dualrun options of the same name and mean the same
// thing, and the comparison is made by the same engine as dualrun's (one
// implementation of the rules, not a copy): a case passes here exactly when
// a dualrun experiment with those options records it as match or ignored
// (and neither side panics, and the comparison fits production's time
// budget). Pass the same options to both, and a test pins what production
// will count.
//
// # Checking Reports
//
// A [Recorder] is a [dualrun.Publisher] that keeps the Reports of an
// experiment for a test to check; [Recorder.Wait] waits for them without
// polling.
//
// # Stricter than production
//
// What dualrun records as a shadow panic or a comparison error fails the
// test here, with the stack or with advice: a panic in either side (named),
// go-cmp refusing a type with unexported fields, a panicking normalizer.
// Accepted differences ([WithIgnore]) are logged with t.Logf.
//
// # Not like production
//
// Both sides run on the test's goroutine, one after the other, on the
// context given: there is no shadow timeout and no detached context;
// [dualrun.IsShadow] reports true in the candidate, as in production.
package dualruntest
