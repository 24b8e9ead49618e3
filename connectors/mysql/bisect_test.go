package mysql_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/connectors/postgres"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

// engineSQL writes the SQL of one engine for the bisect scenarios.
type engineSQL struct {
	name string
	exec func(t *testing.T, loc string, stmts ...string)
	open func(t *testing.T, loc string) connectors.Source
	// DDL of the tables: an integer key, a text key, a composite key, and
	// a repeating key without a primary key.
	intTable, textTable, compTable, dupTable string
	bin                                      func(b []byte) string
	ts                                       func(t time.Time) string
}

var myDialect = engineSQL{
	name: "mysql",
	exec: func(t *testing.T, loc string, stmts ...string) { testdb.ExecMySQL(t, loc, stmts...) },
	open: func(t *testing.T, loc string) connectors.Source { return open(t, loc, mysql.Config{}) },
	intTable: `CREATE TABLE %s (id bigint PRIMARY KEY, name varchar(40), price decimal(12,2), d date, at datetime(6),
		b blob, n int, u bigint unsigned)`,
	textTable: `CREATE TABLE %s (k varchar(40) NOT NULL PRIMARY KEY, v varchar(40), n int)`,
	compTable: `CREATE TABLE %s (a int NOT NULL, k varchar(40) NOT NULL, v varchar(40), PRIMARY KEY (a, k))`,
	dupTable:  `CREATE TABLE %s (k int NOT NULL, v varchar(40))`,
	bin:       func(b []byte) string { return fmt.Sprintf("X'%x'", b) },
	ts:        func(t time.Time) string { return "'" + t.UTC().Format("2006-01-02 15:04:05.000000") + "'" },
}

var pgDialect = engineSQL{
	name: "postgres",
	exec: func(t *testing.T, loc string, stmts ...string) { testdb.Exec(t, loc, stmts...) },
	open: func(t *testing.T, loc string) connectors.Source {
		src, err := postgres.Open(t.Context(), loc, connectors.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	},
	intTable: `CREATE TABLE %s (id bigint PRIMARY KEY, name varchar(40), price numeric(12,2), d date, at timestamptz,
		b bytea, n int, u numeric(20,0))`,
	textTable: `CREATE TABLE %s (k text NOT NULL PRIMARY KEY, v text, n int)`,
	compTable: `CREATE TABLE %s (a int NOT NULL, k text NOT NULL, v text, PRIMARY KEY (a, k))`,
	dupTable:  `CREATE TABLE %s (k int NOT NULL, v text)`,
	bin:       func(b []byte) string { return fmt.Sprintf(`'\x%x'::bytea`, b) },
	ts:        func(t time.Time) string { return "'" + t.UTC().Format("2006-01-02 15:04:05.000000") + "+00'" },
}

const bisectRows = 3000

func quoteSQL(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// intRow is row id of the integer-keyed table; a few columns are NULL.
func intRow(d engineSQL, id int) string {
	null := func(cond bool, v string) string {
		if cond {
			return "NULL"
		}
		return v
	}
	name := fmt.Sprintf("name %d%s", id, []string{"", "é", "Ä", " "}[id%4])
	at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(id) * 1001 * time.Microsecond * 1000)
	return fmt.Sprintf("(%d, %s, %s, %s, %s, %s, %s, %s)", id,
		null(id%13 == 0, quoteSQL(name)),
		null(id%17 == 0, fmt.Sprintf("%d.%02d", id%997, id%100)),
		null(id%19 == 0, "'"+time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, id*7).Format("2006-01-02")+"'"),
		null(id%23 == 0, d.ts(at)),
		null(id%11 == 0, d.bin([]byte(fmt.Sprintf("\x00bytes %d\xff", id)))),
		null(id%7 == 0, fmt.Sprint(id*31-50000)),
		null(id%5 == 0, fmt.Sprint(uint64(id)*1_000_000_007)))
}

// textKey is the text key of row i: distinct under any collation, in an
// order collations and bytes disagree on.
func textKey(i int) string {
	return []string{"a", "B", "é", "Z", " x", "ä"}[i%6] + fmt.Sprintf("-%05d", (i*7919)%100000)
}

