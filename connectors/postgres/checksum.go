package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/reconhq/reconcile/connectors"
)

// The Checksummer capability: segment checksums computed by the server,
// in the Source's snapshot, over the same rows and in the same key order
// as ReadOrdered with ReadOptions.Ranges.
//
// The canonical row hash is connectors.RowHash of the row's canonical
// encoding, which the server builds as a bytea: the concatenation of one
// cell per column, each exactly what the reconcile package's AppendRow
// writes for the Arrow value this connector reads (see cellSQL). The
// native row hash (NativeHash) is hashtextextended of the row's text
// output, under the settings every session of the Source fixes.

// fence opens a subquery the planner keeps as it is rather than pulling
// it up into the query around it: a subquery with a WITH list of its own
// is never pulled up. An unused WITH item costs nothing, and, unlike
// OFFSET 0, leaves the subquery free to run in parallel workers under a
// partial aggregate. The GROUP BY over a fenced subquery's bucket column
// is estimated at the planner's default number of groups rather than at
// the key's count of distinct values, which makes the planner hash the
// buckets in each worker instead of sorting every row.
const fence = `WITH "reconcile fence" AS (SELECT 1) `

// cell is the SQL of one column's canonical encoding, in three steps:
// inner holds "expr AS alias" items over the table's columns, mid items
// over inner's aliases, and final is the bytea over mid's aliases. The
// steps are nested fenced subqueries, so that the planner does not fold
// them into one expression: a value several parts of a cell use (a
// numeric's text, a text's UTF-8 bytes) is computed once a row.
type cell struct {
	inner, mid []string
	final      string
}

// cellSQL returns the SQL of column c's canonical encoding, its aliases
// numbered j, or why the server cannot build it ("" when it can).
func (s *Source) cellSQL(c *colPlan, j int) (cl cell, refused string) {
	md := c.field.Metadata
	if md.FindKey(connectors.MetaInvalid) >= 0 {
		return cl, "the column may hold values the source cannot represent"
	}
	if i := md.FindKey(connectors.MetaLogical); i >= 0 && md.Values()[i] == connectors.LogicalJSON {
		return cl, "JSON is compared in a canonical form the server does not build"
	}
	v := "v" + strconv.Itoa(j)
	x := "(" + c.expr + ")"
	// whole: a cell computed at once from the column.
	whole := func(enc string) cell {
		return cell{
			inner: []string{`CASE WHEN ` + x + ` IS NULL THEN '\x00'::bytea ELSE ` + enc + ` END AS ` + v},
			mid:   []string{v},
			final: v,
		}
	}
	switch c.kind {
	case kindInt2, kindInt4, kindInt8:
		// 'i', 8 bytes big-endian.
		return whole(`'\x69'::bytea || pg_catalog.int8send(` + x + `::int8)`), ""
	case kindBool:
		// 'b', 0 or 1.
		return whole(`CASE WHEN ` + x + ` THEN '\x6201'::bytea ELSE '\x6200'::bytea END`), ""
	case kindText, kindBPChar:
		// 's', uvarint(length), the UTF-8 bytes the COPY sends (text
		// travels as UTF-8 whatever the server encoding); char without
		// its pad, as the decoder trims it.
		t := x
		if c.kind == kindBPChar {
			t = "(" + x + "::text)"
		}
		return cell{
			inner: []string{"pg_catalog.convert_to(" + t + ", 'UTF8') AS " + v},
			mid:   []string{v},
			final: `CASE WHEN ` + v + ` IS NULL THEN '\x00'::bytea ELSE '\x73'::bytea || ` +
				uvarintSQL("pg_catalog.octet_length("+v+")") + ` || ` + v + ` END`,
		}, ""
	case kindUUID:
		// 's', 36, the lower-case 8-4-4-4-12 text.
		return whole(`'\x7324'::bytea || pg_catalog.convert_to(` + x + `::text, 'UTF8')`), ""
	case kindBytea:
		// 'x', uvarint(length), the bytes.
		return whole(`'\x78'::bytea || ` + uvarintSQL("pg_catalog.octet_length("+x+")") + ` || ` + x), ""
	case kindDate:
		// 'd', 4 bytes of days since 1970; ±infinity as the extreme
		// int32 values, as the connector reads them.
		return whole(`CASE WHEN ` + x + ` = 'infinity'::date THEN '\x647fffffff'::bytea` +
			` WHEN ` + x + ` = '-infinity'::date THEN '\x6480000000'::bytea` +
			` ELSE '\x64'::bytea || pg_catalog.int4send(` + x + ` - '1970-01-01'::date) END`), ""
	case kindTimestamp:
		if s.major < 14 {
			return cl, "extract(epoch ...) is exact from PostgreSQL 14 on"
		}
		// 't', 8 bytes of microseconds since 1970 UTC; ±infinity as the
		// extreme int64 values. An instant from math.MaxInt64
		// microseconds on, which the connector cannot read (nor extract
		// convert exactly), gets the invalid tag and its text: it equals
		// no value that reads.
		zone := ""
		if strings.Contains(c.baseName, "with time zone") {
			zone = "+00"
		}
		limit := quoteLiteral(formatPGTime(math.MaxInt64-pgEpochMicros)+zone) + "::" + c.baseName
		txt := "pg_catalog.convert_to(" + x + "::text, 'UTF8')"
		return whole(`CASE WHEN ` + x + ` = 'infinity'::` + c.baseName + ` THEN '\x747fffffffffffffff'::bytea` +
			` WHEN ` + x + ` = '-infinity'::` + c.baseName + ` THEN '\x748000000000000000'::bytea` +
			` WHEN ` + x + ` >= ` + limit + ` THEN '\x21'::bytea || ` + uvarintSQL("pg_catalog.octet_length("+txt+")") + ` || ` + txt +
			` ELSE '\x74'::bytea || pg_catalog.int8send((EXTRACT(epoch FROM ` + x + `) * 1000000)::int8) END`), ""
	case kindTime:
		if s.major < 14 {
			return cl, "extract(epoch ...) is exact from PostgreSQL 14 on"
		}
		// 'h', 8 bytes of microseconds since midnight.
		return whole(`'\x68'::bytea || pg_catalog.int8send((EXTRACT(epoch FROM ` + x + `) * 1000000)::int8)`), ""
	case kindNumeric128, kindNumericText:
		if s.major < 14 {
			return cl, "numeric infinities and trim_scale need PostgreSQL 14"
		}
		return numericCell(x, j), ""
	case kindFloat4, kindFloat8:
		return cl, "binary floats are encoded by their shortest decimal, which the server is not relied on to produce"
	}
	return cl, "the type has no canonical encoding in SQL"
}

