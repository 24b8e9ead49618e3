package mysql

import (
	"bytes"
	"database/sql/driver"
	"fmt"
	"strings"
	"testing"

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
		"CREATE TABLE fj (id int PRIMARY KEY, f float, db double, j json, k float)")
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

	refused, err := src.Checksummable(t.Context(), connectors.TableRef{Name: "fj"}, []string{"id"}, nil)
	if err != nil || strings.Join(refused, ",") != "f,db,j,k" {
		t.Errorf("Checksummable of floats and json = %q, %v; want f,db,j,k", refused, err)
	}
	refused, err = src.Checksummable(t.Context(), ref, []string{"id"}, nil)
	if err != nil || refused != nil {
		t.Errorf("Checksummable of the matrix = %q, %v; want none refused", refused, err)
	}
}
