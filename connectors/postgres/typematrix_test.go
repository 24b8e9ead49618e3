package postgres_test

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/file"
	"github.com/reconhq/reconcile/connectors/postgres"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

var update = flag.Bool("update", false, "rewrite golden files")

// null marks a NULL in the matrix below.
const null = "\x00NULL"

// matrixCol is one PostgreSQL type with the same four values (row 3 is
// NULL) as PostgreSQL literals, CSV fields and JSON Lines values, and a
// near-miss change of one of them in the files.
type matrixCol struct {
	name, typ string
	sql       [4]string // SQL literals
	text      [4]string // CSV fields
	json      [4]string // raw JSON values
	row       int       // the row (0-based) changed in the files
	textNew   string    // its new CSV field
	jsonNew   string    // its new JSON value
}

func q(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

var matrix = []matrixCol{
	{"i2", "smallint", [4]string{"1", "-32768", "NULL", "32767"}, [4]string{"1", "-32768", null, "32767"}, [4]string{"1", "-32768", "null", "32767"}, 0, "2", "2"},
	{"i4", "integer", [4]string{"100000", "-2147483648", "NULL", "2147483647"}, [4]string{"100000", "-2147483648", null, "2147483647"}, [4]string{"100000", "-2147483648", "null", "2147483647"}, 3, "2147483646", "2147483646"},
	{"i8", "bigint", [4]string{"9007199254740993", "-9223372036854775808", "NULL", "9223372036854775807"}, [4]string{"9007199254740993", "-9223372036854775808", null, "9223372036854775807"}, [4]string{"9007199254740993", "-9223372036854775808", "null", "9223372036854775807"}, 0, "9007199254740992", "9007199254740992"},
	{"f4", "real", [4]string{"'0.1'", "'NaN'", "NULL", "'-Infinity'"}, [4]string{"0.1", "NaN", null, "-Infinity"}, [4]string{`"0.1"`, `"NaN"`, "null", `"-Infinity"`}, 0, "0.10000001", `"0.10000001"`},
	{"f8", "double precision", [4]string{"'0.1'", "'Infinity'", "NULL", "'-Infinity'"}, [4]string{"0.1", "Infinity", null, "-Infinity"}, [4]string{`"0.1"`, `"Infinity"`, "null", `"-Infinity"`}, 1, "1.7976931348623157e308", `"1.7976931348623157e308"`},
	{"n12", "numeric(12,2)", [4]string{"10.50", "-0.01", "NULL", "1234567.89"}, [4]string{"10.5", "-0.01", null, "1234567.89"}, [4]string{"10.5", "-0.01", "null", "1234567.89"}, 0, "10.51", "10.51"},
	{"nbig", "numeric", [4]string{"123456789012345678901234567890.123456789", "'NaN'", "NULL", "-1e-20"}, [4]string{"123456789012345678901234567890.123456789", "NaN", null, "-0.00000000000000000001"}, [4]string{`"123456789012345678901234567890.123456789"`, `"NaN"`, "null", `"-1e-20"`}, 0, "123456789012345678901234567890.123456788", `"123456789012345678901234567890.123456788"`},
	{"ok", "boolean", [4]string{"true", "false", "NULL", "true"}, [4]string{"true", "false", null, "true"}, [4]string{"true", "false", "null", "true"}, 3, "false", "false"},
	{"d", "date", [4]string{"'2026-01-01'", "'1999-12-31'", "NULL", "'0001-01-01'"}, [4]string{"2026-01-01", "1999-12-31", null, "0001-01-01"}, [4]string{`"2026-01-01"`, `"1999-12-31"`, "null", `"0001-01-01"`}, 0, "2026-01-02", `"2026-01-02"`},
	{"ts", "timestamp", [4]string{"'2026-01-01 12:34:56.789'", "'1970-01-01 00:00:00'", "NULL", "'1969-12-31 23:59:59.999999'"}, [4]string{"2026-01-01 12:34:56.789", "1970-01-01 00:00:00", null, "1969-12-31T23:59:59.999999"}, [4]string{`"2026-01-01T12:34:56.789"`, `"1970-01-01T00:00:00"`, "null", `"1969-12-31T23:59:59.999999"`}, 0, "2026-01-01 12:34:56.789001", `"2026-01-01T12:34:56.789001"`},
	{"tstz", "timestamptz", [4]string{"'2026-01-01 00:00:00+00'", "'1999-12-31 23:59:59.999999+00'", "NULL", "'2026-06-30 12:00:00+05:30'"}, [4]string{"2026-01-01T00:00:00Z", "1999-12-31T23:59:59.999999Z", null, "2026-06-30T06:30:00Z"}, [4]string{`"2026-01-01T00:00:00Z"`, `"1999-12-31T23:59:59.999999Z"`, "null", `"2026-06-30T12:00:00+05:30"`}, 3, "2026-06-30T06:30:01Z", `"2026-06-30T06:30:01Z"`},
	{"tm", "time", [4]string{"'12:34:56.789'", "'00:00:00'", "NULL", "'23:59:59.999999'"}, [4]string{"12:34:56.789", "00:00:00", null, "23:59:59.999999"}, [4]string{`"12:34:56.789"`, `"00:00:00"`, "null", `"23:59:59.999999"`}, 0, "12:34:56.788", `"12:34:56.788"`},
	{"txt", "text", [4]string{q(`Zoë "quoted", comma`), "''", "NULL", "E'line one\\nline two'"}, [4]string{`Zoë "quoted", comma`, "", null, "line one\nline two"}, [4]string{`"Zoë \"quoted\", comma"`, `""`, "null", `"line one\nline two"`}, 0, `zoë "quoted", comma`, `"zoë \"quoted\", comma"`},
	{"vc", "varchar(20)", [4]string{"'abc'", "''", "NULL", "'x'"}, [4]string{"abc", "", null, "x"}, [4]string{`"abc"`, `""`, "null", `"x"`}, 1, " ", `" "`},
	{"nm", "name", [4]string{"'name1'", "''", "NULL", "'Ünïcode'"}, [4]string{"name1", "", null, "Ünïcode"}, [4]string{`"name1"`, `""`, "null", `"Ünïcode"`}, 3, "Unicode", `"Unicode"`},
	{"ci", "citext", [4]string{"'MiXed'", "''", "NULL", "'x'"}, [4]string{"MiXed", "", null, "x"}, [4]string{`"MiXed"`, `""`, "null", `"x"`}, 0, "mixed", `"mixed"`},
	{"en", "mood", [4]string{"'happy'", "'sad'", "NULL", "'ok'"}, [4]string{"happy", "sad", null, "ok"}, [4]string{`"happy"`, `"sad"`, "null", `"ok"`}, 1, "ok", `"ok"`},
	{"ch", "char(5)", [4]string{"'ab'", "'x'", "NULL", "'abcde'"}, [4]string{"ab", "x", null, "abcde"}, [4]string{`"ab"`, `"x"`, "null", `"abcde"`}, 0, "ac", `"ac"`},
	{"u", "uuid", [4]string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'", "NULL", "'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'"}, [4]string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000", null, "ffffffff-ffff-ffff-ffff-ffffffffffff"}, [4]string{`"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, `"00000000-0000-0000-0000-000000000000"`, "null", `"ffffffff-ffff-ffff-ffff-ffffffffffff"`}, 0, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12"`},
	{"js", "json", [4]string{q(`{"b":1,"a":[1,2]}`), "'[]'", "NULL", q(`"str"`)}, [4]string{`{"a":[1,2],"b":1}`, "[]", null, `"str"`}, [4]string{`{"a": [1, 2], "b": 1}`, "[]", "null", `"str"`}, 0, `{"a":[1,3],"b":1}`, `{"a":[1,3],"b":1}`},
	{"jb", "jsonb", [4]string{q(`{"b":1,"a":[1,2]}`), "'{}'", "NULL", q(`{"nested":{"z":null,"y":1.50}}`)}, [4]string{`{"b": 1, "a": [1, 2]}`, "{}", null, `{"nested":{"y":1.5,"z":null}}`}, [4]string{`{"a":[1,2],"b":1}`, "{}", "null", `{"nested":{"y":1.5,"z":null}}`}, 3, `{"nested":{"y":1.51,"z":null}}`, `{"nested":{"y":1.51,"z":null}}`},
	{"by", "bytea", [4]string{"'hello'", "''", "NULL", "convert_to('Zoë', 'UTF8')"}, [4]string{"hello", "", null, "Zoë"}, [4]string{`"hello"`, `""`, "null", `"Zoë"`}, 0, "hellO", `"hellO"`},
	{"iv", "interval", [4]string{"'1 year 2 months 3 days 04:05:06'", "'0'", "NULL", "'-1 day'"}, [4]string{"P1Y2M3DT4H5M6S", "PT0S", null, "P-1D"}, [4]string{`"P1Y2M3DT4H5M6S"`, `"PT0S"`, "null", `"P-1D"`}, 0, "P1Y2M3DT4H5M7S", `"P1Y2M3DT4H5M7S"`},
	{"arr", "int[]", [4]string{"'{1,2,3}'", "'{}'", "NULL", "'{{1,2},{3,4}}'"}, [4]string{"[1,2,3]", "[]", null, "[[1,2],[3,4]]"}, [4]string{"[1, 2, 3]", "[]", "null", "[[1, 2], [3, 4]]"}, 0, "[1,2,4]", "[1,2,4]"},
	{"tarr", "text[]", [4]string{`'{x,"y z"}'`, "'{}'", "NULL", `'{NULL,"é"}'`}, [4]string{`["x","y z"]`, "[]", null, `[null,"é"]`}, [4]string{`["x", "y z"]`, "[]", "null", `[null, "é"]`}, 3, `[null,"e"]`, `[null,"e"]`},
	{"ip", "inet", [4]string{"'10.0.0.1'", "'::1'", "NULL", "'192.168.0.0/24'"}, [4]string{"10.0.0.1", "::1", null, "192.168.0.0/24"}, [4]string{`"10.0.0.1"`, `"::1"`, "null", `"192.168.0.0/24"`}, 0, "10.0.0.2", `"10.0.0.2"`},
	{"mo", "money", [4]string{"12.50", "0", "NULL", "-3"}, [4]string{"$12.50", "$0.00", null, "-$3.00"}, [4]string{`"$12.50"`, `"$0.00"`, "null", `"-$3.00"`}, 0, "$12.51", `"$12.51"`},
	{"pt", "point", [4]string{"'(1,2)'", "'(0,0)'", "NULL", "'(-1.5,2.25)'"}, [4]string{"(1,2)", "(0,0)", null, "(-1.5,2.25)"}, [4]string{`"(1,2)"`, `"(0,0)"`, "null", `"(-1.5,2.25)"`}, 1, "(0,1)", `"(0,1)"`},
}

func matrixSQL() []string {
	cols := []string{"id int PRIMARY KEY"}
	for _, c := range matrix {
		cols = append(cols, c.name+" "+c.typ)
	}
	stmts := []string{
		`CREATE EXTENSION citext`,
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE TABLE matrix (` + strings.Join(cols, ", ") + `)`,
	}
	for r := 0; r < 4; r++ {
		vals := []string{fmt.Sprint(r + 1)}
		for _, c := range matrix {
			vals = append(vals, c.sql[r])
		}
		stmts = append(stmts, `INSERT INTO matrix VALUES (`+strings.Join(vals, ", ")+`)`)
	}
	return stmts
}

const csvNull = `\N`

// writeMatrixCSV writes the matrix as CSV; changed applies each column's
// near miss.
func writeMatrixCSV(t *testing.T, path string, changed bool) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	header := []string{"id"}
	for _, c := range matrix {
		header = append(header, c.name)
	}
	w.Write(header)
	for r := 0; r < 4; r++ {
		rec := []string{fmt.Sprint(r + 1)}
		for _, c := range matrix {
			v := c.text[r]
			if changed && c.row == r {
				v = c.textNew
			}
			if v == null {
				v = csvNull
			}
			rec = append(rec, v)
		}
		w.Write(rec)
	}
	w.Flush()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeMatrixJSONL(t *testing.T, path string, changed bool) {
	var b strings.Builder
	for r := 0; r < 4; r++ {
		fmt.Fprintf(&b, `{"id":%d`, r+1)
		for _, c := range matrix {
			v := c.json[r]
			if changed && c.row == r {
				v = c.jsonNew
			}
			if v == "null" && r != 2 {
				continue
			}
			fmt.Fprintf(&b, `,%q:%s`, c.name, v)
		}
		b.WriteString("}\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// render describes a diff result for the golden file.
func render(name string, res *reconcile.Result, changes []reconcile.Change) string {
	var b strings.Builder
	s := res.Summary
	fmt.Fprintf(&b, "== %s\n", name)
	fmt.Fprintf(&b, "rows %d vs %d: matched=%d missing=%d extra=%d changed=%d duplicate=%d null_key=%d consistent=%v\n",
		res.Source.Rows, res.Target.Rows, s.Matched, s.Missing, s.Extra, s.Changed, s.Duplicate, s.NullKey, res.Consistent())
	for _, m := range res.Schema.TypeMismatch {
		fmt.Fprintf(&b, "type %s: %s vs %s (compared: %v)\n", m.Column, m.SourceType, m.TargetType, m.Compared)
	}
	if len(res.Schema.OnlyInSource)+len(res.Schema.OnlyInTarget) > 0 {
		fmt.Fprintf(&b, "only in source %v, only in target %v\n", res.Schema.OnlyInSource, res.Schema.OnlyInTarget)
	}
	var drift []string
	for _, c := range res.Columns {
		if c.Changed > 0 {
			drift = append(drift, fmt.Sprintf("%s=%d", c.Name, c.Changed))
		}
	}
	if len(drift) > 0 {
		fmt.Fprintf(&b, "drift: %s\n", strings.Join(drift, " "))
	}
	for _, c := range changes {
		fmt.Fprintf(&b, "%s %s\n", c.Kind, c.KeyString())
		for i := range c.Source {
			fmt.Fprintf(&b, "  %s: %q → %q\n", c.Source[i].Name, c.Source[i].Value.String(), c.Target[i].Value.String())
		}
	}
	return b.String()
}

func diff(t *testing.T, mem memory.Allocator, src, tgt reconcile.Input) (*reconcile.Result, []reconcile.Change) {
	t.Helper()
	var changes []reconcile.Change
	res, err := reconcile.Diff(t.Context(), src, tgt, reconcile.Options{Key: []string{"id"}, Allocator: mem, BatchRows: 2},
		func(c reconcile.Change) error { changes = append(changes, c); return nil })
	if err != nil {
		t.Fatalf("diff %s: %v", tgt.Name, err)
	}
	return res, changes
}

// Every type reads as the same logical values a CSV or a JSON Lines file
// spells in text, and a near miss in any one of them is one difference in
// that column.
func TestTypeMatrix(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, matrixSQL()...)
	testdb.Exec(t, dsn, extremesSQL...)
	// money's text depends on lc_monetary.
	testdb.Exec(t, dsn, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET lc_monetary TO ''C''', current_database()); END $$`)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pg, err := postgres.Open(t.Context(), dsn, connectors.Options{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	dir := t.TempDir()
	nullValue := csvNull
	var out strings.Builder
	matrixRef := reconcile.Input{Source: pg, Table: connectors.TableRef{Name: "matrix"}, Name: "postgres"}
	for _, f := range []struct {
		name  string
		write func(*testing.T, string, bool)
		opts  connectors.Options
	}{
		{"matrix.csv", writeMatrixCSV, connectors.Options{NullValue: &nullValue, Allocator: mem}},
		{"matrix.jsonl", writeMatrixJSONL, connectors.Options{Allocator: mem}},
	} {
		for _, changed := range []bool{false, true} {
			path := filepath.Join(dir, f.name)
			f.write(t, path, changed)
			fsrc, err := file.Open(t.Context(), path, f.opts)
			if err != nil {
				t.Fatal(err)
			}
			name := f.name
			if changed {
				name += " (one near miss per column)"
			}
			res, changes := diff(t, mem, matrixRef, reconcile.Input{Source: fsrc, Name: name})
			fsrc.Close()
			out.WriteString(render("postgres matrix vs "+name, res, changes) + "\n")
			if !changed {
				if !res.Consistent() || res.Summary.Matched != 4 {
					t.Errorf("%s: not consistent with PostgreSQL:\n%s", name, render(name, res, changes))
				}
				continue
			}
			for _, c := range matrix {
				n := int64(-1)
				for _, d := range res.Columns {
					if d.Name == c.name {
						n = d.Changed
					}
				}
				if n != 1 {
					t.Errorf("%s: column %s (%s) has %d differences, want 1", name, c.name, c.typ, n)
				}
			}
		}
	}

	// Values no text file spells: bytes that are not UTF-8, ±infinity,
	// NaN and -0, against another PostgreSQL table.
	for _, tgt := range []string{"extremes_copy", "extremes_changed"} {
		res, changes := diff(t, mem,
			reconcile.Input{Source: pg, Table: connectors.TableRef{Name: "extremes"}, Name: "extremes"},
			reconcile.Input{Source: pg, Table: connectors.TableRef{Name: tgt}, Name: tgt})
		out.WriteString(render("postgres extremes vs "+tgt, res, changes) + "\n")
		if tgt == "extremes_copy" && !res.Consistent() {
			t.Errorf("extremes vs its copy: not consistent")
		}
		if tgt == "extremes_changed" {
			for _, d := range res.Columns {
				if d.Changed != 1 {
					t.Errorf("extremes_changed: column %s has %d differences, want 1", d.Name, d.Changed)
				}
			}
		}
	}
	golden(t, "typematrix.golden", out.String())
}

var extremesSQL = []string{
	`CREATE TABLE extremes (id int PRIMARY KEY, b bytea, d date, ts timestamp, tstz timestamptz, f8 float8, f4 real, n numeric)`,
	`INSERT INTO extremes VALUES
		(1, '\x00ff80', 'infinity', 'infinity', '-infinity', 'NaN', '-0', 'Infinity'),
		(2, '\xdeadbeef', '-infinity', '-infinity', 'infinity', '-0', 'NaN', '-Infinity'),
		(3, '\x', '4713-01-01 BC', '4713-01-01 00:00:00 BC', '294000-01-01 00:00:00+00', '5e-324', '1e-45', '1e-1000')`,
	`CREATE TABLE extremes_copy AS SELECT * FROM extremes`,
	`ALTER TABLE extremes_copy ADD PRIMARY KEY (id)`,
	`UPDATE extremes_copy SET f8 = 0 WHERE f8 = 0`, // -0 becomes 0, an equal value
	`UPDATE extremes_copy SET f4 = 0 WHERE f4 = 0`,
	`CREATE TABLE extremes_changed AS SELECT * FROM extremes`,
	`UPDATE extremes_changed SET b = '\x00ff81' WHERE id = 1`,
	`UPDATE extremes_changed SET d = '2026-01-01' WHERE id = 2`,
	`UPDATE extremes_changed SET ts = '4713-01-02 00:00:00 BC' WHERE id = 3`,
	`UPDATE extremes_changed SET tstz = '294000-01-01 00:00:00.000001+00' WHERE id = 3`,
	`UPDATE extremes_changed SET f8 = 'Infinity' WHERE id = 1`,
	`UPDATE extremes_changed SET f4 = '1e-44' WHERE id = 3`,
	`UPDATE extremes_changed SET n = 'NaN' WHERE id = 2`,
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update to accept):\n%s", path, lineDiff(string(want), got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var x, y string
		if i < len(w) {
			x = w[i]
		}
		if i < len(g) {
			y = g[i]
		}
		if x != y {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, x, y)
		}
	}
	return b.String()
}

// Ordered reads of every supported key type are in the engine's key order:
// a merge diff of two sources reading the same table checks the order of
// each side, and the keys are checked here too.
func TestKeyOrderMatchesEngine(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE keys (i int, b bigint, t text, u uuid, ts timestamp, n numeric, c text, k int)`,
		`INSERT INTO keys
		 SELECT g - 150, (g - 150) * 100000000000, (ARRAY['a', 'B', 'é', 'Z', 'ab', 'Ä', 'z', '', 'É', 'aa', '日本', 'b'])[g % 12 + 1] || g,
		        md5(g::text)::uuid, '2026-01-01'::timestamp + (g - 150) * interval '1 day 1 microsecond',
		        CASE g WHEN 50 THEN 'NaN' WHEN 60 THEN 'Infinity' WHEN 70 THEN '-Infinity' WHEN 80 THEN '1e40' WHEN 90 THEN '-1e-40'
		               ELSE ((g - 150) * 1.5)::text END::numeric,
		        (ARRAY['x', 'X', 'é', 'e'])[g % 4 + 1], g % 7
		 FROM generate_series(1, 300) g`,
	)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a, b := open(t, dsn), open(t, dsn)
	ref := connectors.TableRef{Name: "keys"}
	for _, key := range [][]string{{"i"}, {"b"}, {"t"}, {"u"}, {"ts"}, {"n"}, {"c", "k", "i"}} {
		res, err := reconcile.Diff(t.Context(),
			reconcile.Input{Source: a, Table: ref}, reconcile.Input{Source: b, Table: ref},
			reconcile.Options{Key: key, Algorithm: reconcile.Merge, Allocator: mem, BatchRows: 7}, nil)
		if err != nil {
			t.Errorf("merge by %v: %v", key, err)
			continue
		}
		if res.Plan.Algorithm != "merge" || !res.Consistent() || res.Summary.Matched != 300 {
			t.Errorf("merge by %v: %s, %+v", key, res.Plan.Algorithm, res.Summary)
		}
	}
	// Text is in byte order, whatever the database's collation.
	got := readRows(t)(a.ReadOrdered(t.Context(), ref, []string{"t"}, connectors.ReadOptions{Columns: []string{"t"}}))
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }) || len(got) != 300 {
		t.Errorf("text keys not in byte order: %q", got[:10])
	}
	// uuids in the order of their lower-case text.
	got = readRows(t)(a.ReadOrdered(t.Context(), ref, []string{"u"}, connectors.ReadOptions{Columns: []string{"u"}}))
	if !slices.IsSorted(got) || got[0] != strings.ToLower(got[0]) {
		t.Errorf("uuid keys not in text order: %q", got[:5])
	}
}
