package rules

import (
	"fmt"
	"math/big"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/decimal256"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/reconcile"
)

// Apply runs the chain over one column and returns a new array that the
// caller releases; it neither releases nor changes arr. A normaliser that
// does not apply to the column's type is an error naming both. The
// result has the column's type, except that time_zone turns a timestamp
// without time zone into the same unit with time zone UTC.
//
// Text normalisers apply to string and large_string columns (including
// the decimal text columns a connector marks connectors.LogicalDecimal,
// which round also reads as numbers); null_if_empty also to binary;
// round to numbers (a no-op on integers) and to text holding decimal
// numbers; time_zone and truncate_time to timestamps, truncate_time to
// times (and, by day, to dates, where it changes nothing).
func (c Chain) Apply(arr arrow.Array, mem memory.Allocator) (arrow.Array, error) {
	arr.Retain()
	cur := arr
	for _, n := range c {
		next, err := n.apply(cur, mem)
		cur.Release()
		if err != nil {
			return nil, fmt.Errorf("normalise: %w", err)
		}
		cur = next
	}
	return cur, nil
}

func notFor(n Normaliser, t arrow.DataType) error {
	return fmt.Errorf("%s does not apply to a %s column", n, t)
}

type stringValues interface {
	arrow.Array
	Value(int) string
}

type stringAppender interface {
	array.Builder
	Append(string)
}

func (n Normaliser) apply(arr arrow.Array, mem memory.Allocator) (arrow.Array, error) {
	switch a := arr.(type) {
	case *array.String, *array.LargeString:
		sv := a.(stringValues)
		if n.op == opRound {
			return mapStrings(sv, mem, func(s string) (string, bool, error) {
				r, err := roundText(s, n.n)
				return r, true, err
			})
		}
		if !n.isText() {
			return nil, notFor(n, arr.DataType())
		}
		return mapStrings(sv, mem, func(s string) (string, bool, error) {
			r, ok := n.text(s)
			return r, ok, nil
		})
	case *array.Binary:
		if n.op != opNullIfEmpty {
			return nil, notFor(n, arr.DataType())
		}
		b := array.NewBinaryBuilder(mem, arr.DataType().(arrow.BinaryDataType))
		defer b.Release()
		b.Reserve(a.Len())
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) || len(a.Value(i)) == 0 {
				b.AppendNull()
				continue
			}
			b.Append(a.Value(i))
		}
		return b.NewArray(), nil
	case *array.Int8, *array.Int16, *array.Int32, *array.Int64,
		*array.Uint8, *array.Uint16, *array.Uint32, *array.Uint64:
		if n.op != opRound {
			return nil, notFor(n, arr.DataType())
		}
		arr.Retain() // an integer has no decimal places to round
		return arr, nil
	case *array.Float64:
		if n.op != opRound {
			return nil, notFor(n, arr.DataType())
		}
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		b.Reserve(a.Len())
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(roundFloat(a.Value(i), n.n, 64))
		}
		return b.NewArray(), nil
	case *array.Float32:
		if n.op != opRound {
			return nil, notFor(n, arr.DataType())
		}
		b := array.NewFloat32Builder(mem)
		defer b.Release()
		b.Reserve(a.Len())
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(float32(roundFloat(float64(a.Value(i)), n.n, 32)))
		}
		return b.NewArray(), nil
	case *array.Decimal128:
		if n.op != opRound {
			return nil, notFor(n, arr.DataType())
		}
		dt := arr.DataType().(*arrow.Decimal128Type)
		if int(dt.Scale) <= n.n {
			arr.Retain()
			return arr, nil
		}
		b := array.NewDecimal128Builder(mem, dt)
		defer b.Release()
		b.Reserve(a.Len())
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			r := roundUnscaled(a.Value(i).BigInt(), int(dt.Scale)-n.n)
			if r.BitLen() > 127 {
				return nil, fmt.Errorf("%s: row %d overflows the column type", n, i)
			}
			b.Append(decimal128.FromBigInt(r))
		}
		return b.NewArray(), nil
	case *array.Decimal256:
		if n.op != opRound {
			return nil, notFor(n, arr.DataType())
		}
		dt := arr.DataType().(*arrow.Decimal256Type)
		if int(dt.Scale) <= n.n {
			arr.Retain()
			return arr, nil
		}
		b := array.NewDecimal256Builder(mem, dt)
		defer b.Release()
		b.Reserve(a.Len())
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			r := roundUnscaled(a.Value(i).BigInt(), int(dt.Scale)-n.n)
			if r.BitLen() > 255 {
				return nil, fmt.Errorf("%s: row %d overflows the column type", n, i)
			}
			b.Append(decimal256.FromBigInt(r))
		}
		return b.NewArray(), nil
	case *array.Timestamp:
		dt := arr.DataType().(*arrow.TimestampType)
		switch n.op {
		case opTimeZone:
			if dt.TimeZone != "" {
				arr.Retain() // already an instant: left as it is
				return arr, nil
			}
			out := &arrow.TimestampType{Unit: dt.Unit, TimeZone: "UTC"}
			b := array.NewTimestampBuilder(mem, out)
			defer b.Release()
			b.Reserve(a.Len())
			per := unitNanos(dt.Unit)
			for i := 0; i < a.Len(); i++ {
				if a.IsNull(i) {
					b.AppendNull()
					continue
				}
				b.Append(arrow.Timestamp(wallToInstant(int64(a.Value(i)), per, n.zone)))
			}
			return b.NewArray(), nil
		case opTruncateTime:
			b := array.NewTimestampBuilder(mem, dt)
			defer b.Release()
			b.Reserve(a.Len())
			f := unitFactor(n.unit, dt.Unit)
			for i := 0; i < a.Len(); i++ {
				if a.IsNull(i) {
					b.AppendNull()
					continue
				}
				b.Append(arrow.Timestamp(floorTo(int64(a.Value(i)), f)))
			}
			return b.NewArray(), nil
		}
		return nil, notFor(n, arr.DataType())
	case *array.Time64:
		if n.op != opTruncateTime {
			return nil, notFor(n, arr.DataType())
		}
		dt := arr.DataType().(*arrow.Time64Type)
		b := array.NewTime64Builder(mem, dt)
		defer b.Release()
		b.Reserve(a.Len())
		f := unitFactor(n.unit, dt.Unit)
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(arrow.Time64(floorTo(int64(a.Value(i)), f)))
		}
		return b.NewArray(), nil
	case *array.Time32:
		if n.op != opTruncateTime {
			return nil, notFor(n, arr.DataType())
		}
		dt := arr.DataType().(*arrow.Time32Type)
		b := array.NewTime32Builder(mem, dt)
		defer b.Release()
		b.Reserve(a.Len())
		f := unitFactor(n.unit, dt.Unit)
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(arrow.Time32(floorTo(int64(a.Value(i)), f)))
		}
		return b.NewArray(), nil
	case *array.Date32, *array.Date64:
		if n.op == opTruncateTime && n.unit == 24*time.Hour {
			arr.Retain() // a date is whole days already
			return arr, nil
		}
		return nil, notFor(n, arr.DataType())
	}
	return nil, notFor(n, arr.DataType())
}

