package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// The binary numeric format (numeric_send): int16 ndigits, int16 weight,
// uint16 sign, int16 dscale, then ndigits base-10000 digits as int16. The
// value is the sum of digit[i] × 10000^(weight-i); dscale is the number of
// decimal digits after the point that the text form shows.
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

// numeric is a binary numeric value taken apart, without copying.
type numeric struct {
	sign   uint16
	weight int
	dscale int
	digits []byte // ndigits × 2 bytes
}

func (n numeric) ndigits() int { return len(n.digits) / 2 }

// digit returns base-10000 digit i, 0 outside the stored digits.
func (n numeric) digit(i int) int {
	if i < 0 || i >= n.ndigits() {
		return 0
	}
	return int(binary.BigEndian.Uint16(n.digits[2*i:]))
}

var errNumericFormat = errors.New("malformed binary numeric")

func parseNumeric(b []byte) (numeric, error) {
	if len(b) < 8 {
		return numeric{}, errNumericFormat
	}
	nd := int(int16(binary.BigEndian.Uint16(b)))
	n := numeric{
		weight: int(int16(binary.BigEndian.Uint16(b[2:]))),
		sign:   binary.BigEndian.Uint16(b[4:]),
		dscale: int(int16(binary.BigEndian.Uint16(b[6:]))),
	}
	if nd < 0 || len(b) != 8+2*nd || n.dscale < 0 {
		return numeric{}, errNumericFormat
	}
	switch n.sign {
	case numericPos, numericNeg:
	case numericNaN, numericPInf, numericNInf:
		return n, nil
	default:
		return numeric{}, errNumericFormat
	}
	n.digits = b[8:]
	for i := 0; i < nd; i++ {
		if n.digit(i) > 9999 {
			return numeric{}, errNumericFormat
		}
	}
	return n, nil
}

// appendNumericText appends the value as PostgreSQL prints it: "-12.340"
// with dscale digits after the point, "NaN", "Infinity", "-Infinity".
func appendNumericText(dst []byte, raw []byte) ([]byte, error) {
	n, err := parseNumeric(raw)
	if err != nil {
		return dst, err
	}
	switch n.sign {
	case numericNaN:
		return append(dst, "NaN"...), nil
	case numericPInf:
		return append(dst, "Infinity"...), nil
	case numericNInf:
		return append(dst, "-Infinity"...), nil
	case numericNeg:
		dst = append(dst, '-')
	}
	if n.weight < 0 {
		dst = append(dst, '0')
	} else {
		for i := 0; i <= n.weight; i++ {
			d := n.digit(i)
			if i == 0 {
				dst = strconv.AppendInt(dst, int64(d), 10)
			} else {
				dst = append4(dst, d)
			}
		}
	}
	if n.dscale > 0 {
		dst = append(dst, '.')
		left := n.dscale
		for i := n.weight + 1; left > 0; i++ {
			var g [4]byte
			d := n.digit(i)
			g[0], g[1], g[2], g[3] = byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10)
			k := min(left, 4)
			dst = append(dst, g[:k]...)
			left -= k
		}
	}
	return dst, nil
}

func append4(dst []byte, d int) []byte {
	return append(dst, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
}

// errNumericNaN: a NaN in a column read as Arrow decimal.
var errNumericNaN = errors.New("NaN cannot be held by a decimal column")

var pow10 = [...]int64{1, 10, 100, 1000, 10000}

// numericUnscaled returns the value × 10^scale as an exact integer, by
// Horner's rule over the base-10000 digits, for a column of at most 38
// digits. Digits beyond the scale must be zero (PostgreSQL rounds values to
// a column's scale on the way in).
func numericUnscaled(raw []byte, precision, scale int32) (decimal128.Num, error) {
	n, err := parseNumeric(raw)
	if err != nil {
		return decimal128.Num{}, err
	}
	switch n.sign {
	case numericNaN:
		return decimal128.Num{}, errNumericNaN
	case numericPInf, numericNInf:
		return decimal128.Num{}, errors.New("infinity cannot be held by a decimal column")
	}
	// unit is the decimal exponent of the accumulator's last digit.
	small := precision <= 18
	var acc64 int64
	var acc decimal128.Num
	unit := 0
	for i := 0; i < n.ndigits(); i++ {
		d := n.digit(i)
		x := 4*(n.weight-i) + int(scale) // exponent of this digit group's unit
		switch {
		case x >= 0:
			if small {
				if acc64 > (1<<62)/10000 {
					return decimal128.Num{}, fmt.Errorf("value out of range for numeric(%d,%d)", precision, scale)
				}
				acc64 = acc64*10000 + int64(d)
			} else {
				acc = acc.Mul(decimal128.FromI64(10000)).Add(decimal128.FromI64(int64(d)))
			}
			unit = x
		case x > -4:
			div := pow10[-x]
			if int64(d)%div != 0 {
				return decimal128.Num{}, fmt.Errorf("value has more than %d decimal places", scale)
			}
			mul := pow10[4+x]
			if small {
				acc64 = acc64*mul + int64(d)/div
			} else {
				acc = acc.Mul(decimal128.FromI64(mul)).Add(decimal128.FromI64(int64(d) / div))
			}
			unit = 0
		default:
			if d != 0 {
				return decimal128.Num{}, fmt.Errorf("value has more than %d decimal places", scale)
			}
		}
	}
	if n.ndigits() == 0 {
		return decimal128.Num{}, nil
	}
	if small {
		acc = decimal128.FromI64(acc64)
	}
	if unit > 38 {
		return decimal128.Num{}, fmt.Errorf("value out of range for numeric(%d,%d)", precision, scale)
	}
	if unit > 0 {
		acc = acc.Mul(decimal128.FromBigInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(unit)), nil)))
	}
	if !acc.FitsInPrecision(precision) {
		return decimal128.Num{}, fmt.Errorf("value out of range for numeric(%d,%d)", precision, scale)
	}
	if n.sign == numericNeg {
		acc = acc.Negate()
	}
	return acc, nil
}

// numericKeyEqual reports whether two binary numerics are the same number:
// PostgreSQL strips leading and trailing zero digits, so only the display
// scale may differ between equal values (1.0 and 1.00).
func numericKeyEqual(a, b []byte) bool {
	if len(a) < 8 || len(b) < 8 {
		return string(a) == string(b)
	}
	return string(a[:6]) == string(b[:6]) && string(a[8:]) == string(b[8:])
}