// numericCell encodes a numeric x as the engine encodes a decimal: an
// integral value within int64 as an integer ('i', 8 bytes), any other as
// 'n', uvarint(length), "[-]digits" "e" exponent, the digits without
// leading or trailing zeros (12.340 → "1234e-2", 1e20 → "1e20"); NaN and
// ±Infinity as "NaN", "Inf" and "-Inf".
func numericCell(x string, j int) cell {
	v, s, t := "v"+strconv.Itoa(j), "s"+strconv.Itoa(j), "t"+strconv.Itoa(j)
	// s: the absolute value's text without trailing fractional zeros
	// ("12.34", "0.0071", "100000000000000000000"; numeric's text has no
	// exponent). t: the number's text in the engine's form.
	digits := "CASE WHEN pg_catalog.strpos(" + s + ", '.') > 0" +
		// A fraction: the digits without the point and the leading
		// zeros; the exponent is minus the count of fractional digits.
		" THEN pg_catalog.ltrim(pg_catalog.replace(" + s + ", '.', ''), '0') || 'e-' || (pg_catalog.length(" + s + ") - pg_catalog.strpos(" + s + ", '.'))::text" +
		// An integer (beyond int64): its trailing zeros go to the exponent.
		" ELSE pg_catalog.rtrim(" + s + ", '0') || 'e' || (pg_catalog.length(" + s + ") - pg_catalog.length(pg_catalog.rtrim(" + s + ", '0')))::text END"
	return cell{
		inner: []string{x + " AS " + v, "pg_catalog.trim_scale(pg_catalog.abs(" + x + "))::text AS " + s},
		mid:   []string{v, "CASE WHEN " + v + " < 0 THEN '-' ELSE '' END || " + digits + " AS " + t},
		final: `CASE WHEN ` + v + ` IS NULL THEN '\x00'::bytea` +
			` WHEN ` + v + ` = 'NaN'::numeric THEN '\x6e034e614e'::bytea` +
			` WHEN ` + v + ` = 'Infinity'::numeric THEN '\x6e03496e66'::bytea` +
			` WHEN ` + v + ` = '-Infinity'::numeric THEN '\x6e042d496e66'::bytea` +
			` WHEN ` + v + ` = pg_catalog.trunc(` + v + `) AND ` + v + ` BETWEEN -9223372036854775808 AND 9223372036854775807` +
			` THEN '\x69'::bytea || pg_catalog.int8send(` + v + `::int8)` +
			` ELSE '\x6e'::bytea || ` + uvarintSQL("pg_catalog.length("+t+")") + ` || pg_catalog.convert_to(` + t + `, 'UTF8') END`,
	}
}

