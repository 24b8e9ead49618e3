package reconcile

import (
	"fmt"
	"strings"
	"time"

	"github.com/reconhq/reconcile/connectors"
)

// Kind classifies one difference.
type Kind uint8

const (
	// Missing: the key is in the source only.
	Missing Kind = iota + 1
	// Extra: the key is in the target only.
	Extra
	// Changed: the key is on both sides and at least one compared column differs.
	Changed
	// Duplicate: the key occurs more than once on one side. Reported once per
	// key and side, with the count, and not classified further.
	Duplicate
	// NullKey: a row whose key has a NULL in it. Such rows cannot be matched;
	// each one is reported, never dropped.
	NullKey
	// InFlight: a row that would be Missing, Extra or Changed but whose
	// in-flight column (Options.InFlight) is recent on a side it is on: a
	// change still being copied, not drift yet. Listed like the kind it
	// would have been (Change.InFlightAs), counted in Counts.InFlight and
	// left out of the verdict.
	InFlight
)

var kindNames = [...]string{Missing: "missing", Extra: "extra", Changed: "changed", Duplicate: "duplicate", NullKey: "null_key", InFlight: "in_flight"}

// Kinds lists every kind of drift in report order. InFlight is not drift
// and is not among them.
var Kinds = []Kind{Missing, Extra, Changed, Duplicate, NullKey}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Side names one of the two inputs.
type Side uint8

const (
	SourceSide Side = iota + 1
	TargetSide
)

func (s Side) String() string {
	switch s {
	case SourceSide:
		return "source"
	case TargetSide:
		return "target"
	}
	return ""
}

// Field is a named value.
type Field struct {
	Name  string
	Value Value
}

// Change is one difference the engine found.
type Change struct {
	Kind Kind
	// Key holds the key columns (source names) and their values.
	Key []Field
	// Side is set for Duplicate and NullKey.
	Side Side
	// Count is the number of rows with this key on Side (Duplicate) .
	Count int64
	// InFlightAs is, for an InFlight change, the kind it would have been:
	// Missing, Extra or Changed.
	InFlightAs Kind
	// Columns names the differing columns (source names) of a Changed row
	// (or of an InFlight one that would have been Changed). A column whose
	// values differ within its tolerance (ColumnRule.Equal) is not listed.
	Columns []string
	// Source and Target hold values: for Changed, the differing columns on
	// each side (named by source names); for Missing the source row, for
	// Extra the target row, for NullKey and Duplicate the row of that side
	// (the first one seen, for a Duplicate). An InFlight change holds what
	// the kind it would have been holds. With normalisers
	// (Options.ColumnRules) the values are the normalised ones (the
	// stored ones are in SourceRaw and TargetRaw).
	Source []Field
	Target []Field
	// SourceContext and TargetContext hold the Options.Context columns of
	// the source and target rows (source names, in Options.Context order),
	// whenever the change carries that side's row: both for a Changed
	// change, whether or not those columns differ. They are never among
	// Columns.
	SourceContext []Field
	TargetContext []Field
	// SourceRaw and TargetRaw hold, with normalisers, the stored values
	// of the normalised columns of the source and target rows: what each
	// side holds before its normaliser ran ("  Alice@X.COM " where Source
	// says "alice@x.com"), encoded with the column's stored type, so that
	// a fix writes and guards on what is stored. They list every
	// normalised column read (key, compared and Context columns alike;
	// source names, in name order), whenever the change carries that
	// side's row: both for a Changed change, whether or not those
	// columns differ. They are nil when no column is normalised. Only the
	// normalised values are compared, hashed and reported.
	SourceRaw []Field
	TargetRaw []Field
}

// KeyString renders the key as "a=1, b=x" for text reports.
func (c *Change) KeyString() string {
	var sb strings.Builder
	for i, f := range c.Key {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(f.Name)
		sb.WriteByte('=')
		sb.WriteString(f.Value.String())
	}
	return sb.String()
}

// Counts holds the number of keys per classification.
type Counts struct {
	Matched   int64 `json:"matched"`
	Missing   int64 `json:"missing"`
	Extra     int64 `json:"extra"`
	Changed   int64 `json:"changed"`
	Duplicate int64 `json:"duplicate"`
	NullKey   int64 `json:"null_key"`
	// InFlight counts the rows that would be Missing, Extra or Changed
	// but are in flight (Options.InFlight); they are not differences.
	InFlight int64 `json:"in_flight,omitempty"`
	// Tolerated counts the rows among Matched whose values differ but
	// within their columns' tolerances (ColumnRule.Equal).
	Tolerated int64 `json:"tolerated,omitempty"`
}

// Of returns the count of one kind.
func (c Counts) Of(k Kind) int64 {
	switch k {
	case Missing:
		return c.Missing
	case Extra:
		return c.Extra
	case Changed:
		return c.Changed
	case Duplicate:
		return c.Duplicate
	case NullKey:
		return c.NullKey
	case InFlight:
		return c.InFlight
	}
	return 0
}

