package batches_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/connectors/postgres"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

var now = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

func i64(n int64) reconcile.Value   { return reconcile.AppendInt(nil, n) }
func text(s string) reconcile.Value { return reconcile.AppendText(nil, s) }

const pgTable = `CREATE TABLE acc (
	id bigint PRIMARY KEY, email text, amount numeric(40,10), score float8, born date,
	at timestamptz, local timestamp, t time, data jsonb, b bytea, flag boolean, email2 text UNIQUE)`

// pgRows returns the table as one JSON text per row, in key order.
func pgRows(t *testing.T, dsn, table string) []string {
	t.Helper()
	conn := testdb.Connect(t, dsn)
	rows, err := conn.Query(t.Context(), "SELECT row_to_json(x)::text FROM "+table+" x ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func openPG(t testing.TB, dsn string) *postgres.Source {
	t.Helper()
	src, err := postgres.Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// applyNew writes ops as a batch for dialect, approves it and applies it
// to target, failing the test on any error of those steps.
func applyNew(t *testing.T, dialect string, target connectors.Applier, ops []batches.Op) *batches.Report {
	t.Helper()
	b, err := batches.Create(t.TempDir(), spec(dialect), ops)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Approve("alice", now); err != nil {
		t.Fatal(err)
	}
	rep, err := b.Apply(t.Context(), target, batches.ApplyOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func spec(dialect string) batches.Spec {
	return batches.Spec{
		Job: "customers", Dialect: dialect,
		Target: batches.Location{System: "crm", Table: "acc"},
		Source: batches.Location{System: "billing", Table: "customers"},
		Key:    []string{"id"}, Now: now,
		Limits: batches.Limits{TargetRows: 10, SourceRows: 10, PreviousSourceRows: 10},
	}
}

func mustJSON(t *testing.T, doc string) reconcile.Value {
	v, err := reconcile.AppendJSON(nil, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// typedOps: updates of every type, an insert, a delete, and an update
// whose row another writer changes before the apply.
func typedOps(t *testing.T) []batches.Op {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	upd := func(id int64, col string, old, new reconcile.Value) batches.Op {
		return batches.Op{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(id)}},
			Set: []batches.Cell{{col, new}}, Expect: []batches.Cell{{col, old}}, Rule: "default: source_of_truth"}
	}
	return []batches.Op{
		upd(1, "email", text("old@x"), text("new'@x\\")),
		upd(2, "amount", reconcile.AppendDecimal64(nil, 15, 1), reconcile.AppendDecimal(nil, big1, 10)),
		upd(3, "score", reconcile.Null, reconcile.AppendFloat(nil, 0.1, 64)),
		upd(4, "born", reconcile.AppendDate(nil, 0), reconcile.AppendDate(nil, 20418)),
		upd(5, "at", reconcile.Null, reconcile.AppendTimestamp(nil, ts.UnixMicro())),
		upd(6, "t", reconcile.AppendTime(nil, 0), reconcile.AppendTime(nil, 45296789000)),
		upd(7, "data", mustJSON(t, `{"a":1}`), mustJSON(t, `{"a":[1,2.5,"x"],"b":null}`)),
		upd(8, "b", reconcile.AppendBinary(nil, []byte{1}), reconcile.AppendBinary(nil, []byte{0, 255, 39})),
		upd(9, "flag", reconcile.AppendBool(nil, false), reconcile.AppendBool(nil, true)),
		upd(10, "email", text("seen@x"), text("fixed@x")), // changed behind our back
		upd(1, "local", reconcile.Null, reconcile.AppendTimestamp(nil, ts.UnixMicro())),
		{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(11)}},
			Set: []batches.Cell{{"id", i64(11)}, {"email", text("ins@x")}, {"amount", reconcile.AppendFloat(nil, 2.5, 64)}}, Rule: "missing: insert"},
		{Kind: connectors.OpDelete, Key: []batches.Cell{{"id", i64(12)}},
			Expect: []batches.Cell{{"id", i64(12)}, {"email", text("gone@x")}, {"amount", reconcile.Null}}, Rule: "extra: delete"},
	}
}

const pgFill = `INSERT INTO acc (id, email, amount, score, born, at, t, data, b, flag) VALUES
	(1, 'old@x', 1, 1, '2000-01-01', NULL, NULL, NULL, NULL, NULL),
	(2, 'b', 1.5, 1, NULL, NULL, NULL, NULL, NULL, NULL),
	(3, 'c', 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(4, 'd', 1, 1, '1970-01-01', NULL, NULL, NULL, NULL, NULL),
	(5, 'e', 1, 1, NULL, NULL, NULL, NULL, NULL, NULL),
	(6, 'f', 1, 1, NULL, NULL, '00:00:00', NULL, NULL, NULL),
	(7, 'g', 1, 1, NULL, NULL, NULL, '{"a": 1}', NULL, NULL),
	(8, 'h', 1, 1, NULL, NULL, NULL, NULL, '\x01', NULL),
	(9, 'i', 1, 1, NULL, NULL, NULL, NULL, NULL, false),
	(10, 'seen@x', 1, 1, NULL, NULL, NULL, NULL, NULL, NULL),
	(12, 'gone@x', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`

func TestPostgresApplyConflictDryRunReapplyUndo(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, pgTable, pgFill)
	before := pgRows(t, dsn, "acc")
	// Between the diff and the apply, someone changes row 10.
	testdb.Exec(t, dsn, `UPDATE acc SET email = 'someone@else' WHERE id = 10`)
	changed := pgRows(t, dsn, "acc")
	src := openPG(t, dsn)
	ctx := t.Context()
	dir := t.TempDir()
	b, err := batches.Create(dir, spec("postgres"), typedOps(t))
	if err != nil {
		t.Fatal(err)
	}

	// A dry run of the pending batch says what would happen and changes nothing.
	dry, err := b.Apply(ctx, src, batches.ApplyOptions{Now: now, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Outcome.Applied != 12 || dry.Outcome.Conflict != 1 {
		t.Errorf("dry run: %+v, errors %+v", dry.Outcome, dry.Errors)
	}
	if got := pgRows(t, dsn, "acc"); !equal(got, changed) {
		t.Fatalf("dry run changed the table")
	}
	if b.Manifest.State != batches.Pending {
		t.Errorf("dry run moved the state to %s", b.Manifest.State)
	}

	if err := b.Approve("alice", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	rep, err := b.Apply(ctx, src, batches.ApplyOptions{Now: now.Add(2 * time.Minute), TxOps: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome.Applied != 12 || rep.Outcome.Conflict != 1 || rep.Outcome.Error != 0 || len(rep.Conflicts) != 1 || rep.Conflicts[0].Seq != 10 {
		t.Fatalf("apply: %+v conflicts %+v errors %+v", rep.Outcome, rep.Conflicts, rep.Errors)
	}
	if b.Manifest.State != batches.Applied {
		t.Errorf("state %s", b.Manifest.State)
	}
	after := pgRows(t, dsn, "acc")
	want := []string{
		`"email":"new'@x\\"`, `"amount":12345678901234567890.1234567890`, `"score":0.1`, `"born":"2025-11-26"`,
		`"at":"2026-01-02T03:04:05.678901+00:00"`, `"t":"12:34:56.789"`, `"data":{"a": [1, 2.5, "x"], "b": null}`,
		`"b":"\\x00ff27"`, `"flag":true`, `"email":"someone@else"`, `"id":11,"email":"ins@x","amount":2.5000000000`,
	}
	joined := strings.Join(after, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("table lacks %s:\n%s", w, joined)
		}
	}
	if strings.Contains(joined, `"id":12`) || !strings.Contains(after[0], `"local":"2026-01-02T03:04:05.678901"`) {
		t.Errorf("delete or second update of row 1 missing:\n%s", joined)
	}

	// The same batch again: nothing is sent; a copy of it: everything is
	// already applied, the conflict stays a conflict, nothing changes.
	again, err := b.Apply(ctx, src, batches.ApplyOptions{Now: now.Add(3 * time.Minute)})
	if err != nil || again.Ran != 1 || again.Outcome.Applied != 12 {
		t.Errorf("re-apply: ran %d %+v %v", again.Ran, again.Outcome, err)
	}
	b2, err := batches.Create(dir, spec("postgres"), typedOps(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Approve("alice", now); err != nil {
		t.Fatal(err)
	}
	rep2, err := b2.Apply(ctx, src, batches.ApplyOptions{Now: now})
	if err != nil || rep2.Outcome.AlreadyApplied != 12 || rep2.Outcome.Conflict != 1 {
		t.Errorf("copy applied: %+v %v", rep2.Outcome, err)
	}
	if got := pgRows(t, dsn, "acc"); !equal(got, after) {
		t.Errorf("re-apply changed the table")
	}

	// The undo batch restores the pre-images exactly (row 10 kept the
	// other writer's change, which the batch never touched).
	if rep.Undo == nil {
		t.Fatal("no undo batch")
	}
	undo, err := batches.Open(dir, rep.Undo.Manifest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if undo.Manifest.State != batches.Pending || undo.Manifest.UndoOf != b.Manifest.ID || undo.Manifest.Counts.Total() != 12 {
		t.Errorf("undo manifest %+v", undo.Manifest)
	}
	if err := undo.Approve("bob", now); err != nil {
		t.Fatal(err)
	}
	urep, err := undo.Apply(ctx, src, batches.ApplyOptions{Now: now})
	if err != nil || urep.Outcome.Applied != 12 {
		t.Fatalf("undo: %+v %+v %v", urep.Outcome, urep.Errors, err)
	}
	if got := pgRows(t, dsn, "acc"); !equal(got, changed) {
		t.Errorf("undo did not restore the table:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(changed, "\n"))
	}
	_ = before
}

func TestPostgresInsertNeverOverwrites(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, pgTable, `INSERT INTO acc (id, email, email2) VALUES (1, 'there', 'u1')`)
	src := openPG(t, dsn)
	ops := []batches.Op{
		{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(1)}}, Set: []batches.Cell{{"id", i64(1)}, {"email", text("mine")}}},
		{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(2)}}, Set: []batches.Cell{{"id", i64(2)}, {"email2", text("u1")}}},
		{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(1)}}, Set: []batches.Cell{{"score", text("not a number")}}, Expect: []batches.Cell{{"score", reconcile.Null}}},
		{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(1)}}, Set: []batches.Cell{{"score", i64(3)}}, Expect: []batches.Cell{{"score", reconcile.Null}}},
	}
	b, err := batches.Create(t.TempDir(), spec("postgres"), ops)
	if err != nil {
		t.Fatal(err)
	}
	b.Approve("alice", now)
	rep, err := b.Apply(t.Context(), src, batches.ApplyOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome.Conflict != 2 || rep.Outcome.Error != 1 || rep.Outcome.Applied != 1 || b.Manifest.State != batches.Partial {
		t.Errorf("outcome %+v conflicts %+v errors %+v state %s", rep.Outcome, rep.Conflicts, rep.Errors, b.Manifest.State)
	}
	got := pgRows(t, dsn, "acc")
	if len(got) != 1 || !strings.Contains(got[0], `"email":"there"`) || !strings.Contains(got[0], `"score":3`) {
		t.Errorf("table: %v", got)
	}
}

// The kill -9 test: a child process applies a big batch one operation per
// transaction and is killed mid-way; the batch is then partial, and
// applying it again finishes it with no row written twice (an audit
// trigger counts the writes per row).
const childEnv = "RECONCILE_BATCHES_CHILD"

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(child(v))
	}
	os.Exit(m.Run())
}