// uvarintSQL encodes the int4 expression n as an unsigned varint (7 bits a
// byte, least significant first, the high bit set on all but the last),
// as encoding/binary.AppendUvarint does.
func uvarintSQL(n string) string {
	byteOf := func(e string) string { return "pg_catalog.set_byte('\\x00'::bytea, 0, " + e + ")" }
	var b strings.Builder
	b.WriteString("CASE")
	for m := 1; m <= 5; m++ {
		parts := make([]string, m)
		for i := range parts {
			e := n
			if i > 0 {
				e = "(" + n + " >> " + strconv.Itoa(7*i) + ")"
			}
			if i < m-1 {
				e = "((" + e + " & 127) | 128)"
			}
			parts[i] = byteOf(e)
		}
		if m < 5 {
			fmt.Fprintf(&b, " WHEN %s < %d THEN %s", n, 1<<(7*m), strings.Join(parts, " || "))
		} else {
			b.WriteString(" ELSE " + strings.Join(parts, " || "))
		}
	}
	b.WriteString(" END")
	return b.String()
}

// rowPlan is the SQL of rows' canonical encodings: the cells of the
// columns in order (see cell).
type rowPlan struct {
	cells []cell
}

// rowPlan returns the plan of the canonical encoding of cols, and the
// names of the columns the server cannot encode.
func (s *Source) rowPlan(cols []*colPlan) (*rowPlan, []string) {
	rp := &rowPlan{}
	var refused []string
	for j, c := range cols {
		cl, why := s.cellSQL(c, j)
		if why != "" {
			refused = append(refused, c.name)
			continue
		}
		rp.cells = append(rp.cells, cl)
	}
	return rp, refused
}

// row is the bytea of a row's encoding, over the last step's aliases.
func (rp *rowPlan) row() string {
	if len(rp.cells) == 0 {
		return `'\x'::bytea`
	}
	finals := make([]string, len(rp.cells))
	for j, c := range rp.cells {
		finals[j] = c.final
	}
	return strings.Join(finals, " || ")
}

// selectSQL renders SELECT k0, k1, ..., <row> AS r (and, with cells, each
// cell as c0, c1, ...) over the rows of the plan's table that pass pred,
// where k0, k1, ... are the expressions extra over the table's columns.
func (rp *rowPlan) selectSQL(p *tablePlan, extra []string, pred string, cells bool) string {
	var inner, mid, outer []string
	for i, e := range extra {
		k := "k" + strconv.Itoa(i)
		inner = append(inner, e+" AS "+k)
		mid = append(mid, k)
		outer = append(outer, k)
	}
	for _, c := range rp.cells {
		inner = append(inner, c.inner...)
		mid = append(mid, c.mid...)
	}
	outer = append(outer, rp.row()+" AS r")
	if cells {
		for j, c := range rp.cells {
			outer = append(outer, c.final+" AS c"+strconv.Itoa(j))
		}
	}
	if len(inner) == 0 {
		inner = []string{"1"}
		mid = []string{"1"}
	}
	return "SELECT " + strings.Join(outer, ", ") +
		" FROM (" + fence + "SELECT " + strings.Join(mid, ", ") +
		" FROM (" + fence + "SELECT " + strings.Join(inner, ", ") + p.fromSQL(pred) + ") s1) s2"
}

// rowHashSQL is connectors.RowHash in SQL: the first 8 bytes of the MD5
// of the row's encoding, as a signed bigint.
func rowHashSQL(row string) string {
	return "('x' || pg_catalog.substr(pg_catalog.md5(" + row + "), 1, 16))::bit(64)::int8"
}

