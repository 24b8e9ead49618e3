package batches_test

import (
	"fmt"
	"testing"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

func benchOps(n int) []batches.Op {
	ops := make([]batches.Op, n)
	for i := range ops {
		id := int64(i + 1)
		ops[i] = batches.Op{Kind: connectors.OpUpdate, Key: []batches.Cell{{"id", i64(id)}},
			Set:    []batches.Cell{{"email", text(fmt.Sprintf("user%d@example.com", id))}, {"amount", reconcile.AppendDecimal64(nil, -id*3, 2)}},
			Expect: []batches.Cell{{"email", text(fmt.Sprintf("USER%d@example.com", id))}, {"amount", reconcile.AppendDecimal64(nil, id*3, 2)}},
			Rule:   "default: source_of_truth"}
	}
	return ops
}

// BenchmarkCreate100k writes a batch of 100,000 updates: ops.jsonl,
// batch.sql and the manifest.
func BenchmarkCreate100k(b *testing.B) {
	ops := benchOps(100_000)
	sp := spec("postgres")
	sp.Limits.TargetRows = 1_000_000
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		if _, err := batches.Create(dir, sp, ops); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyPostgres100k applies 100,000 guarded updates to
// PostgreSQL (1,000 per transaction) and reports operations per second.
func BenchmarkApplyPostgres100k(b *testing.B) {
	dsn := testdb.Postgres(b)
	testdb.Exec(b, dsn, `CREATE TABLE acc (id bigint PRIMARY KEY, email text, amount numeric(12,2))`)
	benchApply(b, "postgres", openPG(b, dsn), func(n int) {
		testdb.Exec(b, dsn, `TRUNCATE acc`,
			fmt.Sprintf(`INSERT INTO acc SELECT g, 'USER' || g || '@example.com', g * 3 / 100.0 FROM generate_series(1, %d) g`, n),
			`VACUUM ANALYZE acc`)
	})
}

// BenchmarkApplyMySQL100k applies the same 100,000 guarded updates to
// MySQL/MariaDB (1,000 per transaction) and reports operations per second.
func BenchmarkApplyMySQL100k(b *testing.B) {
	loc := testdb.MySQL(b)
	testdb.ExecMySQL(b, loc, "CREATE TABLE acc (id bigint PRIMARY KEY, email varchar(64), amount decimal(12,2))")
	benchApply(b, "mysql", openMy(b, loc), func(n int) {
		testdb.ExecMySQL(b, loc, "TRUNCATE acc",
			fmt.Sprintf("INSERT INTO acc SELECT seq, CONCAT('USER', seq, '@example.com'), seq * 3 / 100 FROM seq_1_to_%d", n),
			"ANALYZE TABLE acc")
	})
}

// benchApply times applying benchOps(100,000) to table acc of dialect's
// target, which reset fills with the rows they expect before each run.
func benchApply(b *testing.B, dialect string, target connectors.Applier, reset func(n int)) {
	const n = 100_000
	ops := benchOps(n)
	sp := spec(dialect)
	sp.Limits.TargetRows = n
	dir := b.TempDir()
	var total float64
	for b.Loop() {
		b.StopTimer()
		reset(n)
		bt, err := batches.Create(dir, sp, ops)
		if err != nil {
			b.Fatal(err)
		}
		if err := bt.Approve("bench", now); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := bt.Apply(b.Context(), target, batches.ApplyOptions{Now: now})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Outcome.Applied != n {
			b.Fatalf("outcome %+v %v", rep.Outcome, rep.Errors[:min(3, len(rep.Errors))])
		}
		total += n
	}
	b.ReportMetric(total/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkReadOps100k reads back the ops.jsonl of 100,000 updates.
func BenchmarkReadOps100k(b *testing.B) {
	sp := spec("postgres")
	sp.Limits.TargetRows = 1_000_000
	bt, err := batches.Create(b.TempDir(), sp, benchOps(100_000))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := bt.Ops(); err != nil {
			b.Fatal(err)
		}
	}
}
