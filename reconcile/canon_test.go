package reconcile

import (
	"encoding/json"
	"math"
	"math/big"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/float16"
)

func num(t *testing.T, s string) Value {
	t.Helper()
	b, ok := NumberFromText(nil, s)
	if !ok {
		t.Fatalf("NumberFromText(%q) failed", s)
	}
	return b
}

func TestCanonicalEquality(t *testing.T) {
	bigDec := func(unscaled string, scale int32) Value {
		v, _ := new(big.Int).SetString(unscaled, 10)
		return AppendDecimal(nil, v, scale)
	}
	cases := []struct {
		name string
		a, b Value
		eq   bool
	}{
		{"decimal trailing zero", num(t, "1.50"), num(t, "1.5"), true},
		{"negative zero", num(t, "-0"), AppendInt(nil, 0), true},
		{"negative zero float", AppendFloat(nil, math.Copysign(0, -1), 64), AppendInt(nil, 0), true},
		{"NaN equals NaN", AppendFloat(nil, math.NaN(), 64), num(t, "NaN"), true},
		{"Inf", AppendFloat(nil, math.Inf(1), 64), num(t, "Infinity"), true},
		{"-Inf vs Inf", AppendFloat(nil, math.Inf(-1), 64), num(t, "Inf"), false},
		{"float 0.71 = decimal 0.71", AppendFloat(nil, 0.71, 64), AppendDecimal64(nil, 71, 2), true},
		{"float32 0.1 = decimal 0.1", AppendFloat(nil, float64(float32(0.1)), 32), num(t, "0.1"), true},
		{"float64 0.1 != float32 0.1 widened", AppendFloat(nil, float64(float32(0.1)), 64), num(t, "0.1"), false},
		{"int = decimal with scale", AppendInt(nil, 10), AppendDecimal64(nil, 1000, 2), true},
		{"int = float", AppendInt(nil, 3), AppendFloat(nil, 3.0, 64), true},
		{"int = text number", AppendInt(nil, 123), num(t, "00123"), true},
		{"exponent", num(t, "1e3"), AppendInt(nil, 1000), true},
		{"big float", AppendFloat(nil, 1e20, 64), num(t, "100000000000000000000"), true},
		{"float 2^62 by shortest decimal", AppendFloat(nil, 1<<62, 64), num(t, "4.611686018427388e18"), true},
		{"float 2^53 exact", AppendFloat(nil, 1<<53, 64), AppendInt(nil, 1<<53), true},
		{"float16 0.1", appendFloat16(nil, float16.New(0.1)), num(t, "0.1"), true},
		{"big decimal", bigDec("123456789012345678901234567890", 0), num(t, "123456789012345678901234567890"), true},
		{"big decimal scale", bigDec("1234567890123456789012345", 5), num(t, "12345678901234567890.12345"), true},
		{"uint64 max", AppendUint(nil, math.MaxUint64), num(t, "18446744073709551615"), true},
		{"int64 min", AppendInt(nil, math.MinInt64), num(t, "-9223372036854775808"), true},
		{"1.5 vs 1.05", num(t, "1.5"), num(t, "1.05"), false},
		{"text exact", AppendText(nil, "a"), AppendText(nil, "A"), false},
		{"text trailing space", AppendText(nil, "a "), AppendText(nil, "a"), false},
		{"null vs empty", Null, AppendText(nil, ""), false},
		{"null vs null", AppendNull(nil), Null, true},
		{"text vs number", AppendText(nil, "1"), AppendInt(nil, 1), false},
		{"text vs binary", AppendText(nil, "x"), AppendBinary(nil, []byte("x")), false},
		{"bool", AppendBool(nil, true), AppendBool(nil, true), true},
		{"timestamp", AppendTimestamp(nil, toMicros(1_700_000_000_123_456_789, 3)), AppendTimestamp(nil, 1_700_000_000_123_456), true},
		{"date vs timestamp", AppendDate(nil, 1), AppendTimestamp(nil, 86400_000_000), false},
	}
	for _, c := range cases {
		if got := c.a.Equal(c.b); got != c.eq {
			t.Errorf("%s: Equal(%q, %q) = %v, want %v", c.name, c.a, c.b, got, c.eq)
		}
	}
}

