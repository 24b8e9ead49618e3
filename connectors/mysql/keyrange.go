package mysql

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/reconhq/reconcile/connectors"
)

// Key ranges (connectors.KeyRange) are rendered as SQL predicates over the
// key columns' order expressions (the ones ORDER BY uses), with the bounds
// written as literals, so that a range selects the same rows in ordered
// reads, Boundaries and Checksums. A bound holds one Go value per key
// column:
//
//	tinyint … bigint, signed or        int64 (any Go integer type is taken);
//	  unsigned, year                   bigint unsigned beyond int64 lies
//	                                   after every bound
//	char, varchar, text, enum, set,    string, compared with the column's
//	  uuid and other text columns      UTF-8 bytes as a binary string
//	binary, varbinary, blob            []byte (or string), byte-wise
//	date                               time.Time (a date is its midnight UTC)
//	datetime, timestamp                time.Time (its UTC instant; datetime
//	                                   is taken as UTC)
//
// Keys of other types (decimal, float, bit, time, json) cannot bound
// ranges. Bounds beyond MySQL's years 0000 to 9999 are refused.

// rangeUnsupported says why a column cannot bound key ranges ("" when it
// can).
func rangeUnsupported(c *colPlan) string {
	if c.unordered != "" {
		return c.unordered
	}
	switch c.kind {
	case kindInt8, kindInt16, kindInt32, kindInt64, kindUint8, kindUint16, kindUint32, kindUint64,
		kindText, kindBinary, kindDate, kindTimestamp:
		return ""
	}
	return "key ranges are bounded by integers, text, binary strings, dates and instants only"
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

// isInt reports an integer column.
func isInt(k kind) bool {
	switch k {
	case kindInt8, kindInt16, kindInt32, kindInt64, kindUint8, kindUint16, kindUint32, kindUint64:
		return true
	}
	return false
}

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

// boundBytes reads a text or binary bound.
func boundBytes(v any) ([]byte, bool) {
	switch b := v.(type) {
	case []byte:
		return b, true
	case string:
		return []byte(b), true
	}
	return nil, false
}

// Microseconds since 1970 of 0000-01-01 and of 9999-12-31 23:59:59.999999,
// the range of MySQL's dates and instants.
var (
	minMicros = daysFromCivil(0, 1, 1) * 86_400_000_000
	maxMicros = (daysFromCivil(9999, 12, 31)+1)*86_400_000_000 - 1
)

// boundMicros returns t as microseconds since 1970, rounded up (an
// integral key is >= t, or < t, exactly when it is so against the
// rounded-up value); ok is false outside MySQL's years 0000 to 9999.
func boundMicros(t time.Time) (int64, bool) {
	sec := t.Unix()
	if sec < minMicros/1_000_000-1 || sec > maxMicros/1_000_000+1 {
		return 0, false
	}
	ns := int64(t.Nanosecond())
	us := sec*1_000_000 + ns/1000
	if ns%1000 != 0 {
		us++
	}
	if us < minMicros || us > maxMicros {
		return 0, false
	}
	return us, true
}

// formatMicros writes microseconds since 1970 as MySQL's datetime text.
func formatMicros(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.000000")
}

// keyForm is how one key column is compared with bound values: the
// left-hand expression, and the literal of a value.
type keyForm struct {
	col *colPlan
	lhs string
	lit func(v any) (string, error)
}

// rangeSQL renders key ranges and bounds for one key.
type rangeSQL struct {
	forms []keyForm
}

// newRangeSQL checks the bounds (one value of the right Go type per key
// column) and prepares their rendering.
func newRangeSQL(cols []*colPlan, bounds ...[]any) (*rangeSQL, error) {
	for _, b := range bounds {
		if b != nil && len(b) != len(cols) {
			return nil, fmt.Errorf("a key bound has %d values for a key of %d columns: %w", len(b), len(cols), connectors.ErrBadInput)
		}
	}
	rs := &rangeSQL{forms: make([]keyForm, len(cols))}
	for i, c := range cols {
		f := keyForm{col: c, lhs: c.order, lit: literalFunc(c)}
		for _, b := range bounds {
			if b == nil {
				continue
			}
			if b[i] == nil {
				return nil, fmt.Errorf("key column %s: a key bound holds NULL, which lies in no key range: %w", c.name, connectors.ErrBadInput)
			}
			if _, err := f.lit(b[i]); err != nil {
				return nil, err
			}
		}
		rs.forms[i] = f
	}
	return rs, nil
}

// literalFunc returns how bound values of column c are written.
func literalFunc(c *colPlan) func(v any) (string, error) {
	bad := func(v any, want string) error {
		return fmt.Errorf("key column %s (%s): a bound value of type %T, want %s: %w", c.name, c.typeName, v, want, connectors.ErrBadInput)
	}
	switch {
	case isInt(c.kind):
		year := strings.HasPrefix(c.typeName, "year")
		return func(v any) (string, error) {
			n, ok := boundInt(v)
			if !ok {
				return "", bad(v, "an integer (int64)")
			}
			if year && n >= 1 && n <= 1900 {
				// MySQL reads a constant of 1 to 99 compared with a YEAR
				// as a two-digit year (5 is 2005, 70 is 1970), while
				// INTERVAL compares it as a number. No YEAR holds a value
				// from 1 to 1900, so 1901 bounds the same rows either way.
				n = 1901
			}
			return strconv.FormatInt(n, 10), nil
		}
	case c.kind == kindText:
		// The order expression is the UTF-8 bytes as a binary string.
		return func(v any) (string, error) {
			s, ok := v.(string)
			if !ok {
				return "", bad(v, "a string")
			}
			return hexLit([]byte(s)), nil
		}
	case c.kind == kindBinary:
		return func(v any) (string, error) {
			b, ok := boundBytes(v)
			if !ok {
				return "", bad(v, "[]byte")
			}
			return hexLit(b), nil
		}
	case c.kind == kindDate || c.kind == kindTimestamp:
		return func(v any) (string, error) {
			t, ok := v.(time.Time)
			if !ok {
				return "", bad(v, "a time.Time")
			}
			us, ok := boundMicros(t)
			if !ok {
				return "", fmt.Errorf("key column %s (%s): bound %s lies outside the years 0000 to 9999 MySQL holds: %w", c.name, c.typeName, t, connectors.ErrBadInput)
			}
			text := formatMicros(us)
			if c.kind == kindDate && us%86_400_000_000 == 0 {
				return "DATE'" + text[:10] + "'", nil
			}
			// A date compares with a datetime as its midnight.
			return "CAST('" + text + "' AS DATETIME(6))", nil
		}
	}
	return func(v any) (string, error) {
		return "", fmt.Errorf("key column %s (%s) cannot bound key ranges: %w", c.name, c.typeName, connectors.ErrUnsupported)
	}
}

// compare renders key op tuple, op one of >= and <, lexicographic over
// the key's columns: (a > x) OR (a = x AND (... last op z)), after a
// first-column term an index range can use.
func (rs *rangeSQL) compare(op string, tuple []any) (string, error) {
	lits := make([]string, len(rs.forms))
	for i, f := range rs.forms {
		lit, err := f.lit(tuple[i])
		if err != nil {
			return "", err
		}
		lits[i] = lit
	}
	n := len(rs.forms)
	strict := ">"
	if op == "<" {
		strict = "<"
	}
	expr := rs.forms[n-1].lhs + " " + op + " " + lits[n-1]
	for i := n - 2; i >= 0; i-- {
		l := rs.forms[i].lhs
		expr = "(" + l + " " + strict + " " + lits[i] + " OR (" + l + " = " + lits[i] + " AND " + expr + "))"
	}
	if n > 1 {
		loose := ">="
		if op == "<" {
			loose = "<="
		}
		expr = "(" + rs.forms[0].lhs + " " + loose + " " + lits[0] + " AND " + expr + ")"
	}
	return expr, nil
}

// notNull is the predicate that the key holds no NULL ("" when its
// columns are NOT NULL).
func (rs *rangeSQL) notNull() string {
	var terms []string
	for _, f := range rs.forms {
		if !f.col.notNull {
			terms = append(terms, f.col.expr+" IS NOT NULL")
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

func andSQL(terms ...string) string {
	var out []string
	for _, t := range terms {
		if t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, " AND ")
}

// predicate selects the rows whose key lies in r: no NULL in the key,
// From <= key < To.
func (rs *rangeSQL) predicate(r connectors.KeyRange) (string, error) {
	w, err := rs.within(r)
	if err != nil {
		return "", err
	}
	return andSQL(rs.notNull(), w), nil
}

// rangesPredicate selects the rows whose key (of the columns cols) lies
// in one of ranges, ascending and not overlapping: no NULL in the key,
// and the OR of the ranges' predicates, adjacent ranges merged into one.
// No range selects no row.
func rangesPredicate(cols []*colPlan, ranges []connectors.KeyRange) (string, error) {
	var bounds [][]any
	for _, r := range ranges {
		bounds = append(bounds, r.From, r.To)
	}
	rs, err := newRangeSQL(cols, bounds...)
	if err != nil {
		return "", err
	}
	if len(ranges) == 0 {
		return "FALSE", nil
	}
	var merged []connectors.KeyRange
	for i, r := range ranges {
		if r.From != nil && r.To != nil && compareTuple(cols, r.From, r.To) >= 0 {
			return "", fmt.Errorf("key range %d is empty or reversed: %w", i+1, connectors.ErrBadInput)
		}
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
	var or string
	switch len(ors) {
	case 0:
	case 1:
		or = ors[0]
	default:
		or = "((" + strings.Join(ors, ") OR (") + "))"
	}
	return andSQL(rs.notNull(), or), nil
}

// bucket renders the index of the range among [.., b1), [b1, b2), ...,
// [bk, ..) a row's key lies in. A key of one integer column is looked up
// with INTERVAL, which searches its ascending arguments in O(log k); any
// other key by a CASE that halves the bounds at each step.
func (rs *rangeSQL) bucket(bounds [][]any) (string, error) {
	if len(bounds) == 0 {
		return "0", nil
	}
	if len(rs.forms) == 1 && isInt(rs.forms[0].col.kind) {
		f := &rs.forms[0]
		args := make([]string, len(bounds)+1)
		args[0] = f.lhs
		for i, b := range bounds {
			lit, err := f.lit(b[0])
			if err != nil {
				return "", err
			}
			args[i+1] = lit
		}
		return "INTERVAL(" + strings.Join(args, ", ") + ")", nil
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
		return "", err
	}
	return b.String(), nil
}

// compareBound compares two bound values of column c in the engine's key
// order.
func compareBound(c *colPlan, a, b any) int {
	switch {
	case isInt(c.kind):
		x, _ := boundInt(a)
		y, _ := boundInt(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case c.kind == kindText || c.kind == kindBinary:
		x, _ := boundBytes(a)
		y, _ := boundBytes(b)
		return bytes.Compare(x, y)
	case c.kind == kindDate || c.kind == kindTimestamp:
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
