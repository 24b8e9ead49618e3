package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/runs"
)

// The flow on the real PostgreSQL: a config with a system of
// record and a replica; run resolves the differences by the rules into a
// batch; apply refuses it until it is approved; once approved it applies;
// the next run finds only what the rules leave alone.
func TestRunAndBatchPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.Exec(t, db,
		`create table billing (id int primary key, email text, plan text, mrr numeric(10,2), notes text, updated_at timestamptz not null)`,
		`create table crm (id int primary key, email text, tier text, mrr numeric(10,3), notes text, updated_at timestamptz not null)`,
		`insert into billing select g, 'user' || g || '@example.com', 'pro', 10, 'n' || g, '2026-11-01' from generate_series(1, 200) g`,
		`insert into crm select id, email, plan, mrr, notes, updated_at from billing`,
		// Spelled differently, equal under the job's normaliser and tolerance.
		`update crm set email = ' USER2@Example.com' where id = 2`,
		`update crm set mrr = 10.004 where id = 3`,
		// Fixed by source_of_truth: an update of tier only.
		`update crm set tier = 'free' where id = 4`,
		// Missing in crm: an insert. Extra in crm: a delete.
		`delete from crm where id = 5`,
		`insert into crm values (900, 'x@example.com', 'free', 0, '', '2026-11-01')`,
		// notes are manual: listed for review, never fixed.
		`update crm set notes = 'edited by support' where id = 7`,
		// email is newest: the crm row is newer, so crm keeps its value.
		`update crm set email = 'new8@example.com', updated_at = '2026-11-20' where id = 8`,
		// Rows in flight are not drift yet.
		`update billing set plan = 'team', updated_at = now() where id = 9`,
	)
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	pw := "hunter2"
	yaml := fmt.Sprintf(`store: %s
systems:
  billing: {url: %q, password_env: RECONCILE_TEST_BILLING_PW}
  crm: {url: %q}
jobs:
  customers:
    system_of_record: {system: billing, table: public.billing}
    replicas:
      - {system: crm, table: public.crm, map: {plan: tier}}
    key: [id]
    # updated_at says when a row changed; it is not itself compared.
    ignore: [updated_at]
    in_flight: 1h
    normalize:
      email: [trim, lower]
    tolerance:
      mrr: {abs: 0.01}
    rules:
      default: source_of_truth
      columns:
        email: newest
        notes: manual
    limits: {max_changes: 100, max_fraction: 0.5}
`, store, db, db)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RECONCILE_TEST_BILLING_PW", pw)

	prom := filepath.Join(t.TempDir(), "reconcile.prom")
	code, out, errOut := runCLI(t, "run", "customers", "--config", cfg, "--metrics-file", prom)
	if code != exitDifferences {
		t.Fatalf("run: exit %d, want 1\n%s%s", code, out, errOut)
	}
	text, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`reconcile_rows{job="customers",system="crm"} 200`,
		`reconcile_rows{job="customers",system="billing"} 200`,
		`reconcile_differences{job="customers",kind="missing",system="crm"} 1`,
		`reconcile_differences{job="customers",kind="changed",system="crm"} 3`,
		`reconcile_differences{job="customers",kind="in_flight",system="crm"} 1`,
		`reconcile_column_differences{column="notes",job="customers",system="crm"} 1`,
		`reconcile_batches{job="customers",state="pending"} 1`,
		`reconcile_last_run_timestamp_seconds{job="customers",outcome="differences"}`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics file lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(string(text), pw) || strings.Contains(string(text), "://") {
		t.Errorf("metrics file holds a location:\n%s", text)
	}
	// The run history has the run, finished, with what it found.
	hist, err := runs.OpenLocal(filepath.Join(store, "history"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := hist.List(context.Background(), runs.ListOptions{Job: "customers"})
	if err != nil || len(rs) != 1 || rs[0].Outcome != runs.Differences || len(rs[0].Replicas) != 1 ||
		rs[0].Replicas[0].Counts.Missing != 1 || rs[0].Replicas[0].Batch == "" || rs[0].Finished.IsZero() {
		t.Errorf("run history: %v %+v", err, rs)
	}
	if strings.Contains(out+errOut, pw) {
		t.Errorf("the password leaked:\n%s%s", out, errOut)
	}
	id := regexp.MustCompile(`batch   (\S+):`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no batch in the output:\n%s", out)
	}
	bs, err := batches.List(filepath.Join(store, "batches"))
	if err != nil || len(bs) != 1 || bs[0].Manifest.ID != id[1] {
		t.Fatalf("batches: %v, %d", err, len(bs))
	}
	m := bs[0].Manifest
	if m.Counts != (batches.Counts{Insert: 1, Update: 1, Delete: 1}) || m.State != batches.Pending || m.Target.Table != "public.crm" || m.Key[0] != "id" {
		t.Errorf("batch manifest: %+v", m)
	}
	ops, err := bs[0].Ops()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op.Kind == "update" && (len(op.Set) != 1 || op.Set[0].Column != "tier" || op.Set[0].Value.String() != "pro" || op.Expect[0].Value.String() != "free") {
			t.Errorf("update: %+v", op)
		}
		// e-mails are normalised; the insert and the delete write and
		// expect the stored ones (TestRunNormalisedColumnsPostgres has
		// stored values that differ from their normalised form).
		if op.Kind == "insert" && cellOf(op.Set, "email") != "user5@example.com" {
			t.Errorf("insert: %+v", op)
		}
		if op.Kind == "delete" && cellOf(op.Expect, "email") != "x@example.com" {
			t.Errorf("delete: %+v", op)
		}
	}
	// notes of row 7 wait for a person.
	review, err := filepath.Glob(filepath.Join(store, "runs", "customers", "*", "review-crm.jsonl"))
	if err != nil || len(review) != 1 {
		t.Fatalf("review list: %v %v", review, err)
	}
	if data, _ := os.ReadFile(review[0]); !strings.Contains(string(data), `"id":7`) || !strings.Contains(string(data), "notes") {
		t.Errorf("review list: %s", data)
	}
	// The missing and the extra row are fixed, normalised e-mail or not.
	if data, _ := os.ReadFile(review[0]); strings.Contains(string(data), `"id":5`) || strings.Contains(string(data), `"id":900`) ||
		strings.Contains(string(data), "normalised column") {
		t.Errorf("review list holds rows for their normalised e-mail: %s", data)
	}
	for _, f := range []string{review[0], filepath.Join(bs[0].Dir, "manifest.json"), filepath.Join(bs[0].Dir, "batch.sql")} {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), pw) {
			t.Errorf("%s holds the password", f)
		}
	}

	// Not approved: refused, nothing written.
	code, out, errOut = runCLI(t, "batch", "apply", id[1], "--config", cfg)
	if code != exitError || !strings.Contains(errOut, "approved") {
		t.Errorf("apply unapproved: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "batch", "show", id[1], "--config", cfg)
	if code != 0 || !strings.Contains(out, "pending") || !strings.Contains(out, "tier: free → pro") {
		t.Errorf("show: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "batch", "apply", id[1], "--config", cfg, "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run") || !strings.Contains(out, "3 applied") {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, "batch", "approve", id[1], "--config", cfg); code != exitError || !strings.Contains(errOut, "--by") {
		t.Errorf("approve without --by: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, "batch", "approve", id[1], "--config", cfg, "--by", "alice"); code != 0 {
		t.Fatalf("approve: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "batch", "apply", id[1], "--config", cfg)
	if code != 0 || !strings.Contains(out, "3 applied") || !strings.Contains(out, "undo batch") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	// Twice changes nothing.
	code, out, errOut = runCLI(t, "batch", "apply", id[1], "--config", cfg)
	if code != 0 || !strings.Contains(out, "0 operation(s) sent") {
		t.Errorf("apply again: exit %d\n%s%s", code, out, errOut)
	}
	// Verify: the touched rows agree now; a row changed since, not.
	code, out, errOut = runCLI(t, "batch", "verify", id[1], "--config", cfg)
	if code != 0 || !strings.Contains(out, "0 still differ") {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}
	testdb.Exec(t, db, `update crm set tier = 'team' where id = 4`)
	code, out, errOut = runCLI(t, "batch", "verify", id[1], "--config", cfg)
	if code != exitDifferences || !strings.Contains(out, "1 still differ (0 missing, 0 extra, 1 changed)") {
		t.Errorf("verify after a change: exit %d\n%s%s", code, out, errOut)
	}
	testdb.Exec(t, db, `update crm set tier = 'pro' where id = 4`)
	code, out, errOut = runCLI(t, "batch", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, "applied") || !strings.Contains(out, "pending") {
		t.Errorf("list: exit %d\n%s%s", code, out, errOut)
	}

	conn := testdb.Connect(t, db)
	var tier string
	var n5, n900 int
	if err := conn.QueryRow(context.Background(), `select (select tier from crm where id = 4), (select count(*) from crm where id = 5), (select count(*) from crm where id = 900)`).Scan(&tier, &n5, &n900); err != nil {
		t.Fatal(err)
	}
	if tier != "pro" || n5 != 1 || n900 != 0 {
		t.Errorf("after apply: tier %q, row 5 ×%d, row 900 ×%d", tier, n5, n900)
	}

	// The next run: what the rules leave alone (notes of 7, the newer
	// email of 8) and the row in flight; nothing to fix.
	code, out, errOut = runCLI(t, "run", "customers", "--config", cfg, "--format", "json", "--limit", "0", "--metrics-file", prom)
	if code != exitDifferences || !strings.Contains(out, "batch   none") {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errOut)
	}
	// The textfile counts the operations the batches have run so far.
	if text, err := os.ReadFile(prom); err != nil || !strings.Contains(string(text), `reconcile_fix_operations_total{job="customers",outcome="applied",system="crm"} 3`) {
		t.Errorf("metrics file after an apply: %v\n%s", err, text)
	}
	r := decodeReport(t, out[strings.Index(out, "{"):strings.LastIndex(out, "}")+1])
	if r.Summary["changed"] != 2 || r.Summary["missing"] != 0 || r.Summary["extra"] != 0 || r.Summary["in_flight"] != 1 {
		t.Errorf("second run: %v", r.Summary)
	}
}

func TestRunErrors(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	os.WriteFile(cfg, []byte(`systems:
  a: {url: "postgres://u@127.0.0.1:1/db"}
jobs:
  j:
    system_of_record: {system: a, table: t}
    replicas: [{system: a, table: u}]
    key: [id]
`), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "at least one JOB"},
		{[]string{"run", "j", "--config", cfg}, "no store"},
		{[]string{"run", "nope", "--config", cfg, "--store", t.TempDir()}, `job "nope" is not in`},
		{[]string{"run", "j", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, "missing.yaml"},
		{[]string{"batch", "show", "2026-01-01T0000-j-a", "--store", t.TempDir()}, "2026-01-01T0000-j-a"},
		{[]string{"batch", "apply", "x", "--config", cfg, "--store", t.TempDir()}, "x"},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, c.args...)
		if code != exitError || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q\n%s", c.args, code, errOut, c.want, out)
		}
	}
}

// A system of record that suddenly returns no rows (a broken query, an
// emptied table) never becomes a mass delete; a batch over the limits is
// refused.
func TestRunSafetyLimits(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.Exec(t, db,
		`create table a (id int primary key, v text)`, `create table b (id int primary key, v text)`,
		`insert into a select g, 'v' || g from generate_series(1, 50) g`, `insert into b select * from a`)
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	write := func(limits string) {
		t.Helper()
		os.WriteFile(cfg, []byte(fmt.Sprintf(`store: %s
systems:
  s: {url: %q}
jobs:
  j:
    system_of_record: {system: s, table: public.a}
    replicas: [{system: s, table: public.b}]
    key: [id]
    limits: %s
`, store, db, limits)), 0o644)
	}
	write("{max_changes: 10}")
	if code, out, errOut := runCLI(t, "run", "j", "--config", cfg); code != exitConsistent {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	// 20 changes: over max_changes 10.
	testdb.Exec(t, db, `update b set v = 'x' where id <= 20`)
	code, out, errOut := runCLI(t, "run", "j", "--config", cfg)
	if code != exitError || !strings.Contains(errOut, "max_changes") {
		t.Errorf("over the limit: exit %d\n%s%s", code, out, errOut)
	}
	testdb.Exec(t, db, `update b set v = a.v from a where a.id = b.id`)

	// The system of record is emptied: every replica row is extra, but no
	// delete goes into the batch.
	write("{max_changes: 1000, max_fraction: 1}")
	testdb.Exec(t, db, `delete from a`)
	code, out, errOut = runCLI(t, "run", "j", "--config", cfg)
	if code != exitDifferences || !strings.Contains(out, "deletes withheld") {
		t.Fatalf("emptied system of record: exit %d\n%s%s", code, out, errOut)
	}
	bs, err := batches.List(filepath.Join(store, "batches"))
	if err != nil || len(bs) != 1 || bs[0].Manifest.Counts.Delete != 0 || bs[0].Manifest.DeletesWithheld == "" {
		t.Fatalf("batch: %v %+v", err, bs)
	}
	// The next run still withholds them: the shrink is measured against
	// the largest recent run, not the emptied one.
	code, out, errOut = runCLI(t, "run", "j", "--config", cfg)
	if code != exitDifferences || !strings.Contains(out, "deletes withheld") {
		t.Fatalf("second run after the shrink: exit %d\n%s%s", code, out, errOut)
	}
	// Five rows come back: a 90 % shrink against the largest recent run
	// still withholds the deletes, unless the shrink is accepted.
	testdb.Exec(t, db, `insert into a select * from b where id <= 5`)
	code, out, errOut = runCLI(t, "run", "j", "--config", cfg)
	if code != exitDifferences || !strings.Contains(out, "deletes withheld") {
		t.Fatalf("run after a 90 %% shrink: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "run", "j", "--config", cfg, "--accept-shrink")
	id := regexp.MustCompile(`batch   (\S+): 0 insert\(s\), 0 update\(s\), 45 delete\(s\)`).FindStringSubmatch(out)
	if code != exitDifferences || id == nil {
		t.Fatalf("--accept-shrink: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, "batch", "approve", id[1], "--config", cfg, "--by", "carol"); code != 0 {
		t.Fatalf("approve: exit %d\n%s%s", code, out, errOut)
	}
	// The config changes after approval: the batch is refused.
	write("{max_changes: 999, max_fraction: 1}")
	code, out, errOut = runCLI(t, "batch", "apply", id[1], "--config", cfg)
	if code != exitError || !strings.Contains(errOut, "another configuration") {
		t.Errorf("apply under a changed config: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, "batch", "reject", id[1], "--config", cfg, "--by", "dave", "--reason", "config changed"); code != 0 || !strings.Contains(out, "rejected by dave") {
		t.Errorf("reject: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, "batch", "show", id[1], "--config", cfg); code != 0 || !strings.Contains(out, "rejected by dave") || !strings.Contains(out, "config changed") {
		t.Errorf("show rejected: exit %d\n%s%s", code, out, errOut)
	}
	var n int
	if err := testdb.Connect(t, db).QueryRow(context.Background(), `select count(*) from b`).Scan(&n); err != nil || n != 50 {
		t.Errorf("rows in b: %d, %v", n, err)
	}
}

// A MariaDB replica of a PostgreSQL system of record: the batch is in
// MySQL's dialect, applies with its guards, and verify finds the touched
// rows in agreement.
func TestRunMySQLReplica(t *testing.T) {
	my, pg := testdb.MySQL(t), testdb.Postgres(t)
	testdb.Exec(t, pg,
		`create table orders (id bigint primary key, status text not null, amount numeric(12,2), placed_at timestamptz)`,
		`insert into orders select g, 'open', g * 1.25, timestamptz '2026-11-01 00:00:00+00' + g * interval '1 minute' from generate_series(1, 300) g`)
	testdb.ExecMySQL(t, my,
		"create table orders (id bigint primary key, status varchar(20) not null, amount decimal(12,2), placed_at datetime(6))",
		`insert into orders select seq, 'open', seq * 1.25, timestampadd(minute, seq, '2026-11-01 00:00:00') from seq_1_to_300`,
		`update orders set status = 'closed', amount = 0 where id = 10`,
		`delete from orders where id = 20`,
		`insert into orders values (301, 'open', 1, '2026-11-02 00:00:00')`)
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store: %s
systems:
  app: {url: %q}
  legacy: {url: %q}
jobs:
  orders:
    system_of_record: {system: app, table: public.orders}
    replicas: [{system: legacy, table: orders}]
    key: [id]
`, store, pg, my)), 0o644)
	code, out, errOut := runCLI(t, "run", "orders", "--config", cfg)
	id := regexp.MustCompile(`batch   (\S+):`).FindStringSubmatch(out)
	if code != exitDifferences || id == nil || !strings.Contains(out, "1 insert(s), 1 update(s), 1 delete(s)") {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	bs, _ := batches.List(filepath.Join(store, "batches"))
	if len(bs) != 1 || bs[0].Manifest.Dialect != "mysql" {
		t.Fatalf("batch: %+v", bs)
	}
	if data, _ := os.ReadFile(filepath.Join(bs[0].Dir, "batch.sql")); !strings.Contains(string(data), "<=>") {
		t.Errorf("batch.sql is not guarded in MySQL's dialect:\n%s", data)
	}
	for _, args := range [][]string{
		{"batch", "approve", id[1], "--config", cfg, "--by", "bob"},
		{"batch", "apply", id[1], "--config", cfg},
		{"batch", "verify", id[1], "--config", cfg},
	} {
		if code, out, errOut := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	if code, out, errOut := runCLI(t, "run", "orders", "--config", cfg); code != exitConsistent {
		t.Errorf("run after apply: exit %d\n%s%s", code, out, errOut)
	}
}

// A delete expects the whole replica row, ignored columns included, so a
// change to one of them since the diff is a conflict; and a replica with
// columns the system of record lacks gets no delete (its undo could not
// restore them): the row waits for review.
func TestRunDeleteGuards(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.Exec(t, db,
		`create table a (id int primary key, v text, note text)`,
		`create table b (id int primary key, v text, note text)`,
		`create table c (id int primary key, v text, note text, etl text)`,
		`insert into a values (1, 'x', 'n')`, `insert into b values (1, 'x', 'n'), (2, 'gone', 'keep')`,
		`insert into c values (1, 'x', 'n', 'e'), (2, 'gone', 'keep', 'e2')`)
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store: %s
systems:
  s: {url: %q}
  r1: {url: %q}
  r2: {url: %q}
jobs:
  j:
    system_of_record: {system: s, table: public.a}
    replicas: [{system: r1, table: public.b}, {system: r2, table: public.c}]
    key: [id]
    ignore: [note]
`, store, db, db, db)), 0o644)
	code, out, errOut := runCLI(t, "run", "j", "--config", cfg)
	if code != exitDifferences {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	bs, err := batches.List(filepath.Join(store, "batches"))
	if err != nil || len(bs) != 1 || bs[0].Manifest.Target.System != "r1" {
		t.Fatalf("batches: %v %+v\n%s", err, bs, out)
	}
	ops, _ := bs[0].Ops()
	if len(ops) != 1 || ops[0].Kind != "delete" || len(ops[0].Expect) != 3 {
		t.Fatalf("ops: %+v", ops)
	}
	review, _ := filepath.Glob(filepath.Join(store, "runs", "j", "*", "review-r2.jsonl"))
	if data, _ := os.ReadFile(review[0]); len(review) != 1 || !strings.Contains(string(data), "etl only in the replica") {
		t.Errorf("review of r2: %s", data)
	}
	// The ignored note changes before the apply: a conflict, not a delete.
	testdb.Exec(t, db, `update b set note = 'edited' where id = 2`)
	id := bs[0].Manifest.ID
	runCLI(t, "batch", "approve", id, "--config", cfg, "--by", "erin")
	code, out, errOut = runCLI(t, "batch", "apply", id, "--config", cfg)
	if code != exitDifferences || !strings.Contains(out, "1 conflict(s)") {
		t.Errorf("apply: exit %d\n%s%s", code, out, errOut)
	}
	var n int
	if err := testdb.Connect(t, db).QueryRow(context.Background(), `select count(*) from b where id = 2`).Scan(&n); err != nil || n != 1 {
		t.Errorf("row 2 of b: %d, %v", n, err)
	}
}

// verify reads each side through its filter: a row the system of record
// filters out (soft-deleted) is not counted as agreeing with the replica.
func TestVerifyHonoursWhere(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.Exec(t, db,
		`create table a (id int primary key, v text, deleted boolean not null)`, `create table b (id int primary key, v text)`,
		`insert into a values (1, 'x', false), (2, 'y', true)`, `insert into b values (1, 'x'), (2, 'y')`)
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store: %s
systems:
  s: {url: %q}
  r: {url: %q}
jobs:
  j:
    system_of_record: {system: s, table: public.a, where: "NOT deleted"}
    replicas: [{system: r, table: public.b}]
    key: [id]
    ignore: [deleted]
`, store, db, db)), 0o644)
	code, out, errOut := runCLI(t, "run", "j", "--config", cfg)
	id := regexp.MustCompile(`batch   (\S+): 0 insert\(s\), 0 update\(s\), 1 delete\(s\)`).FindStringSubmatch(out)
	if code != exitDifferences || id == nil {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "batch", "verify", id[1], "--config", cfg)
	if code != exitDifferences || !strings.Contains(out, "1 still differ (0 missing, 1 extra, 0 changed)") {
		t.Errorf("verify before the delete: exit %d\n%s%s", code, out, errOut)
	}
}

// With state: {system: ...} the run history goes to that PostgreSQL
// database, where several hosts share it.
func TestRunHistoryInPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.Exec(t, db, `create table a (id int primary key, v text)`, `create table b (id int primary key, v text)`,
		`insert into a values (1, 'x')`, `insert into b values (1, 'y')`)
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store: %s
state: {system: s}
systems:
  s: {url: %q}
  r: {url: %q}
jobs:
  j:
    system_of_record: {system: s, table: public.a}
    replicas: [{system: r, table: public.b}]
    key: [id]
`, store, db, db)), 0o644)
	if code, out, errOut := runCLI(t, "run", "j", "--config", cfg); code != exitDifferences {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	var n int
	var outcome string
	if err := testdb.Connect(t, db).QueryRow(context.Background(), `select count(*), max(outcome) from reconcile_runs where job = 'j'`).Scan(&n, &outcome); err != nil || n != 1 || outcome != "differences" {
		t.Errorf("reconcile_runs: %d runs, outcome %q, %v", n, outcome, err)
	}
	if _, err := os.Stat(filepath.Join(store, "history")); !os.IsNotExist(err) {
		t.Errorf("a local history was written too: %v", err)
	}
}

// cellOf is the text of a column's cell, "<absent>" when the cells lack it.
func cellOf(cells []batches.Cell, col string) string {
	for _, c := range cells {
		if c.Column == col {
			if s, ok := c.Value.Text(); ok {
				return s
			}
			return "<" + c.Value.String() + ">"
		}
	}
	return "<absent>"
}

// opFor is the operation of a kind on the row with this integer key.
func opFor(t *testing.T, ops []batches.Op, kind string, id int64) batches.Op {
	t.Helper()
	for _, op := range ops {
		if k, ok := op.Key[0].Value.Int(); ok && k == id && string(op.Kind) == kind {
			return op
		}
	}
	t.Fatalf("no %s of row %d in %+v", kind, id, ops)
	return batches.Op{}
}

// A normalised column is compared in its normalised form, but fixed with
// the values the sides store: an update writes the source's stored
// e-mail and guards on the replica's, an insert writes the source's, a
// delete expects (and its undo re-inserts) the replica's. A row whose
// e-mails differ only as the normaliser allows is left alone, and so is
// the spelling of an e-mail equal once normalised in a row fixed for
// another column.
func TestRunNormalisedColumnsPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.Exec(t, db,
		`create table people (id int primary key, email text, name text)`,
		`create table people_copy (id int primary key, email text, name text)`,
		`insert into people values
			(1, '  Alice@X.COM ', 'A'),
			(2, 'Bob@Example.com', 'B'),
			(3, ' Carol@X.com', 'C'),
			(4, 'Erin@X.Com  ', 'E'),
			(5, 'Fay@x.com', 'F')`,
		`insert into people_copy values
			(1, '  Alice@X.COM ', 'A'),
			(2, 'bob@example.COM', 'B'),  -- (a) differs only in case: not drift
			(3, 'dave@x.com', 'C'),       -- (b) a really different e-mail
			                              -- (c) 4 is missing
			(5, 'FAY@x.com ', 'G'),       -- the name differs, the e-mail only in form
			(900, ' Zed@X.com', 'Z')      -- (d) extra`,
	)
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store: %s
systems:
  app: {url: %q}
  copy: {url: %q}
jobs:
  people:
    system_of_record: {system: app, table: public.people}
    replicas: [{system: copy, table: public.people_copy}]
    key: [id]
    normalize:
      email: [trim, lower]
    limits: {max_changes: 100, max_fraction: 1}
`, store, db, db)), 0o644)
	code, out, errOut := runCLI(t, "run", "people", "--config", cfg)
	id := regexp.MustCompile(`batch   (\S+): 1 insert\(s\), 2 update\(s\), 1 delete\(s\)`).FindStringSubmatch(out)
	if code != exitDifferences || id == nil || strings.Contains(out, "review ") {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	b, err := batches.Open(filepath.Join(store, "batches"), id[1])
	if err != nil {
		t.Fatal(err)
	}
	ops, err := b.Ops()
	if err != nil || len(ops) != 4 {
		t.Fatalf("ops: %v %+v", err, ops)
	}
	if op := opFor(t, ops, "update", 3); len(op.Set) != 1 || cellOf(op.Set, "email") != " Carol@X.com" ||
		len(op.Expect) != 1 || cellOf(op.Expect, "email") != "dave@x.com" {
		t.Errorf("update of row 3: set %+v, expect %+v; want the stored e-mails", op.Set, op.Expect)
	}
	if op := opFor(t, ops, "update", 5); len(op.Set) != 1 || cellOf(op.Set, "name") != "F" || cellOf(op.Expect, "email") != "<absent>" {
		t.Errorf("update of row 5: set %+v, expect %+v; want the name only", op.Set, op.Expect)
	}
	if op := opFor(t, ops, "insert", 4); cellOf(op.Set, "email") != "Erin@X.Com  " || cellOf(op.Set, "name") != "E" {
		t.Errorf("insert of row 4: set %+v; want the stored e-mail", op.Set)
	}
	if op := opFor(t, ops, "delete", 900); cellOf(op.Expect, "email") != " Zed@X.com" || cellOf(op.Expect, "name") != "Z" {
		t.Errorf("delete of row 900: expect %+v; want the stored e-mail", op.Expect)
	}
	for _, args := range [][]string{
		{"batch", "approve", id[1], "--config", cfg, "--by", "alice"},
		{"batch", "apply", id[1], "--config", cfg},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || (args[1] == "apply" && (!strings.Contains(out, "4 applied") || !strings.Contains(out, "0 conflict"))) {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	rows, err := testdb.Connect(t, db).Query(context.Background(), `select id, email, name from people_copy order by id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var n int
		var email, name string
		if err := rows.Scan(&n, &email, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %q %s", n, email, name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`1 "  Alice@X.COM " A`,
		`2 "bob@example.COM" B`, // untouched
		`3 " Carol@X.com" C`,    // the source's stored e-mail
		`4 "Erin@X.Com  " E`,    // inserted as stored
		`5 "FAY@x.com " F`,      // its e-mail untouched
	}
	if !slices.Equal(got, want) {
		t.Errorf("people_copy after apply:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if code, out, errOut := runCLI(t, "batch", "verify", id[1], "--config", cfg); code != 0 || !strings.Contains(out, "0 still differ") {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}
	// The undo batch restores the stored values: it deletes row 4
	// expecting its stored e-mail, re-inserts row 900 as it was stored,
	// and puts row 3's e-mail back, guarded on the one written.
	b, err = batches.Open(filepath.Join(store, "batches"), id[1])
	if err != nil || b.Manifest.Undo == "" {
		t.Fatalf("applied batch: %v %+v", err, b)
	}
	undo, err := batches.Open(filepath.Join(store, "batches"), b.Manifest.Undo)
	if err != nil {
		t.Fatal(err)
	}
	if ops, err = undo.Ops(); err != nil {
		t.Fatal(err)
	}
	if op := opFor(t, ops, "delete", 4); cellOf(op.Expect, "email") != "Erin@X.Com  " {
		t.Errorf("undo of the insert: %+v", op)
	}
	if op := opFor(t, ops, "insert", 900); cellOf(op.Set, "email") != " Zed@X.com" {
		t.Errorf("undo of the delete: %+v", op)
	}
	if op := opFor(t, ops, "update", 3); cellOf(op.Set, "email") != "dave@x.com" || cellOf(op.Expect, "email") != " Carol@X.com" {
		t.Errorf("undo of the update: %+v", op)
	}
	if code, out, errOut := runCLI(t, "run", "people", "--config", cfg); code != exitConsistent {
		t.Errorf("run after apply: exit %d\n%s%s", code, out, errOut)
	}
}
