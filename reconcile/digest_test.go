package reconcile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/cespare/xxhash/v2"

	"github.com/reconhq/reconcile/connectors"
)

func TestHashSpecialisationsMatchXXHash(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := []uint64{0, 1, math.MaxUint64, 1 << 63, 0xff, 0x0102030405060708}
	for range 1000 {
		vals = append(vals, r.Uint64())
	}
	for _, v := range vals {
		for _, tag := range []byte{tagInt, tagTimestamp, tagTime, 0, 0xff} {
			b := []byte{tag, 0, 0, 0, 0, 0, 0, 0, 0}
			for k := range 8 {
				b[1+k] = byte(v >> (56 - 8*k))
			}
			if got, want := hash9(tag, v), xxhash.Sum64(b); got != want {
				t.Fatalf("hash9(%q, %#x) = %#x, want %#x", tag, v, got, want)
			}
			v32 := uint32(v)
			b5 := []byte{tag, byte(v32 >> 24), byte(v32 >> 16), byte(v32 >> 8), byte(v32)}
			if got, want := hash5(tag, v32), xxhash.Sum64(b5); got != want {
				t.Fatalf("hash5(%q, %#x) = %#x, want %#x", tag, v32, got, want)
			}
		}
	}
}

func TestHashTaggedMatchesXXHash(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 300; n++ {
		for range 20 {
			v := make([]byte, n)
			for i := range v {
				v[i] = byte(r.Uint32())
			}
			for _, tag := range []byte{tagText, tagBinary, 0, 0xff} {
				want := xxhash.Sum64(appendLen(nil, tag, v))
				if got := hashBytes(tag, v); got != want {
					t.Fatalf("hashBytes(%q, %d bytes) = %#x, want %#x", tag, n, got, want)
				}
				if got := hashBytes(tag, string(v)); got != want {
					t.Fatalf("hashBytes(%q, string of %d bytes) = %#x, want %#x", tag, n, got, want)
				}
			}
		}
	}
}

func TestDigestDecimal64MatchesEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	vals := []int64{0, 1, -1, 10, -10, 100, 123, -123, 1000000, math.MaxInt64, math.MinInt64, math.MinInt64 + 1, 999999999999999999, 1e18}
	for range 5000 {
		v := r.Int64() >> r.IntN(63)
		if r.IntN(2) == 0 {
			v = -v
		}
		vals = append(vals, v, v/1000*1000)
	}
	for _, v := range vals {
		for scale := int32(-3); scale <= 22; scale++ {
			want := xxhash.Sum64(AppendDecimal64(nil, v, scale))
			if got := digestDecimal64(v, scale); got != want {
				t.Fatalf("digestDecimal64(%d, %d) = %#x, want %#x (encoding %q)", v, scale, got, want, AppendDecimal64(nil, v, scale))
			}
		}
	}
}

func TestDigits8(t *testing.T) {
	check := func(x uint64) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], digits8(x))
		if want := fmt.Sprintf("%08d", x); string(b[:]) != want {
			t.Fatalf("digits8(%d) = %q, want %q", x, b[:], want)
		}
	}
	for x := uint64(0); x < 1e8; x += 997 {
		check(x)
	}
	for _, x := range []uint64{1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 99999, 100000, 9999999, 10000000, 99999999} {
		check(x)
	}
}

