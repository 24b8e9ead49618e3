package postgres

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/reconhq/reconcile/internal/testdb"
)

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{
		"id":          `"id"`,
		"Order Table": `"Order Table"`,
		`a"b`:         `"a""b"`,
		`""`:          `""""""`,
		"select":      `"select"`,
		"Zoë":         `"Zoë"`,
	} {
		if got := quoteIdent(in); got != want {
			t.Errorf("quoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestParseTableName(t *testing.T) {
	for _, c := range []struct {
		in           string
		schema, name string
	}{
		{"orders", "", "orders"},
		{"Orders", "", "orders"},
		{"public.orders", "public", "orders"},
		{"PUBLIC.ORDERS", "public", "orders"},
		{`"My Schema"."Order Table"`, "My Schema", "Order Table"},
		{`"a.b"."c""d"`, "a.b", `c"d`},
		{` s . "T" `, "s", "T"},
		{`"select"`, "", "select"},
		{"Zoë", "", "zoë"},
	} {
		got, err := parseTableName(c.in)
		if err != nil || got.schema != c.schema || got.name != c.name {
			t.Errorf("parseTableName(%q) = %+v, %v; want schema %q name %q", c.in, got, err, c.schema, c.name)
		}
	}
	for _, bad := range []string{"", ".", "a.", ".a", "a.b.c", `"unterminated`, `""`, `a b`, `"a"b`, `a."`} {
		if got, err := parseTableName(bad); err == nil {
			t.Errorf("parseTableName(%q) = %+v, want an error", bad, got)
		}
	}
}

func FuzzParseTableName(f *testing.F) {
	for _, s := range []string{"orders", `"My Schema"."Order Table"`, `a."b""c"`, `x.y.z`, `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseTableName(s)
		if err != nil {
			return
		}
		// What parses prints back to the same name.
		again, err := parseTableName(n.quoted())
		if err != nil || again != n {
			t.Errorf("%q → %+v → %s → %+v, %v", s, n, n.quoted(), again, err)
		}
	})
}

// The literals mean the same string to the server, whatever
// standard_conforming_strings says.
func TestQuoteLiteralRoundTrip(t *testing.T) {
	conn := testConn(t)
	values := []string{"", "plain", "O'Brien", `back\slash`, `\x00`, `'\'`, "''", "new\nline\ttab", "Zoë Straße ✓ 日本", `E'x'`, `$$dollar$$`, "trailing\\"}
	for _, scs := range []string{"on", "off"} {
		if _, err := conn.Exec(t.Context(), "SET standard_conforming_strings = "+scs); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			res, err := conn.PgConn().Exec(t.Context(), "SELECT "+quoteLiteral(v)).ReadAll()
			if err != nil {
				t.Errorf("standard_conforming_strings=%s: SELECT %s: %v", scs, quoteLiteral(v), err)
				continue
			}
			got := string(res[0].Rows[0][0])
			if got != v {
				t.Errorf("standard_conforming_strings=%s: %s read back as %q, want %q", scs, quoteLiteral(v), got, v)
			}
		}
	}
}

// testConn connects to a fresh database with the connector's session
// settings.
func testConn(t *testing.T) *pgx.Conn {
	t.Helper()
	dsn := testdb.Postgres(t)
	conn := testdb.Connect(t, dsn)
	if _, err := conn.PgConn().Exec(t.Context(), sessionSetup(nil, defaultOptions)).ReadAll(); err != nil {
		t.Fatal(err)
	}
	return conn
}

// binaryOf returns the binary form of a SQL expression's value, nil for NULL.
func binaryOf(t *testing.T, conn *pgx.Conn, expr string) []byte {
	t.Helper()
	res := conn.PgConn().ExecParams(t.Context(), "SELECT "+expr, nil, nil, nil, []int16{1}).Read()
	if res.Err != nil {
		t.Fatalf("SELECT %s: %v", expr, res.Err)
	}
	return res.Rows[0][0]
}

// textOf returns the text output of a SQL expression's value.
func textOf(t *testing.T, conn *pgx.Conn, expr string) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(t.Context(), "SELECT ("+expr+")::text").Scan(&s); err != nil {
		t.Fatalf("SELECT %s: %v", expr, err)
	}
	return s
}

func TestShorten(t *testing.T) {
	long := strings.Repeat("x ", 100)
	if got := shorten(long); len([]rune(got)) != 60 || !strings.HasSuffix(got, "...") {
		t.Errorf("shorten gave %q", got)
	}
	if got := shorten("SELECT\n  1"); got != "SELECT 1" {
		t.Errorf("shorten gave %q", got)
	}
}

func TestEnclosed(t *testing.T) {
	for s, want := range map[string]bool{
		"a = 1":                                 true,
		"(a = 1) OR (b = 2)":                    true,
		"a = 1) OR (b = 2":                      false,
		"a = 1) --":                             false,
		"f(a, (b))":                             true,
		"(a = 1":                                false,
		"name = ')'":                            true,
		"name = 'it''s )'":                      true,
		`name = E'\')' AND (x)`:                 true,
		`name = E'\'' ) AND (x`:                 false,
		`"odd)name" = 1`:                        true,
		`"a""b)" = 1`:                           true,
		"a = 1 -- )\n":                          true,
		"a = 1 /* ) /* nested ) */ ) */":        true,
		"a = 1 /* unclosed":                     false,
		"a = $$)$$":                             true,
		"a = $x$ ) $x$ AND b = $1":              true,
		"a = $x$ ) ":                            false,
		"a = 'unclosed":                         false,
		"created_at < now() - interval '1 day'": true,
	} {
		if got := enclosed(s); got != want {
			t.Errorf("enclosed(%q) = %v, want %v", s, got, want)
		}
	}
}
