package mysql

import (
	"bytes"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
)

// colDec appends the values the driver hands over for one column to its
// Arrow builder. The driver gives int64 for integer types and year
// (uint64, or over the binary protocol the digits as []byte, for an
// unsigned bigint beyond int64), float32/float64 for floating point and
// []byte, valid until the next row, for everything else; nil is NULL.
type colDec struct {
	cp *colPlan
	b  array.Builder

	i8   *array.Int8Builder
	i16  *array.Int16Builder
	i32  *array.Int32Builder
	i64  *array.Int64Builder
	u8   *array.Uint8Builder
	u16  *array.Uint16Builder
	u32  *array.Uint32Builder
	u64  *array.Uint64Builder
	f32  *array.Float32Builder
	f64  *array.Float64Builder
	dec  *array.Decimal128Builder
	bl   *array.BooleanBuilder
	date *array.Date32Builder
	ts   *array.TimestampBuilder
	tm   *array.Time64Builder
	str  *array.StringBuilder
	bin  *array.BinaryBuilder
}

func newColDec(mem memory.Allocator, cp *colPlan, reserve int) *colDec {
	d := &colDec{cp: cp, b: array.NewBuilder(mem, cp.field.Type)}
	switch b := d.b.(type) {
	case *array.Int8Builder:
		d.i8 = b
	case *array.Int16Builder:
		d.i16 = b
	case *array.Int32Builder:
		d.i32 = b
	case *array.Int64Builder:
		d.i64 = b
	case *array.Uint8Builder:
		d.u8 = b
	case *array.Uint16Builder:
		d.u16 = b
	case *array.Uint32Builder:
		d.u32 = b
	case *array.Uint64Builder:
		d.u64 = b
	case *array.Float32Builder:
		d.f32 = b
	case *array.Float64Builder:
		d.f64 = b
	case *array.Decimal128Builder:
		d.dec = b
	case *array.BooleanBuilder:
		d.bl = b
	case *array.Date32Builder:
		d.date = b
	case *array.TimestampBuilder:
		d.ts = b
	case *array.Time64Builder:
		d.tm = b
	case *array.StringBuilder:
		d.str = b
	case *array.BinaryBuilder:
		d.bin = b
	}
	d.b.Reserve(reserve)
	return d
}

// reserve sizes the builder for the next batch of rows, with room for as
// many bytes of text as prev (the batch just built) held, so that the
// builder does not grow by doubling and copying.
func (d *colDec) reserve(rows int, prev arrow.Array) {
	d.b.Reserve(rows)
	var data int
	switch a := prev.(type) {
	case *array.String:
		data = len(a.ValueBytes())
	case *array.Binary:
		data = len(a.ValueBytes())
	default:
		return
	}
	if prev.Len() > 0 {
		data = data/prev.Len()*rows + data/8
	}
	// A batch is cut at the byte budget: room for more is never needed.
	data = int(min(int64(data), batchByteBudget))
	switch {
	case d.str != nil:
		d.str.ReserveData(data)
	case d.bin != nil:
		d.bin.ReserveData(data)
	}
}

// dataLen is the size of the values in a text or binary builder (0 for
// other types).
func (d *colDec) dataLen() int64 {
	switch {
	case d.str != nil:
		return int64(d.str.DataLen())
	case d.bin != nil:
		return int64(d.bin.DataLen())
	}
	return 0
}

func intOf(v driver.Value) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, strconv.ErrRange
		}
		return int64(x), nil
	case []byte:
		return parseInt(x)
	case *textCell:
		if x.form == 'i' {
			return x.i, nil
		}
		return parseInt(x.b)
	}
	return 0, fmt.Errorf("unexpected %T", v)
}

func uintOf(v driver.Value) (uint64, error) {
	switch x := v.(type) {
	case uint64:
		return x, nil
	case int64:
		if x < 0 {
			return 0, strconv.ErrRange
		}
		return uint64(x), nil
	case []byte:
		return parseUint(x)
	case *textCell:
		if x.form == 'i' {
			if x.i < 0 {
				return 0, strconv.ErrRange
			}
			return uint64(x.i), nil
		}
		return parseUint(x.b)
	}
	return 0, fmt.Errorf("unexpected %T", v)
}

func floatOf(v driver.Value) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case []byte:
		return strconv.ParseFloat(string(x), 64)
	case *textCell:
		return strconv.ParseFloat(string(x.b), 64)
	}
	return 0, fmt.Errorf("unexpected %T", v)
}

var errNotText = errors.New("unexpected value type")

// bytesOf returns the bytes of a value the driver or textRows gave as
// bytes.
func bytesOf(v driver.Value) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case *textCell:
		return x.b, true
	}
	return nil, false
}

