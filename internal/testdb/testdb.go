// Package testdb gives tests a real, empty PostgreSQL database of their own.
//
// Postgres creates a uniquely named database (reconcile_test_<random hex>)
// on the server named by the admin connection string in the environment
// variable RECONCILE_TEST_POSTGRES, and drops it (WITH (FORCE)) when the
// test ends:
//
//	dsn := testdb.Postgres(t)
//	testdb.Exec(t, dsn, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1)`)
//
// When the variable is unset the default is
// postgres://postgres@127.0.0.1:5432/postgres; if nothing answers there the
// test is skipped with a message naming the variable. When the variable is
// set, any failure is fatal: a CI job that asks for a database must get one.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the environment variable holding the admin connection string.
const EnvVar = "RECONCILE_TEST_POSTGRES"

// DefaultAdminDSN is used when EnvVar is unset.
const DefaultAdminDSN = "postgres://postgres@127.0.0.1:5432/postgres"

// Postgres creates a fresh database and returns a connection string for it
// (the admin connection string with the database replaced). The database is
// dropped in t.Cleanup, whatever connections are still open to it.
func Postgres(t testing.TB) string {
	t.Helper()
	admin, set := os.LookupEnv(EnvVar)
	if !set || admin == "" {
		admin, set = DefaultAdminDSN, false
	}
	return postgresAt(t, admin, set)
}

// PostgresEncoding is Postgres with a database in the given server
// encoding ("WIN1251", "LATIN1", ...), C collation, made from template0.
func PostgresEncoding(t testing.TB, encoding string) string {
	t.Helper()
	admin, set := os.LookupEnv(EnvVar)
	if !set || admin == "" {
		admin, set = DefaultAdminDSN, false
	}
	enc := strings.ReplaceAll(encoding, "'", "''")
	return postgresWith(t, admin, set, " ENCODING '"+enc+"' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
}

// postgresAt is Postgres with the admin connection string given; set says
// whether the user chose it (a failure is then fatal, not a skip).
func postgresAt(t testing.TB, admin string, set bool) string {
	t.Helper()
	return postgresWith(t, admin, set, "")
}

// postgresWith is postgresAt with options appended to CREATE DATABASE.
func postgresWith(t testing.TB, admin string, set bool, with string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := connect(ctx, admin)
	if err != nil {
		if !set {
			t.Skipf("testdb: no PostgreSQL at %s (%v); set %s to an admin connection string to run this test",
				admin, err, EnvVar)
		}
		t.Fatalf("testdb: connect to %s: %v", EnvVar, err)
	}
	defer conn.Close(ctx)

	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatalf("testdb: random name: %v", err)
	}
	name := "reconcile_test_" + hex.EncodeToString(raw[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+with); err != nil {
		t.Fatalf("testdb: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		conn, err := connect(ctx, admin)
		if err != nil {
			t.Errorf("testdb: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testdb: drop database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return dsn
}

// Exec runs each statement on the database at dsn, in order, on one
// connection, and fails the test at the first error.
func Exec(t testing.TB, dsn string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	conn, err := connect(ctx, dsn)
	if err != nil {
		t.Fatalf("testdb: connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("testdb: %s: %v", abbreviate(s), err)
		}
	}
}

// Connect opens a plain pgx connection to dsn for test bookkeeping (say,
// changing rows behind a source's back); the test closes it.
func Connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("testdb: connect: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 5*time.Second)
		defer cancel()
		conn.Close(ctx)
	})
	return conn
}

func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// Role creates a login role with a random name (reconcile_role_<hex>) and
// no rights beyond PUBLIC's, runs grants (statements in which the role's
// quoted name replaces ROLE, e.g. "GRANT SELECT ON t TO ROLE") on the
// database at dsn, and returns dsn connecting as that role. The role is
// dropped when the test ends, before the database.
func Role(t testing.TB, dsn string, grants ...string) string {
	t.Helper()
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatalf("testdb: random name: %v", err)
	}
	name := "reconcile_role_" + hex.EncodeToString(raw[:])
	quoted := pgx.Identifier{name}.Sanitize()
	Exec(t, dsn, "CREATE ROLE "+quoted+" LOGIN")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		conn, err := connect(ctx, dsn)
		if err != nil {
			t.Errorf("testdb: drop role %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		for _, s := range []string{"DROP OWNED BY " + quoted, "DROP ROLE " + quoted} {
			if _, err := conn.Exec(ctx, s); err != nil {
				t.Errorf("testdb: %s: %v", s, err)
			}
		}
	})
	for _, g := range grants {
		Exec(t, dsn, strings.ReplaceAll(g, "ROLE", quoted))
	}
	out, err := withSetting(dsn, "user", name)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return out
}

// WithParams returns a database location with connection parameters
// added: "k1=v1&k2=v2" to a URL (which may already carry a query), or as
// key=value words to a keyword/value string.
func WithParams(dsn, params string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&" + params
		}
		return dsn + "?" + params
	}
	return dsn + " " + strings.ReplaceAll(params, "&", " ")
}

// withDatabase returns dsn (a URL or a keyword/value string) naming
// database db instead.
func withDatabase(dsn, db string) (string, error) {
	return withSetting(dsn, "dbname", db)
}

// withSetting returns dsn with the user or the database replaced.
func withSetting(dsn, key, value string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvVar, err)
		}
		switch key {
		case "dbname":
			u.Path = "/" + value
			u.RawPath = ""
		case "user":
			u.User = url.User(value)
		}
		return u.String(), nil
	}
	// Keyword/value: a later setting overrides an earlier one.
	return dsn + " " + key + "=" + value, nil
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
