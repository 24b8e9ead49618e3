package batches_test

import (
	"database/sql"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

func myRows(t *testing.T, loc, table string) []string {
	t.Helper()
	db := testdb.OpenMySQL(t, loc)
	rows, err := db.QueryContext(t.Context(), "SELECT * FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for i, v := range vals {
			s := "NULL"
			if v.Valid {
				s = v.String
			}
			parts = append(parts, cols[i]+"="+s)
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func openMy(t testing.TB, loc string) *mysql.Source {
	t.Helper()
	src, err := mysql.Open(t.Context(), loc, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func TestMySQLApplyConflictDryRunReapplyUndoVerify(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		`CREATE TABLE acc (id bigint PRIMARY KEY, email varchar(100), amount decimal(40,10), score double, born date,
			at datetime(6), t time(6), b varbinary(10), flag boolean, email2 varchar(10) UNIQUE)`,
		`INSERT INTO acc (id, email, amount, score, born, at, t, b, flag) VALUES
			(1, 'old@x', 1, 1, '2000-01-01', NULL, NULL, NULL, NULL),
			(2, 'b', 1.5, 1, NULL, NULL, NULL, NULL, NULL),
			(3, 'c', 1, NULL, NULL, NULL, NULL, NULL, NULL),
			(4, 'd', 1, 1, '1970-01-01', NULL, NULL, NULL, NULL),
			(5, 'e', 1, 1, NULL, NULL, NULL, NULL, NULL),
			(6, 'f', 1, 1, NULL, NULL, '-01:00:00', NULL, NULL),
			(8, 'h', 1, 1, NULL, NULL, NULL, X'01', NULL),
			(9, 'i', 1, 1, NULL, NULL, NULL, NULL, 0),
			(10, 'seen@x', 1, 1, NULL, NULL, NULL, NULL, NULL),
			(12, 'gone@x', NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		`CREATE TABLE src LIKE acc`, `INSERT INTO src SELECT * FROM acc`)
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	type fix struct {
		id       int64
		col      string
		old, new reconcile.Value
	}
	fixes := []fix{
		{1, "email", text("old@x"), text("new'@x\\")},
		{2, "amount", reconcile.AppendDecimal64(nil, 15, 1), reconcile.AppendDecimal(nil, big1, 10)},
		{3, "score", reconcile.Null, reconcile.AppendFloat(nil, 0.1, 64)},
		{4, "born", reconcile.AppendDate(nil, 0), reconcile.AppendDate(nil, 20418)},
		{5, "at", reconcile.Null, reconcile.AppendTimestamp(nil, ts.UnixMicro())},
		{6, "t", reconcile.AppendTime(nil, -3600000000), reconcile.AppendTime(nil, 45296789000)},
		{8, "b", reconcile.AppendBinary(nil, []byte{1}), reconcile.AppendBinary(nil, []byte{0, 255, 39})},
		{9, "flag", i64(0), i64(1)},
		{10, "email", text("seen@x"), text("fixed@x")},
	}
	var ops []batches.Op
	db := testdb.OpenMySQL(t, loc)
	for _, f := range fixes {
		ops = append(ops, batches.Op{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(f.id)}},
			Set: []batches.Cell{{f.col, f.new}}, Expect: []batches.Cell{{f.col, f.old}}})
		// The source holds the fixed values (row 10's fix is the conflict).
		if v, err := batches.Neutral(f.new); err != nil {
			t.Fatal(err)
		} else {
			if d, ok := v.(connectors.Decimal); ok {
				v = string(d)
			} else if d, ok := v.(connectors.Date); ok {
				v = d.String()
			} else if d, ok := v.(connectors.TimeOfDay); ok {
				v = d.String()
			}
			if _, err := db.ExecContext(t.Context(), "UPDATE src SET `"+f.col+"` = ? WHERE id = ?", v, f.id); err != nil {
				t.Fatal(err)
			}
		}
	}
	ops = append(ops,
		batches.Op{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(11)}},
			Set: []batches.Cell{{"id", i64(11)}, {"email", text("ins@x")}, {"amount", reconcile.AppendFloat(nil, 2.5, 64)}}},
		batches.Op{Kind: connectors.OpDelete, Key: []batches.Cell{{"id", i64(12)}},
			Expect: []batches.Cell{{"id", i64(12)}, {"email", text("gone@x")}, {"amount", reconcile.Null}}})
	testdb.ExecMySQL(t, loc, `INSERT INTO src (id, email, amount) VALUES (11, 'ins@x', 2.5)`, `DELETE FROM src WHERE id = 12`)
	// Between the diff and the apply, someone changes row 10.
	testdb.ExecMySQL(t, loc, `UPDATE acc SET email = 'someone@else' WHERE id = 10`, `UPDATE src SET email = 'someone@else' WHERE id = 10`)
	changed := myRows(t, loc, "acc")

	sp := spec("mysql")
	sp.Source.Table = "src"
	dir := t.TempDir()
	b, err := batches.Create(dir, sp, ops)
	if err != nil {
		t.Fatal(err)
	}
	target := openMy(t, loc)
	ctx := t.Context()
	dry, err := b.Apply(ctx, target, batches.ApplyOptions{Now: now, DryRun: true})
	if err != nil || dry.Outcome.Applied != 10 || dry.Outcome.Conflict != 1 {
		t.Fatalf("dry run: %+v %+v %v", dry.Outcome, dry.Errors, err)
	}
	if got := myRows(t, loc, "acc"); !equal(got, changed) {
		t.Fatal("dry run changed the table")
	}
	if err := b.Approve("alice", now); err != nil {
		t.Fatal(err)
	}
	rep, err := b.Apply(ctx, target, batches.ApplyOptions{Now: now, TxOps: 3})
	if err != nil || rep.Outcome.Applied != 10 || rep.Outcome.Conflict != 1 || rep.Conflicts[0].Seq != 9 || b.Manifest.State != batches.Applied {
		t.Fatalf("apply: %+v %+v %+v %v", rep.Outcome, rep.Conflicts, rep.Errors, err)
	}
	after := myRows(t, loc, "acc")
	joined := strings.Join(after, "\n")
	for _, w := range []string{"email=new'@x\\", "amount=12345678901234567890.1234567890", "score=0.1", "born=2025-11-26",
		"at=2026-01-02 03:04:05.678901", "t=12:34:56.789000", "flag=1", "email=someone@else", "id=11 email=ins@x amount=2.5000000000"} {
		if !strings.Contains(joined, w) {
			t.Errorf("table lacks %s:\n%s", w, joined)
		}
	}
	if strings.Contains(joined, "id=12 ") {
		t.Errorf("row 12 not deleted")
	}

	// Verify: the touched rows agree with the source.
	srcSide := openMy(t, loc)
	res, err := batches.Verify(ctx, b, srcSide, srcSide, batches.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Consistent() || res.Target.Rows != 10 {
		t.Errorf("verify: %+v, target rows %d", res.Summary, res.Target.Rows)
	}

	// A copy of the batch: all already applied; the table does not change.
	b2, _ := batches.Create(dir, sp, ops)
	b2.Approve("alice", now)
	rep2, err := b2.Apply(ctx, target, batches.ApplyOptions{Now: now})
	if err != nil || rep2.Outcome.AlreadyApplied != 10 || rep2.Outcome.Conflict != 1 {
		t.Errorf("copy: %+v %+v %v", rep2.Outcome, rep2.Errors, err)
	}
	if got := myRows(t, loc, "acc"); !equal(got, after) {
		t.Error("re-apply changed the table")
	}

	// Undo restores the pre-images exactly.
	undo, err := batches.Open(dir, rep.Undo.Manifest.ID)
	if err != nil {
		t.Fatal(err)
	}
	undo.Approve("bob", now)
	urep, err := undo.Apply(ctx, target, batches.ApplyOptions{Now: now})
	if err != nil || urep.Outcome.Applied != 10 {
		t.Fatalf("undo: %+v %+v %v", urep.Outcome, urep.Errors, err)
	}
	if got := myRows(t, loc, "acc"); !equal(got, changed) {
		t.Errorf("undo did not restore the table:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(changed, "\n"))
	}
}

func TestMySQLInsertNeverOverwritesNorSwallowsErrors(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc, `CREATE TABLE acc (id bigint PRIMARY KEY, email varchar(5), email2 varchar(10) UNIQUE)`,
		`INSERT INTO acc VALUES (1, 'there', 'u1')`)
	ops := []batches.Op{
		{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(1)}}, Set: []batches.Cell{{"id", i64(1)}, {"email", text("mine")}}},
		{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(2)}}, Set: []batches.Cell{{"id", i64(2)}, {"email2", text("u1")}}},
		{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(3)}}, Set: []batches.Cell{{"id", i64(3)}, {"email", text("far too long")}}},
		{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(4)}}, Set: []batches.Cell{{"id", i64(4)}, {"email", text("ok")}}},
	}
	b, err := batches.Create(t.TempDir(), spec("mysql"), ops)
	if err != nil {
		t.Fatal(err)
	}
	b.Approve("alice", now)
	rep, err := b.Apply(t.Context(), openMy(t, loc), batches.ApplyOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome.Conflict != 1 || rep.Outcome.Error != 2 || rep.Outcome.Applied != 1 || b.Manifest.State != batches.Partial {
		t.Errorf("outcome %+v conflicts %+v errors %+v", rep.Outcome, rep.Conflicts, rep.Errors)
	}
	got := myRows(t, loc, "acc")
	if len(got) != 2 || !strings.Contains(got[0], "email=there") || !strings.Contains(got[1], "id=4 email=ok") {
		t.Errorf("table %v", got)
	}
}

// Guards compare text byte for byte whatever the collation: a change of
// case or of trailing spaces since the diff is a conflict; a value too
// long for its column is an error, never written truncated.
func TestMySQLGuardsAreByteExact(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE acc (id bigint PRIMARY KEY, code varchar(5) COLLATE utf8mb4_general_ci)",
		"INSERT INTO acc VALUES (1, 'OLD'), (2, 'abc  '), (3, 'ok'), (4, 'ok')")
	upd := func(id int64, old, new string) batches.Op {
		return batches.Op{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(id)}}, Set: []batches.Cell{{"code", text(new)}}, Expect: []batches.Cell{{"code", text(old)}}, Rule: "r"}
	}
	rep := applyNew(t, "mysql", openMy(t, loc), []batches.Op{
		upd(1, "Old", "new"),          // the row says OLD: changed since
		upd(2, "abc", "x"),            // the row says 'abc  ': changed since
		upd(3, "ok", "much too long"), // does not fit
		upd(4, "ok", "fine"),          // applies
	})
	if o := rep.Outcome; o.Conflict != 2 || o.Error != 1 || o.Applied != 1 {
		t.Errorf("outcome: %+v", o)
	}
	if got := strings.Join(myRows(t, loc, "acc"), "|"); got != "id=1 code=OLD|id=2 code=abc  |id=3 code=ok|id=4 code=fine" {
		t.Errorf("rows: %q", got)
	}
}

// A JSON column's guard compares documents as JSON: MariaDB keeps the
// text as written ({"b": 2,  "a": 1}), the diff saw the canonical form,
// and the update applies; a document changed since is a conflict; and a
// second apply finds the post-image as JSON, already applied.
func TestMySQLJSONGuardsCompareDocuments(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE acc (id bigint PRIMARY KEY, doc JSON)",
		`INSERT INTO acc VALUES (1, '{"b": 2,  "a": 1}'), (2, '{"a": 1, "b": 3}'), (3, '[1, 2]')`)
	doc := func(s string) reconcile.Value { return mustJSON(t, s) }
	upd := func(id int64, old, new string) batches.Op {
		return batches.Op{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(id)}}, Set: []batches.Cell{{"doc", doc(new)}}, Expect: []batches.Cell{{"doc", doc(old)}}, Rule: "r"}
	}
	del := batches.Op{Kind: connectors.OpDelete, Key: []batches.Cell{{"id", i64(3)}}, Expect: []batches.Cell{{"id", i64(3)}, {"doc", doc(`[1,2]`)}}, Rule: "r"}
	rep := applyNew(t, "mysql", openMy(t, loc), []batches.Op{
		upd(1, `{"a":1,"b":2}`, `{"a":1,"b":9}`), // spelled differently, same document
		upd(2, `{"a":1,"b":2}`, `{"a":1,"b":9}`), // changed since the diff
		del,
	})
	if o := rep.Outcome; o.Applied != 2 || o.Conflict != 1 || o.Error != 0 {
		t.Errorf("outcome: %+v %+v %+v", o, rep.Conflicts, rep.Errors)
	}
	if got := strings.Join(myRows(t, loc, "acc"), "|"); got != `id=1 doc={"a":1,"b":9}|id=2 doc={"a": 1, "b": 3}` {
		t.Errorf("rows: %q", got)
	}
	// The row's document now equals the post-image, spelled as written.
	testdb.ExecMySQL(t, loc, `UPDATE acc SET doc = '{ "b": 9, "a": 1 }' WHERE id = 1`)
	rep = applyNew(t, "mysql", openMy(t, loc), []batches.Op{upd(1, `{"a":1,"b":2}`, `{"a":1,"b":9}`)})
	if o := rep.Outcome; o.AlreadyApplied != 1 {
		t.Errorf("re-apply of a document already there: %+v %+v", o, rep.Conflicts)
	}
}
