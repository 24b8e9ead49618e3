package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

// encRow is a row read through the connector: its canonical encoding
// (reconcile.AppendRow), its key's cells, and whether its key holds a
// NULL.
type encRow struct {
	enc     []byte
	key     string
	nullKey bool
}

// encodeAll reads rr to its end and encodes every row as the engine does.
func encodeAll(t *testing.T, rr array.RecordReader, err error, key []string) []encRow {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var out []encRow
	for rr.Next() {
		rec := rr.Record()
		var keyIdx []int
		for _, k := range key {
			// A key column not read counts as no key at all.
			if idx := rec.Schema().FieldIndices(k); len(idx) > 0 {
				keyIdx = append(keyIdx, idx[0])
			}
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			enc, err := reconcile.AppendRow(nil, rec, i)
			if err != nil {
				t.Fatal(err)
			}
			cells, err := reconcile.SplitCells(enc, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := encRow{enc: enc}
			for _, k := range keyIdx {
				r.nullKey = r.nullKey || rec.Column(k).IsNull(i)
				r.key += string(cells[k])
			}
			out = append(out, r)
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rangesOf is ReadOptions.Ranges for one range, or nil.
func rangesOf(r *connectors.KeyRange) []connectors.KeyRange {
	if r == nil {
		return nil
	}
	return []connectors.KeyRange{*r}
}

// segmentOf is what Checksums must report for rows.
func segmentOf(rows []encRow) connectors.Segment {
	var s connectors.Segment
	keys := map[string]bool{}
	for _, r := range rows {
		s.Rows++
		s.Sum += connectors.RowHash(r.enc)
		keys[r.key] = true
	}
	s.Keys = int64(len(keys))
	return s
}

func short(b []byte) string {
	if len(b) > 48 {
		return fmt.Sprintf("%x...(%d bytes)", b[:48], len(b))
	}
	return fmt.Sprintf("%x", b)
}

// checkCells compares, row by row and cell by cell, the server's canonical
// encoding of the columns with the engine's encoding of the same rows read
// through ReadOrdered, and the server's whole-table checksum with the sum
// of the engine's row hashes.
func checkCells(t *testing.T, src *Source, ref connectors.TableRef, key, cols []string) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rr, err := src.ReadOrdered(t.Context(), ref, key, connectors.ReadOptions{Columns: cols, Allocator: mem, BatchRows: 3})
	rows := encodeAll(t, rr, err, key)

	p, err := src.plan(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := p.pick(cols)
	if err != nil {
		t.Fatal(err)
	}
	rp, refused := src.rowPlan(pc)
	if refused != nil {
		t.Fatalf("columns refused: %q", refused)
	}
	var order, ks []string
	for i, k := range key {
		order = append(order, p.cols[p.column(k)].orderExpr())
		ks = append(ks, fmt.Sprintf("k%d NULLS LAST", i))
	}
	// The row, then each cell: after the key expressions.
	sql := rp.selectSQL(p, order, "", true) + " ORDER BY " + strings.Join(ks, ", ")
	skip := len(order)
	n := skip + 1 + len(pc)
	var got [][][]byte
	err = src.query(t.Context(), sql, nil, func(r pgx.Rows) error {
		vals, err := r.Values()
		if err != nil {
			return err
		}
		if len(vals) != n {
			return fmt.Errorf("%d values, want %d", len(vals), n)
		}
		cells := make([][]byte, 0, n-skip)
		for _, v := range vals[skip:] {
			b, _ := v.([]byte)
			cells = append(cells, b)
		}
		got = append(got, cells)
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	if len(got) != len(rows) {
		t.Fatalf("the server has %d rows, the read %d", len(got), len(rows))
	}
	for i, r := range rows {
		want, err := reconcile.SplitCells(r.enc, nil)
		if err != nil || len(want) != len(pc) {
			t.Fatalf("row %d: %v (%d cells)", i, err, len(want))
		}
		for j, c := range pc {
			if !bytes.Equal(got[i][1+j], want[j]) {
				t.Errorf("row %d, column %s (%s): server %s, engine %s (%s)", i, c.name, c.typeName, short(got[i][1+j]), short(want[j]), want[j].String())
			}
		}
		if !bytes.Equal(got[i][0], r.enc) {
			t.Errorf("row %d: the server's row encoding differs from the engine's", i)
		}
	}
	segs, err := src.Checksums(t.Context(), ref, connectors.ChecksumRequest{Key: key, Columns: cols})
	if err != nil {
		t.Fatal(err)
	}
	var keyed []encRow
	for _, r := range rows {
		if !r.nullKey {
			keyed = append(keyed, r)
		}
	}
	want := []connectors.Segment{segmentOf(keyed)}
	if !slices.ContainsFunc(cols, func(c string) bool { return slices.Contains(key, c) }) && cols != nil {
		want[0].Keys = segs[0].Keys // the rows read hold no key
	}
	if !slices.Equal(segs, want) {
		t.Errorf("checksum of the table: %+v, want %+v", segs, want)
	}
}

// ckColumn is a column of the checksum type matrix: row r holds vals[r],
// NULL past the end of vals.
type ckColumn struct {
	name, typ string
	vals      []string
}

var ckMatrix = []ckColumn{
	{"i2", "smallint", []string{"0", "-1", "1", "-32768", "32767", "NULL"}},
	{"i4", "integer", []string{"0", "-1", "-2147483648", "2147483647", "NULL", "42"}},
	{"i8", "bigint", []string{"0", "-1", "-9223372036854775808", "9223372036854775807", "NULL", "256"}},
	{"pos", "posint", []string{"1", "NULL", "2147483647"}},
	{"n12", "numeric(12,2)", []string{"10.50", "-0.01", "NULL", "1234567.89", "0", "100.00", "-9999999999.99", "0.10"}},
	{"n38", "numeric(38,10)", []string{"9999999999999999999999999999.9999999999", "-1.5", "12345678901234567890", "-9223372036854775808", "9223372036854775808", "NULL", "0.0000000001", "-92233720368547758.08"}},
	{"n60", "numeric(60,5)", []string{"123456789012345678901234567890123456789012345678901.5", "NULL", "-3", "0.00001"}},
	{"nneg", "numeric(10,-2)", []string{"12300", "NULL", "-100", "0"}},
	{"num", "numeric", []string{
		"0", "1", "-1", "10.50", "-0.01", "1e20", "-1e20", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "123456789012345678901234567890.123456789", "1e-1000",
		"'NaN'", "'Infinity'", "'-Infinity'", "1.000", "100", "0.0000001", "NULL", "1234567890123456789012345678901234567890",
		"('1' || repeat('0', 150) || '1')::numeric", "('1' || repeat('0', 150) || '.5')::numeric", "-0.000", "1e19", "99999999999999999999.99",
	}},
	{"b", "boolean", []string{"true", "false", "NULL"}},
	{"d", "date", []string{"'1970-01-01'", "'1969-12-31'", "'0001-01-01'", "'4713-01-01 BC'", "'2026-06-30'", "'infinity'", "'-infinity'", "'5874897-12-31'", "NULL", "'2000-01-01'"}},
	{"ts", "timestamp", []string{"'1970-01-01'", "'1969-12-31 23:59:59.999999'", "'4713-01-01 00:00:00 BC'", "'2026-01-01 12:34:56.789'", "'infinity'", "'-infinity'", "'294246-12-31 23:59:59.999999'", "NULL", "'2000-01-01 00:00:00.000001'"}},
	{"tstz", "timestamptz", []string{"'1970-01-01 00:00:00+00'", "'1969-12-31 23:59:59.999999+00'", "'2026-06-30 12:00:00+05:30'", "'-infinity'", "'infinity'", "NULL", "'0044-03-15 12:00:00+00 BC'", "'294000-01-01 00:00:00+00'"}},
	{"ts3", "timestamp(3)", []string{"'2026-01-01 12:34:56.789'", "NULL", "'1900-01-01'"}},
	{"tm", "time", []string{"'00:00'", "'23:59:59.999999'", "'24:00:00'", "'12:34:56.789'", "NULL"}},
	{"t", "text", []string{
		"''", "'a'", "'Zoë'", "E'tab\\there\\nnewline'", "'O''Brien'", "E'back\\\\slash'", "NULL",
		"repeat('a', 127)", "repeat('a', 128)", "repeat('é', 63) || 'a'", "repeat('é', 64)", "repeat('a', 16383)", "repeat('a', 16384)",
		"repeat('x', 2097151)", "repeat('x', 2097152)", "'日本語 🎉'",
	}},
	{"lbl", "label", []string{"'x'", "NULL", "''"}},
	{"vc", "varchar(300)", []string{"'abc'", "''", "NULL", "repeat('v', 300)"}},
	{"nm", "name", []string{"'name1'", "''", "NULL", "'Ünïcode'", "repeat('n', 63)"}},
	{"ch", "char(5)", []string{"'ab'", "''", "'abcde'", "' a'", "NULL", "'é'", "E'a\\t'"}},
	{"bpc", "bpchar", []string{"'ab   '", "'x'", "NULL"}},
	{"ci", "citext", []string{"'MiXed'", "NULL"}},
	{"en", "mood", []string{"'happy'", "'sad'", "NULL"}},
	{"u", "uuid", []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'", "NULL", "'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'"}},
	{"by", "bytea", []string{"'\\x'", "'\\x00ff80'", "NULL", "'hello'", "decode(repeat('ab', 127), 'hex')", "decode(repeat('ab', 128), 'hex')", "decode(repeat('00', 16384), 'hex')"}},
	{"iv", "interval", []string{"'1 year 2 months 3 days 04:05:06'", "'0'", "NULL", "'-1 day'"}},
	{"ip", "inet", []string{"'10.0.0.1'", "'::1'", "NULL", "'192.168.0.0/24'"}},
	{"mo", "money", []string{"12.50", "NULL", "-3"}},
	// Refused.
	{"f4", "real", []string{"'0.1'", "NULL"}},
	{"f8", "double precision", []string{"'0.1'", "NULL"}},
	{"js", "json", []string{`'{"a":1}'`, "NULL"}},
	{"jb", "jsonb", []string{`'{"a":1}'`, "NULL"}},
	{"arr", "int[]", []string{"'{1,2}'", "NULL"}},
}

var ckRefused = []string{"f4", "f8", "js", "jb", "arr"}

// The server's encoding of every type it checksums is byte for byte the
// engine's encoding of the value the connector reads, and its checksum of
// the table the sum of the engine's row hashes.
func TestChecksumTypeMatrix(t *testing.T) {
	dsn := testdb.Postgres(t)
	cols := []string{"id int PRIMARY KEY"}
	rowsN := 0
	for _, c := range ckMatrix {
		cols = append(cols, quoteIdent(c.name)+" "+c.typ)
		rowsN = max(rowsN, len(c.vals))
	}
	stmts := []string{
		`CREATE EXTENSION citext`,
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE DOMAIN posint AS int CHECK (VALUE > 0)`,
		`CREATE DOMAIN label AS text`,
		`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET lc_monetary TO ''C''', current_database()); END $$`,
		`CREATE TABLE ck (` + strings.Join(cols, ", ") + `)`,
	}
	for r := 0; r < rowsN; r++ {
		vals := []string{fmt.Sprint(r + 1)}
		for _, c := range ckMatrix {
			v := "NULL"
			if r < len(c.vals) {
				v = c.vals[r]
			}
			vals = append(vals, v)
		}
		stmts = append(stmts, `INSERT INTO ck VALUES (`+strings.Join(vals, ", ")+`)`)
	}
	testdb.Exec(t, dsn, stmts...)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ref := connectors.TableRef{Name: "ck"}

	refused, err := src.Checksummable(t.Context(), ref, []string{"id"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(refused, ckRefused) {
		t.Errorf("refused %q, want %q", refused, ckRefused)
	}
	names := []string{"id"}
	for _, c := range ckMatrix {
		if !slices.Contains(ckRefused, c.name) {
			names = append(names, c.name)
		}
	}
	checkCells(t, src, ref, []string{"id"}, names)
	// Each column alone, keyed by itself where it can bound ranges.
	for _, c := range names[1:] {
		checkCells(t, src, ref, []string{"id"}, []string{c})
	}
}

// checkSplit splits the rows of ref by key into about n ranges and checks
// that the checksums of the ranges are those of the rows ReadOrdered
// returns for each range, that those rows are, range after range, the
// rows of the whole ordered read without NULL keys, and likewise for a
// range inside the first split.
func checkSplit(t *testing.T, src *Source, ref connectors.TableRef, key []string, n int, balanced bool) {
	t.Helper()
	ctx := t.Context()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	p, err := src.plan(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	kcols, err := p.rangeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	read := func(r *connectors.KeyRange) []encRow {
		t.Helper()
		rr, err := src.ReadOrdered(ctx, ref, key, connectors.ReadOptions{Allocator: mem, BatchRows: 11, Ranges: rangesOf(r)})
		return encodeAll(t, rr, err, key)
	}
	var all []encRow
	for _, r := range read(nil) {
		if !r.nullKey {
			all = append(all, r)
		}
	}
	if got := read(&connectors.KeyRange{}); !slices.EqualFunc(got, all, func(a, b encRow) bool { return bytes.Equal(a.enc, b.enc) }) {
		t.Fatalf("key %v: the unbounded range reads %d rows, want the %d with a key", key, len(got), len(all))
	}

	split := func(r connectors.KeyRange, n int) ([][]any, []connectors.Segment) {
		t.Helper()
		bounds, err := src.Boundaries(ctx, ref, key, r, n)
		if err != nil {
			t.Fatalf("key %v: %v", key, err)
		}
		if len(bounds) > max(n-1, 0) {
			t.Errorf("key %v: %d bounds for n = %d", key, len(bounds), n)
		}
		for i, b := range bounds {
			if i > 0 && compareTuple(kcols, bounds[i-1], b) >= 0 {
				t.Errorf("key %v: bounds %v and %v not ascending", key, bounds[i-1], b)
			}
			if r.From != nil && compareTuple(kcols, r.From, b) >= 0 || r.To != nil && compareTuple(kcols, b, r.To) >= 0 {
				t.Errorf("key %v: bound %v not inside %v", key, b, r)
			}
		}
		segs, err := src.Checksums(ctx, ref, connectors.ChecksumRequest{Key: key, Range: r, Bounds: bounds})
		if err != nil {
			t.Fatalf("key %v: %v", key, err)
		}
		if len(segs) != len(bounds)+1 {
			t.Fatalf("key %v: %d segments for %d bounds", key, len(segs), len(bounds))
		}
		// The native hash counts the same rows and keys.
		native, err := src.Checksums(ctx, ref, connectors.ChecksumRequest{Key: key, Range: r, Bounds: bounds, Hash: src.NativeHash()})
		if err != nil {
			t.Fatalf("key %v: native: %v", key, err)
		}
		var concat []encRow
		ranges := make([]connectors.KeyRange, len(segs))
		rowsOfRange := make([][]encRow, len(segs))
		for i := range segs {
			sr := connectors.KeyRange{From: r.From, To: r.To}
			if i > 0 {
				sr.From = bounds[i-1]
			}
			if i < len(bounds) {
				sr.To = bounds[i]
			}
			rows := read(&sr)
			if want := segmentOf(rows); segs[i] != want {
				t.Errorf("key %v, range %d %v: checksum %+v, the rows read %+v", key, i, sr, segs[i], want)
			}
			if native[i].Rows != segs[i].Rows || native[i].Keys != segs[i].Keys || native[i].Rows > 0 && native[i].Sum == 0 {
				t.Errorf("key %v, range %d %v: native checksum %+v, canonical %+v", key, i, sr, native[i], segs[i])
			}
			concat = append(concat, rows...)
			ranges[i], rowsOfRange[i] = sr, rows
		}
		if got := read(&r); !slices.EqualFunc(got, concat, func(a, b encRow) bool { return bytes.Equal(a.enc, b.enc) }) {
			t.Errorf("key %v: the ranges' rows (%d) are not the rows of %v (%d)", key, len(concat), r, len(got))
		}
		// Several ranges read at once: the first, two adjacent ones and
		// the last, open ends included.
		if len(ranges) >= 5 {
			pick := []int{0, 2, 3, len(ranges) - 1}
			var some []connectors.KeyRange
			var want []encRow
			for _, i := range pick {
				some = append(some, ranges[i])
				want = append(want, rowsOfRange[i]...)
			}
			rr, err := src.ReadOrdered(ctx, ref, key, connectors.ReadOptions{Allocator: mem, BatchRows: 11, Ranges: some})
			if got := encodeAll(t, rr, err, key); !slices.EqualFunc(got, want, func(a, b encRow) bool { return bytes.Equal(a.enc, b.enc) }) {
				t.Errorf("key %v: ranges %v read %d rows, want the %d of the ranges one by one", key, pick, len(got), len(want))
			}
		}
		return bounds, segs
	}

	bounds, segs := split(connectors.KeyRange{}, n)
	var total int64
	for _, s := range segs {
		total += s.Rows
		if balanced && n >= 4 && s.Rows > int64(len(all))/2+1 {
			t.Errorf("key %v: a range holds %d of %d rows for n = %d", key, s.Rows, len(all), n)
		}
	}
	if total != int64(len(all)) {
		t.Errorf("key %v: the ranges hold %d rows, the table %d with a key", key, total, len(all))
	}
	if len(bounds) >= 4 {
		r := connectors.KeyRange{From: bounds[0], To: bounds[3]}
		_, sub := split(r, 5)
		var sum connectors.Segment
		for _, s := range sub {
			sum.Rows += s.Rows
			sum.Sum += s.Sum
		}
		want := connectors.Segment{Rows: segs[1].Rows + segs[2].Rows + segs[3].Rows, Sum: segs[1].Sum + segs[2].Sum + segs[3].Sum}
		sum.Keys = 0
		if sum != want {
			t.Errorf("key %v: the split of ranges 1-3 sums to %+v, want %+v", key, sum, want)
		}
	}
}

const splitTable = `CREATE TABLE k (
	id int PRIMARY KEY, i int, s smallint, b bigint, t text, c char(4), u uuid, by bytea, d date, ts timestamptz, tsl timestamp, n numeric)`

const splitRows = `INSERT INTO k SELECT g,
	CASE WHEN g % 17 = 0 THEN NULL ELSE (g * 7919) % 1000 - 500 END,
	g % 100 - 50,
	CASE WHEN g = 5 THEN -9223372036854775808 WHEN g = 6 THEN 9223372036854775807 ELSE g::int8 * 1000000007 END,
	CASE WHEN g % 13 = 0 THEN NULL ELSE (ARRAY['a', 'B', 'é', 'Z', 'ab', 'Ä', 'z', '', 'É', 'aa', '日本', 'b', 'A', 'ß'])[g % 14 + 1] || (g % 40)::text END,
	CASE WHEN g % 19 = 0 THEN NULL ELSE (ARRAY['a', 'a ', 'B', 'é', ' a', '', 'zz', 'a!'])[g % 8 + 1] END,
	CASE WHEN g % 11 = 0 THEN NULL ELSE md5(g::text)::uuid END,
	CASE WHEN g % 23 = 0 THEN NULL ELSE substr(decode(md5(g::text), 'hex'), 1, g % 6) END,
	CASE WHEN g = 7 THEN 'infinity' WHEN g = 8 THEN '-infinity' WHEN g % 29 = 0 THEN NULL ELSE '2000-01-01'::date + (g * 37 % 20000 - 10000) END,
	CASE WHEN g = 9 THEN 'infinity' WHEN g = 10 THEN '-infinity' WHEN g % 31 = 0 THEN NULL ELSE '1969-12-31 23:59:59.999999+00'::timestamptz + (g - 300) * interval '1 hour 1 microsecond' END,
	'1970-01-01'::timestamp + (g - 300) * interval '17 days 1 microsecond',
	(g * 1.25)::numeric
FROM generate_series(1, 600) g`

// Boundaries split each key type's rows into ranges whose checksums are
// those of the rows range reads return, in the read's key order.
func TestBoundariesAndChecksums(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, splitTable, splitRows, `CREATE INDEX ON k (i)`)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ref := connectors.TableRef{Name: "k"}
	checkCells(t, src, ref, []string{"id"}, nil)
	for _, key := range [][]string{{"id"}, {"i"}, {"s"}, {"b"}, {"t"}, {"c"}, {"u"}, {"by"}, {"d"}, {"ts"}, {"tsl"}, {"t", "i"}, {"c", "d"}, {"u", "id"}, {"by", "s", "c"}} {
		for _, n := range []int{1, 2, 7, 40} {
			// An arithmetic split of b, whose extremes are far from
			// the other values, puts most rows in one range.
			checkSplit(t, src, ref, key, n, key[0] != "b")
		}
	}
	// A key that repeats a lot splits at distinct values only.
	bounds, err := src.Boundaries(t.Context(), ref, []string{"c"}, connectors.KeyRange{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(bounds) != 6 { // 7 values ('a ' is 'a'); the least starts the first range
		t.Errorf("char key with 8 values: %d bounds %v", len(bounds), bounds)
	}
	// Empty ranges, and a range with no rows at all.
	for _, key := range [][]string{{"id"}, {"t"}} {
		p, _ := src.plan(t.Context(), ref)
		kc, _ := p.rangeKey(key)
		var v any = int64(100000)
		if kc[0].kind == kindText {
			v = "\U0010ffff"
		}
		empty := connectors.KeyRange{From: []any{v}}
		bounds, err := src.Boundaries(t.Context(), ref, key, empty, 5)
		if err != nil || len(bounds) != 0 {
			t.Errorf("key %v: empty range: bounds %v, %v", key, bounds, err)
		}
		segs, err := src.Checksums(t.Context(), ref, connectors.ChecksumRequest{Key: key, Range: empty})
		if err != nil || !slices.Equal(segs, []connectors.Segment{{}}) {
			t.Errorf("key %v: empty range: %v, %v", key, segs, err)
		}
	}
}

// The arithmetic split of an integer key keeps its bounds distinct and
// strictly inside the range, across the whole int64 range too.
func TestSplitInts(t *testing.T) {
	for _, c := range []struct {
		lo, hi int64
		n      int
		want   []int64
	}{
		{0, 100, 4, []int64{25, 50, 75}},
		{1, 3, 10, []int64{2, 3}},
		{5, 5, 10, nil},
		{-9223372036854775808, 9223372036854775807, 2, []int64{0}},
		{-9223372036854775808, 9223372036854775807, 4, []int64{-4611686018427387904, 0, 4611686018427387904}},
		{-10, -8, 3, []int64{-9, -8}},
	} {
		var got []int64
		for _, b := range splitInts(c.lo, c.hi, c.n) {
			got = append(got, b[0].(int64))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("splitInts(%d, %d, %d) = %v, want %v", c.lo, c.hi, c.n, got, c.want)
		}
	}
}

// A range read returns exactly the rows in [From, To), in the engine's key
// order, whatever the bound values: open bounds, bounds between and
// beyond the values, text with trailing spaces, NUL bytes or invalid
// UTF-8, non-canonical uuids, dates with a time of day, instants between
// microseconds, integers beyond the column's type.
func TestKeyRangeEdges(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE e (id int PRIMARY KEY, s smallint, t text, c char(3), u uuid, by bytea, d date, ts timestamptz, tsl timestamp)`,
		`INSERT INTO e VALUES
			(1, 1, 'A', 'a', '00000000-0000-0000-0000-000000000001', '\x00', '1969-12-31', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00'),
			(2, 2, 'B', 'a!', '0a000000-0000-0000-0000-000000000000', '\x0000', '1970-01-01', '2026-01-01 00:00:00.000001+00', '2026-01-01 00:00:00.000001'),
			(3, 3, 'a', 'b', 'a0000000-0000-0000-0000-000000000000', '\x01', '2026-01-02', '2026-01-01 00:00:01+00', '2026-01-01 00:00:01'),
			(4, 4, 'é', 'a', 'f0000000-0000-0000-0000-000000000000', '\xff', 'infinity', 'infinity', 'infinity'),
			(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
			(6, -32768, 'a b', 'a b', '10000000-0000-0000-0000-000000000000', '\x', '-infinity', '-infinity', '-infinity')`,
	)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ref := connectors.TableRef{Name: "e"}
	ids := func(key string, from, to any) string {
		t.Helper()
		r := connectors.KeyRange{}
		if from != nil {
			r.From = []any{from}
		}
		if to != nil {
			r.To = []any{to}
		}
		rr, err := src.ReadOrdered(t.Context(), ref, []string{key}, connectors.ReadOptions{Columns: []string{"id"}, Ranges: []connectors.KeyRange{r}})
		if err != nil {
			t.Fatalf("key %s %v: %v", key, r, err)
		}
		out := readRowsOf(t, rr)
		// The checksum of the same range counts the same rows.
		segs, err := src.Checksums(t.Context(), ref, connectors.ChecksumRequest{Key: []string{key}, Columns: []string{"id"}, Range: r})
		if err != nil {
			t.Fatalf("key %s %v: %v", key, r, err)
		}
		if segs[0].Rows != int64(len(out)) {
			t.Errorf("key %s %v: the checksum counts %d rows, the read %d", key, r, segs[0].Rows, len(out))
		}
		return strings.Join(out, ",")
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	inf := time.UnixMicro(9223372036854775807)
	for _, c := range []struct {
		key      string
		from, to any
		want     string
	}{
		{"s", nil, nil, "6,1,2,3,4"},
		{"s", int64(2), int64(4), "2,3"},
		{"s", int64(2), nil, "2,3,4"},
		{"s", nil, int64(2), "6,1"},
		{"s", int64(-1 << 40), int64(1 << 40), "6,1,2,3,4"},
		{"s", 3, int32(3), ""},
		{"s", int64(4), int64(2), ""},
		{"t", "B", "a", "2"},
		{"t", "B", "a ", "2,3"},
		{"t", "a\x00", nil, "6,4"},
		{"t", "a", "\xff", "3,6,4"},
		{"t", "", "A", ""},
		{"t", "", "", ""},
		{"c", "a", "b", "1,4,6,2"},
		{"c", "a ", nil, "6,2,3"},
		{"c", "a!", "a!", ""},
		{"c", nil, "a ", "1,4"},
		{"u", "0a000000-0000-0000-0000-000000000000", "f0000000-0000-0000-0000-000000000000", "2,6,3"},
		{"u", "A0000000-0000-0000-0000-000000000000", nil, "3,4"},
		{"u", "1", "a", "6"},
		{"by", []byte{0}, []byte{1}, "1,2"},
		{"by", []byte{}, []byte{0, 0}, "6,1"},
		{"by", "\x01", nil, "3,4"},
		{"d", at("1970-01-01T00:00:00Z"), nil, "2,3,4"},
		{"d", at("1969-12-31T00:00:01Z"), at("2026-01-02T00:00:00Z"), "2"},
		{"d", nil, at("1969-12-31T00:00:00.000001Z"), "6,1"},
		{"d", at("2026-01-02T00:00:00Z"), inf, "3"},
		{"d", time.Unix(2147483647*86400, 0), nil, "4"},
		{"d", nil, time.Unix(-2147483648*86400, 0).UTC(), ""},
		{"ts", at("2026-01-01T00:00:00.0000001Z"), nil, "2,3,4"},
		{"ts", at("2026-01-01T05:00:00+05:00"), at("2026-01-01T00:00:01Z"), "1,2"},
		{"ts", nil, time.UnixMicro(-9223372036854775808), ""},
		{"ts", time.UnixMicro(-9223372036854775808), at("2026-01-01T00:00:00Z"), "6"},
		{"ts", inf, nil, "4"},
		{"tsl", at("2026-01-01T00:00:00.000001Z"), inf, "2,3"},
		{"tsl", at("2026-01-01T01:00:00+01:00"), at("2026-01-01T00:00:00.0000009Z"), "1"},
	} {
		if got := ids(c.key, c.from, c.to); got != c.want {
			t.Errorf("key %s [%v, %v): rows %q, want %q", c.key, c.from, c.to, got, c.want)
		}
	}
	// The same values as the bounds of one checksum, all of them and
	// each alone: width_bucket where the key's type allows, the CASE
	// otherwise, count the rows of the ranges between them, canonical and
	// native alike.
	p, err := src.plan(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string][]any{}
	for _, c := range []struct {
		key      string
		from, to any
	}{
		{"s", int64(-1 << 40), int64(1 << 40)}, {"s", int64(2), int16(3)}, {"s", int32(4), nil},
		{"t", "B", "a"}, {"t", "a ", "\xff"}, {"t", "a\x00", ""},
		{"c", "a", "b"}, {"c", "a ", "a!"},
		{"u", "0a000000-0000-0000-0000-000000000000", "f0000000-0000-0000-0000-000000000000"}, {"u", "A0000000-0000-0000-0000-000000000000", "1"},
		{"by", []byte{0}, []byte{1}}, {"by", []byte{}, []byte{0, 0}},
		{"d", at("1970-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z")}, {"d", time.Unix(2147483647*86400, 0), time.Unix(-2147483648*86400, 0).UTC()},
		{"d", at("1969-12-31T00:00:01Z"), nil},
		{"ts", at("2026-01-01T00:00:00.0000001Z"), at("2026-01-01T00:00:01Z")}, {"ts", time.UnixMicro(-9223372036854775808), inf},
		{"tsl", at("2026-01-01T00:00:00.000001Z"), inf}, {"tsl", at("2026-01-01T01:00:00+01:00"), at("2026-01-01T00:00:00.0000009Z")},
	} {
		for _, v := range []any{c.from, c.to} {
			if v != nil {
				values[c.key] = append(values[c.key], v)
			}
		}
	}
	for key, vals := range values {
		kc := &p.cols[p.column(key)]
		slices.SortFunc(vals, func(a, b any) int { return compareBound(kc, a, b) })
		vals = slices.CompactFunc(vals, func(a, b any) bool { return compareBound(kc, a, b) == 0 })
		check := func(vals []any) {
			t.Helper()
			var bounds [][]any
			for _, v := range vals {
				bounds = append(bounds, []any{v})
			}
			for _, hash := range []string{"", src.NativeHash()} {
				segs, err := src.Checksums(t.Context(), ref, connectors.ChecksumRequest{Key: []string{key}, Columns: []string{"id"}, Bounds: bounds, Hash: hash})
				if err != nil {
					t.Fatalf("key %s, bounds %v: %v", key, vals, err)
				}
				for i, s := range segs {
					var from, to any
					if i > 0 {
						from = vals[i-1]
					}
					if i < len(vals) {
						to = vals[i]
					}
					if rows := ids(key, from, to); s.Rows != int64(len(strings.FieldsFunc(rows, func(r rune) bool { return r == ',' }))) {
						t.Errorf("key %s, bounds %v, hash %q: range %d [%v, %v) counts %d rows, the read %q", key, vals, hash, i, from, to, s.Rows, rows)
					}
				}
			}
		}
		check(vals)
		for _, v := range vals {
			check([]any{v})
		}
	}

	// Composite: (t, s) >= ('a', 3) and < ('é', 0).
	r := connectors.KeyRange{From: []any{"a", int64(3)}, To: []any{"é", int64(0)}}
	rr, err := src.ReadOrdered(t.Context(), ref, []string{"t", "s"}, connectors.ReadOptions{Columns: []string{"id"}, Ranges: []connectors.KeyRange{r}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(readRowsOf(t, rr), ","); got != "3,6" {
		t.Errorf("composite range: rows %q, want 3,6", got)
	}
}

func readRowsOf(t *testing.T, rr array.RecordReader) []string {
	t.Helper()
	rows, err := rowsOf(rr)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// Identifiers that need quoting, the user's filter and a query source are
// honoured alike by range reads, Boundaries and Checksums.
func TestChecksumIdentifiersAndFilters(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE SCHEMA "My Schema"`,
		`CREATE TABLE "My Schema"."Order ""Table""" ("Key Col" text PRIMARY KEY, "Val" int, "weird ""col"" 2" bytea, "UPPER" date)`,
		`INSERT INTO "My Schema"."Order ""Table"""
		 SELECT (ARRAY['x', 'X', 'é', 'E', 'o''q', 'back\slash'])[g % 6 + 1] || g, g, decode(md5(g::text), 'hex'), '2026-01-01'::date - g
		 FROM generate_series(1, 300) g`,
	)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	table := `"My Schema"."Order ""Table"""`
	refs := []connectors.TableRef{
		{Name: table},
		{Name: table, Where: `"Val" % 3 <> 0 -- a comment`},
		{Query: `SELECT "Key Col" AS "k ey", "Val" * 2 AS "V", "UPPER" FROM ` + table + ` WHERE "Val" > 10`, Where: `"V" < 500`},
	}
	for _, ref := range refs {
		key := []string{"Key Col"}
		if ref.Query != "" {
			key = []string{"k ey"}
		}
		checkCells(t, src, ref, key, nil)
		for _, k := range [][]string{key, {"UPPER"}, {"UPPER", key[0]}} {
			checkSplit(t, src, ref, k, 9, true)
		}
	}
	// The filter counts.
	segs, err := src.Checksums(t.Context(), refs[1], connectors.ChecksumRequest{Key: []string{"Val"}, Columns: []string{"Val"}, Range: connectors.KeyRange{From: []any{int64(100)}}, Bounds: [][]any{{int64(200)}}})
	if err != nil {
		t.Fatal(err)
	}
	if segs[0].Rows != 67 || segs[1].Rows != 67 {
		t.Errorf("filtered ranges hold %d and %d rows, want 67 and 67", segs[0].Rows, segs[1].Rows)
	}
}

// A database in another encoding than UTF-8 checksums and splits text in
// UTF-8 bytes and order, as the connector reads it.
func TestChecksumNonUTF8(t *testing.T) {
	dsn := testdb.PostgresEncoding(t, "LATIN1")
	utf8 := testdb.WithParams(dsn, "client_encoding=UTF8")
	testdb.Exec(t, utf8,
		`CREATE TABLE k (t text PRIMARY KEY, c char(4), v varchar(10), n int)`,
		`INSERT INTO k SELECT (ARRAY['z', 'é', 'Ä', 'a', 'ÿ', 'E', ''])[g % 7 + 1] || g, (ARRAY['é', 'a', 'ß ', NULL])[g % 4 + 1], 'ü' || g, g FROM generate_series(1, 200) g`,
	)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ref := connectors.TableRef{Name: "k"}
	checkCells(t, src, ref, []string{"t"}, nil)
	for _, key := range [][]string{{"t"}, {"c", "n"}, {"v"}} {
		checkSplit(t, src, ref, key, 6, true)
	}
	// Bounds outside LATIN1 still compare as UTF-8 bytes.
	rr, err := src.ReadOrdered(t.Context(), ref, []string{"c"}, connectors.ReadOptions{Columns: []string{"c"}, Ranges: []connectors.KeyRange{{From: []any{"ß"}, To: []any{"日本"}}}})
	if err != nil {
		t.Fatal(err)
	}
	rows := readRowsOf(t, rr)
	if len(rows) != 100 || rows[0] != "ß" || rows[len(rows)-1] != "é" {
		t.Errorf("char range in LATIN1: %d rows %q...", len(rows), rows[:min(len(rows), 3)])
	}
}

// What cannot be done says so.
func TestChecksumRefusals(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE r (id int PRIMARY KEY, f float8, n numeric, j jsonb, a int[], b bool, tm time, t text)`,
		`INSERT INTO r VALUES (1, 0.5, 1.5, '{}', '{1}', true, '12:00', 'x')`,
	)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := t.Context()
	ref := connectors.TableRef{Name: "r"}

	if _, err := src.Read(ctx, ref, connectors.ReadOptions{Ranges: []connectors.KeyRange{{From: []any{int64(1)}}}}); !errors.Is(err, connectors.ErrUnsupported) || !strings.Contains(err.Error(), "ordered") {
		t.Errorf("Read with a range: %v", err)
	}
	refused, err := src.Checksummable(ctx, ref, []string{"id"}, []string{"t", "f", "n", "j", "a", "b", "tm", "id"})
	if err != nil || !slices.Equal(refused, []string{"f", "j", "a"}) {
		t.Errorf("Checksummable: %q, %v", refused, err)
	}
	if refused, err := src.Checksummable(ctx, ref, []string{"id"}, []string{"t"}); err != nil || refused != nil {
		t.Errorf("Checksummable of text: %q, %v", refused, err)
	}
	for _, key := range []string{"f", "n", "j", "a", "b", "tm"} {
		if _, err := src.Checksummable(ctx, ref, []string{key}, []string{"t"}); !errors.Is(err, connectors.ErrUnsupported) || !strings.Contains(err.Error(), `key column "`+key+`"`) {
			t.Errorf("key %s: Checksummable: %v", key, err)
		}
		if _, err := src.Boundaries(ctx, ref, []string{key}, connectors.KeyRange{}, 4); !errors.Is(err, connectors.ErrUnsupported) {
			t.Errorf("key %s: Boundaries: %v", key, err)
		}
		if _, err := src.Checksums(ctx, ref, connectors.ChecksumRequest{Key: []string{key}, Columns: []string{"t"}}); !errors.Is(err, connectors.ErrUnsupported) {
			t.Errorf("key %s: Checksums: %v", key, err)
		}
		if _, err := src.ReadOrdered(ctx, ref, []string{key}, connectors.ReadOptions{Ranges: []connectors.KeyRange{{}}}); err == nil {
			t.Errorf("key %s: a range read works", key)
		}
	}
	if _, err := src.Checksums(ctx, ref, connectors.ChecksumRequest{Key: []string{"id"}, Columns: []string{"t", "f"}}); !errors.Is(err, connectors.ErrUnsupported) || !strings.Contains(err.Error(), "f cannot") {
		t.Errorf("Checksums of a float: %v", err)
	}
	if _, err := src.Checksummable(ctx, ref, []string{"id"}, []string{"t", "nope"}); !errors.Is(err, connectors.ErrColumnNotFound) {
		t.Errorf("unknown column: %v", err)
	}
	if _, err := src.Checksummable(ctx, ref, []string{"nope"}, []string{"t"}); !errors.Is(err, connectors.ErrColumnNotFound) {
		t.Errorf("unknown key column: %v", err)
	}
	for name, c := range map[string]struct {
		key    []string
		r      connectors.KeyRange
		bounds [][]any
	}{
		"wrong type":      {[]string{"id"}, connectors.KeyRange{From: []any{"1"}}, nil},
		"wrong length":    {[]string{"id"}, connectors.KeyRange{From: []any{int64(1), int64(2)}}, nil},
		"NULL in a bound": {[]string{"id"}, connectors.KeyRange{}, [][]any{{nil}}},
		"nil bound":       {[]string{"id"}, connectors.KeyRange{}, [][]any{nil}},
		"not ascending":   {[]string{"id"}, connectors.KeyRange{}, [][]any{{int64(5)}, {int64(5)}}},
		"below the range": {[]string{"id"}, connectors.KeyRange{From: []any{int64(5)}}, [][]any{{int64(5)}}},
		"above the range": {[]string{"id"}, connectors.KeyRange{To: []any{int64(5)}}, [][]any{{int64(6)}}},
		"text for bytes":  {[]string{"t"}, connectors.KeyRange{From: []any{[]byte("x")}}, nil},
	} {
		if _, err := src.Checksums(ctx, ref, connectors.ChecksumRequest{Key: c.key, Columns: []string{"t"}, Range: c.r, Bounds: c.bounds}); !errors.Is(err, connectors.ErrBadInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A range read that loses its connection resumes inside its range: the
// resume predicate and the range's combine, and the disturbed read hands
// on exactly the rows of an undisturbed one.
func TestRangeReadResumes(t *testing.T) {
	dsn := testdb.Postgres(t)
	bigTable(t, dsn)
	admin := testdb.Connect(t, dsn)
	src, err := Config{Backoff: 10 * time.Millisecond}.Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var retries atomic.Int32
	src.onRetry = func(error) { retries.Add(1) }
	ref := connectors.TableRef{Name: "big", Where: "id % 10 <> 3"}
	for _, key := range [][]string{{"grp"}, {"payload"}, {"grp", "id"}} {
		bounds, err := src.Boundaries(t.Context(), ref, key, connectors.KeyRange{}, 4)
		if err != nil || len(bounds) != 3 {
			t.Fatalf("key %v: bounds %v, %v", key, bounds, err)
		}
		opts := connectors.ReadOptions{BatchRows: 997, Columns: []string{"id", "grp", "payload"}}
		read := func(rs ...connectors.KeyRange) []string {
			t.Helper()
			o := opts
			o.Ranges = rs
			rows, err := rowsOf(mustReadOrdered(t, src, ref, key, o))
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		middle := connectors.KeyRange{From: bounds[0], To: bounds[2]}
		if n := len(read(middle)); n < bigRows*9/10/2-1000 || n > bigRows*9/10/2+1000 {
			t.Errorf("key %v: the middle two of four ranges hold %d rows", key, n)
		}
		// The first, the third and the last quarter, the last two
		// adjacent: what the three reads of each return.
		several := []connectors.KeyRange{{To: bounds[0]}, {From: bounds[1], To: bounds[2]}, {From: bounds[2]}}
		var whole []string
		for _, r := range several {
			whole = append(whole, read(r)...)
		}
		if n := len(whole); n < bigRows*9/10*3/4-1500 || n > bigRows*9/10*3/4+1500 {
			t.Errorf("key %v: three of four ranges hold %d rows", key, n)
		}
		for _, rs := range [][]connectors.KeyRange{{middle}, several} {
			var want []string
			if len(rs) == 1 {
				want = read(middle)
			} else if want = read(rs...); !slices.Equal(want, whole) {
				t.Errorf("key %v: a read of three ranges hands on %d rows, three reads of one %d", key, len(want), len(whole))
			}
			o := opts
			o.Ranges = rs
			retries.Store(0)
			got, err := readDisturbed(t, admin, mustReadOrdered(t, src, ref, key, o), "COPY (%", func(pid uint32) { terminate(t, admin, pid) })
			if err != nil {
				t.Fatal(err)
			}
			if retries.Load() == 0 {
				t.Errorf("key %v: the read never lost its connection: the test proves nothing", key)
			}
			if !slices.Equal(got, want) {
				t.Errorf("key %v, %d range(s): the disturbed range read hands on %d rows, the undisturbed %d", key, len(rs), len(got), len(want))
			}
		}
	}
}

// Several ranges are read in one statement, adjacent ones and open ends
// included; no range at all reads no row; ranges out of order,
// overlapping or open in the middle are refused.
func TestMultiRangeReadEdges(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE m (id int PRIMARY KEY, t text)`,
		`INSERT INTO m SELECT g, 't' || g FROM generate_series(1, 100) g`,
	)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := t.Context()
	ref := connectors.TableRef{Name: "m", Where: "id <> 50"}
	k := func(n int64) []any { return []any{n} }
	ids := func(rs []connectors.KeyRange) (string, error) {
		rr, err := src.ReadOrdered(ctx, ref, []string{"id"}, connectors.ReadOptions{Columns: []string{"id"}, Ranges: rs})
		if err != nil {
			return "", err
		}
		rows, err := rowsOf(rr)
		return strings.Join(rows, ","), err
	}
	var all []string
	for i := 1; i <= 100; i++ {
		if i != 50 {
			all = append(all, strconv.Itoa(i))
		}
	}
	for _, c := range []struct {
		ranges []connectors.KeyRange
		want   string
	}{
		{[]connectors.KeyRange{{To: k(3)}, {From: k(49), To: k(52)}, {From: k(99)}}, "1,2,49,51,99,100"},
		{[]connectors.KeyRange{{From: k(5), To: k(7)}, {From: k(7), To: k(9)}, {From: k(9), To: k(10)}}, "5,6,7,8,9"},
		{[]connectors.KeyRange{{From: k(5), To: k(5)}, {From: k(98), To: k(200)}}, "98,99,100"},
		{[]connectors.KeyRange{{From: k(50), To: k(51)}}, ""},
		{[]connectors.KeyRange{{}}, strings.Join(all, ",")},
		{nil, strings.Join(all, ",")},
	} {
		got, err := ids(c.ranges)
		if err != nil {
			t.Fatalf("%v: %v", c.ranges, err)
		}
		if got != c.want {
			t.Errorf("%v: rows %q, want %q", c.ranges, got, c.want)
		}
	}

	// No range: no row, and the schema of the columns asked for.
	rr, err := src.ReadOrdered(ctx, ref, []string{"id"}, connectors.ReadOptions{Columns: []string{"t"}, Ranges: []connectors.KeyRange{}})
	if err != nil {
		t.Fatal(err)
	}
	if f := rr.Schema().Fields(); len(f) != 1 || f[0].Name != "t" || rr.Next() || rr.Err() != nil {
		t.Errorf("no range: schema %v, rows or error %v", rr.Schema(), rr.Err())
	}
	rr.Release()

	for name, rs := range map[string][]connectors.KeyRange{
		"descending":        {{From: k(10), To: k(20)}, {From: k(1), To: k(5)}},
		"overlapping":       {{From: k(1), To: k(20)}, {From: k(10), To: k(30)}},
		"open in the midst": {{From: k(1), To: k(20)}, {From: k(30)}, {From: k(40)}},
		"open before":       {{From: k(1), To: k(20)}, {To: k(30)}},
		"wrong type":        {{From: k(1), To: k(20)}, {From: []any{"x"}}},
	} {
		if _, err := ids(rs); !errors.Is(err, connectors.ErrBadInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := src.Read(ctx, ref, connectors.ReadOptions{Ranges: []connectors.KeyRange{}}); !errors.Is(err, connectors.ErrUnsupported) {
		t.Errorf("Read with no range: %v", err)
	}
}

// Text keys longer than a name (63 bytes), cut at multibyte characters,
// fall into the ranges their whole text does when width_bucket looks
// them up as names among bounds of up to 60 bytes; longer bounds take
// the CASE.
func TestChecksumLongTextKeys(t *testing.T) {
	dsn := testdb.Postgres(t)
	p58 := strings.Repeat("a", 58)
	var vals []string
	for _, tail := range []string{"", "a", "aa", "aaa", "aaaa", "aaaaa", "aaaaaa", "b", "é", "éé", "ééé", "日", "日日", "🎉", "🎉🎉",
		"aaaaa" + strings.Repeat("z", 10), "aa日" + strings.Repeat("z", 10), "a🎉" + strings.Repeat("z", 10), "🎉🎉" + strings.Repeat("z", 10),
		"aaaab", "aaaaab", "aaaaaab", "aaaaaaab", "aaaaaaaab", "é" + strings.Repeat("a", 10)} {
		vals = append(vals, "("+quoteLiteral(p58+tail)+")")
	}
	testdb.Exec(t, dsn,
		`CREATE TABLE lk (k text PRIMARY KEY)`,
		`INSERT INTO lk VALUES `+strings.Join(vals, ", "),
	)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := t.Context()
	ref := connectors.TableRef{Name: "lk"}
	p, err := src.plan(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := p.rangeKey([]string{"k"})
	if err != nil {
		t.Fatal(err)
	}
	count := func(r connectors.KeyRange) int64 {
		t.Helper()
		rr, err := src.ReadOrdered(ctx, ref, []string{"k"}, connectors.ReadOptions{Ranges: []connectors.KeyRange{r}})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := rowsOf(rr)
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(rows))
	}
	for _, tc := range []struct {
		tails []string // bounds: p58 + tail
		names bool     // looked up as names
	}{
		{[]string{"", "a", "aa"}, true},
		{[]string{"a", "b"}, true},
		{[]string{"é"}, true},
		{[]string{"", "aa", "aaa"}, false},
		{[]string{"a", "aaaa", "é", "éé"}, false},
		{[]string{"日"}, false},
		{[]string{"🎉a"}, false},
	} {
		var bounds [][]any
		for _, tail := range tc.tails {
			bounds = append(bounds, []any{p58 + tail})
		}
		rs, err := newRangeSQL(kc, bounds...)
		if err != nil {
			t.Fatal(err)
		}
		sql, _, err := rs.bucket(bounds, true)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(sql, "::name[]"); got != tc.names {
			t.Errorf("bounds +%q: looked up as names %v, want %v: %s", tc.tails, got, tc.names, sql)
		}
		for _, hash := range []string{"", src.NativeHash()} {
			segs, err := src.Checksums(ctx, ref, connectors.ChecksumRequest{Key: []string{"k"}, Bounds: bounds, Hash: hash})
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for i, s := range segs {
				var r connectors.KeyRange
				if i > 0 {
					r.From = bounds[i-1]
				}
				if i < len(bounds) {
					r.To = bounds[i]
				}
				if n := count(r); s.Rows != n {
					t.Errorf("bounds +%q, hash %q: range %d holds %d rows, the read %d", tc.tails, hash, i, s.Rows, n)
				}
				total += s.Rows
			}
			if total != int64(len(vals)) {
				t.Errorf("bounds +%q: %d rows in all, want %d", tc.tails, total, len(vals))
			}
		}
	}
}

// Checksums finds a row's range with width_bucket over one array
// parameter where the key's type allows, and with a CASE elsewhere.
func TestBucketForms(t *testing.T) {
	col := func(k kind, base string) *colPlan {
		return &colPlan{name: "x", typeName: base, baseName: base, kind: k, expr: `"x"`, notNull: true}
	}
	midnight := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	latin1 := col(kindText, "text")
	latin1.utf8Order = true
	for _, c := range []struct {
		col    *colPlan
		bounds []any
		names  bool
		want   string // the bucket's start, or the parameter's
	}{
		{col(kindInt4, "integer"), []any{int64(1), int64(1) << 40}, true, `pg_catalog.width_bucket(("x")::int8, $1::int8[]) {"1","1099511627776"}`},
		{col(kindUUID, "uuid"), []any{"0a000000-0000-0000-0000-000000000000"}, true, `pg_catalog.width_bucket(("x")::uuid, $1::uuid[])`},
		{col(kindUUID, "uuid"), []any{"0A000000-0000-0000-0000-000000000000"}, true, `CASE WHEN pg_catalog.convert_to(`},
		{col(kindDate, "date"), []any{midnight, time.Unix(math.MaxInt32*86400, 0)}, true, `pg_catalog.width_bucket(("x")::date, $1::date[]) {"2026-01-02","infinity"}`},
		{col(kindDate, "date"), []any{midnight, midnight.Add(time.Hour)}, true, `CASE WHEN "x" < '2026-01-02'::date THEN 0 ELSE CASE WHEN "x" < '2026-01-02 01:00:00.000000'::timestamp`},
		{col(kindTimestamp, "timestamp with time zone"), []any{midnight, time.UnixMicro(math.MinInt64)}, true,
			`pg_catalog.width_bucket(("x")::timestamp with time zone, $1::timestamp with time zone[]) {"2026-01-02 00:00:00.000000+00","-infinity"}`},
		{col(kindText, "text"), []any{"a\"b\\c", "é"}, true, `pg_catalog.width_bucket(("x")::name COLLATE "C", $1::name[]) {"a\"b\\c","é"}`},
		{col(kindText, "text"), []any{"a"}, false, `CASE WHEN ("x") COLLATE "C" < 'a'::text`},
		{col(kindText, "text"), []any{strings.Repeat("a", 61)}, true, `CASE WHEN`},
		{latin1, []any{"a"}, true, `CASE WHEN pg_catalog.convert_to(`},
		{col(kindBPChar, "character"), []any{"a"}, true, `CASE WHEN ("x") COLLATE "C" < 'a'::bpchar`},
		{col(kindBytea, "bytea"), []any{[]byte{1}}, true, `CASE WHEN "x" < E'\\x01'::bytea`},
	} {
		var bounds [][]any
		for _, b := range c.bounds {
			bounds = append(bounds, []any{b})
		}
		rs, err := newRangeSQL([]*colPlan{c.col}, bounds...)
		if err != nil {
			t.Fatal(err)
		}
		sql, params, err := rs.bucket(bounds, c.names)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(append([]string{sql}, params...), " "); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s %v: %s, want %s...", c.col.typeName, c.bounds, got, c.want)
		}
	}
}
