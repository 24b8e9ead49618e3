package postgres

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reconhq/reconcile/connectors"
)

// Key ranges (connectors.KeyRange) are rendered as SQL predicates over the
// key columns' order expressions, with the bounds written as literals:
// the ordered read runs them inside a COPY, which takes no bind
// parameters, and Checksums and Boundaries use the same SQL, so that a
// range selects the same rows everywhere. Checksums alone finds the
// range of each row with width_bucket over one array parameter when it
// can (see bucket).
//
// A bound holds one Go value per key column:
//
//	smallint, integer, bigint        int64 (any Go integer type is taken)
//	text, varchar, char(n), name,    string, compared with the column's
//	  enums and other text columns   UTF-8 bytes (char without its pad)
//	uuid                             string: compared with the 8-4-4-4-12
//	                                 lower-case text
//	bytea                            []byte (or string)
//	date                             time.Time; days since 1970 at
//	                                 math.MaxInt32 and math.MinInt32 stand
//	                                 for ±infinity, as the connector reads them
//	timestamp, timestamptz           time.Time (its UTC instant; timestamp
//	                                 is taken as UTC); math.MaxInt64 and
//	                                 math.MinInt64 microseconds since 1970
//	                                 stand for ±infinity
//
// Keys of other types (numeric, floats, bool, time, json, ...) cannot
// bound ranges.

// rangeUnsupported says why a column cannot bound key ranges ("" when
// it can).
func rangeUnsupported(c *colPlan) string {
	if c.unordered != "" {
		return c.unordered
	}
	switch c.kind {
	case kindInt2, kindInt4, kindInt8, kindText, kindBPChar, kindUUID, kindBytea, kindDate, kindTimestamp:
		return ""
	}
	return "key ranges are bounded by integers, text, uuid, bytea, dates and timestamps only"
}

// rangeKey resolves the key columns of a key range and checks that each
// can bound one. The errors are for the caller to prefix.
func (p *tablePlan) rangeKey(key []string) ([]*colPlan, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("a key range needs at least one key column: %w", connectors.ErrUnsupported)
	}
	var cols []*colPlan
	var errs []string
	seen := map[string]bool{}
	for _, k := range key {
		i := p.column(k)
		switch {
		case i < 0:
			names := make([]string, len(p.cols))
			for j := range p.cols {
				names[j] = p.cols[j].name
			}
			return nil, fmt.Errorf("key column %q not found (columns: %s): %w", k, strings.Join(names, ", "), connectors.ErrColumnNotFound)
		case seen[k]:
			errs = append(errs, fmt.Sprintf("key column %q is listed twice", k))
		default:
			c := &p.cols[i]
			if why := rangeUnsupported(c); why != "" {
				errs = append(errs, fmt.Sprintf("key column %q (%s) cannot bound key ranges: %s", k, c.typeName, why))
			}
			cols = append(cols, c)
		}
		seen[k] = true
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", strings.Join(errs, "; "), connectors.ErrUnsupported)
	}
	return cols, nil
}

// keyForm is how one key column is compared with bound values: the
// left-hand expression and the text and type of a value's literal. Both
// keep the engine's key order.
type keyForm struct {
	col *colPlan
	lhs string
	// text returns a value's literal before quoting, and the type it is
	// cast to.
	text func(v any) (text, typ string, err error)
}

// lit renders v as a SQL literal.
func (f *keyForm) lit(v any) (string, error) {
	text, typ, err := f.text(v)
	if err != nil {
		return "", err
	}
	return quoteLiteral(text) + "::" + typ, nil
}

// rangeSQL renders key ranges and bounds for one key. The forms are
// chosen once for all the bound values it will render, so that every
// comparison of one statement uses the same expressions.
type rangeSQL struct {
	forms []keyForm
}

