package postgres

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
)

// nativeTable holds a column of most kinds, floats and JSON too, with
// NULLs in o.
var nativeTable = []string{
	`CREATE TABLE n (id int PRIMARY KEY, t text, o text, f8 float8, f4 real, nu numeric, j json, jb jsonb, a int[],
		ts timestamptz, tsl timestamp, d date, iv interval, by bytea, u uuid, c char(3), b bool, tm time, m money, ip inet, pt point)`,
	`INSERT INTO n SELECT g, 'row ' || g || (ARRAY['', 'é', '"q"', ' , ( )', E'back\\slash'])[g % 5 + 1],
		CASE WHEN g % 3 = 0 THEN 'o' || g END,
		g / 7.0::float8, (g / 3.0)::real, g / 11.0, ('{"g": ' || g || ', "s": "x y"}')::json, ('{"g": ' || g || '}')::jsonb,
		ARRAY[g, g + 1, NULL], '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 hour 1 microsecond',
		'1999-12-31 23:59:59.5'::timestamp + g * interval '1 day', '2000-01-01'::date + g, g * interval '1 day 2 seconds',
		decode(md5(g::text), 'hex'), md5(g::text)::uuid, (ARRAY['a', 'bb ', NULL])[g % 3 + 1], g % 2 = 0,
		'00:00'::time + g * interval '1 second', g * 1.25, ('10.0.' || (g % 256) || '.1')::inet, point(g, g / 3.0)
	FROM generate_series(1, 1000) g`,
}