func child(arg string) int {
	parts := strings.SplitN(arg, "|", 4)
	ctx := context.Background()
	var src connectors.Applier
	var err error
	switch parts[0] {
	case "postgres":
		src, err = postgres.Open(ctx, parts[1], connectors.Options{})
	default:
		src, err = mysql.Open(ctx, parts[1], connectors.Options{})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	b, err := batches.Open(parts[2], parts[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if _, err := b.Apply(ctx, src, batches.ApplyOptions{Now: now, TxOps: 1}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

func TestPostgresKillDuringApply(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE acc (id bigint PRIMARY KEY, v bigint)`,
		`CREATE TABLE audit (id bigint, op text)`,
		`CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF TG_OP = 'DELETE' THEN INSERT INTO audit VALUES (OLD.id, TG_OP); ELSE INSERT INTO audit VALUES (NEW.id, TG_OP); END IF; RETURN NULL; END $$`,
		`CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON acc FOR EACH ROW EXECUTE FUNCTION audit()`,
		fmt.Sprintf(`INSERT INTO acc SELECT g, g FROM generate_series(1, %d) g`, killRows),
		`TRUNCATE audit`)
	conn := testdb.Connect(t, dsn)
	killDuringApply(t, "postgres", dsn, openPG(t, dsn), func(q string) int {
		var n int
		if err := conn.QueryRow(t.Context(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	})
}

func TestMySQLKillDuringApply(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc, "CREATE TABLE acc (id bigint PRIMARY KEY, v bigint)",
		"CREATE TABLE audit (id bigint, op varchar(10))",
		"CREATE TRIGGER audit_i AFTER INSERT ON acc FOR EACH ROW INSERT INTO audit VALUES (NEW.id, 'INSERT')",
		"CREATE TRIGGER audit_u AFTER UPDATE ON acc FOR EACH ROW INSERT INTO audit VALUES (NEW.id, 'UPDATE')",
		"CREATE TRIGGER audit_d AFTER DELETE ON acc FOR EACH ROW INSERT INTO audit VALUES (OLD.id, 'DELETE')",
		fmt.Sprintf("INSERT INTO acc SELECT seq, seq FROM seq_1_to_%d", killRows),
		"DELETE FROM audit")
	db := testdb.OpenMySQL(t, loc)
	killDuringApply(t, "mysql", loc, openMy(t, loc), func(q string) int {
		var n int
		if err := db.QueryRowContext(t.Context(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	})
}

// killRows is the size of the kill -9 tests' table.
const killRows = 4000

// killDuringApply runs the kill -9 test on table acc (id, v = id, an
// audit trigger) of a database of kind at dsn; count runs a count query.
func killDuringApply(t *testing.T, kind, dsn string, src connectors.Applier, count func(q string) int) {
	const n = killRows
	var ops []batches.Op
	for i := int64(1); i <= n; i++ {
		ops = append(ops, batches.Op{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(i)}},
			Set: []batches.Cell{{"v", i64(-i)}}, Expect: []batches.Cell{{"v", i64(i)}}})
	}
	ops = append(ops, batches.Op{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(n + 1)}},
		Set: []batches.Cell{{"id", i64(n + 1)}, {"v", i64(-(n + 1))}}})
	dir := t.TempDir()
	sp := spec(kind)
	sp.Limits.TargetRows = n
	b, err := batches.Create(dir, sp, ops)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Approve("alice", now); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+kind+"|"+dsn+"|"+dir+"|"+b.Manifest.ID)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(b.Dir, batches.JournalFile)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		data, _ := os.ReadFile(journal)
		if bytes.Count(data, []byte("\n")) >= 200 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("child made no progress: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	data, _ := os.ReadFile(journal)
	journaled := bytes.Count(data, []byte("\n"))
	if journaled >= len(ops) {
		t.Fatalf("the child finished (%d journaled) before it was killed", journaled)
	}

	o, err := batches.Open(dir, b.Manifest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Manifest.State != batches.Partial {
		t.Fatalf("state after kill -9: %s", o.Manifest.State)
	}
	rep, err := o.Apply(t.Context(), src, batches.ApplyOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	out := rep.Outcome
	if o.Manifest.State != batches.Applied || out.Applied+out.AlreadyApplied != len(ops) || out.Conflict+out.Error+out.NotRun != 0 {
		t.Fatalf("after re-apply: %s %+v", o.Manifest.State, out)
	}
	if out.AlreadyApplied > 1 {
		// At most the one transaction committed but not yet journaled.
		t.Errorf("%d already applied after a kill -9 with one operation per transaction", out.AlreadyApplied)
	}
	if rep.Ran != len(ops)-journaled {
		t.Errorf("ran %d, want %d (the journal had %d)", rep.Ran, len(ops)-journaled, journaled)
	}
	wrong := count(`SELECT count(*) FROM acc WHERE v <> -id`)
	twice := count(`SELECT count(*) FROM (SELECT id FROM audit GROUP BY id HAVING count(*) > 1) x`)
	writes := count(`SELECT count(*) FROM audit`)
	if wrong != 0 || twice != 0 || writes != len(ops) {
		t.Errorf("%d rows wrong, %d rows written twice, %d writes for %d operations", wrong, twice, writes, len(ops))
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A value too long for its column is an error, never written truncated:
// the set-based update must fail as an insert's bound parameter does.
func TestPostgresApplyNeverTruncates(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE acc (id bigint PRIMARY KEY, code varchar(5))`, `INSERT INTO acc VALUES (1, 'abc'), (2, 'ok')`)
	ops := []batches.Op{
		{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(1)}}, Set: []batches.Cell{{"code", text("abcdefghij")}}, Expect: []batches.Cell{{"code", text("abc")}}, Rule: "r"},
		{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(2)}}, Set: []batches.Cell{{"code", text("fine")}}, Expect: []batches.Cell{{"code", text("ok")}}, Rule: "r"},
	}
	rep := applyNew(t, "postgres", openPG(t, dsn), ops)
	if rep.Outcome.Error != 1 || rep.Outcome.Applied != 1 {
		t.Errorf("outcome: %+v", rep.Outcome)
	}
	if got := strings.Join(pgRows(t, dsn, "acc"), " "); got != `{"id":1,"code":"abc"} {"id":2,"code":"fine"}` {
		t.Errorf("rows: %s", got)
	}
}

