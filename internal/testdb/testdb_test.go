package testdb

import (
	"testing"
)

func TestPostgres(t *testing.T) {
	var dsn, name string
	t.Run("create", func(t *testing.T) {
		dsn = Postgres(t)
		Exec(t, dsn, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
		conn := Connect(t, dsn)
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT current_database(), count(*) FROM t`).Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("count = %d, want 2", n)
		}
		if len(name) != len("reconcile_test_")+16 || name[:15] != "reconcile_test_" {
			t.Errorf("database name %q, want reconcile_test_<16 hex digits>", name)
		}
	})
	if t.Skipped() || name == "" {
		return
	}
	// The subtest's cleanup dropped the database.
	other := Postgres(t)
	conn := Connect(t, other)
	var exists bool
	if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestWithDatabase(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres", "postgres://postgres@127.0.0.1:5432/x"},
		{"postgresql://u:p%40ss@h/db?sslmode=disable", "postgresql://u:p%40ss@h/x?sslmode=disable"},
		{"postgres://h", "postgres://h/x"},
		{"host=127.0.0.1 user=postgres dbname=postgres", "host=127.0.0.1 user=postgres dbname=postgres dbname=x"},
	} {
		got, err := withDatabase(c.in, "x")
		if err != nil || got != c.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestRole(t *testing.T) {
	dsn := Postgres(t)
	Exec(t, dsn, `CREATE TABLE t (id int)`, `CREATE TABLE secret (id int)`)
	role := Role(t, dsn, "GRANT SELECT ON t TO ROLE")
	conn := Connect(t, role)
	var user string
	var super bool
	if err := conn.QueryRow(t.Context(), `SELECT current_user, usesuper FROM pg_user WHERE usename = current_user`).Scan(&user, &super); err != nil {
		t.Fatal(err)
	}
	if len(user) != len("reconcile_role_")+16 || super {
		t.Errorf("connected as %q (superuser %v)", user, super)
	}
	if _, err := conn.Exec(t.Context(), `SELECT * FROM t`); err != nil {
		t.Errorf("the grant did not apply: %v", err)
	}
	if _, err := conn.Exec(t.Context(), `SELECT * FROM secret`); err == nil {
		t.Error("the role reads a table it was not granted")
	}
}

// Without the variable and without a server, a test is skipped, not failed.
func TestSkipWithoutServer(t *testing.T) {
	reached, skipped := false, false
	t.Run("no server", func(t *testing.T) {
		t.Cleanup(func() { skipped = t.Skipped() })
		postgresAt(t, "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2", false)
		reached = true
	})
	if reached || !skipped {
		t.Errorf("reached %v, skipped %v; want a skip", reached, skipped)
	}
}
