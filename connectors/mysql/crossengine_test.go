package mysql_test

import (
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/file"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/connectors/postgres"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// pair is one column of the type matrix: the PostgreSQL type, the MySQL
// type a CDC pipeline maps it to, the values of the rows, and the value a
// faulty pipeline wrote on the MySQL side instead (in row mutRow).
type pair struct {
	name, pg, my string
	vals         []string // SQL literals, both dialects unless myVals is set; "NULL" for NULL
	myVals       []string // MySQL literals where they differ
	csvVals      []string // CSV fields (nil: the literal without quotes)
	mutated      string   // MySQL literal written in the pair's own row
}

// The rows: row r+1 (r < len(matrix)) has column r mutated on the MySQL
// side; the rows after that are left alone, the last holding only NULLs
// (one of them mutated to an empty string).
var matrix = []pair{
	{name: "i", pg: "integer", my: "int",
		vals: []string{"42", "-7", "2147483647", "0"}, mutated: "43"},
	{name: "big", pg: "bigint", my: "bigint unsigned",
		vals: []string{"9007199254740993", "0", "9223372036854775807", "1"}, mutated: "9007199254740992"},
	{name: "num", pg: "numeric(12,2)", my: "decimal(12,2)",
		vals: []string{"10.50", "-0.01", "9999999999.99", "0.00"}, mutated: "10.49"},
	{name: "flag", pg: "boolean", my: "tinyint(1)",
		vals: []string{"true", "false", "true", "false"}, myVals: []string{"1", "0", "1", "0"}, mutated: "2"},
	{name: "at_dt", pg: "timestamptz", my: "datetime(6)",
		vals:    []string{"'2026-01-02 03:04:05.123456+00'", "'1999-12-31 23:59:59+00'", "'2026-06-30 12:00:00.5+00'", "'1970-01-01 00:00:00+00'"},
		myVals:  []string{"'2026-01-02 03:04:05.123456'", "'1999-12-31 23:59:59'", "'2026-06-30 12:00:00.5'", "'1970-01-01 00:00:00'"},
		csvVals: []string{"2026-01-02T03:04:05.123456Z", "1999-12-31T23:59:59Z", "2026-06-30T12:00:00.5Z", "1970-01-01T00:00:00Z"},
		mutated: "'2026-01-02 03:04:05.123000'"},
	{name: "at_ts", pg: "timestamptz", my: "timestamp(6) NULL",
		vals:    []string{"'2026-01-02 03:04:05.654321+00'", "'2001-09-09 01:46:40+00'", "'2038-01-19 03:14:07+00'", "'1970-01-02 00:00:00+00'"},
		myVals:  []string{"'2026-01-02 03:04:05.654321'", "'2001-09-09 01:46:40'", "'2038-01-19 03:14:07'", "'1970-01-02 00:00:00'"},
		csvVals: []string{"2026-01-02T03:04:05.654321Z", "2001-09-09T01:46:40Z", "2038-01-19T03:14:07Z", "1970-01-02T00:00:00Z"},
		mutated: "'2026-01-02 04:04:05.654321'"},
	{name: "d", pg: "date", my: "date",
		vals: []string{"'2024-02-29'", "'1999-12-31'", "'2026-01-01'", "'1970-01-01'"}, mutated: "'2024-03-01'"},
	{name: "txt", pg: "text", my: "varchar(100) CHARACTER SET utf8mb4",
		vals: []string{"'Zoë Straße'", "'日本語 テキスト'", "'O''Brien, \"quoted\"'", "'  spaces  '"}, mutated: "'ZoÃ« StraÃŸe'"},
	{name: "doc", pg: "jsonb", my: "json",
		vals:    []string{`'{"b": 1, "a": [1, 2]}'`, `'[]'`, `'{"k": {"n": 1.50}}'`, `'null'`},
		myVals:  []string{`'{"a":[1,2],"b":1}'`, `'[ ]'`, `'{"k":{"n":1.5}}'`, `'null'`},
		csvVals: []string{`{"a":[1,2],"b":1}`, `[]`, `{"k":{"n":1.5}}`, `null`},
		mutated: `'{"a":[1,2],"b":"1"}'`},
	{name: "u", pg: "uuid", my: "char(36)",
		vals:    []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "'123e4567-e89b-12d3-a456-426614174000'"},
		mutated: "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'"},
	{name: "bin", pg: "bytea", my: "blob",
		vals:    []string{"'hello'::bytea", "'\\x7e00'::bytea", "'x'::bytea", "'bytes'::bytea"},
		myVals:  []string{"'hello'", "X'7E00'", "'x'", "'bytes'"},
		csvVals: []string{"hello", "~\x00", "x", "bytes"},
		mutated: "'hellp'"},
	{name: "dbl", pg: "double precision", my: "double",
		vals: []string{"0.1", "-2.5", "1e300", "0"}, mutated: "0.1000000000000001"},
}

// matrixRows is the number of rows: one per pair, then two untouched
// rows and the NULL row.
func matrixRows() int { return len(matrix) + 3 }

// The three spellings of the matrix values.
type dialect int

const (
	pgSQL dialect = iota
	mySQL
	csvField
)

// value returns the value of pair c in row r (0-based) as d spells it.
// The values rotate so that row c holds the pair's first value, the one
// its mutation changes.
func value(c, r int, d dialect) string {
	p := matrix[c]
	if r == matrixRows()-1 {
		if d == csvField {
			return ""
		}
		return "NULL"
	}
	vals := p.vals
	switch {
	case d == csvField && p.csvVals != nil:
		vals = p.csvVals
	case d != pgSQL && p.myVals != nil:
		vals = p.myVals
	}
	n := len(vals)
	v := vals[((r-c)%n+n)%n]
	if d == csvField && p.csvVals == nil {
		v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'"), "''", "'")
	}
	return v
}

