package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/internal/testdb"
)

// The three command lines, against the real PostgreSQL: two
// databases, a table against a file, and renamed tables with a filter.
func TestDiffPostgres(t *testing.T) {
	a, b := testdb.Postgres(t), testdb.Postgres(t)
	schema := `create table public.orders (order_id bigint primary key, customer text, "Amount" numeric(12,2), placed_at timestamptz, paid boolean)`
	fill := `insert into public.orders select g, 'cust ' || g, g * 1.5, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour', g % 2 = 0 from generate_series(1, 500) g`
	testdb.Exec(t, a, schema, fill,
		`create schema billing`, `create table billing.customers (id int primary key, plan text, created_at timestamptz)`,
		`insert into billing.customers values (1, 'gold', '2026-01-01'), (2, 'free', '2026-01-02'), (3, 'pro', now())`)
	testdb.Exec(t, b, schema, fill,
		`update public.orders set "Amount" = "Amount" + 0.01 where order_id in (5, 77)`,
		`delete from public.orders where order_id = 10`,
		`insert into public.orders values (5000, 'new', 1, '2026-02-01', true)`,
		`create schema crm`, `create table crm.accounts (id int primary key, tier text, created_at timestamptz)`,
		`insert into crm.accounts values (1, 'gold', '2026-01-01'), (2, 'paid', '2026-01-02')`)

	// Two databases; the key is the primary key.
	code, out, errOut := runCLI(t, "diff", a, b, "--table", "public.orders", "--format", "json")
	if code != exitDifferences {
		t.Fatalf("exit %d, want 1; stderr: %s", code, errOut)
	}
	r := decodeReport(t, out)
	if got := [4]int64{r.Summary["changed"], r.Summary["missing"], r.Summary["extra"], r.Summary["matched"]}; got != [4]int64{2, 1, 1, 497} {
		t.Errorf("changed/missing/extra/matched = %v, want [2 1 1 497]", got)
	}
	if r.Columns["Amount"].Changed != 2 {
		t.Errorf("Amount changed %d times, want 2", r.Columns["Amount"].Changed)
	}
	if r.Source.Table != "public.orders" || r.Source.Snapshot == nil || r.Source.Snapshot.Time == "" || r.Source.Snapshot.Position == "" {
		t.Errorf("the report does not record the source's table and snapshot: %+v", r.Source)
	}

	// The same pair bisected: the databases checksum segments, and the
	// report is the same field-level report, with the plan's statistics.
	code, bout, errOut := runCLI(t, "diff", a, b, "--table", "public.orders", "--format", "json", "--algorithm", "bisect", "--bisect-threshold", "16")
	if code != exitDifferences {
		t.Fatalf("bisect: exit %d, want 1; stderr: %s", code, errOut)
	}
	br := decodeReport(t, bout)
	if fmt.Sprint(br.Summary, br.Columns, br.Differences, br.Source.Rows, br.Target.Rows) != fmt.Sprint(r.Summary, r.Columns, r.Differences, r.Source.Rows, r.Target.Rows) {
		t.Errorf("bisect and stream reports differ:\n%s\nvs\n%s", bout, out)
	}
	var bp struct {
		Plan struct {
			Algorithm string `json:"algorithm"`
			Bisect    struct {
				Segments   int64 `json:"segments"`
				Mismatched int64 `json:"segments_mismatched"`
				Fetched    int64 `json:"rows_fetched"`
			} `json:"bisect"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(bout), &bp); err != nil || bp.Plan.Algorithm != "bisect" || bp.Plan.Bisect.Mismatched == 0 ||
		bp.Plan.Bisect.Segments <= bp.Plan.Bisect.Mismatched || bp.Plan.Bisect.Fetched == 0 || bp.Plan.Bisect.Fetched >= 2*500 {
		t.Errorf("bisect plan: %v, %+v", err, bp.Plan)
	}
	// With a query-time target the first level is checksummed in chunks
	// of segments; the report is the same.
	code, cout, errOut := runCLI(t, "diff", a, b, "--table", "public.orders", "--format", "json", "--algorithm", "bisect", "--bisect-threshold", "16", "--max-query-seconds", "0.0001")
	if code != exitDifferences {
		t.Fatalf("bisect --max-query-seconds: exit %d, want 1; stderr: %s", code, errOut)
	}
	if cr := decodeReport(t, cout); fmt.Sprint(cr.Summary, cr.Columns, cr.Differences) != fmt.Sprint(r.Summary, r.Columns, r.Differences) {
		t.Errorf("bisect with --max-query-seconds and stream reports differ:\n%s\nvs\n%s", cout, out)
	}
	one := filepath.Join(t.TempDir(), "one.csv")
	if err := os.WriteFile(one, []byte("order_id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, "diff", a, one, "--table", "public.orders", "--algorithm", "bisect")
	if code != exitError || !strings.Contains(errOut, "checksums computed in the database") {
		t.Errorf("bisect against a file: exit %d, %s", code, errOut)
	}

	// A table against its CSV export (written by PostgreSQL itself).
	csvPath := filepath.Join(t.TempDir(), "orders.csv")
	conn := testdb.Connect(t, a)
	f, err := os.Create(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.PgConn().CopyTo(t.Context(), f, `copy (select * from public.orders) to stdout (format csv, header)`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, out, errOut = runCLI(t, "diff", a, csvPath, "--table", "public.orders", "--key", "order_id")
	if code != exitConsistent {
		t.Errorf("table vs its own export: exit %d, want 0\n%s%s", code, out, errOut)
	}

	// Renamed tables, a mapped column and a filter on both sides.
	code, out, errOut = runCLI(t, "diff", a, b, "--source-table", "billing.customers", "--target-table", "crm.accounts",
		"--map", "plan=tier", "--where", "created_at < now() - interval '1 day'", "--format", "json")
	if code != exitDifferences {
		t.Fatalf("renamed tables: exit %d, want 1; stderr: %s", code, errOut)
	}
	r = decodeReport(t, out)
	if r.Summary["changed"] != 1 || r.Summary["matched"] != 1 || r.Source.Rows != 2 {
		t.Errorf("renamed tables: summary %v, source rows %d; want 1 changed, 1 matched, 2 rows (row 3 filtered out)", r.Summary, r.Source.Rows)
	}

	// A password in the URL never shows, even when the connection fails.
	bad := strings.Replace(a, "postgres@", "postgres:s3cret-pw@", 1)
	bad = strings.Replace(bad, "127.0.0.1:5432", "127.0.0.1:1", 1)
	if !strings.Contains(bad, "s3cret-pw@127.0.0.1:1/") {
		t.Fatalf("cannot build a bad URL from %s", a)
	}
	code, out, errOut = runCLI(t, "diff", bad, csvPath, "--table", "public.orders")
	if code != exitError || strings.Contains(out+errOut, "s3cret-pw") {
		t.Errorf("bad connection: exit %d (want 2), output:\n%s%s", code, out, errOut)
	}
}