// appendValue appends one value (not NULL) of the column.
func (d *colDec) append(v driver.Value) error {
	if v == nil {
		d.b.AppendNull()
		return nil
	}
	var err error
	switch d.cp.kind {
	case kindInt8:
		var n int64
		if n, err = intOf(v); err == nil {
			if n < math.MinInt8 || n > math.MaxInt8 {
				return strconv.ErrRange
			}
			d.i8.Append(int8(n))
		}
	case kindInt16:
		var n int64
		if n, err = intOf(v); err == nil {
			if n < math.MinInt16 || n > math.MaxInt16 {
				return strconv.ErrRange
			}
			d.i16.Append(int16(n))
		}
	case kindInt32:
		var n int64
		if n, err = intOf(v); err == nil {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return strconv.ErrRange
			}
			d.i32.Append(int32(n))
		}
	case kindInt64:
		var n int64
		if n, err = intOf(v); err == nil {
			d.i64.Append(n)
		}
	case kindUint8:
		var n uint64
		if n, err = uintOf(v); err == nil {
			if n > math.MaxUint8 {
				return strconv.ErrRange
			}
			d.u8.Append(uint8(n))
		}
	case kindUint16:
		var n uint64
		if n, err = uintOf(v); err == nil {
			if n > math.MaxUint16 {
				return strconv.ErrRange
			}
			d.u16.Append(uint16(n))
		}
	case kindUint32:
		var n uint64
		if n, err = uintOf(v); err == nil {
			if n > math.MaxUint32 {
				return strconv.ErrRange
			}
			d.u32.Append(uint32(n))
		}
	case kindUint64:
		var n uint64
		if n, err = uintOf(v); err == nil {
			d.u64.Append(n)
		}
	case kindFloat32:
		var f float64
		if f, err = floatOf(v); err == nil {
			d.f32.Append(float32(f))
		}
	case kindFloat64:
		var f float64
		if f, err = floatOf(v); err == nil {
			d.f64.Append(f)
		}
	default:
		b, ok := bytesOf(v)
		if !ok {
			return errNotText
		}
		return d.appendBytes(b)
	}
	return err
}

// appendBytes appends a value sent as text (or raw bytes).
func (d *colDec) appendBytes(b []byte) error {
	switch d.cp.kind {
	case kindDecimal128:
		n, err := parseDecimal128(b, 38, d.cp.scale)
		if err != nil {
			return err
		}
		d.dec.Append(n)
	case kindDecimalText:
		if !validDecimalText(b) {
			return errSyntax
		}
		d.str.BinaryBuilder.Append(b)
	case kindBool:
		u, err := bitValue(b)
		if err != nil {
			return err
		}
		d.bl.Append(u != 0)
	case kindBit:
		u, err := bitValue(b)
		if err != nil {
			return err
		}
		d.u64.Append(u)
	case kindDate:
		days, ok, err := parseDate(b)
		if err != nil {
			return err
		}
		if !ok {
			days = math.MinInt32
		}
		d.date.Append(arrow.Date32(days))
	case kindTimestamp:
		us, ok, err := parseDatetime(b)
		if err != nil {
			return err
		}
		if !ok {
			us = math.MinInt64
		}
		d.ts.Append(arrow.Timestamp(us))
	case kindTime:
		us, err := parseTime(b)
		if err != nil {
			return err
		}
		d.tm.Append(arrow.Time64(us))
	case kindText:
		if !utf8.Valid(b) {
			return errors.New("not valid UTF-8")
		}
		d.str.BinaryBuilder.Append(b)
	case kindBinary:
		d.bin.Append(b)
	default:
		return errNotText
	}
	return nil
}

// keyCell is one key value of a row, kept across rows: the driver's value
// in a form that survives the next row.
type keyCell struct {
	null bool
	i    int64
	u    uint64
	f    float64
	b    []byte
	form byte // 'i', 'u', 'f', 'b'
}

func (k *keyCell) set(v driver.Value) {
	k.null = false
	switch x := v.(type) {
	case nil:
		k.null = true
	case int64:
		k.i, k.form = x, 'i'
	case uint64:
		// One form per number whichever way it came: an unsigned value
		// within int64 as 'i', a larger one as its digits, as the binary
		// protocol and textRows give it.
		if x <= math.MaxInt64 {
			k.i, k.form = int64(x), 'i'
		} else {
			k.b, k.form = strconv.AppendUint(k.b[:0], x, 10), 'b'
		}
	case float64:
		k.f, k.form = x, 'f'
	case float32:
		k.f, k.form = float64(x), 'f'
	case []byte:
		k.b, k.form = append(k.b[:0], x...), 'b'
	case *textCell:
		if x.form == 'i' {
			k.i, k.form = x.i, 'i'
		} else {
			k.b, k.form = append(k.b[:0], x.b...), 'b'
		}
	}
}

func (k *keyCell) equal(v driver.Value) bool {
	if k.null {
		return v == nil
	}
	switch x := v.(type) {
	case int64:
		return k.form == 'i' && k.i == x
	case uint64:
		if x <= math.MaxInt64 {
			return k.form == 'i' && k.i == int64(x)
		}
		var digits [20]byte
		return k.form == 'b' && bytes.Equal(k.b, strconv.AppendUint(digits[:0], x, 10))
	case float64:
		return k.form == 'f' && k.f == x
	case float32:
		return k.form == 'f' && k.f == float64(x)
	case []byte:
		return k.form == 'b' && bytes.Equal(k.b, x)
	case *textCell:
		if x.form == 'i' {
			return k.form == 'i' && k.i == x.i
		}
		return k.form == 'b' && bytes.Equal(k.b, x.b)
	}
	return false
}

