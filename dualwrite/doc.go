// Package dualwrite writes to the old and the new store of a table during a
// migration, loses no write, tracks and reconciles divergence, and makes
// the write cut-over (and its rollback) one rollout flag. It is a front on
// the dualrun engine: writes, reads and reconciliations are dualrun
// experiments, with dualrun's outcomes, telemetry and Reports.
//
// # One minute
//
//	old, _ := dualwrite.NewSQLStore(ctx, oldDB, dualwrite.SQLite, oldTable)
//	neu, _ := dualwrite.NewSQLStore(ctx, newDB, dualwrite.Postgres, newTable)
//	flag := rollout.NewLive(rollout.Static{})  // old store primary
//	w, _ := dualwrite.New[Customer]("customers", old, neu, dualwrite.WithRollout(flag))
//	defer w.Close(ctx)
//
//	ack, err := w.Put(ctx, "c-42", customer)  // both stores, durably
//	c, err := w.Get(ctx, "c-42")              // from the primary, compared
//	rep, err := w.Reconcile(ctx)              // dry run: what differs
//	flag.Set(rollout.Static{CandidatePrimary: rollout.All}) // cut-over
//	flag.Set(rollout.Static{})                              // rollback
//
// A [Table] maps a Go type to each store's columns: that is where the
// schema change lives. Other stores implement [Store] (three methods).
//
// # A write
//
//  1. The rollout policy picks the key's primary store ([WithRollout]; by
//     default the old one).
//  2. The write goes to the primary with a version (a hybrid logical clock
//     value the store raises above the key's stored version) and an
//     idempotency key ([WithIdempotencyKey], or derived). In the same
//     transaction, an [SQLStore] records the intent to apply the write to
//     the other store in its outbox table. For any other store the intent
//     goes first into the embedded journal ([OpenJournal], a SQLite file,
//     synced, commits grouped across concurrent writes), then the write
//     to the store. If the primary fails, Put returns its error.
//  3. Put returns the primary's [Ack]. The same write is then applied to the
//     secondary store, as the write experiment's sequential shadow
//     (bounded by [WithSecondaryTimeout]); the caller waits for it only
//     up to [WithSyncBudget] (default: not at all). A secondary failure
//     never fails the write.
//  4. On success the journal entry is removed (removals are batched: one
//     commit for those of the writes around it). Otherwise it stays, and
//     the applier — one goroutine per writer, started by [New] — retries
//     it with exponential backoff and jitter ([WithBackoff]) until it
//     succeeds, also after a restart, which replays whatever an earlier
//     process left. An error marked [ErrPermanent] (SQL constraint and data
//     errors are), a malformed entry, or [WithMaxAttempts] moves the entry
//     to the failed state ([Writer.Failed], [Writer.Retry]) without
//     blocking any other write.
//
// # Guarantees
//
//   - Nothing acknowledged is lost: when Put returns nil, the write is in
//     the primary and its intent is durable. With an outbox the two are one
//     transaction. With the embedded journal the intent is synced before
//     the primary is written; an intent whose outcome nobody confirmed (the
//     process died, the primary call failed or timed out) is resolved by
//     the applier once it is older than max(2 × WithSecondaryTimeout,
//     WithApplyTimeout): it asks the primary, and copies its record if the
//     primary took the write, or drops the intent if not. So a write that
//     reached the primary reaches the other store even if Put never
//     returned. The one gap: a primary call that lasts longer than that
//     and whose background copy was shed (the write experiment's in-flight
//     limit) reaches the other store only through the reconciler.
//   - Idempotent: a store applies a copied write only if it is newer than
//     what it holds ([ModeReplica]), so a replayed or duplicate entry
//     changes nothing (dualwrite.applied{dualwrite.result="skipped"}).
//   - In order per key: the applier applies a key's entries in journal
//     order and stops at the first that fails, until its retry; and no
//     store ever applies an older write of a key over a newer one, whatever
//     the order of delivery. Different keys never wait for each other.
//   - Divergence is visible: dualwrite.pending and
//     dualwrite.pending.oldest_age per store, dualwrite.retries,
//     dualwrite.failures, [Writer.Stats], and the writer's dualrun
//     experiments on the debug page ("<name>.write": a secondary failure
//     is a mismatch of kind error, a slow one a timeout).
//
// # Cut-over and rollback
//
// Which store is primary is a rollout decision, per key, asked of the same
// policies as reads (rollout.Live, an OpenFeature flag, a rollout.Ramp),
// per writer (table) or, with [WithPolicyName], per store. Because both
// stores take every write, rolling a cut-over back is flipping the flag
// back. At the moment of a flip:
//
//   - Each write decides its primary once, when it starts. Writes in
//     flight finish on the primary they chose, and their copies are
//     journaled for the other store like any other; writes that start
//     after the flip go to the new primary. No write is lost or applied
//     twice.
//   - A write's version is above every version the process issued or saw,
//     so a write to the new primary is newer than every earlier write of
//     its key, even those still pending in the journal towards that store:
//     when they arrive they are skipped, never applied over it.
//   - The new primary may still lack, for a few milliseconds (or while the
//     old primary's journal towards it is not drained), the latest writes
//     made through the old one: reads from it can be that stale. For
//     read-your-writes across the flip, call [Writer.Drain] before
//     flipping (and pause writes, if the application can).
//   - Writers of one key in several processes each keep this order per
//     process; across processes, versions follow the stores' own order
//     (the primary raises a stale version above the stored one), and the
//     flip's guarantee holds as long as the processes' clocks differ by
//     less than the time between two writes of a key around the flip.
//
// # Reads and reconciliation
//
// [Writer.Get] reads through the "<name>.read" experiment: from the
// primary, compared with the other store for the policy's shadow share,
// with the comparison options of [WithCmpOptions], [WithNormalizer] and
// [WithComparer], so divergence shows up as mismatches with field paths.
//
// [Writer.Reconcile] scans both stores in key order at a bounded rate
// ([WithRate]), compares every record with the same options, and reports
// records missing from the secondary, extra in it, or changed; a record
// with a write in flight is not divergence. Every comparison also goes
// through the "<name>.reconcile" experiment: same outcomes, telemetry and
// Reports as any dualrun comparison. [WithRepair] repairs the secondary
// from the primary (off by default: read the dry run's report first); it
// is also how existing data is copied to a new store (the backfill).
//
// # Costs
//
// A write costs the primary's transaction with two more statements in it
// (the key's version and the outbox row), or, without an outbox, a synced
// journal commit before the primary's (grouped with the concurrent
// writes'). In the background follow the secondary write and the batched
// removal of entries, which take their share of the machine. On a small
// machine (2 cores, SQLite synced on every commit) a dual write measured
// about twice a single write as the caller sees it; the README's
// benchmark table has the figures.
package dualwrite
