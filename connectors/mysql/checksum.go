package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/reconhq/reconcile/connectors"
)

// The Checksummer capability: segment checksums computed by the server,
// on the Source's connection and so in its snapshot, over the same rows
// and in the same key order as ReadOrdered with ReadOptions.Ranges.
//
// The canonical row hash is connectors.RowHash of the row's canonical
// encoding, which the server builds as a binary string: the CONCAT of one
// cell per column, each exactly what the reconcile package's AppendRow
// writes for the Arrow value this connector reads (see cellSQL).

// invalidText is what the engine encodes a value the source cannot
// represent (connectors.MetaInvalid) with: '!', uvarint(length), this
// text. The tests compare the server's encoding with the engine's.
const invalidText = "a value the source cannot represent (e.g. a zero date)"

// hexLit renders b as a binary string literal.
func hexLit(b []byte) string {
	return "X'" + fmt.Sprintf("%X", b) + "'"
}

// invalidCell is the literal of an invalid value's encoding.
var invalidCell = hexLit(append([]byte{'!', byte(len(invalidText))}, invalidText...))

// int8SQL is 8 bytes big-endian of the integer expression e, which must
// lie within int64 (HEX of a negative number is its 64-bit two's
// complement).
func int8SQL(e string) string {
	return "UNHEX(LPAD(HEX(" + e + "), 16, '0'))"
}

// intCell is the encoding of a not-NULL integer within int64: 'i', 8 bytes.
func intCell(e string) string { return "CONCAT(X'69', " + int8SQL(e) + ")" }

// uvarintSQL encodes the non-negative integer expression n as an unsigned
// varint (7 bits a byte, least significant first, the high bit set on all
// but the last), as encoding/binary.AppendUvarint does; CHAR of values
// below 256 is one byte each.
func uvarintSQL(n string) string {
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
			parts[i] = e
		}
		if m < 5 {
			fmt.Fprintf(&b, " WHEN %s < %d THEN CHAR(%s)", n, 1<<(7*m), strings.Join(parts, ", "))
		} else {
			b.WriteString(" ELSE CHAR(" + strings.Join(parts, ", ") + ")")
		}
	}
	b.WriteString(" END")
	return b.String()
}

// lenCell is tag, uvarint(length), bytes, for a binary string expression b.
func lenCell(tag byte, b string) string {
	return "CONCAT(" + hexLit([]byte{tag}) + ", " + uvarintSQL("LENGTH("+b+")") + ", " + b + ")"
}

// Every part of a cell is a binary string: a CONCAT or CASE that mixes a
// character string in would convert the whole to the character set, and
// bytes such as 0xff that are not UTF-8 to '?'.

// nullOr is the encoding of column c (the value x): NULL as 0x00, anything
// else as enc; enc alone when the column is NOT NULL.
func nullOr(c *colPlan, x, enc string) string {
	if c.notNull {
		return enc
	}
	return "CASE WHEN " + x + " IS NULL THEN X'00' ELSE " + enc + " END"
}

// Civil dates as the connector reads them (parseDate): a date with a month
// of 1 to 12 and a day within the month of the proleptic Gregorian
// calendar is valid; any other (0000-00-00, 2024-00-15, 2023-02-30, which
// lenient sql_modes store) is invalid.

// validDateSQL is the predicate that the date or datetime x is valid.
func validDateSQL(x string) string {
	y, m, d := "YEAR("+x+")", "MONTH("+x+")", "DAYOFMONTH("+x+")"
	return "(" + m + " BETWEEN 1 AND 12 AND " + d + " >= 1 AND (" + d + " <= 28 OR " + d + " <= CASE WHEN " + m + " = 2 THEN 28 + (" +
		y + " % 4 = 0 AND (" + y + " % 100 <> 0 OR " + y + " % 400 = 0)) WHEN " + m + " IN (4, 6, 9, 11) THEN 30 ELSE 31 END))"
}

