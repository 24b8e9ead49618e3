package mysql_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/internal/testdb"
)

// bigRows is the size of the fault tests' table: large enough (~40 MB)
// that the server is still sending when the test kills the connection.
const bigRows = 200_000

// bigTable creates big (id primary key, g = id DIV 7, a filler that
// depends on g only) and nopk, the same rows without the id and without
// a primary key.
func bigTable(t *testing.T, loc string) {
	t.Helper()
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE digits (d int)",
		"INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)",
		"CREATE TABLE big (id int PRIMARY KEY, g int NOT NULL, filler varchar(200) NOT NULL)",
		fmt.Sprintf(`INSERT INTO big SELECT n, n DIV 7, REPEAT(CHAR(65 + (n DIV 7) %% 26), 200) FROM (
  SELECT a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d + 100000*h.d + 1 AS n
  FROM digits a, digits b, digits c, digits e, digits f, digits h WHERE h.d < %d) AS s`, bigRows/100000),
		"CREATE TABLE nopk AS SELECT g, filler FROM big",
	)
}

// connectionOf finds the connection running the connector's read of the
// database at loc in the process list, by the comment the read carries.
func connectionOf(t *testing.T, loc string) int64 {
	t.Helper()
	cfg, err := testdb.MySQLConfig(loc)
	if err != nil {
		t.Fatal(err)
	}
	db := testdb.OpenMySQL(t, loc)
	var id int64
	for range 100 {
		err = db.QueryRowContext(t.Context(), `SELECT ID FROM information_schema.PROCESSLIST
WHERE DB = ? AND INFO LIKE 'SELECT /* reconcile read */%'`, cfg.DBName).Scan(&id)
		if err == nil {
			return id
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no reconcile read in the process list: %v", err)
	return 0
}

// running counts the connector's reads of the database at loc still in
// the process list; a statement just killed may stay listed for a moment
// while the server cleans up, so it waits up to two seconds for none.
func running(t *testing.T, loc string) int {
	t.Helper()
	cfg, _ := testdb.MySQLConfig(loc)
	db := testdb.OpenMySQL(t, loc)
	var n int
	for range 40 {
		err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM information_schema.PROCESSLIST
WHERE DB = ? AND INFO LIKE 'SELECT /* reconcile read */%'`, cfg.DBName).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

// readKilled reads with the given key, kills the reading connection after
// the first batch, and returns the rows (columns id or g, as ints; text
// columns read as 0). Callers read filler too, so that the result is far
// larger than the socket buffers and the KILL lands mid-scan.
func readKilled(t *testing.T, loc string, src *mysql.Source, ref connectors.TableRef, key, cols []string) [][]int64 {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opts := connectors.ReadOptions{Columns: cols, BatchRows: 1000, Allocator: mem}
	var r array.RecordReader
	var err error
	if key == nil {
		r, err = src.Read(t.Context(), ref, opts)
	} else {
		r, err = src.ReadOrdered(t.Context(), ref, key, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var rows [][]int64
	first := true
	for r.Next() {
		rec := r.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			var row []int64
			for c := 0; c < int(rec.NumCols()); c++ {
				var v int64
				fmt.Sscan(rec.Column(c).ValueStr(i), &v)
				row = append(row, v)
			}
			rows = append(rows, row)
		}
		if first {
			// The reader pauses here, one batch handed on, while the
			// connection is killed under it.
			first = false
			id := connectionOf(t, loc)
			if _, err := testdb.OpenMySQL(t, loc).ExecContext(t.Context(), fmt.Sprintf("KILL %d", id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("read after the kill: %v", err)
	}
	return rows
}

// TestResumeAfterKill kills the reading connection mid-scan and checks
// that the read goes on, on a new connection and snapshot, and delivers
// exactly the rows of an undisturbed read.
func TestResumeAfterKill(t *testing.T) {
	loc := testdb.MySQL(t)
	bigTable(t, loc)
	conf := mysql.Config{Attempts: 5, Backoff: 10 * time.Millisecond}

	t.Run("primary key", func(t *testing.T) {
		src := open(t, loc, conf)
		rows := readKilled(t, loc, src, connectors.TableRef{Name: "big"}, nil, []string{"id", "filler"})
		if len(rows) != bigRows {
			t.Fatalf("read %d rows, want %d", len(rows), bigRows)
		}
		for i, r := range rows {
			if r[0] != int64(i+1) {
				t.Fatalf("row %d has id %d, want %d", i, r[0], i+1)
			}
		}
		resumes := src.Resumes()
		if len(resumes) != 1 || resumes[0].Table != "big" || !strings.HasPrefix(resumes[0].After, "(id) = (") ||
			resumes[0].Snapshot.Time.IsZero() || resumes[0].Cause == "" {
			t.Fatalf("Resumes = %+v, want one after a key of big", resumes)
		}
		info, err := src.Describe(t.Context(), connectors.TableRef{Name: "big"})
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(info.Notes, "\n")
		if !strings.Contains(notes, "connection lost while reading big after key (id) = (") || !strings.Contains(notes, "new snapshot taken at") {
			t.Errorf("notes = %q, want the resume", notes)
		}
		if !info.Consistency.Time.Before(resumes[0].Snapshot.Time) {
			t.Errorf("the new snapshot (%v) is not after the first (%v)", resumes[0].Snapshot.Time, info.Consistency.Time)
		}
	})
	t.Run("non-unique key", func(t *testing.T) {
		// The primary key breaks ties, so the resume is exact.
		src := open(t, loc, conf)
		// filler keeps the result far larger than the socket buffers, so
		// the server cannot have sent it all before the KILL.
		rows := readKilled(t, loc, src, connectors.TableRef{Name: "big"}, []string{"g"}, []string{"g", "id", "filler"})
		if len(rows) != bigRows {
			t.Fatalf("read %d rows, want %d", len(rows), bigRows)
		}
		for i, r := range rows {
			if r[1] != int64(i+1) || r[0] != int64(i+1)/7 {
				t.Fatalf("row %d is %v, want [%d %d]", i, r, (i+1)/7, i+1)
			}
		}
		if rs := src.Resumes(); len(rs) != 1 || !strings.HasPrefix(rs[0].After, "(g, id) = (") {
			t.Errorf("Resumes = %+v", rs)
		}
	})
	t.Run("duplicate keys without a primary key", func(t *testing.T) {
		// Rows of the last key already handed on are skipped.
		src := open(t, loc, conf)
		rows := readKilled(t, loc, src, connectors.TableRef{Name: "nopk"}, []string{"g"}, []string{"g", "filler"})
		counts := map[int64]int{}
		for i, r := range rows {
			if i > 0 && r[0] < rows[i-1][0] {
				t.Fatalf("row %d: g %d after %d", i, r[0], rows[i-1][0])
			}
			counts[r[0]]++
		}
		want := map[int64]int{}
		for n := 1; n <= bigRows; n++ {
			want[int64(n/7)]++
		}
		for g, n := range want {
			if counts[g] != n {
				t.Fatalf("g = %d read %d times, want %d", g, counts[g], n)
			}
		}
		if len(rows) != bigRows || len(src.Resumes()) != 1 {
			t.Errorf("read %d rows with resumes %+v", len(rows), src.Resumes())
		}
	})
	t.Run("no order", func(t *testing.T) {
		// A read in no particular order cannot resume: an error, never a
		// short read.
		src := open(t, loc, conf)
		r, err := src.Read(t.Context(), connectors.TableRef{Name: "nopk"}, connectors.ReadOptions{BatchRows: 1000})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		n := 0
		for r.Next() {
			if n == 0 {
				testdb.OpenMySQL(t, loc).ExecContext(t.Context(), fmt.Sprintf("KILL %d", connectionOf(t, loc)))
			}
			n += int(r.Record().NumRows())
		}
		if err := r.Err(); err == nil || !strings.Contains(err.Error(), "cannot resume") {
			t.Errorf("after %d rows: Err() = %v, want an error saying the read cannot resume", n, err)
		}
	})
}

// TestCancel cancels a read whose statement is running on the server: the
// reader ends with context.Canceled, the statement is killed on the
// server, and the Source goes on with the same snapshot.
func TestCancel(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc, "CREATE TABLE slow (id int PRIMARY KEY)", "INSERT INTO slow VALUES (1), (2), (3), (4), (5)")
	src := open(t, loc, mysql.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Two seconds a row: the first batch never comes.
	q := connectors.TableRef{Query: "SELECT id, SLEEP(2) AS z FROM slow"}
	r, err := src.Read(ctx, q, connectors.ReadOptions{BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	connectionOf(t, loc) // the statement is running
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if r.Next() {
		t.Fatal("a cancelled read gave a record")
	}
	if !errors.Is(r.Err(), context.Canceled) {
		t.Errorf("Err() = %v, want context.Canceled", r.Err())
	}
	r.Release()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the cancelled read took %v to stop", d)
	}
	if n := running(t, loc); n != 0 {
		t.Errorf("%d reads still run on the server after the cancel", n)
	}
	// Same connection, same snapshot: a row inserted now is not seen.
	testdb.ExecMySQL(t, loc, "INSERT INTO slow VALUES (6)")
	got := readAll(t, src, connectors.TableRef{Name: "slow"}, nil, connectors.ReadOptions{})
	diffLines(t, "rows after the cancel", got, []string{"1", "2", "3", "4", "5"})
	if len(src.Resumes()) != 0 {
		t.Errorf("Resumes = %+v, want none", src.Resumes())
	}
}

// TestReleaseEarly releases a reader mid-table: the statement stops on the
// server and the next read sees the whole table, on the same snapshot.
func TestReleaseEarly(t *testing.T) {
	loc := testdb.MySQL(t)
	bigTable(t, loc)
	src := open(t, loc, mysql.Config{})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r, err := src.Read(t.Context(), connectors.TableRef{Name: "big"}, connectors.ReadOptions{BatchRows: 1000, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Next() {
		t.Fatal(r.Err())
	}
	start := time.Now()
	r.Release()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Release took %v", d)
	}
	mem.AssertSize(t, 0)
	if n := running(t, loc); n != 0 {
		t.Errorf("%d reads still run on the server after Release", n)
	}
	testdb.ExecMySQL(t, loc, "DELETE FROM big WHERE id > 100")
	got := readAll(t, src, connectors.TableRef{Name: "big"}, nil, connectors.ReadOptions{Columns: []string{"id"}})
	if len(got) != bigRows || len(src.Resumes()) != 0 {
		t.Errorf("the read after Release saw %d rows (want %d, the snapshot's), resumes %+v", len(got), bigRows, src.Resumes())
	}
}

// TestSerialisedReads checks that a second reader waits for the first:
// both share the Source's one connection.
func TestSerialisedReads(t *testing.T) {
	loc := testdb.MySQL(t)
	bigTable(t, loc)
	src := open(t, loc, mysql.Config{})
	r1, err := src.Read(t.Context(), connectors.TableRef{Name: "big"}, connectors.ReadOptions{BatchRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Next() {
		t.Fatal(r1.Err())
	}
	r2, err := src.Read(t.Context(), connectors.TableRef{Name: "digits"}, connectors.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Release()
	next := make(chan bool)
	go func() { next <- r2.Next() }()
	select {
	case <-next:
		t.Fatal("the second reader ran while the first one held the connection")
	case <-time.After(200 * time.Millisecond):
	}
	r1.Release()
	select {
	case ok := <-next:
		if !ok || r2.Record().NumRows() != 10 {
			t.Errorf("second reader: %v %v", ok, r2.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second reader did not start after the first was released")
	}
	if n := running(t, loc); n != 0 {
		t.Errorf("%d reads still run", n)
	}
}

// TestCloseWhileReading closes the Source under an open reader: the reader
// ends with an error, never a clean short read, and the Source refuses
// further use.
func TestCloseWhileReading(t *testing.T) {
	loc := testdb.MySQL(t)
	bigTable(t, loc)
	src, err := mysql.Open(t.Context(), loc, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Read(t.Context(), connectors.TableRef{Name: "big"}, connectors.ReadOptions{BatchRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !r.Next() {
		t.Fatal(r.Err())
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for r.Next() {
		n++
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "source is closed") {
		t.Errorf("after %d more batches: Err() = %v, want source is closed", n, err)
	}
	if _, err := src.Describe(t.Context(), connectors.TableRef{Name: "digits"}); err == nil {
		t.Error("Describe after Close: no error")
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestResumeRunsWithoutTieBreaker kills a read of a table without a
// primary key whose key repeats (7 rows per g, differing in n) while a
// writer deletes rows: the read must deliver every row the writer left
// alone exactly once, or fail; never lose a row in silence.
func TestResumeRunsWithoutTieBreaker(t *testing.T) {
	loc := testdb.MySQL(t)
	const rows = bigRows
	testdb.ExecMySQL(t, loc, "CREATE TABLE nopk (g int NOT NULL, n int NOT NULL, filler varchar(200) NOT NULL)")
	conf := mysql.Config{Attempts: 5, Backoff: 10 * time.Millisecond}
	read := func(t *testing.T, batch int) (map[int64]int, error) {
		testdb.ExecMySQL(t, loc, "TRUNCATE nopk",
			fmt.Sprintf("INSERT INTO nopk SELECT (seq-1) DIV 7, seq, REPEAT('x', 200) FROM seq_1_to_%d", rows))
		src := open(t, loc, conf)
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		r, err := src.ReadOrdered(t.Context(), connectors.TableRef{Name: "nopk"}, []string{"g"},
			// filler makes the result (44 MB) far larger than the socket
			// buffers, so the server cannot have sent it all before the KILL.
			connectors.ReadOptions{Columns: []string{"g", "n", "filler"}, BatchRows: batch, Allocator: mem})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		seen := map[int64]int{}
		first := true
		for r.Next() {
			n := r.Record().Column(1).(*array.Int32)
			for i := 0; i < n.Len(); i++ {
				seen[int64(n.Value(i))]++
			}
			if first {
				first = false
				db := testdb.OpenMySQL(t, loc)
				if _, err := db.ExecContext(t.Context(), fmt.Sprintf("KILL %d", connectionOf(t, loc))); err != nil {
					t.Fatal(err)
				}
				// The new snapshot lacks the first row of every group.
				if _, err := db.ExecContext(t.Context(), "DELETE FROM nopk WHERE (n-1) % 7 = 0"); err != nil {
					t.Fatal(err)
				}
			}
		}
		return seen, r.Err()
	}
	t.Run("batches cut between runs", func(t *testing.T) {
		seen, err := read(t, 999)
		if err != nil {
			if !errors.Is(err, connectors.ErrUnsupported) {
				t.Fatalf("Err() = %v, want exact rows or ErrUnsupported", err)
			}
			return
		}
		for n := int64(1); n <= rows; n++ {
			if c := seen[n]; c > 1 || (c == 0 && (n-1)%7 != 0) {
				t.Fatalf("row n = %d read %d times", n, c)
			}
		}
	})
	t.Run("run longer than two batches", func(t *testing.T) {
		// Batches of 3 rows cut runs of 7: when the connection is lost
		// after a cut inside a run, a resume cannot be exact and the read
		// must fail; when the last batch handed on happened to end a run
		// (the reader runs ahead of the consumer, so which one it was
		// depends on timing), the resume is exact.
		seen, err := read(t, 3)
		if err != nil {
			if !errors.Is(err, connectors.ErrUnsupported) || !strings.Contains(err.Error(), "nopk") ||
				!strings.Contains(err.Error(), "(g) = (") {
				t.Fatalf("Err() = %v, want ErrUnsupported naming nopk and the key", err)
			}
			return
		}
		for n := int64(1); n <= rows; n++ {
			if c := seen[n]; c > 1 || (c == 0 && (n-1)%7 != 0) {
				t.Fatalf("row n = %d read %d times", n, c)
			}
		}
	})
}

// TestResumeDecimalScaleBeyond30 resumes a read keyed by a decimal(65,38)
// (MariaDB allows a scale of 38): the resume value keeps every digit, so
// no row between it and the next 1e-30 is skipped or read twice.
func TestResumeDecimalScaleBeyond30(t *testing.T) {
	loc := testdb.MySQL(t)
	bigTable(t, loc)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE dk (k decimal(65,38) PRIMARY KEY, filler varchar(200) NOT NULL)",
		// Keys 1e-31 apart, each ending 55 at the 32nd decimal: a resume
		// value rounded to 30 decimals would land past the next rows.
		"INSERT INTO dk SELECT id * 0.0000000000000000000000000000001 + 0.00000000000000000000000000000055, filler FROM big",
	)
	src := open(t, loc, mysql.Config{Attempts: 5, Backoff: 10 * time.Millisecond})
	rows := readKilled(t, loc, src, connectors.TableRef{Name: "dk"}, nil, []string{"filler"})
	if len(rows) != bigRows || len(src.Resumes()) != 1 {
		t.Fatalf("read %d rows with resumes %+v, want %d rows and one resume", len(rows), src.Resumes(), bigRows)
	}
}

// TestResumeRefusedAfterLongTextKey loses the connection while reading by
// a text key whose values are 65,536 bytes long and share their first
// 65,530. The server orders them by about their first 64 KiB only
// (max_sort_length; MariaDB compares 65,532 bytes), so they come back in
// the order they were inserted, descending, and a resume after one of
// them would skip the rows before it: the read must fail, never come back
// short.
func TestResumeRefusedAfterLongTextKey(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE longk (k longtext NOT NULL, n int NOT NULL)",
		// 300 rows of 64 KiB (20 MB): far more than the socket buffers
		// hold, so the server is still sending when the test kills the
		// connection.
		"INSERT INTO longk SELECT CONCAT(REPEAT('a', 65530), LPAD(seq, 6, '0')), seq FROM seq_300_to_1")
	src := open(t, loc, mysql.Config{Attempts: 5, Backoff: 10 * time.Millisecond})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := src.ReadOrdered(t.Context(), connectors.TableRef{Name: "longk"}, []string{"k"},
		connectors.ReadOptions{BatchRows: 10, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	rows, first := 0, true
	for r.Next() {
		rows += int(r.Record().NumRows())
		if first {
			first = false
			if _, err := testdb.OpenMySQL(t, loc).ExecContext(t.Context(), fmt.Sprintf("KILL %d", connectionOf(t, loc))); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = r.Err()
	if err == nil {
		t.Fatalf("read %d of 300 rows without an error after the kill; want a refused resume", rows)
	}
	if !errors.Is(err, connectors.ErrUnsupported) || !strings.Contains(err.Error(), "longk") ||
		!strings.Contains(err.Error(), "max_sort_length") || len(err.Error()) > 1000 {
		t.Fatalf("Err() = %.2000v, want ErrUnsupported naming longk and max_sort_length, shortly", err)
	}
	if rs := src.Resumes(); len(rs) != 0 {
		t.Errorf("Resumes = %+v, want none", rs)
	}
}
