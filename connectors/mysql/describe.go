package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/reconhq/reconcile/connectors"
)

// kind is how a column travels: the value the driver hands over for its
// SELECT expression, and the Arrow type it is decoded into.
type kind uint8

const (
	kindInt8        kind = iota + 1 // tinyint → Int8
	kindInt16                       // smallint, year → Int16
	kindInt32                       // mediumint, int → Int32
	kindInt64                       // bigint → Int64
	kindUint8                       // tinyint unsigned → Uint8
	kindUint16                      // smallint unsigned → Uint16
	kindUint32                      // mediumint, int unsigned → Uint32
	kindUint64                      // bigint unsigned → Uint64
	kindFloat32                     // float (read as col + 0E0) → Float32
	kindFloat64                     // double → Float64
	kindDecimal128                  // decimal(p ≤ 38, s) → Decimal128(p, s)
	kindDecimalText                 // decimal(p > 38, s) → String holding the exact decimal
	kindBool                        // bit(1) → Boolean
	kindBit                         // bit(n) → Uint64
	kindDate                        // date → Date32
	kindTimestamp                   // datetime, timestamp → Timestamp(µs)
	kindTime                        // time → Time64(µs)
	kindText                        // text types, enum, set, json, everything read as text → String
	kindBinary                      // binary, varbinary, blobs → Binary
)

// colPlan is how one column is read.
type colPlan struct {
	name     string
	typeName string // the column's type as MySQL names it
	kind     kind
	expr     string // the SELECT expression
	// order is the expression ORDER BY and resume predicates use; wrap is
	// how a key value is bound against it ("" for a plain "?").
	order     string
	wrap      string
	unordered string // why the column cannot be a key of an ordered read ("" when it can)
	field     arrow.Field
	notNull   bool
	// utf8: the column's own bytes are the UTF-8 the server sends (a text
	// column in utf8mb4, utf8mb3 or ascii), so checksums need not convert.
	utf8      bool
	precision int32
	scale     int32
}

// tablePlan is what Describe learned about a TableRef.
type tablePlan struct {
	name  string // how messages name the table: the TableRef's Name, or "query"
	from  string // the FROM item
	where string // the user's filter, ready to embed; "" for none
	cols  []colPlan
	info  connectors.TableInfo
	// binary: read over the binary protocol (a prepared statement). Only
	// base tables are: a view's or a query's computed temporal column may
	// carry a precision the driver's binary decoder rejects (MariaDB's 39
	// for FROM_UNIXTIME of a double), which the text protocol ignores.
	binary bool
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
	metaInvalid = arrow.NewMetadata([]string{connectors.MetaInvalid}, []string{connectors.InvalidMin})
)

// Describe returns the table's Arrow schema, primary key, row estimate,
// notes (columns read as text, connections lost and resumed on a new
// snapshot) and the snapshot the Source was opened at.
//
// A table not described before is looked up on the Source's connection,
// or, while a reader holds that, on a short-lived second connection: the
// catalog is not part of the snapshot, and a caller holding a reader must
// be able to describe (and Read) another table.
func (s *Source) Describe(ctx context.Context, ref connectors.TableRef) (*connectors.TableInfo, error) {
	p, err := s.plan(ctx, ref)
	if err != nil {
		return nil, err
	}
	info := p.info
	info.PrimaryKey = append([]string(nil), p.info.PrimaryKey...)
	info.Notes = append(append([]string(nil), p.info.Notes...), s.Notes()...)
	s.mu.Lock()
	c := s.first
	s.mu.Unlock()
	info.Consistency = &c
	return &info, nil
}

func refName(ref connectors.TableRef) string {
	if ref.Query != "" {
		return "query"
	}
	return ref.Name
}