// newRangeSQL checks the bounds (one value of the right Go type per key
// column) and chooses the forms that render them exactly.
func newRangeSQL(cols []*colPlan, bounds ...[]any) (*rangeSQL, error) {
	for _, b := range bounds {
		if b == nil {
			continue
		}
		if len(b) != len(cols) {
			return nil, fmt.Errorf("a key bound has %d values for a key of %d columns: %w", len(b), len(cols), connectors.ErrBadInput)
		}
	}
	rs := &rangeSQL{forms: make([]keyForm, len(cols))}
	for i, c := range cols {
		var vals []any
		for _, b := range bounds {
			if b != nil {
				vals = append(vals, b[i])
			}
		}
		f, err := formFor(c, vals)
		if err != nil {
			return nil, err
		}
		rs.forms[i] = f
	}
	return rs, nil
}

// formFor chooses how column c is compared with the values vals (all of
// which it checks). Text compares in the order expression's form (an
// index on it can serve) when every value can be written as a literal of
// that form, and otherwise as the UTF-8 bytes of the text against bytea
// literals, which holds any value exactly.
func formFor(c *colPlan, vals []any) (keyForm, error) {
	f := keyForm{col: c, lhs: c.orderExpr()}
	bad := func(v any, want string) error {
		return fmt.Errorf("key column %s (%s): a bound value of type %T, want %s: %w", c.name, c.typeName, v, want, connectors.ErrBadInput)
	}
	for _, v := range vals {
		if v == nil {
			return f, fmt.Errorf("key column %s: a key bound holds NULL, which lies in no key range: %w", c.name, connectors.ErrBadInput)
		}
	}
	switch c.kind {
	case kindInt2, kindInt4, kindInt8:
		for _, v := range vals {
			if _, ok := boundInt(v); !ok {
				return f, bad(v, "an integer (int64)")
			}
		}
		// int8 literals, whatever the column's width: a bound from another
		// source may lie outside the column's type.
		f.text = func(v any) (string, string, error) {
			n, ok := boundInt(v)
			if !ok {
				return "", "", bad(v, "an integer (int64)")
			}
			return strconv.FormatInt(n, 10), "int8", nil
		}
	case kindText, kindBPChar, kindUUID:
		native := !c.utf8Order
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				return f, bad(v, "a string")
			}
			switch c.kind {
			case kindUUID:
				native = native && canonicalUUID(s)
			case kindBPChar:
				// char compares without trailing spaces on both sides: a
				// bound with them would not be in byte order.
				native = native && nativeText(s) && !strings.HasSuffix(s, " ")
			default:
				native = native && nativeText(s)
			}
		}
		if !native {
			f.lhs = "pg_catalog.convert_to((" + c.expr + ")::text, 'UTF8')"
			f.text = func(v any) (string, string, error) {
				s, ok := v.(string)
				if !ok {
					return "", "", bad(v, "a string")
				}
				return byteaText([]byte(s)), "bytea", nil
			}
			break
		}
		typ := "text"
		switch c.kind {
		case kindUUID:
			typ, f.lhs = "uuid", c.expr
		case kindBPChar:
			typ = "bpchar"
		}
		f.text = func(v any) (string, string, error) {
			s, ok := v.(string)
			if !ok {
				return "", "", bad(v, "a string")
			}
			return s, typ, nil
		}
	case kindBytea:
		f.lhs = c.expr
		for _, v := range vals {
			if _, ok := boundBytes(v); !ok {
				return f, bad(v, "[]byte")
			}
		}
		f.text = func(v any) (string, string, error) {
			b, ok := boundBytes(v)
			if !ok {
				return "", "", bad(v, "[]byte")
			}
			return byteaText(b), "bytea", nil
		}
	case kindDate:
		for _, v := range vals {
			if _, ok := v.(time.Time); !ok {
				return f, bad(v, "a time.Time")
			}
		}
		f.text = func(v any) (string, string, error) {
			t, ok := v.(time.Time)
			if !ok {
				return "", "", bad(v, "a time.Time")
			}
			return dateBoundText(c, t)
		}
	case kindTimestamp:
		for _, v := range vals {
			if _, ok := v.(time.Time); !ok {
				return f, bad(v, "a time.Time")
			}
		}
		f.text = func(v any) (string, string, error) {
			t, ok := v.(time.Time)
			if !ok {
				return "", "", bad(v, "a time.Time")
			}
			return timestampBoundText(c, t)
		}
	default:
		return f, fmt.Errorf("key column %s (%s) cannot bound key ranges: %w", c.name, c.typeName, connectors.ErrUnsupported)
	}
	return f, nil
}

