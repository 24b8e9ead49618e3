package connectors

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Sentinel errors name the kind of a failure; callers test them with errors.Is.
var (
	// ErrTableNotFound: the table, file or object named by a TableRef does not exist.
	ErrTableNotFound = errors.New("table not found")
	// ErrColumnNotFound: a column named by the caller is not in the table.
	ErrColumnNotFound = errors.New("column not found")
	// ErrUnsupported: the source cannot do what was asked (an unknown format,
	// an ordered read from an unordered file, ...).
	ErrUnsupported = errors.New("not supported")
	// ErrBadInput: the data itself is malformed (bad CSV quoting, invalid UTF-8, ...).
	ErrBadInput = errors.New("bad input")
)

// MetaLogical is the Arrow field metadata key a connector sets to give a
// column a logical type Arrow lacks. LogicalJSON marks a string column that
// holds JSON documents; the engine compares them as canonical JSON.
// LogicalDecimal marks a string column that holds exact decimal numbers as
// text ("-12.340", "1e-7", "NaN", "Infinity"), for precisions Arrow's
// decimal types cannot hold; the engine compares them as numbers.
const (
	MetaLogical    = "reconcile.logical"
	LogicalJSON    = "json"
	LogicalDecimal = "decimal"
)

// MetaDBType is the Arrow field metadata key a database connector sets to
// the column's type as the database names it ("character(3)", "bytea",
// "integer[]"). The engine uses a native row hash (Checksummer.NativeHash)
// only where every compared column has the same database type on both
// sides: the engine compares across types by logical value, the database's
// text rendering does not.
const MetaDBType = "reconcile.db_type"

// MetaCollation is the Arrow field metadata key a database connector sets
// on a text column to the collation the database compares it with
// ("utf8mb4_general_ci"). The engine always compares text byte for byte;
// a caller that wants the database's notion of equal text asks for it
// (reconcile diff --collation-aware, with rules.CollationChain).
const MetaCollation = "reconcile.collation"

// MetaInvalid is the Arrow field metadata key a connector sets, with the
// value InvalidMin, on a date, timestamp or time column whose source can
// hold values no Arrow value represents (MySQL's zero dates such as
// 0000-00-00). The connector stores such a value as the smallest value of
// the column's storage type (math.MinInt32 for date32, math.MinInt64 for
// the 64-bit types); the engine reports it as an invalid value, which is
// never equal to a valid one.
const (
	MetaInvalid = "reconcile.invalid"
	InvalidMin  = "min"
)

// TableRef names what to read from a source. File sources hold one table and
// ignore Name; database sources need Name or Query.
type TableRef struct {
	Name  string // "schema.table" or "table"
	Query string // a SELECT in the source's own dialect, instead of Name
	Where string // an optional filter in the source's own dialect
}

func (r TableRef) String() string {
	switch {
	case r.Query != "":
		return "query"
	case r.Name != "":
		return r.Name
	}
	return "(whole source)"
}

// TableInfo describes a table before it is read.
type TableInfo struct {
	// Name is how reports name the table (a file name, a table name).
	Name string
	// Schema is the Arrow schema every record batch of Read carries.
	Schema *arrow.Schema
	// PrimaryKey lists the key columns the source declares, if any.
	PrimaryKey []string
	// EstimatedRows is a row-count estimate, -1 when unknown.
	EstimatedRows int64
	// Notes are facts a report should show, e.g. a column read as text
	// because its type has no canonical form.
	Notes []string
	// Consistency is the point in time every read of this source observes,
	// when the source reads from a snapshot; nil otherwise (files).
	Consistency *Consistency
}

// Consistency identifies the snapshot a database source reads from.
type Consistency struct {
	// Time is the source's clock when the snapshot was taken.
	Time time.Time
	// Position is the source's log position at the snapshot (a PostgreSQL
	// WAL LSN, a MySQL GTID set), empty when unknown.
	Position string
	// Snapshot is the source's identifier of the shared snapshot, if any.
	Snapshot string
}

// Column returns the index of the named column in the schema, or -1.
func (ti *TableInfo) Column(name string) int {
	if ti.Schema == nil {
		return -1
	}
	idx := ti.Schema.FieldIndices(name)
	if len(idx) == 0 {
		return -1
	}
	return idx[0]
}

// ReadOptions shape a Read.
type ReadOptions struct {
	// Columns restricts the read to these columns, in this order; nil reads all.
	Columns []string
	// Allocator is used for every Arrow buffer the reader hands out. A
	// reader given none (or memory.DefaultAllocator) may build its batches
	// in a pool that reuses released buffers (the file connector's Parquet
	// reads, PostgreSQL and MySQL scans): values taken from a batch that must outlive
	// its last Release are to be copied.
	Allocator memory.Allocator
	// BatchRows is the preferred number of rows per record batch; 0 lets the
	// source choose.
	BatchRows int
	// Ranges, when not nil, restricts an ordered read to the rows whose key
	// lies in one of them (ascending, not overlapping), read in one pass.
	// Only a Checksummer's ReadOrdered honours it; the engine sets it for
	// no other source.
	Ranges []KeyRange
}