// plan describes ref once per Source; the result is cached.
func (s *Source) plan(ctx context.Context, ref connectors.TableRef) (*tablePlan, error) {
	name := refName(ref)
	if ref.Name == "" && ref.Query == "" {
		return nil, fmt.Errorf("describe: a MySQL source needs a table name or a query: %w", connectors.ErrTableNotFound)
	}
	if ref.Name != "" && ref.Query != "" {
		return nil, fmt.Errorf("describe %s: give a table name or a query, not both: %w", ref.Name, connectors.ErrUnsupported)
	}
	s.mu.Lock()
	closed := s.closed
	p := s.plans[ref]
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("describe %s: %w", name, errClosed)
	}
	if p != nil {
		return p, nil
	}
	var err error
	select {
	case s.slot <- struct{}{}:
		p, err = s.describeMain(ctx, ref)
		s.give()
	default:
		// A reader holds the connection: rather than wait for it (the
		// caller may be the one holding it), describe on a short-lived
		// second connection. The catalog is not part of the snapshot.
		p, err = s.describeSide(ctx, ref)
	}
	if err != nil {
		if isTimeout(err) {
			err = fmt.Errorf("statement timeout exceeded: %w", err)
		}
		return nil, fmt.Errorf("describe %s: %w", name, s.scrub(err))
	}
	s.mu.Lock()
	if s.plans != nil {
		s.plans[ref] = p
	}
	s.mu.Unlock()
	return p, nil
}

// describeMain describes ref on the Source's connection (the slot held).
func (s *Source) describeMain(ctx context.Context, ref connectors.TableRef) (*tablePlan, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	// Another caller may have described it while this one waited.
	s.mu.Lock()
	p := s.plans[ref]
	s.mu.Unlock()
	if p != nil {
		return p, nil
	}
	err := s.retry(ctx, func() error {
		ss, fresh, cause, err := s.ensure(ctx)
		if err != nil {
			return err
		}
		if fresh {
			s.addResume(Resume{Cause: causeText(s.scrub(cause)), Snapshot: ss.snap})
		}
		stop := s.watch(ctx, ss)
		p, err = s.describeOn(ss, ref)
		stop()
		if err != nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil && sessionGone(err) {
			s.drop(ss, err)
		}
		return err
	})
	return p, err
}

// describeSide describes ref on a connection of its own, closed after.
func (s *Source) describeSide(ctx context.Context, ref connectors.TableRef) (*tablePlan, error) {
	var p *tablePlan
	err := s.retry(ctx, func() error {
		ss, err := s.connect(ctx, false)
		if err != nil {
			return err
		}
		defer ss.close()
		stop := s.watch(ctx, ss)
		// The user's Query and Where run here too: in a read-only
		// transaction, as on the Source's connection, so that a function
		// they call cannot write.
		if err = ss.exec(ss.ctx, "START TRANSACTION READ ONLY"); err == nil {
			p, err = s.describeOn(ss, ref)
			if rerr := ss.exec(ss.ctx, "ROLLBACK"); err == nil && rerr != nil {
				err = rerr
			}
		}
		stop()
		if err != nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		return err
	})
	return p, err
}

func causeText(err error) string {
	if err == nil {
		return "unknown cause"
	}
	return err.Error()
}

// describeOn builds the plan of ref with statements on ss.
func (s *Source) describeOn(ss *session, ref connectors.TableRef) (*tablePlan, error) {
	p := &tablePlan{name: refName(ref), info: connectors.TableInfo{Name: refName(ref), EstimatedRows: -1}}
	if ref.Query != "" {
		p.from = "(" + userSQL(ref.Query) + ") AS q"
		if err := s.describeQuery(ss, ref.Query, p); err != nil {
			return nil, err
		}
	} else if err := s.describeTable(ss, ref.Name, p); err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, len(p.cols))
	for i := range p.cols {
		fields[i] = p.cols[i].field
	}
	p.info.Schema = arrow.NewSchema(fields, nil)
	if ref.Where != "" {
		p.where = userSQL(ref.Where)
		p.info.EstimatedRows = -1
	}
	// Check the filter and the connector's own expressions before any read.
	all := make([]int, len(p.cols))
	for i := range all {
		all[i] = i
	}
	sql, _ := p.selectSQL(all, nil, nil)
	if _, err := ss.all(ss.ctx, sql+" LIMIT 0"); err != nil {
		if ref.Where != "" && !connectionLost(err) {
			return nil, fmt.Errorf("filter %q: %w", shorten(ref.Where), err)
		}
		return nil, err
	}
	if ref.Where != "" {
		// The filter must be one expression: without the parentheses the
		// reads put around it, a filter that closes them early (x=1) OR
		// (y=2) no longer parses, and would otherwise escape the resume
		// predicate ANDed after it.
		if _, err := ss.all(ss.ctx, "SELECT 1 FROM "+p.from+" WHERE "+p.where+" LIMIT 0"); err != nil {
			if connectionLost(err) {
				return nil, err
			}
			return nil, fmt.Errorf("filter %q: not a single expression (%v): %w", shorten(ref.Where), err, connectors.ErrBadInput)
		}
	}
	return p, nil
}

