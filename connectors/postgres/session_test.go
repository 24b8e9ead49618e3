package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
)

// show returns the settings of a connection of the source, one "name=value"
// each.
func show(t *testing.T, src *Source, control bool, names ...string) string {
	t.Helper()
	var got []string
	run := func(sql string) string {
		var v string
		conn := src.control
		if !control {
			l, err := src.acquire(t.Context(), false)
			if err != nil {
				t.Fatal(err)
			}
			defer l.release(true)
			conn = l.conn
		}
		if err := conn.QueryRow(t.Context(), sql).Scan(&v); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return v
	}
	for _, n := range names {
		got = append(got, n+"="+run("SHOW "+n))
	}
	return strings.Join(got, " ")
}

func TestSessionSettings(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE SEQUENCE seq`, `CREATE TABLE t (id int)`, `INSERT INTO t VALUES (1)`)
	names := []string{"statement_timeout", "lock_timeout", "application_name", "TimeZone", "DateStyle", "IntervalStyle",
		"extra_float_digits", "standard_conforming_strings", "idle_in_transaction_session_timeout",
		"default_transaction_read_only", "transaction_isolation", "transaction_read_only", "bytea_output", "lc_monetary", "client_encoding", "quote_all_identifiers", "jit"}
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	const want = "statement_timeout=1h lock_timeout=10s application_name=reconcile TimeZone=UTC DateStyle=ISO, YMD IntervalStyle=iso_8601 " +
		"extra_float_digits=3 standard_conforming_strings=on idle_in_transaction_session_timeout=0 " +
		"default_transaction_read_only=on transaction_isolation=repeatable read transaction_read_only=on " +
		"bytea_output=hex lc_monetary=C client_encoding=UTF8 quote_all_identifiers=off jit=off"
	for _, control := range []bool{true, false} {
		if got := show(t, src, control, names...); got != want {
			t.Errorf("control=%v:\n got %s\nwant %s", control, got, want)
		}
	}

	// The connection string's settings stand, unless Options sets them.
	custom, err := Open(t.Context(), testdb.WithParams(dsn, "application_name=nightly&statement_timeout=5000&lock_timeout=2000"), connectors.Options{LockTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer custom.Close()
	if got, want := show(t, custom, false, "application_name", "statement_timeout", "lock_timeout"), "application_name=nightly statement_timeout=5s lock_timeout=3s"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}

	// Reads cannot write, not even through a filter.
	_, err = src.Describe(t.Context(), connectors.TableRef{Name: "t", Where: "nextval('seq') > 0"})
	if err != nil {
		t.Fatal(err)
	}
	rr, err := src.Read(t.Context(), connectors.TableRef{Name: "t", Where: "nextval('seq') > 0"}, connectors.ReadOptions{})
	if err == nil {
		for rr.Next() {
		}
		err = rr.Err()
		rr.Release()
	}
	if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("a writing filter: %v", err)
	}
}

// The decoding settings hold inside every transaction even on a server
// session that never ran the session setup, as behind a pooler in
// transaction mode.
func TestDecodingSettingsPerTransaction(t *testing.T) {
	dsn := testdb.PostgresEncoding(t, "LATIN1")
	other := testdb.WithParams(dsn, "options=-c%20TimeZone%3DAsia/Tokyo%20-c%20DateStyle%3DGerman%20-c%20IntervalStyle%3Dpostgres"+
		"%20-c%20extra_float_digits%3D0%20-c%20bytea_output%3Descape%20-c%20lc_monetary%3DC.UTF-8%20-c%20standard_conforming_strings%3Doff"+
		"%20-c%20quote_all_identifiers%3Don")
	src, err := Open(t.Context(), other, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.setup = "" // the pooler's next server session never saw it
	const want = "TimeZone=UTC DateStyle=ISO, YMD IntervalStyle=iso_8601 extra_float_digits=3 bytea_output=hex lc_monetary=C " +
		"standard_conforming_strings=on client_encoding=UTF8 quote_all_identifiers=off"
	l, err := src.acquire(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	l.release(true)
	if got := show(t, src, false, "TimeZone", "DateStyle", "IntervalStyle", "extra_float_digits", "bytea_output", "lc_monetary",
		"standard_conforming_strings", "client_encoding", "quote_all_identifiers"); got != want {
		t.Errorf("in a reading transaction:\n got %s\nwant %s", got, want)
	}
}

// A connection cancelled while its session is being configured reports
// the cancellation, not the server's "canceling statement due to user
// request": a scheduled run stopped at that moment is recorded as
// cancelled rather than failed.
func TestConnectCancelledDuringSetup(t *testing.T) {
	dsn := testdb.Postgres(t)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.setup = "SELECT pg_catalog.pg_sleep(30)"
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	conn, err := src.connect(ctx)
	if err == nil {
		src.closeConn(conn)
		t.Fatal("connect returned with its setup cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("connect cancelled during setup: %v, want context.Canceled", err)
	}
}
