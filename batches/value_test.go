package batches

import (
	"bytes"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
)

func mustJSON(t *testing.T, doc string) reconcile.Value {
	t.Helper()
	v, err := reconcile.AppendJSON(nil, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sampleValues(t *testing.T) []reconcile.Value {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890123456789", 10)
	return []reconcile.Value{
		reconcile.Null,
		reconcile.AppendBool(nil, true),
		reconcile.AppendBool(nil, false),
		reconcile.AppendInt(nil, 0),
		reconcile.AppendInt(nil, math.MinInt64),
		reconcile.AppendInt(nil, math.MaxInt64),
		reconcile.AppendUint(nil, math.MaxUint64),
		reconcile.AppendDecimal(nil, big1, 7),
		reconcile.AppendDecimal(nil, big1, -30),
		reconcile.AppendDecimal64(nil, -1234, 3),
		reconcile.AppendFloat(nil, math.NaN(), 64),
		reconcile.AppendFloat(nil, math.Inf(1), 64),
		reconcile.AppendFloat(nil, math.Inf(-1), 64),
		reconcile.AppendFloat(nil, 1e300, 64),
		reconcile.AppendFloat(nil, 5e-324, 64),
		reconcile.AppendFloat(nil, 0.1, 32),
		reconcile.AppendText(nil, ""),
		reconcile.AppendText(nil, "O'Brien \\ \"q\" \n\t é 😀 <>&\u2028"),
		reconcile.AppendText(nil, "\xff\xfe not utf-8"),
		reconcile.AppendBinary(nil, nil),
		reconcile.AppendBinary(nil, []byte{0, 1, 2, 255}),
		reconcile.AppendTimestamp(nil, 0),
		reconcile.AppendTimestamp(nil, time.Date(2026, 11, 26, 2, 0, 0, 123456000, time.UTC).UnixMicro()),
		reconcile.AppendTimestamp(nil, -62135596800000000-1), // year 0
		reconcile.AppendTimestamp(nil, math.MaxInt64),
		reconcile.AppendTimestamp(nil, math.MinInt64),
		reconcile.AppendDate(nil, 0),
		reconcile.AppendDate(nil, 20418),
		reconcile.AppendDate(nil, math.MinInt32),
		reconcile.AppendDate(nil, math.MaxInt32),
		reconcile.AppendTime(nil, 0),
		reconcile.AppendTime(nil, 86399999999),
		reconcile.AppendTime(nil, 86400000000),
		reconcile.AppendTime(nil, -(838*3600+59*60+59)*1000000-500000),
		reconcile.AppendTime(nil, 1),
		mustJSON(t, `{"b":[1,2.50,{"x":null}],"a":"é\u0000"}`),
		mustJSON(t, `12345678901234567890.000100`),
		reconcile.AppendInvalid(nil, "0000-00-00"),
	}
}

func TestValueRoundTrip(t *testing.T) {
	for _, v := range sampleValues(t) {
		b, err := appendValueJSON(nil, v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		back, err := decodeValue(b)
		if err != nil {
			t.Fatalf("%s as %s: %v", v, b, err)
		}
		if !bytes.Equal(back, v) {
			t.Errorf("%s: written %s, read %x, want %x", v.Kind(), b, []byte(back), []byte(v))
		}
	}
}

func TestOpRoundTrip(t *testing.T) {
	vals := sampleValues(t)
	var ops []Op
	for i, v := range vals {
		ops = append(ops, Op{Seq: i + 1, Kind: connectors.OpUpdate, Rule: "rule\n" + v.Kind(),
			Key:    []Cell{{"tenant", reconcile.AppendText(nil, "a")}, {"id", reconcile.AppendInt(nil, int64(i))}},
			Set:    []Cell{{"z col", v}, {"a", reconcile.Null}},
			Expect: []Cell{{"z col", reconcile.Null}, {"a", v}}})
	}
	var buf []byte
	for i := range ops {
		var err error
		if buf, err = appendOp(buf, &ops[i]); err != nil {
			t.Fatal(err)
		}
	}
	if n := bytes.Count(buf, []byte("\n")); n != len(ops) {
		t.Fatalf("%d lines for %d ops", n, len(ops))
	}
	back, err := ReadOps(bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(ops) {
		t.Fatalf("read %d ops", len(back))
	}
	for i := range ops {
		a, b := ops[i], back[i]
		if a.Seq != b.Seq || a.Kind != b.Kind || a.Rule != b.Rule || !cellsEqual(a.Key, b.Key) || !cellsEqual(a.Set, b.Set) || !cellsEqual(a.Expect, b.Expect) {
			t.Errorf("op %d: wrote %+v, read %+v", i+1, a, b)
		}
	}
}

func cellsEqual(a, b []Cell) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Column != b[i].Column || !a[i].Value.Equal(b[i].Value) {
			return false
		}
	}
	return true
}

func TestReadOpsRejects(t *testing.T) {
	for _, in := range []string{
		`{"seq":1,"kind":"update","key":{"id":1},"set":{"a":1},"bogus":1}`,
		`{"seq":2,"kind":"update","key":{"id":1},"set":{"a":1}}`,
		`{"seq":1,"kind":"upsert","key":{"id":1},"set":{"a":1}}`,
		`{"seq":1,"kind":"update","key":{"id":null},"set":{"a":1}}`,
		`{"seq":1,"kind":"update","key":{"id":1}}`,
		`{"seq":1,"kind":"delete","key":{"id":1},"set":{"a":1}}`,
		`{"seq":1,"kind":"insert","key":{"id":1},"set":{"a":1},"expect":{"a":2}}`,
		`{"seq":1,"kind":"update","key":{"id":1.5},"set":{"a":1}}`,
		`{"seq":1,"kind":"update","key":{"id":1},"set":{"a":{"num":"abc"}}}`,
		`{"seq":1,"kind":"update","key":{"id":1},"set":{"a":{"num":"1","bin":""}}}`,
		`{"seq":1,"kind":"update","key":{"id":1},"set":{"a":{"time":"1:2:3"}}}`,
		`{"seq":1,"kind":"update","key":{"id":1},"set":{"a":1,"a":2}}`,
		`{"seq":1,"kind":"update","key":{"id":1},"set":{"a":1}} {}`,
		`{"seq":1,"kind":"update","key":{"id":1},"set":{"a":{"ts":"yesterday"}}}`,
		`not json`,
	} {
		if _, err := ReadOps(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

func FuzzReadOps(f *testing.F) {
	f.Add([]byte(`{"seq":1,"kind":"update","key":{"id":1},"set":{"a":{"num":"1.5"}},"expect":{"a":null},"rule":"x"}` + "\n"))
	f.Add([]byte(`{"seq":1,"kind":"insert","key":{"id":1},"set":{"id":1,"b":{"bin":"AAE="},"t":{"ts":"2026-01-01T00:00:00Z"},"d":{"date":"2026-01-01"},"h":{"time":"-01:00:00.5"},"j":{"json":{"a":[1]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, err := ReadOps(bytes.NewReader(data))
		if err != nil {
			return
		}
		// What was read writes back and reads again the same.
		var buf []byte
		for i := range ops {
			if buf, err = appendOp(buf, &ops[i]); err != nil {
				t.Fatalf("op %d read but not written: %v", i+1, err)
			}
		}
		again, err := ReadOps(bytes.NewReader(buf))
		if err != nil {
			t.Fatalf("written ops not read: %v\n%s", err, buf)
		}
		for i := range ops {
			if !cellsEqual(ops[i].Key, again[i].Key) || !cellsEqual(ops[i].Set, again[i].Set) || !cellsEqual(ops[i].Expect, again[i].Expect) {
				t.Fatalf("op %d changed on a round trip", i+1)
			}
		}
	})
}
