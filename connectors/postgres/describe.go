package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/reconhq/reconcile/connectors"
)

// kind is how a column travels: the binary form the server sends for its
// SELECT expression, and the Arrow type it is decoded into.
type kind uint8

const (
	kindInt2        kind = iota + 1 // int2 → Int16
	kindInt4                        // int4 → Int32
	kindInt8                        // int8 → Int64
	kindFloat4                      // float4 → Float32
	kindFloat8                      // float8 → Float64
	kindNumeric128                  // numeric(p≤38, s) → Decimal128(p, s)
	kindNumericText                 // numeric → String holding the exact decimal
	kindBool                        // bool → Boolean
	kindDate                        // date → Date32
	kindTimestamp                   // timestamp, timestamptz → Timestamp(µs)
	kindTime                        // time → Time64(µs)
	kindText                        // text and everything read as text → String
	kindBPChar                      // char(n) → String without the trailing pad
	kindJSONB                       // jsonb: a version byte, then JSON text → String
	kindUUID                        // uuid → String, 8-4-4-4-12 lower case
	kindBytea                       // bytea → Binary
	kindOID                         // oid: tableoid, a tie-breaker only
	kindTID                         // tid: ctid, a tie-breaker only
)

// colPlan is how one column is read.
type colPlan struct {
	name     string
	typeName string // the column's type as PostgreSQL names it
	baseName string // the type key literals are cast to (domains resolved)
	kind     kind
	expr     string // the SELECT expression
	field    arrow.Field
	notNull  bool
	// unordered says why the column cannot be a key of an ordered read
	// ("" when it can).
	unordered string
	precision int32
	scale     int32
	// utf8Order: the database's encoding is neither UTF8 nor SQL_ASCII,
	// so a text key orders by its UTF-8 bytes (convert_to), not by the
	// server encoding's bytes (COLLATE "C").
	utf8Order bool
}

// textOrder reports whether the column orders as text, byte-wise.
func (c *colPlan) textOrder() bool { return c.kind == kindText || c.kind == kindBPChar }

// orderExpr is the expression ORDER BY and resume predicates use: text
// in UTF-8 byte order (COLLATE "C", or convert_to to UTF-8 bytea when the
// server encoding is another one), every other key type in its natural
// order.
func (c *colPlan) orderExpr() string {
	if c.textOrder() {
		if c.utf8Order {
			return "pg_catalog.convert_to((" + c.expr + ")::text, 'UTF8')"
		}
		return "(" + c.expr + `) COLLATE "C"`
	}
	return c.expr
}

// Tie-breakers: the row identity that orders rows with equal keys, so
// that a resumed read continues exactly where the lost one stopped. A
// row's ctid does not change inside one snapshot; across the tables of
// an inheritance tree or the partitions of a partitioned table, tableoid
// tells equal ctids apart.
var (
	tieTableOID = colPlan{name: "tableoid", typeName: "oid", baseName: "oid", kind: kindOID, expr: "tableoid", notNull: true}
	tieCTID     = colPlan{name: "ctid", typeName: "tid", baseName: "tid", kind: kindTID, expr: "ctid", notNull: true}
)

// tablePlan is what Describe learned about a TableRef.
type tablePlan struct {
	name  string // how messages name the table: the TableRef's Name, or "query"
	from  string // the FROM item
	where string // the user's filter, ready to embed; "" for none
	cols  []colPlan
	// ties are the tie-breakers of an ordered read whose key may repeat
	// (ctid, or tableoid and ctid); none for views, foreign tables and
	// queries. col(len(cols)+i) is ties[i]; column never finds them.
	ties []colPlan
	info connectors.TableInfo
	// inherited: a table with inheritance children, whose primary key
	// PostgreSQL does not enforce across them.
	inherited bool
}

// col returns plan column i: a column of the table, or past them a
// tie-breaker.
func (p *tablePlan) col(i int) *colPlan {
	if i < len(p.cols) {
		return &p.cols[i]
	}
	return &p.ties[i-len(p.cols)]
}

// tieBreakers returns the plan indexes of the tie-breakers.
func (p *tablePlan) tieBreakers() []int {
	out := make([]int, len(p.ties))
	for i := range out {
		out[i] = len(p.cols) + i
	}
	return out
}

// uniqueKey reports whether rows never share a value of the key columns
// keys: they include every column of the primary key.
func (p *tablePlan) uniqueKey(keys []int) bool {
	if len(p.info.PrimaryKey) == 0 || p.inherited {
		return false
	}
	for _, k := range p.info.PrimaryKey {
		i := p.column(k)
		if i < 0 || !slices.Contains(keys, i) {
			return false
		}
	}
	return true
}

