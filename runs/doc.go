// Package runs keeps the durable history of job runs: when each run of a
// job started and finished, how it ended (running, consistent,
// differences, error, cancelled), and per replica the rows read, the
// differences per kind, the columns that drift most, the report's path and
// the fix-up batch with its state.
//
// Two stores have the same methods: Local keeps one JSON file per run in
// a folder (the default), Postgres keeps the runs in the reconcile_runs
// table (see Schema) of a PostgreSQL database so several hosts share one
// history. Consumers declare the interface they need.
//
// Contract:
//
//   - Start records a run as running before any work, so a crash leaves
//     evidence; Finish records its outcome. At start-up, MarkAbandoned
//     turns runs left running by a process that died into errors: a run
//     that was cut short is never shown as clean.
//   - A run is identified by its job and id. Invalid runs (no job, id or
//     start, an unknown outcome, Start of a finished run, Finish of a
//     running one) are refused with every problem joined.
//   - Error messages are stored after connectors.Redact of every URL and
//     password=... setting in them, whatever the caller already did.
//   - List is newest first (started, then job, then id, descending),
//     filtered by job, bounded by Limit, paged with Before.
//   - Prune keeps the newest runs of each job and never deletes a running
//     one.
//   - Local never drops an unreadable file silently: Get and List name
//     its path in their error.
//
// Example:
//
//	h, err := runs.OpenLocal("/var/lib/reconcile/history")
//	if err != nil {
//		return err
//	}
//	if _, err := h.MarkAbandoned(ctx, time.Now()); err != nil {
//		return err
//	}
//	r := runs.Run{Job: "orders", ID: id, Started: time.Now(), Outcome: runs.Running}
//	if err := h.Start(ctx, r); err != nil {
//		return err
//	}
//	r.Finished, r.Outcome = time.Now(), runs.Consistent
//	err = h.Finish(ctx, r)
package runs