func matrixTables(t *testing.T, pgDSN, myLoc string, mutate bool) {
	t.Helper()
	var pgCols, myCols []string
	for _, p := range matrix {
		pgCols = append(pgCols, p.name+" "+p.pg)
		myCols = append(myCols, p.name+" "+p.my)
	}
	pgStmts := []string{"CREATE TABLE matrix (id int PRIMARY KEY, " + strings.Join(pgCols, ", ") + ")"}
	myStmts := []string{"SET SESSION time_zone = '+00:00'", "CREATE TABLE matrix (id int PRIMARY KEY, " + strings.Join(myCols, ", ") + ")"}
	for r := range matrixRows() {
		pgVals := []string{fmt.Sprint(r + 1)}
		myVals := []string{fmt.Sprint(r + 1)}
		for c, p := range matrix {
			pgVals = append(pgVals, value(c, r, pgSQL))
			v := value(c, r, mySQL)
			if mutate && r == c {
				v = p.mutated
			}
			if mutate && r == matrixRows()-1 && p.name == "txt" {
				v = "''" // NULL written as an empty string
			}
			myVals = append(myVals, v)
		}
		pgStmts = append(pgStmts, "INSERT INTO matrix VALUES ("+strings.Join(pgVals, ", ")+")")
		myStmts = append(myStmts, "INSERT INTO matrix VALUES ("+strings.Join(myVals, ", ")+")")
	}
	testdb.Exec(t, pgDSN, pgStmts...)
	testdb.ExecMySQL(t, myLoc, myStmts...)
}

// matrixCSV writes the unmutated rows as CSV, NULL as an empty field.
func matrixCSV(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "matrix.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	header := []string{"id"}
	for _, p := range matrix {
		header = append(header, p.name)
	}
	w.Write(header)
	for r := range matrixRows() {
		rec := []string{fmt.Sprint(r + 1)}
		for c := range matrix {
			rec = append(rec, value(c, r, csvField))
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

func diffSources(t *testing.T, src, tgt connectors.Source, opts reconcile.Options) (*reconcile.Result, []string) {
	t.Helper()
	var changes []string
	ref := connectors.TableRef{Name: "matrix"}
	res, err := reconcile.Diff(t.Context(), reconcile.Input{Source: src, Table: ref}, reconcile.Input{Source: tgt, Table: ref}, opts,
		func(c reconcile.Change) error {
			line := c.Kind.String() + " " + c.KeyString()
			for i, col := range c.Columns {
				line += fmt.Sprintf("\n  %s: %s → %s", col, c.Source[i].Value, c.Target[i].Value)
			}
			changes = append(changes, line)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return res, changes
}

// TestCrossEngine creates the same rows in PostgreSQL and MariaDB with the
// column types a CDC pipeline maps between them and checks that the
// engine finds no difference; then it changes one value per type on the
// MySQL side and checks that exactly those are found (golden file). The
// same rows exported as CSV compare equal to the MySQL table as well.
func TestCrossEngine(t *testing.T) {
	for _, mutate := range []bool{false, true} {
		t.Run(map[bool]string{false: "same", true: "mutated"}[mutate], func(t *testing.T) {
			pgDSN := testdb.Postgres(t)
			myLoc := testdb.MySQL(t)
			matrixTables(t, pgDSN, myLoc, mutate)
			pg, err := postgres.Open(t.Context(), pgDSN, connectors.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer pg.Close()
			my := open(t, myLoc, mysql.Config{})
			res, changes := diffSources(t, pg, my, reconcile.Options{BatchRows: 4})
			if res.Plan.Algorithm != string(reconcile.Merge) {
				t.Errorf("algorithm %s, want merge", res.Plan.Algorithm)
			}
			for _, m := range res.Schema.TypeMismatch {
				if !m.Compared {
					t.Errorf("column %s (%s vs %s) is not compared", m.Column, m.SourceType, m.TargetType)
				}
			}
			if !mutate {
				if res.Summary.Differences() != 0 || res.Summary.Matched != int64(matrixRows()) {
					t.Errorf("summary %+v, want %d rows matched and no differences:\n%s", res.Summary, matrixRows(), strings.Join(changes, "\n"))
				}
				// The CSV export of the same rows.
				empty := ""
				csvSrc, err := file.Open(t.Context(), matrixCSV(t), connectors.Options{NullValue: &empty})
				if err != nil {
					t.Fatal(err)
				}
				defer csvSrc.Close()
				res, changes := diffSources(t, csvSrc, my, reconcile.Options{Key: []string{"id"}})
				if res.Summary.Differences() != 0 || res.Summary.Matched != int64(matrixRows()) {
					t.Errorf("CSV vs MySQL: summary %+v:\n%s", res.Summary, strings.Join(changes, "\n"))
				}
				return
			}
			if res.Summary.Changed != int64(len(matrix)+1) || res.Summary.Matched != 2 {
				t.Errorf("summary %+v, want %d changed rows", res.Summary, len(matrix)+1)
			}
			golden(t, filepath.Join("testdata", "crossengine.golden"), strings.Join(changes, "\n")+"\n")
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
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
		t.Errorf("output differs from %s (run go test -update to accept):\n%s", path, got)
	}
}
