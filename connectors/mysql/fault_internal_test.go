package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
)

// flakyConnector refuses new connections once fail is set.
type flakyConnector struct {
	driver.Connector
	fail atomic.Bool
}

func (c *flakyConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.fail.Load() {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return c.Connector.Connect(ctx)
}

func openFlaky(t *testing.T, loc string, conf Config, opts connectors.Options) (*Source, *flakyConnector) {
	t.Helper()
	src, err := conf.Open(t.Context(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	fc := &flakyConnector{Connector: src.connector}
	src.connector = fc
	return src, fc
}

// TestRetriesExhausted loses the connection mid-scan while the server
// refuses new ones: the read ends with an error naming the table, the
// unread key range and the cause.
func TestRetriesExhausted(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE t (id int PRIMARY KEY, v varchar(200))",
		"CREATE TABLE d (x int)",
		"INSERT INTO d VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)",
		"INSERT INTO t SELECT n, REPEAT('x', 200) FROM (SELECT a.x + 10*b.x + 100*c.x + 1000*e.x + 1 + 10000*f.x AS n FROM d a, d b, d c, d e, d f) AS s",
	)
	src, fc := openFlaky(t, loc, Config{Attempts: 3, Backoff: time.Millisecond}, connectors.Options{})
	// v keeps the result (20 MB) far larger than the socket buffers, so
	// the server cannot have sent it all before the KILL: a read that
	// has received every row (and the end of the result) is complete.
	r, err := src.Read(t.Context(), connectors.TableRef{Name: "t"}, connectors.ReadOptions{BatchRows: 1000, Columns: []string{"id", "v"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	last := ""
	first := true
	for r.Next() {
		rec := r.Record()
		last = rec.Column(0).ValueStr(int(rec.NumRows()) - 1)
		if first {
			first = false
			fc.fail.Store(true)
			src.mu.Lock()
			id := src.sess.id
			src.mu.Unlock()
			if _, err := testdb.OpenMySQL(t, loc).ExecContext(t.Context(), fmt.Sprintf("KILL %d", id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = r.Err()
	if err == nil {
		t.Fatal("a read that lost its connection for good ended without an error")
	}
	want := fmt.Sprintf("read t: the connection was lost, or could not be opened again, 3 times in a row; the rows after key (id) = (%s) were not read: connect: ", last)
	if !strings.HasPrefix(err.Error(), want) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Err() = %v\nwant it to start with %q and wrap ECONNREFUSED", err, want)
	}
	// A later read fails likewise, never with a short result.
	if _, err := src.Describe(t.Context(), connectors.TableRef{Name: "t", Where: "id > 0"}); err == nil {
		t.Error("Describe without a server: no error")
	}
}

// TestTimeouts checks the statement and lock timeouts of Options.
func TestTimeouts(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE d (x int)",
		"INSERT INTO d VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)",
		"CREATE TABLE locked (id int PRIMARY KEY)",
	)
	src, err := Open(t.Context(), loc, connectors.Options{StatementTimeout: 300 * time.Millisecond, LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rows, err := src.sess.all(src.sess.ctx, "SELECT @@time_zone, @@lock_wait_timeout, @@innodb_lock_wait_timeout, @@max_sort_length, @@tx_isolation")
	if err != nil {
		rows, err = src.sess.all(src.sess.ctx, "SELECT @@time_zone, @@lock_wait_timeout, @@innodb_lock_wait_timeout, @@max_sort_length, @@transaction_isolation")
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rows[0]); got != "[+00:00 1 1 65536 REPEATABLE-READ]" {
		t.Errorf("session settings = %v", rows[0])
	}

	// A setting the server lacks is skipped with a note (MariaDB has no
	// max_execution_time, MySQL no max_statement_time).
	v, err := src.sess.all(src.sess.ctx, "SELECT VERSION()")
	if err != nil {
		t.Fatal(err)
	}
	mariadb := strings.Contains(strings.ToLower(toString(v[0][0])), "mariadb")
	if err := src.setup(t.Context(), src.sess, !mariadb); err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(src.Notes(), "\n"); !strings.Contains(notes, "the server has no session variable max_") {
		t.Errorf("notes = %q, want one on the missing timeout variable", notes)
	}
	if err := src.setup(t.Context(), src.sess, mariadb); err != nil {
		t.Fatal(err)
	}

	// Ten digits to the ninth power of rows: far beyond 300 ms.
	heavy := connectors.TableRef{Query: "SELECT COUNT(*) AS n FROM d a, d b, d c, d e, d f, d g, d h, d i, d j"}
	start := time.Now()
	r, err := src.Read(t.Context(), heavy, connectors.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
	}
	r.Release()
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Errorf("heavy query: Err() = %v, want a statement timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the statement timeout took %v", d)
	}

	// A table locked by another session: the read gives up after the lock timeout.
	other := testdb.OpenMySQL(t, loc)
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "LOCK TABLES locked WRITE"); err != nil {
		t.Fatal(err)
	}
	src2, err := Open(t.Context(), loc, connectors.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	start = time.Now()
	_, err = src2.Describe(t.Context(), connectors.TableRef{Name: "locked"})
	if err == nil || !regexp.MustCompile(`Lock wait timeout|1205`).MatchString(err.Error()) {
		t.Errorf("Describe of a locked table: %v, want a lock wait timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the lock timeout took %v", d)
	}
	conn.ExecContext(t.Context(), "UNLOCK TABLES")
}

// refusingConn is a connection whose server will not prepare statements
// (as a proxy without COM_STMT_PREPARE answers).
type refusingConn struct {
	driver.Conn
	prepares *atomic.Int64
}

func (c refusingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.prepares.Add(1)
	return nil, &mysql.MySQLError{Number: erUnknownCom, Message: "Unknown command"}
}

func (c refusingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c refusingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c refusingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

type refusingConnector struct {
	driver.Connector
	prepares atomic.Int64
}

func (c *refusingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return refusingConn{Conn: conn, prepares: &c.prepares}, nil
}

// A server that will not prepare the read gets it over the text protocol,
// with the same rows.
func TestReadWithoutPreparedStatements(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE t (id bigint unsigned PRIMARY KEY, f float, d decimal(10,2), at datetime(6), s varchar(10))",
		"INSERT INTO t VALUES (18446744073709551615, 16777216, 1.50, '2026-01-02 03:04:05.123456', ''), (1, NULL, -0.01, '0000-00-00 00:00:00', 'x')",
	)
	src, err := Config{}.Open(t.Context(), loc, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	// The connection Open made, and any made after it, refuse.
	rc := &refusingConnector{Connector: src.connector}
	src.connector = rc
	src.mu.Lock()
	if src.sess != nil {
		src.sess.conn = refusingConn{Conn: src.sess.conn, prepares: &rc.prepares}
	}
	src.mu.Unlock()
	got := readRows(t, src, "t")
	if rc.prepares.Load() == 0 {
		t.Error("the read never asked to prepare its statement")
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "1 | (null) | -0.01 | ") || !strings.HasPrefix(got[1], "18446744073709551615 | 1.6777216e+07 | 1.5 | ") || !strings.HasSuffix(got[1], " | ") {
		t.Errorf("rows = %q", got)
	}
}