// describeQuery reads the result columns of a query (run with LIMIT 0).
func (s *Source) describeQuery(ss *session, query string, p *tablePlan) error {
	rows, err := ss.query(ss.ctx, "SELECT * FROM "+p.from+" LIMIT 0", nil)
	if err != nil {
		if connectionLost(err) {
			return err
		}
		return fmt.Errorf("query %q: %w", shorten(query), err)
	}
	names := rows.Columns()
	typed, _ := rows.(driver.RowsColumnTypeDatabaseTypeName)
	nullable, _ := rows.(driver.RowsColumnTypeNullable)
	prec, _ := rows.(driver.RowsColumnTypePrecisionScale)
	seen := map[string]bool{}
	for i, name := range names {
		if seen[name] {
			rows.Close()
			return fmt.Errorf("query %q: two columns are named %q; name them apart with AS: %w", shorten(query), name, connectors.ErrUnsupported)
		}
		seen[name] = true
		rc := resultColumn{name: name, nullable: true}
		if typed != nil {
			rc.typeName = typed.ColumnTypeDatabaseTypeName(i)
		}
		if nullable != nil {
			if n, ok := nullable.ColumnTypeNullable(i); ok {
				rc.nullable = n
			}
		}
		if prec != nil {
			rc.precision, rc.scale, _ = prec.ColumnTypePrecisionScale(i)
		}
		cp, note := mapResultColumn(rc)
		p.cols = append(p.cols, cp)
		if note != "" {
			p.info.Notes = append(p.info.Notes, note)
		}
	}
	if err := drain(rows); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}

// catalogColumn is a row of information_schema.COLUMNS.
type catalogColumn struct {
	name, dataType, columnType string
	precision, scale           int64
	charset, collation         string
	nullable                   bool
	json                       bool // MariaDB's JSON: longtext with a json_valid check
}

// describeTable finds a table or view by name in information_schema and
// fills in the plan.
func (s *Source) describeTable(ss *session, name string, p *tablePlan) error {
	tn, err := parseTableName(name)
	if err != nil {
		return fmt.Errorf("%w: %w", err, connectors.ErrTableNotFound)
	}
	if tn.db == "" {
		tn.db = s.db
		if tn.db == "" {
			return fmt.Errorf("table %s: the location names no database; write database.table: %w", tn.quoted(), connectors.ErrTableNotFound)
		}
	}
	ctx := ss.ctx
	rows, err := ss.all(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_ROWS FROM information_schema.TABLES
WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, tn.db, tn.name)
	if err != nil {
		return fmt.Errorf("look up table: %w", err)
	}
	// information_schema may match names case-insensitively: an exact
	// match wins, else a single match is the one the server would use.
	var found []any
	for _, r := range rows {
		if toString(r[0]) == tn.db && toString(r[1]) == tn.name {
			found = r
		}
	}
	if found == nil && len(rows) == 1 {
		found = rows[0]
	}
	if found == nil {
		return s.notFound(ss, tn)
	}
	tn.db, tn.name = toString(found[0]), toString(found[1])
	p.from = tn.quoted()
	p.binary = toString(found[2]) != "VIEW"
	if n, ok := toInt(found[3]); ok && found[3] != nil && toString(found[2]) != "VIEW" {
		p.info.EstimatedRows = n // an estimate for InnoDB; NULL for views
	}
	crows, err := ss.all(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE,
  CHARACTER_SET_NAME, COLLATION_NAME, IS_NULLABLE
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, tn.db, tn.name)
	if err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	if len(crows) == 0 {
		return fmt.Errorf("table %s has no columns you may read: %w", tn.quoted(), connectors.ErrTableNotFound)
	}
	// MariaDB's JSON is longtext with a json_valid(col) check constraint.
	jsonCols := map[string]bool{}
	if chk, err := ss.all(ctx, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, tn.db, tn.name); err == nil {
		for _, r := range chk {
			jsonCols[strings.Join(strings.Fields(toString(r[0])), "")] = true
		}
	} else if connectionLost(err) {
		return fmt.Errorf("read check constraints: %w", err)
	}
	for _, r := range crows {
		c := catalogColumn{
			name:       toString(r[0]),
			dataType:   strings.ToLower(toString(r[1])),
			columnType: strings.ToLower(toString(r[2])),
			charset:    toString(r[5]),
			collation:  toString(r[6]),
			nullable:   toString(r[7]) != "NO",
		}
		c.precision, _ = toInt(r[3])
		c.scale, _ = toInt(r[4])
		c.json = jsonCols["json_valid("+quoteIdent(c.name)+")"]
		cp, note := mapCatalogColumn(c)
		p.cols = append(p.cols, cp)
		if note != "" {
			p.info.Notes = append(p.info.Notes, note)
		}
	}
	pk, err := ss.all(ctx, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, tn.db, tn.name)
	if err != nil {
		return fmt.Errorf("read primary key: %w", err)
	}
	for _, r := range pk {
		p.info.PrimaryKey = append(p.info.PrimaryKey, toString(r[0]))
	}
	return nil
}