// segmentsOf checksums the whole table n, natively, cut at bounds.
func segmentsOf(t *testing.T, src *Source, bounds [][]any) []connectors.Segment {
	t.Helper()
	segs, err := src.Checksums(t.Context(), connectors.TableRef{Name: "n"}, connectors.ChecksumRequest{Key: []string{"id"}, Bounds: bounds, Hash: src.NativeHash()})
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// The native hash of two databases holding the same rows agrees segment
// by segment, whatever each connection string sets for the text output
// of values; a changed value, a NULL made non-NULL and a deleted row each
// make the one segment holding them differ.
func TestNativeHashTwoDatabases(t *testing.T) {
	a, b := testdb.Postgres(t), testdb.Postgres(t)
	testdb.Exec(t, a, nativeTable...)
	testdb.Exec(t, b, nativeTable...)
	srcA, err := Open(t.Context(), a, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srcA.Close()
	// B's sessions start out rendering values otherwise.
	other := testdb.WithParams(b, "options=-c%20TimeZone%3DAsia/Tokyo%20-c%20DateStyle%3DGerman%20-c%20IntervalStyle%3Dpostgres"+
		"%20-c%20extra_float_digits%3D0%20-c%20bytea_output%3Descape%20-c%20lc_monetary%3DC.UTF-8%20-c%20quote_all_identifiers%3Don")
	openB := func() *Source {
		t.Helper()
		src, err := Open(t.Context(), other, connectors.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}
	srcB := openB()
	label := srcA.NativeHash()
	if want := fmt.Sprintf("postgres %d %s", srcA.major, hashName(srcA.major)); label != want || srcB.NativeHash() != label {
		t.Fatalf("labels %q and %q, want %q", label, srcB.NativeHash(), want)
	}
	bounds, err := srcA.Boundaries(t.Context(), connectors.TableRef{Name: "n"}, []string{"id"}, connectors.KeyRange{}, 10)
	if err != nil || len(bounds) != 9 {
		t.Fatalf("bounds %v, %v", bounds, err)
	}
	before := segmentsOf(t, srcA, bounds)
	if got := segmentsOf(t, srcB, bounds); !slices.Equal(got, before) {
		t.Fatalf("equal tables: segments\n%v\n%v", before, got)
	}
	for i, s := range before {
		if s.Rows != 100 || s.Keys != 100 || s.Sum == 0 {
			t.Errorf("segment %d: %+v", i, s)
		}
	}

	// The segment of each id: bounds are 101, 201, ..., 901.
	testdb.Exec(t, b,
		`UPDATE n SET f8 = f8 + 4e-15 WHERE id = 123`,      // one ulp: 17.571428571428577
		`UPDATE n SET o = '' WHERE id = 455 AND o IS NULL`, // NULL to the empty string
		`DELETE FROM n WHERE id = 789`,
	)
	after := segmentsOf(t, openB(), bounds)
	var differ []int
	for i := range before {
		if after[i] != before[i] {
			differ = append(differ, i)
		}
	}
	if !slices.Equal(differ, []int{1, 4, 7}) {
		t.Errorf("segments %v differ, want 1, 4 and 7", differ)
	}
	if after[1].Rows != 100 || after[4].Rows != 100 || after[7].Rows != 99 {
		t.Errorf("row counts of the changed segments: %d, %d, %d", after[1].Rows, after[4].Rows, after[7].Rows)
	}
}

// The native hash of a segment is the sum mod 2^64 of hashtextextended of
// each row's text in the order of the columns asked for; it takes the
// columns the canonical hash refuses (floats, JSON, arrays), and
// a label not its own is refused.
func TestNativeHashColumns(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, nativeTable...)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := t.Context()
	ref := connectors.TableRef{Name: "n", Where: "id % 4 <> 1"}
	refused, err := src.Checksummable(ctx, ref, []string{"id"}, nil)
	if err != nil || !slices.Equal(refused, []string{"f8", "f4", "j", "jb", "a"}) {
		t.Errorf("canonical refusals: %q, %v", refused, err)
	}
	if _, err := src.Checksums(ctx, ref, connectors.ChecksumRequest{Key: []string{"id"}, Columns: []string{"id", "j"}}); !errors.Is(err, connectors.ErrUnsupported) {
		t.Errorf("canonical checksum of json: %v", err)
	}
	for _, h := range []string{"md5", "postgres 14 hashtextextended(row text)", src.NativeHash() + " "} {
		if _, err := src.Checksums(ctx, ref, connectors.ChecksumRequest{Key: []string{"id"}, Hash: h}); !errors.Is(err, connectors.ErrUnsupported) {
			t.Errorf("hash %q: %v", h, err)
		}
	}

	// What the server sums, computed apart.
	want := func(cols []string, from, to int) uint64 {
		t.Helper()
		var sum string
		q := fmt.Sprintf(`SELECT coalesce(sum(hashtextextended(ROW(%s)::text, 0)), 0)::text FROM n WHERE id %% 4 <> 1 AND id >= %d AND id < %d`,
			strings.Join(cols, ", "), from, to)
		if err := src.query(ctx, q, nil, func(r pgx.Rows) error { return r.Scan(&sum) }); err != nil {
			t.Fatal(err)
		}
		h, err := sumMod64(sum)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	all := []string{"id", "t", "o", "f8", "f4", "nu", "j", "jb", "a", "ts", "tsl", "d", "iv", "by", "u", "c", "b", "tm", "m", "ip", "pt"}
	for _, cols := range [][]string{nil, {"f8", "j"}, {"j", "f8"}, {"pt"}, {}} {
		names := cols
		if cols == nil {
			names = all
		}
		segs, err := src.Checksums(ctx, ref, connectors.ChecksumRequest{
			Key: []string{"id"}, Columns: cols, Hash: src.NativeHash(),
			Range:  connectors.KeyRange{From: []any{int64(10)}, To: []any{int64(900)}},
			Bounds: [][]any{{int64(300)}, {int64(301)}, {int64(700)}},
		})
		if err != nil {
			t.Fatalf("columns %q: %v", cols, err)
		}
		edges := []int{10, 300, 301, 700, 900}
		for i, s := range segs {
			if w := want(names, edges[i], edges[i+1]); s.Sum != w {
				t.Errorf("columns %q, segment %d: sum %x, want %x", cols, i, s.Sum, w)
			}
		}
		if segs[1].Rows != 1 || segs[0].Rows+segs[1].Rows+segs[2].Rows+segs[3].Rows != 668 {
			t.Errorf("columns %q: %+v", cols, segs)
		}
	}

	// A key that repeats is counted by its distinct values; the key must
	// still bound ranges.
	segs, err := src.Checksums(ctx, connectors.TableRef{Name: "n"}, connectors.ChecksumRequest{Key: []string{"b"}, Hash: src.NativeHash()})
	if err == nil || !errors.Is(err, connectors.ErrUnsupported) {
		t.Errorf("a boolean key: %v, %v", segs, err)
	}
	segs, err = src.Checksums(ctx, connectors.TableRef{Name: "n"}, connectors.ChecksumRequest{Key: []string{"c"}, Hash: src.NativeHash(), Bounds: [][]any{{"b"}}})
	if err != nil || len(segs) != 2 || segs[0].Rows != 333 || segs[0].Keys != 1 || segs[1].Rows != 334 || segs[1].Keys != 1 {
		t.Errorf("a char key: %+v, %v", segs, err)
	}
}

// A database in another encoding says so in its label: the hash is of
// the text in the server's encoding.
func TestNativeHashLabelEncoding(t *testing.T) {
	dsn := testdb.PostgresEncoding(t, "LATIN1")
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got, want := src.NativeHash(), "postgres "+strconv.Itoa(src.major)+" "+hashName(src.major)+" in LATIN1"; got != want {
		t.Errorf("label %q, want %q", got, want)
	}
}

func hashName(major int) string {
	if major >= 14 {
		return recordHashName
	}
	return nativeHashName
}

func TestRecordHashable(t *testing.T) {
	for typ, want := range map[string]struct {
		collate bool
		send    string
		ok      bool
	}{
		"integer": {false, "", true}, "numeric(12,2)": {false, "", true}, "numeric": {false, "", false},
		"bigint": {false, "int8send", true}, "timestamp(3) without time zone": {false, "timestamp_send", true},
		"timestamp with time zone": {false, "timestamptz_send", true}, "time without time zone": {false, "time_send", true},
		"character varying(20)": {true, "", true}, "character(3)": {true, "", true}, "text": {true, "", true},
		"interval": {false, "", false}, "jsonb": {false, "", false}, "integer[]": {false, "", false}, "citext": {false, "", false},
		"time with time zone": {false, "", false}, "mood": {false, "", false}, "money": {false, "", false},
	} {
		if c, send, ok := recordHashable(typ); c != want.collate || send != want.send || ok != want.ok {
			t.Errorf("%s: collate %v send %q ok %v, want %+v", typ, c, send, ok, want)
		}
	}
}

// From PostgreSQL 14 a row of plain types hashes without its text: the
// sum is of hashint8extended(hash_record_extended(row)), text byte-wise
// under COLLATE "C". It still tells apart what the engine tells apart:
// a column's values swapped between two rows of a segment, and text that
// a case-insensitive collation calls equal; and it agrees where the
// engine does (numeric 1.0 and 1.00).
func TestNativeRecordHash(t *testing.T) {
	a, b := testdb.Postgres(t), testdb.Postgres(t)
	table := []string{
		`CREATE COLLATION IF NOT EXISTS ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
		`CREATE TABLE r (id int PRIMARY KEY, t text COLLATE ci, v varchar(20), c char(4), nu numeric(8,3), f8 float8,
			b bool, d date, ts timestamptz, u uuid, by bytea, bi bigint, tm time, tl timestamp, f4 real)`,
		`INSERT INTO r SELECT g, 'Name ' || g, 'v' || g, 'c' || (g % 10), g / 8.0, g / 3.0, g % 2 = 0,
			'2026-01-01'::date + g, '2026-01-01 00:00+00'::timestamptz + g * interval '1 minute', md5(g::text)::uuid, decode(md5(g::text), 'hex'),
			g, '00:00'::time + g * interval '1 second', '2026-01-01'::timestamp + g * interval '1 hour', g / 4.0
		FROM generate_series(1, 400) g`,
		// Values whose types' own hashes collide with a NULL or with
		// each other: row 401 holds one side of each pair.
		`INSERT INTO r VALUES (401, 'x', 'x', 'x', 'NaN', 0, true, '2026-01-01', '2026-01-01 00:00+00', md5('x')::uuid, '\x00', -1, '00:00', '2026-01-01 00:00', 0)`,
	}
	testdb.Exec(t, a, table...)
	testdb.Exec(t, b, table...)
	open := func(dsn string) *Source {
		src, err := Open(t.Context(), dsn, connectors.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}
	srcA := open(a)
	if srcA.major < 14 {
		t.Skip("hash_record_extended needs PostgreSQL 14")
	}
	bounds := [][]any{{int64(101)}, {int64(201)}, {int64(301)}, {int64(401)}}
	segs := func(src *Source) []connectors.Segment {
		t.Helper()
		s, err := src.Checksums(t.Context(), connectors.TableRef{Name: "r"}, connectors.ChecksumRequest{Key: []string{"id"}, Bounds: bounds, Hash: src.NativeHash()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := segs(srcA)
	// What the server sums for the first segment, computed apart.
	var sum string
	q := `SELECT sum(hash_record_extended(ROW(int8send(hash_record_extended(ROW(id, t COLLATE "C", v COLLATE "C", c COLLATE "C", nu, f8, b, d,
		timestamptz_send(ts), u, by, int8send(bi), time_send(tm), timestamp_send(tl), f4), 1540483477))), 1540483477))::text FROM r WHERE id < 101`
	if err := srcA.query(t.Context(), q, nil, func(r pgx.Rows) error { return r.Scan(&sum) }); err != nil {
		t.Fatal(err)
	}
	if h, _ := sumMod64(sum); before[0].Sum != h {
		t.Fatalf("segment 0: sum %x, want %x", before[0].Sum, h)
	}
	if got := segs(open(b)); !slices.Equal(got, before) {
		t.Fatalf("equal tables: segments\n%v\n%v", before, got)
	}
	testdb.Exec(t, b,
		// Segment 0: two rows swap their v.
		`UPDATE r SET v = CASE id WHEN 10 THEN 'v20' ELSE 'v10' END WHERE id IN (10, 20)`,
		// Segment 1: case only, which the column's collation ignores.
		`UPDATE r SET t = upper(t) WHERE id = 150`,
		// Segment 2: the same number written otherwise (numeric(8,3) keeps 31.250).
		`UPDATE r SET nu = 31.25 WHERE id = 250`,
		// Segment 3: -0 for 0 is no change either; a real change is.
		`UPDATE r SET f8 = f8 + 1 WHERE id = 350`,
	)
	after := segs(open(b))
	var differ []int
	for i := range before {
		if after[i] != before[i] {
			differ = append(differ, i)
		}
	}
	if !slices.Equal(differ, []int{0, 1, 3}) {
		t.Errorf("segments %v differ, want 0 (swap), 1 (case) and 3", differ)
	}

	// Each change of row 401 alone must make its segment differ: values a
	// field hash would give the seed (float 0, numeric NaN) against NULL,
	// and 64-bit values a folding hash would confuse.
	srcB := open(b)
	base := segs(srcB)[4]
	for _, change := range []string{
		"f8 = NULL", "f4 = NULL", "nu = NULL", "bi = 4294967295", "tm = '01:11:34.967297'",
		"tl = '2025-12-31 22:48:25.032705'", "ts = '2025-12-31 22:48:25.032705+00'", "by = NULL", "b = NULL",
	} {
		testdb.Exec(t, b, "UPDATE r SET "+change+" WHERE id = 401")
		got := segs(open(b))[4]
		testdb.Exec(t, b, "UPDATE r SET f8 = 0, f4 = 0, nu = 'NaN', bi = -1, tm = '00:00', tl = '2026-01-01 00:00', ts = '2026-01-01 00:00+00', by = '\\x00', b = true WHERE id = 401")
		if got == base {
			t.Errorf("%s: the segment's checksum did not change", change)
		}
		if after := segs(open(b))[4]; after != base {
			t.Fatalf("restoring row 401 after %s: %+v, want %+v", change, after, base)
		}
	}
}
