package file

import (
	"context"
	"fmt"
	"math/big"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseDateMatchesTime(t *testing.T) {
	for _, y := range []int{0, 1, 4, 100, 400, 1600, 1899, 1900, 1969, 1970, 1999, 2000, 2023, 2024, 2100, 2400, 9999} {
		for m := 1; m <= 12; m++ {
			for d := 1; d <= 31; d++ {
				s := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
				tm := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
				valid := tm.Day() == d
				got, ok := parseDate([]byte(s))
				if ok != valid {
					t.Fatalf("%s: ok=%v, want %v", s, ok, valid)
				}
				if ok && int64(got) != tm.Unix()/86400 && !(tm.Unix() < 0 && int64(got) == (tm.Unix()-86399)/86400) {
					t.Fatalf("%s: %d days, want %d", s, got, tm.Unix()/86400)
				}
			}
		}
	}
	for _, bad := range []string{"2024-1-01", "2024/01/01", "2024-00-10", "2024-13-01", "2024-01-00", "2024-01-32", "２０２４-01-01", "2024-01-01 ", "+024-01-01"} {
		if _, ok := parseDate([]byte(bad)); ok {
			t.Errorf("%q parsed as a date", bad)
		}
	}
}

func TestParseTimestampMatchesTime(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 2000; i++ {
		sec := rng.Int63n(400*365*86400) - 200*365*86400
		nsec := rng.Int63n(1e9)
		tm := time.Unix(sec, nsec).UTC()
		off := (rng.Intn(48) - 24) * 30 * 60
		zone := time.FixedZone("", off)
		layouts := []string{
			"2006-01-02T15:04:05.999999999Z07:00",
			"2006-01-02 15:04:05.000000-0700",
			"2006-01-02T15:04:05",
			"2006-01-02 15:04:05.000",
		}
		layout := layouts[i%len(layouts)]
		s := tm.In(zone).Format(layout)
		want, err := time.Parse(layout, s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(layout, "07") {
			want = time.Date(want.Year(), want.Month(), want.Day(), want.Hour(), want.Minute(), want.Second(), want.Nanosecond(), time.UTC)
		}
		got, ok := parseTimestamp([]byte(s))
		if !ok {
			t.Fatalf("%q did not parse", s)
		}
		// microseconds, truncated toward the past
		wantUS := want.Unix()*1e6 + int64(want.Nanosecond()/1000)
		if got != wantUS {
			t.Fatalf("%q: %d, want %d", s, got, wantUS)
		}
	}
	for _, bad := range []string{
		"2024-01-01T24:00:00", "2024-01-01T23:60:00", "2024-01-01T23:00:60", "2024-01-01T23:00",
		"2024-01-01T23:00:00.", "2024-01-01T23:00:00+1", "2024-01-01T23:00:00+01:0", "2024-01-01T23:00:00ZZ",
		"2024-01-01X23:00:00", "2024-01-01T23:00:00 +01:00", "2024-01-01T23:00:00+24:00",
	} {
		if _, ok := parseTimestamp([]byte(bad)); ok {
			t.Errorf("%q parsed as a timestamp", bad)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in       string
		scale    int32
		allowExp bool
		want     string // unscaled, "" for an error
	}{
		{"1.5", 2, false, "150"},
		{"-0.05", 2, false, "-5"},
		{"12", 3, false, "12000"},
		{"1.50", 1, false, "15"},
		{"1.55", 1, false, ""},
		{"99999999999999999999999999999999999999", 0, false, "99999999999999999999999999999999999999"},
		{"999999999999999999999999999999999999999", 0, false, ""},
		{"9999999999999999999999999999999999999", 1, false, "99999999999999999999999999999999999990"},
		{"9999999999999999999999999999999999999", 2, false, ""},
		{"0.00000000000000000000000000000000000001", 38, false, "1"},
		{"-170141183460469231731687303715884105727", 0, false, ""},
		{"1.5e3", 0, true, "1500"},
		{"1.5e3", 0, false, ""},
		{"25e-1", 1, true, "25"},
		{"1e-1", 0, true, ""},
		{"0e99999", 0, true, "0"},
		{"+7", 0, false, "7"},
		{"", 0, false, ""},
		{"-", 0, false, ""},
		{".", 0, false, ""},
		{"1..2", 2, false, ""},
		{"1e", 0, true, ""},
		{"0.000", 1, false, "0"},
	}
	for _, tc := range tests {
		got, ok := parseDecimal([]byte(tc.in), tc.scale, tc.allowExp)
		if !ok {
			if tc.want != "" {
				t.Errorf("%q at scale %d: error, want %s", tc.in, tc.scale, tc.want)
			}
			continue
		}
		if tc.want == "" {
			t.Errorf("%q at scale %d: %s, want an error", tc.in, tc.scale, got.BigInt())
			continue
		}
		if got.BigInt().String() != tc.want {
			t.Errorf("%q at scale %d: %s, want %s", tc.in, tc.scale, got.BigInt(), tc.want)
		}
	}
	// random decimals against math/big
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 5000; i++ {
		intDigits, frac := rng.Intn(20), rng.Intn(18)
		s := randDigits(rng, intDigits+1)
		if frac > 0 {
			s += "." + randDigits(rng, frac)
		}
		if rng.Intn(2) == 0 {
			s = "-" + s
		}
		scale := int32(frac + rng.Intn(3))
		got, ok := parseDecimal([]byte(s), scale, false)
		r, _ := new(big.Rat).SetString(s)
		want := new(big.Int).Mul(r.Num(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
		want.Quo(want, r.Denom())
		fits := len(strings.TrimLeft(strings.TrimPrefix(want.String(), "-"), "0")) <= 38
		if ok != fits || (ok && got.BigInt().Cmp(want) != 0) {
			t.Fatalf("%q at scale %d: %v %v, want %v", s, scale, got.BigInt(), ok, want)
		}
	}
}

func randDigits(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.Intn(10))
	}
	s := strings.TrimLeft(string(b), "0")
	if s == "" || s[0] == '.' {
		s = "0" + s
	}
	return s
}

func TestDecimalShape(t *testing.T) {
	tests := []struct {
		in                   string
		intDigits, scale, sg int
		ok                   bool
	}{
		{"12.50", 2, 2, 3, true},
		{"0.05", 0, 2, 1, true},
		{"1.5e3", 4, 0, 2, true},
		{"15e-1", 1, 1, 2, true},
		{"100e-1", 2, 0, 1, true},
		{"1e30", 31, 0, 1, true},
		{"1e40", 41, 0, 1, false},
		{"1e-40", 0, 40, 1, false},
		{"-0.0", 0, 1, 0, true},
	}
	for _, tc := range tests {
		s := decimalShape([]byte(tc.in))
		if s.intDigits != tc.intDigits || s.scale != tc.scale || s.sig != tc.sg || s.ok != tc.ok {
			t.Errorf("%q: %+v, want int %d scale %d sig %d ok %v", tc.in, s, tc.intDigits, tc.scale, tc.sg, tc.ok)
		}
	}
}

func TestFloatRoundTrips(t *testing.T) {
	for in, want := range map[string]bool{
		"1e5": true, "2.5E-3": true, "0.1": true, "1e400": false, "1e-400": false, "NaN": true, "-Inf": true,
		"1.00000000000000000001e5": false, "9007199254740993": false, "9007199254740992": true,
		"0.30000000000000004": true, "0.3000000000000000444": false, "-0e0": true,
	} {
		if got := floatRoundTrips([]byte(in)); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "0", "+5": "5", "007": "7", "9223372036854775807": "9223372036854775807",
		"-9223372036854775808": "-9223372036854775808", "9223372036854775808": "", "-9223372036854775809": "",
		"0000000000000000000000001": "1", "": "", "-": "", "1.0": "", "1e3": "", "١": "",
	} {
		v, ok := parseInt([]byte(in))
		got := ""
		if ok {
			got = strconv.FormatInt(v, 10)
		}
		if got != want {
			t.Errorf("parseInt(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]bool{"0": true, "-0": true, "+5": false, "007": false, "12345678901234567890": false, "-9223372036854775808": true} {
		if _, ok := parseCanonicalInt([]byte(in)); ok != want {
			t.Errorf("parseCanonicalInt(%q) ok=%v, want %v", in, ok, want)
		}
	}
}

// TestObserveColumnMatchesClassify checks that the per-type fast loops of
// the inference pass reach the same conclusions as classifying each value
// on its own.
func TestObserveColumnMatchesClassify(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	pool := []string{
		"0", "-0", "7", "-12", "00123", "123456789012345", "1234567890123456", "9007199254740993",
		"12345678901234567890", "1.5", "-0.25", "0.0", "10.000", "1.", ".5", "-.5", "1.2.3",
		"123456789012345.6", "0.1234567890123456789", "1e5", "NaN", "-inf", "true", "FALSE",
		"2024-01-02", "2024-02-30", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05.123+01:00", "", "x", "-", "+1",
	}
	for iter := 0; iter < 3000; iter++ {
		n := 1 + rng.Intn(6)
		// mostly one kind, sometimes mixed
		base := rng.Intn(len(pool))
		values := make([]string, n)
		for i := range values {
			if rng.Intn(4) == 0 {
				values[i] = pool[rng.Intn(len(pool))]
			} else {
				values[i] = pool[(base+rng.Intn(2))%len(pool)]
			}
		}
		var ref colStats
		for _, v := range values {
			ref.seen |= ref.classify([]byte(v))
		}
		content := "v\n" + strings.Join(quoteAll(values), "\n") + "\n"
		sc := newCSVScanner(context.Background(), strings.NewReader(content), "x.csv", ',', 64)
		sc.readHeader()
		var got colStats
		// one value per chunk and all values in one chunk both must agree
		for rows := sc.nextChunk(chunkRows, 1); rows > 0; rows = sc.nextChunk(chunkRows, 1) {
			got.observeColumn(sc, 0, 1, rows, nullMatcher{}, true)
		}
		if ref.resolve() != got.resolve() || (ref.resolve().kind != kText && (ref.maxScale != got.maxScale || ref.maxInt != got.maxInt || ref.inexact != got.inexact)) {
			t.Fatalf("values %q: classify gives %v %+v, observeColumn %v %+v", values, ref.resolve(), ref, got.resolve(), got)
		}
	}
}

func quoteAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = `"` + v + `"`
	}
	return out
}