// notFound builds the error for a table that is not there, naming
// databases that hold a table of that name.
func (s *Source) notFound(ss *session, tn tableName) error {
	msg := fmt.Sprintf("no table or view %s", tn.quoted())
	rows, err := ss.all(ss.ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_NAME = ? OR (TABLE_SCHEMA = ? AND LOWER(TABLE_NAME) = LOWER(?)) ORDER BY 1, 2 LIMIT 3`, tn.name, tn.db, tn.name)
	if err == nil && len(rows) > 0 {
		var similar []string
		for _, r := range rows {
			similar = append(similar, tableName{db: toString(r[0]), name: toString(r[1])}.quoted())
		}
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(similar, ", "))
	}
	return fmt.Errorf("%s: %w", msg, connectors.ErrTableNotFound)
}

// textOrder is the byte order of a column read as text: its utf8mb4 bytes
// compared as a binary string (no collation, no trailing-space padding).
func textOrder(expr string) string {
	return "CAST(CONVERT(" + expr + " USING utf8mb4) AS BINARY)"
}

// setKind fills in the Arrow field, order and binding of a column plan.
func (cp *colPlan) setKind(k kind, nullable bool) {
	cp.kind = k
	cp.notNull = !nullable
	var dt arrow.DataType
	md := arrow.Metadata{}
	cp.order = cp.expr
	switch k {
	case kindInt8:
		dt = arrow.PrimitiveTypes.Int8
	case kindInt16:
		dt = arrow.PrimitiveTypes.Int16
	case kindInt32:
		dt = arrow.PrimitiveTypes.Int32
	case kindInt64:
		dt = arrow.PrimitiveTypes.Int64
	case kindUint8:
		dt = arrow.PrimitiveTypes.Uint8
	case kindUint16:
		dt = arrow.PrimitiveTypes.Uint16
	case kindUint32:
		dt = arrow.PrimitiveTypes.Uint32
	case kindUint64, kindBit:
		dt = arrow.PrimitiveTypes.Uint64
	case kindFloat32:
		dt = arrow.PrimitiveTypes.Float32
	case kindFloat64:
		dt = arrow.PrimitiveTypes.Float64
	case kindDecimal128:
		dt = &arrow.Decimal128Type{Precision: cp.precision, Scale: cp.scale}
		cp.wrap = decimalWrap(cp.scale)
	case kindDecimalText:
		dt = arrow.BinaryTypes.String
		md = metaDecimal
		cp.wrap = decimalWrap(cp.scale)
	case kindBool:
		dt = arrow.FixedWidthTypes.Boolean
	case kindDate:
		dt = arrow.FixedWidthTypes.Date32
		md = metaInvalid
	case kindTimestamp:
		// The field type is set by the caller (with or without a zone).
		md = metaInvalid
	case kindTime:
		dt = arrow.FixedWidthTypes.Time64us
	case kindText:
		dt = arrow.BinaryTypes.String
		cp.order = textOrder(cp.expr)
	case kindBinary:
		dt = arrow.BinaryTypes.Binary
	}
	cp.field = arrow.Field{Name: cp.name, Type: dt, Nullable: nullable, Metadata: md}
}

// asJSON marks a text column as JSON documents.
func (cp *colPlan) asJSON() {
	cp.field.Metadata = metaJSON
	cp.order = ""
	cp.unordered = "JSON is compared as canonical JSON, which MySQL cannot sort by"
}

// mapCatalogColumn decides how a table column is read; note is set for a
// column read by its text form for want of a better type.
func mapCatalogColumn(c catalogColumn) (cp colPlan, note string) {
	cp = colPlan{name: c.name, typeName: c.columnType, expr: quoteIdent(c.name)}
	unsigned := strings.Contains(c.columnType, "unsigned")
	pick := func(signed, uns kind) kind {
		if unsigned {
			return uns
		}
		return signed
	}
	switch c.dataType {
	case "tinyint":
		cp.setKind(pick(kindInt8, kindUint8), c.nullable)
	case "smallint":
		cp.setKind(pick(kindInt16, kindUint16), c.nullable)
	case "mediumint", "int", "integer":
		cp.setKind(pick(kindInt32, kindUint32), c.nullable)
	case "bigint":
		cp.setKind(pick(kindInt64, kindUint64), c.nullable)
	case "year":
		cp.setKind(kindInt16, c.nullable)
	case "decimal", "numeric", "fixed":
		cp.precision, cp.scale = int32(c.precision), int32(c.scale)
		if cp.precision >= 1 && cp.precision <= 38 && cp.scale >= 0 && cp.scale <= cp.precision {
			cp.setKind(kindDecimal128, c.nullable)
		} else {
			cp.setKind(kindDecimalText, c.nullable)
		}
	case "float":
		// MariaDB prints a FLOAT with 6 digits; as a double it keeps all.
		cp.expr = "(" + cp.expr + " + 0E0)"
		cp.setKind(kindFloat32, c.nullable)
		cp.order = quoteIdent(c.name)
	case "double", "real", "double precision":
		cp.setKind(kindFloat64, c.nullable)
	case "bit":
		if c.precision == 1 {
			cp.setKind(kindBool, c.nullable)
		} else {
			cp.setKind(kindBit, c.nullable)
		}
	case "date":
		cp.setKind(kindDate, c.nullable)
	case "datetime":
		cp.setKind(kindTimestamp, c.nullable)
		cp.field.Type = &arrow.TimestampType{Unit: arrow.Microsecond}
	case "timestamp":
		cp.setKind(kindTimestamp, c.nullable)
		cp.field.Type = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case "time":
		cp.setKind(kindTime, c.nullable)
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		cp.setKind(kindText, c.nullable)
		switch strings.ToLower(c.charset) {
		case "utf8mb4", "utf8mb3", "utf8", "ascii":
			cp.utf8 = true
		}
		if c.json {
			cp.asJSON()
		} else if c.collation != "" {
			cp.field.Metadata = arrow.NewMetadata([]string{connectors.MetaCollation}, []string{c.collation})
		}
	case "json":
		cp.setKind(kindText, c.nullable)
		cp.asJSON()
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		cp.setKind(kindBinary, c.nullable)
	case "uuid":
		// MariaDB's uuid: its text form is PostgreSQL's (lower case 8-4-4-4-12).
		cp.expr = "CAST(" + cp.expr + " AS CHAR CHARACTER SET utf8mb4)"
		cp.setKind(kindText, c.nullable)
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection", "geomcollection":
		cp.expr = "ST_AsText(" + cp.expr + ")"
		cp.setKind(kindText, c.nullable)
		note = fmt.Sprintf("column %s (%s) compared by its text form (ST_AsText)", c.name, c.columnType)
	default:
		cp.expr = "CAST(" + cp.expr + " AS CHAR CHARACTER SET utf8mb4)"
		cp.setKind(kindText, c.nullable)
		note = fmt.Sprintf("column %s (%s) compared by its text form", c.name, c.columnType)
	}
	return cp, note
}

// resultColumn is a column of a query's result set.
type resultColumn struct {
	name, typeName   string
	nullable         bool
	precision, scale int64
}

// mapResultColumn decides how a query's column is read from the type the
// server reports for it. The result set does not tell tinyint(1) or bit(1)
// apart, nor MariaDB's JSON from text: they read as Int8, Uint64 and String.
func mapResultColumn(c resultColumn) (cp colPlan, note string) {
	cp = colPlan{name: c.name, typeName: strings.ToLower(c.typeName), expr: "q." + quoteIdent(c.name)}
	switch c.typeName {
	case "TINYINT":
		cp.setKind(kindInt8, c.nullable)
	case "UNSIGNED TINYINT":
		cp.setKind(kindUint8, c.nullable)
	case "SMALLINT", "YEAR":
		cp.setKind(kindInt16, c.nullable)
	case "UNSIGNED SMALLINT":
		cp.setKind(kindUint16, c.nullable)
	case "MEDIUMINT", "INT":
		cp.setKind(kindInt32, c.nullable)
	case "UNSIGNED MEDIUMINT", "UNSIGNED INT":
		cp.setKind(kindUint32, c.nullable)
	case "BIGINT":
		cp.setKind(kindInt64, c.nullable)
	case "UNSIGNED BIGINT":
		cp.setKind(kindUint64, c.nullable)
	case "DECIMAL":
		cp.precision, cp.scale = int32(min(c.precision, 65)), int32(min(c.scale, maxDecimalScale))
		if cp.precision >= 1 && cp.precision <= 38 && cp.scale >= 0 && cp.scale <= cp.precision {
			cp.setKind(kindDecimal128, c.nullable)
		} else {
			cp.setKind(kindDecimalText, c.nullable)
		}
	case "FLOAT":
		cp.expr = "(" + cp.expr + " + 0E0)"
		cp.setKind(kindFloat32, c.nullable)
		cp.order = "q." + quoteIdent(c.name)
	case "DOUBLE":
		cp.setKind(kindFloat64, c.nullable)
	case "BIT":
		cp.setKind(kindBit, c.nullable)
	case "DATE":
		cp.setKind(kindDate, c.nullable)
	case "DATETIME":
		cp.setKind(kindTimestamp, c.nullable)
		cp.field.Type = &arrow.TimestampType{Unit: arrow.Microsecond}
	case "TIMESTAMP":
		cp.setKind(kindTimestamp, c.nullable)
		cp.field.Type = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case "TIME":
		cp.setKind(kindTime, c.nullable)
	case "CHAR", "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT", "ENUM", "SET", "NULL":
		cp.setKind(kindText, c.nullable)
	case "JSON":
		cp.setKind(kindText, c.nullable)
		cp.asJSON()
	case "BINARY", "VARBINARY", "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB":
		cp.setKind(kindBinary, c.nullable)
	case "GEOMETRY":
		cp.expr = "ST_AsText(" + cp.expr + ")"
		cp.setKind(kindText, c.nullable)
		note = fmt.Sprintf("column %s (geometry) compared by its text form (ST_AsText)", c.name)
	default:
		cp.expr = "CAST(" + cp.expr + " AS CHAR CHARACTER SET utf8mb4)"
		cp.setKind(kindText, c.nullable)
		t := cp.typeName
		if t == "" {
			t = "unknown type"
		}
		note = fmt.Sprintf("column %s (%s) compared by its text form", c.name, t)
	}
	return cp, note
}

// selectSQL is the SELECT of a read: the expressions of cols, the user's
// filter, the resume predicate after key values, and the order of keys.
// The comment marks the connector's statements in the process list.
func (p *tablePlan) selectSQL(cols, keys []int, resume *resumePoint) (string, []any) {
	return p.selectWhere(cols, keys, resume, "")
}

// selectWhere is selectSQL with a predicate of the connector's own
// (ranges, see rangesPredicate) ANDed to the filter.
func (p *tablePlan) selectWhere(cols, keys []int, resume *resumePoint, pred string) (string, []any) {
	var b sqlBuilder
	b.WriteString("SELECT /* reconcile read */ ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.cols[c].expr)
	}
	b.WriteString(" FROM ")
	b.WriteString(p.from)
	var terms []string
	if p.where != "" {
		terms = append(terms, "("+p.where+")")
	}
	if pred != "" {
		terms = append(terms, "("+pred+")")
	}
	if len(terms) > 0 {
		b.WriteString(" WHERE " + strings.Join(terms, " AND "))
	}
	if resume != nil {
		if len(terms) > 0 {
			b.WriteString(" AND ")
		} else {
			b.WriteString(" WHERE ")
		}
		p.resumePredicate(&b, keys, resume)
	}
	if len(keys) > 0 {
		b.WriteString(" ORDER BY ")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			c := &p.cols[k]
			if !c.notNull {
				// MySQL sorts NULLs first: put them last.
				b.WriteString(c.order + " IS NULL, ")
			}
			b.WriteString(c.order)
		}
	}
	return b.String(), b.args
}

// resumePoint is the key of the last row handed on.
type resumePoint struct {
	null []bool
	vals []any // bound against colPlan.order (with colPlan.wrap)
}

// resumePredicate writes the condition selecting the rows at or after the
// resume point in the order of the read (NULLs last, composite keys
// column by column).
func (p *tablePlan) resumePredicate(b *sqlBuilder, keys []int, r *resumePoint) {
	simple := true
	for i, k := range keys {
		if r.null[i] || !p.cols[k].notNull {
			simple = false
		}
	}
	if simple {
		// No NULLs possible: a row comparison, which an index can serve.
		if len(keys) == 1 {
			b.WriteString(p.cols[keys[0]].order + " >= ")
			b.param(r.vals[0], p.cols[keys[0]].wrap)
			return
		}
		b.WriteString("(")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p.cols[k].order)
		}
		b.WriteString(") >= (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.param(r.vals[i], p.cols[k].wrap)
		}
		b.WriteString(")")
		return
	}
	// Lexicographic with NULLs last: for each column, the rows equal on the
	// columns before it and after it on this one; then the rows equal on
	// all of them.
	type eqTerm struct {
		col int
		i   int
	}
	var eq []eqTerm
	writeEq := func() {
		for j, e := range eq {
			if j > 0 {
				b.WriteString(" AND ")
			}
			c := &p.cols[e.col]
			if r.null[e.i] {
				b.WriteString(c.order + " IS NULL")
			} else {
				b.WriteString(c.order + " = ")
				b.param(r.vals[e.i], c.wrap)
			}
		}
	}
	b.WriteString("((")
	first := true
	for i, k := range keys {
		c := &p.cols[k]
		if r.null[i] {
			// Nothing sorts after NULL in this column.
			eq = append(eq, eqTerm{k, i})
			continue
		}
		if !first {
			b.WriteString(") OR (")
		}
		first = false
		if len(eq) > 0 {
			writeEq()
			b.WriteString(" AND ")
		}
		if c.notNull {
			b.WriteString(c.order + " > ")
			b.param(r.vals[i], c.wrap)
		} else {
			b.WriteString("(" + c.order + " > ")
			b.param(r.vals[i], c.wrap)
			b.WriteString(" OR " + c.order + " IS NULL)")
		}
		eq = append(eq, eqTerm{k, i})
	}
	if !first {
		b.WriteString(") OR (")
	}
	writeEq()
	b.WriteString("))")
}

// drain reads a result set to its end.
func drain(rows driver.Rows) error {
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// maxDecimalScale is the largest DECIMAL scale: 38 on MariaDB (MySQL's
// is 30).
const maxDecimalScale = 38

// decimalWrap casts a resume value for a DECIMAL key of the given scale
// at the widest precision, not the column's: the driver reports a query's
// DECIMAL UNSIGNED column one digit short (it takes one for a sign), and a
// narrower cast would turn 100.00 into 99.99 for a decimal(5,2) unsigned
// key; a smaller scale would round a key of decimal(65,38) up past the
// rows that follow it.
func decimalWrap(scale int32) string {
	return fmt.Sprintf("CAST(? AS DECIMAL(65, %d))", min(max(scale, 0), maxDecimalScale))
}