// nativeText reports whether s can be a text literal compared with
// COLLATE "C" in byte order: valid UTF-8 without NUL bytes (PostgreSQL
// text holds neither invalid UTF-8 nor NUL).
func nativeText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// canonicalUUID reports whether s is a uuid as the connector reads one:
// 8-4-4-4-12 lower-case hex, whose byte order is the uuid's order.
func canonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// byteaText is the text of a bytea literal of b.
func byteaText(b []byte) string { return `\x` + hex.EncodeToString(b) }

// boundInt reads an integer bound of any Go integer type.
func boundInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), true
		}
	case uint:
		if uint64(n) <= math.MaxInt64 {
			return int64(n), true
		}
	}
	return 0, false
}

func boundBytes(v any) ([]byte, bool) {
	switch b := v.(type) {
	case []byte:
		return b, true
	case string:
		return []byte(b), true
	}
	return nil, false
}

// Unix microseconds and days the connector reads ±infinity as.
const (
	infDays      = math.MaxInt32
	minusInfDays = math.MinInt32
)

// unixMicrosCeil returns t as microseconds since 1970, rounded up (an
// integral key is >= t, or < t, exactly when it is so against the
// rounded-up value); ok is false beyond int64.
func unixMicrosCeil(t time.Time) (int64, bool) {
	const limit = math.MaxInt64/1_000_000 - 1
	sec, ns := t.Unix(), int64(t.Nanosecond())
	if sec > limit || sec < -limit {
		// Near the limits: only the exact extremes (±infinity) count.
		for _, x := range []int64{math.MaxInt64, math.MinInt64} {
			if t.Equal(time.UnixMicro(x)) {
				return x, true
			}
		}
		return 0, false
	}
	us := sec*1_000_000 + ns/1000
	if ns%1000 != 0 {
		us++
	}
	return us, true
}

// timestampBoundText renders t as the text of a literal of the timestamp
// column c, and its type.
func timestampBoundText(c *colPlan, t time.Time) (string, string, error) {
	us, ok := unixMicrosCeil(t)
	if !ok {
		return "", "", fmt.Errorf("key column %s: bound %s is beyond microseconds in an int64: %w", c.name, t, connectors.ErrBadInput)
	}
	switch us {
	case math.MaxInt64:
		return "infinity", c.baseName, nil
	case math.MinInt64:
		return "-infinity", c.baseName, nil
	}
	pg := us - pgEpochMicros
	if us < math.MinInt64+pgEpochMicros {
		return "", "", fmt.Errorf("key column %s: bound %s is out of range: %w", c.name, t, connectors.ErrBadInput)
	}
	zone := ""
	if strings.Contains(c.baseName, "with time zone") {
		zone = "+00"
	}
	return formatPGTime(pg) + zone, c.baseName, nil
}

// dateBoundText renders t as the text of a literal to compare the date
// column c with, and its type: a date at midnight UTC, otherwise a
// timestamp (PostgreSQL compares dates with timestamps exactly, a date
// being its midnight).
func dateBoundText(c *colPlan, t time.Time) (string, string, error) {
	t = t.UTC()
	sec := t.Unix()
	days := sec / 86400
	if sec%86400 < 0 {
		days--
	}
	midnight := sec%86400 == 0 && t.Nanosecond() == 0
	if midnight {
		switch days {
		case infDays:
			return "infinity", "date", nil
		case minusInfDays:
			return "-infinity", "date", nil
		}
		if days > infDays || days-pgEpochDays <= minusInfDays {
			return "", "", fmt.Errorf("key column %s: bound %s is out of range: %w", c.name, t, connectors.ErrBadInput)
		}
		return formatPGDate(int32(days - pgEpochDays)), "date", nil
	}
	us, ok := unixMicrosCeil(t)
	if !ok || us < math.MinInt64+pgEpochMicros {
		return "", "", fmt.Errorf("key column %s: bound %s is out of range: %w", c.name, t, connectors.ErrBadInput)
	}
	return formatPGTime(us - pgEpochMicros), "timestamp", nil
}

