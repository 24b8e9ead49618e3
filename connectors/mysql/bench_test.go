package mysql_test

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/internal/testdb"
)

// benchRows is the size of the pgbench_accounts-shaped table.
const benchRows = 200_000

// BenchmarkReadAccounts reads a pgbench_accounts-shaped table (aid int
// primary key, bid int, abalance int, filler char(84)) into Arrow records
// in key order and reports ns/row. Compare with
//
//	/usr/bin/time mysql --quick -e "select * from pgbench_accounts order by aid" > /dev/null
//
// on the same table (go test -bench ReadAccounts -run XXX -v prints the
// database name).
func BenchmarkReadAccounts(b *testing.B) {
	src, ref := accounts(b)
	mem := memory.NewGoAllocator()
	b.ResetTimer()
	b.ReportAllocs()
	for range b.N {
		r, err := src.ReadOrdered(b.Context(), ref, []string{"aid"}, connectors.ReadOptions{Allocator: mem})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for r.Next() {
			n += int(r.Record().NumRows())
		}
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
		r.Release()
		if n != benchRows {
			b.Fatalf("read %d rows, want %d", n, benchRows)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRows), "ns/row")
}

// BenchmarkChecksumAccounts computes what the engine's first bisect level
// asks of the table of BenchmarkReadAccounts: an arithmetic split into
// segments of 256 rows and the canonical checksums of all of them, in
// one statement. Compare its ns/row with BenchmarkReadAccounts'.
func BenchmarkChecksumAccounts(b *testing.B) {
	src, ref := accounts(b)
	b.ResetTimer()
	for range b.N {
		bounds, err := src.Boundaries(b.Context(), ref, []string{"aid"}, connectors.KeyRange{}, benchRows/256)
		if err != nil {
			b.Fatal(err)
		}
		segs, err := src.Checksums(b.Context(), ref, connectors.ChecksumRequest{Key: []string{"aid"}, Bounds: bounds})
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, s := range segs {
			n += s.Rows
		}
		if n != benchRows {
			b.Fatalf("checksummed %d rows, want %d", n, benchRows)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRows), "ns/row")
}

// accounts makes the pgbench_accounts-shaped table and opens a Source.
func accounts(b *testing.B) (*mysql.Source, connectors.TableRef) {
	loc := testdb.MySQL(b)
	testdb.ExecMySQL(b, loc,
		"CREATE TABLE digits (d int)",
		"INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)",
		"CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84))",
		fmt.Sprintf(`INSERT INTO pgbench_accounts SELECT n, (n - 1) DIV 100000 + 1, (n * 7919) %% 10000 - 5000, REPEAT('x', 84) FROM (
  SELECT a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d + 100000*h.d + 1 AS n
  FROM digits a, digits b, digits c, digits e, digits f, digits h WHERE h.d < %d) AS s`, benchRows/100000),
		"ANALYZE TABLE pgbench_accounts",
	)
	cfg, _ := testdb.MySQLConfig(loc)
	b.Logf("database %s", cfg.DBName)
	src, err := mysql.Open(b.Context(), loc, connectors.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	ref := connectors.TableRef{Name: "pgbench_accounts"}
	if _, err := src.Describe(b.Context(), ref); err != nil {
		b.Fatal(err)
	}
	return src, ref
}