// daysSQL is the number of days since 1970-01-01 of the valid date or
// datetime x. TO_DAYS counts the proleptic Gregorian calendar from year 1
// on; it takes year 0 for a common year, so year 0 is computed from its
// parts (Howard Hinnant's days_from_civil with y' = -1 or 0).
func daysSQL(x string) string {
	m, d := "MONTH("+x+")", "DAYOFMONTH("+x+")"
	// In year 0, y' is -1 for January and February and 0 after: 365·y'
	// plus the leap days before (floor(y'/4) - floor(y'/100) + floor(y'/400)
	// is -1 for y' = -1 and 0 for y' = 0), plus the day of the March-based
	// year, minus the days from 0000-03-01 to 1970-01-01.
	yp := "(" + m + " <= 2)"
	year0 := "(-366 * " + yp + " + (153 * ((" + m + " + 9) % 12) + 2) DIV 5 + " + d + " - 1 - 719468)"
	return "CASE WHEN YEAR(" + x + ") = 0 THEN " + year0 + " ELSE TO_DAYS(" + x + ") - 719528 END"
}

// micros of the time of day of a datetime x.
func dayMicrosSQL(x string) string {
	return "((HOUR(" + x + ") * 3600 + MINUTE(" + x + ") * 60 + SECOND(" + x + ")) * 1000000 + MICROSECOND(" + x + "))"
}

// decimalCell encodes a decimal x as the engine encodes a decimal: an
// integral value within int64 as an integer ('i', 8 bytes), any other as
// 'n', uvarint(length), "[-]digits" "e" exponent, the digits without
// leading or trailing zeros (12.340 → "1234e-2", 1e20 → "1e20").
func decimalCell(x string) string {
	a := "CAST(ABS(" + x + ") AS CHAR)"
	// A fraction: the text without trailing zeros; its digits without the
	// point and leading zeros, and minus the count of fractional digits.
	f := "TRIM(TRAILING '0' FROM " + a + ")"
	frac := "CONCAT(TRIM(LEADING '0' FROM REPLACE(" + f + ", '.', '')), 'e-', LENGTH(" + f + ") - LOCATE('.', " + f + "))"
	// An integer beyond int64: the integral part, its trailing zeros moved
	// to the exponent.
	i := "SUBSTRING_INDEX(" + a + ", '.', 1)"
	whole := "CONCAT(TRIM(TRAILING '0' FROM " + i + "), 'e', LENGTH(" + i + ") - LENGTH(TRIM(TRAILING '0' FROM " + i + ")))"
	t := "CAST(CONCAT(IF(" + x + " < 0, '-', ''), IF(" + x + " = TRUNCATE(" + x + ", 0), " + whole + ", " + frac + ")) AS BINARY)"
	return "CASE WHEN " + x + " IS NULL THEN X'00'" +
		" WHEN " + x + " = TRUNCATE(" + x + ", 0) AND " + x + " BETWEEN -9223372036854775808 AND 9223372036854775807" +
		" THEN " + intCell("CAST("+x+" AS SIGNED)") +
		" ELSE CONCAT(X'6E', CHAR(LENGTH(" + t + ")), " + t + ") END"
}

// uintCell encodes an unsigned integer x as the engine's AppendUint: an
// integer within int64 as 'i', a larger one as a number.
func uintCell(x string) string {
	s := "CAST(" + x + " AS CHAR)"
	d := "TRIM(TRAILING '0' FROM " + s + ")"
	t := "CAST(CONCAT(" + d + ", 'e', LENGTH(" + s + ") - LENGTH(" + d + ")) AS BINARY)"
	return "CASE WHEN " + x + " IS NULL THEN X'00'" +
		" WHEN " + x + " > 9223372036854775807 THEN CONCAT(X'6E', CHAR(LENGTH(" + t + ")), " + t + ")" +
		" ELSE " + intCell(x) + " END"
}