// keyState is the key of a row and the number of rows with that key in a
// row so far.
type keyState struct {
	set   bool
	cells []keyCell
	count int64
	// partial: the batch was cut inside the run of rows of this key (a
	// read without a unique key only); more rows of it may follow.
	partial bool
}

func (s *keyState) equal(dest []driver.Value, pos []int) bool {
	if !s.set {
		return false
	}
	for i, p := range pos {
		if !s.cells[i].equal(dest[p]) {
			return false
		}
	}
	return true
}

func (s *keyState) assign(dest []driver.Value, pos []int) {
	if len(s.cells) != len(pos) {
		s.cells = make([]keyCell, len(pos))
	}
	for i, p := range pos {
		s.cells[i].set(dest[p])
	}
	s.set = true
	s.count = 1
}

func (s *keyState) copyFrom(o *keyState) {
	s.set, s.count, s.partial = o.set, o.count, o.partial
	if len(s.cells) != len(o.cells) {
		s.cells = make([]keyCell, len(o.cells))
	}
	for i, c := range o.cells {
		b := s.cells[i].b
		s.cells[i] = c
		s.cells[i].b = append(b[:0], c.b...)
	}
}

// param returns the value of key cell c to bind against the column's
// order expression.
func (c *keyCell) param(cp *colPlan) (any, error) {
	switch cp.kind {
	case kindInt8, kindInt16, kindInt32, kindInt64:
		switch c.form {
		case 'i':
			return c.i, nil
		case 'u':
			return c.u, nil
		}
		return parseInt(c.b)
	case kindUint8, kindUint16, kindUint32, kindUint64:
		switch c.form {
		case 'i':
			return c.i, nil
		case 'u':
			return c.u, nil
		}
		return parseUint(c.b)
	case kindFloat32, kindFloat64:
		if c.form == 'f' {
			return c.f, nil
		}
		return strconv.ParseFloat(string(c.b), 64)
	case kindBool, kindBit:
		return bitValue(c.b)
	case kindDecimal128, kindDecimalText, kindDate, kindTimestamp, kindTime:
		return string(c.b), nil
	case kindText, kindBinary:
		// Never nil: the driver binds a nil []byte as NULL, and an empty
		// key is ''.
		return append([]byte{}, c.b...), nil
	}
	return nil, fmt.Errorf("column %s (%s) cannot be a resume key", cp.name, cp.typeName)
}

// render writes key cell c for a message.
func (c *keyCell) render(cp *colPlan) string {
	if c.null {
		return "NULL"
	}
	switch c.form {
	case 'i':
		return strconv.FormatInt(c.i, 10)
	case 'u':
		return strconv.FormatUint(c.u, 10)
	case 'f':
		return strconv.FormatFloat(c.f, 'g', -1, 64)
	}
	switch cp.kind {
	case kindBool, kindBit:
		u, _ := bitValue(c.b)
		return strconv.FormatUint(u, 10)
	case kindDecimal128, kindDecimalText, kindInt8, kindInt16, kindInt32, kindInt64,
		kindUint8, kindUint16, kindUint32, kindUint64, kindFloat32, kindFloat64:
		// Numbers the driver gave as text: a bigint unsigned beyond
		// int64 comes so over the binary protocol.
		return string(c.b)
	case kindBinary:
		s := hex.EncodeToString(c.b)
		if len(s) > 64 {
			s = s[:61] + "..."
		}
		return "X'" + s + "'"
	}
	s := string(c.b)
	if utf8.RuneCountInString(s) > 60 {
		s = string([]rune(s)[:57]) + "..."
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// describeKey renders a key as "(a, b) = (1, 'x')".
func describeKey(p *tablePlan, keys []int, s *keyState) string {
	names := make([]string, len(keys))
	vals := make([]string, len(keys))
	for i, k := range keys {
		names[i] = p.cols[k].name
		vals[i] = s.cells[i].render(&p.cols[k])
	}
	return "(" + strings.Join(names, ", ") + ") = (" + strings.Join(vals, ", ") + ")"
}

// valueError wraps a value the connector could not decode.
func valueError(cp *colPlan, v driver.Value, err error) error {
	var shown string
	switch x := v.(type) {
	case []byte:
		shown = fmt.Sprintf("%q", shorten(string(x)))
	case *textCell:
		shown = fmt.Sprintf("%q", shorten(string(x.b)))
	default:
		shown = fmt.Sprint(v)
	}
	return &decodeError{column: cp.name + " (" + cp.typeName + ")", value: shown, err: fmt.Errorf("%w: %w", err, connectors.ErrBadInput)}
}
