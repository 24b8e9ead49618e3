package reconcile

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"math/big"
	"strconv"
	"time"
)

// Typed access to a value's content, for what works with values after the
// diff: rules (tolerances, max/min, newest), fix-up batches binding values
// as statement parameters. Each accessor reports false when the value is
// not of its kind (NULL included); none of them panics on malformed bytes.

// Bool returns a boolean value.
func (v Value) Bool() (bool, bool) {
	if len(v) != 2 || v[0] != tagBool {
		return false, false
	}
	return v[1] == 1, true
}

// Int returns a number that is an integer within int64 (the canonical
// form of every such number, whatever its source type).
func (v Value) Int() (int64, bool) {
	if len(v) != 9 || v[0] != tagInt {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(v[1:])), true
}

// NumberText returns a number as plain decimal text ("10.5", "-3",
// "1.5e+30" for large exponents) that a database parses exactly, or
// "NaN", "Infinity", "-Infinity" for the non-finite floats.
func (v Value) NumberText() (string, bool) {
	if i, ok := v.Int(); ok {
		return strconv.FormatInt(i, 10), true
	}
	if len(v) == 0 || v[0] != tagNumber {
		return "", false
	}
	p := v.payload()
	switch string(p) {
	case "NaN":
		return "NaN", true
	case "Inf":
		return "Infinity", true
	case "-Inf":
		return "-Infinity", true
	}
	d, ok := parseDecimalBytes(p)
	if !ok {
		return "", false
	}
	return string(d.appendJSONNumber(nil)), true
}

// Rat returns a finite number exactly.
func (v Value) Rat() (*big.Rat, bool) {
	if i, ok := v.Int(); ok {
		return new(big.Rat).SetInt64(i), true
	}
	if len(v) == 0 || v[0] != tagNumber {
		return nil, false
	}
	d, ok := parseDecimalBytes(v.payload())
	if !ok {
		return nil, false
	}
	d = d.normal()
	if d.exp > 4096 || d.exp < -4096 {
		return nil, false // not worth a huge allocation; no column holds it
	}
	n, ok := new(big.Int).SetString(string(append([]byte{'0'}, d.digits...)), 10)
	if !ok {
		return nil, false
	}
	if d.neg {
		n.Neg(n)
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(d.exp))), nil)
	if d.exp >= 0 {
		return new(big.Rat).SetInt(n.Mul(n, p)), true
	}
	return new(big.Rat).SetFrac(n, p), true
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// Float returns a number as the nearest float64 (NaN and the infinities
// included).
func (v Value) Float() (float64, bool) {
	if i, ok := v.Int(); ok {
		return float64(i), true
	}
	if len(v) == 0 || v[0] != tagNumber {
		return 0, false
	}
	p := v.payload()
	switch string(p) {
	case "NaN":
		return math.NaN(), true
	case "Inf":
		return math.Inf(1), true
	case "-Inf":
		return math.Inf(-1), true
	}
	f, err := strconv.ParseFloat(string(p), 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// Text returns a text value.
func (v Value) Text() (string, bool) {
	if len(v) == 0 || v[0] != tagText || cellLen(v) != len(v) {
		return "", false
	}
	return string(v.payload()), true
}

// Binary returns a binary value.
func (v Value) Binary() ([]byte, bool) {
	if len(v) == 0 || v[0] != tagBinary || cellLen(v) != len(v) {
		return nil, false
	}
	return v.payload(), true
}

// JSON returns a JSON document in canonical form.
func (v Value) JSON() ([]byte, bool) {
	if len(v) == 0 || v[0] != tagJSON || cellLen(v) != len(v) {
		return nil, false
	}
	return v.payload(), true
}

// Timestamp returns an instant, in UTC.
func (v Value) Timestamp() (time.Time, bool) {
	if len(v) != 9 || v[0] != tagTimestamp {
		return time.Time{}, false
	}
	return time.UnixMicro(int64(binary.BigEndian.Uint64(v[1:]))).UTC(), true
}

// Date returns a date as midnight UTC of that day.
func (v Value) Date() (time.Time, bool) {
	if len(v) != 5 || v[0] != tagDate {
		return time.Time{}, false
	}
	return time.Unix(int64(int32(binary.BigEndian.Uint32(v[1:])))*86400, 0).UTC(), true
}

// TimeOfDay returns a time of day as the duration since midnight.
func (v Value) TimeOfDay() (time.Duration, bool) {
	if len(v) != 9 || v[0] != tagTime {
		return 0, false
	}
	return time.Duration(int64(binary.BigEndian.Uint64(v[1:]))) * time.Microsecond, true
}

// Compare orders two values of the same kind: numbers by value (NaN
// after every other number, as PostgreSQL sorts it), text and binary by
// bytes, booleans false first, instants, dates and times chronologically.
// It reports false for values of different kinds, NULLs, JSON and invalid
// values, which have no order.
func Compare(a, b Value) (int, bool) {
	ka, kb := a.Kind(), b.Kind()
	if ka != kb {
		return 0, false
	}
	switch ka {
	case "number":
		if x, ok := a.Int(); ok {
			if y, ok := b.Int(); ok {
				return cmp.Compare(x, y), true
			}
		}
		fa, oka := a.Float()
		fb, okb := b.Float()
		if !oka || !okb {
			return 0, false
		}
		if math.IsNaN(fa) || math.IsNaN(fb) {
			switch {
			case math.IsNaN(fa) && math.IsNaN(fb):
				return 0, true
			case math.IsNaN(fa):
				return 1, true
			}
			return -1, true
		}
		if math.IsInf(fa, 0) || math.IsInf(fb, 0) {
			switch {
			case fa < fb:
				return -1, true
			case fa > fb:
				return 1, true
			}
			return 0, true
		}
		ra, oka := a.Rat()
		rb, okb := b.Rat()
		if !oka || !okb {
			return 0, false
		}
		return ra.Cmp(rb), true
	case "text", "binary":
		if cellLen(a) != len(a) || cellLen(b) != len(b) {
			return 0, false
		}
		return bytes.Compare(a.payload(), b.payload()), true
	case "boolean":
		x, _ := a.Bool()
		y, _ := b.Bool()
		switch {
		case x == y:
			return 0, true
		case !x:
			return -1, true
		}
		return 1, true
	case "timestamp", "time":
		if len(a) != 9 || len(b) != 9 {
			return 0, false
		}
		return cmp.Compare(int64(binary.BigEndian.Uint64(a[1:])), int64(binary.BigEndian.Uint64(b[1:]))), true
	case "date":
		if len(a) != 5 || len(b) != 5 {
			return 0, false
		}
		return cmp.Compare(int64(int32(binary.BigEndian.Uint32(a[1:]))), int64(int32(binary.BigEndian.Uint32(b[1:])))), true
	}
	return 0, false
}