// cellSQL returns the SQL of column c's canonical encoding, or why the
// server cannot build it ("" when it can).
func cellSQL(c *colPlan) (sql, refused string) {
	md := c.field.Metadata
	if i := md.FindKey(connectors.MetaLogical); i >= 0 && md.Values()[i] == connectors.LogicalJSON {
		return "", "JSON is compared in a canonical form the server does not build"
	}
	x := c.expr
	switch c.kind {
	case kindInt8, kindInt16, kindInt32, kindInt64, kindUint8, kindUint16, kindUint32:
		if strings.HasPrefix(c.typeName, "year") {
			x = "CAST(" + x + " AS SIGNED)"
		}
		return nullOr(c, c.expr, intCell(x)), ""
	case kindUint64:
		return uintCell(x), ""
	case kindBit:
		return uintCell("(" + x + " + 0)"), ""
	case kindBool:
		return nullOr(c, x, "IF("+x+" + 0 <> 0, X'6201', X'6200')"), ""
	case kindDecimal128, kindDecimalText:
		return decimalCell(x), ""
	case kindDate:
		// 'd', 4 bytes of days since 1970 (two's complement).
		return "CASE WHEN " + x + " IS NULL THEN X'00' WHEN " + validDateSQL(x) +
			" THEN CONCAT(X'64', UNHEX(LPAD(HEX((" + daysSQL(x) + ") & 4294967295), 8, '0')))" +
			" ELSE " + invalidCell + " END", ""
	case kindTimestamp:
		// 't', 8 bytes of microseconds since 1970, the wall clock read as
		// UTC (TIMESTAMP columns show UTC: the session's time zone).
		return "CASE WHEN " + x + " IS NULL THEN X'00' WHEN " + validDateSQL(x) +
			" THEN " + "CONCAT(X'74', " + int8SQL("("+daysSQL(x)+") * 86400000000 + "+dayMicrosSQL(x)) + ")" +
			" ELSE " + invalidCell + " END", ""
	case kindTime:
		// 'h', 8 bytes of microseconds, negative and beyond 24h as they are.
		return nullOr(c, x, "CONCAT(X'68', "+int8SQL("CAST(TIME_TO_SEC("+x+") * 1000000 AS SIGNED)")+")"), ""
	case kindText:
		// 's', uvarint(length), the UTF-8 bytes the server sends: the
		// column's own when it is in UTF-8 (LENGTH counts bytes).
		if !c.utf8 {
			x = "CONVERT(" + x + " USING utf8mb4)"
		}
		return nullOr(c, c.expr, "CONCAT(X'73', "+uvarintSQL("LENGTH("+x+")")+", CAST("+x+" AS BINARY))"), ""
	case kindBinary:
		return nullOr(c, x, lenCell('x', "CAST("+x+" AS BINARY)")), ""
	case kindFloat32, kindFloat64:
		return "", "binary floats are encoded by their shortest decimal, which the server is not relied on to produce"
	}
	return "", "the type has no canonical encoding in SQL"
}

// rowSQL returns the binary string of the canonical encoding of cols, and
// the names of the columns the server cannot encode.
func rowSQL(cols []*colPlan) (string, []string) {
	var cells, refused []string
	for _, c := range cols {
		sql, why := cellSQL(c)
		if why != "" {
			refused = append(refused, c.name)
			continue
		}
		cells = append(cells, sql)
	}
	switch len(cells) {
	case 0:
		return "X''", refused
	case 1:
		return cells[0], refused
	}
	return "CONCAT(" + strings.Join(cells, ", ") + ")", refused
}

// rowTooLarge is added to a row's hash when the server could not build
// its encoding (CONCAT returns NULL beyond max_allowed_packet): 2^100,
// which a sum of fewer than 2^36 hashes below 2^64 never reaches, so the
// count of such rows is the sum's quotient by it.
const rowTooLarge = "1267650600228229401496703205376"

var two100 = new(big.Int).Lsh(big.NewInt(1), 100)

// rowHashSQL is connectors.RowHash in SQL, as an unsigned integer: the
// first 8 bytes of the MD5 of the row's encoding; rowTooLarge when the
// server could not build it.
func rowHashSQL(row string) string {
	return "COALESCE(CAST(CONV(LEFT(MD5(" + row + "), 16), 16, 10) AS UNSIGNED), " + rowTooLarge + ")"
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
// cannot build (floats and JSON), and an error when a key column cannot
// bound key ranges or a column is not in the table. nil columns stands
// for all of them.
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
	_, refused := rowSQL(cols)
	return refused, nil
}

// NativeHash returns "": the server's own renderings are no cheaper to
// hash than the canonical encoding (see the package documentation).
func (s *Source) NativeHash() string { return "" }

// whereSQL is the WHERE clause of the user's filter and the predicates.
func (p *tablePlan) whereSQL(preds ...string) string {
	var terms []string
	if p.where != "" {
		terms = append(terms, "("+p.where+")")
	}
	for _, t := range preds {
		if t != "" {
			terms = append(terms, t)
		}
	}
	if len(terms) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(terms, " AND ")
}

