package batches_test

import (
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

func TestPostgresApplyThenVerify(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE src (id int PRIMARY KEY, email text, amount numeric(10,2), at timestamptz)`,
		`CREATE TABLE acc (id int PRIMARY KEY, email text, amount numeric(10,2), at timestamptz)`,
		`INSERT INTO src SELECT g, 'u' || g, g, '2026-01-01'::timestamptz + g * interval '1 s' FROM generate_series(1, 3000) g`,
		`INSERT INTO acc SELECT * FROM src WHERE id NOT IN (7, 2500)`,
		`INSERT INTO acc VALUES (5001, 'extra', 1, NULL)`,
		`UPDATE acc SET email = 'WRONG' WHERE id % 100 = 0`,
		`UPDATE acc SET amount = NULL WHERE id = 42`)
	var ops []batches.Op
	for id := int64(100); id <= 3000; id += 100 {
		if id == 2500 {
			continue
		}
		ops = append(ops, batches.Op{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(id)}},
			Set: []batches.Cell{{"email", text("u" + itoa(id))}}, Expect: []batches.Cell{{"email", text("WRONG")}}})
	}
	ops = append(ops,
		batches.Op{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(42)}},
			Set: []batches.Cell{{"amount", i64(42)}}, Expect: []batches.Cell{{"amount", reconcile.Null}}},
		batches.Op{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(7)}}, Set: []batches.Cell{{"id", i64(7)}, {"email", text("u7")},
			{"amount", i64(7)}, {"at", reconcile.AppendTimestamp(nil, 1767225600000000+7000000)}}},
		batches.Op{Kind: connectors.OpInsert, Key: []batches.Cell{{"id", i64(2500)}}, Set: []batches.Cell{{"id", i64(2500)}, {"email", text("u2500")},
			{"amount", i64(2500)}, {"at", reconcile.AppendTimestamp(nil, 1767225600000000+2500000000)}}},
		batches.Op{Kind: connectors.OpDelete, Key: []batches.Cell{{"id", i64(5001)}}, Expect: []batches.Cell{{"email", text("extra")}}},
	)
	sp := spec("postgres")
	sp.Source.Table, sp.Limits.TargetRows = "src", 3000
	dir := t.TempDir()
	b, err := batches.Create(dir, sp, ops)
	if err != nil {
		t.Fatal(err)
	}
	src := openPG(t, dsn)
	vopts := batches.VerifyOptions{ChunkKeys: 7, Diff: reconcile.Options{Allocator: mem}}
	before, err := batches.Verify(t.Context(), b, src, src, vopts)
	if err != nil {
		t.Fatal(err)
	}
	if before.Consistent() || before.Summary.Differences() != int64(len(ops)) {
		t.Fatalf("before apply: %+v", before.Summary)
	}
	if err := b.Approve("alice", now); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Apply(t.Context(), src, batches.ApplyOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	// A new Source: the old one reads its snapshot from before the apply.
	src2 := openPG(t, dsn)
	after, err := batches.Verify(t.Context(), b, src2, src2, vopts)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Consistent() || after.Source.Rows != int64(len(ops))-1 || after.Target.Rows != int64(len(ops))-1 {
		t.Fatalf("after apply: %+v source %+v target %+v", after.Summary, after.Source, after.Target)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
