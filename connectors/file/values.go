package file

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// This file holds the value parsers shared by inference and by the main
// pass. They work on byte slices and never allocate on the success path.

// maxDecimalDigits is the precision of every Decimal128 column this package
// produces.
const maxDecimalDigits = 38

// bstr views b as a string without copying. The result must not outlive b
// and must not be retained (strconv copies what it keeps in its errors).
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func isDigit(c byte) bool { return c-'0' <= 9 }

// parseCanonicalInt parses `-?(0|[1-9][0-9]*)` within int64: the only form
// inference accepts as an integer.
func parseCanonicalInt(b []byte) (int64, bool) {
	i := 0
	if len(b) > 0 && b[0] == '-' {
		i = 1
	}
	n := len(b) - i
	if n <= 0 || n > 19 || (b[i] == '0' && n > 1) {
		return 0, false
	}
	return accumulateInt(b[i:], i == 1)
}

// parseInt parses an integer leniently (an optional sign, leading zeros):
// the main pass accepts what a forced "integer" type may hold.
func parseInt(b []byte) (int64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	if i == len(b) {
		return 0, false
	}
	if len(b)-i <= 18 { // cannot overflow
		var u uint64
		for _, c := range b[i:] {
			c -= '0'
			if c > 9 {
				return 0, false
			}
			u = u*10 + uint64(c)
		}
		if neg {
			return -int64(u), true
		}
		return int64(u), true
	}
	for i < len(b)-1 && b[i] == '0' {
		i++
	}
	if len(b)-i > 19 {
		return 0, false
	}
	return accumulateInt(b[i:], neg)
}

// accumulateInt converts at most 19 decimal digits.
func accumulateInt(d []byte, neg bool) (int64, bool) {
	var u uint64
	for _, c := range d {
		c -= '0'
		if c > 9 {
			return 0, false
		}
		u = u*10 + uint64(c)
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true // -(1<<63) wraps to MinInt64, as wanted
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// numShape describes a decimal literal `-?digits[.digits][e[+-]digits]`.
type numShape struct {
	intDigits int  // significant digits left of the point (0 for "0")
	scale     int  // digits right of the point, after applying the exponent
	sig       int  // significant digits (no leading or trailing zeros)
	exp       bool // has an exponent
	ok        bool // is an exact decimal that fits Decimal128(38, scale)
}

// decimalShape inspects a number literal that is already known to match the
// JSON number grammar (or the CSV decimal grammar) and reports whether it is
// an exact decimal within 38 digits.
func decimalShape(b []byte) numShape {
	var s numShape
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	// digits: the mantissa digits without the point; point: how many are
	// left of it.
	start := i
	lead := 0 // leading zeros of the mantissa
	allZero := true
	nd := 0
	trail := 0 // trailing zeros of the mantissa
	point := -1
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			point = nd
			continue
		}
		if !isDigit(c) {
			break
		}
		nd++
		if c == '0' {
			trail++
			if allZero {
				lead++
			}
		} else {
			allZero = false
			trail = 0
		}
	}
	_ = start
	if point < 0 {
		point = nd
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		s.exp = true
		i++
		neg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			neg = b[i] == '-'
			i++
		}
		for ; i < len(b); i++ {
			if exp < 100000 {
				exp = exp*10 + int(b[i]-'0')
			}
		}
		if neg {
			exp = -exp
		}
	}
	// The value is mantissa × 10^(exp - (nd - point)).
	fracLit := nd - point // fractional digits in the literal
	if s.exp {
		// Trailing zeros carry no scale once an exponent moves the point.
		if allZero {
			s.ok = true
			return s
		}
		sc := fracLit - exp - trail
		if sc < 0 {
			sc = 0
		}
		s.scale = sc
	} else {
		s.scale = fracLit
	}
	if allZero {
		s.sig = 0
		s.intDigits = 0
	} else {
		s.sig = nd - lead - trail
		// integer digits: significant digits of the part left of the point
		// after applying the exponent.
		intPart := point + exp - lead
		if intPart < 0 {
			intPart = 0
		}
		s.intDigits = intPart
	}
	s.ok = s.scale <= maxDecimalDigits && s.intDigits+s.scale <= maxDecimalDigits
	return s
}