// Source is the contract every connector implements.
//
// Describe and Read may be called several times and from several goroutines
// once the Source is open. The caller of Read owns the returned reader and
// must Release it; the reader stops with ctx.Err() when ctx is cancelled and
// reports failures through Err, never by returning a short read silently.
type Source interface {
	Describe(ctx context.Context, ref TableRef) (*TableInfo, error)
	Read(ctx context.Context, ref TableRef, opts ReadOptions) (array.RecordReader, error)
	Close() error
}

// OrderedReader is an optional capability: a source that can deliver rows
// sorted by the given key columns (rows with equal keys in no particular
// order) in the engine's canonical key order
// (numbers numerically, text and binary byte-wise, instants, dates and
// times chronologically, false before true, NULLs last, composite keys
// column by column). The engine then diffs
// with a streaming merge whose memory is bounded by one batch.
type OrderedReader interface {
	ReadOrdered(ctx context.Context, ref TableRef, key []string, opts ReadOptions) (array.RecordReader, error)
}

// Noter is an optional capability: a source whose reads can give rise to
// remarks a report must show, such as a connection lost mid-scan and the
// rest read from a later snapshot. The engine adds the notes to the side's
// statistics once the reads are done.
type Noter interface {
	Notes() []string
}

// Options carry per-source settings from the command line or a config file.
// A connector uses the ones that apply to it and ignores the rest.
type Options struct {
	// Format overrides the format a file connector derives from the extension
	// ("csv", "tsv", "jsonl", "parquet", "arrow").
	Format string
	// Delimiter is the CSV field separator; 0 means the format's default.
	Delimiter rune
	// NullValue, when set, is the text that stands for NULL in text formats.
	NullValue *string
	// Types forces column types in text formats: column name → type name
	// ("integer", "decimal", "float", "boolean", "timestamp", "date", "text").
	Types map[string]string
	// Allocator is the default allocator for reads that do not name one.
	Allocator memory.Allocator
	// StatementTimeout and LockTimeout bound each statement a database
	// source runs and each lock it waits for; 0 means the connector's default.
	StatementTimeout time.Duration
	LockTimeout      time.Duration
}

// Opener opens a source at a location (a URL or a path).
type Opener func(ctx context.Context, location string, opts Options) (Source, error)

// Registry maps URL schemes to openers. Locations without a scheme (plain
// paths) go to the opener registered for "file". Build one in main; there is
// no global registry.
type Registry struct {
	openers map[string]Opener
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{openers: map[string]Opener{}} }

// Register adds an opener for a URL scheme (lower case, without "://").
func (r *Registry) Register(scheme string, o Opener) {
	r.openers[strings.ToLower(scheme)] = o
}

// Schemes lists the registered schemes, sorted.
func (r *Registry) Schemes() []string {
	out := make([]string, 0, len(r.openers))
	for s := range r.openers {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open opens location with the opener of its scheme.
func (r *Registry) Open(ctx context.Context, location string, opts Options) (Source, error) {
	scheme := SchemeOf(location)
	o, ok := r.openers[scheme]
	if !ok {
		return nil, fmt.Errorf("open %s: no connector for scheme %q (known: %s): %w",
			Redact(location), scheme, strings.Join(r.Schemes(), ", "), ErrUnsupported)
	}
	return o(ctx, location, opts)
}

// SchemeOf returns the URL scheme of a location, or "file" for a plain path
// (including Windows-style drive letters).
func SchemeOf(location string) string {
	i := strings.Index(location, "://")
	if i <= 1 {
		if strings.HasPrefix(location, "snap:") {
			return "snap"
		}
		return "file"
	}
	s := strings.ToLower(location[:i])
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return "file"
		}
	}
	return s
}

// Redact hides the passwords of a location so it can be printed: the
// password of a URL's user info, password query parameters, and password
// settings of a keyword/value connection string (password=secret). It does not
// rely on the location parsing as a URL, so passwords holding '/', '#', '@'
// or bad escapes are hidden too; in doubt it hides more, never less.
func Redact(location string) string {
	location = passwordParam.ReplaceAllString(location, "${1}xxxxx")
	location = passwordKeyword.ReplaceAllString(location, "${1}${2}xxxxx")
	i := strings.Index(location, "://")
	if i < 0 {
		return location
	}
	rest := location[i+3:]
	// The user info ends at the last '@' before the query; an '@' only in
	// the query is user info too when a ':' precedes it, since the
	// password itself may hold a '?'.
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		q = len(rest)
	}
	at := strings.LastIndex(rest[:q], "@")
	if at < 0 {
		at = strings.LastIndex(rest, "@")
		if at < 0 || !strings.Contains(rest[:at], ":") {
			return location
		}
	}
	user := rest[:at]
	colon := strings.Index(user, ":")
	if colon < 0 {
		return location
	}
	return location[:i+3] + user[:colon] + ":xxxxx" + rest[at:]
}

// passwordParam matches password query parameters (libpq's password and
// sslpassword, and the like).
// The value runs to the next '&' (or the end): a ';' or '#' in it may be
// part of the password, so it is hidden too.
var passwordParam = regexp.MustCompile(`(?i)([?&;](?:ssl)?pass(?:word)?=)[^&]*`)

// passwordKeyword matches password settings of a keyword/value connection
// string: password=secret, password = 'se cret', sslpassword=...
// A value is quoted ('...' with \' and \\ escapes) or runs to the next
// unescaped space; a quote inside an unquoted value is data.
var passwordKeyword = regexp.MustCompile(`(?i)(^|\s)((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)*\\?)`)
