package mysql

import (
	"errors"
	"math"
	"math/bits"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// Parsers for the text forms of MySQL values: decimals, dates and times
// as the driver gives them (over the binary protocol too), and numbers as
// the text protocol sends them. Each takes
// the bytes as the server sent them and never allocates.

var errSyntax = errors.New("unexpected text form")

// parseDecimal128 parses a decimal such as "-12.340" into an unscaled
// 128-bit integer at the given scale. Fewer fraction digits than scale are
// padded; more fail, as does a value of more than precision digits.
func parseDecimal128(b []byte, precision, scale int32) (decimal128.Num, error) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return decimal128.Num{}, errSyntax
	}
	var hi, lo uint64
	digits, frac := int32(0), int32(-1)
	seen := false
	for _, c := range b {
		if c == '.' {
			if frac >= 0 {
				return decimal128.Num{}, errSyntax
			}
			frac = 0
			continue
		}
		if c < '0' || c > '9' {
			return decimal128.Num{}, errSyntax
		}
		seen = true
		if frac >= 0 {
			frac++
		}
		if digits == 0 && c == '0' {
			continue // leading zeros do not count against the precision
		}
		digits++
		if digits > 38 {
			return decimal128.Num{}, errSyntax
		}
		hi, lo = mulAdd10(hi, lo, uint64(c-'0'))
	}
	if !seen {
		return decimal128.Num{}, errSyntax
	}
	if frac < 0 {
		frac = 0
	}
	if frac > scale {
		return decimal128.Num{}, errSyntax
	}
	for ; frac < scale; frac++ {
		if hi != 0 || lo != 0 {
			digits++
		}
		hi, lo = mulAdd10(hi, lo, 0)
	}
	if digits > precision && precision > 0 {
		return decimal128.Num{}, errSyntax
	}
	n := decimal128.New(int64(hi), lo)
	if neg {
		n = n.Negate()
	}
	return n, nil
}

func mulAdd10(hi, lo, d uint64) (uint64, uint64) {
	h, l := bits.Mul64(lo, 10)
	h += hi * 10
	l, carry := bits.Add64(l, d, 0)
	return h + carry, l
}

// validDecimalText reports whether b is a plain decimal number ("-12.340"),
// the only form MySQL sends for DECIMAL.
func validDecimalText(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	dot, digits := false, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// num parses the unsigned decimal digits of b.
func num(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDate parses "YYYY-MM-DD" into days since the epoch. ok is false for
// a date no calendar has (0000-00-00, 2024-00-15, 2023-02-30), which MySQL
// stores when its sql_mode allows; err is set for text of another shape.
func parseDate(b []byte) (days int32, ok bool, err error) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, false, errSyntax
	}
	y, ok1 := num(b[0:4])
	m, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, false, errSyntax
	}
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false, nil
	}
	return int32(daysFromCivil(y, m, d)), true, nil
}

// parseFraction parses ".ffffff" (1 to 6 digits, or none) into microseconds.
func parseFraction(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if b[0] != '.' || len(b) < 2 || len(b) > 7 {
		return 0, errSyntax
	}
	var us int64
	for _, c := range b[1:] {
		if c < '0' || c > '9' {
			return 0, errSyntax
		}
		us = us*10 + int64(c-'0')
	}
	for i := len(b) - 1; i < 6; i++ {
		us *= 10
	}
	return us, nil
}

// parseDatetime parses "YYYY-MM-DD HH:MM:SS[.ffffff]" into microseconds
// since the epoch, reading the digits as UTC. ok is false for an invalid
// date part (see parseDate) or time of day.
func parseDatetime(b []byte) (us int64, ok bool, err error) {
	if len(b) < 19 || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return 0, false, errSyntax
	}
	days, ok, err := parseDate(b[:10])
	if err != nil {
		return 0, false, err
	}
	h, ok1 := num(b[11:13])
	mi, ok2 := num(b[14:16])
	s, ok3 := num(b[17:19])
	if !ok1 || !ok2 || !ok3 {
		return 0, false, errSyntax
	}
	frac, err := parseFraction(b[19:])
	if err != nil {
		return 0, false, err
	}
	if !ok || h > 23 || mi > 59 || s > 59 {
		return 0, false, nil
	}
	return int64(days)*86_400_000_000 + int64(h*3600+mi*60+s)*1_000_000 + frac, true, nil
}

// parseTime parses a MySQL TIME, "[-]H+:MM:SS[.ffffff]" (hours may exceed
// 23: the range is -838:59:59 to 838:59:59), into microseconds.
func parseTime(b []byte) (int64, error) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	c1 := -1
	for i, c := range b {
		if c == ':' {
			c1 = i
			break
		}
	}
	if c1 < 1 || len(b) < c1+6 || b[c1+3] != ':' {
		return 0, errSyntax
	}
	h, ok1 := num(b[:c1])
	m, ok2 := num(b[c1+1 : c1+3])
	s, ok3 := num(b[c1+4 : c1+6])
	if !ok1 || !ok2 || !ok3 || m > 59 || s > 59 {
		return 0, errSyntax
	}
	frac, err := parseFraction(b[c1+6:])
	if err != nil {
		return 0, err
	}
	us := int64(h*3600+m*60+s)*1_000_000 + frac
	if neg {
		us = -us
	}
	return us, nil
}

// parseInt parses a signed decimal integer.
func parseInt(b []byte) (int64, error) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	u, err := parseUint(b)
	if err != nil {
		return 0, err
	}
	if neg {
		if u > 1<<63 {
			return 0, strconv.ErrRange
		}
		return -int64(u), nil
	}
	if u > math.MaxInt64 {
		return 0, strconv.ErrRange
	}
	return int64(u), nil
}

// parseUint parses an unsigned decimal integer.
func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, errSyntax
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errSyntax
		}
		hi, lo := bits.Mul64(u, 10)
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, strconv.ErrRange
		}
		u = lo
	}
	return u, nil
}

// bitValue reads a BIT(n) value, big-endian bytes, as a number.
func bitValue(b []byte) (uint64, error) {
	if len(b) > 8 {
		return 0, errSyntax
	}
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return u, nil
}