// A re-apply that writes nothing writes no second undo batch; a batch
// left partial is not resumed after its expiry.
func TestPostgresReapplyUndoAndExpiry(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE acc (id bigint PRIMARY KEY, code varchar(5))`, `INSERT INTO acc VALUES (1, 'a'), (2, 'b')`)
	upd := func(id int64, old, new string) batches.Op {
		return batches.Op{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(id)}}, Set: []batches.Cell{{"code", text(new)}}, Expect: []batches.Cell{{"code", text(old)}}, Rule: "r"}
	}
	dir := t.TempDir()
	b, err := batches.Create(dir, spec("postgres"), []batches.Op{upd(1, "a", "x"), upd(2, "b", "much too long")})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Approve("alice", now); err != nil {
		t.Fatal(err)
	}
	src := openPG(t, dsn)
	rep, err := b.Apply(t.Context(), src, batches.ApplyOptions{Now: now})
	if err != nil || rep.Undo == nil || b.Manifest.State != batches.Partial {
		t.Fatalf("first apply: %v, undo %v, state %s", err, rep.Undo, b.Manifest.State)
	}
	rep, err = b.Apply(t.Context(), src, batches.ApplyOptions{Now: now.Add(time.Hour)})
	if err != nil || rep.Undo != nil {
		t.Errorf("re-apply that wrote nothing: %v, undo %v", err, rep.Undo)
	}
	if bs, _ := batches.List(dir); len(bs) != 2 {
		t.Errorf("%d batches, want the batch and one undo", len(bs))
	}
	if _, err := b.Apply(t.Context(), src, batches.ApplyOptions{Now: now.Add(25 * time.Hour)}); !errors.Is(err, batches.ErrExpired) {
		t.Errorf("partial batch after its expiry: %v", err)
	}
}

// The approval covers where the batch goes: pointing an approved batch at
// another table by editing its manifest is refused.
func TestApprovalBindsTheTarget(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE acc (id bigint PRIMARY KEY, code text)`, `CREATE TABLE other (id bigint PRIMARY KEY, code text)`,
		`INSERT INTO acc VALUES (1, 'a')`, `INSERT INTO other VALUES (1, 'a')`)
	dir := t.TempDir()
	b, err := batches.Create(dir, spec("postgres"), []batches.Op{{Kind: connectors.OpDelete, Key: []batches.Cell{{"id", i64(1)}},
		Expect: []batches.Cell{{"id", i64(1)}, {"code", text("a")}}, Rule: "r"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Approve("alice", now); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(b.Dir, "manifest.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(data, []byte(`"table": "acc"`), []byte(`"table": "other"`), 1)
	if bytes.Equal(edited, data) {
		t.Fatalf("no target table in the manifest:\n%s", data)
	}
	if err := os.WriteFile(path, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err = batches.Open(dir, b.Manifest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Apply(t.Context(), openPG(t, dsn), batches.ApplyOptions{Now: now}); !errors.Is(err, batches.ErrTampered) {
		t.Errorf("apply to another table: %v", err)
	}
	if got := strings.Join(pgRows(t, dsn, "other"), " "); got != `{"id":1,"code":"a"}` {
		t.Errorf("other: %s", got)
	}
}

// An empty lock file is a lock being written: held for a moment, stale
// once old.
func TestEmptyLockIsHeldThenStale(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE acc (id bigint PRIMARY KEY, code text)`, `INSERT INTO acc VALUES (1, 'a')`)
	b, err := batches.Create(t.TempDir(), spec("postgres"), []batches.Op{{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(1)}},
		Set: []batches.Cell{{"code", text("b")}}, Expect: []batches.Cell{{"code", text("a")}}, Rule: "r"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Approve("alice", now); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(b.Dir, batches.LockFile)
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	src := openPG(t, dsn)
	if _, err := b.Apply(t.Context(), src, batches.ApplyOptions{Now: now}); !errors.Is(err, batches.ErrLocked) || !strings.Contains(err.Error(), "remove the file") {
		t.Errorf("fresh empty lock: %v", err)
	}
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}
	if rep, err := b.Apply(t.Context(), src, batches.ApplyOptions{Now: now}); err != nil || rep.Outcome.Applied != 1 {
		t.Errorf("stale empty lock: %v", err)
	}
}

// A json column (not jsonb) has no equality operator: guards compare it
// as jsonb, so its fixes apply, and a changed document is a conflict.
func TestPostgresJSONColumn(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE acc (id bigint PRIMARY KEY, doc json)`,
		`INSERT INTO acc VALUES (1, '{"b": 1,  "a": 2}'), (2, '{"x": 1}'), (3, '[1, 2]')`)
	doc := func(s string) reconcile.Value { return mustJSON(t, s) }
	ops := []batches.Op{
		{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(1)}}, Set: []batches.Cell{{"doc", doc(`{"a":3}`)}}, Expect: []batches.Cell{{"doc", doc(`{"a":2,"b":1}`)}}, Rule: "r"},
		{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(2)}}, Set: []batches.Cell{{"doc", doc(`{"x":2}`)}}, Expect: []batches.Cell{{"doc", doc(`{"x":9}`)}}, Rule: "r"},
		{Kind: connectors.OpDelete, Key: []batches.Cell{{"id", i64(3)}}, Expect: []batches.Cell{{"id", i64(3)}, {"doc", doc(`[1,2]`)}}, Rule: "r"},
		{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(4)}}, Set: []batches.Cell{{"id", i64(4)}, {"doc", doc(`{"n":null}`)}}, Rule: "r"},
	}
	rep := applyNew(t, "postgres", openPG(t, dsn), ops)
	if o := rep.Outcome; o.Applied != 3 || o.Conflict != 1 || o.Error != 0 {
		t.Errorf("outcome: %+v, errors %+v", o, rep.Errors)
	}
}
