// Package batches writes, approves and applies fix-up batches: the guarded
// changes a run proposes for one target table, which a person approves
// before anything is written.
//
// # Layout
//
// A batch is a folder <dir>/<id>/, id being the creation time, the job and
// the target system (2026-11-26T0200-customers-crm, with -2, -3, ... on
// collision):
//
//	ops.jsonl      one operation per line (see Op): kind, key, set, expect, rule
//	batch.sql      the same as SQL in the target's dialect, for people; never run
//	manifest.json  id, job, target and source (locations redacted), run and
//	               snapshot ids, config hash, counts, sha256 of ops.jsonl,
//	               state, approvals, expiry, apply outcome
//	journal.jsonl  the outcome of every operation, appended after each
//	               committed transaction
//	apply.lock     pid and host of the process applying the batch
//
// Every file is written to a temporary file, synced and renamed; the
// manifest is written last. Values in ops.jsonl keep their kind (see
// appendValueJSON) and read back to the same canonical bytes.
//
// # Lifecycle
//
//	pending ─► approved ─► applying ─► applied | partial | failed
//	   └─► rejected | expired        partial/failed ─► applying (again)
//
// Approve binds the approval to the sha256 of ops.jsonl and to a digest
// of the batch's identity (Approval.Binding: id, job, dialect, target,
// source, key, config hash, expiry, undo-of). Apply refuses a batch that
// is not approved (ErrNotApproved), whose ops.jsonl or identity changed
// since (ErrTampered), that has expired, in any state, partial and failed
// included (ErrExpired, 24 h by default), or that another live process is
// applying (ErrLocked). A batch
// found in state applying whose lock is stale (its process is gone) is
// partial; applying it again sends only the operations the journal does
// not record as done, and the guards make sure no row is written twice.
//
// # Guards
//
// Every update and delete carries the pre-image it expects; an insert
// never overwrites a row that appeared since. A connector's Applier (see
// connectors.Applier) reports per operation applied, already applied (the
// row holds the post-image: applying twice changes nothing), conflict (the
// row changed since the diff; left alone) or error. An apply that wrote
// at least one row writes an undo batch, pending approval, that restores
// the pre-images, guarded by the post-images. The undo covers the
// operations found already applied too: after a crash between a commit
// and its journal line, the operations of that transaction come back as
// already applied, and must still be undoable; the price is that a row
// someone else set to the same value is in the undo as well, where its
// guard holds and a person approving the undo sees it.
//
// Values are written as the column's type takes them: text too long for
// its column is an error, never truncated; a number with more decimals
// than a numeric(p,s) column keeps is rounded by the database, reported
// applied, and shows as drift on the next run.
//
// # Safety limits
//
// Create refuses a batch over Limits.MaxChanges or MaxFraction of the
// target's rows (ErrLimit), and withholds every delete when the system of
// record returned no rows or shrank by more than MaxShrink since its
// previous run, recording why in Manifest.DeletesWithheld: a broken query
// never becomes a mass delete.
//
// # Example
//
//	b, err := batches.Create(dir, batches.Spec{
//		Job: "customers", Dialect: "postgres",
//		Target: batches.Location{System: "crm", Table: "public.accounts"},
//		Key: []string{"id"}, Now: time.Now(),
//		Limits: batches.Limits{MaxChanges: 5000, TargetRows: n, SourceRows: m, PreviousSourceRows: prev},
//	}, ops)
//	...
//	b, err = batches.Open(dir, id)
//	err = b.Approve("alice", time.Now())
//	rep, err := b.Apply(ctx, target.(connectors.Applier), batches.ApplyOptions{Now: time.Now()})
package batches
