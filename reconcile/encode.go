package reconcile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/float16"

	"github.com/reconhq/reconcile/connectors"
)

// class is the logical type family of a column: values of one class on both
// sides compare directly.
type class uint8

const (
	classNull class = iota // Arrow's null type: every value is NULL
	classBool
	classNumber
	classText
	classBinary
	classTimestamp
	classDate
	classTime
	classJSON
	classOther // no canonical form: compared by Arrow's text rendering
)

var classNames = [...]string{"null", "boolean", "number", "text", "binary", "timestamp", "date", "time", "json", "other"}

func (c class) String() string { return classNames[c] }

func classOf(f arrow.Field) class {
	if f.Metadata.Len() > 0 {
		if i := f.Metadata.FindKey(connectors.MetaLogical); i >= 0 {
			switch f.Metadata.Values()[i] {
			case connectors.LogicalJSON:
				return classJSON
			case connectors.LogicalDecimal:
				// Exact decimals held as text: the String encoder reads
				// each value as the class "number".
				if id := f.Type.ID(); id == arrow.STRING || id == arrow.LARGE_STRING {
					return classNumber
				}
			}
		}
	}
	return classOfType(f.Type)
}

func classOfType(t arrow.DataType) class {
	switch t.ID() {
	case arrow.NULL:
		return classNull
	case arrow.BOOL:
		return classBool
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
		return classNumber
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return classText
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW, arrow.FIXED_SIZE_BINARY:
		return classBinary
	case arrow.TIMESTAMP:
		return classTimestamp
	case arrow.DATE32, arrow.DATE64:
		return classDate
	case arrow.TIME32, arrow.TIME64:
		return classTime
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.STRUCT, arrow.MAP, arrow.LIST_VIEW, arrow.LARGE_LIST_VIEW:
		return classJSON
	case arrow.DICTIONARY:
		return classOfType(t.(*arrow.DictionaryType).ValueType)
	case arrow.EXTENSION:
		return classOfType(t.(arrow.ExtensionType).StorageType())
	}
	return classOther
}

// pairPlan decides how two column classes compare: as is, by reading one
// side as the other's class ("as"), or not at all.
func pairPlan(s, t class) (srcAs, tgtAs class, ok bool) {
	switch {
	case s == t:
		return s, t, true
	case s == classNull:
		return t, t, true
	case t == classNull:
		return s, s, true
	case s == classText && t != classOther:
		return t, t, true
	case t == classText && s != classOther:
		return s, s, true
	case s == classBool && t == classNumber, s == classNumber && t == classBool:
		// MySQL's tinyint(1) against a true boolean: false and true read
		// as 0 and 1, and any other number differs from both.
		return classNumber, classNumber, true
	case s == classDate && t == classTimestamp:
		return classTimestamp, classTimestamp, true
	case s == classTimestamp && t == classDate:
		return classTimestamp, classTimestamp, true
	case s == classOther || t == classOther:
		// Compare by text rendering on both sides.
		return classOther, classOther, true
	}
	return s, t, false
}

// encCol holds the canonical encodings of one column of one batch.
type encCol struct {
	buf  []byte
	offs []int32 // len rows+1
}

func (c *encCol) cell(i int) []byte { return c.buf[c.offs[i]:c.offs[i+1]] }

func (c *encCol) reset(n int) {
	c.buf = c.buf[:0]
	if cap(c.offs) < n+1 {
		c.offs = make([]int32, n+1)
	}
	c.offs = c.offs[:n+1]
	c.offs[0] = 0
}

// columnEncoder turns one Arrow column into canonical encodings, reading it
// as class "as" (which differs from the column's own class only when a text
// column is read as the other side's type, or a date as a timestamp).
type columnEncoder struct {
	name string
	own  class
	as   class
	// invalidMin: the smallest value of the storage type marks a value the
	// source could not represent (connectors.MetaInvalid).
	invalidMin bool
	dict       encCol // scratch for dictionary-encoded columns
}

// newColumnEncoder returns the encoder of field f read as class as.
func newColumnEncoder(f arrow.Field, own, as class) columnEncoder {
	e := columnEncoder{name: f.Name, own: own, as: as}
	if i := f.Metadata.FindKey(connectors.MetaInvalid); i >= 0 && f.Metadata.Values()[i] == connectors.InvalidMin {
		e.invalidMin = true
	}
	return e
}

