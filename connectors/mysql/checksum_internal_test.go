package mysql

import (
	"bytes"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

// encRow is a row read through the connector: its canonical encoding
// (reconcile.AppendRow) and its key's cells.
type encRow struct {
	enc []byte
	key string
}

// encodeAll reads rr to its end and encodes every row as the engine does.
func encodeAll(t *testing.T, rr array.RecordReader, key []string) []encRow {
	t.Helper()
	defer rr.Release()
	var out []encRow
	for rr.Next() {
		rec := rr.Record()
		var keyIdx []int
		for _, k := range key {
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

// readEnc reads ref in key order (with ranges, if any) and encodes it.
func readEnc(t *testing.T, src *Source, ref connectors.TableRef, key, cols []string, ranges []connectors.KeyRange) []encRow {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rr, err := src.ReadOrdered(t.Context(), ref, key, connectors.ReadOptions{Columns: cols, Allocator: mem, BatchRows: 7, Ranges: ranges})
	if err != nil {
		t.Fatal(err)
	}
	return encodeAll(t, rr, key)
}

// checkCells compares, row by row and cell by cell, the server's canonical
// encoding of the columns with the engine's encoding of the same rows read
// through ReadOrdered, and the server's whole-table checksum with the sum
// of the engine's row hashes.
func checkCells(t *testing.T, src *Source, ref connectors.TableRef, key, cols []string) {
	t.Helper()
	rows := readEnc(t, src, ref, key, cols, nil)
	p, err := src.plan(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := p.pick(cols)
	if err != nil {
		t.Fatal(err)
	}
	row, refused := rowSQL(pc)
	if refused != nil {
		t.Fatalf("columns refused: %q", refused)
	}
	var items, order []string
	for _, c := range pc {
		cell, _ := cellSQL(c)
		items = append(items, cell)
	}
	for _, k := range key {
		c := &p.cols[p.column(k)]
		order = append(order, c.expr+" IS NULL", c.order)
	}
	sql := "SELECT " + row + ", " + strings.Join(items, ", ") + " FROM " + p.from + p.whereSQL() + " ORDER BY " + strings.Join(order, ", ")
	var got [][][]byte
	err = src.statement(t.Context(), sql, nil, func(v []driver.Value) error {
		r := make([][]byte, len(v))
		for i, x := range v {
			b, ok := x.([]byte)
			if !ok {
				return fmt.Errorf("value %d: %T %v", i, x, x)
			}
			r[i] = append([]byte(nil), b...)
		}
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("the server encoded %d rows, the read returned %d", len(got), len(rows))
	}
	for i, r := range rows {
		cells, err := reconcile.SplitCells(r.enc, nil)
		if err != nil {
			t.Fatal(err)
		}
		for j, c := range cells {
			if !bytes.Equal(got[i][j+1], c) {
				t.Errorf("row %d column %s: server %s, engine %s (%s)", i, pc[j].name, short(got[i][j+1]), short(c), reconcile.Value(c))
			}
		}
		if !bytes.Equal(got[i][0], r.enc) {
			t.Errorf("row %d: server row %s, engine %s", i, short(got[i][0]), short(r.enc))
		}
	}
	segs, err := src.Checksums(t.Context(), ref, connectors.ChecksumRequest{Key: key, Columns: cols})
	if err != nil {
		t.Fatal(err)
	}
	// The key (the primary key) is unique: Keys is the row count.
	want := segmentOf(rows)
	want.Keys = want.Rows
	if len(segs) != 1 || segs[0] != want {
		t.Errorf("checksum %+v, want %+v", segs, want)
	}
}

// openSource opens a Source on loc, closed when the test ends.
func openSource(t *testing.T, loc string) *Source {
	t.Helper()
	src, err := Open(t.Context(), loc, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// The type matrix: every MySQL type the connector reads, with extremes,
// NULLs, invalid dates and lengths that need multi-byte length prefixes.
const matrixTable = `CREATE TABLE m (
  id int PRIMARY KEY,
  b tinyint(1), ti tinyint, tu tinyint unsigned, si smallint, su smallint unsigned, mi mediumint, mu mediumint unsigned,
  i int, iu int unsigned, bi bigint, bu bigint unsigned,
  d12 decimal(12,2), d38 decimal(38,10), d65 decimal(65,30), d0 decimal(30,0),
  bit1 bit(1), bit12 bit(12), bit64 bit(64), yr year,
  dt date, dtm datetime, dtm6 datetime(6), ts timestamp(6) NULL, tm time(6), tm0 time,
  c char(5), vc varchar(20), lat varchar(20) CHARACTER SET latin1, ci varchar(20) COLLATE utf8mb4_general_ci,
  tx text, mt mediumtext, e enum('x','y'), st set('a','b','c'),
  bin binary(3), vb varbinary(10), bl blob, lb longblob, g point, uu uuid, ip inet6
)`

var matrixRows = []string{
	`(1, 1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
	  -1234567890.12, -1234567890123456789012345678.0123456789, '12345678901234567890123456789012345.123456789012345678901234567890', 123456789012345678901234567890,
	  b'1', b'101010101010', b'1111111111111111111111111111111111111111111111111111111111111111', 2024,
	  '2024-02-29', '2026-01-02 03:04:05', '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05.5', '-838:59:59', '838:59:59',
	  'ab  ', 'Straße ', 'café', 'ABC', 'line\nbreak', REPEAT('ü', 9000), 'y', 'c,a',
	  0x0102, 0xff00, 'blob', REPEAT('x', 200), ST_GeomFromText('POINT(1 2)'), 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '::1')`,
	`(2, 2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 9223372036854775807,
	  0.07, 0.0000000001, -0.000000000000000000000000000001, -100000000000000000000,
	  b'0', b'0', b'0', 0,
	  '0000-00-00', '0000-00-00 00:00:00', '2024-00-15 10:00:00', '0000-00-00 00:00:00', '-00:00:00.5', '00:00:00',
	  '', '', '', '', '', '', 'x', '',
	  '', '', '', '', NULL, '00000000-0000-0000-0000-000000000000', '255.1.2.3')`,
	`(3, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 9223372036854775808,
	  12.30, 1.5, 100000000000000000000, 9223372036854775808,
	  NULL, b'111111111111', b'1000000000000000000000000000000000000000000000000000000000000000', 1901,
	  '0000-01-01', '0000-02-29 23:59:59', '0000-01-01 00:00:00.000001', '1970-01-01 00:00:01', '00:00:00.000001', '-00:00:01',
	  'a', ' ', 'Ä', 'a\0b', REPEAT('x', 127), REPEAT('y', 128), NULL, 'a,b,c',
	  0x000000, 0x00, 0x00, REPEAT('z', 16384), ST_GeomFromText('POINT(-1.5 0)'), 'ffffffff-ffff-ffff-ffff-ffffffffffff', NULL)`,
	`(4, -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1, 10000000000000000000,
	  10000000000, -9223372036854775808, -9223372036854775809, -9223372036854775808,
	  NULL, NULL, NULL, NULL,
	  '2023-02-30', '1000-01-01 00:00:00', '9999-12-31 23:59:59.999999', NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL,
	  '1969-12-31', '1969-12-31 23:59:59.999999', '0001-01-01 00:00:00', NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	  NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
}

// The server's encoding of every type it checksums is byte for byte the
// engine's encoding of the value the connector reads, and its checksum of
// the table the sum of the engine's row hashes.
func TestChecksumTypeMatrix(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc, "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'", "SET SESSION time_zone = '+00:00'", matrixTable,
		"INSERT INTO m VALUES "+strings.Join(matrixRows, ", "),
		"CREATE TABLE fj (id int PRIMARY KEY, f float, db double, j json, k float)",
		// NOT NULL columns skip the NULL test; text in UTF-8 or ASCII is
		// hashed as stored, other character sets converted.
		`CREATE TABLE nn (id int PRIMARY KEY, c char(5) NOT NULL, vc varchar(20) NOT NULL, lat varchar(10) CHARACTER SET latin1 NOT NULL,
		  a varchar(10) CHARACTER SET ascii NOT NULL, m3 varchar(10) CHARACTER SET utf8mb3 NOT NULL, yr year NOT NULL, b bit(1) NOT NULL,
		  dt datetime(6) NOT NULL, d date NOT NULL, tm time NOT NULL, n decimal(10,2) NOT NULL, bu bigint unsigned NOT NULL,
		  ti tinyint unsigned NOT NULL, bin varbinary(5) NOT NULL, u uuid NOT NULL, e enum('x', 'ÿ') NOT NULL)`,
		`INSERT INTO nn VALUES (1, 'ab  ', 'é ', 'café', 'abc', 'ü', 2024, b'1', '0000-00-00 00:00:00', '2024-02-30', '-01:00:00', -1.50, 18446744073709551615, 255, X'00FF', UUID(), 'ÿ'),
		  (2, '', '', '', '', '', 0, b'0', '2000-01-01 00:00:00.5', '0000-00-00', '00:00:00', 0, 0, 0, X'', '00000000-0000-0000-0000-000000000000', 'x')`)
	src := openSource(t, loc)
	ref := connectors.TableRef{Name: "m"}
	info, err := src.Describe(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, f := range info.Schema.Fields() {
		all = append(all, f.Name)
		checkCells(t, src, ref, []string{"id"}, []string{f.Name})
	}
	checkCells(t, src, ref, []string{"id"}, all)
	// Column order is the request's.
	checkCells(t, src, ref, []string{"id"}, []string{"tx", "id", "dt", "bu"})
	// A query reads its columns from the result set's types.
	checkCells(t, src, connectors.TableRef{Query: "SELECT id, bi, bu, d12, d65, dt, dtm6, ts, tm, vc, bin, bl, bit12 FROM m"}, []string{"id"}, nil)
	// Whole rows at once, through a filter.
	checkCells(t, src, connectors.TableRef{Name: "m", Where: "id <> 3"}, []string{"id"}, nil)

	nn := connectors.TableRef{Name: "nn"}
	checkCells(t, src, nn, []string{"id"}, nil)
	info, err = src.Describe(t.Context(), nn)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range info.Schema.Fields() {
		checkCells(t, src, nn, []string{"id"}, []string{f.Name})
	}
	refused, err := src.Checksummable(t.Context(), connectors.TableRef{Name: "fj"}, []string{"id"}, nil)
	if err != nil || strings.Join(refused, ",") != "f,db,j,k" {
		t.Errorf("Checksummable of floats and json = %q, %v; want f,db,j,k", refused, err)
	}
	refused, err = src.Checksummable(t.Context(), ref, []string{"id"}, nil)
	if err != nil || refused != nil {
		t.Errorf("Checksummable of the matrix = %q, %v; want none refused", refused, err)
	}
}

// nullKey reports whether the key cells of an encoded row hold a NULL.
func nullKey(t *testing.T, r encRow) bool {
	cells, err := reconcile.SplitCells([]byte(r.key), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if c.IsNull() {
			return true
		}
	}
	return false
}

func sameRows(a, b []encRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].enc, b[i].enc) {
			return false
		}
	}
	return true
}

// checkSplit splits the rows of ref in r by key into about n ranges and
// checks that the bounds are ascending and inside r, that the checksums
// of the ranges are those of the rows ReadOrdered returns for each range,
// and that those rows are, range after range, the rows of r without NULL
// keys in the read's order. It returns the bounds and the rows per range.
func checkSplit(t *testing.T, src *Source, ref connectors.TableRef, key []string, r connectors.KeyRange, n int) ([][]any, [][]encRow) {
	t.Helper()
	var want []encRow
	var ranges []connectors.KeyRange
	if r.From != nil || r.To != nil {
		ranges = []connectors.KeyRange{r}
	}
	for _, row := range readEnc(t, src, ref, key, nil, ranges) {
		if !nullKey(t, row) {
			want = append(want, row)
		}
	}
	p, err := src.plan(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	kcols, err := p.rangeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	bounds, err := src.Boundaries(t.Context(), ref, key, r, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(bounds) > n-1 {
		t.Errorf("%d bounds for %d ranges", len(bounds), n)
	}
	for i, b := range bounds {
		if i > 0 && compareTuple(kcols, bounds[i-1], b) >= 0 {
			t.Errorf("bounds %v and %v are not ascending", bounds[i-1], b)
		}
		if r.From != nil && compareTuple(kcols, r.From, b) >= 0 || r.To != nil && compareTuple(kcols, b, r.To) >= 0 {
			t.Errorf("bound %v lies outside %v", b, r)
		}
	}
	segs, err := src.Checksums(t.Context(), ref, connectors.ChecksumRequest{Key: key, Range: r, Bounds: bounds})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != len(bounds)+1 {
		t.Fatalf("%d segments for %d bounds", len(segs), len(bounds))
	}
	var got []encRow
	var per [][]encRow
	for i := range segs {
		seg := connectors.KeyRange{From: r.From, To: r.To}
		if i > 0 {
			seg.From = bounds[i-1]
		}
		if i < len(bounds) {
			seg.To = bounds[i]
		}
		rows := readEnc(t, src, ref, key, nil, []connectors.KeyRange{seg})
		if w := segmentOf(rows); segs[i] != w {
			t.Errorf("segment %d [%v, %v): checksum %+v, the rows read give %+v", i, seg.From, seg.To, segs[i], w)
		}
		got = append(got, rows...)
		per = append(per, rows)
	}
	if !sameRows(got, want) {
		t.Errorf("the ranges' reads hold %d rows, the whole read %d (or in another order)", len(got), len(want))
	}
	// All ranges at once, and every other range, in one read each.
	// (No range at all, when there is a single one, reads no row.)
	var all []connectors.KeyRange
	odd := []connectors.KeyRange{}
	var oddRows []encRow
	for i := range segs {
		seg := connectors.KeyRange{From: r.From, To: r.To}
		if i > 0 {
			seg.From = bounds[i-1]
		}
		if i < len(bounds) {
			seg.To = bounds[i]
		}
		all = append(all, seg)
		if i%2 == 1 {
			odd = append(odd, seg)
			oddRows = append(oddRows, per[i]...)
		}
	}
	if rows := readEnc(t, src, ref, key, nil, all); !sameRows(rows, want) {
		t.Errorf("one read of all %d ranges: %d rows, want %d", len(all), len(rows), len(want))
	}
	if rows := readEnc(t, src, ref, key, nil, odd); !sameRows(rows, oddRows) {
		t.Errorf("one read of %d ranges: %d rows, want %d", len(odd), len(rows), len(oddRows))
	}
	return bounds, per
}

// Boundaries split each key type's rows into ranges whose checksums are
// those of the rows range reads return, in the read's key order, and so
// do the ranges of a split inside one of them.
func TestBoundariesAndChecksums(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc, "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
		`CREATE TABLE ints (id bigint PRIMARY KEY, v varchar(10))`,
		`INSERT INTO ints SELECT CAST(seq AS SIGNED) * 3 - 1000, CONCAT('v', seq) FROM seq_1_to_2000`,
		`CREATE TABLE ubig (id bigint unsigned PRIMARY KEY, v int)`,
		`INSERT INTO ubig VALUES (0, 1), (5, 2), (9223372036854775806, 3), (9223372036854775807, 4), (9223372036854775808, 5), (18446744073709551615, 6)`,
		`INSERT INTO ubig SELECT seq * 1000, seq FROM seq_1_to_300`,
		// A text key that repeats, under a case- and accent-insensitive
		// collation, with NULLs: compared and counted as UTF-8 bytes.
		`CREATE TABLE texts (id int PRIMARY KEY, s varchar(20) COLLATE utf8mb4_general_ci NULL, n int)`,
		`INSERT INTO texts SELECT seq, ELT(seq % 14 + 1, 'a', 'A', 'á', 'b', ' a', 'a ', '', NULL, 'Straße', 'STRASSE', 'a\tb', 'z', 'ä', 'ß'), seq FROM seq_1_to_700`,
		`CREATE TABLE comp (a int NOT NULL, b varchar(10) COLLATE utf8mb4_general_ci NOT NULL, v int, PRIMARY KEY (a, b))`,
		`INSERT INTO comp SELECT seq % 7, CONCAT(ELT(seq % 3 + 1, 'x', 'X', 'y'), seq), seq FROM seq_1_to_900`,
		`CREATE TABLE times (id int PRIMARY KEY, dt datetime(6) NOT NULL, ts timestamp(3) NULL, d date NOT NULL, bin varbinary(8) NOT NULL)`,
		`INSERT INTO times SELECT seq, TIMESTAMP'1969-12-31 23:00:00' + INTERVAL (seq DIV 2) * 1001 SECOND + INTERVAL seq MICROSECOND,
		   IF(seq % 5 = 0, NULL, TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq * 77 SECOND), DATE'0000-01-01' + INTERVAL (seq % 400) * 9 DAY, UNHEX(LPAD(HEX(seq * 7919 % 1000), 4, '0')) FROM seq_1_to_800`,
		`INSERT INTO times VALUES (900, '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00', X''), (901, '0000-00-00 00:00:00', NULL, '2023-02-30', X'00')`,
	)
	src := openSource(t, loc)
	for _, tc := range []struct {
		table string
		key   []string
		n     int
	}{
		{"ints", []string{"id"}, 10},
		{"ints", []string{"v"}, 7},
		{"ubig", []string{"id"}, 5},
		{"texts", []string{"s"}, 6},
		{"texts", []string{"s", "n"}, 9},
		{"comp", []string{"a", "b"}, 8},
		{"comp", []string{"b"}, 5},
		{"times", []string{"dt"}, 9},
		{"times", []string{"ts"}, 9},
		{"times", []string{"d"}, 9},
		{"times", []string{"d", "dt"}, 9},
		{"times", []string{"bin"}, 6},
	} {
		t.Run(tc.table+"/"+strings.Join(tc.key, ","), func(t *testing.T) {
			ref := connectors.TableRef{Name: tc.table}
			bounds, per := checkSplit(t, src, ref, tc.key, connectors.KeyRange{}, tc.n)
			if len(bounds) < 2 {
				t.Fatalf("only %d bounds", len(bounds))
			}
			if tc.table != "ubig" {
				// About equal row counts: no range holds more than twice
				// its share.
				total := 0
				for _, rows := range per {
					total += len(rows)
				}
				for i, rows := range per {
					if len(rows) > 2*total/tc.n+2 {
						t.Errorf("range %d holds %d of %d rows", i, len(rows), total)
					}
				}
			}
			// A split inside a range of the split.
			inner := connectors.KeyRange{From: bounds[0], To: bounds[1]}
			checkSplit(t, src, ref, tc.key, inner, 4)
			// A single range, or none, splits into nothing.
			if b, err := src.Boundaries(t.Context(), ref, tc.key, inner, 1); err != nil || b != nil {
				t.Errorf("Boundaries(n = 1) = %v, %v", b, err)
			}
		})
	}
}

// readIDs reads column id of ref in key order, restricted to ranges.
func readIDs(t *testing.T, src *Source, ref connectors.TableRef, key []string, ranges []connectors.KeyRange) ([]string, error) {
	t.Helper()
	rr, err := src.ReadOrdered(t.Context(), ref, key, connectors.ReadOptions{Columns: []string{"id"}, Ranges: ranges})
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	var out []string
	for rr.Next() {
		rec := rr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, rec.Column(0).ValueStr(i))
		}
	}
	return out, rr.Err()
}

// A range read returns exactly the rows in [From, To), in the engine's key
// order, whatever the bound values: open bounds, text with trailing
// spaces, NUL bytes or invalid UTF-8, integers beyond the column's type,
// dates with a time of day, instants between microseconds. Checksums
// count the same rows.
func TestKeyRangeEdges(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		`CREATE TABLE e (id tinyint PRIMARY KEY, s varchar(10) COLLATE utf8mb4_general_ci NOT NULL, dt datetime(6) NOT NULL, d date NOT NULL, b varbinary(4) NOT NULL)`,
		`INSERT INTO e VALUES
		  (1, 'a',   '2024-01-01 00:00:00.000001', '2024-01-01', X'00'),
		  (2, 'a ',  '2024-01-01 00:00:00.000002', '2024-01-02', X''),
		  (3, 'a\0', '2024-01-01 00:00:00',        '2023-12-31', X'0000'),
		  (4, 'ab',  '2024-01-01 00:00:01',        '2024-01-03', X'FF'),
		  (5, 'B',   '1999-01-01 00:00:00',        '1000-01-01', X'7F'),
		  (6, 'é',   '9999-12-31 23:59:59.999999', '9999-12-31', X'80')`)
	src := openSource(t, loc)
	ref := connectors.TableRef{Name: "e"}
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04:05.999999999", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		key      string
		from, to any // nil: open
		want     string
	}{
		{"id", nil, nil, "1 2 3 4 5 6"},
		{"id", int64(-1000), int64(3), "1 2"},
		{"id", int32(3), nil, "3 4 5 6"},
		{"id", int64(300), nil, ""},
		{"id", nil, int64(-300), ""},
		{"s", nil, "a\x00", "5 1"},
		{"s", "a\x00", "ab", "3 2"},
		{"s", "a ", "a!", "2"},
		{"s", "a\xff", nil, "6"},
		{"s", "B", "b", "5 1 3 2 4"},
		{"s", "", "\xc3\xa9", "5 1 3 2 4"},
		{"dt", at("2024-01-01 00:00:00.0000005"), nil, "1 2 4 6"},
		{"dt", at("2024-01-01 00:00:00"), at("2024-01-01 00:00:00.000001"), "3"},
		{"dt", nil, at("2024-01-01 00:00:00.000000001"), "5 3"},
		{"d", at("2024-01-01 12:00:00"), nil, "2 4 6"},
		{"d", at("2024-01-01 00:00:00"), at("2024-01-02 00:00:00.000001"), "1 2"},
		{"d", at("0000-01-01 00:00:00"), at("1000-01-01 00:00:00"), ""},
		{"b", []byte{}, []byte{0}, "2"},
		{"b", []byte{0}, []byte{0x80}, "1 3 5"},
		{"b", "\x80", nil, "6 4"},
	} {
		r := connectors.KeyRange{}
		if tc.from != nil {
			r.From = []any{tc.from}
		}
		if tc.to != nil {
			r.To = []any{tc.to}
		}
		got, err := readIDs(t, src, ref, []string{tc.key}, []connectors.KeyRange{r})
		if err != nil {
			t.Errorf("%s [%v, %v): %v", tc.key, tc.from, tc.to, err)
			continue
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s [%q, %q): read %q, want %q", tc.key, tc.from, tc.to, got, tc.want)
		}
		segs, err := src.Checksums(t.Context(), ref, connectors.ChecksumRequest{Key: []string{tc.key}, Range: r})
		if err != nil || len(segs) != 1 || segs[0].Rows != int64(len(got)) {
			t.Errorf("%s [%q, %q): checksums %+v, %v; want %d rows", tc.key, tc.from, tc.to, segs, err, len(got))
		}
	}
	// Bounds MySQL cannot hold are refused.
	for _, r := range []connectors.KeyRange{
		{From: []any{at("0000-01-01 00:00:00").Add(-time.Microsecond)}},
		{To: []any{at("9999-12-31 23:59:59.999999").Add(time.Nanosecond)}},
	} {
		if _, err := readIDs(t, src, ref, []string{"dt"}, []connectors.KeyRange{r}); !errors.Is(err, connectors.ErrBadInput) || !strings.Contains(err.Error(), "key column dt") {
			t.Errorf("bound %v: %v, want a bad input error naming the column", r, err)
		}
	}
}

// Several ranges are read in one statement, adjacent ones and open ends
// included; no range at all reads no row; ranges out of order, overlapping,
// open in the middle or of the wrong type are refused.
func TestMultiRangeReadEdges(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		`CREATE TABLE r (id int PRIMARY KEY, k varchar(5) NOT NULL)`,
		`INSERT INTO r SELECT seq, CHAR(96 + seq) FROM seq_1_to_10`)
	src := openSource(t, loc)
	ref := connectors.TableRef{Name: "r"}
	i := func(n int64) []any { return []any{n} }
	b := []any{int64(4)} // one bound shared by two adjacent ranges
	for _, tc := range []struct {
		ranges []connectors.KeyRange
		want   string
	}{
		{[]connectors.KeyRange{{To: i(3)}, {From: i(5), To: i(6)}, {From: i(9)}}, "1 2 5 9 10"},
		{[]connectors.KeyRange{{From: i(2), To: b}, {From: b, To: i(6)}}, "2 3 4 5"},
		{[]connectors.KeyRange{{From: i(2), To: i(3)}, {From: i(3), To: i(4)}, {From: i(8)}}, "2 3 8 9 10"},
		{[]connectors.KeyRange{}, ""},
		{[]connectors.KeyRange{{}}, "1 2 3 4 5 6 7 8 9 10"},
	} {
		got, err := readIDs(t, src, ref, []string{"id"}, tc.ranges)
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("ranges %v: %q, %v; want %q", tc.ranges, got, err, tc.want)
		}
	}
	for _, bad := range [][]connectors.KeyRange{
		{{From: i(5), To: i(6)}, {From: i(2), To: i(3)}},
		{{From: i(2), To: i(6)}, {From: i(5), To: i(8)}},
		{{From: i(2)}, {From: i(5), To: i(8)}},
		{{From: i(6), To: i(2)}},
		{{From: []any{"x"}}},
		{{From: []any{int64(1), int64(2)}}},
		{{From: []any{nil}}},
	} {
		if _, err := readIDs(t, src, ref, []string{"id"}, bad); !errors.Is(err, connectors.ErrBadInput) {
			t.Errorf("ranges %v: %v, want a bad input error", bad, err)
		}
	}
	if _, err := src.Read(t.Context(), ref, connectors.ReadOptions{Ranges: []connectors.KeyRange{{}}}); !errors.Is(err, connectors.ErrUnsupported) {
		t.Errorf("ranges in an unordered read: %v", err)
	}
}

// What cannot be done says so, naming the table and the column.
func TestChecksumRefusals(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		`CREATE TABLE x (id int PRIMARY KEY, f float, j json, n decimal(5,2), tm time, v varchar(5))`,
		`INSERT INTO x VALUES (1, 1.5, '[]', 1.5, '00:00:01', 'a'), (2, 2.5, '{}', 2.5, '00:00:02', 'b')`)
	src := openSource(t, loc)
	ref := connectors.TableRef{Name: "x"}
	ctx := t.Context()
	i := func(n int64) []any { return []any{n} }
	cols := []string{"id", "v"}
	for name, req := range map[string]connectors.ChecksumRequest{
		"descending bounds":  {Key: []string{"id"}, Columns: cols, Bounds: [][]any{i(5), i(3)}},
		"equal bounds":       {Key: []string{"id"}, Columns: cols, Bounds: [][]any{i(3), i(3)}},
		"bound at From":      {Key: []string{"id"}, Columns: cols, Range: connectors.KeyRange{From: i(3)}, Bounds: [][]any{i(3)}},
		"bound beyond To":    {Key: []string{"id"}, Columns: cols, Range: connectors.KeyRange{To: i(3)}, Bounds: [][]any{i(4)}},
		"nil bound":          {Key: []string{"id"}, Columns: cols, Bounds: [][]any{nil}},
		"text for an int":    {Key: []string{"id"}, Columns: cols, Bounds: [][]any{{"3"}}},
		"two values for one": {Key: []string{"id"}, Columns: cols, Bounds: [][]any{{int64(1), int64(2)}}},
	} {
		if _, err := src.Checksums(ctx, ref, req); !errors.Is(err, connectors.ErrBadInput) || !strings.HasPrefix(err.Error(), "checksum x: ") {
			t.Errorf("%s: %v, want a bad input error", name, err)
		}
	}
	for name, req := range map[string]connectors.ChecksumRequest{
		"a float column":  {Key: []string{"id"}, Columns: []string{"id", "f"}},
		"a json column":   {Key: []string{"id"}, Columns: []string{"j"}},
		"a native hash":   {Key: []string{"id"}, Hash: "mysql md5"},
		"a decimal key":   {Key: []string{"n"}},
		"a time key":      {Key: []string{"tm"}},
		"a float key":     {Key: []string{"f"}},
		"no key":          {},
		"a repeated key":  {Key: []string{"id", "id"}},
		"a missing key":   {Key: []string{"nope"}},
		"a missing colum": {Key: []string{"id"}, Columns: []string{"nope"}},
	} {
		_, err := src.Checksums(ctx, ref, req)
		if err == nil || !(errors.Is(err, connectors.ErrUnsupported) || errors.Is(err, connectors.ErrColumnNotFound)) {
			t.Errorf("%s: %v, want an unsupported or column-not-found error", name, err)
		}
	}
	_, err := src.Checksums(ctx, ref, connectors.ChecksumRequest{Key: []string{"n"}})
	if err == nil || !strings.Contains(err.Error(), `key column "n" (decimal(5,2)) cannot bound key ranges`) {
		t.Errorf("decimal key: %v", err)
	}
	if _, err := src.Boundaries(ctx, ref, []string{"j"}, connectors.KeyRange{}, 4); !errors.Is(err, connectors.ErrUnsupported) || !strings.HasPrefix(err.Error(), "split x: ") {
		t.Errorf("Boundaries on a json key: %v", err)
	}
	if _, err := src.Checksummable(ctx, ref, []string{"tm"}, nil); !errors.Is(err, connectors.ErrUnsupported) {
		t.Errorf("Checksummable with a time key: %v", err)
	}
	if refused, err := src.Checksummable(ctx, ref, []string{"id"}, []string{"v", "f", "n", "j", "tm"}); err != nil || strings.Join(refused, ",") != "f,j" {
		t.Errorf("Checksummable = %q, %v; want f,j", refused, err)
	}
	if got := src.NativeHash(); got != "" {
		t.Errorf("NativeHash = %q, want none", got)
	}
}

// A range read that loses its connection resumes inside its range: the
// resume predicate and the ranges' combine, and the disturbed read hands
// on exactly the rows of an undisturbed one.
func TestRangeReadResumes(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		`CREATE TABLE t (id int PRIMARY KEY, s varchar(10) NOT NULL, v varchar(1000))`,
		`INSERT INTO t SELECT seq, CONCAT('k', seq % 50), REPEAT('x', 1000) FROM seq_1_to_40000`)
	src := openSource(t, loc)
	ref := connectors.TableRef{Name: "t"}
	ranges := []connectors.KeyRange{{From: []any{"k1"}, To: []any{"k20"}}, {From: []any{"k3"}, To: []any{"k4"}}}
	want := readEnc(t, src, ref, []string{"s"}, nil, ranges)
	rr, err := src.ReadOrdered(t.Context(), ref, []string{"s"}, connectors.ReadOptions{BatchRows: 500, Ranges: ranges})
	if err != nil {
		t.Fatal(err)
	}
	killed := false
	var got []encRow
	for rr.Next() {
		rec := rr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			enc, err := reconcile.AppendRow(nil, rec, i)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, encRow{enc: enc})
		}
		if !killed {
			killed = true
			src.mu.Lock()
			id := src.sess.id
			src.mu.Unlock()
			if _, err := testdb.OpenMySQL(t, loc).ExecContext(t.Context(), fmt.Sprintf("KILL %d", id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	rr.Release()
	if len(src.Resumes()) != 1 {
		t.Errorf("resumes: %v, want one", src.Resumes())
	}
	if len(want) < 2000 || !sameRows(got, want) {
		t.Errorf("the resumed read returned %d rows, the undisturbed one %d (or others)", len(got), len(want))
	}
}