// digestDecimals, which hashes the texts of a batch together, gives the
// digests of the encodings for every kind of value: integral, 64-bit
// fractions of every exponent, 128-bit values, scales outside 1-18.
func TestDigestDecimalsMatchesEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	vals := []decimal128.Num{
		decimal128.FromI64(0), decimal128.FromI64(1), decimal128.FromI64(-1),
		decimal128.FromI64(math.MaxInt64), decimal128.FromI64(math.MinInt64),
		decimal128.FromI64(math.MinInt64 + 1), decimal128.FromI64(1e18),
		decimal128.FromU64(math.MaxUint64), decimal128.New(1, 0), decimal128.New(-2, 5),
	}
	for range 3000 {
		v := r.Int64() >> r.IntN(63)
		if r.IntN(2) == 0 {
			v = -v
		}
		vals = append(vals, decimal128.FromI64(v), decimal128.FromI64(v/1000*1000))
		if r.IntN(10) == 0 {
			vals = append(vals, decimal128.New(r.Int64N(4)-2, r.Uint64()))
		}
	}
	for _, scale := range []int32{-3, 0, 1, 2, 3, 9, 10, 11, 18, 19, 22} {
		got := make([]uint64, len(vals))
		digestDecimals(got, vals, scale)
		for i, v := range vals {
			want := xxhash.Sum64(appendDecimal128At(nil, v, scale))
			if got[i] != want {
				t.Fatalf("digestDecimals: %s at scale %d (value %d of %d) = %#x, want %#x (encoding %q)",
					v.BigInt(), scale, i, len(vals), got[i], want, appendDecimal128At(nil, v, scale))
			}
		}
	}
}

