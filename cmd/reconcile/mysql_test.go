package main

import (
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