func (c *Counts) add(k Kind, n int64) {
	switch k {
	case Missing:
		c.Missing += n
	case Extra:
		c.Extra += n
	case Changed:
		c.Changed += n
	case Duplicate:
		c.Duplicate += n
	case NullKey:
		c.NullKey += n
	case InFlight:
		c.InFlight += n
	}
}

// Differences is the number of differences of every kind, which is what
// the verdict counts: rows in flight are not among them.
func (c Counts) Differences() int64 {
	return c.Missing + c.Extra + c.Changed + c.Duplicate + c.NullKey
}

// ColumnChecksum is the order-independent checksum of one column.
type ColumnChecksum struct {
	Name     string // the column's source-side name
	Checksum uint64
}

// SideStats describes what was read from one side.
type SideStats struct {
	Name string
	// Table is what was read from a database source: a table name, or
	// "query"; empty for a file.
	Table string
	// Snapshot is the point in time a database source was read at, when
	// the source says.
	Snapshot *connectors.Consistency
	// Notes are the source's remarks on how it read the data (a column
	// compared by its text output, ...).
	Notes []string
	Rows  int64
	// Checksum is the sum mod 2^64 of the row digests (a row digest folds
	// the digests of the key and compared columns, ordered by source name).
	Checksum uint64
	// ChecksumKind is empty for that checksum. A bisect run reads most rows
	// only through the databases' segment checksums; Checksum is then the
	// sum of the databases' row hashes and ChecksumKind names them (e.g.
	// "database sums of MD5 row hashes"). Compare such checksums only with
	// checksums of the same kind.
	ChecksumKind string
	// Columns holds the per-column checksums (sum of cell digests), ordered
	// by source name.
	Columns []ColumnChecksum
}

// TypeMismatch is a column typed differently on the two sides.
type TypeMismatch struct {
	Column     string // source name
	SourceType string
	TargetType string
	// Compared is false for a pair with no meaningful common reading (say
	// boolean vs timestamp); such a column is left out of the comparison.
	Compared bool
}

// SchemaDiff is the schema drift between the two sides.
type SchemaDiff struct {
	OnlyInSource []string
	OnlyInTarget []string
	TypeMismatch []TypeMismatch
}

// Drifted reports whether the schemas differ in a way that makes the two
// sides disagree.
//
// A column typed differently on the two sides but compared by logical value
// is reported and is not drift: its values decide. Columns on one side only
// and type pairs left uncompared are drift.
func (s SchemaDiff) Drifted() bool {
	if len(s.OnlyInSource)+len(s.OnlyInTarget) > 0 {
		return true
	}
	for _, m := range s.TypeMismatch {
		if !m.Compared {
			return true
		}
	}
	return false
}

// Empty reports whether there is nothing at all to say about the schemas.
func (s SchemaDiff) Empty() bool {
	return len(s.OnlyInSource)+len(s.OnlyInTarget)+len(s.TypeMismatch) == 0
}

// ColumnDrift counts changed rows per compared column.
type ColumnDrift struct {
	Name    string // source name
	Target  string // target name, when mapped
	Changed int64
	// Tolerated counts the rows whose values of this column differ within
	// its tolerance (ColumnRule.Equal), so that the column is not counted
	// as changed for them.
	Tolerated int64
}

// PlanStats describes how the diff ran.
type PlanStats struct {
	Algorithm string // "merge", "hash" or "bisect"
	Note      string // why this algorithm, e.g. a fallback from merge
	// Rules describes the declared rules the comparison applied: one line
	// per column with a ColumnRule (its Describe, in source name order),
	// then the in-flight rule. Empty without rules.
	Rules        []string
	Partitions   int
	SpilledParts int
	SpilledBytes int64
	Elapsed      time.Duration

	// Bisect statistics: segments checksummed and found different, rows
	// read from both sides, statements run (checksums, boundaries, reads)
	// and the time each side's database took over the checksum and
	// boundary statements.
	Segments           int64
	SegmentsMismatched int64
	RowsFetched        int64
	Queries            int64
	SourceDBTime       time.Duration
	TargetDBTime       time.Duration
	// BytesReceived is what the sources received from their servers
	// during the bisect, for sources that count it (connectors.Meter).
	BytesReceived int64
}

// Result is the complete outcome of a diff. Counts and checksums are always
// complete; only the list of changes handed to the sink may be capped.
type Result struct {
	Source, Target SideStats
	Key            []string
	Compared       []string // compared columns (source names), sorted
	Schema         SchemaDiff
	Summary        Counts
	Columns        []ColumnDrift // compared non-key columns in name order
	Listed         int64         // changes handed to the sink
	Plan           PlanStats
}

// Consistent reports whether the two sides agree: no difference of any kind
// (rows in flight are not differences) and no schema drift.
func (r *Result) Consistent() bool {
	return r.Summary.Differences() == 0 && !r.Schema.Drifted()
}
