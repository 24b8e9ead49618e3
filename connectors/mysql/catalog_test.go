package mysql_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/internal/testdb"
)

// TestWeirdIdentifiers reads tables and columns whose names hold spaces,
// backticks, double quotes, capitals and keywords.
func TestWeirdIdentifiers(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE `Order ``Items`` \"x\"` (`select` int NOT NULL, `order` varchar(10) NOT NULL, `Weird Col` text, `\"dq\"` int, "+
			"PRIMARY KEY (`order`, `select`))",
		"INSERT INTO `Order ``Items`` \"x\"` VALUES (1, 'b', 'one', 10), (2, 'a', 'two', 20), (1, 'a', NULL, NULL)",
		"CREATE TABLE `select` (`from` int PRIMARY KEY)",
		"INSERT INTO `select` VALUES (7)",
		"CREATE VIEW `a view` AS SELECT `from` * 2 AS `twice` FROM `select`",
	)
	cfg, err := testdb.MySQLConfig(loc)
	if err != nil {
		t.Fatal(err)
	}
	src := open(t, loc, mysql.Config{})
	for _, name := range []string{"`Order ``Items`` \"x\"`", "`" + cfg.DBName + "`.`Order ``Items`` \"x\"`", cfg.DBName + " . `Order ``Items`` \"x\"`"} {
		ref := connectors.TableRef{Name: name}
		info, err := src.Describe(t.Context(), ref)
		if err != nil {
			t.Fatalf("Describe(%s): %v", name, err)
		}
		diffLines(t, "columns", fieldTypes(info.Schema), []string{"select int32", "order utf8", "Weird Col utf8", `"dq" int32`})
		if strings.Join(info.PrimaryKey, ",") != "order,select" {
			t.Errorf("PrimaryKey = %q, want order, select (in key order)", info.PrimaryKey)
		}
		if info.EstimatedRows != 3 && info.EstimatedRows != -1 {
			t.Errorf("EstimatedRows = %d", info.EstimatedRows)
		}
		if info.Consistency == nil || info.Consistency.Time.IsZero() {
			t.Errorf("Consistency = %+v", info.Consistency)
		}
		// Read without a key: in primary key order.
		diffLines(t, "rows", readAll(t, src, ref, nil, connectors.ReadOptions{}), []string{
			`1 | "a" | NULL | NULL`,
			`2 | "a" | "two" | 20`,
			`1 | "b" | "one" | 10`,
		})
		diffLines(t, "ordered rows", readAll(t, src, ref, []string{`"dq"`, "Weird Col"}, connectors.ReadOptions{Columns: []string{"Weird Col"}}), []string{
			`"one"`, `"two"`, `NULL`,
		})
	}
	diffLines(t, "keyword table", readAll(t, src, connectors.TableRef{Name: "select"}, nil, connectors.ReadOptions{}), []string{"7"})
	info, err := src.Describe(t.Context(), connectors.TableRef{Name: "`a view`"})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.PrimaryKey) != 0 || info.EstimatedRows != -1 {
		t.Errorf("view: PrimaryKey %v, EstimatedRows %d", info.PrimaryKey, info.EstimatedRows)
	}
	diffLines(t, "view", readAll(t, src, connectors.TableRef{Name: "`a view`"}, nil, connectors.ReadOptions{}), []string{"14"})
}

func TestDescribeErrors(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE Orders (id int PRIMARY KEY, doc json, n int)",
		"INSERT INTO Orders VALUES (1, '{}', 5)",
	)
	src := open(t, loc, mysql.Config{})
	ctx := t.Context()
	_, err := src.Describe(ctx, connectors.TableRef{Name: "no_such_table"})
	if !errors.Is(err, connectors.ErrTableNotFound) || !strings.Contains(err.Error(), "no_such_table") {
		t.Errorf("missing table: %v", err)
	}
	_, err = src.Describe(ctx, connectors.TableRef{Name: "nosuchdb.Orders"})
	if !errors.Is(err, connectors.ErrTableNotFound) || !strings.Contains(err.Error(), "did you mean") {
		t.Errorf("table in another database: %v", err)
	}
	_, err = src.Describe(ctx, connectors.TableRef{Name: "a.b.c"})
	if !errors.Is(err, connectors.ErrTableNotFound) {
		t.Errorf("bad name: %v", err)
	}
	_, err = src.Describe(ctx, connectors.TableRef{Name: "Orders", Where: "no_such_column > 1"})
	if err == nil || !strings.Contains(err.Error(), "filter") {
		t.Errorf("bad filter: %v", err)
	}
	// A filter that closes the parentheses around it would escape the
	// resume predicate ANDed after it.
	_, err = src.Describe(ctx, connectors.TableRef{Name: "Orders", Where: "n = 1) OR (n = 2"})
	if !errors.Is(err, connectors.ErrBadInput) || !strings.Contains(err.Error(), "not a single expression") {
		t.Errorf("escaping filter: %v", err)
	}
	_, err = src.Describe(ctx, connectors.TableRef{Query: "SELECT id, id FROM Orders"})
	if err == nil {
		t.Errorf("query with two columns of one name: no error")
	}
	_, err = src.ReadOrdered(ctx, connectors.TableRef{Name: "Orders"}, []string{"doc"}, connectors.ReadOptions{})
	if !errors.Is(err, connectors.ErrUnsupported) {
		t.Errorf("json key: %v", err)
	}
	_, err = src.ReadOrdered(ctx, connectors.TableRef{Name: "Orders"}, []string{"nope"}, connectors.ReadOptions{})
	if !errors.Is(err, connectors.ErrColumnNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	// The source is still usable after all that.
	diffLines(t, "rows", readAll(t, src, connectors.TableRef{Name: "Orders", Where: "n = 5"}, nil, connectors.ReadOptions{Columns: []string{"id"}}), []string{"1"})
}