func mapStrings(a stringValues, mem memory.Allocator, f func(string) (string, bool, error)) (arrow.Array, error) {
	b := array.NewBuilder(mem, a.DataType()).(stringAppender)
	defer b.Release()
	b.Reserve(a.Len())
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		s, ok, err := f(a.Value(i))
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		if !ok {
			b.AppendNull()
			continue
		}
		b.Append(s)
	}
	return b.NewArray(), nil
}

// roundUnscaled rounds an unscaled decimal to a multiple of 10^drop, half
// away from zero.
func roundUnscaled(u *big.Int, drop int) *big.Int {
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(drop)), nil)
	q, m := new(big.Int).QuoRem(u, p, new(big.Int))
	m.Abs(m).Lsh(m, 1)
	if m.Cmp(p) >= 0 {
		if u.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Mul(q, p)
}

func unitNanos(u arrow.TimeUnit) int64 {
	switch u {
	case arrow.Second:
		return 1e9
	case arrow.Millisecond:
		return 1e6
	case arrow.Microsecond:
		return 1e3
	}
	return 1
}

// unitFactor is how many column units make one truncation unit (1 when
// the column is as coarse already).
func unitFactor(unit time.Duration, col arrow.TimeUnit) int64 {
	f := unit.Nanoseconds() / unitNanos(col)
	if f < 1 {
		return 1
	}
	return f
}

// wallToInstant reads v (units of per nanoseconds since the epoch, as a
// wall time) in loc and returns the instant in the same units.
func wallToInstant(v, per int64, loc *time.Location) int64 {
	sec, frac := v/(1e9/per), v%(1e9/per)
	if frac < 0 {
		sec--
		frac += 1e9 / per
	}
	t := time.Unix(sec, 0).UTC()
	w := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
	return w.Unix()*(1e9/per) + frac
}