func (p *tablePlan) column(name string) int {
	for i := range p.cols {
		if p.cols[i].name == name {
			return i
		}
	}
	return -1
}

var (
	metaJSON    = arrow.NewMetadata([]string{connectors.MetaLogical}, []string{connectors.LogicalJSON})
	metaDecimal = arrow.NewMetadata([]string{connectors.MetaLogical}, []string{connectors.LogicalDecimal})
)

// Describe returns the table's Arrow schema, primary key, row estimate,
// notes on columns read as text, and the snapshot every read sees.
func (s *Source) Describe(ctx context.Context, ref connectors.TableRef) (*connectors.TableInfo, error) {
	p, err := s.plan(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", refName(ref), err)
	}
	info := p.info
	info.PrimaryKey = append([]string(nil), p.info.PrimaryKey...)
	info.Notes = append([]string(nil), p.info.Notes...)
	c := *p.info.Consistency
	info.Consistency = &c
	return &info, nil
}

// refName is how messages and reports name a TableRef: its table name,
// or "query".
func refName(ref connectors.TableRef) string { return ref.String() }

// plan describes ref once per Source; the result is cached. Its errors
// are for the caller to prefix.
func (s *Source) plan(ctx context.Context, ref connectors.TableRef) (*tablePlan, error) {
	if ref.Name == "" && ref.Query == "" {
		return nil, fmt.Errorf("a PostgreSQL source needs a table name or a query: %w", connectors.ErrTableNotFound)
	}
	if ref.Name != "" && ref.Query != "" {
		return nil, fmt.Errorf("give a table name or a query, not both: %w", connectors.ErrUnsupported)
	}
	s.mu.Lock()
	if p := s.plans[ref]; p != nil {
		s.mu.Unlock()
		return p, nil
	}
	s.mu.Unlock()
	var p *tablePlan
	err := s.retry(ctx, func(fresh bool) error {
		l, err := s.acquire(ctx, fresh)
		if err != nil {
			return err
		}
		p, err = s.describeOn(ctx, l.conn, ref)
		l.release(err == nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.info.Notes = append(p.info.Notes, s.notes...)
	c := s.consistency
	p.info.Consistency = &c
	s.mu.Lock()
	if s.plans != nil {
		s.plans[ref] = p
	}
	s.mu.Unlock()
	return p, nil
}

// column is a column as the catalog or a statement description gives it.
type column struct {
	name    string
	oid     uint32
	typmod  int32
	notNull bool
	display string // format_type(oid, typmod)
}

func (s *Source) describeOn(ctx context.Context, conn *pgx.Conn, ref connectors.TableRef) (*tablePlan, error) {
	p := &tablePlan{name: refName(ref), info: connectors.TableInfo{Name: refName(ref), EstimatedRows: -1}}
	var cols []column
	if ref.Query != "" {
		if !enclosed(ref.Query) {
			return nil, fmt.Errorf("query %q: unbalanced parentheses, quotes or comment; the query must stand on its own as a subquery: %w", shorten(ref.Query), connectors.ErrBadInput)
		}
		p.from = "(" + userSQL(ref.Query) + ") AS q"
		sd, err := conn.PgConn().Prepare(ctx, "", "SELECT * FROM "+p.from, nil)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", shorten(ref.Query), err)
		}
		seen := map[string]bool{}
		for _, f := range sd.Fields {
			if seen[f.Name] {
				return nil, fmt.Errorf("query %q: two columns are named %q; name them apart with AS: %w",
					shorten(ref.Query), f.Name, connectors.ErrUnsupported)
			}
			seen[f.Name] = true
			cols = append(cols, column{name: f.Name, oid: f.DataTypeOID, typmod: f.TypeModifier})
		}
		if err := typeDisplayNames(ctx, conn, cols); err != nil {
			return nil, err
		}
	} else {
		var err error
		cols, err = s.describeTable(ctx, conn, ref.Name, p)
		if err != nil {
			return nil, err
		}
	}
	oids := make([]uint32, len(cols))
	for i, c := range cols {
		oids[i] = c.oid
	}
	types, err := loadTypes(ctx, conn, oids)
	if err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		cp, note := mapColumn(c, types)
		cp.utf8Order = cp.textOrder() && s.nonUTF8
		p.cols = append(p.cols, cp)
		fields[i] = cp.field
		if note != "" {
			p.info.Notes = append(p.info.Notes, note)
		}
	}
	p.info.Schema = arrow.NewSchema(fields, nil)
	if ref.Where != "" {
		if !enclosed(ref.Where) {
			return nil, fmt.Errorf("filter %q: unbalanced parentheses, quotes or comment; the filter must stand on its own in parentheses: %w", shorten(ref.Where), connectors.ErrBadInput)
		}
		p.where = userSQL(ref.Where)
		p.info.EstimatedRows = -1
	}
	// Check the filter and our own expressions before any read: a
	// statement that does not prepare is never sent as a COPY.
	all := make([]int, len(p.cols))
	for i := range all {
		all[i] = i
	}
	if _, err := conn.PgConn().Prepare(ctx, "", p.selectSQL(all, nil, ""), nil); err != nil {
		if ref.Where != "" {
			return nil, fmt.Errorf("filter %q: %w", shorten(ref.Where), err)
		}
		return nil, err
	}
	return p, nil
}

// describeTable finds a table (or view) by name and returns its columns,
// filling in the plan's FROM item, primary key and row estimate.
func (s *Source) describeTable(ctx context.Context, conn *pgx.Conn, name string, p *tablePlan) ([]column, error) {
	tn, err := parseTableName(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, connectors.ErrTableNotFound)
	}
	var (
		oid       uint32
		nsp, rel  string
		relkind   string
		reltuples float64
		children  bool
	)
	err = conn.QueryRow(ctx, `
SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.reltuples::float8, c.relhassubclass
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND CASE WHEN $2 = '' THEN pg_catalog.pg_table_is_visible(c.oid) ELSE n.nspname = $2 END`,
		tn.name, tn.schema).Scan(&oid, &nsp, &rel, &relkind, &reltuples, &children)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, s.notFound(ctx, conn, tn)
	}
	if err != nil {
		return nil, fmt.Errorf("look up table: %w", err)
	}
	p.from = quoteIdent(nsp) + "." + quoteIdent(rel)
	switch {
	case relkind == "p" || relkind == "r" && children:
		// Partitions and inheritance children each number their rows.
		p.ties = []colPlan{tieTableOID, tieCTID}
		p.inherited = relkind == "r"
	case relkind == "r" || relkind == "m":
		p.ties = []colPlan{tieCTID}
	}
	// A foreign table's NOT NULL is a promise about the remote data that
	// nobody checks, and so is that of a parent with a foreign table
	// among its partitions or inheritance children.
	foreign := relkind == "f"
	if children && !foreign {
		err := conn.QueryRow(ctx, `
WITH RECURSIVE d(oid) AS (
  SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = $1
  UNION
  SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN d ON i.inhparent = d.oid)
SELECT EXISTS (SELECT 1 FROM d JOIN pg_catalog.pg_class c ON c.oid = d.oid WHERE c.relkind = 'f')`, oid).Scan(&foreign)
		if err != nil {
			return nil, fmt.Errorf("look up partitions: %w", err)
		}
	}
	if (relkind == "r" || relkind == "m" || relkind == "p") && reltuples >= 0 {
		p.info.EstimatedRows = int64(reltuples)
	}
	rows, err := conn.Query(ctx, `
SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, pg_catalog.format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.oid, &c.typmod, &c.notNull, &c.display); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns: %w", err)
		}
		c.notNull = c.notNull && !foreign
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	rows, err = conn.Query(ctx, `
SELECT a.attname
FROM pg_catalog.pg_index i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1 AND i.indisprimary
ORDER BY k.ord`, oid)
	if err != nil {
		return nil, fmt.Errorf("read primary key: %w", err)
	}
	pk, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read primary key: %w", err)
	}
	p.info.PrimaryKey = pk
	return cols, nil
}

// notFound builds the error for a table that is not there, with the
// search_path for an unqualified name and tables whose names differ only
// in case.
func (s *Source) notFound(ctx context.Context, conn *pgx.Conn, tn tableName) error {
	msg := fmt.Sprintf("no table or view %s", tn.quoted())
	if tn.schema == "" {
		var path string
		if err := conn.QueryRow(ctx, "SELECT current_setting('search_path')").Scan(&path); err == nil {
			msg += fmt.Sprintf(" in the search_path (%s)", path)
		}
	}
	rows, err := conn.Query(ctx, `
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE lower(c.relname) = lower($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND ($2 = '' OR lower(n.nspname) = lower($2))
ORDER BY 1 LIMIT 3`, tn.name, tn.schema)
	if err == nil {
		if similar, err := pgx.CollectRows(rows, pgx.RowTo[string]); err == nil && len(similar) > 0 {
			msg += fmt.Sprintf(" (did you mean %s? quote names that hold capitals)", strings.Join(similar, ", "))
		}
	}
	return fmt.Errorf("%s: %w", msg, connectors.ErrTableNotFound)
}

// typeDisplayNames sets how PostgreSQL names each column's type, with its
// modifier ("numeric(12,2)").
func typeDisplayNames(ctx context.Context, conn *pgx.Conn, cols []column) error {
	oids := make([]uint32, len(cols))
	mods := make([]int32, len(cols))
	for i, c := range cols {
		oids[i], mods[i] = c.oid, c.typmod
	}
	rows, err := conn.Query(ctx, `
SELECT pg_catalog.format_type(u.o, u.m) FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS u(o, m, n) ORDER BY u.n`, oids, mods)
	if err != nil {
		return fmt.Errorf("read types: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read types: %w", err)
	}
	for i := range cols {
		if i < len(names) {
			cols[i].display = names[i]
		}
	}
	return nil
}

// pgType is a row of pg_type.
type pgType struct {
	oid       uint32
	name      string
	typtype   string // b base, c composite, d domain, e enum, p pseudo, r range, m multirange
	category  string // A array, ...
	base      uint32 // of a domain
	typmod    int32  // of a domain
	elem      uint32
	formatted string // format_type(oid, NULL)
}

// loadTypes reads the types of oids and, for domains, of their base types.
func loadTypes(ctx context.Context, conn *pgx.Conn, oids []uint32) (map[uint32]pgType, error) {
	types := map[uint32]pgType{}
	want := oids
	for depth := 0; len(want) > 0 && depth < 32; depth++ {
		rows, err := conn.Query(ctx, `
SELECT t.oid, t.typname, t.typtype::text, t.typcategory::text, t.typbasetype, t.typtypmod, t.typelem,
       pg_catalog.format_type(t.oid, NULL)
FROM pg_catalog.pg_type t WHERE t.oid = ANY($1)`, want)
		if err != nil {
			return nil, fmt.Errorf("read types: %w", err)
		}
		var next []uint32
		for rows.Next() {
			var t pgType
			if err := rows.Scan(&t.oid, &t.name, &t.typtype, &t.category, &t.base, &t.typmod, &t.elem, &t.formatted); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read types: %w", err)
			}
			types[t.oid] = t
			if t.typtype == "d" {
				if _, ok := types[t.base]; !ok {
					next = append(next, t.base)
				}
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read types: %w", err)
		}
		want = next
	}
	return types, nil
}

// mapColumn decides how a column is read; note is set for a column read
// as text for want of a better type.
func mapColumn(c column, types map[uint32]pgType) (cp colPlan, note string) {
	t, known := types[c.oid]
	cp = colPlan{name: c.name, notNull: c.notNull, typeName: c.display}
	if cp.typeName == "" {
		cp.typeName = t.formatted
	}
	if !known {
		cp.typeName = fmt.Sprintf("type %d", c.oid)
	}
	if t.typtype == "d" && c.typmod < 0 {
		c.typmod = t.typmod
	}
	// A domain reads as its base type.
	base := t
	for i := 0; base.typtype == "d" && i < 32; i++ {
		next, ok := types[base.base]
		if !ok {
			break
		}
		base = next
		if c.typmod < 0 && base.typtype == "d" {
			c.typmod = base.typmod
		}
	}
	cp.baseName = base.formatted
	q := quoteIdent(c.name)
	cp.expr = q
	field := func(dt arrow.DataType, md arrow.Metadata) {
		keys := append(md.Keys(), connectors.MetaDBType)
		vals := append(md.Values(), cp.typeName)
		cp.field = arrow.Field{Name: c.name, Type: dt, Nullable: !c.notNull, Metadata: arrow.NewMetadata(keys, vals)}
	}
	asText := func() {
		cp.kind = kindText
		cp.expr = q + "::text"
		field(arrow.BinaryTypes.String, arrow.Metadata{})
	}
	switch base.oid {
	case pgtype.Int2OID:
		cp.kind = kindInt2
		field(arrow.PrimitiveTypes.Int16, arrow.Metadata{})
	case pgtype.Int4OID:
		cp.kind = kindInt4
		field(arrow.PrimitiveTypes.Int32, arrow.Metadata{})
	case pgtype.Int8OID:
		cp.kind = kindInt8
		field(arrow.PrimitiveTypes.Int64, arrow.Metadata{})
	case pgtype.Float4OID:
		cp.kind = kindFloat4
		field(arrow.PrimitiveTypes.Float32, arrow.Metadata{})
	case pgtype.Float8OID:
		cp.kind = kindFloat8
		field(arrow.PrimitiveTypes.Float64, arrow.Metadata{})
	case pgtype.NumericOID:
		if p, s, ok := numericTypmod(c.typmod); ok && p <= 38 && s >= 0 && s <= p {
			cp.kind = kindNumeric128
			cp.precision, cp.scale = p, s
			field(&arrow.Decimal128Type{Precision: p, Scale: s}, arrow.Metadata{})
		} else {
			cp.kind = kindNumericText
			field(arrow.BinaryTypes.String, metaDecimal)
		}
	case pgtype.BoolOID:
		cp.kind = kindBool
		field(arrow.FixedWidthTypes.Boolean, arrow.Metadata{})
	case pgtype.DateOID:
		cp.kind = kindDate
		field(arrow.FixedWidthTypes.Date32, arrow.Metadata{})
	case pgtype.TimestampOID:
		cp.kind = kindTimestamp
		field(&arrow.TimestampType{Unit: arrow.Microsecond}, arrow.Metadata{})
	case pgtype.TimestamptzOID:
		cp.kind = kindTimestamp
		field(&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, arrow.Metadata{})
	case pgtype.TimeOID:
		cp.kind = kindTime
		field(arrow.FixedWidthTypes.Time64us, arrow.Metadata{})
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.NameOID:
		cp.kind = kindText
		field(arrow.BinaryTypes.String, arrow.Metadata{})
	case pgtype.BPCharOID:
		// Read as sent, pad and all, and trimmed by the decoder as
		// PostgreSQL's char → text cast would: the cast on the server
		// costs more than the rest of the COPY of a pgbench table.
		cp.kind = kindBPChar
		field(arrow.BinaryTypes.String, arrow.Metadata{})
	case pgtype.IntervalOID:
		// interval → text is ISO 8601 under IntervalStyle iso_8601.
		asText()
	case pgtype.InetOID:
		// inet's cast to text always shows the netmask; abbrev gives the
		// output function's text ("10.0.0.1", "10.0.0.0/8").
		asText()
		cp.expr = "pg_catalog.abbrev(" + q + ")"
		note = fmt.Sprintf("column %s (%s) compared by its text output", c.name, cp.typeName)
	case pgtype.UUIDOID:
		cp.kind = kindUUID
		field(arrow.BinaryTypes.String, arrow.Metadata{})
	case pgtype.JSONOID:
		cp.kind = kindText
		cp.unordered = "json has no order"
		field(arrow.BinaryTypes.String, metaJSON)
	case pgtype.JSONBOID:
		cp.kind = kindJSONB
		cp.unordered = "jsonb is compared as JSON, which has no order PostgreSQL can sort by"
		field(arrow.BinaryTypes.String, metaJSON)
	case pgtype.ByteaOID:
		cp.kind = kindBytea
		field(arrow.BinaryTypes.Binary, arrow.Metadata{})
	default:
		switch {
		case base.typtype == "e":
			asText()
		case base.category == "A" && base.elem != 0:
			cp.kind = kindText
			cp.expr = "pg_catalog.to_jsonb(" + q + ")::text"
			cp.unordered = "arrays are compared as JSON, which has no order PostgreSQL can sort by"
			field(arrow.BinaryTypes.String, metaJSON)
			note = fmt.Sprintf("column %s (%s) compared as a JSON array", c.name, cp.typeName)
		case base.name == "citext":
			asText()
			note = fmt.Sprintf("column %s (%s) compared as text, case-sensitively", c.name, cp.typeName)
		default:
			asText()
			note = fmt.Sprintf("column %s (%s) compared by its text output", c.name, cp.typeName)
		}
	}
	return cp, note
}

// numericTypmod decodes numeric(p, s) from a type modifier.
func numericTypmod(typmod int32) (precision, scale int32, ok bool) {
	if typmod < 4 {
		return 0, 0, false
	}
	t := typmod - 4
	precision = (t >> 16) & 0xffff
	scale = ((t & 0x7ff) ^ 1024) - 1024 // 11-bit signed since PostgreSQL 15
	return precision, scale, precision > 0
}

// selectSQL is the SELECT of a read: the expressions of cols, the user's
// filter and a resume predicate, and the order of keys.
func (p *tablePlan) selectSQL(cols, keys []int, resume string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.col(c).expr)
	}
	b.WriteString(" FROM ")
	b.WriteString(p.from)
	switch {
	case p.where != "" && resume != "":
		b.WriteString(" WHERE (" + p.where + ") AND (" + resume + ")")
	case p.where != "":
		b.WriteString(" WHERE (" + p.where + ")")
	case resume != "":
		b.WriteString(" WHERE " + resume)
	}
	if len(keys) > 0 {
		b.WriteString(" ORDER BY ")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p.col(k).orderExpr() + " ASC NULLS LAST")
		}
	}
	return b.String()
}
