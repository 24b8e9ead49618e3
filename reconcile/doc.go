// Package reconcile is the comparison engine: it reads two sources through
// the connectors contract, encodes every value canonically, matches rows by
// key and classifies each key once.
//
// # Contract
//
//   - Same value, same bytes: every value is written in one canonical,
//     type-tagged, NULL-marking, self-delimiting encoding (see canon.go), so
//     a CSV "10.50", a Parquet decimal 10.5 and a float64 10.5 are equal, and
//     NULL differs from the empty string. Text compares byte-exact.
//   - Each key is classified once: Missing, Extra, Changed (with the
//     differing columns and both values), Duplicate (per key and side, with
//     its count) or matched; rows with a NULL in the key are NullKey.
//   - Per side: row count, an order-independent checksum (sum mod 2^64 of
//     the row digests; a row digest folds the xxhash of each cell's
//     encoding over the key and compared columns, ordered by source name)
//     and per-column checksums (sum of cell digests). Row order, column
//     order and file format do not change them.
//   - Memory is bounded: sources that read in key order
//     (connectors.OrderedReader) are diffed by a streaming merge; others are
//     hash-partitioned, and partitions spill to disk (Arrow IPC) past
//     Options.MemoryLimit, then are diffed in parallel.
//   - Counts are always complete. Options.Limit caps the changes handed to
//     the sink; a capped listing holds the changes with the smallest keys,
//     in key order, whichever algorithm ran.
//   - An error is never a verdict: Diff returns a nil Result with the error.
//   - Declared rules (Options.ColumnRules, Context, InFlight; see rules.go):
//     normalisers rewrite each batch's column on both sides where batches
//     enter the engine, so every algorithm, the schema comparison, the
//     checksums and the listed values see normalised values (each change
//     also carries the stored values of the normalised columns,
//     Change.SourceRaw and TargetRaw, for fixes); tolerances
//     are consulted only for the cells of rows whose digests differ, and a
//     row whose every differing cell is tolerated is matched (counted in
//     Counts.Tolerated). Context columns are read, not compared, and
//     handed with each change. A Missing, Extra or Changed row whose
//     in-flight column is recent is InFlight: listed, counted, and not a
//     difference. Normalisers, tolerances and in-flight rows force the
//     comparison after fetching: bisect refuses them and auto streams.
//
// # Example
//
//	res, err := reconcile.Diff(ctx,
//		reconcile.Input{Source: billing},
//		reconcile.Input{Source: crm},
//		reconcile.Options{Key: []string{"id"}, Map: map[string]string{"plan": "tier"}},
//		func(c reconcile.Change) error { fmt.Println(c.Kind, c.KeyString()); return nil })
//	if err != nil {
//		return err // exit 2: no verdict
//	}
//	if !res.Consistent() {
//		// exit 1
//	}
package reconcile