// TestQueryAndWhere reads a query (a derived table) and a filtered table.
func TestQueryAndWhere(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE t (id int PRIMARY KEY, name varchar(20), amount decimal(10,2), at datetime(3), flag bit(1), b varbinary(4), y year)",
		"INSERT INTO t VALUES (1, 'a', 1.50, '2026-01-01 10:00:00.250', b'1', 0x0102, 2024), (2, 'b?', -2.00, NULL, b'0', NULL, NULL), (3, 'c', NULL, '1999-12-31 23:59:59', NULL, '', 1901)",
	)
	src := open(t, loc, mysql.Config{})
	q := connectors.TableRef{Query: "SELECT id, UPPER(name) AS up, amount * 2 AS twice, at, flag, b, y, CAST(id AS UNSIGNED) AS u, 1.5e0 AS d FROM t -- trailing comment;\n;"}
	info, err := src.Describe(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "query" || info.EstimatedRows != -1 {
		t.Errorf("query info: %+v", info)
	}
	diffLines(t, "query columns", fieldTypes(info.Schema), []string{
		"id int32", "up utf8", "twice decimal(11, 2)", "at timestamp[us] [reconcile.invalid]=[min]", "flag uint64", "b binary", "y int16", "u uint64", "d float64",
	})
	diffLines(t, "query rows", readAll(t, src, q, []string{"up"}, connectors.ReadOptions{}), []string{
		`1 | "A" | 3 | 2026-01-01 10:00:00.25 | 1 | 0102 | 2024 | 1 | 1.5`,
		`2 | "B?" | -4 | NULL | 0 | NULL | NULL | 2 | 1.5`,
		`3 | "C" | NULL | 1999-12-31 23:59:59 | NULL |  | 1901 | 3 | 1.5`,
	})
	w := connectors.TableRef{Name: "t", Where: "name LIKE '%?%' OR amount IS NULL # MySQL comment"}
	diffLines(t, "filtered rows", readAll(t, src, w, []string{"id"}, connectors.ReadOptions{Columns: []string{"name", "flag"}}), []string{
		`"b?" | false`,
		`"c" | NULL`,
	})
}

// TestWrongPassword opens the test server with a password it refuses, in
// both location forms: the error says why, without the password.
func TestWrongPassword(t *testing.T) {
	loc := testdb.MySQL(t)
	cfg, err := testdb.MySQLConfig(loc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Net != "tcp" {
		t.Skip("the test server is not reached over TCP")
	}
	const secret = "Wr0ngPassw0rd"
	for _, l := range []string{
		"mysql://" + cfg.User + ":" + secret + "@" + cfg.Addr + "/" + cfg.DBName,
		"mariadb://" + cfg.User + ":" + secret + "@tcp(" + cfg.Addr + ")/" + cfg.DBName + "?timeout=5s",
	} {
		_, err := mysql.Open(t.Context(), l, connectors.Options{})
		if err == nil {
			t.Fatalf("Open with a wrong password: no error")
		}
		if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "xxxxx") || !strings.Contains(err.Error(), "Access denied") {
			t.Errorf("Open with a wrong password: %v", err)
		}
	}
}

// TestDescribeCannotWrite checks a filter through a function that writes:
// MariaDB evaluates a constant condition even under LIMIT 0, so the check
// runs in a read-only transaction on either connection, and fails.
func TestDescribeCannotWrite(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE f (id int PRIMARY KEY)",
		"INSERT INTO f VALUES (1), (2), (3)",
		"CREATE TABLE log (x int)",
		"CREATE FUNCTION g() RETURNS int DETERMINISTIC MODIFIES SQL DATA BEGIN INSERT INTO log VALUES (1); RETURN 1; END")
	db := testdb.OpenMySQL(t, loc)
	logged := func() int {
		var n int
		if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM log").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	src := open(t, loc, mysql.Config{})
	if _, err := src.Describe(t.Context(), connectors.TableRef{Name: "f", Where: "g() = 1"}); err == nil || logged() != 0 {
		t.Errorf("connection free: Describe err = %v, log rows %d; want an error and none", err, logged())
	}
	r, err := src.Read(t.Context(), connectors.TableRef{Name: "f"}, connectors.ReadOptions{BatchRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !r.Next() { // the reader holds the connection
		t.Fatal(r.Err())
	}
	if _, err := src.Describe(t.Context(), connectors.TableRef{Name: "f", Where: "g() = 2"}); err == nil || logged() != 0 {
		t.Errorf("connection busy: Describe err = %v, log rows %d; want an error and none", err, logged())
	}
}

// TestSessionParamsCannotChangeData sets session variables in the
// location that would change what is read: the connector's own settings win.
func TestSessionParamsCannotChangeData(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE t (id int PRIMARY KEY, s varchar(20))",
		"INSERT INTO t VALUES (1, '中文'), (2, 'abc')")
	for _, param := range []string{"character_set_results=latin1", "character_set_client=latin1&character_set_connection=latin1", "sql_select_limit=1"} {
		src := open(t, loc+"?"+param, mysql.Config{})
		info, err := src.Describe(t.Context(), connectors.TableRef{Name: "t"})
		if err != nil {
			t.Fatalf("%s: %v", param, err)
		}
		diffLines(t, param+": columns", fieldTypes(info.Schema), []string{"id int32", "s utf8"})
		diffLines(t, param+": rows", readAll(t, src, connectors.TableRef{Name: "t", Where: "s <> '中文' OR s = '中文'"}, nil, connectors.ReadOptions{}),
			[]string{`1 | "中文"`, `2 | "abc"`})
	}
}
