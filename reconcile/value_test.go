package reconcile

import (
	"math"
	"math/big"
	"testing"
	"time"
)

func TestValueAccessors(t *testing.T) {
	dec := func(unscaled int64, scale int32) Value { return AppendDecimal64(nil, unscaled, scale) }
	big20, _ := new(big.Int).SetString("-123456789012345678901234", 10)
	cases := []struct {
		name string
		v    Value
		text string // NumberText, "" when not a number
		rat  string // Rat's RatString, "" when not finite
	}{
		{"int", AppendInt(nil, -42), "-42", "-42"},
		{"decimal", dec(1050, 2), "10.5", "21/2"},
		{"small decimal", dec(7, 6), "0.000007", "7/1000000"},
		{"big decimal", AppendDecimal(nil, big20, 3), "-123456789012345678901.234", "-61728394506172839450617/500"},
		{"integral decimal", dec(1500, 2), "15", "15"},
		{"float", AppendFloat(nil, 0.1, 64), "0.1", "1/10"},
		{"large float", AppendFloat(nil, 1.5e300, 64), "1.5e300", ""},
		{"NaN", AppendFloat(nil, math.NaN(), 64), "NaN", ""},
		{"-Inf", AppendFloat(nil, math.Inf(-1), 64), "-Infinity", ""},
		{"text", AppendText(nil, "10"), "", ""},
		{"null", Null, "", ""},
	}
	for _, c := range cases {
		text, ok := c.v.NumberText()
		if text != c.text || ok != (c.text != "") {
			t.Errorf("%s: NumberText = %q, %v; want %q", c.name, text, ok, c.text)
		}
		r, ok := c.v.Rat()
		if c.rat == "" && c.name == "large float" {
			// exact, but a 301-digit integer: check it instead
			want, _ := new(big.Rat).SetString("1.5e300")
			if !ok || r.Cmp(want) != 0 {
				t.Errorf("%s: Rat = %v, %v", c.name, r, ok)
			}
			continue
		}
		if ok != (c.rat != "") || (ok && r.RatString() != c.rat) {
			t.Errorf("%s: Rat = %v, %v; want %q", c.name, r, ok, c.rat)
		}
	}

	if f, ok := Value(dec(1050, 2)).Float(); !ok || f != 10.5 {
		t.Errorf("Float = %v, %v", f, ok)
	}
	if f, ok := Value(AppendFloat(nil, math.NaN(), 64)).Float(); !ok || !math.IsNaN(f) {
		t.Errorf("Float(NaN) = %v, %v", f, ok)
	}
	if s, ok := Value(AppendText(nil, "Straße")).Text(); !ok || s != "Straße" {
		t.Errorf("Text = %q, %v", s, ok)
	}
	if b, ok := Value(AppendBinary(nil, []byte{0, 1, 2})).Binary(); !ok || len(b) != 3 || b[2] != 2 {
		t.Errorf("Binary = %v, %v", b, ok)
	}
	if b, ok := Value(AppendBool(nil, true)).Bool(); !ok || !b {
		t.Errorf("Bool = %v, %v", b, ok)
	}
	j, err := AppendJSON(nil, []byte(`{"b": 1, "a": [true]}`))
	if err != nil {
		t.Fatal(err)
	}
	if doc, ok := Value(j).JSON(); !ok || string(doc) != `{"a":[true],"b":1}` {
		t.Errorf("JSON = %s, %v", doc, ok)
	}
	at := time.Date(2026, 11, 26, 2, 0, 0, 123456000, time.UTC)
	if ts, ok := Value(AppendTimestamp(nil, at.UnixMicro())).Timestamp(); !ok || !ts.Equal(at) || ts.Location() != time.UTC {
		t.Errorf("Timestamp = %v, %v", ts, ok)
	}
	if d, ok := Value(AppendDate(nil, -1)).Date(); !ok || d.Format(time.DateOnly) != "1969-12-31" {
		t.Errorf("Date = %v, %v", d, ok)
	}
	if d, ok := Value(AppendTime(nil, 3_600_000_001)).TimeOfDay(); !ok || d != time.Hour+time.Microsecond {
		t.Errorf("TimeOfDay = %v, %v", d, ok)
	}

	// Wrong kinds, NULL and malformed bytes: false, never a panic.
	bad := []Value{nil, {}, Null, {tagInt, 1}, {tagText, 5, 'a'}, {tagNumber, 3, 'x', 'y', 'z'}, {tagTimestamp}, {tagDate, 1}}
	for _, v := range bad {
		_, ok1 := v.Int()
		_, ok2 := v.Rat()
		_, ok3 := v.Text()
		_, ok4 := v.Timestamp()
		_, ok5 := v.Date()
		_, ok6 := v.NumberText()
		_, ok7 := v.Binary()
		if ok1 || ok2 || ok3 || ok4 || ok5 || ok6 || ok7 {
			t.Errorf("%x: an accessor accepted it", []byte(v))
		}
	}
}

func TestCompare(t *testing.T) {
	num := func(f float64) Value { return AppendFloat(nil, f, 64) }
	cases := []struct {
		a, b Value
		want int
		ok   bool
	}{
		{AppendInt(nil, 1), AppendInt(nil, 2), -1, true},
		{AppendDecimal64(nil, 1001, 3), AppendInt(nil, 1), 1, true},
		{num(0.1), AppendDecimal64(nil, 1, 1), 0, true},
		{num(math.NaN()), num(math.Inf(1)), 1, true},
		{num(math.Inf(-1)), AppendInt(nil, math.MinInt64), -1, true},
		{AppendText(nil, "B"), AppendText(nil, "a"), -1, true},
		{AppendTimestamp(nil, 5), AppendTimestamp(nil, -5), 1, true},
		{AppendDate(nil, -3), AppendDate(nil, 2), -1, true},
		{AppendBool(nil, false), AppendBool(nil, true), -1, true},
		{AppendText(nil, "1"), AppendInt(nil, 1), 0, false},
		{Null, Null, 0, false},
	}
	for i, c := range cases {
		got, ok := Compare(c.a, c.b)
		if got != c.want || ok != c.ok {
			t.Errorf("case %d: Compare(%v, %v) = %d, %v; want %d, %v", i, c.a, c.b, got, ok, c.want, c.ok)
		}
	}
}
