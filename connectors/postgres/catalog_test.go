package postgres_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/postgres"
	"github.com/reconhq/reconcile/internal/testdb"
)

func open(t *testing.T, dsn string) *postgres.Source {
	t.Helper()
	src, err := postgres.Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// readRows reads everything and renders each row as "v1|v2|..." with
// Arrow's ValueStr ("(null)" for NULL).
func readRows(t *testing.T) func(array.RecordReader, error) []string {
	return func(rr array.RecordReader, err error) []string {
		t.Helper()
		return readAll(t, rr, err)
	}
}

func readAll(t *testing.T, rr array.RecordReader, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var out []string
	for rr.Next() {
		rec := rr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for _, c := range rec.Columns() {
				if c.IsNull(i) {
					cells = append(cells, "(null)")
				} else {
					cells = append(cells, c.ValueStr(i))
				}
			}
			// A copy: a single cell's string would be the record's
			// memory, which the scan's pool reuses after the release.
			out = append(out, strings.Clone(strings.Join(cells, "|")))
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func fieldNames(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

func TestWeirdIdentifiers(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE SCHEMA "My Schema"`,
		`CREATE TABLE "My Schema"."Order Table" ("select" int PRIMARY KEY, "order" text, "Mixed Case" text, "we""ird" text, "with space" int, "from" boolean)`,
		`INSERT INTO "My Schema"."Order Table" VALUES (2, 'b', 'X', 'q"q', 20, true), (1, 'a', 'Y', 'p''p', 10, false), (3, NULL, 'Z', '\', 30, NULL)`,
	)
	src := open(t, dsn)
	ref := connectors.TableRef{Name: `"My Schema"."Order Table"`}
	info, err := src.Describe(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fieldNames(info.Schema), []string{"select", "order", "Mixed Case", `we"ird`, "with space", "from"}; !slices.Equal(got, want) {
		t.Errorf("columns = %q, want %q", got, want)
	}
	if !slices.Equal(info.PrimaryKey, []string{"select"}) {
		t.Errorf("primary key = %q", info.PrimaryKey)
	}
	cols := []string{`we"ird`, "with space", "select", "from"}
	got := readRows(t)(src.Read(t.Context(), ref, connectors.ReadOptions{Columns: cols}))
	want := []string{`p'p|10|1|false`, `q"q|20|2|true`, `\|30|3|(null)`}
	if !slices.Equal(got, want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
	got = readRows(t)(src.ReadOrdered(t.Context(), ref, []string{"order"}, connectors.ReadOptions{Columns: []string{"order", "Mixed Case"}}))
	if want := []string{"a|Y", "b|X", "(null)|Z"}; !slices.Equal(got, want) {
		t.Errorf("ordered by \"order\": %q, want %q", got, want)
	}
	// A filter naming quoted columns.
	filtered := connectors.TableRef{Name: ref.Name, Where: `"from" AND "with space" > 10`}
	if got := readRows(t)(src.Read(t.Context(), filtered, connectors.ReadOptions{Columns: []string{"select"}})); !slices.Equal(got, []string{"2"}) {
		t.Errorf("filtered rows = %q", got)
	}
}

func TestNameResolution(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE SCHEMA s2`,
		`CREATE TABLE public.t (id int, which text)`, `INSERT INTO public.t VALUES (1, 'public')`,
		`CREATE TABLE s2.t (id int, which text)`, `INSERT INTO s2.t VALUES (1, 's2')`,
		`CREATE TABLE public."Caps" (id int)`,
	)
	src := open(t, dsn)
	for name, want := range map[string]string{"t": "public", "public.t": "public", "s2.t": "s2", `"s2"."t"`: "s2", "S2.T": "s2", `"Caps"`: ""} {
		got := readRows(t)(src.Read(t.Context(), connectors.TableRef{Name: name}, connectors.ReadOptions{Columns: []string{"id"}}))
		if want == "" {
			continue
		}
		got = readRows(t)(src.Read(t.Context(), connectors.TableRef{Name: name}, connectors.ReadOptions{Columns: []string{"which"}}))
		if !slices.Equal(got, []string{want}) {
			t.Errorf("%s read %q, want %s", name, got, want)
		}
	}
	// search_path from the connection string decides unqualified names.
	withPath := open(t, testdb.WithParams(dsn, "search_path=s2,public"))
	got := readRows(t)(withPath.Read(t.Context(), connectors.TableRef{Name: "t"}, connectors.ReadOptions{Columns: []string{"which"}}))
	if !slices.Equal(got, []string{"s2"}) {
		t.Errorf("t with search_path s2: %q", got)
	}
	// Unquoted names fold to lower case; the error suggests the real one.
	_, err := src.Describe(t.Context(), connectors.TableRef{Name: "Caps"})
	if !errors.Is(err, connectors.ErrTableNotFound) || !strings.Contains(err.Error(), `public."Caps"`) || !strings.Contains(err.Error(), "search_path") {
		t.Errorf("Describe(Caps): %v", err)
	}
}

func TestPrimaryKeyAndEstimate(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE comp (a int, b text, c int, PRIMARY KEY (c, a))`,
		`INSERT INTO comp SELECT g, 'x', g % 7 FROM generate_series(1, 1000) g`,
		`CREATE TABLE nokey (a int)`,
		`CREATE TABLE analysed (a int PRIMARY KEY)`,
		`INSERT INTO analysed SELECT generate_series(1, 500)`,
		`ANALYZE analysed`,
		`CREATE VIEW v AS SELECT * FROM analysed`,
	)
	src := open(t, dsn)
	for _, c := range []struct {
		name string
		pk   []string
		rows int64
	}{
		{"comp", []string{"c", "a"}, -1},
		{"nokey", nil, -1},
		{"analysed", []string{"a"}, 500},
		{"v", nil, -1},
	} {
		info, err := src.Describe(t.Context(), connectors.TableRef{Name: c.name})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(info.PrimaryKey, c.pk) || info.EstimatedRows != c.rows {
			t.Errorf("%s: primary key %q, %d rows; want %q, %d", c.name, info.PrimaryKey, info.EstimatedRows, c.pk, c.rows)
		}
		if info.Name != c.name {
			t.Errorf("%s: Name = %q", c.name, info.Name)
		}
	}
	// Read without a key follows the composite primary key (c, a).
	got := readRows(t)(src.Read(t.Context(), connectors.TableRef{Name: "comp", Where: "a <= 8"}, connectors.ReadOptions{Columns: []string{"c", "a"}}))
	want := []string{"0|7", "1|1", "1|8", "2|2", "3|3", "4|4", "5|5", "6|6"}
	if !slices.Equal(got, want) {
		t.Errorf("comp in key order = %q, want %q", got, want)
	}
	info, err := src.Describe(t.Context(), connectors.TableRef{Name: "analysed", Where: "a > 10"})
	if err != nil || info.EstimatedRows != -1 {
		t.Errorf("filtered estimate: %v, %v", info, err)
	}
}

func TestTypeNotes(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE EXTENSION citext`,
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE DOMAIN money2 AS numeric(10,2)`,
		`CREATE DOMAIN spot AS point`,
		`CREATE DOMAIN posint AS int CHECK (VALUE > 0)`,
		`CREATE TABLE odd (id posint PRIMARY KEY, geo point, addr inet, price money, tags int[], name citext,
			m mood, amount money2, s spot, iv interval, c char(4), tz timetz, r int4range, x xml, b bit(3), v varchar(3), j json)`,
		`INSERT INTO odd VALUES (1, '(1,2)', '10.0.0.1', 12.5, '{1,2}', 'MiXed', 'happy', 10.5, '(3,4)', '1 day', 'ab', '12:00+02', '[1,5)', '<a/>', '101', 'xyz', '{"b": 1, "a": 2}')`,
	)
	src := open(t, dsn)
	info, err := src.Describe(t.Context(), connectors.TableRef{Name: "odd"})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, f := range info.Schema.Fields() {
		types[f.Name] = f.Type.String()
		if v, ok := f.Metadata.GetValue(connectors.MetaLogical); ok {
			types[f.Name] += " " + v
		}
	}
	wantTypes := map[string]string{
		"id": "int32", "geo": "utf8", "addr": "utf8", "price": "utf8", "tags": "utf8 json", "name": "utf8",
		"m": "utf8", "amount": "decimal(10, 2)", "s": "utf8", "iv": "utf8", "c": "utf8", "tz": "utf8", "r": "utf8",
		"x": "utf8", "b": "utf8", "v": "utf8", "j": "utf8 json",
	}
	for k, v := range wantTypes {
		if types[k] != v {
			t.Errorf("column %s: %s, want %s", k, types[k], v)
		}
	}
	notes := strings.Join(info.Notes, "\n")
	for _, want := range []string{
		"column geo (point) compared by its text output",
		"column addr (inet)", "column price (money)", "column tags (integer[]) compared as a JSON array",
		"column name (citext) compared as text, case-sensitively", "column s (spot)", "column tz (time with time zone)",
		"column r (int4range)", "column x (xml)", "column b (bit(3))",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	for _, quiet := range []string{"column m ", "column amount", "column iv", "column c ", "column id", "column v ", "column j "} {
		if strings.Contains(notes, quiet) {
			t.Errorf("notes mention %q:\n%s", quiet, notes)
		}
	}
	got := readRows(t)(src.Read(t.Context(), connectors.TableRef{Name: "odd"}, connectors.ReadOptions{}))
	want := `1|(1,2)|10.0.0.1|$12.50|[1, 2]|MiXed|happy|10.5|(3,4)|P1D|ab|12:00:00+02|[1,5)|<a/>|101|xyz|{"b": 1, "a": 2}`
	if len(got) != 1 || got[0] != want {
		t.Errorf("row = %q\nwant  %q", got, want)
	}
	if _, err := src.ReadOrdered(t.Context(), connectors.TableRef{Name: "odd"}, []string{"tags"}, connectors.ReadOptions{}); !errors.Is(err, connectors.ErrUnsupported) {
		t.Errorf("ReadOrdered by an array column: %v, want ErrUnsupported", err)
	}
}

func TestNotFound(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE t (id int PRIMARY KEY, name text)`)
	src := open(t, dsn)
	for _, name := range []string{"missing", "nosuchschema.t", "public.missing", `"T"`, "a.b.c", `"unterminated`} {
		_, err := src.Describe(t.Context(), connectors.TableRef{Name: name})
		if !errors.Is(err, connectors.ErrTableNotFound) || !strings.Contains(err.Error(), name) {
			t.Errorf("Describe(%s): %v, want ErrTableNotFound naming it", name, err)
		}
		if _, err := src.Read(t.Context(), connectors.TableRef{Name: name}, connectors.ReadOptions{}); !errors.Is(err, connectors.ErrTableNotFound) {
			t.Errorf("Read(%s): %v, want ErrTableNotFound", name, err)
		}
	}
	ref := connectors.TableRef{Name: "t"}
	_, err := src.Read(t.Context(), ref, connectors.ReadOptions{Columns: []string{"id", "nope", "Name"}})
	if !errors.Is(err, connectors.ErrColumnNotFound) || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), `"Name"`) || !strings.Contains(err.Error(), "read t:") {
		t.Errorf("Read of unknown columns: %v", err)
	}
	_, err = src.ReadOrdered(t.Context(), ref, []string{"nokey"}, connectors.ReadOptions{})
	if !errors.Is(err, connectors.ErrColumnNotFound) || !strings.Contains(err.Error(), `"nokey"`) {
		t.Errorf("ReadOrdered by an unknown key: %v", err)
	}
	_, err = src.Describe(t.Context(), connectors.TableRef{Name: "t", Where: "nope > 1"})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("a bad filter: %v", err)
	}
}

func TestQueryRef(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE t (id int PRIMARY KEY, amount numeric(8,2), name text)`,
		`INSERT INTO t SELECT g, g * 1.5, 'n' || g FROM generate_series(1, 10) g`,
	)
	src := open(t, dsn)
	ref := connectors.TableRef{Query: "SELECT id, amount * 2 AS doubled, upper(name) AS \"Name\", amount::numeric AS plain FROM t -- trailing comment;\n;", Where: `id % 3 = 0`}
	info, err := src.Describe(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldNames(info.Schema); !slices.Equal(got, []string{"id", "doubled", "Name", "plain"}) {
		t.Errorf("query columns = %q", got)
	}
	if info.Name != "query" || info.EstimatedRows != -1 || len(info.PrimaryKey) != 0 {
		t.Errorf("query info: %+v", info)
	}
	got := readRows(t)(src.ReadOrdered(t.Context(), ref, []string{"Name"}, connectors.ReadOptions{}))
	if want := []string{"3|9.00|N3|4.50", "6|18.00|N6|9.00", "9|27.00|N9|13.50"}; !slices.Equal(got, want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
	if _, err := src.Describe(t.Context(), connectors.TableRef{Query: "SELECT id, id FROM t"}); !errors.Is(err, connectors.ErrUnsupported) {
		t.Errorf("duplicate query columns: %v", err)
	}
	if _, err := src.Describe(t.Context(), connectors.TableRef{Query: "SELECT nope FROM t"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("a bad query: %v", err)
	}
	// A query cannot smuggle a second statement, nor a write.
	for _, q := range []string{"SELECT 1; DROP TABLE t", "SELECT 1) TO STDOUT; DROP TABLE t; COPY (SELECT 1", "DELETE FROM t RETURNING id"} {
		if _, err := src.Describe(t.Context(), connectors.TableRef{Query: q}); err == nil {
			t.Errorf("query %q was accepted", q)
		}
	}
	if _, err := src.Describe(t.Context(), connectors.TableRef{Name: "t", Where: "true) -- "}); err == nil {
		t.Errorf("an unbalanced filter was accepted")
	}
	if got := readRows(t)(open(t, dsn).Read(t.Context(), connectors.TableRef{Name: "t"}, connectors.ReadOptions{Columns: []string{"id"}})); len(got) != 10 {
		t.Errorf("t has %d rows after the attempts, want 10", len(got))
	}
}

func TestConsistencyInfo(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE t (id int)`)
	before := time.Now()
	src := open(t, dsn)
	info, err := src.Describe(t.Context(), connectors.TableRef{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	c := info.Consistency
	if c == nil || c.Snapshot == "" || c.Position == "" || c.Time.Location() != time.UTC || c.Time.Before(before.Add(-time.Minute)) || c.Time.After(time.Now().Add(time.Minute)) {
		t.Errorf("consistency = %+v", c)
	}
	if len(info.Notes) != 0 {
		t.Errorf("notes = %q", info.Notes)
	}
}

func TestPasswordsNeverLeak(t *testing.T) {
	const secret = "S3cr3t-pw"
	for _, loc := range []string{
		"postgres://postgres:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=2",
		"postgresql://postgres:" + secret + "@127.0.0.1:1/db?password=" + secret,
		"host=127.0.0.1 port=1 user=postgres password=" + secret + " dbname=db sslmode=disable connect_timeout=2",
		"host=127.0.0.1 port=1 user=postgres password='" + secret + "' dbname=db sslmode=disable",
		"postgres://postgres:" + secret + "@127.0.0.1:notaport/db",
		"postgres://postgres:" + secret + "@127.0.0.1:1/db?sslmode=nonsense",
		"host=127.0.0.1 port=x password=" + secret,
		// An escaped space and a quote inside an unquoted value are part
		// of the password, as libpq and pgx read it.
		`host=127.0.0.1 port=1 user=postgres password=` + secret + `\ PARTTWO dbname=db connect_timeout=2`,
		`host=127.0.0.1 port=1 user=postgres password=` + secret + `'PARTTWO dbname=db connect_timeout=2`,
		`host=127.0.0.1 port=1 user=postgres password='` + secret + `\' PARTTWO' dbname=db connect_timeout=2`,
		`host=127.0.0.1 port=x password=` + secret + `\ PARTTWO`,
	} {
		src, err := postgres.Open(t.Context(), loc, connectors.Options{})
		if err == nil {
			src.Close()
			t.Errorf("Open(%s) succeeded", loc)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "S3cr3t") || strings.Contains(err.Error(), "PARTTWO") {
			t.Errorf("the error shows the password: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "open ") {
			t.Errorf("error %q lacks the open prefix", err)
		}
	}
	t.Setenv("PGPASSWORD", secret)
	if _, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/db?connect_timeout=2", connectors.Options{}); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("with PGPASSWORD: %v", err)
	}
}

func TestReadWithAllocator(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE t (id int PRIMARY KEY, s text)`, `INSERT INTO t SELECT g, repeat('x', g) FROM generate_series(1, 1000) g`)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, err := postgres.Open(t.Context(), dsn, connectors.Options{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rr, err := src.Read(t.Context(), connectors.TableRef{Name: "t"}, connectors.ReadOptions{BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	batches, rows := 0, 0
	for rr.Next() {
		batches++
		rows += int(rr.Record().NumRows())
		if mem.CurrentAlloc() == 0 {
			t.Fatal("the records are not allocated from Options.Allocator")
		}
	}
	if rr.Err() != nil || batches != 10 || rows != 1000 {
		t.Errorf("%d batches, %d rows, err %v", batches, rows, rr.Err())
	}
	rr.Release()
	// Releasing before the end frees everything too.
	rr, err = src.Read(t.Context(), connectors.TableRef{Name: "t"}, connectors.ReadOptions{BatchRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	rr.Next()
	rr.Retain()
	rr.Release()
	if rr.Record() == nil {
		t.Error("the record went with a Release while retained")
	}
	rr.Release()
}

// char(n) reads without its pad, as PostgreSQL's char → text cast does,
// and orders as that text, byte-wise.
func TestCharPadding(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE c (k char(6) PRIMARY KEY, free bpchar)`,
		`INSERT INTO c VALUES ('ab', 'x  '), ('a b', ' y'), ('é', NULL), ('', ''), ('Ab', 'tab	'), ('a', 'a')`,
	)
	src := open(t, dsn)
	got := readRows(t)(src.Read(t.Context(), connectors.TableRef{Name: "c"}, connectors.ReadOptions{}))
	want := []string{"|", "Ab|tab\t", "a|a", "a b| y", "ab|x", "é|(null)"}
	if !slices.Equal(got, want) {
		t.Errorf("rows = %q, want %q", got, want)
	}
}

// Any type at all reads, as its text when nothing better fits.
func TestAnyTypeReads(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, `CREATE TABLE s (a int, b text)`, `INSERT INTO s SELECT g % 3, 'x' FROM generate_series(1, 100) g`, `ANALYZE s`)
	src := open(t, dsn)
	ref := connectors.TableRef{Query: `
SELECT 'a'::"char" AS qc, 1::oid AS o, 's'::regclass AS rc, '0/16B6C50'::pg_lsn AS lsn, '08:00:2b:01:02:03'::macaddr AS mac,
       to_tsvector('english', 'the quick fox') AS tsv, ROW(1, 'x') AS rec, '{[1,2)}'::int4multirange AS mr, '123'::xid AS x,
       B'101'::varbit AS vb, ARRAY[ROW(1, 'a')] AS recarr, ARRAY['1 day'::interval] AS ivarr, '12:00+02'::timetz AS ttz,
       '(1,2),(3,4)'::box AS bx, (SELECT most_common_vals FROM pg_stats WHERE tablename = 's' AND attname = 'a') AS anyarr,
       '10.0.0.0/8'::cidr AS net, pg_sleep(0) AS nothing, 'a'::unknown AS unk, txid_current_snapshot() AS snap`}
	info, err := src.Describe(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	got := readRows(t)(src.Read(t.Context(), ref, connectors.ReadOptions{}))
	want := strings.Split(`a|1|s|0/16B6C50|08:00:2b:01:02:03|'fox':3 'quick':2|(1,x)|{[1,2)}|123|101|{"(1,a)"}|["P1D"]|12:00:00+02|(3,4),(1,2)|{?}|10.0.0.0/8||a|?`, "|")
	if len(got) != 1 {
		t.Fatalf("rows = %q", got)
	}
	cells := strings.Split(got[0], "|")
	if len(cells) != len(want) {
		t.Fatalf("row = %q, want %d cells", got[0], len(want))
	}
	for i := range want {
		if strings.Contains(want[i], "?") { // statistics and snapshots vary
			continue
		}
		if cells[i] != want[i] {
			t.Errorf("column %s = %q, want %q", info.Schema.Field(i).Name, cells[i], want[i])
		}
	}
	if len(info.Notes) < 15 {
		t.Errorf("notes = %q", info.Notes)
	}
}

// In a database whose encoding is not UTF-8, text keys still come in
// UTF-8 byte order (the engine's), not in the server encoding's, and a
// resume predicate agrees with that order.
func TestKeyOrderNonUTF8(t *testing.T) {
	dsn := testdb.PostgresEncoding(t, "WIN1251")
	// pgx leaves client_encoding at the database's encoding unless told.
	utf8 := testdb.WithParams(dsn, "client_encoding=UTF8")
	testdb.Exec(t, utf8,
		`CREATE TABLE k (t text PRIMARY KEY, c char(3), v int)`,
		// UTF-8 order: z < Ж (d0 96) < я (d1 8f) < € (e2 82 ac);
		// WIN1251 order: z (7a) < € (88) < Ж (c6) < я (ff).
		`INSERT INTO k VALUES ('€', '€', 1), ('я', 'я', 2), ('z', 'z', 3), ('Ж', 'Ж', 4), ('я€', 'яz', 5), ('€z', NULL, 6)`,
	)
	src := open(t, dsn)
	ref := connectors.TableRef{Name: "k"}
	for _, c := range []struct {
		key  []string
		want []string
	}{
		{nil, []string{"z", "Ж", "я", "я€", "€", "€z"}},
		{[]string{"c", "v"}, []string{"z", "Ж", "я", "я€", "€", "€z"}},
	} {
		var rr array.RecordReader
		var err error
		if c.key == nil {
			rr, err = src.Read(t.Context(), ref, connectors.ReadOptions{})
		} else {
			rr, err = src.ReadOrdered(t.Context(), ref, c.key, connectors.ReadOptions{})
		}
		var got []string
		for _, row := range readAll(t, rr, err) {
			got = append(got, strings.SplitN(row, "|", 2)[0])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("key %v: %q, want %q", c.key, got, c.want)
		}
	}
}