// invalidAt reports whether value i of arr is the storage minimum that
// marks an unrepresentable value.
func invalidAt(arr arrow.Array, i int) bool {
	switch a := arr.(type) {
	case *array.Date32:
		return a.Value(i) == math.MinInt32
	case *array.Date64:
		return a.Value(i) == math.MinInt64
	case *array.Timestamp:
		return a.Value(i) == math.MinInt64
	case *array.Time64:
		return a.Value(i) == math.MinInt64
	case *array.Time32:
		return a.Value(i) == math.MinInt32
	}
	return false
}

// invalidValue is the encoding of a value the source could not represent.
var invalidValue = appendLen(nil, tagInvalid, []byte("a value the source cannot represent (e.g. a zero date)"))

func (e *columnEncoder) encode(arr arrow.Array, out *encCol) error {
	n := arr.Len()
	out.reset(n)
	if n > 0 && len(out.buf) == 0 && cap(out.buf) < n*9 {
		out.buf = make([]byte, 0, n*10)
	}
	if err := e.encodeInto(arr, out); err != nil {
		return fmt.Errorf("encode column %s: %w", e.name, err)
	}
	if len(out.buf) > math.MaxInt32 {
		return fmt.Errorf("encode column %s: batch too large (%d bytes); use smaller batches", e.name, len(out.buf))
	}
	return nil
}

func (e *columnEncoder) encodeInto(arr arrow.Array, out *encCol) error {
	if ext, ok := arr.(array.ExtensionArray); ok {
		return e.encodeInto(ext.Storage(), out)
	}
	n := arr.Len()
	b := out.buf
	offs := out.offs
	hasNulls := arr.NullN() > 0
	defer func() { out.buf = b }()

	if d, ok := arr.(*array.Dictionary); ok {
		if err := e.encode(d.Dictionary(), &e.dict); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if d.IsNull(i) {
				b = append(b, tagNull)
			} else {
				b = append(b, e.dict.cell(d.GetValueIndex(i))...)
			}
			offs[i+1] = int32(len(b))
		}
		return nil
	}

	if e.invalidMin {
		for i := 0; i < n; i++ {
			var err error
			if b, err = e.appendCell(b, arr, i); err != nil {
				return err
			}
			offs[i+1] = int32(len(b))
		}
		return nil
	}
	if e.as == classOther || e.own == classOther {
		// No canonical form on one side: both compare by Arrow's rendering.
		for i := 0; i < n; i++ {
			if arr.IsNull(i) {
				b = append(b, tagNull)
			} else {
				b = AppendText(b, arr.ValueStr(i))
			}
			offs[i+1] = int32(len(b))
		}
		return nil
	}
	switch a := arr.(type) {
	case *array.Int64:
		b = appendInts(b, offs, a, a.Int64Values(), hasNulls)
		return nil
	case *array.Int32:
		b = appendInts(b, offs, a, a.Int32Values(), hasNulls)
		return nil
	case *array.Int16:
		b = appendInts(b, offs, a, a.Int16Values(), hasNulls)
		return nil
	case *array.String:
		for i := 0; i < n; i++ {
			if hasNulls && a.IsNull(i) {
				b = append(b, tagNull)
			} else {
				b = e.appendText(b, a.Value(i))
			}
			offs[i+1] = int32(len(b))
		}
		return nil
	case *array.Float64:
		for i, v := range a.Float64Values() {
			if hasNulls && a.IsNull(i) {
				b = append(b, tagNull)
			} else {
				b = AppendFloat(b, v, 64)
			}
			offs[i+1] = int32(len(b))
		}
		return nil
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		for i := 0; i < n; i++ {
			if hasNulls && a.IsNull(i) {
				b = append(b, tagNull)
			} else {
				b = appendDecimal128At(b, a.Value(i), scale)
			}
			offs[i+1] = int32(len(b))
		}
		return nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		for i, v := range a.TimestampValues() {
			if hasNulls && a.IsNull(i) {
				b = append(b, tagNull)
			} else {
				b = AppendTimestamp(b, toMicros(int64(v), unit))
			}
			offs[i+1] = int32(len(b))
		}
		return nil
	case *array.Date32:
		for i, v := range a.Date32Values() {
			if hasNulls && a.IsNull(i) {
				b = append(b, tagNull)
			} else if e.as == classTimestamp {
				b = AppendTimestamp(b, int64(v)*86400*1_000_000)
			} else {
				b = AppendDate(b, int32(v))
			}
			offs[i+1] = int32(len(b))
		}
		return nil
	case *array.Boolean:
		for i := 0; i < n; i++ {
			if hasNulls && a.IsNull(i) {
				b = append(b, tagNull)
			} else if e.as == classNumber {
				b = AppendInt(b, int64(boolInt(a.Value(i))))
			} else {
				b = AppendBool(b, a.Value(i))
			}
			offs[i+1] = int32(len(b))
		}
		return nil
	}
	// Less common types: one value at a time through a generic path.
	for i := 0; i < n; i++ {
		if arr.IsNull(i) {
			b = append(b, tagNull)
		} else {
			var err error
			b, err = e.appendOne(b, arr, i)
			if err != nil {
				return err
			}
		}
		offs[i+1] = int32(len(b))
	}
	return nil
}

