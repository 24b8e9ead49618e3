package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
)

// bigRows is large enough that a COPY of it cannot sit whole in the socket
// buffers: a paused reader keeps the server's backend busy sending.
const bigRows = 150_000

func bigTable(t *testing.T, dsn string) {
	t.Helper()
	testdb.Exec(t, dsn,
		`CREATE TABLE big (id int PRIMARY KEY, grp int NOT NULL, payload text)`,
		fmt.Sprintf(`INSERT INTO big SELECT g, g %% 997, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) FROM generate_series(1, %d) g`, bigRows),
		`CREATE TABLE heap AS SELECT * FROM big`,
	)
}

// bigTables adds to bigTable a partitioned copy of big (part) and a view
// of it with ten keys (big_view).
func bigTables(t *testing.T, dsn string) {
	t.Helper()
	bigTable(t, dsn)
	testdb.Exec(t, dsn,
		`CREATE TABLE part (id int, grp int NOT NULL, payload text) PARTITION BY RANGE (id)`,
		`CREATE TABLE part_1 PARTITION OF part FOR VALUES FROM (MINVALUE) TO (50000)`,
		`CREATE TABLE part_2 PARTITION OF part FOR VALUES FROM (50000) TO (MAXVALUE)`,
		// Rows of equal keys in both partitions, at equal ctids.
		`INSERT INTO part SELECT * FROM big WHERE id < 50000 ORDER BY id`,
		`INSERT INTO part SELECT * FROM big WHERE id >= 50000 ORDER BY id`,
		`CREATE VIEW big_view AS SELECT id, grp % 10 AS grp10, payload FROM big`,
	)
}

