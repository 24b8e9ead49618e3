package reconcile

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The canonical encoding. Every value the engine hashes or compares is first
// written in this form; equal logical values have equal bytes whatever the
// connector or format they came from, and the form is self-delimiting, so a
// row encoding (the concatenation of its cells) can never be confused by a
// separator inside a value.
//
//	NULL       0x00
//	boolean    'b' 0|1
//	integer    'i' 8 bytes big-endian two's complement: every number that is
//	           an integer within int64, whatever its source type (1, 1.0,
//	           decimal 1.00, float 1.0, -0)
//	number     'n' uvarint(len) text: any other finite number as
//	           [-]digits"e"exponent with no leading or trailing zeros in
//	           digits (0.71 → "71e-2", 1e20 → "1e20"); binary floats use
//	           their shortest round-trip decimal; "NaN", "Inf", "-Inf"
//	text       's' uvarint(len) bytes (exact, no normalisation)
//	binary     'x' uvarint(len) bytes
//	timestamp  't' 8 bytes: microseconds since the Unix epoch, UTC
//	           (finer units are truncated toward negative infinity)
//	date       'd' 4 bytes: days since 1970-01-01
//	time       'h' 8 bytes: microseconds since midnight
//	json       'j' uvarint(len) canonical JSON (object keys sorted, no
//	           insignificant space, numbers in the number form above)
//	invalid    '!' uvarint(len) text: a value the source could not
//	           represent (e.g. a zero date); never equal to a valid value
const (
	tagNull      = 0x00
	tagBool      = 'b'
	tagInt       = 'i'
	tagNumber    = 'n'
	tagText      = 's'
	tagBinary    = 'x'
	tagTimestamp = 't'
	tagDate      = 'd'
	tagTime      = 'h'
	tagJSON      = 'j'
	tagInvalid   = '!'
)

// Value is one canonically encoded value. The zero Value is not valid; NULL
// is Value{0x00}. Values are compared with Equal (byte equality).
type Value []byte

// Null is the canonical NULL.
var Null = Value{tagNull}

// Equal reports whether two values are the same logical value.
func (v Value) Equal(o Value) bool { return bytes.Equal(v, o) }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return len(v) == 1 && v[0] == tagNull }

// AppendNull appends a NULL.
func AppendNull(b []byte) []byte { return append(b, tagNull) }

// AppendBool appends a boolean.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, tagBool, 1)
	}
	return append(b, tagBool, 0)
}

// AppendInt appends an integer.
func AppendInt(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(append(b, tagInt), uint64(v))
}

// AppendUint appends an unsigned integer.
func AppendUint(b []byte, v uint64) []byte {
	if v <= math.MaxInt64 {
		return AppendInt(b, int64(v))
	}
	return appendDigits(b, false, strconv.AppendUint(nil, v, 10), 0)
}

// AppendFloat appends a binary float by its shortest round-trip decimal for
// the given bit size (32 or 64).
func AppendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return appendLen(b, tagNumber, []byte("NaN"))
	case math.IsInf(f, 1):
		return appendLen(b, tagNumber, []byte("Inf"))
	case math.IsInf(f, -1):
		return appendLen(b, tagNumber, []byte("-Inf"))
	case f == 0:
		return AppendInt(b, 0)
	}
	// Integral floats that every decimal spelling reads back exactly are
	// integers; beyond that (2^53 for float64, 2^24 for float32) the
	// shortest round-trip decimal decides, as for any other float.
	exact := float64(1 << 53)
	if bits == 32 {
		exact = 1 << 24
	}
	if f == math.Trunc(f) && math.Abs(f) <= exact {
		return AppendInt(b, int64(f))
	}
	var scratch [32]byte
	s := strconv.AppendFloat(scratch[:0], f, 'e', -1, bits)
	d, ok := parseDecimalBytes(s)
	if !ok {
		// Cannot happen for a finite float; keep the bytes distinct anyway.
		return appendLen(b, tagInvalid, s)
	}
	return d.appendTo(b)
}

// AppendDecimal appends an exact decimal given as an unscaled integer and a
// scale (value = unscaled × 10^-scale).
func AppendDecimal(b []byte, unscaled *big.Int, scale int32) []byte {
	if unscaled.Sign() == 0 {
		return AppendInt(b, 0)
	}
	neg := unscaled.Sign() < 0
	digits := new(big.Int).Abs(unscaled).Append(nil, 10)
	return appendDigits(b, neg, digits, -int(scale))
}