// pick resolves the named columns (all of them, in table order, for nil).
func (p *tablePlan) pick(columns []string) ([]*colPlan, error) {
	if columns == nil {
		cols := make([]*colPlan, len(p.cols))
		for i := range p.cols {
			cols[i] = &p.cols[i]
		}
		return cols, nil
	}
	var cols []*colPlan
	var missing []string
	for _, name := range columns {
		i := p.column(name)
		if i < 0 {
			missing = append(missing, strconv.Quote(name))
			continue
		}
		cols = append(cols, &p.cols[i])
	}
	if len(missing) > 0 {
		names := make([]string, len(p.cols))
		for i := range p.cols {
			names[i] = p.cols[i].name
		}
		return nil, fmt.Errorf("column(s) %s not found (columns: %s): %w", strings.Join(missing, ", "), strings.Join(names, ", "), connectors.ErrColumnNotFound)
	}
	return cols, nil
}

// Checksummable reports the columns whose canonical encoding the server
// cannot build (see the package documentation), and an error when a key
// column cannot bound key ranges or a column is not in the table. nil
// columns stands for all of them.
func (s *Source) Checksummable(ctx context.Context, ref connectors.TableRef, key, columns []string) ([]string, error) {
	name := refName(ref)
	p, err := s.plan(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("checksum %s: %w", name, err)
	}
	cols, err := p.pick(columns)
	if err != nil {
		return nil, fmt.Errorf("checksum %s: %w", name, err)
	}
	if _, err := p.rangeKey(key); err != nil {
		return nil, fmt.Errorf("checksum %s: %w", name, err)
	}
	_, refused := s.rowPlan(cols)
	return refused, nil
}

// fromSQL is the FROM item and the WHERE clause (the user's filter and
// the predicates) of a statement.
func (p *tablePlan) fromSQL(preds ...string) string {
	w := andSQL(append([]string{p.where}, preds...)...)
	if w == "" {
		return " FROM " + p.from
	}
	return " FROM " + p.from + " WHERE " + w
}

