// Package mysql is the connector for MySQL and MariaDB
// (github.com/go-sql-driver/mysql). It implements connectors.Source,
// connectors.OrderedReader, connectors.Checksummer and connectors.Meter.
//
// # Opening
//
// Open (a connectors.Opener for the schemes "mysql" and "mariadb") takes
//
//	mysql://user:password@host:port/database?param=value
//	mysql://user:password@tcp(host:port)/database?param=value   (the driver's own DSN)
//	mysql://user@/database?socket=/run/mysqld/mysqld.sock
//
// The port defaults to 3306; a password missing from the location is taken
// from a password= (or pass=) parameter, whose value runs to the next '&'
// or the end (';' and '#' included), or from the environment variable
// MYSQL_PWD (as the mysql client does). In the URL form, percent-encode
// '@', ':', '/', '?', '#' and '%' in the user name and password; other
// malformed parameters are refused. Other parameters are the
// driver's (tls, timeout, readTimeout, ...) or session variables set on
// every connection; charset and collation must be utf8mb4 ones, since text
// is decoded as UTF-8, and parseTime, interpolateParams, multiStatements,
// loc and columnsWithAlias are the connector's own. Config.Open does the
// same with other retry settings. Errors never show a password: the
// location is printed redacted (connectors.Redact) and driver errors are
// scrubbed of it.
//
// # One connection, one snapshot
//
// MySQL cannot share a snapshot between connections, so a Source reads
// everything on one connection. Open connects, sets
//
//	time_zone = '+00:00'                   (TIMESTAMP values arrive in UTC)
//	max_statement_time (MariaDB, seconds) or max_execution_time (MySQL, ms)
//	                                       = Options.StatementTimeout, default 1h
//	lock_wait_timeout, innodb_lock_wait_timeout = Options.LockTimeout, default 10s
//	net_write_timeout = the statement timeout (the engine may pause a reader)
//	max_sort_length = 65536                (text keys sort on their value, not a 1 KiB prefix)
//	character_set_client, _connection, _results = utf8mb4
//	sql_select_limit = 18446744073709551615 (neither a parameter nor a global value cuts a read short)
//
// (after the location's session variables, so these win over them) and
// runs SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ and
// START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY. TableInfo.
// Consistency reports the server's UTC time right after the snapshot
// started and the log position: @@gtid_executed (MySQL) or
// @@gtid_current_pos (MariaDB) when not empty, else MariaDB's
// binlog_snapshot_file:position (which belongs to the snapshot exactly),
// else SHOW MASTER STATUS when the user may run it, else empty. A GTID set
// is read just after the snapshot started, so it may include a
// transaction that committed in between. Tables of non-transactional
// engines (MyISAM) are read as they are, not as of the snapshot.
//
// Statements on the connection run one at a time. A reader holds the
// connection from its first row until it ends or is released; a second
// Read returns at once, and its first Next waits until then. Describe of a
// table not described before uses the connection when it is free and
// otherwise a short-lived second connection (the catalog is not part of
// the snapshot, but the user's SQL runs there in START TRANSACTION READ
// ONLY too), so a caller holding a reader may describe and open another
// one; descriptions are cached per TableRef.
//
// # Tables, queries and filters
//
// TableRef.Name is "table" (in the location's database) or
// "database.table"; parts in backticks may hold dots, spaces and
// backticks (doubled), bare parts are taken as written. Views are tables
// too. The catalog is read from information_schema with bound parameters:
// columns (DATA_TYPE, COLUMN_TYPE, precision and scale, character set),
// the primary key (KEY_COLUMN_USAGE, PRIMARY, in key order), TABLE_ROWS as
// the row estimate (-1 for a view, a query or a filtered table), and on
// MariaDB the json_valid check constraints that mark JSON columns. Every
// identifier the connector writes is backtick-quoted with backticks
// doubled.
//
// TableRef.Query is a SELECT, read as SELECT ... FROM (<query>) AS q and
// described from the types of its result set (run with LIMIT 0); a result
// set does not tell tinyint(1) or bit(1) from their wider kin, nor
// MariaDB's JSON from text, so those read as Int8, Uint64 and String.
// TableRef.Where is a filter in MySQL's SQL, always embedded in
// parentheses; Describe refuses one that is not a single expression (one
// that closes those parentheses early would escape the resume predicate).
// Query and Where are the only SQL a user passes; they run in the
// read-only transaction and are checked at Describe. A Query read from
// the result-set types cannot tell an unsigned decimal's precision (the
// driver does not report the flag), so decimal(p,s) unsigned reads as
// decimal(p-1,s) there; read the table by name to keep it exact.
//
// # Types
//
//	MySQL                                 Arrow                          compared as
//	tinyint(1), boolean                   Int8                           numbers (true/false of the other side as 1/0; 2 ≠ true)
//	tinyint, smallint, mediumint, int,    Int8, Int16, Int32, Int32,     numbers
//	bigint (signed)                       Int64
//	… unsigned                            Uint8, Uint16, Uint32, Uint32, numbers (bigint unsigned beyond int64 exactly)
//	                                      Uint64
//	decimal(p, s), p ≤ 38                 Decimal128(p, s)               numbers, exact
//	decimal(p, s), p > 38                 String, reconcile.logical=     numbers, exact
//	                                      decimal
//	float, double                         Float32, Float64               numbers (float read as col + 0E0: MariaDB
//	                                                                     prints a FLOAT with 6 digits)
//	bit(1)                                Boolean                        booleans
//	bit(n), n > 1                         Uint64 (its numeric value)     numbers
//	year                                  Int16                          numbers
//	date                                  Date32, reconcile.invalid=min  dates
//	datetime(0–6)                         Timestamp(µs, "")              instants: the wall clock digits read as UTC
//	timestamp(0–6)                        Timestamp(µs, "UTC")           instants (the session time zone is UTC)
//	time(0–6)                             Time64(µs)                     times (beyond 24h and negative kept as µs)
//	char, varchar, *text, enum, set       String, as stored              text, byte-wise
//	json (MariaDB: longtext CHECK         String, reconcile.logical=json JSON (key order, spacing ignored)
//	json_valid)
//	binary, varbinary, *blob              Binary                         bytes
//	uuid (MariaDB)                        String (lower case 8-4-4-4-12) text
//	geometry types                        String (ST_AsText, noted)      text
//	anything else                         String (CAST AS CHAR, noted)   text
//
// bit(1) is the one MySQL type read as Boolean: it holds nothing but 0 and 1,
// and is what CDC tools write a boolean as; tinyint(1) stays a number, so
// that a value 2 is seen for what it is.
//
// Zero and invalid dates (0000-00-00, 2024-00-15, 0000-00-00 00:00:00),
// which MySQL stores under a lenient sql_mode, are read as the smallest
// value of the storage type (math.MinInt32 days, math.MinInt64 µs); the
// date, datetime and timestamp fields carry connectors.MetaInvalid, so the
// engine reports such a value as invalid, equal to another invalid value
// and never to a valid one. As keys they sort first, as in MySQL, except
// dates with a zero month or day but a year, which MySQL sorts among the
// valid ones: the engine then stops with "not in key order".
//
// Text is compared byte for byte, whatever the column's collation: the
// case- and accent-insensitive collations MySQL uses by default are not
// applied, so "Straße" and "STRASSE", or "abc" and "ABC", are reported as
// different even though MySQL calls them equal. Making such differences
// ignorable on purpose is the job of the rules' normalisers. Columns of
// other character sets (latin1, ...) are converted to UTF-8 by the server.
// char(n) arrives without its trailing spaces, as MySQL returns it;
// varchar keeps them.
//
// # Reading
//
// A read is SELECT <columns> FROM <table> [WHERE (<where>)] ORDER BY
// <key>. A statement without arguments (a whole scan's first attempt,
// which reads nearly every row) is sent over MySQL's text protocol and its
// result set read straight from the connection's socket (textrows.go): the
// driver would hand over every cell as an interface value, one allocation
// per number or string (reading rows itself took reconcile's CPU on a
// 1M-row pair from 1.03 to 0.89 s). Tables with float or double columns (whose text the server
// writes as it chooses), and connections under TLS, compression or the
// driver's read and write timeouts, go through the driver instead. There,
// and for a resume or a key-range read (which bind key values), a base
// table's read runs as a server-side prepared statement, so that its rows
// come in MySQL's binary protocol: numbers as fixed-width binary, which
// costs the server less than decimal text (dates, times and decimals
// still come as text). A view or a query, whose computed columns may
// carry a precision the driver's binary decoder refuses, and a server or
// proxy that will not prepare the statement use the text protocol. Either
// way rows are decoded straight into Arrow builders allocated
// from ReadOptions.Allocator (else Options.Allocator, else
// memory.DefaultAllocator, which a scan replaces by a pool,
// internal/arrowpool, that hands the buffers of released batches out
// again: a string or slice taken from a batch must be copied before the
// batch's last Release). Every
// ReadOptions.BatchRows rows (default DefaultBatchRows), or once the text
// and binary columns of a batch hold 64 MiB, and always before a column
// would outgrow Arrow's 32-bit offsets, a record goes to
// the consumer through a channel holding one, so at most two records are
// in flight whatever the table's size. The consumer owns each record until
// its next call to Next and must Release the reader; releasing it early
// kills the statement on the server (KILL QUERY from a side connection,
// which keeps the connection and its snapshot) and frees everything.
// Cancelling the context does the same, and the reader's Err wraps
// context.Canceled. Failures are reported through Err; a read is never cut
// short in silence.
//
// ReadOrdered sorts by the given key columns in the engine's key order:
// numbers numerically, text byte-wise (ORDER BY CAST(CONVERT(col USING
// utf8mb4) AS BINARY): the UTF-8 bytes, with no collation and no
// trailing-space padding, which also puts enum and set values in text
// order rather than MySQL's index order), binary strings byte-wise, dates,
// instants and times chronologically, false before true, NULLs last
// (col IS NULL, col), composite keys column by column. The primary key
// columns not in the key follow as tie-breakers, so every row has its
// place. Read without a key uses the primary key, or no order for a table
// without one. JSON columns cannot be keys. Sorting text keys cannot use
// an index, so the server sorts them (filesort); integer, decimal and
// temporal keys in primary key order can stream from the index.
//
// # Checksums in the database
//
// The Source is a connectors.Checksummer, so that the engine's bisect
// algorithm can compare key-range segments without reading their rows.
// Checksums runs one statement per request, on the Source's connection and
// so in its snapshot:
//
//	SELECT <range index>, COUNT(*), [COUNT(DISTINCT key),] SUM(<row hash>)
//	FROM <table> WHERE (<filter>) AND <key in range> GROUP BY 1
//
// The range index is INTERVAL(key, b1, ..., bk) for a key of one integer
// column (a binary search) and a CASE halving the bounds otherwise. The
// row hash is connectors.RowHash of the row's canonical encoding, which
// the server builds as a binary string, byte for byte what the reconcile
// package writes for the Arrow values this connector reads:
// CAST(CONV(LEFT(MD5(<encoding>), 16), 16, 10) AS UNSIGNED). MySQL sums
// integers exactly, as DECIMAL, and the sum is reduced modulo 2^64 in Go.
// A row whose encoding exceeds max_allowed_packet (CONCAT returns NULL)
// adds 2^100 to the sum instead, and the call fails rather than miss it.
// The distinct-key count is left out when the key covers the primary key.
// A checksum or boundary statement that loses its connection is retried on
// a new one, whose new snapshot is recorded as a Resume; the engine then
// finds the reads disagreeing with the counts, or reports the resume.
//
// The encoding per type: integers (and year, bit(n)) 'i' and 8 bytes
// big-endian (bigint unsigned beyond int64 as the number text); decimal an
// integer when integral within int64, else 'n' and the normalised
// "digits e exponent" text; bit(1) 'b' 0|1; date 'd' and 4 bytes of days
// since 1970; datetime and timestamp 't' and 8 bytes of microseconds since
// 1970 (year 0 computed apart: TO_DAYS takes it for a common year); time
// 'h' and 8 bytes of microseconds; zero and invalid dates the engine's
// invalid value; text 's', a varint length and the UTF-8 bytes (the
// column's own bytes when it is utf8mb4, utf8mb3 or ascii, else CONVERTed);
// binary 'x', a varint length and the bytes; NULL 0x00. float, double and
// JSON columns have no encoding the server builds exactly (shortest
// round-trip decimals, canonical JSON): Checksummable reports them and the
// engine streams such tables. There is no native row hash (NativeHash is
// ""): MariaDB's MD5 costs about a microsecond a row, but its other hashes
// (CRC32, CRC32C) are 32-bit and linear, no substitute.
//
// A segment checksum misses a difference only if the differing segment's
// rows give the same count, the same distinct-key count and the same sum
// mod 2^64 of their 64-bit row hashes; the encoding is injective (tagged,
// length-prefixed, NULL-marked), so for rows that differ that happens with
// probability about 2^-64 per differing segment, and sums (unlike XOR)
// do not cancel duplicated rows.
//
// Key ranges (connectors.KeyRange) bound integer, text, binary, date,
// datetime and timestamp keys (not decimal, float, bit, time or JSON). A
// bound is int64, string (text, compared as its UTF-8 bytes: the order
// expression CAST(CONVERT(col USING utf8mb4) AS BINARY) against a hex
// literal, whatever the collation), []byte or time.Time, written as a
// literal; composite keys compare lexicographically, (a > x OR (a = x AND
// b >= y)), after a first-column term an index can use. Bounds outside
// the years 0000 to 9999 are refused. Boundaries splits a single integer
// key arithmetically between MIN and MAX (bigint unsigned keys beyond
// int64 all fall in the last range) and any other key at every
// ceil(count/n)-th row (ROW_NUMBER over the key order: MariaDB 10.2,
// MySQL 8.0). ReadOrdered with ReadOptions.Ranges reads the rows of the
// ranges, adjacent ones merged, in one statement; a read resumed after a
// lost connection stays inside them. Text keys cannot use an index in
// byte order, so each range statement on a text key scans the table.
//
// BytesReceived (connectors.Meter) counts the bytes read from every
// socket the Source opened, through the driver's DialFunc.
//
// # Lost connections
//
// A read in key order that loses its connection (the driver's invalid or
// bad connection, a network error, the connection killed (KILL, 1927),
// server shutdown (1053), lost server (2006, 2013), a KILL QUERY the
// connector did not send (1317)) retries after Config.Backoff (200ms,
// doubling up to 5s), up to Config.Attempts (5) failures in a row. MySQL
// cannot re-attach to the old snapshot, so the retry opens a new
// connection with a NEW snapshot and resumes strictly after the last row
// handed to the consumer: the filter gains key >= (last key), written with
// placeholders (composite keys lexicographic, NULLs last), and the rows of
// that key already handed on are skipped. Rows of a batch not handed on
// are read again. Without a primary key to break ties (a table without
// one, a view, a query) rows of equal keys come back in no fixed order, so
// batches are cut where the key changes and a resume goes on strictly
// after the last key; a run of equal keys longer than two batches (in
// rows or bytes) is cut inside, and a lost connection after such a batch
// fails with an error wrapping connectors.ErrUnsupported. So does a lost
// connection after a key whose text or binary value is longer than 65,472
// bytes: the server orders such values by about their first 64 KiB
// (max_sort_length; MariaDB compares 65,532 bytes), so those sharing them
// come back in no fixed order. A single text
// or binary value over 2 GiB fails the read (connectors.ErrBadInput). Because the rest of the table comes from a later point
// in time, the Source records a Resume (the table, the last key handed on,
// the cause and the new snapshot): Resumes and Notes return them, and
// every later Describe lists them in TableInfo.Notes, for the report to
// say "connection lost while reading orders after key (id) = (42); the
// rows after it were read from a new snapshot taken at …". A query killed
// with KILL QUERY leaves the connection alive, and the read resumes on it,
// in the same snapshot. When the retries run out, Err names the table,
// the key after which rows were not read, and the cause. A read in no
// particular order cannot resume and fails at the first lost connection.
// A statement that exceeds the statement timeout fails without a retry.
//
// # Example
//
//	src, err := mysql.Open(ctx, "mysql://reader@legacy.internal/shop?tls=true", connectors.Options{})
//	if err != nil {
//		return err
//	}
//	defer src.Close()
//	rr, err := src.ReadOrdered(ctx, connectors.TableRef{Name: "orders"}, []string{"id"}, connectors.ReadOptions{})
//	if err != nil {
//		return err
//	}
//	defer rr.Release()
//	for rr.Next() {
//		rec := rr.Record() // valid until the next call to Next
//		_ = rec
//	}
//	if err := rr.Err(); err != nil {
//		return err
//	}
//	for _, note := range src.Notes() { // connections lost and resumed
//		fmt.Println(note)
//	}
package mysql