// AppendDecimal64 is AppendDecimal for an unscaled value that fits int64.
func AppendDecimal64(b []byte, unscaled int64, scale int32) []byte {
	if scale <= 0 {
		if scale == 0 {
			return AppendInt(b, unscaled)
		}
	} else {
		p := int64(1)
		ok := true
		for i := int32(0); i < scale; i++ {
			if p > math.MaxInt64/10 {
				ok = false
				break
			}
			p *= 10
		}
		if ok && unscaled%p == 0 {
			return AppendInt(b, unscaled/p)
		}
	}
	if unscaled == 0 {
		return AppendInt(b, 0)
	}
	if scale > 0 && scale < 19 && unscaled != math.MinInt64 {
		// Fast path: strip trailing zeros arithmetically and write the
		// digits once.
		u := unscaled
		neg := u < 0
		if neg {
			u = -u
		}
		exp := -int(scale)
		for u%10 == 0 {
			u /= 10
			exp++
		}
		var t [32]byte
		n := 0
		if neg {
			t[0] = '-'
			n = 1
		}
		n += len(strconv.AppendUint(t[n:n], uint64(u), 10))
		t[n] = 'e'
		n++
		n += len(strconv.AppendInt(t[n:n], int64(exp), 10))
		return appendLen(b, tagNumber, t[:n])
	}
	neg := unscaled < 0
	var scratch [24]byte
	var digits []byte
	if neg {
		digits = strconv.AppendUint(scratch[:0], uint64(-(unscaled+1))+1, 10)
	} else {
		digits = strconv.AppendUint(scratch[:0], uint64(unscaled), 10)
	}
	return appendDigits(b, neg, digits, -int(scale))
}

// AppendText appends text exactly as given.
func AppendText(b []byte, s string) []byte {
	b = append(b, tagText)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendTextBytes is AppendText for a byte slice.
func AppendTextBytes(b []byte, s []byte) []byte { return appendLen(b, tagText, s) }

// AppendBinary appends raw bytes.
func AppendBinary(b []byte, v []byte) []byte { return appendLen(b, tagBinary, v) }

// AppendTimestamp appends an instant as UTC microseconds since the epoch.
func AppendTimestamp(b []byte, micros int64) []byte {
	return binary.BigEndian.AppendUint64(append(b, tagTimestamp), uint64(micros))
}

// AppendTime appends a time of day in microseconds since midnight.
func AppendTime(b []byte, micros int64) []byte {
	return binary.BigEndian.AppendUint64(append(b, tagTime), uint64(micros))
}

// AppendDate appends a date as days since 1970-01-01.
func AppendDate(b []byte, days int32) []byte {
	return binary.BigEndian.AppendUint32(append(b, tagDate), uint32(days))
}

// AppendInvalid appends a value the source could not represent, with a
// description (say "0000-00-00"); it never equals a valid value.
func AppendInvalid(b []byte, what string) []byte { return appendLen(b, tagInvalid, []byte(what)) }

// AppendJSON appends a JSON document in canonical form. Input that is not
// valid JSON is an error.
func AppendJSON(b []byte, doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return b, fmt.Errorf("canonicalise json: %w", err)
	}
	if dec.More() {
		return b, errors.New("canonicalise json: trailing data after the document")
	}
	return AppendJSONValue(b, v), nil
}

// AppendJSONValue appends an already decoded JSON value (as produced by
// encoding/json with UseNumber) in canonical form.
func AppendJSONValue(b []byte, v any) []byte {
	doc := appendCanonicalJSON(nil, v)
	return appendLen(b, tagJSON, doc)
}

func appendCanonicalJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case json.Number:
		if d, ok := parseDecimal(string(x)); ok {
			return d.appendJSONNumber(b)
		}
		return append(b, x...)
	case float64:
		return appendCanonicalJSON(b, json.Number(strconv.FormatFloat(x, 'g', -1, 64)))
	case string:
		return appendJSONString(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonicalJSON(b, e)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendCanonicalJSON(b, x[k])
		}
		return append(b, '}')
	}
	// Other Go values (from Arrow nested types): go through encoding/json.
	raw, err := json.Marshal(v)
	if err != nil {
		return appendJSONString(b, fmt.Sprint(v))
	}
	var back any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&back) != nil {
		return append(b, raw...)
	}
	return appendCanonicalJSON(b, back)
}

func appendJSONString(b []byte, s string) []byte {
	raw, _ := json.Marshal(s) // a string always marshals
	return append(b, raw...)
}