// parseDecimal parses a decimal literal into an unscaled Decimal128 at the
// given scale. It accepts an optional sign, an optional point and, when
// allowExp is set, an exponent. It fails rather than round: a value with
// more nonzero fractional digits than scale, or more than 38 digits, is
// rejected.
func parseDecimal(b []byte, scale int32, allowExp bool) (decimal128.Num, bool) {
	if v, ok := parseSmallDecimal(b, scale); ok {
		return v, true
	}
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	var hi, lo uint64
	nd := 0      // significant digits in hi:lo
	pending := 0 // zeros seen after the last nonzero digit, not yet applied
	frac := 0    // digits after the point
	point := false
	sawDigit := false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			if point {
				return decimal128.Num{}, false
			}
			point = true
			continue
		}
		d := c - '0'
		if d > 9 {
			break
		}
		sawDigit = true
		if point {
			frac++
		}
		if d == 0 {
			if nd > 0 {
				pending++
			}
			continue
		}
		for ; pending > 0; pending-- {
			hi, lo = mul10(hi, lo)
			nd++
		}
		hi, lo = mul10(hi, lo)
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(d), 0)
		hi += carry
		nd++
		if nd > maxDecimalDigits {
			return decimal128.Num{}, false
		}
	}
	if !sawDigit {
		return decimal128.Num{}, false
	}
	exp := 0
	if i < len(b) && allowExp && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		if i == len(b) {
			return decimal128.Num{}, false
		}
		for ; i < len(b); i++ {
			d := b[i] - '0'
			if d > 9 {
				return decimal128.Num{}, false
			}
			if exp < 100000 {
				exp = exp*10 + int(d)
			}
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(b) {
		return decimal128.Num{}, false
	}
	if nd == 0 {
		return decimal128.Num{}, true
	}
	// value = hi:lo × 10^(pending + exp - frac); unscaled = value × 10^scale
	k := pending + exp - frac + int(scale)
	if k < 0 || nd+k > maxDecimalDigits {
		return decimal128.Num{}, false
	}
	for ; k > 0; k-- {
		hi, lo = mul10(hi, lo)
	}
	n := decimal128.New(int64(hi), lo)
	if neg {
		n = n.Negate()
	}
	return n, true
}

var pow10 = [19]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// parseSmallDecimal is the fast path of parseDecimal: [-]digits[.digits]
// whose unscaled value at scale has at most 18 digits. ok=false sends
// everything else to the general path.
func parseSmallDecimal(b []byte, scale int32) (decimal128.Num, bool) {
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		i = 1
	}
	var u uint64
	nd, frac := 0, -1
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			if b[i] != '.' || frac >= 0 {
				return decimal128.Num{}, false
			}
			frac = 0
			continue
		}
		u = u*10 + uint64(d)
		nd++
		if frac >= 0 {
			frac++
		}
	}
	if frac < 0 {
		frac = 0
	}
	k := int(scale) - frac
	if nd == 0 || nd > 18 || k < 0 || nd+k > 18 {
		return decimal128.Num{}, false
	}
	v := int64(u * pow10[k])
	if neg {
		v = -v
	}
	return decimal128.FromI64(v), true
}

func mul10(hi, lo uint64) (uint64, uint64) {
	h, l := bits.Mul64(lo, 10)
	return hi*10 + h, l
}

// floatRoundTrips reports whether a float literal denotes exactly the
// decimal value of its float64's shortest representation, so reading it as
// float64 loses nothing. NaN and infinities round-trip.
func floatRoundTrips(b []byte) bool {
	f, err := strconv.ParseFloat(bstr(b), 64)
	if err != nil {
		return false
	}
	if f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
		return true
	}
	var scratch [32]byte
	short := strconv.AppendFloat(scratch[:0], f, 'e', -1, 64)
	n1, d1, e1, ok1 := normalizeNumber(b)
	n2, d2, e2, ok2 := normalizeNumber(short)
	if !ok1 || !ok2 {
		return false
	}
	if d1 == "" && d2 == "" { // zero, whatever the sign
		return true
	}
	return n1 == n2 && d1 == d2 && e1 == e2
}

// normalizeNumber splits a decimal literal into sign, significant digits
// (no leading or trailing zeros) and the exponent of the last digit.
func normalizeNumber(b []byte) (neg bool, digits string, exp int, ok bool) {
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var d []byte
	frac := 0
	point := false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			point = true
			continue
		}
		if !isDigit(c) {
			break
		}
		if point {
			frac++
		}
		if c == '0' && len(d) == 0 {
			continue
		}
		d = append(d, c)
	}
	e := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		v, err := strconv.Atoi(bstr(b[i+1:]))
		if err != nil {
			return false, "", 0, false
		}
		e = v
	} else if i != len(b) {
		return false, "", 0, false
	}
	e -= frac
	for len(d) > 0 && d[len(d)-1] == '0' {
		d = d[:len(d)-1]
		e++
	}
	return neg, string(d), e, true
}

// isSpecialFloat reports NaN, Inf, -Inf, Infinity, -Infinity in any case.
func isSpecialFloat(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
		return equalFold(b, "inf") || equalFold(b, "infinity")
	}
	return equalFold(b, "nan") || equalFold(b, "inf") || equalFold(b, "infinity")
}

// equalFold compares b with a lower-case ASCII word, ignoring case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// parseBool accepts true/false in any case. OR-ing 0x20 lower-cases
// letters and maps no other byte onto a letter of "true" or "false".
func parseBool(b []byte) (v, ok bool) {
	const (
		true4 = uint32('t') | uint32('r')<<8 | uint32('u')<<16 | uint32('e')<<24
		fals4 = uint32('f') | uint32('a')<<8 | uint32('l')<<16 | uint32('s')<<24
	)
	switch len(b) {
	case 4:
		return true, binary.LittleEndian.Uint32(b)|0x20202020 == true4
	case 5:
		return false, binary.LittleEndian.Uint32(b)|0x20202020 == fals4 && b[4]|0x20 == 'e'
	}
	return false, false
}