// fill creates table name of each kind at loc and fills it.
func fill(t *testing.T, d engineSQL, loc, kind, name string) {
	t.Helper()
	var ddl string
	var rows []string
	switch kind {
	case "int":
		ddl = d.intTable
		for id := 1; id <= bisectRows; id++ {
			rows = append(rows, intRow(d, id))
		}
	case "text":
		ddl = d.textTable
		for i := 1; i <= bisectRows; i++ {
			rows = append(rows, fmt.Sprintf("(%s, 'v%d', %d)", quoteSQL(textKey(i)), i, i))
		}
	case "comp":
		ddl = d.compTable
		for i := 1; i <= bisectRows; i++ {
			rows = append(rows, fmt.Sprintf("(%d, %s, 'v%d')", i%10, quoteSQL(textKey(i)), i))
		}
	case "dup":
		ddl = d.dupTable
		for i := 1; i <= bisectRows; i++ {
			rows = append(rows, fmt.Sprintf("(%d, 'v%d')", i/3, i%3))
		}
	}
	d.exec(t, loc, fmt.Sprintf(ddl, name), "INSERT INTO "+name+" VALUES "+strings.Join(rows, ", "))
}

// scenario is a table kind and the changes made to the target's copy.
type scenario struct {
	name, kind string
	key        []string
	changes    func(d engineSQL, tbl string) []string
}

func upd(tbl, set, where string) string { return "UPDATE " + tbl + " SET " + set + " WHERE " + where }

var scenarios = []scenario{
	{"equal", "int", []string{"id"}, func(d engineSQL, tbl string) []string { return nil }},
	{"first and last key", "int", []string{"id"}, func(d engineSQL, tbl string) []string {
		return []string{upd(tbl, "name = 'first'", "id = 1"), upd(tbl, "price = price + 0.01", fmt.Sprint("id = ", bisectRows))}
	}},
	{"missing and extra at the ends", "int", []string{"id"}, func(d engineSQL, tbl string) []string {
		return []string{"DELETE FROM " + tbl + " WHERE id = 1", "INSERT INTO " + tbl + " VALUES " + intRow(d, bisectRows+1)}
	}},
	{"clustered", "int", []string{"id"}, func(d engineSQL, tbl string) []string {
		return []string{upd(tbl, "n = n + 1", "id BETWEEN 1200 AND 1290 AND n IS NOT NULL"), "DELETE FROM " + tbl + " WHERE id BETWEEN 1300 AND 1310"}
	}},
	{"ten percent", "int", []string{"id"}, func(d engineSQL, tbl string) []string {
		return []string{upd(tbl, "d = NULL", "id % 10 = 3")}
	}},
	{"nulls", "int", []string{"id"}, func(d engineSQL, tbl string) []string {
		return []string{upd(tbl, "name = NULL, b = NULL", "id % 400 = 1"), upd(tbl, "at = "+d.ts(time.Unix(0, 0)), "id = 23 * 50"),
			upd(tbl, "name = ''", "id = 13 * 100"), upd(tbl, "u = 18000000000000000000", "id = 1500")}
	}},
	{"text key", "text", []string{"k"}, func(d engineSQL, tbl string) []string {
		return []string{upd(tbl, "v = 'changed'", "n IN (1, 777, 2999)"), "DELETE FROM " + tbl + " WHERE n = 1500",
			"INSERT INTO " + tbl + " VALUES ('a-00000', 'new', 0), ('" + "\u00ff" + "', 'last', 0)"}
	}},
	{"composite key", "comp", []string{"a", "k"}, func(d engineSQL, tbl string) []string {
		return []string{upd(tbl, "v = 'changed'", "a = 3"), "DELETE FROM " + tbl + " WHERE a = 0 AND v = 'v10'"}
	}},
}