func appendLen(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decimal is a parsed decimal number: (-1)^neg × digits × 10^exp, with
// digits free of leading zeros.
type decimal struct {
	neg    bool
	digits []byte
	exp    int
}

// appendDigits normalises and appends a decimal number.
func appendDigits(b []byte, neg bool, digits []byte, exp int) []byte {
	return decimal{neg: neg, digits: digits, exp: exp}.appendTo(b)
}

func (d decimal) normal() decimal {
	i := 0
	for i < len(d.digits) && d.digits[i] == '0' {
		i++
	}
	d.digits = d.digits[i:]
	j := len(d.digits)
	for j > 0 && d.digits[j-1] == '0' {
		j--
	}
	d.exp += len(d.digits) - j
	d.digits = d.digits[:j]
	if len(d.digits) == 0 {
		d.neg, d.exp = false, 0
	}
	return d
}

func (d decimal) appendTo(b []byte) []byte {
	d = d.normal()
	if len(d.digits) == 0 {
		return AppendInt(b, 0)
	}
	if d.exp >= 0 && len(d.digits)+d.exp <= 19 {
		var u uint64
		for _, c := range d.digits {
			u = u*10 + uint64(c-'0')
		}
		for i := 0; i < d.exp; i++ {
			u *= 10
		}
		if d.neg && u <= 1<<63 {
			return AppendInt(b, int64(-u))
		}
		if !d.neg && u <= math.MaxInt64 {
			return AppendInt(b, int64(u))
		}
	}
	var scratch [64]byte
	t := scratch[:0]
	if d.neg {
		t = append(t, '-')
	}
	t = append(t, d.digits...)
	t = append(t, 'e')
	t = strconv.AppendInt(t, int64(d.exp), 10)
	return appendLen(b, tagNumber, t)
}

// plain renders a normalised decimal without exponent where reasonable.
func (d decimal) appendJSONNumber(b []byte) []byte {
	d = d.normal()
	if len(d.digits) == 0 {
		return append(b, '0')
	}
	if d.neg {
		b = append(b, '-')
	}
	switch {
	case d.exp >= 0 && d.exp <= 21:
		b = append(b, d.digits...)
		for i := 0; i < d.exp; i++ {
			b = append(b, '0')
		}
	case d.exp < 0 && -d.exp < len(d.digits):
		p := len(d.digits) + d.exp
		b = append(b, d.digits[:p]...)
		b = append(b, '.')
		b = append(b, d.digits[p:]...)
	case d.exp < 0 && -d.exp-len(d.digits) <= 6:
		b = append(b, '0', '.')
		for i := 0; i < -d.exp-len(d.digits); i++ {
			b = append(b, '0')
		}
		b = append(b, d.digits...)
	default:
		b = append(b, d.digits[0])
		if len(d.digits) > 1 {
			b = append(b, '.')
			b = append(b, d.digits[1:]...)
		}
		b = append(b, 'e')
		b = strconv.AppendInt(b, int64(d.exp+len(d.digits)-1), 10)
	}
	return b
}

// parseDecimal parses a decimal literal: [+-]digits[.digits][(e|E)[+-]digits].
func parseDecimal(s string) (decimal, bool) { return parseDecimalBytes([]byte(s)) }

func parseDecimalBytes(s []byte) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		d.neg = s[i] == '-'
		i++
	}
	digits := make([]byte, 0, len(s))
	sawDigit := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		digits = append(digits, s[i])
		i++
		sawDigit = true
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			digits = append(digits, s[i])
			d.exp--
			i++
			sawDigit = true
		}
	}
	if !sawDigit {
		return d, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			eneg = s[i] == '-'
			i++
		}
		start := i
		e := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if e > 1_000_000 {
				return d, false
			}
			e = e*10 + int(s[i]-'0')
			i++
		}
		if i == start {
			return d, false
		}
		if eneg {
			e = -e
		}
		d.exp += e
	}
	if i != len(s) {
		return d, false
	}
	d.digits = digits
	return d, true
}

// NumberFromText encodes a decimal or float literal ("1.50", "-0", "1e3",
// "NaN", "Infinity") as a canonical number. ok is false when s is not a number.
func NumberFromText(b []byte, s string) ([]byte, bool) {
	switch strings.ToLower(s) {
	case "nan":
		return appendLen(b, tagNumber, []byte("NaN")), true
	case "inf", "+inf", "infinity", "+infinity":
		return appendLen(b, tagNumber, []byte("Inf")), true
	case "-inf", "-infinity":
		return appendLen(b, tagNumber, []byte("-Inf")), true
	}
	d, ok := parseDecimal(s)
	if !ok {
		return b, false
	}
	return d.appendTo(b), true
}

// Decoding, for reports.

