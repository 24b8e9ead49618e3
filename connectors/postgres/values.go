package postgres

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// PostgreSQL counts dates and timestamps from 2000-01-01; Arrow from 1970.
const (
	pgEpochDays   = 10957                 // days from 1970-01-01 to 2000-01-01
	pgEpochMicros = pgEpochDays * 86400e6 // microseconds likewise
)

// dateToArrow converts days since 2000 to days since 1970; ±infinity
// (the extreme int32 values) stay the extremes.
func dateToArrow(d int32) (int32, bool) {
	if d == math.MaxInt32 || d == math.MinInt32 {
		return d, true
	}
	v := int64(d) + pgEpochDays
	if v >= math.MaxInt32 || v <= math.MinInt32 {
		return 0, false
	}
	return int32(v), true
}

// timestampToArrow converts microseconds since 2000 to microseconds since
// 1970; ±infinity (the extreme int64 values) stay the extremes. Instants
// past the year 294246, which Arrow's microseconds cannot hold, fail.
func timestampToArrow(us int64) (int64, bool) {
	if us == math.MaxInt64 || us == math.MinInt64 {
		return us, true
	}
	if us >= math.MaxInt64-pgEpochMicros {
		return 0, false
	}
	return us + pgEpochMicros, true
}

// appendUUID appends the 16 bytes of a uuid as 8-4-4-4-12 lower-case hex.
func appendUUID(dst *[36]byte, b []byte) {
	hex.Encode(dst[0:8], b[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], b[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], b[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], b[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:36], b[10:16])
}

// formatPGTime renders microseconds since 2000-01-01 as PostgreSQL reads
// a timestamp: "2026-01-02 03:04:05.000006", years before 1 as "... BC".
func formatPGTime(us int64) string {
	sec := us / 1e6
	frac := us % 1e6
	if frac < 0 {
		frac += 1e6
		sec--
	}
	t := time.Unix(sec+pgEpochMicros/1e6, 0).UTC()
	return formatYMD(t) + fmt.Sprintf(" %02d:%02d:%02d.%06d", t.Hour(), t.Minute(), t.Second(), frac) + era(t)
}

func formatPGDate(days int32) string {
	t := time.Unix((int64(days)+pgEpochDays)*86400, 0).UTC()
	return formatYMD(t) + era(t)
}

func formatYMD(t time.Time) string {
	y := t.Year()
	if y <= 0 {
		y = 1 - y // 1 BC is year 0 of the proleptic Gregorian calendar
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, int(t.Month()), t.Day())
}

func era(t time.Time) string {
	if t.Year() <= 0 {
		return " BC"
	}
	return ""
}