// compare renders the comparison (lhs...) op (literals of tuple...).
func (rs *rangeSQL) compare(op string, tuple []any) (string, error) {
	lhs := make([]string, len(rs.forms))
	lits := make([]string, len(rs.forms))
	for i, f := range rs.forms {
		lit, err := f.lit(tuple[i])
		if err != nil {
			return "", err
		}
		lhs[i], lits[i] = f.lhs, lit
	}
	if len(lhs) == 1 {
		return lhs[0] + " " + op + " " + lits[0], nil
	}
	return "(" + strings.Join(lhs, ", ") + ") " + op + " (" + strings.Join(lits, ", ") + ")", nil
}

// notNull is the predicate that the key holds no NULL ("" when its
// columns are NOT NULL).
func (rs *rangeSQL) notNull() string {
	var terms []string
	for _, f := range rs.forms {
		if !f.col.notNull {
			terms = append(terms, "("+f.col.expr+") IS NOT NULL")
		}
	}
	return strings.Join(terms, " AND ")
}

// within is the predicate From <= key < To of r, NULLs aside ("" for an
// unbounded range).
func (rs *rangeSQL) within(r connectors.KeyRange) (string, error) {
	var terms []string
	if r.From != nil {
		t, err := rs.compare(">=", r.From)
		if err != nil {
			return "", err
		}
		terms = append(terms, t)
	}
	if r.To != nil {
		t, err := rs.compare("<", r.To)
		if err != nil {
			return "", err
		}
		terms = append(terms, t)
	}
	return strings.Join(terms, " AND "), nil
}

// predicate selects the rows whose key lies in r: no NULL in the key,
// From <= key < To.
func (rs *rangeSQL) predicate(r connectors.KeyRange) (string, error) {
	w, err := rs.within(r)
	if err != nil {
		return "", err
	}
	nn := rs.notNull()
	if nn == "" || w == "" {
		return nn + w, nil
	}
	return nn + " AND " + w, nil
}

// rangesPredicate selects the rows whose key (of the columns cols) lies
// in one of ranges, ascending and not overlapping: no NULL in the key,
// and the OR of the ranges' predicates, adjacent ranges merged into one.
func rangesPredicate(cols []*colPlan, ranges []connectors.KeyRange) (string, error) {
	var bounds [][]any
	for _, r := range ranges {
		bounds = append(bounds, r.From, r.To)
	}
	rs, err := newRangeSQL(cols, bounds...)
	if err != nil {
		return "", err
	}
	var merged []connectors.KeyRange
	for i, r := range ranges {
		if i > 0 {
			prev := ranges[i-1]
			if prev.To == nil || r.From == nil || compareTuple(cols, prev.To, r.From) > 0 {
				return "", fmt.Errorf("key ranges %d and %d are not in ascending order or overlap: %w", i, i+1, connectors.ErrBadInput)
			}
			if last := &merged[len(merged)-1]; compareTuple(cols, last.To, r.From) == 0 {
				last.To = r.To
				continue
			}
		}
		merged = append(merged, r)
	}
	var ors []string
	for _, r := range merged {
		w, err := rs.within(r)
		if err != nil {
			return "", err
		}
		if w == "" {
			ors = nil // an unbounded range holds every key
			break
		}
		ors = append(ors, w)
	}
	terms := []string{rs.notNull()}
	switch len(ors) {
	case 0:
	case 1:
		terms = append(terms, ors[0])
	default:
		terms = append(terms, "("+strings.Join(ors, ") OR (")+")")
	}
	return andSQL(terms...), nil
}

// maxNameBound is the longest text bound, in bytes, compared as a name:
// the text of a key that does not fit a name (63 bytes) is cut to at
// least 60 bytes (whole UTF-8 characters), which compares with a bound
// of 60 bytes or fewer as the whole text does.
const maxNameBound = 60

