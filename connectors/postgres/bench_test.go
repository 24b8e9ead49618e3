package postgres

import (
	"flag"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
)

var benchRows = flag.Int("bench.rows", 200_000, "rows in the pgbench-like benchmark table")

// cpuTime is the process's user+system CPU time: the database shares the
// machine, so the client's CPU per row is what it takes from the server.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReadPgbench reads a pgbench_accounts-shaped table:
//
//   - read: Read into Arrow records, as the engine does (COPY, decoding,
//     building records, handing them over);
//   - copy-discard: the same COPY into io.Discard through pgx, the floor
//     set by the server and the protocol;
//   - decode: the decoder alone over the captured COPY stream, in the
//     pieces pgx hands over (one row each).
func BenchmarkReadPgbench(b *testing.B) {
	dsn := testdb.Postgres(b)
	testdb.Exec(b, dsn,
		`CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84))`,
		fmt.Sprintf(`INSERT INTO pgbench_accounts SELECT g, (g - 1) / 100000 + 1, 0, '' FROM generate_series(1, %d) g`, *benchRows),
		`VACUUM ANALYZE pgbench_accounts`,
	)
	src, err := Open(b.Context(), dsn, connectors.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	ref := connectors.TableRef{Name: "pgbench_accounts"}
	p, err := src.plan(b.Context(), ref)
	if err != nil {
		b.Fatal(err)
	}
	all := []int{0, 1, 2, 3}
	copySQL := "COPY (" + p.selectSQL(all, []int{0}, "") + ") TO STDOUT (FORMAT binary)"

	// Capture the stream once, as the messages pgx hands over.
	l, err := src.acquire(b.Context(), false)
	if err != nil {
		b.Fatal(err)
	}
	rec := &recorder{}
	if _, err := l.conn.PgConn().CopyTo(b.Context(), rec, copySQL); err != nil {
		b.Fatal(err)
	}
	l.release(true)
	size := int64(len(rec.buf))

	report := func(b *testing.B, cpu0 time.Duration) {
		rows := float64(*benchRows) * float64(b.N)
		b.ReportMetric(b.Elapsed().Seconds()*1e9/rows, "ns/row")
		b.ReportMetric((cpuTime()-cpu0).Seconds()*1e9/rows, "cpu-ns/row")
	}

	b.Run("read", func(b *testing.B) {
		b.SetBytes(size)
		cpu0 := cpuTime()
		for b.Loop() {
			rr, err := src.Read(b.Context(), ref, connectors.ReadOptions{Allocator: memory.DefaultAllocator})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rr.Next() {
				n += int(rr.Record().NumRows())
			}
			if err := rr.Err(); err != nil || n != *benchRows {
				b.Fatalf("read %d rows: %v", n, err)
			}
			rr.Release()
		}
		report(b, cpu0)
	})
	b.Run("copy-discard", func(b *testing.B) {
		b.SetBytes(size)
		cpu0 := cpuTime()
		for b.Loop() {
			l, err := src.acquire(b.Context(), false)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.conn.PgConn().CopyTo(b.Context(), io.Discard, copySQL); err != nil {
				b.Fatal(err)
			}
			l.release(true)
		}
		report(b, cpu0)
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(size)
		mem := memory.DefaultAllocator
		cpu0 := cpuTime()
		for b.Loop() {
			d := newDecoder(mem, p, all, 4, []int{0}, true, DefaultBatchRows)
			n := 0
			d.emit = func() error {
				n += d.rows
				d.dropRows()
				return nil
			}
			d.reset(nil)
			for _, m := range rec.msgs {
				d.Write(rec.buf[m[0]:m[1]])
			}
			if err := d.finish(); err != nil {
				b.Fatal(err)
			}
			n += d.rows
			d.dropRows()
			d.release()
			if n != *benchRows {
				b.Fatalf("decoded %d rows", n)
			}
		}
		report(b, cpu0)
	})
}

// recorder keeps a COPY stream and where each write began and ended.
type recorder struct {
	buf  []byte
	msgs [][2]int
}

func (r *recorder) Write(p []byte) (int, error) {
	r.msgs = append(r.msgs, [2]int{len(r.buf), len(r.buf) + len(p)})
	r.buf = append(r.buf, p...)
	return len(p), nil
}

var _ io.Writer = (*recorder)(nil)
