package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/internal/testdb"
)

// The MySQL issue's command line: a MariaDB system of record against its
// PostgreSQL copy, with values the two engines spell differently.
func TestDiffMySQLAgainstPostgres(t *testing.T) {
	my, pg := testdb.MySQL(t), testdb.Postgres(t)
	testdb.ExecMySQL(t, my,
		"create table orders (id bigint primary key, active tinyint(1), amount decimal(12,2), placed_at datetime(6), note varchar(40), doc json)",
		`insert into orders values
			(1, 1, 10.50, '2026-01-01 00:00:00.000001', 'Straße', '{"b": 1, "a": [1, 2]}'),
			(2, 0, 0.10, '2026-01-02 12:00:00', 'plain', null),
			(3, 1, 3.00, '2026-01-03 00:00:00', 'gone', '[]')`)
	testdb.Exec(t, pg,
		"create table orders (id bigint primary key, active boolean, amount numeric, placed_at timestamptz, note text, doc jsonb)",
		`insert into orders values
			(1, true, 10.5, '2026-01-01 00:00:00.000001+00', 'Straße', '{"a": [1, 2], "b": 1}'),
			(2, false, 0.1, '2026-01-02 12:00:00+00', 'PLAIN', null)`)
	code, out, errOut := runCLI(t, "diff", my, pg, "--table", "orders", "--format", "json")
	if code != exitDifferences {
		t.Fatalf("exit %d, want 1; stderr: %s", code, errOut)
	}
	r := decodeReport(t, out)
	got := [4]int64{r.Summary["matched"], r.Summary["changed"], r.Summary["missing"], r.Summary["extra"]}
	if got != [4]int64{1, 1, 1, 0} || r.Columns["note"].Changed != 1 {
		t.Errorf("matched/changed/missing/extra = %v, note changed %d; want [1 1 1 0] and 1\n%s", got, r.Columns["note"].Changed, out)
	}
	if r.Source.Snapshot == nil || r.Source.Snapshot.Time == "" {
		t.Errorf("the MySQL side records no snapshot: %+v", r.Source)
	}
}

// bisectReport is the part of a report that must not depend on the
// algorithm, and the plan's statistics.
type bisectReport struct {
	jsonReport
	Plan struct {
		Algorithm string `json:"algorithm"`
		Note      string `json:"note"`
		Bisect    struct {
			Segments   int64 `json:"segments"`
			Mismatched int64 `json:"segments_mismatched"`
			Fetched    int64 `json:"rows_fetched"`
		} `json:"bisect"`
	} `json:"plan"`
}

func (r *bisectReport) same() string {
	return fmt.Sprint(r.Summary, r.Columns, r.Differences, r.Source.Rows, r.Target.Rows)
}

// diffAlgorithms runs diff a b with each algorithm and checks that the
// reports agree and that bisect read less than the tables.
func diffAlgorithms(t *testing.T, a, b string, rows int64, args ...string) {
	t.Helper()
	var stream bisectReport
	for _, algo := range []string{"stream", "bisect", "auto"} {
		code, out, errOut := runCLI(t, append([]string{"diff", a, b, "--format", "json", "--algorithm", algo, "--bisect-threshold", "16"}, args...)...)
		if code != exitDifferences {
			t.Fatalf("%s: exit %d, want 1; stderr: %s", algo, code, errOut)
		}
		var r bisectReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: %v\n%s", algo, err, out)
		}
		switch algo {
		case "stream":
			stream = r
			if r.Summary["changed"] != 2 || r.Summary["missing"] != 1 || r.Summary["extra"] != 1 {
				t.Errorf("stream: summary %v, want 2 changed, 1 missing, 1 extra", r.Summary)
			}
			continue
		case "bisect":
			if b := r.Plan.Bisect; r.Plan.Algorithm != "bisect" || b.Mismatched == 0 || b.Segments <= b.Mismatched || b.Fetched == 0 || b.Fetched >= rows {
				t.Errorf("bisect plan: %+v", r.Plan)
			}
		}
		if r.same() != stream.same() {
			t.Errorf("%s and stream reports differ:\n%s\nvs\n%s", algo, r.same(), stream.same())
		}
	}
}

// --algorithm bisect, stream and auto give the same report for two MySQL
// databases and for MySQL against PostgreSQL; a pair whose types the two
// servers cannot checksum alike is refused by bisect and streamed by auto.
func TestDiffMySQLBisect(t *testing.T) {
	my1, my2, pg := testdb.MySQL(t), testdb.MySQL(t), testdb.Postgres(t)
	const n = 600
	myRows := func() string {
		var rows []string
		for i := 1; i <= n; i++ {
			rows = append(rows, fmt.Sprintf("(%d, 'name %d%s', %d.%02d, '2026-01-01 00:00:00' + INTERVAL %d SECOND, %s)",
				i, i, []string{"", "é", " "}[i%3], i%97, i%100, i*3601, map[bool]string{true: "NULL", false: fmt.Sprintf("'k%d'", i%7)}[i%5 == 0]))
		}
		return strings.Join(rows, ", ")
	}()
	for _, my := range []string{my1, my2} {
		testdb.ExecMySQL(t, my,
			"create table orders (id bigint primary key, customer varchar(40), amount decimal(12,2), placed_at datetime(6), tag varchar(10))",
			"insert into orders values "+myRows)
	}
	testdb.ExecMySQL(t, my2,
		"update orders set amount = amount + 0.01 where id in (5, 477)",
		"delete from orders where id = 10",
		"insert into orders values (5000, 'new', 1, '2026-02-01', null)")
	testdb.Exec(t, pg,
		"create table orders (id bigint primary key, customer text, amount numeric(12,2), placed_at timestamptz, tag text)",
		`insert into orders select g, 'name ' || g || (array['', 'é', ' '])[g % 3 + 1], (g % 97) + (g % 100) / 100.0,
		   timestamptz '2026-01-01 00:00:00+00' + g * interval '3601 seconds', case when g % 5 = 0 then null else 'k' || g % 7 end
		 from generate_series(1, 600) g`)

	diffAlgorithms(t, my1, my2, 2*n, "--table", "orders")
	diffAlgorithms(t, pg, my2, 2*n, "--table", "orders")
	diffAlgorithms(t, my2, pg, 2*n, "--table", "orders")

	// A float column has no canonical form the servers build: bisect is
	// refused (exit 2) and auto streams.
	testdb.ExecMySQL(t, my1, "create table f (id int primary key, x double)", "insert into f values (1, 0.5), (2, 1.5)")
	testdb.ExecMySQL(t, my2, "create table f (id int primary key, x double)", "insert into f values (1, 0.5), (2, 2.5)")
	code, _, errOut := runCLI(t, "diff", my1, my2, "--table", "f", "--algorithm", "bisect")
	if code != exitError || !strings.Contains(errOut, "cannot checksum column(s) x") {
		t.Errorf("bisect of a double column: exit %d, %s", code, errOut)
	}
	code, out, errOut := runCLI(t, "diff", my1, my2, "--table", "f", "--algorithm", "auto", "--format", "json")
	if r := decodeReport(t, out); code != exitDifferences || r.Summary["changed"] != 1 {
		t.Errorf("auto of a double column: exit %d, %v; %s", code, r.Summary, errOut)
	}
}

