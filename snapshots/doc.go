// Package snapshots writes and reads snapshots: point-in-time columnar
// copies of a table on disk, kept as evidence of what a system held and
// compared later without touching the system again.
//
// A snapshot is a folder <store>/<name>/<UTC time>/ holding Parquet parts
// (zstd, row groups of 128Ki rows) and manifest.json. The manifest is
// written last, through a temporary file and a rename, so a reader only
// ever sees complete snapshots; a folder without one is an interrupted
// write, never read and removed by Prune. The manifest records the source
// (password redacted), what was read, the key, the Arrow schema, the row
// count, the engine's table and column checksums (reconcile.Digester), the
// size and SHA-256 of every part, the time and the source's consistency
// marker, the tool version and a config hash. Verify recomputes all of it.
//
// Snapshots are ordinary diff sources: Open is the connectors.Opener of
// the "snap" scheme (snap:<store>/<name>@latest, @-1, @2026-11-26T02),
// and a snapshot written in key order is an OrderedReader, so a diff
// merges it as it streams. Each part's size and SHA-256 are checked as it
// is read; a part that does not match fails the read.
//
// History records, for a pair of sides diffed again and again, when each
// difference was first seen, last seen and healed, in Parquet files in the
// store too.
//
// The package takes rows as an array.RecordReader and never talks to a
// database itself:
//
//	rr, _ := src.ReadOrdered(ctx, ref, key, connectors.ReadOptions{})
//	m, dir, err := snapshots.Write(ctx, "/var/lib/reconcile", rr, snapshots.WriteOptions{
//		Name: "shop-replica-orders", Source: url, Table: "public.orders", Key: key,
//	})
package snapshots