// Kind names the type of an encoded value: "null", "boolean", "number",
// "text", "binary", "timestamp", "date", "time", "json", "invalid".
func (v Value) Kind() string {
	if len(v) == 0 {
		return "invalid"
	}
	switch v[0] {
	case tagNull:
		return "null"
	case tagBool:
		return "boolean"
	case tagInt, tagNumber:
		return "number"
	case tagText:
		return "text"
	case tagBinary:
		return "binary"
	case tagTimestamp:
		return "timestamp"
	case tagDate:
		return "date"
	case tagTime:
		return "time"
	case tagJSON:
		return "json"
	}
	return "invalid"
}

func (v Value) payload() []byte {
	n, k := binary.Uvarint(v[1:])
	if k <= 0 || uint64(len(v)-1-k) < n {
		return nil
	}
	return v[1+k : 1+k+int(n)]
}

// String renders the value for people: text as is, numbers in plain
// decimal, instants in RFC 3339 UTC, NULL as "NULL".
func (v Value) String() string {
	if len(v) == 0 {
		return "<invalid>"
	}
	switch v[0] {
	case tagNull:
		return "NULL"
	case tagBool:
		return strconv.FormatBool(len(v) > 1 && v[1] == 1)
	case tagInt:
		if len(v) < 9 {
			return "<invalid>"
		}
		return strconv.FormatInt(int64(binary.BigEndian.Uint64(v[1:])), 10)
	case tagNumber:
		p := v.payload()
		if d, ok := parseDecimalBytes(p); ok {
			return string(d.appendJSONNumber(nil))
		}
		return string(p)
	case tagText, tagJSON:
		return string(v.payload())
	case tagBinary:
		return `\x` + fmt.Sprintf("%x", v.payload())
	case tagTimestamp:
		if len(v) < 9 {
			return "<invalid>"
		}
		return time.UnixMicro(int64(binary.BigEndian.Uint64(v[1:]))).UTC().Format("2006-01-02T15:04:05.999999Z")
	case tagDate:
		if len(v) < 5 {
			return "<invalid>"
		}
		days := int32(binary.BigEndian.Uint32(v[1:]))
		return time.Unix(int64(days)*86400, 0).UTC().Format("2006-01-02")
	case tagTime:
		if len(v) < 9 {
			return "<invalid>"
		}
		us := int64(binary.BigEndian.Uint64(v[1:]))
		return time.UnixMicro(us).UTC().Format("15:04:05.999999")
	case tagInvalid:
		return "<invalid: " + string(v.payload()) + ">"
	}
	return "<invalid>"
}

// MarshalJSON renders the value with its type: numbers as JSON numbers
// (NaN and infinities as strings), booleans, NULL as null, JSON documents
// inline, binary as base64, everything else as a string.
func (v Value) MarshalJSON() ([]byte, error) {
	if len(v) == 0 {
		return []byte(`null`), nil
	}
	switch v[0] {
	case tagNull:
		return []byte("null"), nil
	case tagBool:
		return strconv.AppendBool(nil, len(v) > 1 && v[1] == 1), nil
	case tagInt:
		return []byte(v.String()), nil
	case tagNumber:
		p := v.payload()
		if d, ok := parseDecimalBytes(p); ok {
			return d.appendJSONNumber(nil), nil
		}
		return json.Marshal(string(p))
	case tagJSON:
		return v.payload(), nil
	case tagBinary:
		return json.Marshal(base64.StdEncoding.EncodeToString(v.payload()))
	case tagText:
		p := v.payload()
		if !utf8.Valid(p) {
			return json.Marshal(strings.ToValidUTF8(string(p), "\uFFFD"))
		}
		return json.Marshal(string(p))
	}
	return json.Marshal(v.String())
}

// cellLen returns the length of the encoded value at the start of b, or -1
// when b does not start with a complete value.
func cellLen(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	switch b[0] {
	case tagNull:
		return 1
	case tagBool:
		if len(b) < 2 {
			return -1
		}
		return 2
	case tagInt, tagTimestamp, tagTime:
		if len(b) < 9 {
			return -1
		}
		return 9
	case tagDate:
		if len(b) < 5 {
			return -1
		}
		return 5
	case tagNumber, tagText, tagBinary, tagJSON, tagInvalid:
		n, k := binary.Uvarint(b[1:])
		if k <= 0 || uint64(len(b)-1-k) < n {
			return -1
		}
		return 1 + k + int(n)
	}
	return -1
}

// SplitCells splits a row encoding into its cells. It fails on bytes that
// are not a sequence of complete canonical values.
func SplitCells(row []byte, dst []Value) ([]Value, error) {
	for len(row) > 0 {
		n := cellLen(row)
		if n < 0 {
			return dst, errors.New("split row encoding: truncated or unknown value")
		}
		dst = append(dst, Value(row[:n:n]))
		row = row[n:]
	}
	return dst, nil
}