func formatPGClock(us int64) string {
	return fmt.Sprintf("%02d:%02d:%02d.%06d", us/3600e6, us/60e6%60, us/1e6%60, us%1e6)
}

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// literal renders a key value, in the binary form the COPY sent it, as a
// SQL literal of the column's order type: resume predicates cannot use
// bind parameters, since COPY takes none.
func (c *colPlan) literal(raw []byte) (string, error) {
	bad := func() (string, error) {
		return "", &decodeError{column: c.name, msg: fmt.Sprintf("malformed %s key value (%d bytes)", c.typeName, len(raw))}
	}
	cast := func(s string) (string, error) { return quoteLiteral(s) + "::" + c.baseName, nil }
	switch c.kind {
	case kindInt2:
		if len(raw) != 2 {
			return bad()
		}
		return cast(strconv.Itoa(int(int16(binary.BigEndian.Uint16(raw)))))
	case kindInt4:
		if len(raw) != 4 {
			return bad()
		}
		return cast(strconv.Itoa(int(int32(binary.BigEndian.Uint32(raw)))))
	case kindInt8:
		if len(raw) != 8 {
			return bad()
		}
		return cast(strconv.FormatInt(int64(binary.BigEndian.Uint64(raw)), 10))
	case kindFloat4:
		if len(raw) != 4 {
			return bad()
		}
		return cast(formatFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), 32))
	case kindFloat8:
		if len(raw) != 8 {
			return bad()
		}
		return cast(formatFloat(math.Float64frombits(binary.BigEndian.Uint64(raw)), 64))
	case kindNumeric128, kindNumericText:
		txt, err := appendNumericText(nil, raw)
		if err != nil {
			return bad()
		}
		return cast(string(txt))
	case kindBool:
		if len(raw) != 1 {
			return bad()
		}
		return cast(strconv.FormatBool(raw[0] != 0))
	case kindDate:
		if len(raw) != 4 {
			return bad()
		}
		switch d := int32(binary.BigEndian.Uint32(raw)); d {
		case math.MaxInt32:
			return cast("infinity")
		case math.MinInt32:
			return cast("-infinity")
		default:
			return cast(formatPGDate(d))
		}
	case kindTimestamp:
		if len(raw) != 8 {
			return bad()
		}
		zone := ""
		if ts, ok := c.field.Type.(*arrow.TimestampType); ok && ts.TimeZone != "" {
			zone = "+00"
		}
		switch us := int64(binary.BigEndian.Uint64(raw)); us {
		case math.MaxInt64:
			return cast("infinity")
		case math.MinInt64:
			return cast("-infinity")
		default:
			return cast(formatPGTime(us) + zone)
		}
	case kindTime:
		if len(raw) != 8 {
			return bad()
		}
		return cast(formatPGClock(int64(binary.BigEndian.Uint64(raw))))
	case kindUUID:
		if len(raw) != 16 {
			return bad()
		}
		var b [36]byte
		appendUUID(&b, raw)
		return cast(string(b[:]))
	case kindBytea:
		return cast(`\x` + hex.EncodeToString(raw))
	case kindText, kindBPChar:
		// Compared under COLLATE "C" with the column's expression; an
		// untyped literal takes its type (char ignores the pad). In UTF-8
		// order, compared as the UTF-8 bytes of the text (the pad of a
		// char dropped, as its cast to text does).
		if c.utf8Order {
			if c.kind == kindBPChar {
				raw = trimPad(raw)
			}
			return "pg_catalog.convert_to(" + quoteLiteral(string(raw)) + "::text, 'UTF8')", nil
		}
		return quoteLiteral(string(raw)), nil
	case kindOID:
		if len(raw) != 4 {
			return bad()
		}
		return cast(strconv.FormatUint(uint64(binary.BigEndian.Uint32(raw)), 10))
	case kindTID:
		if len(raw) != 6 {
			return bad()
		}
		return cast(fmt.Sprintf("(%d,%d)", binary.BigEndian.Uint32(raw), binary.BigEndian.Uint16(raw[4:])))
	}
	return "", fmt.Errorf("column %s (%s) cannot be a key", c.name, c.typeName)
}

// keyEqual reports whether two key values in binary form are equal in
// PostgreSQL's ordering (1.0 = 1.00, -0 = 0, NaN = NaN).
func (c *colPlan) keyEqual(a, b []byte) bool {
	switch c.kind {
	case kindNumeric128, kindNumericText:
		return numericKeyEqual(a, b)
	case kindBPChar:
		return string(trimPad(a)) == string(trimPad(b))
	case kindFloat4:
		if len(a) == 4 && len(b) == 4 {
			x, y := math.Float32frombits(binary.BigEndian.Uint32(a)), math.Float32frombits(binary.BigEndian.Uint32(b))
			return x == y || (x != x && y != y)
		}
	case kindFloat8:
		if len(a) == 8 && len(b) == 8 {
			x, y := math.Float64frombits(binary.BigEndian.Uint64(a)), math.Float64frombits(binary.BigEndian.Uint64(b))
			return x == y || (x != x && y != y)
		}
	}
	return string(a) == string(b)
}

// trimPad drops the trailing spaces of a char(n) value, as PostgreSQL's
// char → text cast does.
func trimPad(v []byte) []byte {
	// Eight spaces at a time: a char(84) of pgbench is mostly pad.
	const spaces = 0x2020202020202020
	for len(v) >= 8 && binary.LittleEndian.Uint64(v[len(v)-8:]) == spaces {
		v = v[:len(v)-8]
	}
	for len(v) > 0 && v[len(v)-1] == ' ' {
		v = v[:len(v)-1]
	}
	return v
}
