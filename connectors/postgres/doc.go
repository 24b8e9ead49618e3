// Package postgres is the connector for PostgreSQL (pgx/v5). It implements
// connectors.Source and connectors.OrderedReader.
//
// # Opening
//
// Open (a connectors.Opener for the schemes "postgres" and "postgresql")
// takes anything pgx.ParseConfig takes: a URL or a keyword/value string,
// completed from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE,
// ~/.pgpass and the rest as libpq does. Config.Open does the same with
// other retry settings. Error messages never show a password: the location
// is printed redacted, and pgx error texts are scrubbed of the password.
//
// # One point in time
//
// A Source is read-only and sees one snapshot for its whole life. Open
// starts a control connection that runs
//
//	BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY
//	SELECT pg_export_snapshot(), now(), ...
//
// reads the WAL position (pg_current_wal_lsn(), or pg_last_wal_replay_lsn()
// on a standby; empty when the role may not), and then stays idle in that
// transaction until Close. TableInfo.Consistency reports the server time
// at the snapshot (the transaction start), the WAL position and the
// snapshot id. Every other connection begins REPEATABLE READ READ ONLY and
// imports the snapshot with SET TRANSACTION SNAPSHOT, so concurrent
// Describe and Read calls see the same rows. Up to four such connections
// stay open, idle in their transactions, for the next call. Keeping a
// snapshot holds back vacuum on the server for as long as the Source is
// open: close it when done.
//
// If the server refuses to export the snapshot (a role without the right,
// a pooler that forbids it), every read runs on the control connection
// itself, one at a time, each inside a savepoint; TableInfo.Notes says so.
// A Read then waits until the reader before it has been released.
//
// If the control connection dies, the snapshot is gone: every further
// Describe or Read, and any read that must reconnect, fails with an error
// wrapping ErrSnapshotLost. The connector never continues at another point
// in time.
//
// Every connection sets statement_timeout (connectors.Options.
// StatementTimeout, else the connection string's, else 1h), lock_timeout
// (likewise, else 10s), application_name 'reconcile' (unless the
// connection string names one), idle_in_transaction_session_timeout 0,
// default_transaction_read_only on, and, which decoding depends on,
// client_encoding UTF8 (text arrives as UTF-8 whatever the database's
// encoding), standard_conforming_strings on, TimeZone 'UTC', DateStyle
// ISO, IntervalStyle iso_8601, extra_float_digits 3, bytea_output hex and
// lc_monetary C. The decoding settings are set again with SET LOCAL right
// after every BEGIN, so a pooler in transaction mode cannot hand a
// transaction a server session without them. Cancelling a context sends
// the server a cancel request, so a cancelled read stops on the server too.
//
// statement_timeout bounds a whole COPY, including the time it waits for
// the consumer: in a merge diff each side waits for the other, so a very
// large diff may need a longer --statement-timeout than the default hour.
//
// # Tables, queries and filters
//
// TableRef.Name is "table" (found through search_path) or "schema.table";
// parts in double quotes keep their case and may hold dots, spaces and
// quotes ("My Schema"."Order Table"), bare parts fold to lower case as in
// PostgreSQL. Views, materialized views, foreign and partitioned tables are
// tables too. TableRef.Query is a SELECT, read as SELECT ... FROM (<query>)
// AS q, whose columns must have distinct names. TableRef.Where is a filter
// in PostgreSQL's SQL, always embedded in parentheses. Query and Where are
// the only SQL a user passes; they run inside a read-only transaction and
// are checked (prepared) at Describe. The connector quotes every
// identifier it writes and looks catalog objects up with bind parameters.
//
// Describe reports the primary key (pg_index.indisprimary, in index column
// order), the estimated row count (pg_class.reltuples; -1 for a table never
// analysed, a view, a query or a filtered table), and Notes for each column
// read as text for want of a better type. A missing table wraps
// connectors.ErrTableNotFound, an unknown column connectors.ErrColumnNotFound.
//
// # Types
//
//	PostgreSQL                 Arrow                              compared as
//	-------------------------  ---------------------------------  ---------------------------------
//	smallint, integer, bigint  Int16, Int32, Int64                numbers
//	real, double precision     Float32, Float64                   numbers (NaN, ±Infinity kept)
//	numeric(p, s),             Decimal128(p, s)                   numbers
//	  p ≤ 38, 0 ≤ s ≤ p
//	numeric (any other)        String, reconcile.logical=decimal  numbers, exact at any precision
//	                           ("-12.340", "NaN", "Infinity")
//	boolean                    Boolean                            booleans
//	date                       Date32                             dates
//	timestamp                  Timestamp(µs, "")                  instants (taken as UTC)
//	timestamp with time zone   Timestamp(µs, "UTC")               instants
//	time                       Time64(µs)                         times of day
//	text, varchar, name        String                             text, byte for byte
//	char(n)                    String, trailing pad dropped       text
//	enums                      String (col::text)                 text
//	citext                     String (col::text)                 text, case-sensitively (noted)
//	uuid                       String, 8-4-4-4-12 lower case      text
//	json, jsonb                String, reconcile.logical=json     JSON (key order, spacing ignored)
//	arrays of any type         String, reconcile.logical=json     JSON arrays (noted)
//	                           (to_jsonb(col)::text)
//	bytea                      Binary                             bytes
//	interval                   String (col::text, ISO 8601)       text ("P1Y2M3DT4H5M6S")
//	inet                       String (abbrev(col): its output)   text (noted)
//	anything else: cidr,       String (col::text)                 text (noted)
//	  money, bit, xml,
//	  geometric types, ranges,
//	  tsvector, timetz,
//	  composites, ...
//
// A numeric with a declared precision of at most 38 fits Arrow's
// Decimal128 exactly and is read as one; text marked
// connectors.LogicalDecimal carries the numerics Decimal128 cannot hold:
// unconstrained numeric (whatever its values, NaN and ±Infinity included),
// precisions above 38 and negative scales. The engine compares both as
// numbers, so numeric(12,2) 10.50 equals a plain numeric 10.5.
//
// Domains read as their base types. Values are decoded from COPY's binary
// form by the connector itself; numeric in particular is rebuilt from its
// base-10000 digits, never through a float.
//
// A numeric(p, s) column holding NaN cannot fit Decimal128: reading it
// fails with an error naming the column; read it through a Query as
// col::numeric (a String decimal column) instead. ±infinity dates and
// timestamps are read as the extreme values of the Arrow type
// (math.MinInt32/MaxInt32 days, math.MinInt64/MaxInt64 microseconds), so
// they sort and compare consistently between PostgreSQL sources but match
// no value in a text file; a timestamp after the year 294246, beyond
// Arrow's microseconds, fails the read.
//
// char(n) is read without the trailing spaces that pad it, as PostgreSQL's
// own char → text cast reads it (the connector trims them as it decodes,
// which costs far less than the cast on the server): as in PostgreSQL, the
// pad is not significant, so char(5) 'ab' equals the text "ab", and keys
// of char columns order as that text.
//
// bytea compares byte for byte. Against a text file it matches only when
// the file holds the same bytes as text (a CSV field "hello" equals bytea
// 'hello'); hex or base64 spellings in a file are text that matches no
// bytea. Compare binary data with another database table, Parquet or Arrow.
//
// # Reading
//
// Read runs COPY (SELECT ...) TO STDOUT (FORMAT binary), reading the
// protocol frames itself from the connection pgx opened, in 1 MiB buffers
// (pgx's CopyTo costs a message round through its reader per row), and
// decodes each row where it lies straight into Arrow builders allocated from ReadOptions.Allocator (else
// connectors.Options.Allocator, else memory.DefaultAllocator). Every
// ReadOptions.BatchRows rows (default DefaultBatchRows), or sooner once
// the batch's variable-width columns (text, bytea, JSON, decimals as text,
// ...) hold 64 MiB, a record goes to the consumer through a channel
// holding one, so memory stays at a couple of batches whatever the
// table's size and the rows' width. An Arrow string or binary column of
// one batch holds at most 2 GiB (its offsets are 32-bit): a single value
// larger than that fails the read with an error naming the column, never
// a corrupt batch. A table with a primary key is read in key order; one
// without, in no particular order.
//
// ReadOrdered sorts by the given key columns in the engine's key order:
// numbers numerically (NaN last, as PostgreSQL sorts it), text (text,
// varchar, char, enums and every column read as text) by its UTF-8 bytes
// (with COLLATE "C" in a UTF8 or SQL_ASCII database; in a database of
// another encoding, such as LATIN1 or WIN1251, by convert_to(col, 'UTF8'),
// which no index serves, so the server sorts), uuid and bytea byte-wise,
// dates, timestamps and times
// chronologically, false before true, NULLs last, composite keys column by
// column. json, jsonb and array columns cannot be keys.
//
// The reader's Err reports every failure; a read is never cut short in
// silence. Releasing a reader before the end cancels its COPY on the
// server and frees what it holds.
//
// # Lost connections
//
// A read in key order (ReadOrdered, or Read of a table with a primary key)
// that loses its connection (a network error, SQLSTATE class 08, 57P01 as
// from pg_terminate_backend, 57P02, 57P03) retries on a fresh connection
// that imports the same snapshot, after Config.Backoff (200ms, doubling up
// to 5s), up to Config.Attempts (5) failures in a row. It resumes at the
// last key already handed to the consumer: the filter gains a predicate
// key >= last (NULLs last, composite keys lexicographic) with the values
// written as typed SQL literals (COPY takes no bind parameters), and the
// rows of that key already handed on are skipped. Rows of a batch not yet
// handed on are simply read again.
//
// The resume is exact: it hands on exactly the rows, in the same order,
// of a read that never lost its connection. A key that may repeat (it
// does not cover the primary key) is completed by a tie-breaker, both in
// ORDER BY and in the resume predicate: the row's ctid for a table or a
// materialized view (it does not change inside one snapshot), tableoid
// and ctid for a partitioned table or a table with inheritance children.
// The tie-breaker is read along but is no column of the records. Views,
// foreign tables and queries have no such row identity: their rows with
// equal keys come in no particular order, and a resume after a lost
// connection inside a run of rows with equal keys (some handed on, more
// to come) fails with an error wrapping connectors.ErrUnsupported rather
// than guess which of them were handed on. (A VACUUM FULL or CLUSTER of
// the table between the lost connection and the resume would move ctids;
// the resume then fails when the rows read again differ, or, for a
// repeating key, may not notice.)
//
// When the retries run out, Err names the table, the key after which
// rows were not read, and the cause. A read in no particular order
// cannot resume, and fails at the first lost connection.
//
// # Example
//
//	src, err := postgres.Open(ctx, "postgres://reader@db.internal/billing?sslmode=verify-full", connectors.Options{})
//	if err != nil {
//		return err
//	}
//	defer src.Close()
//	rr, err := src.ReadOrdered(ctx, connectors.TableRef{Name: "public.invoices"}, []string{"id"}, connectors.ReadOptions{})
//	if err != nil {
//		return err
//	}
//	defer rr.Release()
//	for rr.Next() {
//		rec := rr.Record() // valid until the next call to Next
//		_ = rec
//	}
//	return rr.Err()
package postgres