// For every column type, the per-row encoder (used for the rows a report
// shows) writes what the column encoder writes, and the fast digests equal
// xxhash of those bytes.
func TestCellEncodingAndDigestsAgree(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	type colCase struct {
		typ     arrow.DataType
		json    string
		own, as class
	}
	r := rand.New(rand.NewPCG(3, 4))
	ints := []string{"null", "0", "-1", "1", "127", "-128"}
	for range 200 {
		ints = append(ints, fmt.Sprint(r.IntN(200)-100))
	}
	intJSON := "[" + strings.Join(ints, ",") + "]"
	floats := "[0, -0.0, 1.5, -2.25, 1e300, 3.0, 9007199254740992, 9007199254740993, 1e-7, null, 123456.789, -5e-324]"
	cases := []colCase{
		{arrow.PrimitiveTypes.Int8, intJSON, classNumber, classNumber},
		{arrow.PrimitiveTypes.Int16, intJSON, classNumber, classNumber},
		{arrow.PrimitiveTypes.Int32, intJSON, classNumber, classNumber},
		{arrow.PrimitiveTypes.Int64, `[null, 9223372036854775807, -9223372036854775808, 0, 42]`, classNumber, classNumber},
		{arrow.PrimitiveTypes.Uint8, `[0, 255, null]`, classNumber, classNumber},
		{arrow.PrimitiveTypes.Uint16, `[0, 65535, null]`, classNumber, classNumber},
		{arrow.PrimitiveTypes.Uint32, `[0, 4294967295, null]`, classNumber, classNumber},
		{arrow.PrimitiveTypes.Uint64, `[0, 18446744073709551615, null]`, classNumber, classNumber},
		{arrow.PrimitiveTypes.Float64, floats, classNumber, classNumber},
		{arrow.PrimitiveTypes.Float32, floats, classNumber, classNumber},
		{&arrow.Decimal128Type{Precision: 38, Scale: 2}, `["1.50", "-0.01", "0", null, "12345678901234567890123456.78", "100.00"]`, classNumber, classNumber},
		{&arrow.Decimal256Type{Precision: 50, Scale: 3}, `["1.500", null, "-7"]`, classNumber, classNumber},
		{&arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, `["2026-01-01T00:00:00", null, "1960-05-05T01:02:03"]`, classTimestamp, classTimestamp},
		{&arrow.TimestampType{Unit: arrow.Millisecond}, `["2026-01-01T00:00:00.123", null]`, classTimestamp, classTimestamp},
		{&arrow.TimestampType{Unit: arrow.Microsecond}, `["2026-01-01T00:00:00.123456", null]`, classTimestamp, classTimestamp},
		{&arrow.TimestampType{Unit: arrow.Nanosecond}, `["2026-01-01T00:00:00.123456789", "1969-12-31T23:59:59.999999999", null]`, classTimestamp, classTimestamp},
		{arrow.FixedWidthTypes.Date32, `["2026-01-01", "1900-02-28", null]`, classDate, classDate},
		{arrow.FixedWidthTypes.Date32, `["2026-01-01", "1900-02-28", null]`, classDate, classTimestamp},
		{arrow.FixedWidthTypes.Date64, `["2026-01-01", null]`, classDate, classDate},
		{arrow.FixedWidthTypes.Time64us, `["12:34:56.789012", null]`, classTime, classTime},
		{arrow.FixedWidthTypes.Time32ms, `["12:34:56.789", null]`, classTime, classTime},
		{arrow.FixedWidthTypes.Boolean, `[true, false, null, true]`, classBool, classBool},
		{arrow.FixedWidthTypes.Boolean, `[true, false, null, true]`, classBool, classNumber},
		{arrow.BinaryTypes.String, `["a", "", null, "ünïcode", "10.50", "exactly-twenty-nine-bytes-lon", "exactly-thirty-bytes-long-text", "` + strings.Repeat("long ", 40) + `"]`, classText, classText},
		{arrow.BinaryTypes.String, `["a", "", null, "ünïcode", "10.50", "exactly-twenty-nine-bytes-lon", "x y z"]`, classText, classText},
		{arrow.BinaryTypes.String, `["1", "10.50", null, "abc", "1e3"]`, classText, classNumber},
		{arrow.BinaryTypes.String, `["2026-01-01T10:00:00Z", "x", null]`, classText, classTimestamp},
		{arrow.BinaryTypes.LargeString, `["a", null]`, classText, classText},
		{arrow.BinaryTypes.Binary, `["AAEC", null, "` + strings.Repeat("QUJD", 50) + `"]`, classBinary, classBinary},
		{arrow.BinaryTypes.Binary, `["AAEC", null, "", "QUJDREVGR0g="]`, classBinary, classBinary},
		{arrow.PrimitiveTypes.Int64, `[1, null, -5]`, classNumber, classOther},
	}
	for _, c := range cases {
		arr, _, err := array.FromJSON(mem, c.typ, strings.NewReader(c.json))
		if err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		checkCells(t, fmt.Sprintf("%s as %s", c.typ, c.as), &columnEncoder{name: "c", own: c.own, as: c.as}, arr)
		arr.Release()
		// The same values 13 times over, from a few starting offsets: long
		// enough that the vector kernels take blocks of eight, and sliced so
		// that they read arrays that start part-way into their buffers.
		var rep []string
		for range 13 {
			rep = append(rep, strings.TrimSuffix(strings.TrimPrefix(c.json, "["), "]"))
		}
		long, _, err := array.FromJSON(mem, c.typ, strings.NewReader("["+strings.Join(rep, ",")+"]"))
		if err != nil {
			t.Fatalf("%s repeated: %v", c.typ, err)
		}
		for _, off := range []int64{0, 1, 3, 9} {
			part := array.NewSlice(long, off, int64(long.Len()))
			checkCells(t, fmt.Sprintf("%s as %s, from %d of %d", c.typ, c.as, off, long.Len()), &columnEncoder{name: "c", own: c.own, as: c.as}, part)
			part.Release()
		}
		long.Release()
	}
	// Storage minimums marking unrepresentable values.
	for _, typ := range []arrow.DataType{arrow.FixedWidthTypes.Date32, arrow.FixedWidthTypes.Timestamp_us} {
		arr, _, err := array.FromJSON(mem, typ, strings.NewReader(`["2026-01-01", null, "1970-01-01"]`))
		if err != nil {
			t.Fatal(err)
		}
		e := newColumnEncoder(arrow.Field{Name: "d", Type: typ, Metadata: arrow.NewMetadata([]string{connectors.MetaInvalid}, []string{connectors.InvalidMin})}, classOfType(typ), classOfType(typ))
		checkCells(t, "invalid "+typ.String(), &e, arr)
		arr.Release()
	}
	// Dictionary-encoded text.
	db := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
	for _, s := range []string{"x", "y", "x", "", "y"} {
		if err := db.AppendString(s); err != nil {
			t.Fatal(err)
		}
	}
	db.AppendNull()
	dict := db.NewArray()
	db.Release()
	checkCells(t, "dictionary", &columnEncoder{name: "d", own: classText, as: classText}, dict)
	dict.Release()
}

