// Package file is the connector for files that hold one table: CSV, TSV,
// JSON Lines, Parquet and Arrow IPC. It implements connectors.Source.
//
// # Formats
//
// The format comes from the file name, unless connectors.Options.Format
// names one ("csv", "tsv", "jsonl", "parquet", "arrow", with an optional
// ".gz" for the text formats):
//
//	.csv .tsv                   RFC 4180 text with a header row
//	.jsonl .ndjson              one JSON object per line
//	.parquet                    Parquet, read with pqarrow
//	.arrow .ipc .feather        Arrow IPC file format, or the stream format
//	                            (told apart by the "ARROW1" magic)
//	.csv.gz .tsv.gz .jsonl.gz   gzip-compressed text (any text file whose
//	.ndjson.gz                  first bytes are the gzip magic is inflated)
//
// Any other extension is an error wrapping connectors.ErrUnsupported; a
// missing file wraps connectors.ErrTableNotFound. Malformed data is a
// *ParseError ("file.csv:12: row has 3 fields, header has 4") wrapping
// connectors.ErrBadInput; its line is the physical line where the record
// starts.
//
// Parquet and Arrow files keep their own Arrow types; Options.Types
// applies to CSV, TSV and JSON Lines, Options.NullValue and
// Options.Delimiter to CSV and TSV. Describe reports the row count from the
// Parquet metadata or by counting the IPC batches, and -1 for text formats.
//
// # CSV and TSV
//
// The first record names the columns (duplicate or empty names are
// errors). Quoted fields may hold delimiters, doubled quotes and line
// breaks; lines end in LF or CRLF; a UTF-8 byte order mark is skipped;
// empty lines at the end of the file are ignored. Options.Delimiter sets
// the separator (TSV uses a tab). Every field must be valid UTF-8 and every
// row must have as many fields as the header. The tokenizer is the
// package's own: it reads 1 MiB at a time and locates fields without
// copying them, eight bytes at a time.
//
// Column types are inferred from every value of the column by a first pass
// over the file (skipped when Options.Types forces every column), and are
// never lossy:
//
//	integer    -?(0|[1-9][0-9]*) within int64                → Int64
//	decimal    -?(0|[1-9][0-9]*)\.[0-9]+, with the integers   → Decimal128(38, S),
//	           of the column, within 38 digits at scale S      S the largest scale
//	float      an exponent (1e5, -2.5E-3) or NaN, Inf, -Inf,  → Float64
//	           Infinity in any case, whose float64 prints back
//	           as the same value
//	boolean    true or false in any case                      → Boolean
//	date       YYYY-MM-DD, a valid calendar date              → Date32
//	timestamp  YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±HH:MM|±HHMM] → Timestamp(µs, "UTC")
//	text       anything else                                   → String
//
// A column whose values fall in several classes is text, with three
// exceptions: integers and decimals make a decimal column; integers,
// decimals and floats make a Float64 column when every value is exact in
// float64 (integers up to 2^53, decimals of at most 15 significant digits
// or that print back unchanged), and text otherwise; dates and timestamps
// make a timestamp column (dates at midnight). So "00123", "+5" and a
// 20-digit number are text, and so is the whole column they are in.
// Timestamps without a zone are UTC; others are converted to UTC; digits
// beyond microseconds are truncated. TableInfo.Notes says why a column that
// also held numbers, dates or booleans was read as text.
//
// # NULL
//
// In CSV there is no NULL unless Options.NullValue sets a marker: an empty
// field is the empty string, so one empty field makes a numeric column
// text. A field equal to the marker, quoted or not, is NULL and plays no
// part in inference, except that a quoted "" is always the empty string
// (with NullValue "", only unquoted empty fields are NULL). A column with no
// value but NULLs is text.
//
// # Type overrides
//
// Options.Types forces column types by name: "integer", "decimal" (scale
// from the data) or "decimal(p,s)", "float", "boolean", "timestamp",
// "date", "text" and "json" (a String column whose Arrow field metadata
// has reconcile.logical=json; see connectors.MetaLogical). Forced columns accept a
// little more than inference does (leading zeros and "+" for integers,
// 1/0 and t/f for booleans, dates in timestamp columns) and report a value
// they cannot hold exactly as an error:
//
//	billing.csv:7: column amount: "abc" is not a valid integer
//
// A forced column name the file lacks is an error wrapping
// connectors.ErrColumnNotFound.
//
// # JSON Lines
//
// Each non-blank line is one JSON object; the columns are the union of
// their keys in first-seen order, and a missing key or null is NULL. Types
// follow the JSON kinds of all the values of a column: integers within
// int64 → Int64; other numbers → Decimal128(38, S) when they are exact
// decimals within 38 digits, else Float64 when they survive float64, else
// text holding the literal; strings → String (no date inference); booleans
// → Boolean; objects and arrays → JSON text (compacted); a mix of kinds →
// JSON text of each value, so the string "1" and the number 1 stay
// different. JSON text columns carry reconcile.logical=json.
//
// # Reading
//
// Describe may be called any number of times; the inferred plan is cached.
// Read streams record batches of ReadOptions.BatchRows rows (default
// DefaultBatchRows, ParquetBatchRows for Parquet) allocated with ReadOptions.Allocator (else
// Options.Allocator, else memory.DefaultAllocator), with the columns of
// ReadOptions.Columns in that order. The caller releases the reader; each
// record is valid until the next call to Next. Cancelling ctx stops the
// reader, whose Err then returns ctx.Err().
//
// Parquet specifics: with memory.DefaultAllocator, a reader builds its
// batches in buffers of its own pool (internal/arrowpool), which takes
// back the buffers of released batches and hands them out again, so a
// caller must not use a batch's memory after its last Release (with Go's
// allocator that went unnoticed). A read of a dictionary column (an Arrow
// dictionary type in the file's stored schema) cuts its batches at row
// group ends, since arrow-go builds a dictionary batch from one row group
// only.
//
// # Example
//
//	src, err := file.New("billing.csv", connectors.Options{NullValue: &empty})
//	if err != nil {
//		return err
//	}
//	defer src.Close()
//	rr, err := src.Read(ctx, connectors.TableRef{}, connectors.ReadOptions{Columns: []string{"id", "amount"}})
//	if err != nil {
//		return err
//	}
//	defer rr.Release()
//	for rr.Next() {
//		rec := rr.Record() // valid until the next call to Next
//		_ = rec
//	}
//	return rr.Err()
package file