// arrayForm returns how width_bucket looks column c up in an array of
// bounds: the array's element type and the expression of the key, or ""
// when it cannot. width_bucket searches an array of a fixed-width type in
// O(log n), but walks one of a variable-width type (text, bytea) element
// by element, so text keys are cut to names (64 bytes, fixed, compared
// byte-wise with COLLATE "C", PostgreSQL 12 on) when names says so and
// every bound is short enough (see maxNameBound). char(n) keys, whose
// cut would drop trailing blanks, are left to the CASE.
func arrayForm(c *colPlan, names bool) (typ, lhs string) {
	switch c.kind {
	case kindInt2, kindInt4, kindInt8:
		typ = "int8"
	case kindUUID:
		typ = "uuid"
	case kindDate:
		// Only midnights: a date compared with a timestamp array would be
		// cast to timestamp, which not every date fits.
		typ = "date"
	case kindTimestamp:
		typ = c.baseName
	case kindText:
		if names && !c.utf8Order {
			return "name", "(" + c.expr + `)::name COLLATE "C"`
		}
		return "", ""
	default:
		return "", ""
	}
	return typ, "(" + c.expr + ")::" + typ
}

// bucket renders the index of the range among [.., b1), [b1, b2), ...,
// [bk, ..) a row's key lies in, and the statement's parameters. A key of
// one column that arrayForm takes (integers, uuid, date, timestamps, and
// text as names) is looked up with width_bucket in the bounds, one array
// parameter ($1::int8[]), which compares in the type's order, the order
// of the read; any other key by a CASE that halves the bounds at each
// step (log2(k) comparisons per row), with the bounds as literals.
func (rs *rangeSQL) bucket(bounds [][]any, names bool) (string, []string, error) {
	if len(bounds) == 0 {
		return "0", nil, nil
	}
	if len(rs.forms) == 1 {
		f := &rs.forms[0]
		typ, lhs := arrayForm(f.col, names)
		elems := make([]string, len(bounds))
		ok := typ != ""
		for i := 0; ok && i < len(bounds); i++ {
			text, t, err := f.text(bounds[i][0])
			if err != nil {
				return "", nil, err
			}
			if typ == "name" {
				// A text bound that fits a text literal, short enough.
				ok = t == "text" && len(text) <= maxNameBound
			} else {
				// Not a uuid compared as bytes, nor a date with a time of day.
				ok = t == typ
			}
			elems[i] = text
		}
		if ok {
			return "pg_catalog.width_bucket(" + lhs + ", $1::" + typ + "[])", []string{arrayText(elems)}, nil
		}
	}
	var b strings.Builder
	var walk func(lo, hi int) error
	walk = func(lo, hi int) error {
		if lo == hi {
			b.WriteString(strconv.Itoa(lo))
			return nil
		}
		mid := (lo + hi + 1) / 2 // the first bucket of the upper half starts at bounds[mid-1]
		cmp, err := rs.compare("<", bounds[mid-1])
		if err != nil {
			return err
		}
		b.WriteString("CASE WHEN " + cmp + " THEN ")
		if err := walk(lo, mid-1); err != nil {
			return err
		}
		b.WriteString(" ELSE ")
		if err := walk(mid, hi); err != nil {
			return err
		}
		b.WriteString(" END")
		return nil
	}
	if err := walk(0, len(bounds)); err != nil {
		return "", nil, err
	}
	return b.String(), nil, nil
}

// arrayText renders elems as the text of a one-dimensional array, each
// element double-quoted.
func arrayText(elems []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for j := 0; j < len(e); j++ {
			if e[j] == '"' || e[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(e[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// compareBound compares two bound values of column c in the engine's key
// order.
func compareBound(c *colPlan, a, b any) int {
	switch c.kind {
	case kindInt2, kindInt4, kindInt8:
		x, _ := boundInt(a)
		y, _ := boundInt(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case kindText, kindBPChar, kindUUID:
		x, _ := a.(string)
		y, _ := b.(string)
		return strings.Compare(x, y)
	case kindBytea:
		x, _ := boundBytes(a)
		y, _ := boundBytes(b)
		return bytes.Compare(x, y)
	case kindDate, kindTimestamp:
		x, _ := a.(time.Time)
		y, _ := b.(time.Time)
		return x.Compare(y)
	}
	return 0
}

// compareTuple compares two key bounds column by column.
func compareTuple(cols []*colPlan, a, b []any) int {
	for i, c := range cols {
		if r := compareBound(c, a[i], b[i]); r != 0 {
			return r
		}
	}
	return 0
}
