// Package connectors defines the contract between the reconcile engine and
// the systems it reads: a small Source interface, optional capabilities
// detected by type assertion, TableRef and TableInfo, and a Registry keyed by
// URL scheme.
//
// # Implementing a connector
//
// A connector is a package under connectors/ with an Opener:
//
//	func Open(ctx context.Context, location string, opts connectors.Options) (connectors.Source, error)
//
// registered in main:
//
//	reg := connectors.NewRegistry()
//	reg.Register("file", file.Open)
//
// Its Source must:
//
//   - describe the table (Describe) with an Arrow schema that every batch of
//     Read carries, and the primary key when the system declares one;
//   - stream rows as Arrow record batches (Read), allocating with the
//     allocator in ReadOptions, stopping with ctx.Err() on cancellation, and
//     reporting every failure through the reader's Err: a short read is
//     never silent;
//   - never write to the system it reads (the one exception is Applier,
//     below);
//   - wrap failures once with a "verb subject:" prefix and one of the
//     sentinel errors (ErrTableNotFound, ErrColumnNotFound, ErrUnsupported,
//     ErrBadInput) where one applies, and never print a password (Redact).
//
// A database connector also reads from one snapshot per Source (all of its
// reads see one point in time, which TableInfo.Consistency reports), honours
// Options.StatementTimeout and LockTimeout, treats TableRef.Where and Query
// as the only raw SQL it runs, and quotes every identifier it writes.
//
// Arrow lacks some logical types; a connector marks them in field metadata
// and the engine compares accordingly: MetaLogical=LogicalJSON on a string
// column of JSON documents (compared as canonical JSON),
// MetaLogical=LogicalDecimal on a string column of exact decimals that no
// Arrow decimal holds (compared as numbers), and MetaInvalid=InvalidMin on a
// temporal column whose storage minimum marks a value the source cannot
// represent (a zero date; never equal to a valid value).
//
// An Opener returns connectors.Source; a connector's own Open may return
// its concrete type, and main wraps it:
//
//	reg.Register("postgres", func(ctx context.Context, loc string, o connectors.Options) (connectors.Source, error) {
//		return postgres.Open(ctx, loc, o)
//	})
//
// Optional capabilities are separate interfaces the engine detects with a
// type assertion; it never branches on a driver's name: OrderedReader (rows
// in key order), Checksummer (key-range checksums computed in the
// database, for bisect), Meter (bytes received), Noter (facts about a read
// for the report) and Applier (guarded writes of an approved fix-up batch,
// on a connection of its own, never in the read snapshot; see apply.go for
// the guards every implementation owes). End each driver with
// compile-time checks:
//
//	var _ connectors.Source = (*Source)(nil)
//
// The conformance suite in connectors/connectortest checks all of this; every
// connector's tests run it.
package connectors