func TestCanonicalJSON(t *testing.T) {
	a, err := AppendJSON(nil, []byte(`{"b": [1, 2.50, {"y":null,"x":true}], "a": "é"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := AppendJSON(nil, []byte(`{"a":"é","b":[1.0,2.5,{"x":true,"y":null}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !Value(a).Equal(b) {
		t.Fatalf("canonical JSON differs: %s vs %s", a, b)
	}
	if got, want := Value(a).String(), `{"a":"é","b":[1,2.5,{"x":true,"y":null}]}`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	if _, err := AppendJSON(nil, []byte(`{"a":`)); err == nil {
		t.Error("truncated JSON accepted")
	}
	if _, err := AppendJSON(nil, []byte(`1 2`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func TestSeparatorSafe(t *testing.T) {
	row := func(cells ...string) string {
		var b []byte
		for _, c := range cells {
			b = AppendText(b, c)
		}
		return string(b)
	}
	if row("a", "bc") == row("ab", "c") {
		t.Error("row encodings of (a,bc) and (ab,c) collide")
	}
	if row("", "x") == row("x", "") {
		t.Error("row encodings collide on empty cells")
	}
	var b []byte
	b = AppendNull(b)
	b = AppendText(b, "")
	b = AppendInt(b, 7)
	cells, err := SplitCells(b, nil)
	if err != nil || len(cells) != 3 || !cells[0].IsNull() || cells[1].Kind() != "text" || cells[2].String() != "7" {
		t.Fatalf("SplitCells = %v, %v", cells, err)
	}
	if _, err := SplitCells(b[:len(b)-1], nil); err == nil {
		t.Error("truncated row accepted")
	}
}

func TestValueRendering(t *testing.T) {
	cases := []struct {
		v          Value
		str, jsonS string
	}{
		{AppendInt(nil, -42), "-42", "-42"},
		{num(t, "10.50"), "10.5", "10.5"},
		{num(t, "0.000001"), "0.000001", "0.000001"},
		{num(t, "1e30"), "1e30", "1e30"},
		{AppendFloat(nil, math.NaN(), 64), "NaN", `"NaN"`},
		{AppendText(nil, `a"b`), `a"b`, `"a\"b"`},
		{Null, "NULL", "null"},
		{AppendBool(nil, false), "false", "false"},
		{AppendTimestamp(nil, 1_767_225_600_000_000), "2026-01-01T00:00:00Z", `"2026-01-01T00:00:00Z"`},
		{AppendTimestamp(nil, 1_767_225_600_000_010), "2026-01-01T00:00:00.00001Z", `"2026-01-01T00:00:00.00001Z"`},
		{AppendDate(nil, 20454), "2026-01-01", `"2026-01-01"`},
		{AppendBinary(nil, []byte{1, 255}), `\x01ff`, `"Af8="`},
	}
	for _, c := range cases {
		if got := c.v.String(); got != c.str {
			t.Errorf("String(%q) = %q, want %q", c.v, got, c.str)
		}
		j, err := json.Marshal(c.v)
		if err != nil || string(j) != c.jsonS {
			t.Errorf("MarshalJSON(%q) = %s, %v; want %s", c.v, j, err, c.jsonS)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	want := int64(1_767_225_600_000_000)
	for _, s := range []string{"2026-01-01T00:00:00Z", "2026-01-01 00:00:00", "2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00.0000001Z", "2026-01-01"} {
		got, ok := ParseTimestamp(s)
		if !ok || got != want {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	if _, ok := ParseTimestamp("yesterday"); ok {
		t.Error("ParseTimestamp accepted garbage")
	}
}

func FuzzNumberFromText(f *testing.F) {
	for _, s := range []string{"0", "-0", "1.50", "1e-5", "00123", "NaN", "-1.2E+30", ".5", "5.", "1e99999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, ok := NumberFromText(nil, s)
		if !ok {
			return
		}
		v := Value(b)
		if n := cellLen(b); n != len(b) {
			t.Fatalf("encoding of %q is not one complete cell: %q", s, b)
		}
		// Rendering and re-reading gives the same canonical value.
		back, ok := NumberFromText(nil, v.String())
		if !ok || !v.Equal(back) {
			t.Fatalf("%q → %q → %q → %q", s, b, v.String(), back)
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("MarshalJSON(%q): %v", s, err)
		}
	})
}

func FuzzSplitCells(f *testing.F) {
	f.Add([]byte{tagNull, tagInt, 0, 0, 0, 0, 0, 0, 0, 1, tagText, 1, 'x'})
	f.Add([]byte{tagText, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		cells, err := SplitCells(b, nil)
		if err != nil {
			return
		}
		total := 0
		for _, c := range cells {
			total += len(c)
			_ = c.String()
			if _, err := c.MarshalJSON(); err != nil {
				t.Fatal(err)
			}
		}
		if total != len(b) {
			t.Fatalf("cells cover %d of %d bytes", total, len(b))
		}
	})
}

func TestDecimal64FastPathMatchesGeneral(t *testing.T) {
	for _, c := range []struct {
		v     int64
		scale int32
	}{{1050, 2}, {-1050, 2}, {7, 3}, {-1, 18}, {123456789012345678, 9}, {10, 1}, {-100, 2}, {math.MaxInt64, 4}, {math.MinInt64 + 1, 2}} {
		fast := AppendDecimal64(nil, c.v, c.scale)
		general := AppendDecimal(nil, big.NewInt(c.v), c.scale)
		if !Value(fast).Equal(general) {
			t.Errorf("AppendDecimal64(%d, %d) = %q, general path %q", c.v, c.scale, fast, general)
		}
	}
}

func TestCompareKeysTotalOrderOnNumbers(t *testing.T) {
	// In the expected order.
	texts := []string{"-Inf", "-1e500", "-9223372036854775808", "-3", "-0.5", "0", "1e-500", "0.0001", "1.5", "1.51",
		"2", "9223372036854775807", "9223372036854775808", "1e20", "1e500", "Inf", "NaN"}
	var vals []Value
	for _, s := range texts {
		vals = append(vals, num(t, s))
	}
	for i := range vals {
		for j := range vals {
			got := compareKeys(vals[i], vals[j])
			want := cmp3(i < j, i > j)
			if got != want {
				t.Errorf("compareKeys(%s, %s) = %d, want %d", texts[i], texts[j], got, want)
			}
		}
	}
	// NULL sorts after everything, text byte-wise.
	if compareKeys(Null, AppendInt(nil, 1)) <= 0 || compareKeys(AppendText(nil, "B"), AppendText(nil, "a")) >= 0 {
		t.Error("NULL or text ordering wrong")
	}
}

func TestSchemaDrift(t *testing.T) {
	compared := SchemaDiff{TypeMismatch: []TypeMismatch{{Column: "joined", SourceType: "date32", TargetType: "utf8", Compared: true}}}
	if compared.Drifted() || compared.Empty() {
		t.Error("a type difference compared by logical value is reported but is not drift")
	}
	for _, s := range []SchemaDiff{
		{OnlyInSource: []string{"a"}},
		{OnlyInTarget: []string{"b"}},
		{TypeMismatch: []TypeMismatch{{Column: "flag", Compared: false}}},
	} {
		if !s.Drifted() {
			t.Errorf("%+v is drift", s)
		}
	}
	r := Result{Schema: compared}
	if !r.Consistent() {
		t.Error("no differences and only a compared type difference: not consistent")
	}
}