func checkCells(t *testing.T, name string, e *columnEncoder, arr arrow.Array) {
	t.Helper()
	var col encCol
	if err := e.encode(arr, &col); err != nil {
		t.Fatalf("%s: encode: %v", name, err)
	}
	for i := 0; i < arr.Len(); i++ {
		got, err := e.appendCell(nil, arr, i)
		if err != nil {
			t.Fatalf("%s row %d: appendCell: %v", name, i, err)
		}
		if !bytes.Equal(got, col.cell(i)) {
			t.Errorf("%s row %d: appendCell %q, encode %q", name, i, got, col.cell(i))
		}
	}
	dst := make([]uint64, arr.Len())
	if e.digestFast(arr, 0, dst) {
		for i := range dst {
			if want := xxhash.Sum64(col.cell(i)); dst[i] != want {
				t.Errorf("%s row %d: fast digest %#x, want %#x (cell %q)", name, i, dst[i], want, col.cell(i))
			}
		}
		// Digesting in ranges gives the same digests.
		for lo := 0; lo < arr.Len(); lo += 3 {
			part := make([]uint64, min(3, arr.Len()-lo))
			if !e.digestFast(arr, lo, part) {
				t.Fatalf("%s: digestFast refused rows %d.. after accepting the column", name, lo)
			}
			for i, d := range part {
				if d != dst[lo+i] {
					t.Errorf("%s row %d: digest from range at %d %#x, whole column %#x", name, lo+i, lo, d, dst[lo+i])
				}
			}
		}
	}
}

// hashBytes reads a []byte in place, as it does a string: the fallback of
// hashStrings passes slices of the value buffer, one per long string.
func TestHashBytesDoesNotAllocate(t *testing.T) {
	b := []byte("some bytes of a binary value, longer than 29")
	s := string(b)
	if n := testing.AllocsPerRun(100, func() { _ = hashBytes(tagBinary, b); _ = hashBytes(tagText, s) }); n != 0 {
		t.Fatalf("hashBytes allocates %v times per call pair", n)
	}
}

// FuzzHashStrings cuts data into strings at the lengths given (one per
// byte of lens, modulo 70, so around both of the string kernel's limits)
// and compares each digest with xxhash of the encoded cell.
func FuzzHashStrings(f *testing.F) {
	f.Add([]byte("an e-mail address@example.com, then shorter ones"), []byte{30, 5, 0, 13})
	f.Add(bytes.Repeat([]byte{0xff}, 200), []byte{61, 62, 29, 1, 0, 69, 40, 33, 8})
	// Blocks of eight that reach the vector kernel: short, long, mixed.
	f.Add(bytes.Repeat([]byte("0123456789abcdef"), 100), []byte{1, 2, 3, 5, 8, 13, 21, 29, 0, 7, 14, 28, 29, 29, 3, 4})
	f.Add(bytes.Repeat([]byte("0123456789abcdef"), 100), []byte{30, 31, 40, 47, 48, 55, 56, 61, 61, 2, 33, 9, 60, 0, 45, 29, 62, 5})
	f.Fuzz(func(t *testing.T, data, lens []byte) {
		offs := []int32{0}
		for _, l := range lens {
			end := int(offs[len(offs)-1]) + int(l%70)
			if end > len(data) {
				break
			}
			offs = append(offs, int32(end))
		}
		checkHashStrings(t, "", offs, data)
	})
}

// checkHashStrings compares the digests hashStrings gives the strings of
// data at offs, as text and as binary, with xxhash of each encoded cell.
func checkHashStrings(t *testing.T, what string, offs []int32, data []byte) {
	t.Helper()
	for _, tag := range []byte{tagText, tagBinary} {
		got := make([]uint64, len(offs)-1)
		hashStrings(got, offs, data, tag)
		for i := range got {
			v := data[offs[i]:offs[i+1]]
			if want := xxhash.Sum64(appendLen(nil, tag, v)); got[i] != want {
				t.Fatalf("%sstring %d of %d (%d bytes) = %#x, want %#x", what, i, len(got), len(v), got[i], want)
			}
		}
	}
}
