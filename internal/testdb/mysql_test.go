package testdb

import (
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestMySQL(t *testing.T) {
	var loc, name string
	t.Run("create", func(t *testing.T) {
		loc = MySQL(t)
		ExecMySQL(t, loc, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
		db := OpenMySQL(t, loc)
		var n int
		if err := db.QueryRowContext(t.Context(), "SELECT DATABASE(), COUNT(*) FROM t").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("count = %d, want 2", n)
		}
		if len(name) != len("reconcile_test_")+16 || name[:15] != "reconcile_test_" {
			t.Errorf("database name %q, want reconcile_test_<16 hex digits>", name)
		}
		// A connection still open when the test ends does not stop the drop.
		conn, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(t.Context(), "START TRANSACTION"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(t.Context(), "SELECT * FROM t FOR UPDATE"); err != nil {
			t.Fatal(err)
		}
	})
	if t.Skipped() || name == "" {
		return
	}
	// The subtest's cleanup dropped the database.
	db := OpenMySQL(t, MySQL(t))
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestMySQLLocation(t *testing.T) {
	for _, dsn := range []string{
		"root@tcp(127.0.0.1:3306)/",
		"app:p@ss/w:rd@tcp(db.internal:3307)/",
		"root@unix(/run/mysqld/mysqld.sock)/",
	} {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.DBName = "x"
		loc := mysqlLocation(cfg)
		back, err := MySQLConfig(loc)
		if err != nil {
			t.Fatalf("MySQLConfig(%q): %v", loc, err)
		}
		if back.User != cfg.User || back.Passwd != cfg.Passwd || back.Net != cfg.Net || back.Addr != cfg.Addr || back.DBName != "x" {
			t.Errorf("%s → %s → %+v", dsn, loc, back)
		}
	}
}
