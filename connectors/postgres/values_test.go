package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/jackc/pgx/v5"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
)

var defaultOptions = connectors.Options{}

// The numeric decoder prints what PostgreSQL prints, for every shape of
// weight, scale and digit groups.
func TestNumericText(t *testing.T) {
	conn := testConn(t)
	values := []string{
		"0", "0.0", "0.000", "1", "-1", "10.50", "10.5", "0.01", "-0.0001", "0.00001234",
		"1234567.89", "10000", "100000000", "9999.9999", "-7.25", "1e-20", "123456789012345678901234567890.123456789",
		"1e100", "-1e-100", "0.1000", "12345678.87654321", "NaN", "Infinity", "-Infinity",
	}
	for _, v := range values {
		raw := binaryOf(t, conn, "'"+v+"'::numeric")
		got, err := appendNumericText(nil, raw)
		if want := textOf(t, conn, "'"+v+"'::numeric"); err != nil || string(got) != want {
			t.Errorf("numeric %s: decoded %q, %v; PostgreSQL prints %q", v, got, err, want)
		}
	}
	// Random values across scales, checked the same way in one query.
	rows, err := conn.Query(t.Context(), `
SELECT x::text, numeric_send(x) FROM (
  SELECT round((random() - 0.5)::numeric * 10::numeric ^ (g % 40 - 10), g % 25) AS x FROM generate_series(1, 500) g
) s`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var want string
		var raw []byte
		if err := rows.Scan(&want, &raw); err != nil {
			t.Fatal(err)
		}
		if got, err := appendNumericText(nil, raw); err != nil || string(got) != want {
			t.Errorf("numeric %s: decoded %q, %v", want, got, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestNumericDecimal128(t *testing.T) {
	conn := testConn(t)
	for _, c := range []struct {
		typ, value string
	}{
		{"numeric(12,2)", "10.50"}, {"numeric(12,2)", "-0.01"}, {"numeric(12,2)", "1234567.89"}, {"numeric(12,2)", "0"},
		{"numeric(12,2)", "9999999999.99"}, {"numeric(5,0)", "12345"}, {"numeric(10,9)", "1.000000001"},
		{"numeric(18,4)", "-99999999999999.9999"}, {"numeric(38,0)", "99999999999999999999999999999999999999"},
		{"numeric(38,37)", "1.2345678901234567890123456789012345678"}, {"numeric(38,10)", "-1234567890123456789012345678.0123456789"},
		{"numeric(20,5)", "100000000000000"}, {"numeric(8,8)", "0.00000001"}, {"numeric(30,2)", "1e25"},
	} {
		var p, s int32
		fmt.Sscanf(c.typ, "numeric(%d,%d)", &p, &s)
		raw := binaryOf(t, conn, "'"+c.value+"'::"+c.typ)
		got, err := numericUnscaled(raw, p, s)
		want, werr := decimal128.FromString(textOf(t, conn, "'"+c.value+"'::"+c.typ), p, s)
		if err != nil || werr != nil || got != want {
			t.Errorf("%s %s: got %s, %v; want %s (%v)", c.typ, c.value, got.ToString(s), err, want.ToString(s), werr)
		}
	}
	if _, err := numericUnscaled(binaryOf(t, conn, "'NaN'::numeric(12,2)"), 12, 2); err != errNumericNaN {
		t.Errorf("NaN in numeric(12,2): err = %v, want errNumericNaN", err)
	}
	// A value with more places than the scale cannot come from a column of
	// that scale; it is an error, never a rounding.
	if got, err := numericUnscaled(binaryOf(t, conn, "1.125::numeric"), 12, 2); err == nil {
		t.Errorf("1.125 as numeric(12,2) = %s, want an error", got.ToString(2))
	}
}

func FuzzNumeric(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 5})
	f.Add([]byte{0, 2, 0, 0, 0x40, 0, 0, 2, 0, 10, 0x13, 0x88})
	f.Add([]byte{0, 0, 0, 0, 0xC0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		txt, err := appendNumericText(nil, raw)
		if err != nil {
			return
		}
		if len(txt) == 0 {
			t.Errorf("%x: empty text", raw)
		}
		numericUnscaled(raw, 38, 10)
		numericUnscaled(raw, 12, 2)
	})
}

// A key literal means, to the server, exactly the value it was made from.
func TestKeyLiterals(t *testing.T) {
	conn := testConn(t)
	cases := []struct {
		typ    string
		values []string
	}{
		{"smallint", []string{"-32768", "0", "32767"}},
		{"integer", []string{"-2147483648", "42"}},
		{"bigint", []string{"-9223372036854775808", "9223372036854775807"}},
		{"real", []string{"0.1", "-3.4028235e38", "1e-45", "NaN", "Infinity", "-Infinity", "-0"}},
		{"double precision", []string{"0.1", "1.7976931348623157e308", "5e-324", "NaN", "-Infinity"}},
		{"numeric", []string{"10.50", "-0.0001", "123456789012345678901234567890.123", "NaN", "Infinity"}},
		{"numeric(12,2)", []string{"10.50", "-7.25"}},
		{"boolean", []string{"true", "false"}},
		{"date", []string{"2026-01-01", "0044-03-15 BC", "0001-01-01", "0001-12-31 BC", "9999-12-31", "12345-06-07", "infinity", "-infinity", "1970-01-01", "1969-12-31"}},
		{"timestamp", []string{"2026-01-02 03:04:05.123456", "1999-12-31 23:59:59.999999", "0044-03-15 12:00:00 BC", "1969-12-31 23:59:59.5", "infinity", "-infinity", "294000-01-01 00:00:00"}},
		{"timestamptz", []string{"2026-01-02 03:04:05.123456+00", "2026-06-30 12:00:00+05:30", "1900-01-01 00:00:00.000001+00", "infinity"}},
		{"time", []string{"00:00:00", "12:34:56.789012", "23:59:59.999999", "24:00:00"}},
		{"uuid", []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"}},
		{"bytea", []string{`\x`, `\x00ff27275c`, `\xdeadbeef`}},
		{"text", []string{"", "O'Brien", `back\slash`, "Zoë", "new\nline"}},
		{"character(5)", []string{"ab", "", "a b", "é", "'  '"}},
		{"bpchar", []string{"a  ", "x", ""}},
	}
	for _, c := range cases {
		for _, v := range c.values {
			src := quoteLiteral(v) + "::" + c.typ
			col := mapTestColumn(t, conn, c.typ)
			raw := binaryOf(t, conn, col.expr2(src))
			lit, err := col.literal(raw)
			if err != nil {
				t.Errorf("%s %s: %v", c.typ, v, err)
				continue
			}
			var same bool
			if err := conn.QueryRow(t.Context(), fmt.Sprintf("SELECT %s IS NOT DISTINCT FROM %s", col.expr2(src), lit)).Scan(&same); err != nil {
				t.Errorf("%s %s: literal %s: %v", c.typ, v, lit, err)
				continue
			}
			if !same {
				t.Errorf("%s %s: literal %s means another value", c.typ, v, lit)
			}
			// NaN equals NaN in PostgreSQL's ordering; so must keyEqual.
			if !col.keyEqual(raw, raw) {
				t.Errorf("%s %s: keyEqual(v, v) = false", c.typ, v)
			}
		}
	}
}

type testCol struct{ *colPlan }

// expr2 applies the column's SELECT expression to a value instead of a
// column name.
func (c testCol) expr2(value string) string {
	return strings.ReplaceAll(c.expr, quoteIdent(c.name), "("+value+")")
}

// mapTestColumn maps a column of type typ the way Describe would.
func mapTestColumn(t *testing.T, conn *pgx.Conn, typ string) testCol {
	t.Helper()
	var oid uint32
	var typmod int32
	if err := conn.QueryRow(t.Context(), "SELECT $1::regtype::oid", typ).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	typmod = -1
	if strings.HasPrefix(typ, "numeric(") {
		var p, s int32
		fmt.Sscanf(typ, "numeric(%d,%d)", &p, &s)
		typmod = (p<<16 | s) + 4
	}
	types, err := loadTypes(t.Context(), conn, []uint32{oid})
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := mapColumn(column{name: "v", oid: oid, typmod: typmod}, types)
	return testCol{&cp}
}

func TestKeyEqual(t *testing.T) {
	conn := testConn(t)
	num := mapTestColumn(t, conn, "numeric")
	if !num.keyEqual(binaryOf(t, conn, "1.0::numeric"), binaryOf(t, conn, "1.000::numeric")) {
		t.Error("1.0 and 1.000 differ as keys")
	}
	if num.keyEqual(binaryOf(t, conn, "1.0::numeric"), binaryOf(t, conn, "1.01::numeric")) {
		t.Error("1.0 and 1.01 are equal as keys")
	}
	f := mapTestColumn(t, conn, "double precision")
	if !f.keyEqual(binaryOf(t, conn, "'-0'::float8"), binaryOf(t, conn, "'0'::float8")) {
		t.Error("-0 and 0 differ as keys")
	}
	ch := mapTestColumn(t, conn, "bpchar")
	if !ch.keyEqual([]byte("a  "), []byte("a")) || ch.keyEqual([]byte(" a"), []byte("a")) {
		t.Error("char keys do not ignore the pad, and only the pad")
	}
	txt := mapTestColumn(t, conn, "text")
	if txt.keyEqual([]byte("a"), []byte("A")) {
		t.Error("a and A are equal as keys")
	}
}

// The resume predicate of a text key in a non-UTF-8 database selects the
// rows from the last key on in UTF-8 byte order.
func TestResumePredicateNonUTF8(t *testing.T) {
	dsn := testdb.PostgresEncoding(t, "WIN1251")
	// pgx leaves client_encoding at the database's encoding unless told.
	utf8 := testdb.WithParams(dsn, "client_encoding=UTF8")
	testdb.Exec(t, utf8,
		`CREATE TABLE k (t text, c char(3))`,
		`INSERT INTO k VALUES ('z', 'z'), ('Ж', 'Ж'), ('я', 'я  '), ('€', '€'), (NULL, NULL)`,
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
	admin := testdb.Connect(t, utf8)
	for k := range p.cols {
		if !p.cols[k].utf8Order {
			t.Fatalf("column %s is not ordered as UTF-8", p.cols[k].name)
		}
		for i, v := range []string{"z", "Ж", "я", "€"} {
			sc := &scan{plan: p, keys: []int{k}, handed: keyState{vals: [][]byte{[]byte(v)}, null: []bool{false}, set: true, run: 1}}
			pred, err := sc.resumePredicate()
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := admin.QueryRow(t.Context(), "SELECT count(*) FROM k WHERE "+pred).Scan(&n); err != nil {
				t.Fatalf("%s: %v", pred, err)
			}
			if want := 5 - i; n != want {
				t.Errorf("column %s after %q: %s selects %d rows, want %d", p.cols[k].name, v, pred, n, want)
			}
		}
	}
}