// ApplyValue runs the chain over one canonical value, for values outside
// Arrow (a fix-up batch re-checking a value). It agrees with Apply on a
// column of the value's kind; a canonical value does not say whether a
// timestamp had a time zone, so time_zone reads it as one without (use
// ApplyValueFor to say), and a number is rounded as an exact decimal (a
// float column rounds through the nearest float: ApplyValueFor). On a
// decimal text column (connectors.LogicalDecimal) only round agrees: its
// values are numbers to ApplyValue and text to Apply, so a text
// normaliser applies to the text and is refused on the number.
func (c Chain) ApplyValue(v reconcile.Value) (reconcile.Value, error) {
	return c.applyValue(v, valueHint{})
}

// ApplyValueFor is ApplyValue for a value of a column of the given field,
// which settles what a canonical value cannot say: whether a timestamp
// carries a time zone and whether a number is a binary float.
func (c Chain) ApplyValueFor(f arrow.Field, v reconcile.Value) (reconcile.Value, error) {
	h := valueHint{}
	switch t := f.Type.(type) {
	case *arrow.TimestampType:
		h.zoned = t.TimeZone != ""
	case *arrow.Float64Type:
		h.floatBits = 64
	case *arrow.Float32Type:
		h.floatBits = 32
	}
	return c.applyValue(v, h)
}

type valueHint struct {
	zoned     bool
	floatBits int
}

func (c Chain) applyValue(v reconcile.Value, h valueHint) (reconcile.Value, error) {
	for _, n := range c {
		var err error
		if v, err = n.applyValue(v, h); err != nil {
			return nil, fmt.Errorf("normalise value: %w", err)
		}
		if n.op == opTimeZone {
			h.zoned = true
		}
	}
	return v, nil
}

func (n Normaliser) applyValue(v reconcile.Value, h valueHint) (reconcile.Value, error) {
	if v.IsNull() {
		return v, nil
	}
	kind := v.Kind()
	notApplicable := fmt.Errorf("%s does not apply to a %s value", n, kind)
	switch kind {
	case "text":
		s, _ := v.Text()
		if n.op == opRound {
			r, err := roundText(s, n.n)
			if err != nil {
				return nil, err
			}
			return reconcile.AppendText(nil, r), nil
		}
		if !n.isText() {
			return nil, notApplicable
		}
		r, ok := n.text(s)
		if !ok {
			return reconcile.Null, nil
		}
		return reconcile.AppendText(nil, r), nil
	case "binary":
		if n.op != opNullIfEmpty {
			return nil, notApplicable
		}
		if b, _ := v.Binary(); len(b) == 0 {
			return reconcile.Null, nil
		}
		return v, nil
	case "number":
		if n.op != opRound {
			return nil, notApplicable
		}
		if _, ok := v.Int(); ok {
			return v, nil
		}
		if h.floatBits != 0 {
			f, ok := v.Float()
			if !ok {
				return nil, fmt.Errorf("%s: unreadable number", n)
			}
			return reconcile.AppendFloat(nil, roundFloat(f, n.n, h.floatBits), h.floatBits), nil
		}
		t, _ := v.NumberText()
		r, err := roundText(t, n.n)
		if err != nil {
			return nil, err
		}
		if r == t {
			return v, nil
		}
		out, ok := reconcile.NumberFromText(nil, r)
		if !ok {
			return nil, fmt.Errorf("%s: cannot encode %q", n, r)
		}
		return out, nil
	case "timestamp":
		t, _ := v.Timestamp()
		us := t.UnixMicro()
		switch n.op {
		case opTimeZone:
			if h.zoned {
				return v, nil
			}
			return reconcile.AppendTimestamp(nil, wallToInstant(us, 1e3, n.zone)), nil
		case opTruncateTime:
			return reconcile.AppendTimestamp(nil, floorTo(us, n.unit.Microseconds())), nil
		}
	case "time":
		if n.op == opTruncateTime {
			d, _ := v.TimeOfDay()
			return reconcile.AppendTime(nil, floorTo(d.Microseconds(), n.unit.Microseconds())), nil
		}
	case "date":
		if n.op == opTruncateTime && n.unit == 24*time.Hour {
			return v, nil
		}
	}
	return nil, notApplicable
}
