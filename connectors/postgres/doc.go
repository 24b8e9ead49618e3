// Package postgres is the connector for PostgreSQL (pgx/v5). It implements
// connectors.Source, connectors.OrderedReader and connectors.Checksummer.
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
// connectors.Options.Allocator). Without one, or with
// memory.DefaultAllocator, a scan builds its batches in a pool
// (internal/arrowpool) that hands the buffers of released batches out
// again: a string or slice taken from a batch (String.Value) must be
// copied before the batch's last Release. The socket is read in bulk
// once a result has brought 1 MiB (internal/bulkread). Every
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
// # Key ranges and checksums
//
// ReadOrdered honours ReadOptions.Ranges: it reads only the rows whose
// key lies in one of the ranges, each [From, To) with either bound
// optional, compared in the read's own order (the order expressions of
// ORDER BY, as a row comparison (k1, k2) >= (...) for a composite key);
// rows with a NULL in the key lie in no range. The ranges, ascending and
// not overlapping (anything else is refused as bad input), are read in
// one statement whose filter is the OR of their predicates (adjacent
// ranges merged), combined with TableRef.Where and, after a lost
// connection, with the resume predicate; the rows still come in key
// order. An empty, non-nil Ranges reads no row and asks the server
// nothing. Read refuses ranges, which only an ordered read has. A bound
// holds one Go value per key column:
// int64 (any Go integer) for smallint, integer and bigint; string for
// text, varchar, name, char(n), enums and other columns read as text
// (compared with the UTF-8 bytes of the value as read, char without its
// pad) and for uuid (compared with its lower-case text); []byte for
// bytea; time.Time for date, timestamp and timestamptz (a timestamp
// taken as UTC; a date compares as its midnight, so a bound with a time
// of day falls between dates; an instant between microseconds counts as
// the next microsecond; math.MaxInt32/MinInt32 days and
// math.MaxInt64/MinInt64 microseconds since 1970 stand for ±infinity, as
// these are read). Keys of other types (numeric, floats, boolean, time,
// JSON) cannot bound ranges. The bounds are written as SQL literals
// (COPY takes no bind parameters) through the same quoting as every
// literal: text that a text literal cannot hold exactly (NUL bytes,
// invalid UTF-8, a char bound with trailing spaces, a uuid bound not in
// canonical form, anything in a database whose encoding is not UTF-8)
// is compared as the UTF-8 bytes of the column's text against a bytea
// literal, which no index serves but which holds any value exactly.
//
// As a connectors.Checksummer, a Source computes segment checksums in
// the server, in its snapshot, so they see the same rows as its reads:
//
//   - Checksummable refuses the columns the server cannot encode
//     canonically (floats, json, jsonb, arrays; numeric, timestamps and
//     time before PostgreSQL 14) and fails for a key column that cannot
//     bound ranges.
//   - Boundaries splits a range of a single integer key arithmetically
//     between its least and greatest key (two index lookups when an index
//     serves them; data with outliers splits unevenly, and the next level
//     of splitting evens it out); any other key at every ceil(count/n)-th
//     row in key order (row_number() over a sort of the range).
//   - Checksums runs one statement: per range, count(*), the count of
//     distinct keys (left to the row count when the key covers the
//     primary key) and the sum of the row hashes, summed as numeric and
//     reduced modulo 2^64 by the connector. A row's range is
//     width_bucket(key, $1) for a key of one integer, uuid, date or
//     timestamp column, the bounds passed as one array parameter and
//     found by binary search in the server (a date key needs midnight
//     bounds). width_bucket walks an array of a variable-width type
//     element by element, so a text key (not char(n)) is looked up as a
//     name (64 bytes, COLLATE "C", PostgreSQL 12 on) when every bound
//     is a text literal of at most 60 bytes: a longer key is cut to at
//     least 60 bytes, which compare with such a bound as the whole key
//     does. Any other key (bytea, char(n), text with longer bounds or
//     bounds compared as bytes, composite keys) uses a CASE that halves
//     the bounds, written as literals, at each step. The rows are hashed
//     in a subquery fenced by an unused WITH item, which keeps the
//     planner from pulling it up and estimating as many groups as keys:
//     the buckets are then hashed and partly aggregated in parallel
//     workers. Every transaction of a Source turns JIT compilation off
//     (PostgreSQL 11 on): LLVM takes up to minutes over the CASE of
//     thousands of bounds, and scans gain nothing from it.
//
// Two row hashes are offered. The canonical one (ChecksumRequest.Hash
// "") is ('x' || substr(md5(row), 1, 16))::bit(64)::int8, where the row
// is the canonical encoding the reconcile package hashes (its
// AppendRow), built in SQL for exactly the Arrow value each column is
// read as: integers 'i' and int8send; boolean 'b' and a byte; text 's',
// a uvarint of the UTF-8 length and convert_to(col, 'UTF8') (char
// without its pad, uuid as its lower-case text); bytea 'x', uvarint
// length and the bytes; date 'd' and int4send of the days since 1970;
// timestamps 't' and int8send of EXTRACT(epoch) × 10^6; time 'h' and the
// microseconds since midnight; ±infinity as the extreme values they are
// read as; numeric (both Decimal128 and decimal text) an integer within
// int64 as 'i', anything else as 'n', a uvarint length and
// "[-]digits" "e" exponent without leading or trailing zeros in the
// digits, NaN and ±Infinity as "NaN", "Inf", "-Inf"; NULL as one 0x00
// byte. The steps of a cell are nested fenced subqueries, so that a
// numeric's text or a text's UTF-8 bytes is computed once a row. MD5 and
// the encoding dominate the cost: 4 to 5 times a full-table
// count(*), sum(hashtext(t::text)) on pgbench_accounts.
//
// The native hash (NativeHash, PostgreSQL 11 on), labelled
// "postgres <major> hashtextextended(row text)" (and " in <encoding>"
// outside UTF8), is hashtextextended(ROW(columns...)::text COLLATE "C",
// 0): the record's text output, which quotes and escapes its fields, so
// that different rows render differently, hashed as bytes. It takes
// every column type. Equal rows render alike on two servers of one major
// version under the settings every session of a Source fixes, with SET
// and again with SET LOCAL in every transaction: TimeZone UTC, DateStyle
// ISO, IntervalStyle iso_8601, extra_float_digits 3 (floats in their
// shortest exact form), bytea_output hex, lc_monetary C and
// quote_all_identifiers off. Equal values may still render apart (1.0
// and 1.00 in an unconstrained numeric, JSON with other spacing, char(n)
// of other widths, reg* types under another search_path): that costs a
// read, never a missed difference. It costs about what the full-table
// aggregate above does.
//
// From PostgreSQL 14 the native hash, labelled "postgres <major> row hash
// (hash_record_extended or hashtextextended)", skips the text of a row
// whose compared columns are all of plain types (smallint, integer,
// bigint, numeric(p,s), real, double precision, boolean, date, timestamp,
// timestamptz, time, uuid, bytea, text, varchar, char(n)): it is
// hash_record_extended of the row under a seed that is neither 0 nor 1
// (a NULL field counts as 0: with seed 0, float 0 and numeric NaN would
// hash as NULL), text columns under COLLATE "C" (byte-wise, whatever their
// collation), bigint and the time types as their binary form (their own
// hash folds 64 bits into 32, so -1 and 4294967295 would agree), and the
// row's hash hashed again as 8 bytes (hash_record_extended folds fields
// linearly, so raw sums would miss a column's values swapped between two
// rows). Each type's own hash agrees exactly where the engine's
// comparison does (numbers by value, -0 and 0, NaN and NaN, instants);
// types whose equality is looser (interval, jsonb, timetz, citext, enums,
// arrays, domains) and an unconstrained numeric (whose NaN and ±Infinity
// hash alike) keep the text hash. It costs about 30 % less than the text
// hash: 0.26 s against 0.38 s for a full-table sum over the 2M rows of
// pgbench_accounts here.
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
