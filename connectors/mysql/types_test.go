package mysql_test

import (
	"strings"
	"testing"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

const typesTable = `CREATE TABLE types (
  id int PRIMARY KEY,
  b tinyint(1), ti tinyint, tu tinyint unsigned, si smallint, su smallint unsigned, mi mediumint, mu mediumint unsigned,
  i int, iu int unsigned, bi bigint, bu bigint unsigned,
  d12 decimal(12,2), d65 decimal(65,30), f float, db double,
  bit1 bit(1), bit12 bit(12), yr year,
  dt date, dtm datetime, dtm6 datetime(6), ts timestamp(6) NULL, tm time(6),
  c char(5), vc varchar(20), lat varchar(20) CHARACTER SET latin1, tx text, e enum('x','y'), st set('a','b','c'),
  j json, bin binary(3), vb varbinary(10), bl blob, g point
)`

// TestTypes reads every MySQL type family and checks the Arrow type and
// the values, extremes, zero dates and NULLs included.
func TestTypes(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc, "SET SESSION sql_mode = ''", "SET SESSION time_zone = '+00:00'", typesTable,
		`INSERT INTO types VALUES (1,
  1, -128, 255, -32768, 65535, -8388608, 16777215,
  -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
  -1234567890.12, '12345678901234567890123456789012345.123456789012345678901234567890', 0.1, 0.1,
  b'1', b'101010101010', 2024,
  '2024-02-29', '2026-01-02 03:04:05', '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05.5', '-838:59:59',
  'ab  ', 'Straße', 'café', 'line
break', 'y', 'c,a',
  '{"b":1,"a":[1,2]}', 0x0102, 0xff00, 'blob', ST_GeomFromText('POINT(1 2)'))`,
		`INSERT INTO types (id, b, f, db, bu, dt, dtm, dtm6, ts, tm, vc) VALUES (2, 2, 16777217, 1e300, 0,
  '0000-00-00', '0000-00-00 00:00:00', '2024-00-15 10:00:00', '0000-00-00 00:00:00', '12:00:00.5', 'STRASSE')`,
		`INSERT INTO types (id) VALUES (3)`,
	)
	src := open(t, loc, mysql.Config{})
	ref := connectors.TableRef{Name: "types"}
	info, err := src.Describe(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	diffLines(t, "types", fieldTypes(info.Schema), []string{
		"id int32", "b int8", "ti int8", "tu uint8", "si int16", "su uint16", "mi int32", "mu uint32",
		"i int32", "iu uint32", "bi int64", "bu uint64",
		"d12 decimal(12, 2)", "d65 utf8 [reconcile.logical]=[decimal]", "f float32", "db float64",
		"bit1 bool", "bit12 uint64", "yr int16",
		"dt date32 [reconcile.invalid]=[min]", "dtm timestamp[us] [reconcile.invalid]=[min]", "dtm6 timestamp[us] [reconcile.invalid]=[min]",
		"ts timestamp[us, tz=UTC] [reconcile.invalid]=[min]", "tm time64[us]",
		"c utf8", "vc utf8", "lat utf8", "tx utf8", "e utf8", "st utf8",
		"j utf8 [reconcile.logical]=[json]", "bin binary", "vb binary", "bl binary", "g utf8",
	})
	// Each text column names its collation (the database's default here),
	// for diff --collation-aware; JSON and the geometry's text do not.
	var coll []string
	for _, c := range collations(info.Schema) {
		name, value, _ := strings.Cut(c, " ")
		coll = append(coll, name)
		if !strings.Contains(value, "_") {
			t.Errorf("column %s: collation %q", name, value)
		}
	}
	diffLines(t, "collations", coll, []string{"c", "vc", "lat", "tx", "e", "st"})
	if !strings.Contains(strings.Join(info.Notes, "\n"), "column g (point) compared by its text form") {
		t.Errorf("notes = %q, want one on the geometry column", info.Notes)
	}
	got := readAll(t, src, ref, nil, connectors.ReadOptions{BatchRows: 2})
	diffLines(t, "rows", got, []string{
		`1 | 1 | -128 | 255 | -32768 | 65535 | -8388608 | 16777215 | -2147483648 | 4294967295 | -9223372036854775808 | 18446744073709551615 | ` +
			`-1234567890.12 | "12345678901234567890123456789012345.123456789012345678901234567890" | 0.1 | 0.1 | true | 2730 | 2024 | ` +
			`2024-02-29 | 2026-01-02 03:04:05 | 2026-01-02 03:04:05.123456 | 2026-01-02 03:04:05.5 | -838h59m59s | ` +
			`"ab" | "Straße" | "café" | "line\nbreak" | "y" | "a,c" | "{\"b\":1,\"a\":[1,2]}" | 010200 | ff00 | 626c6f62 | "POINT(1 2)"`,
		`2 | 2 | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | 0 | NULL | NULL | 1.6777216e+07 | 1e+300 | NULL | NULL | NULL | ` +
			`invalid | invalid | invalid | invalid | 12h0m0.5s | NULL | "STRASSE" | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL`,
		`3 | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | ` +
			`NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL`,
	})
}

// diffTables diffs two tables of the database at loc, each through its
// own Source, and returns the result and the changes.
func diffTables(t *testing.T, loc, a, b string, opts reconcile.Options) (*reconcile.Result, []reconcile.Change) {
	t.Helper()
	sa, sb := open(t, loc, mysql.Config{}), open(t, loc, mysql.Config{})
	var changes []reconcile.Change
	res, err := reconcile.Diff(t.Context(),
		reconcile.Input{Source: sa, Table: connectors.TableRef{Name: a}},
		reconcile.Input{Source: sb, Table: connectors.TableRef{Name: b}},
		opts, func(c reconcile.Change) error { changes = append(changes, c); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return res, changes
}

// TestCompareSemantics checks how values compare through the engine: JSON
// by canonical form, zero dates as invalid values (equal to each other,
// never to a valid date), text byte-wise whatever the collation.
func TestCompareSemantics(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc, "SET SESSION sql_mode = ''",
		"CREATE TABLE a (id int PRIMARY KEY, j json, d date, s varchar(20) COLLATE utf8mb4_general_ci, flag tinyint(1))",
		"CREATE TABLE b LIKE a",
		`INSERT INTO a VALUES (1, '{"b":1,"a":[1,2]}', '2024-01-01', 'x', 1), (2, '[1, 2.0]', '0000-00-00', 'Straße', 0), (3, 'null', '0000-00-00', 'abc', 1)`,
		`INSERT INTO b VALUES (1, '{"a": [1, 2], "b": 1}', '2024-01-01', 'x', 1), (2, '[1,2]', '0000-00-00', 'STRASSE', 0), (3, 'null', '2024-01-01', 'ABC', 2)`,
	)
	res, changes := diffTables(t, loc, "a", "b", reconcile.Options{})
	if res.Summary.Changed != 2 || res.Summary.Matched != 1 {
		t.Errorf("summary = %+v, want 1 matched and 2 changed", res.Summary)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.KeyString()+": "+strings.Join(c.Columns, ","))
	}
	diffLines(t, "changes", got, []string{"id=2: s", "id=3: d,flag,s"})
}

// Views and queries are read over the text protocol: MariaDB gives a
// temporal column computed from a non-integer (FROM_UNIXTIME of a double)
// a precision of 39, which the driver's binary-protocol decoder refuses.
// Base tables, whose columns have declared types, use the binary protocol.
func TestComputedTemporalInViewAndQuery(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE ep (id int PRIMARY KEY, e double)",
		"INSERT INTO ep VALUES (1, 1.5), (2, 86400), (3, NULL)",
		"CREATE VIEW vep AS SELECT id, FROM_UNIXTIME(e) AS at FROM ep",
	)
	src := open(t, loc, mysql.Config{})
	want := []string{"1 | 1970-01-01 00:00:01.5", "2 | 1970-01-02 00:00:00", "3 | NULL"}
	for _, ref := range []connectors.TableRef{{Name: "vep"}, {Query: "SELECT id, FROM_UNIXTIME(e) AS at FROM ep"}} {
		got := readAll(t, src, ref, []string{"id"}, connectors.ReadOptions{})
		diffLines(t, "rows of "+ref.Name+ref.Query, got, want)
	}
}