// diffAll diffs src.tbl against tgt.tbl with each algorithm and checks
// that the reports agree; it returns the bisect's result.
func diffAll(t *testing.T, src, tgt connectors.Source, stbl, ttbl string, key []string) *reconcile.Result {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	run := func(algo reconcile.Algorithm) (*reconcile.Result, string) {
		t.Helper()
		var changes []string
		res, err := reconcile.Diff(t.Context(),
			reconcile.Input{Source: src, Table: connectors.TableRef{Name: stbl}},
			reconcile.Input{Source: tgt, Table: connectors.TableRef{Name: ttbl}},
			reconcile.Options{Key: key, Algorithm: algo, Allocator: mem, BisectThreshold: 32, BatchRows: 500},
			func(c reconcile.Change) error {
				changes = append(changes, fmt.Sprint(c.Kind, " ", c.KeyString(), " ", c.Columns, " ", c.Source, " ", c.Target))
				return nil
			})
		if err != nil {
			t.Fatalf("%s: %v", algo, err)
		}
		return res, strings.Join(changes, "\n")
	}
	merged, want := run(reconcile.Merge)
	bisected, got := run(reconcile.Bisect)
	auto, gotAuto := run(reconcile.Auto)
	for algo, r := range map[string]struct {
		res     *reconcile.Result
		changes string
	}{"bisect": {bisected, got}, "auto": {auto, gotAuto}} {
		if r.changes != want {
			t.Errorf("%s changes:\n%s\nmerge changes:\n%s", algo, r.changes, want)
		}
		if r.res.Summary != merged.Summary || r.res.Source.Rows != merged.Source.Rows || r.res.Target.Rows != merged.Target.Rows {
			t.Errorf("%s: summary %+v rows %d/%d; merge %+v rows %d/%d", algo, r.res.Summary, r.res.Source.Rows, r.res.Target.Rows,
				merged.Summary, merged.Source.Rows, merged.Target.Rows)
		}
		if fmt.Sprint(r.res.Columns) != fmt.Sprint(merged.Columns) {
			t.Errorf("%s: columns %+v, merge %+v", algo, r.res.Columns, merged.Columns)
		}
	}
	if p := bisected.Plan; p.Algorithm != "bisect" || p.Segments == 0 || p.Queries == 0 {
		t.Errorf("bisect plan: %+v", p)
	}
	return bisected
}

// checkPlan checks that a bisect of few differences read few rows.
func checkPlan(t *testing.T, sc scenario, res *reconcile.Result) {
	t.Helper()
	p := res.Plan
	t.Logf("%s: %+v; %d segments, %d differ, %d rows read, %d statements", sc.name, res.Summary, p.Segments, p.SegmentsMismatched, p.RowsFetched, p.Queries)
	switch sc.name {
	case "equal":
		if p.SegmentsMismatched != 0 || p.RowsFetched != 0 {
			t.Errorf("equal tables: %d segments differ, %d rows read", p.SegmentsMismatched, p.RowsFetched)
		}
	case "ten percent":
	default:
		if p.SegmentsMismatched == 0 || p.RowsFetched == 0 || p.RowsFetched > bisectRows {
			t.Errorf("%s: %d segments differ, %d rows read", sc.name, p.SegmentsMismatched, p.RowsFetched)
		}
	}
}

// Bisect, stream (merge) and auto give identical reports on two MySQL
// tables, for every scenario; duplicates too.
func TestBisectMySQL(t *testing.T) {
	// The sources are opened after the tables are made: their snapshots
	// must see them.
	loc := testdb.MySQL(t)
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
			fill(t, myDialect, loc, sc.kind, a)
			fill(t, myDialect, loc, sc.kind, b)
			myDialect.exec(t, loc, sc.changes(myDialect, b)...)
			src, tgt := myDialect.open(t, loc), myDialect.open(t, loc)
			res := diffAll(t, src, tgt, a, b, sc.key)
			checkPlan(t, sc, res)
			if res.Plan.BytesReceived <= 0 {
				t.Errorf("bytes received: %d", res.Plan.BytesReceived)
			}
		})
	}
	t.Run("duplicates", func(t *testing.T) {
		fill(t, myDialect, loc, "dup", "da")
		fill(t, myDialect, loc, "dup", "db")
		myDialect.exec(t, loc, "INSERT INTO db VALUES (5, 'v9'), (900, 'v0')", "DELETE FROM db WHERE k = 700 AND v = 'v1'")
		src, tgt := myDialect.open(t, loc), myDialect.open(t, loc)
		res := diffAll(t, src, tgt, "da", "db", []string{"k"})
		if res.Summary.Duplicate == 0 {
			t.Errorf("no duplicates reported: %+v", res.Summary)
		}
	})
}

// Bisect, stream and auto give identical reports between PostgreSQL and
// MySQL, in both directions: the two servers' canonical row hashes agree.
func TestBisectPostgresMySQL(t *testing.T) {
	my, pg := testdb.MySQL(t), testdb.Postgres(t)
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			tbl := fmt.Sprintf("t%d", i)
			fill(t, pgDialect, pg, sc.kind, tbl)
			fill(t, myDialect, my, sc.kind, tbl)
			// The changes are on the MySQL side.
			myDialect.exec(t, my, sc.changes(myDialect, tbl)...)
			msrc, psrc := myDialect.open(t, my), pgDialect.open(t, pg)
			checkPlan(t, sc, diffAll(t, psrc, msrc, tbl, tbl, sc.key))
			checkPlan(t, sc, diffAll(t, msrc, psrc, tbl, tbl, sc.key))
		})
	}
}
