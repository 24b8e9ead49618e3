package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQLEnvVar names the environment variable holding the admin DSN of a
// MySQL or MariaDB server, in the go-sql-driver form
// (user:password@tcp(host:port)/).
const MySQLEnvVar = "RECONCILE_TEST_MYSQL"

// DefaultMySQLAdminDSN is used when MySQLEnvVar is unset.
const DefaultMySQLAdminDSN = "root@tcp(127.0.0.1:3306)/"

// MySQL creates a fresh database (reconcile_test_<random hex>) on the
// MySQL or MariaDB server named by RECONCILE_TEST_MYSQL and returns a
// mysql:// location for it. The database is dropped in t.Cleanup, after
// killing the connections still using it.
//
// When the variable is unset the default is root@tcp(127.0.0.1:3306)/; if
// nothing answers there the test is skipped with a message naming the
// variable. When the variable is set, any failure is fatal.
//
//	loc := testdb.MySQL(t)
//	testdb.ExecMySQL(t, loc, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
func MySQL(t testing.TB) string {
	t.Helper()
	admin, set := os.LookupEnv(MySQLEnvVar)
	if !set || admin == "" {
		admin, set = DefaultMySQLAdminDSN, false
	}
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		t.Fatalf("testdb: parse %s: %v", MySQLEnvVar, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := openMySQL(cfg)
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		if !set {
			t.Skipf("testdb: no MySQL or MariaDB at %s (%v); set %s to an admin DSN such as %s to run this test",
				DefaultMySQLAdminDSN, err, MySQLEnvVar, DefaultMySQLAdminDSN)
		}
		t.Fatalf("testdb: connect to %s: %v", MySQLEnvVar, err)
	}
	defer db.Close()

	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatalf("testdb: random name: %v", err)
	}
	name := "reconcile_test_" + hex.EncodeToString(raw[:])
	if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("testdb: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		if err := dropMySQL(ctx, cfg, name); err != nil {
			t.Errorf("testdb: drop database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return mysqlLocation(cfg)
}

// dropMySQL kills the connections using database name, then drops it.
func dropMySQL(ctx context.Context, cfg *mysql.Config, name string) error {
	db, err := openMySQL(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", name)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		conn.ExecContext(ctx, fmt.Sprintf("KILL %d", id)) // it may have gone meanwhile
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION lock_wait_timeout = 20"); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
	return err
}

// ExecMySQL runs each statement on the database at location (as MySQL
// returns), in order, on one connection, and fails the test at the first
// error. Session settings (SET sql_mode, ...) hold for the statements
// after them.
func ExecMySQL(t testing.TB, location string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	db := OpenMySQL(t, location)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatalf("testdb: connect: %v", err)
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("testdb: %s: %v", abbreviate(s), err)
		}
	}
}

// OpenMySQL opens a database/sql handle on the database at location (as
// MySQL returns) for test bookkeeping (say, changing rows behind a
// source's back, or killing its connection); it is closed in t.Cleanup.
func OpenMySQL(t testing.TB, location string) *sql.DB {
	t.Helper()
	cfg, err := MySQLConfig(location)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	db, err := openMySQL(cfg)
	if err != nil {
		t.Fatalf("testdb: connect: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openMySQL(cfg *mysql.Config) (*sql.DB, error) {
	cfg = cfg.Clone()
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	cfg.Logger = &mysql.NopLogger{}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// mysqlLocation writes cfg as a mysql:// location: a URL for TCP, the
// driver's DSN after the scheme otherwise.
func mysqlLocation(cfg *mysql.Config) string {
	if cfg.Net != "tcp" {
		return "mysql://" + cfg.FormatDSN()
	}
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + cfg.DBName}
	switch {
	case cfg.Passwd != "":
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	case cfg.User != "":
		u.User = url.User(cfg.User)
	}
	return u.String()
}

var driverForm = regexp.MustCompile(`(?:^|@)(?:tcp|tcp4|tcp6|unix)\(`)

// MySQLConfig turns a location written by MySQL (a mysql:// URL or the
// driver's DSN after "mysql://") back into a driver configuration.
func MySQLConfig(location string) (*mysql.Config, error) {
	rest, ok := strings.CutPrefix(location, "mysql://")
	if !ok {
		return nil, fmt.Errorf("not a mysql:// location")
	}
	if driverForm.MatchString(rest) {
		return mysql.ParseDSN(rest)
	}
	u, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("parse location: %w", err)
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" {
		cfg.Addr += ":3306"
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	return cfg, nil
}
