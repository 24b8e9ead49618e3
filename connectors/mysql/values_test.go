package mysql

import (
	"database/sql/driver"
	"math"
	"math/big"
	"testing"
	"time"
)

func TestParseDecimal128(t *testing.T) {
	for _, c := range []struct {
		in    string
		scale int32
		want  string // the unscaled value; "" for an error
	}{
		{"0", 0, "0"},
		{"-12.340", 3, "-12340"},
		{"12.34", 3, "12340"},
		{"0.05", 2, "5"},
		{"-0.00", 2, "0"},
		{"99999999999999999999999999999999999999", 0, "99999999999999999999999999999999999999"},
		{"-9999999999999999999.9999999999999999999", 19, "-99999999999999999999999999999999999999"},
		{"123456789012345678901234567890123456789", 0, ""}, // 39 digits
		{"1.234", 2, ""},
		{"", 0, ""},
		{"-", 0, ""},
		{"1.2.3", 2, ""},
		{"1e5", 0, ""},
		{".", 0, ""},
	} {
		n, err := parseDecimal128([]byte(c.in), 38, c.scale)
		if c.want == "" {
			if err == nil {
				t.Errorf("parseDecimal128(%q) = %s, want an error", c.in, n.BigInt())
			}
			continue
		}
		if err != nil || n.BigInt().String() != c.want {
			t.Errorf("parseDecimal128(%q, %d) = %s, %v; want %s", c.in, c.scale, n.BigInt(), err, c.want)
		}
	}
}

func TestParseDates(t *testing.T) {
	day := func(s string) int32 {
		tm, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return int32(tm.Unix() / 86400)
	}
	for _, c := range []struct {
		in    string
		ok    bool
		valid bool
	}{
		{"1970-01-01", true, true},
		{"2024-02-29", true, true},
		{"2023-02-29", true, false},
		{"0000-00-00", true, false},
		{"2024-00-15", true, false},
		{"2024-01-00", true, false},
		{"0001-01-01", true, true},
		{"9999-12-31", true, true},
		{"1899-12-31", true, true},
		{"24-01-01", false, false},
		{"2024/01/01", false, false},
	} {
		d, valid, err := parseDate([]byte(c.in))
		if (err == nil) != c.ok || valid != c.valid {
			t.Errorf("parseDate(%q) = %d, %v, %v", c.in, d, valid, err)
			continue
		}
		if valid && d != day(c.in) {
			t.Errorf("parseDate(%q) = %d, want %d", c.in, d, day(c.in))
		}
	}
	for _, c := range []struct {
		in   string
		want string // RFC 3339; "invalid"; "" for an error
	}{
		{"2026-01-02 03:04:05", "2026-01-02T03:04:05Z"},
		{"2026-01-02 03:04:05.5", "2026-01-02T03:04:05.5Z"},
		{"2026-01-02 03:04:05.123456", "2026-01-02T03:04:05.123456Z"},
		{"1969-12-31 23:59:59.999999", "1969-12-31T23:59:59.999999Z"},
		{"0000-00-00 00:00:00", "invalid"},
		{"2024-00-15 10:00:00.000000", "invalid"},
		{"2026-01-02 03:04:05.1234567", ""},
		{"2026-01-02 03:04", ""},
		{"2026-01-02T03:04:05", ""},
	} {
		us, valid, err := parseDatetime([]byte(c.in))
		switch {
		case c.want == "":
			if err == nil {
				t.Errorf("parseDatetime(%q) = %d, %v; want an error", c.in, us, valid)
			}
		case c.want == "invalid":
			if err != nil || valid {
				t.Errorf("parseDatetime(%q) = %d, %v, %v; want invalid", c.in, us, valid, err)
			}
		default:
			got := time.UnixMicro(us).UTC().Format(time.RFC3339Nano)
			if err != nil || !valid || got != c.want {
				t.Errorf("parseDatetime(%q) = %s, %v, %v; want %s", c.in, got, valid, err, c.want)
			}
		}
	}
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"00:00:00", 0, true},
		{"12:34:56.5", (12*3600+34*60+56)*1e6 + 500000, true},
		{"-838:59:59.000000", -(838*3600 + 59*60 + 59) * 1e6, true},
		{"838:59:59", (838*3600 + 59*60 + 59) * 1e6, true},
		{"-00:00:01", -1e6, true},
		{"12:60:00", 0, false},
		{"1234", 0, false},
	} {
		got, err := parseTime([]byte(c.in))
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("parseTime(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestParseIntegers(t *testing.T) {
	if n, err := parseInt([]byte("-9223372036854775808")); err != nil || n != math.MinInt64 {
		t.Errorf("parseInt(min) = %d, %v", n, err)
	}
	if _, err := parseInt([]byte("9223372036854775808")); err == nil {
		t.Error("parseInt(max+1): no error")
	}
	if n, err := parseUint([]byte("18446744073709551615")); err != nil || n != math.MaxUint64 {
		t.Errorf("parseUint(max) = %d, %v", n, err)
	}
	if _, err := parseUint([]byte("18446744073709551616")); err == nil {
		t.Error("parseUint(max+1): no error")
	}
	if n, err := bitValue([]byte{0x01, 0x02}); err != nil || n != 258 {
		t.Errorf("bitValue = %d, %v", n, err)
	}
	if _, err := bitValue(make([]byte, 9)); err == nil {
		t.Error("bitValue of 9 bytes: no error")
	}
}

// FuzzParseDecimal128 checks the decimal parser against math/big.
func FuzzParseDecimal128(f *testing.F) {
	for _, s := range []string{"0", "-12.340", "0.05", "99999999999999999999999999999999999999", "1.2.3", "-", "00012.5"} {
		f.Add(s, int8(3))
	}
	f.Fuzz(func(t *testing.T, s string, scale int8) {
		sc := int32(scale)
		if sc < 0 || sc > 38 {
			return
		}
		n, err := parseDecimal128([]byte(s), 38, sc)
		if err != nil {
			return
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("parseDecimal128 accepted %q, which is no number", s)
		}
		want := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sc)), nil)))
		if !want.IsInt() || want.Num().Cmp(n.BigInt()) != 0 {
			t.Fatalf("parseDecimal128(%q, %d) = %s, want %s", s, sc, n.BigInt(), want.RatString())
		}
	})
}