// query runs sql on a connection inside the snapshot, retrying after a
// lost connection, and hands each row to scan; start, if not nil, runs
// before each attempt.
func (s *Source) query(ctx context.Context, sql string, start func(), scan func(pgx.Rows) error) error {
	return s.retry(ctx, func(fresh bool) error {
		if start != nil {
			start()
		}
		l, err := s.acquire(ctx, fresh)
		if err != nil {
			return err
		}
		rows, err := l.conn.Query(ctx, sql)
		if err == nil {
			for rows.Next() {
				if err = scan(rows); err != nil {
					break
				}
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		l.release(err == nil)
		return err
	})
}

// queryParams runs sql with params, sent as text of no declared type
// (the statement's casts type them: $1::int8[] is parsed once, as an
// int8 array, not cast for every row), on a connection inside the
// snapshot, retrying after a lost connection, and hands each row's
// values, as text, to scan; start, if not nil, runs before each attempt.
func (s *Source) queryParams(ctx context.Context, sql string, params []string, start func(), scan func(vals [][]byte) error) error {
	vals := make([][]byte, len(params))
	for i, p := range params {
		vals[i] = []byte(p)
	}
	return s.retry(ctx, func(fresh bool) error {
		if start != nil {
			start()
		}
		l, err := s.acquire(ctx, fresh)
		if err != nil {
			return err
		}
		rr := l.conn.PgConn().ExecParams(ctx, sql, vals, nil, nil, nil)
		for rr.NextRow() {
			if err = scan(rr.Values()); err != nil {
				break
			}
		}
		_, cerr := rr.Close()
		if err == nil {
			err = cerr
		}
		l.release(err == nil)
		return err
	})
}

// Boundaries returns at most n-1 ascending keys strictly inside r that
// split its rows into ranges of about equal row counts. A single integer
// key is split arithmetically between the range's least and greatest key
// (two index lookups, when an index serves them); any other key at every
// ceil(count/n)-th row in key order.
func (s *Source) Boundaries(ctx context.Context, ref connectors.TableRef, key []string, r connectors.KeyRange, n int) ([][]any, error) {
	name := refName(ref)
	fail := func(err error) ([][]any, error) { return nil, fmt.Errorf("split %s: %w", name, err) }
	p, err := s.plan(ctx, ref)
	if err != nil {
		return fail(err)
	}
	cols, err := p.rangeKey(key)
	if err != nil {
		return fail(err)
	}
	rs, err := newRangeSQL(cols, r.From, r.To)
	if err != nil {
		return fail(err)
	}
	pred, err := rs.predicate(r)
	if err != nil {
		return fail(err)
	}
	if n < 2 {
		return nil, nil
	}
	from := p.fromSQL(pred)
	if len(cols) == 1 && (cols[0].kind == kindInt2 || cols[0].kind == kindInt4 || cols[0].kind == kindInt8) {
		e := cols[0].expr
		var lo, hi *int64
		err := s.query(ctx, "SELECT pg_catalog.min("+e+")::int8, pg_catalog.max("+e+")::int8"+from, nil, func(rows pgx.Rows) error {
			return rows.Scan(&lo, &hi)
		})
		if err != nil {
			return fail(err)
		}
		if lo == nil || hi == nil {
			return nil, nil
		}
		return splitInts(*lo, *hi, n), nil
	}

	var count int64
	if err := s.query(ctx, "SELECT pg_catalog.count(*)"+from, nil, func(rows pgx.Rows) error { return rows.Scan(&count) }); err != nil {
		return fail(err)
	}
	if count == 0 {
		return nil, nil
	}
	step := (count + int64(n) - 1) / int64(n)
	inner := make([]string, len(cols))
	order := make([]string, len(cols))
	outer := make([]string, len(cols))
	for i, c := range cols {
		alias := "k" + strconv.Itoa(i)
		inner[i] = c.expr + " AS " + alias
		order[i] = c.orderExpr()
		outer[i] = boundValueSQL(c, alias)
	}
	// Rows 1, step+1, 2·step+1, ... in key order: the first is the
	// range's least key, the others the boundaries.
	sql := "SELECT " + strings.Join(outer, ", ") + " FROM (SELECT " + strings.Join(inner, ", ") +
		", pg_catalog.row_number() OVER (ORDER BY " + strings.Join(order, ", ") + ") AS rn" + from +
		") s WHERE (rn - 1) % " + strconv.FormatInt(step, 10) + " = 0 ORDER BY rn"
	var out [][]any
	var prev []any
	err = s.query(ctx, sql, func() { out, prev = nil, nil }, func(rows pgx.Rows) error {
		b, err := scanBound(cols, rows)
		if err != nil {
			return err
		}
		// Keys may repeat: keep each boundary once, and none equal to
		// the least key.
		if prev == nil || compareTuple(cols, b, prev) > 0 {
			if prev != nil {
				out = append(out, b)
			}
			prev = b
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if len(out) > n-1 {
		out = out[:n-1]
	}
	return out, nil
}

// splitInts returns the integers lo + (hi-lo+1)·i/n for i in 1..n-1, each
// once and greater than lo (so all of them up to hi when there are fewer
// than n).
func splitInts(lo, hi int64, n int) [][]any {
	span := uint64(hi) - uint64(lo) // hi >= lo: exact, even across the int64 range
	var out [][]any
	last := lo
	for i := 1; i < n; i++ {
		// (span+1)·i in 128 bits; the quotient by n fits 64 bits since
		// span+1 <= 2^64 and i < n.
		h, l := bits.Mul64(span, uint64(i))
		var carry uint64
		l, carry = bits.Add64(l, uint64(i), 0)
		h += carry
		q, _ := bits.Div64(h, l, uint64(n))
		b := int64(uint64(lo) + q)
		if b > last {
			out = append(out, []any{b})
			last = b
		}
	}
	return out
}

// boundValueSQL is the expression that reads key column c (the value x)
// as the Go value of a bound (see keyrange.go).
func boundValueSQL(c *colPlan, x string) string {
	switch c.kind {
	case kindInt2, kindInt4, kindInt8:
		return x + "::int8"
	case kindText, kindBPChar, kindUUID:
		return "(" + x + ")::text"
	case kindDate:
		return "CASE WHEN " + x + " = 'infinity'::date THEN 2147483647 WHEN " + x + " = '-infinity'::date THEN -2147483648" +
			" ELSE " + x + " - '1970-01-01'::date END"
	case kindTimestamp:
		return "CASE WHEN " + x + " = 'infinity'::" + c.baseName + " THEN 9223372036854775807::int8" +
			" WHEN " + x + " = '-infinity'::" + c.baseName + " THEN (-9223372036854775807 - 1)::int8" +
			" ELSE (EXTRACT(epoch FROM " + x + ") * 1000000)::int8 END"
	}
	return x
}

// scanBound reads one row of boundValueSQL values.
func scanBound(cols []*colPlan, rows pgx.Rows) ([]any, error) {
	dst := make([]any, len(cols))
	ints := make([]int64, len(cols))
	strs := make([]string, len(cols))
	bins := make([][]byte, len(cols))
	for i, c := range cols {
		switch c.kind {
		case kindText, kindBPChar, kindUUID:
			dst[i] = &strs[i]
		case kindBytea:
			dst[i] = &bins[i]
		default:
			dst[i] = &ints[i]
		}
	}
	if err := rows.Scan(dst...); err != nil {
		return nil, err
	}
	b := make([]any, len(cols))
	for i, c := range cols {
		switch c.kind {
		case kindText, kindBPChar, kindUUID:
			b[i] = strs[i]
		case kindBytea:
			b[i] = bins[i]
		case kindDate:
			b[i] = time.Unix(ints[i]*86400, 0).UTC()
		case kindTimestamp:
			b[i] = time.UnixMicro(ints[i]).UTC()
		default:
			b[i] = ints[i]
		}
	}
	return b, nil
}

// nativeHashName names the function of the native row hash.
const nativeHashName = "hashtextextended(row text)"

// recordHashName names the native row hash from PostgreSQL 14 on.
const recordHashName = "row hash (hash_record_extended or hashtextextended)"

// nativeRowHash is the SQL of the native hash of a row of cols.
//
// From PostgreSQL 14 on, a row whose columns are all of types that hash
// exactly as the engine compares (recordHashable) hashes without
// rendering it as text, about twice as fast: hash_record_extended of the
// row, with a seed that is neither 0 nor 1 (a NULL field counts as 0, so
// with seed 0 a NULL would hash as float 0 or numeric NaN do, and with
// seed 1 as numeric 0). Text columns go in under COLLATE "C" (byte-wise,
// whatever the column's collation); bigint, timestamps and time go in as
// their binary form, since their own hash folds 64 bits into 32 (-1 and
// 4294967295 would hash alike). hash_record_extended combines its fields
// linearly (h·31 + next), so a sum of its raw values over a segment would
// not see one column's values swapped between two rows: the row's hash is
// hashed again, as the 8 bytes of its binary form (hashint8extended would
// fold it to 32 bits). Any other row hashes its text, as before
// PostgreSQL 14. Both sides run the same function: the engine asks for a
// native hash only when the compared columns have the very same types on
// both sides.
func (s *Source) nativeRowHash(cols []*colPlan) string {
	names := make([]string, len(cols))
	record := s.major >= 14 && len(cols) > 0
	for i, c := range cols {
		names[i] = quoteIdent(c.name)
		collate, send, ok := recordHashable(c.typeName)
		record = record && ok
		if send != "" {
			names[i] = "pg_catalog." + send + "(" + names[i] + ")"
		}
		if collate {
			names[i] += ` COLLATE "C"`
		}
	}
	if record {
		inner := "pg_catalog.hash_record_extended(ROW(" + strings.Join(names, ", ") + "), " + recordSeed + ")"
		return "pg_catalog.hash_record_extended(ROW(pg_catalog.int8send(" + inner + ")), " + recordSeed + ")"
	}
	for i, c := range cols {
		names[i] = quoteIdent(c.name)
	}
	return "pg_catalog.hashtextextended(ROW(" + strings.Join(names, ", ") + `)::text COLLATE "C", 0)`
}

// recordSeed seeds the record hash: neither 0 nor 1 (see nativeRowHash).
const recordSeed = "1540483477"

// recordHashable reports whether a column of the named type may be hashed
// by its type's own hash function: one under which two values hash alike
// only when the engine compares them equal (numbers by value, -0 = 0 and
// NaN = NaN, byte-wise text under COLLATE "C", which collate says the
// column needs; char(n) values of one n are padded alike), and the
// function (send) that turns it into bytes first, for the types whose own
// hash folds 64 bits into 32. Types whose equality is looser than the
// engine's (interval, where 1 day = 24 hours; jsonb numbers; timetz;
// citext; enums, whose hash is of an OID that differs between databases;
// arrays, composites, domains) are not, nor an unconstrained numeric,
// whose NaN, Infinity and -Infinity hash alike.
func recordHashable(typeName string) (collate bool, send string, ok bool) {
	// "numeric(12,2)", "timestamp(3) without time zone": the type without
	// its modifiers.
	t := typeName
	for {
		i := strings.IndexByte(t, '(')
		j := strings.IndexByte(t, ')')
		if i < 0 || j < i {
			break
		}
		t = t[:i] + t[j+1:]
	}
	switch strings.TrimSpace(t) {
	case "text", "character varying", "character":
		return true, "", true
	case "smallint", "integer", "real", "double precision", "boolean", "date", "uuid", "bytea":
		return false, "", true
	case "numeric":
		return false, "", typeName != "numeric"
	case "bigint":
		return false, "int8send", true
	case "timestamp without time zone":
		return false, "timestamp_send", true
	case "timestamp with time zone":
		return false, "timestamptz_send", true
	case "time without time zone":
		return false, "time_send", true
	}
	return false, "", false
}

// NativeHash labels the native row hash: hashtextextended (PostgreSQL 11
// on) of the text output of ROW(columns...), COLLATE "C" so that the
// bytes are hashed whatever the database's collation. The label names
// the server's major version, whose output functions render equal rows
// alike under the settings every session fixes (decodingSettings), and
// the server encoding when it is not UTF8, since the hash is of the
// encoded text: a LATIN1 row and a UTF8 row may share their bytes and
// differ. "" before PostgreSQL 11.
func (s *Source) NativeHash() string {
	if s.major < 11 {
		return ""
	}
	name := nativeHashName
	if s.major >= 14 {
		name = recordHashName
	}
	label := "postgres " + strconv.Itoa(s.major) + " " + name
	switch s.encoding {
	case "UTF8":
	case "":
		label += " in an unknown encoding"
	default:
		label += " in " + s.encoding
	}
	return label
}

// Checksums computes, in one statement, the row count, the count of
// distinct keys and the sum of the row hashes of each range
// [Range.From, b1), [b1, b2), ..., [bk, Range.To) of the request, over
// the given columns (nil for all of them, in table order), with the
// canonical hash (req.Hash "") or the native one (req.Hash equal to
// NativeHash), which takes every column.
func (s *Source) Checksums(ctx context.Context, ref connectors.TableRef, req connectors.ChecksumRequest) ([]connectors.Segment, error) {
	st, err := s.checksumStatement(ctx, ref, req)
	if err != nil {
		return nil, fmt.Errorf("checksum %s: %w", refName(ref), err)
	}
	var segs []connectors.Segment
	want := 3
	if st.distinct {
		want = 4
	}
	err = s.queryParams(ctx, st.sql, st.params, func() { segs = make([]connectors.Segment, len(req.Bounds)+1) }, func(vals [][]byte) error {
		if len(vals) != want {
			return fmt.Errorf("%d values in a checksum row, want %d", len(vals), want)
		}
		b, err := strconv.Atoi(string(vals[0]))
		if err != nil {
			return err
		}
		if b < 0 || b >= len(segs) {
			return fmt.Errorf("range index %d out of range", b)
		}
		count, err := strconv.ParseInt(string(vals[1]), 10, 64)
		if err != nil {
			return err
		}
		keys := count
		if st.distinct {
			if keys, err = strconv.ParseInt(string(vals[2]), 10, 64); err != nil {
				return err
			}
		}
		h, err := sumMod64(string(vals[want-1]))
		if err != nil {
			return err
		}
		segs[b] = connectors.Segment{Rows: count, Keys: keys, Sum: h}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checksum %s: %w", refName(ref), err)
	}
	return segs, nil
}

// checksumStatement is the statement of a Checksums call: its rows are
// the range index, count(*), count(DISTINCT key) when distinct, and the
// sum of the row hashes as text.
type checksumStatement struct {
	sql      string
	params   []string
	distinct bool
}

// checksumStatement checks the request and renders its statement.
func (s *Source) checksumStatement(ctx context.Context, ref connectors.TableRef, req connectors.ChecksumRequest) (*checksumStatement, error) {
	native := false
	if req.Hash != "" {
		if req.Hash != s.NativeHash() {
			return nil, fmt.Errorf("row hash %q is not this source's native hash (%q): %w", req.Hash, s.NativeHash(), connectors.ErrUnsupported)
		}
		native = true
	}
	p, err := s.plan(ctx, ref)
	if err != nil {
		return nil, err
	}
	kcols, err := p.rangeKey(req.Key)
	if err != nil {
		return nil, err
	}
	cols, err := p.pick(req.Columns)
	if err != nil {
		return nil, err
	}
	var rp *rowPlan
	if !native {
		var refused []string
		if rp, refused = s.rowPlan(cols); len(refused) > 0 {
			return nil, fmt.Errorf("column(s) %s cannot be checksummed in the database: %w", strings.Join(refused, ", "), connectors.ErrUnsupported)
		}
	}
	r, bounds := req.Range, req.Bounds
	rs, err := newRangeSQL(kcols, append([][]any{r.From, r.To}, bounds...)...)
	if err != nil {
		return nil, err
	}
	for i, b := range bounds {
		if b == nil {
			return nil, fmt.Errorf("bound %d is nil: %w", i+1, connectors.ErrBadInput)
		}
		switch {
		case i > 0 && compareTuple(kcols, bounds[i-1], b) >= 0:
			return nil, fmt.Errorf("bounds %d and %d are not in ascending order: %w", i, i+1, connectors.ErrBadInput)
		case r.From != nil && compareTuple(kcols, r.From, b) >= 0,
			r.To != nil && compareTuple(kcols, b, r.To) >= 0:
			return nil, fmt.Errorf("bound %d does not lie strictly inside the range: %w", i+1, connectors.ErrBadInput)
		}
	}
	pred, err := rs.predicate(r)
	if err != nil {
		return nil, err
	}
	bucket, params, err := rs.bucket(bounds, s.major >= 12)
	if err != nil {
		return nil, err
	}
	// Keys: a key that covers the primary key never repeats, and its
	// count is the row count; any other is counted, by values equal
	// exactly when the engine's are (text byte-wise: COLLATE "C" alone,
	// or its UTF-8 bytes inside a row, whose fields' collations are not
	// relied on).
	var kexprs []string
	if !p.uniqueKey(planIndexes(p, kcols)) {
		for _, c := range kcols {
			e := c.orderExpr()
			if len(kcols) > 1 && c.textOrder() {
				e = "pg_catalog.convert_to((" + c.expr + ")::text, 'UTF8')"
			}
			kexprs = append(kexprs, e)
		}
	}
	// extra: the bucket as k0, then the key columns as k1, k2, ...
	extra := append([]string{bucket}, kexprs...)
	var ks []string
	for i := range kexprs {
		ks = append(ks, "k"+strconv.Itoa(i+1))
	}
	keys := ""
	switch len(ks) {
	case 0:
	case 1:
		keys = ", pg_catalog.count(DISTINCT " + ks[0] + ")"
	default:
		keys = ", pg_catalog.count(DISTINCT (" + strings.Join(ks, ", ") + "))"
	}
	st := &checksumStatement{params: params, distinct: keys != ""}
	if native {
		// One fenced level: the bucket, the key columns and the row's
		// hash, aggregated per bucket above it.
		items := make([]string, 0, len(extra)+1)
		for i, e := range extra {
			items = append(items, e+" AS k"+strconv.Itoa(i))
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = quoteIdent(c.name)
		}
		items = append(items, s.nativeRowHash(cols)+" AS h")
		st.sql = "SELECT k0, pg_catalog.count(*)" + keys + ", pg_catalog.sum(h)::text FROM (" + fence +
			"SELECT " + strings.Join(items, ", ") + p.fromSQL(pred) + ") s GROUP BY k0"
	} else {
		st.sql = "SELECT k0, pg_catalog.count(*)" + keys + ", pg_catalog.sum(" + rowHashSQL("r") + ")::text FROM (" +
			rp.selectSQL(p, extra, pred, false) + ") s GROUP BY k0"
	}
	return st, nil
}

var two64 = new(big.Int).Lsh(big.NewInt(1), 64)

// sumMod64 reduces the server's exact sum of signed row hashes modulo
// 2^64: a signed hash is congruent to the unsigned one.
func sumMod64(s string) (uint64, error) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return 0, errors.New("malformed checksum sum " + strconv.Quote(s))
	}
	return v.Mod(v, two64).Uint64(), nil
}

// planIndexes returns the plan indexes of cols, columns of p.
func planIndexes(p *tablePlan, cols []*colPlan) []int {
	out := make([]int, len(cols))
	for i, c := range cols {
		out[i] = p.column(c.name)
	}
	return out
}
