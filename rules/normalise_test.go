package rules

import (
	"math"
	"math/big"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"go.yaml.in/yaml/v3"

	"github.com/reconhq/reconcile/reconcile"
)

func mustChain(t *testing.T, items ...any) Chain {
	t.Helper()
	c, err := ParseChain(items)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func text(s string) reconcile.Value { return reconcile.AppendText(nil, s) }

func num(t *testing.T, s string) reconcile.Value {
	t.Helper()
	v, ok := reconcile.NumberFromText(nil, s)
	if !ok {
		t.Fatalf("number %q", s)
	}
	return v
}

func ts(t *testing.T, s string) reconcile.Value {
	t.Helper()
	us, ok := reconcile.ParseTimestamp(s)
	if !ok {
		t.Fatalf("timestamp %q", s)
	}
	return reconcile.AppendTimestamp(nil, us)
}

func TestTextNormalisers(t *testing.T) {
	alias := map[string]any{"alias": map[string]any{"US": []any{"USA", "United States"}, "GB": []any{"UK"}}}
	for _, tc := range []struct {
		chain []any
		in    reconcile.Value
		want  reconcile.Value
	}{
		{[]any{"trim"}, text("  a b \t\n"), text("a b")},
		{[]any{"lower"}, text("ÀBC"), text("àbc")},
		{[]any{"upper"}, text("straße"), text("STRAßE")}, // simple case mapping, code point by code point
		{[]any{"collapse_spaces"}, text(" a \t\n b  c "), text(" a b c ")},
		{[]any{"trim", "collapse_spaces"}, text(" a \t\n b  c "), text("a b c")},
		{[]any{"nfc"}, text("e\u0301"), text("\u00e9")},
		{[]any{"truncate(3)"}, text("héllo"), text("hél")},
		{[]any{map[string]any{"truncate": 60}}, text("short"), text("short")},
		{[]any{"truncate(2)"}, text("a\xffb"), text("a\xff")},
		{[]any{alias}, text("USA"), text("US")},
		{[]any{alias}, text("United States"), text("US")},
		{[]any{alias}, text("usa"), text("usa")},
		{[]any{"trim", "upper", alias}, text(" uk "), text("GB")},
		{[]any{"null_if_empty"}, text(""), reconcile.Null},
		{[]any{"trim", "null_if_empty"}, text("  "), reconcile.Null},
		{[]any{"null_if_empty"}, text("x"), text("x")},
		{[]any{"null_if_empty"}, reconcile.AppendBinary(nil, nil), reconcile.Null},
		{[]any{"lower"}, reconcile.Null, reconcile.Null},
	} {
		got, err := mustChain(t, tc.chain...).ApplyValue(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%v(%s) = %s, %v; want %s", tc.chain, tc.in, got, err, tc.want)
		}
	}
}

func TestRound(t *testing.T) {
	for _, tc := range []struct {
		n       int
		in, out string
	}{
		{2, "1.005", "1.01"}, {2, "-1.005", "-1.01"}, {0, "2.5", "3"}, {0, "-2.5", "-3"},
		{0, "0.4", "0"}, {0, "-0.4", "0"}, {2, "10", "10"}, {1, "1e-7", "0"}, {3, "123.4567", "123.457"},
		{2, "NaN", "NaN"}, {2, "Infinity", "Infinity"},
	} {
		c := mustChain(t, map[string]any{"round": tc.n})
		got, err := c.ApplyValue(num(t, tc.in))
		if err != nil || !got.Equal(num(t, tc.out)) {
			t.Errorf("round(%d) %s = %s, %v; want %s", tc.n, tc.in, got, err, tc.out)
		}
	}
	// Floats round their shortest decimal, not their binary value.
	if got := roundFloat(2.675, 2, 64); got != 2.68 {
		t.Errorf("roundFloat(2.675) = %v", got)
	}
	if got := roundFloat(-0.001, 2, 64); got != 0 || math.Signbit(got) {
		t.Errorf("roundFloat(-0.001) = %v", got)
	}
	if _, err := mustChain(t, "round(2)").ApplyValue(text("abc")); err == nil {
		t.Error("round of non-numeric text: no error")
	}
	if got, err := mustChain(t, "round(1)").ApplyValue(text("2.25")); err != nil || !got.Equal(text("2.3")) {
		t.Errorf("round of decimal text = %s, %v", got, err)
	}
}

func TestTimeNormalisers(t *testing.T) {
	paris := map[string]any{"time_zone": "Europe/Paris"}
	for _, tc := range []struct {
		chain   []any
		in, out reconcile.Value
	}{
		{[]any{paris}, ts(t, "2026-07-01T12:00:00"), ts(t, "2026-07-01T10:00:00Z")},
		{[]any{paris}, ts(t, "2026-01-01T00:30:00"), ts(t, "2025-12-31T23:30:00Z")},
		{[]any{"truncate_time(minute)"}, ts(t, "2026-07-01T12:34:56.789Z"), ts(t, "2026-07-01T12:34:00Z")},
		{[]any{"truncate_time(day)"}, ts(t, "1969-12-31T23:59:59.5Z"), ts(t, "1969-12-31T00:00:00Z")},
		{[]any{"truncate_time(millisecond)"}, ts(t, "2026-07-01T12:34:56.789123Z"), ts(t, "2026-07-01T12:34:56.789Z")},
		{[]any{"truncate_time(hour)"}, reconcile.AppendTime(nil, (3*3600+25*60)*1e6), reconcile.AppendTime(nil, 3*3600*1e6)},
		{[]any{"truncate_time(day)"}, reconcile.AppendDate(nil, 100), reconcile.AppendDate(nil, 100)},
	} {
		got, err := mustChain(t, tc.chain...).ApplyValue(tc.in)
		if err != nil || !got.Equal(tc.out) {
			t.Errorf("%v(%s) = %s, %v; want %s", tc.chain, tc.in, got, err, tc.out)
		}
	}
	// A zoned timestamp is an instant already.
	zoned := arrow.Field{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}}
	in := ts(t, "2026-07-01T12:00:00Z")
	if got, err := mustChain(t, paris).ApplyValueFor(zoned, in); err != nil || !got.Equal(in) {
		t.Errorf("time_zone on a zoned value = %s, %v", got, err)
	}
}

func TestTypeMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ib := array.NewInt64Builder(mem)
	ib.AppendValues([]int64{1, 2}, nil)
	ints := ib.NewArray()
	ib.Release()
	defer ints.Release()
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"a", "b"}, nil)
	strs := sb.NewArray()
	sb.Release()
	defer strs.Release()
	for _, tc := range []struct {
		chain []any
		arr   arrow.Array
		want  string
	}{
		{[]any{"trim"}, ints, "trim does not apply to a int64 column"},
		{[]any{"lower", "truncate_time(day)"}, strs, "truncate_time(day) does not apply to a utf8 column"},
		{[]any{map[string]any{"time_zone": "UTC"}}, ints, "time_zone(UTC) does not apply to a int64 column"},
		{[]any{"round(1)"}, strs, `"a" is not a number`},
	} {
		out, err := mustChain(t, tc.chain...).Apply(tc.arr, mem)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.chain, err, tc.want)
		}
		if out != nil {
			out.Release()
		}
	}
	for _, tc := range []struct {
		chain []any
		v     reconcile.Value
	}{
		{[]any{"trim"}, reconcile.AppendInt(nil, 1)},
		{[]any{"round(1)"}, ts(t, "2026-01-01")},
		{[]any{"time_zone(UTC)"}, reconcile.AppendDate(nil, 1)},
		{[]any{"truncate_time(hour)"}, reconcile.AppendDate(nil, 1)},
		{[]any{"lower"}, reconcile.AppendBinary(nil, []byte("x"))},
	} {
		if _, err := mustChain(t, tc.chain...).ApplyValue(tc.v); err == nil {
			t.Errorf("%v on %s: no error", tc.chain, tc.v)
		}
	}
}

func TestParseChainErrors(t *testing.T) {
	for _, tc := range []struct {
		items []any
		want  string
	}{
		{[]any{"trim", "shout"}, `normaliser 1: unknown normaliser "shout"`},
		{[]any{"round"}, `"round" needs an argument`},
		{[]any{"round(x)"}, "round(x): want decimal places"},
		{[]any{"round(-1)"}, "round(-1)"},
		{[]any{"truncate(0)"}, "truncate(0)"},
		{[]any{"truncate(3"}, "missing closing parenthesis"},
		{[]any{map[string]any{"round": 2, "trim": 1}}, "exactly one key"},
		{[]any{map[string]any{"round": 2.5}}, "want a whole number"},
		{[]any{map[string]any{"time_zone": "Mars/Base"}}, "unknown zone"},
		{[]any{map[string]any{"time_zone": "Local"}}, "IANA zone"},
		{[]any{map[string]any{"truncate_time": "week"}}, "truncate_time(week)"},
		{[]any{map[string]any{"alias": []any{"x"}}}, "alias: want a map"},
		{[]any{map[string]any{"alias": map[string]any{"A": []any{"x"}, "B": []any{"x"}}}}, "maps to both"},
		{[]any{map[string]any{"alias": map[string]any{"A": nil}}}, "no variants"},
		{[]any{nil}, "empty item"},
		{[]any{42}, "want a name or a map"},
	} {
		_, err := ParseChain(tc.items)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "accepted:") {
			t.Errorf("%v: %v, want %q", tc.items, err, tc.want)
		}
	}
	// Every problem at once.
	_, err := ParseChain([]any{"a", "trim", "b"})
	if err == nil || !strings.Contains(err.Error(), "normaliser 0") || !strings.Contains(err.Error(), "normaliser 2") {
		t.Errorf("two problems: %v", err)
	}
	c := mustChain(t, "trim", "round(2)", map[string]any{"alias": map[string]any{"US": []any{"USA"}}}, map[string]any{"truncate_time": "day"})
	if got := c.String(); got != "trim, round(2), alias{US: [USA]}, truncate_time(day)" {
		t.Errorf("String = %q", got)
	}
}