// statement runs sql (no parameters) on the Source's connection, inside
// its snapshot, and hands each row to scan; start, if not nil, runs before
// each attempt. A lost connection is retried on a new connection, whose
// new snapshot is recorded as a Resume.
func (s *Source) statement(ctx context.Context, sql string, start func(), scan func([]driver.Value) error) error {
	if err := s.take(ctx); err != nil {
		return err
	}
	defer s.give()
	err := s.retry(ctx, func() error {
		ss, fresh, cause, err := s.ensure(ctx)
		if err != nil {
			return err
		}
		if fresh {
			s.addResume(Resume{Cause: causeText(s.scrub(cause)), Snapshot: ss.snap})
		}
		if start != nil {
			start()
		}
		stop := s.watch(ctx, ss)
		err = runRows(ss, sql, scan)
		stop()
		if err != nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil && sessionGone(err) && ctx.Err() == nil {
			s.drop(ss, err)
		} else if err != nil && ctx.Err() != nil && !ss.usable() {
			s.drop(ss, err)
		}
		return err
	})
	if err != nil {
		if isTimeout(err) {
			err = fmt.Errorf("statement timeout exceeded: %w", err)
		}
		return s.scrub(err)
	}
	return nil
}

// runRows runs sql on ss and hands each row to scan.
func runRows(ss *session, sql string, scan func([]driver.Value) error) error {
	rows, err := ss.query(ss.ctx, sql, nil)
	if err != nil {
		return err
	}
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		if err = rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			break
		}
		if err = scan(dest); err != nil {
			break
		}
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// Checksums computes, in one statement, the row count, the count of
// distinct keys and the sum of the canonical row hashes of each range
// [Range.From, b1), [b1, b2), ..., [bk, Range.To) of the request, over
// the given columns (nil for all of them, in table order).
func (s *Source) Checksums(ctx context.Context, ref connectors.TableRef, req connectors.ChecksumRequest) ([]connectors.Segment, error) {
	name := refName(ref)
	sql, distinct, err := s.checksumSQL(ctx, ref, req)
	if err != nil {
		return nil, fmt.Errorf("checksum %s: %w", name, err)
	}
	want := 3
	if distinct {
		want = 4
	}
	var segs []connectors.Segment
	err = s.statement(ctx, sql, func() { segs = make([]connectors.Segment, len(req.Bounds)+1) }, func(vals []driver.Value) error {
		if len(vals) != want {
			return fmt.Errorf("%d values in a checksum row, want %d", len(vals), want)
		}
		b, ok := toInt(vals[0])
		if !ok || b < 0 || b >= int64(len(segs)) {
			return fmt.Errorf("range index %v out of range", vals[0])
		}
		count, ok := toInt(vals[1])
		if !ok {
			return fmt.Errorf("malformed row count %v", vals[1])
		}
		keys := count
		if distinct {
			if keys, ok = toInt(vals[2]); !ok {
				return fmt.Errorf("malformed key count %v", vals[2])
			}
		}
		sum, err := sumMod64(toString(vals[want-1]))
		if err != nil {
			return err
		}
		segs[b] = connectors.Segment{Rows: count, Keys: keys, Sum: sum}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checksum %s: %w", name, err)
	}
	return segs, nil
}

// checksumSQL checks the request and renders its statement, whose rows
// are the range index, COUNT(*), COUNT(DISTINCT key) when distinct, and
// the sum of the row hashes.
func (s *Source) checksumSQL(ctx context.Context, ref connectors.TableRef, req connectors.ChecksumRequest) (string, bool, error) {
	if req.Hash != "" {
		return "", false, fmt.Errorf("row hash %q is not this source's (it has only the canonical one): %w", req.Hash, connectors.ErrUnsupported)
	}
	p, err := s.plan(ctx, ref)
	if err != nil {
		return "", false, err
	}
	kcols, err := p.rangeKey(req.Key)
	if err != nil {
		return "", false, err
	}
	cols, err := p.pick(req.Columns)
	if err != nil {
		return "", false, err
	}
	row, refused := rowSQL(cols)
	if len(refused) > 0 {
		return "", false, fmt.Errorf("column(s) %s cannot be checksummed in the database: %w", strings.Join(refused, ", "), connectors.ErrUnsupported)
	}
	r, bounds := req.Range, req.Bounds
	rs, err := newRangeSQL(kcols, append([][]any{r.From, r.To}, bounds...)...)
	if err != nil {
		return "", false, err
	}
	for i, b := range bounds {
		if b == nil {
			return "", false, fmt.Errorf("bound %d is nil: %w", i+1, connectors.ErrBadInput)
		}
		switch {
		case i > 0 && compareTuple(kcols, bounds[i-1], b) >= 0:
			return "", false, fmt.Errorf("bounds %d and %d are not in ascending order: %w", i, i+1, connectors.ErrBadInput)
		case r.From != nil && compareTuple(kcols, r.From, b) >= 0,
			r.To != nil && compareTuple(kcols, b, r.To) >= 0:
			return "", false, fmt.Errorf("bound %d does not lie strictly inside the range: %w", i+1, connectors.ErrBadInput)
		}
	}
	pred, err := rs.predicate(r)
	if err != nil {
		return "", false, err
	}
	bucket, err := rs.bucket(bounds)
	if err != nil {
		return "", false, err
	}
	// A key that covers the primary key never repeats, and its count is
	// the row count; any other is counted by its order expressions, equal
	// exactly when the engine's values are (text as UTF-8 bytes).
	keys := ""
	if !p.uniqueKey(kcols) {
		exprs := make([]string, len(kcols))
		for i, c := range kcols {
			exprs[i] = c.order
		}
		keys = ", COUNT(DISTINCT " + strings.Join(exprs, ", ") + ")"
	}
	sql := "SELECT /* reconcile checksum */ " + bucket + " AS `reconcile bucket`, COUNT(*)" + keys +
		", SUM(" + rowHashSQL(row) + ") FROM " + p.from + p.whereSQL(pred) + " GROUP BY `reconcile bucket`"
	return sql, keys != "", nil
}

var two64 = new(big.Int).Lsh(big.NewInt(1), 64)

// sumMod64 reduces the server's exact (DECIMAL) sum of row hashes modulo
// 2^64, after checking that every row's encoding could be built (see
// rowTooLarge).
func sumMod64(s string) (uint64, error) {
	if s == "" {
		return 0, nil // SUM of no rows: NULL
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 {
		return 0, errors.New("malformed checksum sum " + strconv.Quote(s))
	}
	q, m := new(big.Int).QuoRem(v, two100, new(big.Int))
	if q.Sign() != 0 {
		return 0, fmt.Errorf("%s rows are longer than the server's max_allowed_packet, so it cannot build their encoding to hash (use --algorithm stream): %w", q, connectors.ErrUnsupported)
	}
	return m.Mod(m, two64).Uint64(), nil
}

// uniqueKey reports whether the key columns cover the table's primary key,
// so that no two rows share a key.
func (p *tablePlan) uniqueKey(kcols []*colPlan) bool {
	if len(p.info.PrimaryKey) == 0 {
		return false
	}
	for _, k := range p.info.PrimaryKey {
		found := false
		for _, c := range kcols {
			if c.name == k {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

var _ connectors.Checksummer = (*Source)(nil)

// Boundaries returns at most n-1 ascending keys strictly inside r that
// split its rows into ranges of about equal row counts. A single integer
// key is split arithmetically between the range's least and greatest key
// (two index lookups, when an index serves them); any other key at every
// ceil(count/n)-th row in key order (ROW_NUMBER over the ordered keys).
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
	where := p.whereSQL(pred)
	if len(cols) == 1 && isInt(cols[0].kind) {
		e := cols[0].order
		var lo, hi driver.Value
		err := s.statement(ctx, "SELECT /* reconcile split */ MIN("+e+"), MAX("+e+") FROM "+p.from+where, nil, func(v []driver.Value) error {
			lo, hi = v[0], v[1]
			return nil
		})
		if err != nil {
			return fail(err)
		}
		if lo == nil || hi == nil {
			return nil, nil
		}
		l, err := intOf(lo)
		if err != nil {
			if _, uerr := uintOf(lo); uerr == nil {
				return nil, nil // every key is beyond int64, after every bound
			}
			return fail(fmt.Errorf("least key %v: %w", lo, err))
		}
		h, err := intOf(hi)
		if err != nil {
			// bigint unsigned beyond int64: the bounds stop at int64's
			// greatest, the last range holds the rest.
			if _, uerr := uintOf(hi); uerr != nil {
				return fail(fmt.Errorf("greatest key %v: %w", hi, err))
			}
			h = math.MaxInt64
		}
		return splitInts(l, h, n), nil
	}

	var count int64
	err = s.statement(ctx, "SELECT /* reconcile split */ COUNT(*) FROM "+p.from+where, nil, func(v []driver.Value) error {
		var ok bool
		if count, ok = toInt(v[0]); !ok {
			return fmt.Errorf("malformed count %v", v[0])
		}
		return nil
	})
	if err != nil {
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
		alias := quoteIdent("k" + strconv.Itoa(i))
		inner[i] = c.expr + " AS " + alias
		order[i] = c.order
		outer[i] = alias
	}
	// Rows 1, step+1, 2·step+1, ... in key order: the first is the
	// range's least key, the others the boundaries.
	sql := "SELECT /* reconcile split */ " + strings.Join(outer, ", ") + " FROM (SELECT " + strings.Join(inner, ", ") +
		", ROW_NUMBER() OVER (ORDER BY " + strings.Join(order, ", ") + ") AS `rn` FROM " + p.from + where +
		") AS s WHERE (`rn` - 1) % " + strconv.FormatInt(step, 10) + " = 0 ORDER BY `rn`"
	var out [][]any
	var prev []any
	err = s.statement(ctx, sql, func() { out, prev = nil, nil }, func(v []driver.Value) error {
		b, ok, err := boundOf(cols, v)
		if err != nil {
			return err
		}
		if !ok {
			return nil // an invalid date sorts first: no bound
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

// boundOf reads a key of the columns cols, as the read decodes it, into
// the Go values of a bound; ok is false for a key no bound can stand for:
// one holding an invalid date (see the package documentation) or a
// bigint unsigned beyond int64. Leaving such a key out merges two ranges.
func boundOf(cols []*colPlan, v []driver.Value) ([]any, bool, error) {
	b := make([]any, len(cols))
	for i, c := range cols {
		x := v[i]
		if x == nil {
			return nil, false, fmt.Errorf("key column %s: NULL in a key range", c.name)
		}
		var err error
		switch {
		case isInt(c.kind):
			var n int64
			if n, err = intOf(x); err == nil {
				b[i] = n
			} else if _, uerr := uintOf(x); uerr == nil {
				return nil, false, nil // beyond int64, which bounds cannot hold: no bound
			}
		case c.kind == kindText:
			raw, ok := x.([]byte)
			if !ok {
				return nil, false, fmt.Errorf("key column %s: unexpected %T", c.name, x)
			}
			b[i] = string(raw)
		case c.kind == kindBinary:
			raw, ok := x.([]byte)
			if !ok {
				return nil, false, fmt.Errorf("key column %s: unexpected %T", c.name, x)
			}
			b[i] = append([]byte{}, raw...) // never nil, which binds as NULL
		case c.kind == kindDate:
			raw, _ := x.([]byte)
			days, ok, perr := parseDate(raw)
			if perr != nil {
				return nil, false, valueError(c, x, perr)
			}
			if !ok {
				return nil, false, nil
			}
			b[i] = time.Unix(int64(days)*86400, 0).UTC()
		case c.kind == kindTimestamp:
			raw, _ := x.([]byte)
			us, ok, perr := parseDatetime(raw)
			if perr != nil {
				return nil, false, valueError(c, x, perr)
			}
			if !ok {
				return nil, false, nil
			}
			b[i] = time.UnixMicro(us).UTC()
		default:
			return nil, false, fmt.Errorf("key column %s (%s) cannot bound key ranges: %w", c.name, c.typeName, connectors.ErrUnsupported)
		}
		if err != nil {
			return nil, false, valueError(c, x, err)
		}
	}
	return b, true, nil
}

// splitInts returns the integers lo + (hi-lo+1)·i/n for i in 1..n-1, each
// once and greater than lo (so all of them up to hi when there are fewer
// than n).
func splitInts(lo, hi int64, n int) [][]any {
	if hi < lo {
		return nil
	}
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