// appendInts encodes a column of signed integers.
func appendInts[T int64 | int32 | int16](b []byte, offs []int32, a arrow.Array, vals []T, hasNulls bool) []byte {
	for i, v := range vals {
		if hasNulls && a.IsNull(i) {
			b = append(b, tagNull)
		} else {
			b = AppendInt(b, int64(v))
		}
		offs[i+1] = int32(len(b))
	}
	return b
}

// appendDecimal128 appends value i of a (not NULL).
func appendDecimal128(b []byte, a *array.Decimal128, i int) []byte {
	return appendDecimal128At(b, a.Value(i), a.DataType().(*arrow.Decimal128Type).Scale)
}

func appendDecimal128At(b []byte, v decimal128.Num, scale int32) []byte {
	lo, hi := v.LowBits(), v.HighBits()
	if (hi == 0 && lo <= math.MaxInt64) || (hi == -1 && lo > math.MaxInt64) {
		return AppendDecimal64(b, int64(lo), scale)
	}
	return AppendDecimal(b, v.BigInt(), scale)
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

func toMicros(v int64, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return v * 1_000_000
	case arrow.Millisecond:
		return v * 1_000
	case arrow.Nanosecond:
		q := v / 1000
		if v%1000 < 0 {
			q--
		}
		return q
	}
	return v
}

func (e *columnEncoder) appendOne(b []byte, arr arrow.Array, i int) ([]byte, error) {
	if e.own == classOther || e.as == classOther {
		return AppendText(b, arr.ValueStr(i)), nil
	}
	switch a := arr.(type) {
	case *array.Int8:
		return AppendInt(b, int64(a.Value(i))), nil
	case *array.Int16:
		return AppendInt(b, int64(a.Value(i))), nil
	case *array.Int32:
		return AppendInt(b, int64(a.Value(i))), nil
	case *array.Uint8:
		return AppendInt(b, int64(a.Value(i))), nil
	case *array.Uint16:
		return AppendInt(b, int64(a.Value(i))), nil
	case *array.Uint32:
		return AppendInt(b, int64(a.Value(i))), nil
	case *array.Uint64:
		return AppendUint(b, a.Value(i)), nil
	case *array.Float32:
		return AppendFloat(b, float64(a.Value(i)), 32), nil
	case *array.Float16:
		return appendFloat16(b, a.Value(i)), nil
	case *array.Decimal256:
		return AppendDecimal(b, a.Value(i).BigInt(), a.DataType().(*arrow.Decimal256Type).Scale), nil
	case *array.LargeString:
		return e.appendText(b, a.Value(i)), nil
	case *array.StringView:
		return e.appendText(b, a.Value(i)), nil
	case *array.Binary:
		return AppendBinary(b, a.Value(i)), nil
	case *array.LargeBinary:
		return AppendBinary(b, a.Value(i)), nil
	case *array.BinaryView:
		return AppendBinary(b, a.Value(i)), nil
	case *array.FixedSizeBinary:
		return AppendBinary(b, a.Value(i)), nil
	case *array.Date64:
		ms := int64(a.Value(i))
		days := ms / 86_400_000
		if ms%86_400_000 < 0 {
			days--
		}
		if e.as == classTimestamp {
			return AppendTimestamp(b, ms*1000), nil
		}
		return AppendDate(b, int32(days)), nil
	case *array.Time32:
		return AppendTime(b, toMicros(int64(a.Value(i)), a.DataType().(*arrow.Time32Type).Unit)), nil
	case *array.Time64:
		return AppendTime(b, toMicros(int64(a.Value(i)), a.DataType().(*arrow.Time64Type).Unit)), nil
	}
	if e.own == classJSON {
		return AppendJSONValue(b, arr.GetOneForMarshal(i)), nil
	}
	return AppendText(b, arr.ValueStr(i)), nil
}