// Apply and ApplyValueFor agree, over generated columns of every type a
// normaliser applies to, and Apply leaves its input alone.
func TestApplyAgreesWithApplyValue(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewSource(7))
	words := []string{"", " ", "USA", " usa ", "United  States", "e\u0301t\u00e9", "Straße", "ÀB", "1.005", "-2.5", "x\ty", "UK"}
	textChains := [][]any{{"trim"}, {"lower"}, {"upper"}, {"collapse_spaces"}, {"nfc"}, {"truncate(2)"}, {"null_if_empty"},
		{"trim", "lower", map[string]any{"alias": map[string]any{"US": []any{"usa", "united states"}}}}, {"trim", "collapse_spaces", "null_if_empty"}}
	numbers := []string{"1.005", "-1.005", "2.5", "-0.5", "123456.789", "0", "1e-9", "NaN", "9999.995"}
	zones := []string{"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"}
	units := []string{"second", "millisecond", "minute", "hour", "day"}

	check := func(name string, c Chain, field arrow.Field, arr arrow.Array) {
		t.Helper()
		before := encodeColumn(t, field, arr)
		out, err := c.Apply(arr, mem)
		if err != nil {
			t.Fatalf("%s %s: %v", name, c, err)
		}
		defer out.Release()
		if after := encodeColumn(t, field, arr); !equalValues(before, after) {
			t.Fatalf("%s %s: Apply changed its input", name, c)
		}
		outField := arrow.Field{Name: field.Name, Type: out.DataType(), Nullable: true, Metadata: field.Metadata}
		got := encodeColumn(t, outField, out)
		for i, v := range before {
			want, err := c.ApplyValueFor(field, v)
			if err != nil {
				t.Fatalf("%s %s: value %s: %v", name, c, v, err)
			}
			if !want.Equal(got[i]) {
				t.Errorf("%s %s: row %d (%s): Apply %s, ApplyValueFor %s", name, c, i, v, got[i], want)
			}
		}
	}
	for round := 0; round < 20; round++ {
		// text
		sb := array.NewStringBuilder(mem)
		for i := 0; i < 30; i++ {
			if rng.Intn(8) == 0 {
				sb.AppendNull()
			} else {
				sb.Append(words[rng.Intn(len(words))])
			}
		}
		strs := sb.NewArray()
		sb.Release()
		check("string", mustChain(t, textChains[rng.Intn(len(textChains))]...), arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}, strs)
		strs.Release()

		// numbers: float64, float32, decimal128, decimal text
		n := rng.Intn(4)
		c := mustChain(t, map[string]any{"round": n})
		fb := array.NewFloat64Builder(mem)
		f32 := array.NewFloat32Builder(mem)
		dt := &arrow.Decimal128Type{Precision: 20, Scale: 4}
		db := array.NewDecimal128Builder(mem, dt)
		tb := array.NewStringBuilder(mem)
		for i := 0; i < 30; i++ {
			s := numbers[rng.Intn(len(numbers))]
			if rng.Intn(8) == 0 {
				fb.AppendNull()
				f32.AppendNull()
				db.AppendNull()
				tb.AppendNull()
				continue
			}
			f := rng.NormFloat64() * math.Pow(10, float64(rng.Intn(6)))
			if rng.Intn(3) == 0 {
				f = parseF(s)
			}
			fb.Append(f)
			f32.Append(float32(f))
			db.Append(decimal128.FromI64(int64(rng.Intn(2_000_000) - 1_000_000)))
			tb.Append(s)
		}
		for _, b := range []array.Builder{fb, f32, db, tb} {
			arr := b.NewArray()
			b.Release()
			f := arrow.Field{Name: "n", Type: arr.DataType(), Nullable: true}
			if arr.DataType().ID() == arrow.STRING {
				f.Metadata = arrow.NewMetadata([]string{"reconcile.logical"}, []string{"decimal"})
			}
			check("number", c, f, arr)
			arr.Release()
		}

		// timestamps with and without zone, times
		var chain []any
		if rng.Intn(2) == 0 {
			chain = append(chain, map[string]any{"time_zone": zones[rng.Intn(len(zones))]})
		}
		chain = append(chain, map[string]any{"truncate_time": units[rng.Intn(len(units))]})
		tc := mustChain(t, chain...)
		for _, typ := range []arrow.DataType{
			&arrow.TimestampType{Unit: arrow.Microsecond}, &arrow.TimestampType{Unit: arrow.Nanosecond},
			&arrow.TimestampType{Unit: arrow.Second}, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"},
		} {
			b := array.NewTimestampBuilder(mem, typ.(*arrow.TimestampType))
			per := unitNanos(typ.(*arrow.TimestampType).Unit)
			for i := 0; i < 30; i++ {
				if rng.Intn(8) == 0 {
					b.AppendNull()
					continue
				}
				ns := rng.Int63n(4e18) - 2e18
				b.Append(arrow.Timestamp(ns / per))
			}
			arr := b.NewArray()
			b.Release()
			check("timestamp", tc, arrow.Field{Name: "t", Type: typ, Nullable: true}, arr)
			arr.Release()
		}
		tb64 := array.NewTime64Builder(mem, &arrow.Time64Type{Unit: arrow.Nanosecond})
		for i := 0; i < 30; i++ {
			tb64.Append(arrow.Time64(rng.Int63n(86400e9)))
		}
		arr := tb64.NewArray()
		tb64.Release()
		check("time", mustChain(t, map[string]any{"truncate_time": units[rng.Intn(len(units))]}), arrow.Field{Name: "h", Type: arr.DataType()}, arr)
		arr.Release()
	}
}