func mustReadOrdered(t *testing.T, src *Source, ref connectors.TableRef, key []string, opts connectors.ReadOptions) array.RecordReader {
	t.Helper()
	rr, err := src.ReadOrdered(t.Context(), ref, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// rowsOf renders every row of a reader; it stops at the first error.
func rowsOf(rr array.RecordReader) ([]string, error) {
	defer rr.Release()
	var out []string
	for rr.Next() {
		rec := rr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for _, c := range rec.Columns() {
				cells = append(cells, c.ValueStr(i))
			}
			// A copy: a single cell's string would be the record's
			// memory, which the scan's pool reuses after the release.
			out = append(out, strings.Clone(strings.Join(cells, "|")))
		}
	}
	return out, rr.Err()
}

// pollUntil runs cond until it is true or the deadline passes.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// copyBackend waits for the backend running our COPY in the current
// database and returns its pid.
func copyBackend(t *testing.T, admin *pgx.Conn, like string) uint32 {
	t.Helper()
	var pid uint32
	pollUntil(t, "the COPY backend", func() bool {
		err := admin.QueryRow(t.Context(), `
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'reconcile' AND state = 'active' AND query LIKE $1`, like).Scan(&pid)
		return err == nil
	})
	return pid
}

func terminate(t *testing.T, admin *pgx.Conn, pid uint32) {
	t.Helper()
	var ok bool
	if err := admin.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, int64(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
	pollUntil(t, "the backend to exit", func() bool {
		var n int
		admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, int64(pid)).Scan(&n)
		return n == 0
	})
}

// readDisturbed reads until the first batch, terminates the backend of
// the COPY (found by like), and reads on.
func readDisturbed(t *testing.T, admin *pgx.Conn, rr array.RecordReader, like string, kill func(pid uint32)) ([]string, error) {
	t.Helper()
	if !rr.Next() {
		t.Fatalf("no first batch: %v", rr.Err())
	}
	first := rr.Record()
	first.Retain()
	kill(copyBackend(t, admin, like))
	rest, err := rowsOf(rr)
	defer first.Release()
	var out []string
	for i := 0; i < int(first.NumRows()); i++ {
		var cells []string
		for _, c := range first.Columns() {
			cells = append(cells, c.ValueStr(i))
		}
		out = append(out, strings.Join(cells, "|"))
	}
	return append(out, rest...), err
}

// A read in key order whose connection is killed mid-scan resumes on a new
// connection in the same snapshot and hands on exactly the rows of an
// undisturbed read, in the same order.
func TestResumeAfterTerminate(t *testing.T) {
	dsn := testdb.Postgres(t)
	bigTables(t, dsn)
	admin := testdb.Connect(t, dsn)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, err := Config{Backoff: 10 * time.Millisecond}.Open(t.Context(), dsn, connectors.Options{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var retries atomic.Int32
	src.onRetry = func(err error) {
		if !connectionLost(err) {
			t.Errorf("retried after %v", err)
		}
		retries.Add(1)
	}
	ref := connectors.TableRef{Name: "big"}
	rr, err := src.Read(t.Context(), ref, connectors.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := rowsOf(rr)
	if err != nil || len(want) != bigRows {
		t.Fatalf("undisturbed read: %d rows, %v", len(want), err)
	}

	t.Run("primary key", func(t *testing.T) {
		retries.Store(0)
		rr, err := src.Read(t.Context(), ref, connectors.ReadOptions{BatchRows: 1000})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readDisturbed(t, admin, rr, "COPY (%", func(pid uint32) { terminate(t, admin, pid) })
		if err != nil {
			t.Fatal(err)
		}
		if retries.Load() == 0 {
			t.Error("the read never lost its connection: the test proves nothing")
		}
		if len(got) != len(want) || !slices.Equal(got, want) {
			t.Errorf("disturbed read: %d rows, undisturbed %d; equal: %v", len(got), len(want), slices.Equal(got, want))
		}
	})

	// Rows with equal keys: the tie-breaker (ctid; tableoid and ctid
	// for a partitioned table) makes the resume exact, so the disturbed
	// read hands on the very rows, all columns of them, of an undisturbed
	// one.
	for _, c := range []struct{ name, table string }{{"duplicate keys", "big"}, {"no primary key", "heap"}, {"partitioned", "part"}} {
		t.Run(c.name, func(t *testing.T) {
			ref := connectors.TableRef{Name: c.table}
			opts := connectors.ReadOptions{BatchRows: 999, Columns: []string{"grp", "id", "payload"}}
			want, err := rowsOf(mustReadOrdered(t, src, ref, []string{"grp"}, opts))
			if err != nil || len(want) != bigRows {
				t.Fatalf("undisturbed read: %d rows, %v", len(want), err)
			}
			retries.Store(0)
			got, err := readDisturbed(t, admin, mustReadOrdered(t, src, ref, []string{"grp"}, opts), "COPY (%", func(pid uint32) { terminate(t, admin, pid) })
			if err != nil {
				t.Fatal(err)
			}
			if retries.Load() == 0 {
				t.Error("the read never lost its connection: the test proves nothing")
			}
			grp := func(row string) int {
				var g int
				fmt.Sscanf(row, "%d|", &g)
				return g
			}
			for i := 1; i < len(got); i++ {
				if grp(got[i-1]) > grp(got[i]) {
					t.Fatalf("row %d: %s after %s", i, got[i], got[i-1])
				}
			}
			if len(got) != len(want) {
				t.Fatalf("disturbed ordered read: %d rows, want %d", len(got), len(want))
			}
			// Equal keys come in one order (the tie-breaker's): the rows
			// are the same, in the same order.
			if !slices.Equal(got, want) {
				slices.Sort(got)
				slices.Sort(want)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("the disturbed read's rows differ from the undisturbed read's (first: %q, want %q)", got[i], want[i])
					}
				}
				t.Errorf("the disturbed read hands on the same rows in another order")
			}
		})
	}

	// A view has no row identity: a resume inside a run of equal keys
	// fails rather than guess which rows of the run were handed on.
	t.Run("view", func(t *testing.T) {
		ref := connectors.TableRef{Name: "big_view"}
		rr := mustReadOrdered(t, src, ref, []string{"grp10"}, connectors.ReadOptions{BatchRows: 999})
		_, err := readDisturbed(t, admin, rr, "COPY (%", func(pid uint32) { terminate(t, admin, pid) })
		if !errors.Is(err, connectors.ErrUnsupported) || !strings.Contains(err.Error(), "equal keys") ||
			!strings.Contains(err.Error(), "the rows after key (grp10) = (") || !strings.HasPrefix(err.Error(), "read big_view: ") {
			t.Errorf("a resume inside a run of equal keys of a view: %v", err)
		}
	})

	t.Run("gives up", func(t *testing.T) {
		once, err := Config{Attempts: 1}.Open(t.Context(), dsn, connectors.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer once.Close()
		rr, err := once.Read(t.Context(), ref, connectors.ReadOptions{BatchRows: 1000})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readDisturbed(t, admin, rr, "COPY (%", func(pid uint32) { terminate(t, admin, pid) })
		if err == nil {
			t.Fatalf("a read that lost its connection with no retries left succeeded with %d rows", len(got))
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "read big: ") || !strings.Contains(msg, "the rows after key (id) = ('") {
			t.Errorf("error = %v", err)
		}
		// The cause is the server's 57P01 when its message arrived before
		// the connection closed; a backend terminated while blocked
		// sending rows closes without one, and the cause is then the
		// connection's end.
		var pgErr interface{ SQLState() string }
		if !(errors.As(err, &pgErr) && pgErr.SQLState() == "57P01") && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("the cause is not wrapped: %v", err)
		}
	})

	t.Run("unordered", func(t *testing.T) {
		rr, err := src.Read(t.Context(), connectors.TableRef{Name: "heap"}, connectors.ReadOptions{BatchRows: 1000})
		if err != nil {
			t.Fatal(err)
		}
		_, err = readDisturbed(t, admin, rr, "COPY (%heap%", func(pid uint32) { terminate(t, admin, pid) })
		if err == nil || !strings.Contains(err.Error(), "cannot resume") || !strings.Contains(err.Error(), "rows of a read in no particular order") {
			t.Errorf("an unordered read after a lost connection: %v", err)
		}
	})
}

// A pooled connection that died while idle is replaced, even for a read
// in no particular order: nothing was read from it yet.
func TestDeadIdleConnection(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE heap (v int)`, `INSERT INTO heap SELECT generate_series(1, 100)`)
	admin := testdb.Connect(t, dsn)
	src, err := Config{Backoff: time.Millisecond}.Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var retries atomic.Int32
	src.onRetry = func(error) { retries.Add(1) }
	ref := connectors.TableRef{Name: "heap"}
	if _, err := src.Describe(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	idle := len(src.idle)
	src.mu.Unlock()
	if idle != 1 {
		t.Fatalf("%d idle connections, want 1", idle)
	}
	rows, err := admin.Query(t.Context(), `
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'reconcile' AND pid <> $1`, int64(src.control.PgConn().PID()))
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || len(pids) != 1 {
		t.Fatalf("reading backends %v, %v", pids, err)
	}
	terminate(t, admin, uint32(pids[0]))
	got, err := rowsOf(mustRead(t, src, ref))
	if err != nil || len(got) != 100 || retries.Load() != 1 {
		t.Errorf("read on a dead idle connection: %d rows, %d retries, %v", len(got), retries.Load(), err)
	}
}

// When the connection holding the snapshot dies, nothing more is read:
// neither new reads nor a read that must reconnect.
func TestSnapshotHolderLost(t *testing.T) {
	dsn := testdb.Postgres(t)
	bigTable(t, dsn)
	admin := testdb.Connect(t, dsn)
	src, err := Config{Backoff: 10 * time.Millisecond}.Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ref := connectors.TableRef{Name: "big"}
	if _, err := src.Describe(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	rr, err := src.Read(t.Context(), ref, connectors.ReadOptions{BatchRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = readDisturbed(t, admin, rr, "COPY (%", func(pid uint32) {
		terminate(t, admin, src.control.PgConn().PID())
		// A new read, and a describe, fail.
		_, err := src.Describe(t.Context(), connectors.TableRef{Name: "heap"})
		if !errors.Is(err, ErrSnapshotLost) {
			t.Errorf("Describe after the snapshot holder died: %v", err)
		}
		rr2, err := src.Read(t.Context(), ref, connectors.ReadOptions{})
		if err == nil {
			_, err = rowsOf(rr2)
		}
		if !errors.Is(err, ErrSnapshotLost) {
			t.Errorf("Read after the snapshot holder died: %v", err)
		}
		// Then the running read loses its connection too.
		terminate(t, admin, pid)
	})
	if !errors.Is(err, ErrSnapshotLost) || !strings.Contains(err.Error(), "the rows after key (id)") || !strings.Contains(err.Error(), "snapshot") {
		t.Errorf("a read that had to reconnect without its snapshot: %v", err)
	}
}

// Changes committed after Open are invisible to every read of the Source,
// concurrent or not; a new Source sees them.
func TestOnePointInTime(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE t (id int PRIMARY KEY, v text)`,
		`INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 2000) g`,
	)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ref := connectors.TableRef{Name: "t"}
	before, err := rowsOf(mustRead(t, src, ref))
	if err != nil {
		t.Fatal(err)
	}
	testdb.Exec(t, dsn,
		`INSERT INTO t VALUES (5000, 'new')`,
		`UPDATE t SET v = 'changed' WHERE id <= 10`,
		`DELETE FROM t WHERE id BETWEEN 100 AND 199`,
	)
	var wg sync.WaitGroup
	results := make([][]string, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rr array.RecordReader
			var err error
			if i == 2 {
				rr, err = src.ReadOrdered(t.Context(), ref, []string{"id"}, connectors.ReadOptions{BatchRows: 100})
			} else {
				rr, err = src.Read(t.Context(), ref, connectors.ReadOptions{BatchRows: 100 + i})
			}
			if err != nil {
				errs[i] = err
				return
			}
			results[i], errs[i] = rowsOf(rr)
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || !slices.Equal(results[i], before) {
			t.Errorf("read %d after the changes: %d rows (before: %d), err %v", i, len(results[i]), len(before), errs[i])
		}
	}
	// A query sees the same point in time.
	q, err := rowsOf(mustRead(t, src, connectors.TableRef{Query: "SELECT count(*) AS n, max(v) FILTER (WHERE id = 1) AS v1 FROM t"}))
	if err != nil || !slices.Equal(q, []string{"2000|v1"}) {
		t.Errorf("query in the snapshot: %q, %v", q, err)
	}
	fresh, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	after, err := rowsOf(mustRead(t, fresh, ref))
	if err != nil || len(after) != 1901 {
		t.Errorf("a new source sees %d rows, %v; want 1901", len(after), err)
	}
}

func mustRead(t *testing.T, src *Source, ref connectors.TableRef) array.RecordReader {
	t.Helper()
	rr, err := src.Read(t.Context(), ref, connectors.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// Cancelling the context of a read stops the statement on the server.
func TestCancelStopsTheServer(t *testing.T) {
	dsn := testdb.Postgres(t)
	admin := testdb.Connect(t, dsn)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ref := connectors.TableRef{Query: "SELECT g, pg_sleep(0.01) FROM generate_series(1, 100000) g"}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rr, err := src.Read(ctx, ref, connectors.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	next := make(chan bool)
	go func() { next <- rr.Next() }()
	copyBackend(t, admin, "COPY (%pg_sleep%")
	cancel()
	if <-next {
		t.Fatal("Next gave a batch after the cancel")
	}
	if !errors.Is(rr.Err(), context.Canceled) {
		t.Errorf("Err() = %v, want context.Canceled", rr.Err())
	}
	rr.Release()
	rr.Retain() // balance the deferred Release
	stopped := func() bool {
		var n int
		err := admin.QueryRow(t.Context(), `
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'reconcile' AND state = 'active' AND query LIKE 'COPY (%pg_sleep%'`).Scan(&n)
		return err == nil && n == 0
	}
	pollUntil(t, "the cancelled COPY to stop on the server", stopped)

	// Releasing a reader before its end stops the statement too.
	early, err := src.Read(t.Context(), ref, connectors.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	copyBackend(t, admin, "COPY (%pg_sleep%")
	early.Release()
	pollUntil(t, "the released COPY to stop on the server", stopped)
}

// A role that may not export snapshots still reads one point in time, on
// the control connection, one read at a time; a read released early does
// not spoil the next.
func TestSerialFallback(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE t (id int PRIMARY KEY, v text)`,
		`INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 5000) g`,
		`REVOKE EXECUTE ON FUNCTION pg_export_snapshot() FROM PUBLIC`,
		`REVOKE EXECUTE ON FUNCTION pg_current_wal_lsn() FROM PUBLIC`,
	)
	limited := testdb.Role(t, dsn, "GRANT SELECT ON t TO ROLE")
	src, err := Open(t.Context(), limited, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ref := connectors.TableRef{Name: "t"}
	info, err := src.Describe(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Consistency; c.Snapshot != "" || c.Position != "" || c.Time.IsZero() {
		t.Errorf("consistency = %+v, want no snapshot id, no position, a time", c)
	}
	if notes := strings.Join(info.Notes, "\n"); !strings.Contains(notes, "refused to export the snapshot") || !strings.Contains(notes, "one at a time") {
		t.Errorf("notes = %q", info.Notes)
	}
	testdb.Exec(t, dsn, `DELETE FROM t WHERE id > 100`)

	// A reader released after one batch: the next read still works, in the
	// same snapshot.
	rr, err := src.Read(t.Context(), ref, connectors.ReadOptions{BatchRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	// A second read waits for the first.
	second, err := src.ReadOrdered(t.Context(), ref, []string{"v"}, connectors.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rr.Release()
	rows, err := rowsOf(second)
	if err != nil || len(rows) != 5000 || rows[0] != "1|v1" || rows[1] != "10|v10" {
		t.Errorf("second read: %d rows, %v", len(rows), err)
	}
	// A cancelled read, then another.
	ctx, cancel := context.WithCancel(t.Context())
	rr, err = src.Read(ctx, ref, connectors.ReadOptions{BatchRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	rr.Next()
	cancel()
	for rr.Next() {
	}
	if !errors.Is(rr.Err(), context.Canceled) {
		t.Errorf("cancelled read: %v", rr.Err())
	}
	rr.Release()
	rows, err = rowsOf(mustRead(t, src, ref))
	if err != nil || len(rows) != 5000 {
		t.Errorf("read after a cancelled one: %d rows, %v", len(rows), err)
	}
}

// The resume predicate selects exactly the rows from the first one equal
// to the last key on, in the read's order: NULLs last, composite keys
// column by column, text byte-wise, numerics by value.
func TestResumePredicate(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE k (a int, b text, c numeric, d timestamptz NOT NULL, e char(4), f bpchar)`,
		`INSERT INTO k
		 SELECT CASE WHEN g % 5 = 0 THEN NULL ELSE g % 3 END,
		        (ARRAY['a', 'B', 'é', 'Z', NULL, 'O''Brien', 'back\slash', 'ab'])[g % 8 + 1],
		        (ARRAY[1.0, 1.00, NULL, -2.5, 'NaN', 10])[g % 6 + 1]::numeric,
		        '2026-01-01'::timestamptz + (g % 4) * interval '1 second',
		        (ARRAY['a', 'a ', 'B', NULL, 'é', ' a', ''])[g % 7 + 1],
		        (ARRAY['a', 'a  ', 'b', NULL, 'a b'])[g % 5 + 1]::bpchar
		 FROM generate_series(1, 120) g`,
	)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p, err := src.plan(t.Context(), connectors.TableRef{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	admin := testdb.Connect(t, dsn)
	for _, keys := range [][]int{{0}, {1}, {2}, {3}, {4}, {5}, {0, 1}, {1, 2, 0}, {3, 0}, {0, 3}, {4, 5, 0}} {
		var exprs, sends []string
		for _, k := range keys {
			c := &p.cols[k]
			exprs = append(exprs, c.orderExpr()+" ASC NULLS LAST")
			sends = append(sends, c.expr)
		}
		rows, err := admin.Query(t.Context(), "SELECT "+strings.Join(sends, ", ")+" FROM k ORDER BY "+strings.Join(exprs, ", "), pgx.QueryResultFormats{pgx.BinaryFormatCode})
		if err != nil {
			t.Fatal(err)
		}
		var ordered []keyState
		for rows.Next() {
			var ks keyState
			for _, v := range rows.RawValues() {
				ks.vals = append(ks.vals, append([]byte(nil), v...))
				ks.null = append(ks.null, v == nil)
			}
			ks.set = true
			ordered = append(ordered, ks)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		equal := func(x, y keyState) bool {
			for i, k := range keys {
				if x.null[i] != y.null[i] || (!x.null[i] && !p.cols[k].keyEqual(x.vals[i], y.vals[i])) {
					return false
				}
			}
			return true
		}
		sc := &scan{plan: p, keys: keys}
		first := 0
		for i, ks := range ordered {
			if !equal(ordered[first], ks) {
				first = i
			}
			sc.handed = ks
			pred, err := sc.resumePredicate()
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := admin.QueryRow(t.Context(), "SELECT count(*) FROM k WHERE "+pred).Scan(&n); err != nil {
				t.Fatalf("keys %v: %s: %v", keys, pred, err)
			}
			if want := len(ordered) - first; n != want {
				t.Errorf("keys %v, row %d: %s selects %d rows, want %d", keys, i, pred, n, want)
				break
			}
		}
	}
}