// Text under a case- and accent-insensitive collation is compared byte
// for byte by default; --collation-aware makes the differences the
// collation ignores (case, accents, trailing spaces) ignorable on
// purpose, and never a difference of letters.
func TestDiffCollationAware(t *testing.T) {
	my, pg := testdb.MySQL(t), testdb.Postgres(t)
	testdb.ExecMySQL(t, my,
		"create table people (id bigint primary key, name varchar(40) collate utf8mb4_unicode_ci, code varchar(10) collate utf8mb4_bin)",
		`insert into people values (1, 'Straße', 'a'), (2, 'Crème', 'b'), (3, 'abc  ', 'c'), (4, 'Straße', 'd'), (5, 'same', 'E')`)
	testdb.Exec(t, pg,
		"create table people (id bigint primary key, name text, code text)",
		`insert into people values (1, 'STRASSE', 'a'), (2, 'CREME', 'b'), (3, 'abc', 'c'), (4, 'Strafe', 'd'), (5, 'same', 'e')`)
	changed := func(args ...string) (int64, int64, string) {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"diff", my, pg, "--table", "people", "--format", "json"}, args...)...)
		if code != exitDifferences {
			t.Fatalf("exit %d, want 1; stderr: %s", code, errOut)
		}
		r := decodeReport(t, out)
		return r.Columns["name"].Changed, r.Columns["code"].Changed, out
	}
	if name, code, out := changed(); name != 4 || code != 1 {
		t.Errorf("byte for byte: name %d, code %d changed; want 4 and 1\n%s", name, code, out)
	}
	name, code, out := changed("--collation-aware")
	if name != 1 || code != 1 {
		t.Errorf("--collation-aware: name %d, code %d changed; want 1 (Straße/Strafe) and 1 (a _bin column)\n%s", name, code, out)
	}
	if !strings.Contains(out, "name: trim_end, unaccent, fold (collation utf8mb4_unicode_ci)") {
		t.Errorf("the report's plan does not say what --collation-aware did:\n%s", out)
	}
	// An explicit --normalize of the column wins.
	if name, _, out := changed("--collation-aware", "--normalize", "name=lower"); name != 4 {
		t.Errorf("--normalize name=lower with --collation-aware: name %d changed, want 4\n%s", name, out)
	}
}

// Auto with the canonical hash weighs what the checksums cost against
// reading the rows: MD5 built in SQL on a server on this host costs
// several times sending the row, so two MariaDB tables that barely differ
// are streamed, saying why; --algorithm bisect still bisects.
func TestAutoStreamsWhenChecksumsCostMore(t *testing.T) {
	my := testdb.MySQL(t)
	testdb.ExecMySQL(t, my,
		"create table a (id bigint primary key, name varchar(40), amount decimal(12,2))",
		"insert into a select seq, concat('name ', seq), seq / 100 from seq_1_to_20000",
		"create table b like a", "insert into b select * from a",
		"update b set name = 'changed' where id in (5, 9000, 19999)", "analyze table a, b")
	plan := func(args ...string) (string, string) {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"diff", my, my, "--source-table", "a", "--target-table", "b", "--format", "json"}, args...)...)
		if code != exitDifferences {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var r struct {
			Summary map[string]int64
			Plan    struct{ Algorithm, Note string }
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Summary["changed"] != 3 {
			t.Fatalf("%v %v\n%s", err, r.Summary, out)
		}
		return r.Plan.Algorithm, r.Plan.Note
	}
	// The decision rests on two timings on a shared machine: one of three
	// runs must see what the server's MD5 costs (each run is correct
	// either way).
	var notes []string
	for range 3 {
		algo, note := plan()
		if !strings.Contains(note, "segments in SQL took") {
			t.Fatalf("auto did not time the canonical hash: %s, %q", algo, note)
		}
		if algo == "merge" && strings.Contains(note, "so the table was streamed") {
			notes = nil
			break
		}
		notes = append(notes, algo+": "+note)
	}
	if notes != nil {
		t.Errorf("auto bisected every time:\n%s", strings.Join(notes, "\n"))
	}
	if algo, _ := plan("--algorithm", "bisect"); algo != "bisect" {
		t.Errorf("--algorithm bisect: %s", algo)
	}
}