func parseF(s string) float64 {
	f, err := new(big.Float).SetPrec(64).SetString(s)
	if !err {
		return math.NaN()
	}
	x, _ := f.Float64()
	return x
}

func encodeColumn(t *testing.T, f arrow.Field, arr arrow.Array) []reconcile.Value {
	t.Helper()
	rec := array.NewRecord(arrow.NewSchema([]arrow.Field{f}, nil), []arrow.Array{arr}, int64(arr.Len()))
	defer rec.Release()
	out := make([]reconcile.Value, arr.Len())
	for i := range out {
		b, err := reconcile.AppendRow(nil, rec, i)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func equalValues(a, b []reconcile.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func TestApplyEmptyChainAndDecimals(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dt := &arrow.Decimal128Type{Precision: 10, Scale: 3}
	b := array.NewDecimal128Builder(mem, dt)
	b.AppendValues([]decimal128.Num{decimal128.FromI64(1005), decimal128.FromI64(-1005), decimal128.FromI64(1004)}, nil)
	b.AppendNull()
	arr := b.NewArray()
	b.Release()
	defer arr.Release()
	out, err := Chain(nil).Apply(arr, mem)
	if err != nil || out.Len() != 4 {
		t.Fatal(err)
	}
	out.Release()
	out, err = mustChain(t, "round(2)").Apply(arr, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	d := out.(*array.Decimal128)
	want := []int64{1010, -1010, 1000}
	for i, w := range want {
		if d.Value(i) != decimal128.FromI64(w) {
			t.Errorf("row %d: %v, want %d", i, d.Value(i).BigInt(), w)
		}
	}
	if !d.IsNull(3) || !arrow.TypeEqual(d.DataType(), dt) {
		t.Errorf("null or type lost: %v", d.DataType())
	}
}

func FuzzParseChain(f *testing.F) {
	for _, s := range []string{
		"[trim, lower]", "[round(2), truncate(60)]", "[{alias: {US: [USA, United States], GB: [UK]}}]",
		"[{time_zone: Europe/Paris}, {truncate_time: minute}]", "[{round: 2}]", "[null_if_empty, nfc, collapse_spaces, upper]",
		"[{round: [1]}]", "[round(]", "[{alias: {a: {b: c}}}]",
	} {
		f.Add(s, "a Straße  USA 1.005")
	}
	f.Fuzz(func(t *testing.T, doc, value string) {
		var items []any
		if yaml.Unmarshal([]byte(doc), &items) != nil {
			return
		}
		c, err := ParseChain(items)
		if err != nil {
			if c != nil {
				t.Fatal("chain with an error")
			}
			return
		}
		_ = c.String()
		for _, v := range []reconcile.Value{text(value), reconcile.Value(value), reconcile.AppendInt(nil, 3), reconcile.Null, reconcile.AppendTimestamp(nil, 1e15)} {
			c.ApplyValue(v) // never panics
		}
		_ = time.Second
	})
}