// FuzzParseTemporal checks that the date and time parsers never panic and
// that what they accept as valid round-trips through package time.
func FuzzParseTemporal(f *testing.F) {
	for _, s := range []string{"2026-01-02 03:04:05.123456", "0000-00-00", "-838:59:59", "2024-02-29 00:00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if us, ok, err := parseDatetime([]byte(s)); err == nil && ok {
			got := time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.000000")
			if got[:19] != s[:19] {
				t.Fatalf("parseDatetime(%q) = %s", s, got)
			}
		}
		if d, ok, err := parseDate([]byte(s)); err == nil && ok {
			if got := time.Unix(int64(d)*86400, 0).UTC().Format("2006-01-02"); got != s {
				t.Fatalf("parseDate(%q) = %s", s, got)
			}
		}
		parseTime([]byte(s))
	})
}

// An empty text or binary key binds as the empty string, never as a nil
// []byte, which the driver sends as NULL and which would make a resumed
// read skip the rest of the key's run. A bigint unsigned beyond int64,
// which the binary protocol hands over as digits, renders as a number.
func TestKeyCellEmptyAndUnsigned(t *testing.T) {
	for _, k := range []kind{kindText, kindBinary} {
		var c keyCell
		c.set([]byte{})
		v, err := c.param(&colPlan{kind: k})
		if b, ok := v.([]byte); err != nil || !ok || b == nil || len(b) != 0 {
			t.Errorf("kind %v: param of an empty key = %#v, %v; want a non-nil empty []byte", k, v, err)
		}
	}
	v, _, err := boundOf([]*colPlan{{kind: kindBinary}}, []driver.Value{[]byte{}})
	if b, ok := v[0].([]byte); err != nil || !ok || b == nil {
		t.Errorf("boundOf(empty binary) = %#v, %v; want a non-nil empty []byte", v, err)
	}
	var c keyCell
	c.set([]byte("18446744073709551615"))
	cp := &colPlan{name: "k", kind: kindUint64}
	if got := c.render(cp); got != "18446744073709551615" {
		t.Errorf("render = %s, want the number unquoted", got)
	}
	if v, err := c.param(cp); err != nil || v != uint64(math.MaxUint64) {
		t.Errorf("param = %#v, %v; want uint64 max", v, err)
	}
}

// Resume values of DECIMAL keys are cast at full precision and the key's
// own scale (up to 38), and YEAR bounds from 1 to 1900 are written as
// 1901, which bounds the same rows in a comparison and in INTERVAL.
func TestKeyLiteralForms(t *testing.T) {
	cp, _ := mapResultColumn(resultColumn{name: "d", typeName: "DECIMAL", precision: 4, scale: 2})
	if cp.wrap != "CAST(? AS DECIMAL(65, 2))" {
		t.Errorf("decimal(4,2) wrap = %q", cp.wrap)
	}
	cp, _ = mapResultColumn(resultColumn{name: "d", typeName: "DECIMAL", precision: 65, scale: 38})
	if cp.wrap != "CAST(? AS DECIMAL(65, 38))" {
		t.Errorf("decimal(65,38) wrap = %q", cp.wrap)
	}
	for _, typ := range []string{"year", "year(4)"} {
		lit := literalFunc(&colPlan{name: "y", typeName: typ, kind: kindInt16})
		for in, want := range map[int64]string{0: "0", 1: "1901", 21: "1901", 1900: "1901", 1901: "1901", 2024: "2024"} {
			if got, err := lit(in); err != nil || got != want {
				t.Errorf("%s bound %d = %q, %v; want %s", typ, in, got, err, want)
			}
		}
	}
	if got, _ := literalFunc(&colPlan{name: "n", typeName: "smallint", kind: kindInt16})(int64(21)); got != "21" {
		t.Errorf("smallint bound 21 = %q", got)
	}
}
