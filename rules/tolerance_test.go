package rules

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/reconhq/reconcile/reconcile"
)

func tol(t *testing.T, m map[string]any) Tolerance {
	t.Helper()
	tl, err := ParseTolerance(m)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func TestToleranceEqual(t *testing.T) {
	abs := tol(t, map[string]any{"abs": 0.01})
	rel := tol(t, map[string]any{"rel": "0.001"})
	both := tol(t, map[string]any{"abs": 0.01, "rel": 0.001})
	skew := tol(t, map[string]any{"skew": "2s"})
	nan, _ := reconcile.NumberFromText(nil, "NaN")
	inf, _ := reconcile.NumberFromText(nil, "Infinity")
	day := func(d int32) reconcile.Value { return reconcile.AppendDate(nil, d) }
	tod := func(us int64) reconcile.Value { return reconcile.AppendTime(nil, us) }
	for _, tc := range []struct {
		name string
		t    Tolerance
		a, b reconcile.Value
		want bool
	}{
		{"abs within", abs, num(t, "10.00"), num(t, "10.01"), true},
		{"abs exact edge (0.01 is decimal, not float)", abs, num(t, "0.1"), num(t, "0.11"), true},
		{"abs beyond", abs, num(t, "10.00"), num(t, "10.011"), false},
		{"abs int vs decimal", abs, reconcile.AppendInt(nil, 5), num(t, "5.009"), true},
		{"rel within", rel, num(t, "1000"), num(t, "1001"), true},
		{"rel beyond", rel, num(t, "1000"), num(t, "1001.01"), false},
		{"rel of the larger magnitude", rel, num(t, "-1000"), num(t, "-999"), true},
		{"rel zero", rel, num(t, "0"), num(t, "0.000001"), false},
		{"either: abs", both, num(t, "0.001"), num(t, "0.011"), true},
		{"either: rel", both, num(t, "100000"), num(t, "100050"), true},
		{"either: neither", both, num(t, "100"), num(t, "100.5"), false},
		{"null null", abs, reconcile.Null, reconcile.Null, true},
		{"null value", abs, reconcile.Null, num(t, "0"), false},
		{"value null", skew, ts(t, "2026-01-01T00:00:00Z"), reconcile.Null, false},
		{"nan nan", abs, nan, nan, true},
		{"nan number", abs, nan, num(t, "1"), false},
		{"inf number", abs, inf, num(t, "1e300"), false},
		{"kinds differ", abs, num(t, "1"), text("1"), false},
		{"abs on text", abs, text("a"), text("b"), false},
		{"abs on times", abs, ts(t, "2026-01-01T00:00:00Z"), ts(t, "2026-01-01T00:00:00.001Z"), false},
		{"skew within", skew, ts(t, "2026-01-01T00:00:00Z"), ts(t, "2026-01-01T00:00:02Z"), true},
		{"skew within, other way", skew, ts(t, "2026-01-01T00:00:02Z"), ts(t, "2026-01-01T00:00:00Z"), true},
		{"skew beyond", skew, ts(t, "2026-01-01T00:00:00Z"), ts(t, "2026-01-01T00:00:02.000001Z"), false},
		{"skew far apart (no overflow)", skew, ts(t, "0001-01-01T00:00:00Z"), ts(t, "9999-01-01T00:00:00Z"), false},
		{"skew on dates", tol(t, map[string]any{"skew": "24h"}), day(10), day(11), true},
		{"skew on dates beyond", skew, day(10), day(11), false},
		{"skew on times", skew, tod(1e6), tod(3e6), true},
		{"skew on numbers", skew, num(t, "1"), num(t, "1.5"), false},
		{"zero tolerance", Tolerance{}, num(t, "1"), num(t, "1.0000001"), false},
		{"zero tolerance, equal", Tolerance{}, num(t, "1"), num(t, "1"), true},
		{"garbage", abs, reconcile.Value{}, reconcile.Value{'n', 200}, false},
	} {
		if got := tc.t.Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: Equal(%s, %s) = %v", tc.name, tc.a, tc.b, got)
		}
	}
	if s := both.String(); s != "abs 0.01 or rel 0.001" {
		t.Errorf("String = %q", s)
	}
}

func TestParseToleranceErrors(t *testing.T) {
	for _, tc := range []struct {
		m    map[string]any
		want string
	}{
		{map[string]any{}, "empty tolerance"},
		{map[string]any{"abs": -1}, "abs: want a finite number >= 0"},
		{map[string]any{"rel": "x"}, "rel: want a finite number"},
		{map[string]any{"skew": "2 parsecs"}, "skew: want a duration"},
		{map[string]any{"skew": "-1s"}, "skew: want a duration"},
		{map[string]any{"skew": 2}, "skew: want a duration"},
		{map[string]any{"abs": 1, "skew": "1s"}, "give one or the other"},
		{map[string]any{"absolute": 1}, `unknown tolerance "absolute"`},
		{map[string]any{"abs": "1e999999999"}, "want a finite number"},
		{map[string]any{"rel": "NaN"}, "want a finite number"},
	} {
		_, err := ParseTolerance(tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.m, err, tc.want)
		}
	}
}

func FuzzParseTolerance(f *testing.F) {
	for _, s := range []string{"{abs: 0.01}", "{rel: 0.001}", "{abs: 1, rel: 2}", "{skew: 2s}", "{abs: -1}", "{skew: 1h, abs: 1}", "{abs: 1e400}"} {
		f.Add(s, "1.5", "1.51")
	}
	f.Fuzz(func(t *testing.T, doc, a, b string) {
		var m map[string]any
		if yaml.Unmarshal([]byte(doc), &m) != nil {
			return
		}
		tl, err := ParseTolerance(m)
		if err != nil {
			return
		}
		_ = tl.String()
		va, oka := reconcile.NumberFromText(nil, a)
		vb, okb := reconcile.NumberFromText(nil, b)
		if oka && okb {
			if tl.Equal(va, vb) != tl.Equal(vb, va) {
				t.Fatalf("not symmetric: %s %s", a, b)
			}
		}
		if !tl.Equal(reconcile.Null, reconcile.Null) || tl.Equal(reconcile.Null, reconcile.AppendInt(nil, 0)) {
			t.Fatal("NULL handling")
		}
	})
}