// parseBoolLenient also accepts t/f and 1/0, for forced boolean columns.
func parseBoolLenient(b []byte) (v, ok bool) {
	if v, ok := parseBool(b); ok {
		return v, ok
	}
	if len(b) == 1 {
		switch b[0] {
		case '1', 't', 'T':
			return true, true
		case '0', 'f', 'F':
			return false, true
		}
	}
	return false, false
}

func digits2(b []byte) (int, bool) {
	d0, d1 := b[0]-'0', b[1]-'0'
	if d0 > 9 || d1 > 9 {
		return 0, false
	}
	return int(d0)*10 + int(d1), true
}

// parseDate parses YYYY-MM-DD into days since 1970-01-01.
func parseDate(b []byte) (int32, bool) {
	if len(b) != 10 {
		return 0, false
	}
	d, ok := parseDatePrefix(b)
	return int32(d), ok
}

// parseDatePrefix parses the YYYY-MM-DD at the start of b (len(b) >= 10).
func parseDatePrefix(b []byte) (int64, bool) {
	if len(b) < 10 {
		return 0, false
	}
	_ = b[9]
	y0, y1, y2, y3 := b[0]-'0', b[1]-'0', b[2]-'0', b[3]-'0'
	m0, m1, d0, d1 := b[5]-'0', b[6]-'0', b[8]-'0', b[9]-'0'
	if y0 > 9 || y1 > 9 || y2 > 9 || y3 > 9 || m0 > 9 || m1 > 9 || d0 > 9 || d1 > 9 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y := uint(y0)*1000 + uint(y1)*100 + uint(y2)*10 + uint(y3)
	m := uint(m0)*10 + uint(m1)
	d := uint(d0)*10 + uint(d1)
	if m-1 >= 12 || d-1 >= 31 {
		return 0, false
	}
	leap := y%4 == 0 && (y%100 != 0 || y%400 == 0)
	dim := uint(monthDays[m])
	if m == 2 && leap {
		dim = 29
	}
	if d > dim {
		return 0, false
	}
	days := daysBeforeYear(y) + uint(cumDays[m]) + d - 1
	if leap && m > 2 {
		days++
	}
	return int64(days) - epochDays, true
}

var (
	monthDays = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	cumDays   = [13]int{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}
)

// daysBeforeYear counts the days from a fixed origin 400 years before year
// 0 to January 1 of year y (0 ≤ y ≤ 9999) in the proleptic Gregorian
// calendar; the shift keeps the arithmetic unsigned and the leap cycle
// intact.
func daysBeforeYear(y uint) uint {
	y += 399 // (y + 400) - 1
	return 365*y + y/4 - y/100 + y/400
}

// epochDays is daysBeforeYear(1970).
var epochDays = int64(daysBeforeYear(1970))

const microsPerDay = 86400 * 1000000

// parseTimestamp parses
// YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM|±HHMM] into microseconds since
// the epoch in UTC. A value without a zone is UTC; digits of the fraction
// beyond microseconds are truncated.
func parseTimestamp(b []byte) (int64, bool) {
	if len(b) < 19 {
		return 0, false
	}
	_ = b[18]
	if (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	days, ok := parseDatePrefix(b)
	if !ok {
		return 0, false
	}
	h0, h1, i0, i1, s0, s1 := b[11]-'0', b[12]-'0', b[14]-'0', b[15]-'0', b[17]-'0', b[18]-'0'
	if h0 > 9 || h1 > 9 || i0 > 9 || i1 > 9 || s0 > 9 || s1 > 9 {
		return 0, false
	}
	h := int(h0)*10 + int(h1)
	mi := int(i0)*10 + int(i1)
	sec := int(s0)*10 + int(s1)
	if h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	us := days*microsPerDay + int64(h*3600+mi*60+sec)*1000000
	i := 19
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		var frac int64
		for i < len(b) && isDigit(b[i]) {
			if i-start < 6 {
				frac = frac*10 + int64(b[i]-'0')
			}
			i++
		}
		n := i - start
		if n == 0 || n > 9 {
			return 0, false
		}
		for k := n; k < 6; k++ {
			frac *= 10
		}
		us += frac
	}
	if i == len(b) {
		return us, true
	}
	switch b[i] {
	case 'Z', 'z':
		return us, i+1 == len(b)
	case '+', '-':
		sign := int64(1)
		if b[i] == '-' {
			sign = -1
		}
		z := b[i+1:]
		var oh, om int
		var ok1, ok2 bool
		switch {
		case len(z) == 5 && z[2] == ':':
			oh, ok1 = digits2(z[0:2])
			om, ok2 = digits2(z[3:5])
		case len(z) == 4:
			oh, ok1 = digits2(z[0:2])
			om, ok2 = digits2(z[2:4])
		default:
			return 0, false
		}
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		return us - sign*int64(oh*3600+om*60)*1000000, true
	}
	return 0, false
}