// appendText encodes a text value as the class it is read as. A value that
// does not parse as that class stays text, so it differs from every value
// of the other side.
func (e *columnEncoder) appendText(b []byte, s string) []byte {
	switch e.as {
	case classText, classOther, classNull:
		return AppendText(b, s)
	case classJSON:
		out, err := AppendJSON(b, []byte(s))
		if err != nil {
			return AppendText(b, s)
		}
		return out
	case classNumber:
		if out, ok := NumberFromText(b, s); ok {
			return out
		}
	case classBool:
		switch strings.ToLower(s) {
		case "true", "t", "yes", "y", "1":
			return AppendBool(b, true)
		case "false", "f", "no", "n", "0":
			return AppendBool(b, false)
		}
	case classTimestamp:
		if us, ok := ParseTimestamp(s); ok {
			return AppendTimestamp(b, us)
		}
	case classDate:
		if t, err := time.Parse("2006-01-02", s); err == nil {
			return AppendDate(b, int32(t.Unix()/86400))
		}
	case classTime:
		for _, layout := range []string{"15:04:05.999999999", "15:04:05", "15:04"} {
			if t, err := time.Parse(layout, s); err == nil {
				return AppendTime(b, int64(t.Hour())*3_600_000_000+int64(t.Minute())*60_000_000+int64(t.Second())*1_000_000+int64(t.Nanosecond()/1000))
			}
		}
	case classBinary:
		return AppendBinary(b, []byte(s))
	}
	return AppendText(b, s)
}

var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTimestamp reads an ISO 8601 / RFC 3339 timestamp (a space may stand
// for the T; without a zone the time is taken as UTC) and returns UTC
// microseconds since the epoch, truncated toward negative infinity.
func ParseTimestamp(s string) (int64, bool) {
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return floorMicros(t), true
		}
	}
	return 0, false
}

func floorMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 && t.Unix() < 0 && t.UnixNano() < 0 {
		// UnixMicro truncates toward zero; keep floor semantics before 1970.
		if time.UnixMicro(us).After(t) {
			us--
		}
	}
	return us
}

// appendFloat16 encodes a half-precision float by its shortest decimal that
// reads back as the same half-precision value.
func appendFloat16(b []byte, v float16.Num) []byte {
	f := float64(v.Float32())
	if math.IsNaN(f) || math.IsInf(f, 0) || f == 0 || f == math.Trunc(f) {
		return AppendFloat(b, f, 32)
	}
	for prec := 1; prec <= 8; prec++ {
		s := strconv.FormatFloat(f, 'e', prec-1, 64)
		x, err := strconv.ParseFloat(s, 32)
		if err == nil && float16.New(float32(x)).Uint16() == v.Uint16() {
			if out, ok := NumberFromText(b, s); ok {
				return out
			}
		}
	}
	return AppendFloat(b, f, 32)
}

// AppendRow appends the canonical encoding of row i of rec: the cells of
// its columns in order, each read as its own type, exactly as the engine
// encodes them for hashing and comparing. Connectors that compute checksums
// in the database test their SQL against it.
func AppendRow(dst []byte, rec arrow.Record, i int) ([]byte, error) {
	for c, f := range rec.Schema().Fields() {
		own := classOf(f)
		e := newColumnEncoder(f, own, own)
		var err error
		if dst, err = e.appendCell(dst, rec.Column(c), i); err != nil {
			return nil, fmt.Errorf("encode column %s: %w", f.Name, err)
		}
	}
	return dst, nil
}
