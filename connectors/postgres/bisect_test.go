package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/postgres"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

// The engine's bisect diff of two PostgreSQL tables through this
// connector's checksums finds what a streaming diff finds, reading only
// the segments that differ.
func TestBisectDiff(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE a (id bigint PRIMARY KEY, name text NOT NULL, price numeric(12,2), d date, u uuid, tag char(3), b bytea)`,
		`INSERT INTO a SELECT g, 'name ' || g || (ARRAY['', 'é', 'Ä'])[g % 3 + 1], (g % 997) / 7.0, '1960-01-01'::date + g % 30000,
		        md5(g::text)::uuid, (ARRAY['x', 'yy ', NULL])[g % 3 + 1], decode(md5((g * 3)::text), 'hex')
		 FROM generate_series(1, 50000) g`,
		`CREATE TABLE b (LIKE a INCLUDING ALL)`,
		`INSERT INTO b SELECT * FROM a`,
		`UPDATE b SET price = price + 0.01 WHERE id = 777`,
		`UPDATE b SET name = 'Name 20000' WHERE id = 20000`,
		`DELETE FROM b WHERE id = 33333`,
		`INSERT INTO b VALUES (50001, 'new', 1, '2026-01-01', NULL, NULL, NULL)`,
		`ANALYZE a`, `ANALYZE b`,
	)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, tgt := open(t, dsn), open(t, dsn)
	run := func(algo reconcile.Algorithm) (*reconcile.Result, []string) {
		t.Helper()
		var changes []string
		res, err := reconcile.Diff(t.Context(),
			reconcile.Input{Source: src, Table: connectors.TableRef{Name: "a"}, Name: "a"},
			reconcile.Input{Source: tgt, Table: connectors.TableRef{Name: "b"}, Name: "b"},
			reconcile.Options{Key: []string{"id"}, Algorithm: algo, Allocator: mem, BisectThreshold: 500},
			func(c reconcile.Change) error {
				changes = append(changes, fmt.Sprint(c.Kind)+" "+c.KeyString())
				return nil
			})
		if err != nil {
			t.Fatalf("%s: %v", algo, err)
		}
		return res, changes
	}
	bytes := func() int64 { return src.BytesReceived() + tgt.BytesReceived() }
	b0 := bytes()
	merged, want := run(reconcile.Merge)
	b1 := bytes()
	bisected, got := run(reconcile.Bisect)
	b2 := bytes()
	// The sockets' byte counts: a stream receives both tables, a bisect
	// little more than its checksums and the differing segments.
	if b1-b0 < 2*50000*20 || bisected.Plan.BytesReceived <= 0 || bisected.Plan.BytesReceived > b2-b1 || 4*(b2-b1) > b1-b0 {
		t.Errorf("bytes received: stream %d, bisect %d (plan says %d)", b1-b0, b2-b1, bisected.Plan.BytesReceived)
	}
	if len(want) != 4 || len(got) != len(want) {
		t.Fatalf("bisect found %q, merge %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d: bisect %q, merge %q", i, got[i], want[i])
		}
	}
	if bisected.Summary != merged.Summary {
		t.Errorf("summary: bisect %+v, merge %+v", bisected.Summary, merged.Summary)
	}
	if p := bisected.Plan; p.Algorithm != "bisect" || p.RowsFetched >= 50000 || p.SegmentsMismatched == 0 {
		t.Errorf("plan: %+v", p)
	}
}

// A primary key is not unique across inheritance children: a key present
// in the parent and in a child is a duplicate that bisect must find, as the
// stream does, rather than take the segment's row count as its key count.
// A text key exercises the other bucketing path end to end.
func TestBisectInheritanceDuplicates(t *testing.T) {
	dsn := testdb.Postgres(t)
	for _, tbl := range []string{"a", "b"} {
		testdb.Exec(t, dsn,
			`CREATE TABLE `+tbl+` (id text PRIMARY KEY, v text)`,
			`CREATE TABLE `+tbl+`_old () INHERITS (`+tbl+`)`,
			`INSERT INTO `+tbl+` SELECT 'k' || lpad(g::text, 5, '0'), 'v' || g FROM generate_series(1, 3000) g`,
			`INSERT INTO `+tbl+`_old VALUES ('k00042', 'v42')`,
			`ANALYZE `+tbl)
	}
	testdb.Exec(t, dsn, `UPDATE b SET v = 'changed' WHERE id = 'k02500'`)
	src, tgt := open(t, dsn), open(t, dsn)
	for _, algo := range []reconcile.Algorithm{reconcile.Merge, reconcile.Bisect} {
		var changes []string
		res, err := reconcile.Diff(t.Context(),
			reconcile.Input{Source: src, Table: connectors.TableRef{Name: "a"}},
			reconcile.Input{Source: tgt, Table: connectors.TableRef{Name: "b"}},
			reconcile.Options{Key: []string{"id"}, Algorithm: algo, BisectThreshold: 64},
			func(c reconcile.Change) error {
				changes = append(changes, fmt.Sprint(c.Kind, " ", c.KeyString(), " ", c.Side))
				return nil
			})
		if err != nil {
			t.Fatalf("%s: %v", algo, err)
		}
		if res.Summary.Duplicate != 2 || res.Summary.Changed != 1 || len(changes) != 3 {
			t.Errorf("%s: %+v, changes %q", algo, res.Summary, changes)
		}
	}
}

// Columns of different database types that render alike (char(3) 'ab' and
// text 'ab ', bytea and its hex text) are not compared by the native row
// hash: auto still finds what the stream finds.
func TestBisectDifferentColumnTypes(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE s (id int PRIMARY KEY, c char(3), b bytea)`,
		`CREATE TABLE t (id int PRIMARY KEY, c text, b text)`,
		`INSERT INTO s SELECT g, 'ab', '\x41' FROM generate_series(1, 100) g`,
		`INSERT INTO t SELECT g, CASE WHEN g = 50 THEN 'ab ' ELSE 'ab' END, '\x41' FROM generate_series(1, 100) g`)
	src, tgt := open(t, dsn), open(t, dsn)
	for _, cols := range [][]string{{"id", "c"}, {"id", "b"}} {
		for _, algo := range []reconcile.Algorithm{reconcile.Merge, reconcile.Auto} {
			res, err := reconcile.Diff(t.Context(),
				reconcile.Input{Source: src, Table: connectors.TableRef{Name: "s"}},
				reconcile.Input{Source: tgt, Table: connectors.TableRef{Name: "t"}},
				reconcile.Options{Key: []string{"id"}, Columns: cols, Algorithm: algo, BisectThreshold: 16}, nil)
			if err != nil {
				t.Fatalf("%v %s: %v", cols, algo, err)
			}
			want := int64(1) // c: row 50 differs by its trailing space
			if cols[1] == "b" {
				want = 100 // bytea 'A' against the text '\x41'
			}
			if res.Summary.Changed != want {
				t.Errorf("%v %s: %+v (plan %s: %s)", cols, algo, res.Summary, res.Plan.Algorithm, res.Plan.Note)
			}
		}
	}
}

// NOT NULL on a foreign table, or on a parent with a foreign partition, is
// not enforced by PostgreSQL: such key columns count as nullable, so bisect
// refuses them and auto streams (the stream reports NULL keys).
func TestForeignTablesMayHoldNullKeys(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE EXTENSION file_fdw`,
		`CREATE SERVER files FOREIGN DATA WRAPPER file_fdw`,
		`CREATE FOREIGN TABLE ft (a int NOT NULL, v text) SERVER files OPTIONS (filename '/dev/null', format 'csv')`,
		`CREATE TABLE pp (a int NOT NULL, v text) PARTITION BY LIST (v)`,
		`CREATE FOREIGN TABLE pp_f PARTITION OF pp FOR VALUES IN ('x') SERVER files OPTIONS (filename '/dev/null', format 'csv')`,
		`CREATE TABLE plain (a int NOT NULL, v text)`)
	src := open(t, dsn)
	for name, nullable := range map[string]bool{"ft": true, "pp": true, "plain": false} {
		info, err := src.Describe(t.Context(), connectors.TableRef{Name: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := info.Schema.Field(0).Nullable; got != nullable {
			t.Errorf("%s: key column nullable = %v, want %v", name, got, nullable)
		}
	}
}

// bisectChanges runs a diff of table a against table b and renders its
// changes.
func bisectChanges(t *testing.T, ctx context.Context, src, tgt *postgres.Source, srcRef, tgtRef connectors.TableRef, opts reconcile.Options) (*reconcile.Result, []string, error) {
	t.Helper()
	var changes []string
	opts.Key = []string{"id"}
	res, err := reconcile.Diff(ctx, reconcile.Input{Source: src, Table: srcRef}, reconcile.Input{Source: tgt, Table: tgtRef}, opts,
		func(c reconcile.Change) error {
			changes = append(changes, fmt.Sprint(c.Kind, " ", c.KeyString(), " ", c.Side))
			return nil
		})
	return res, changes, err
}

// Concurrent checksum and boundary statements, and first-level chunks
// sized to MaxQuerySeconds, read the one snapshot each Source took: rows
// changed after it are not seen, whether the reading connections import
// the exported snapshot or share the one connection that holds it (a
// role that may not export snapshots).
func TestBisectConcurrentStatementsOneSnapshot(t *testing.T) {
	dsn := testdb.Postgres(t)
	build := func() {
		testdb.Exec(t, dsn,
			`DROP TABLE IF EXISTS a, b`,
			`CREATE TABLE a (id int PRIMARY KEY, name text NOT NULL, price numeric(12,2))`,
			`INSERT INTO a SELECT g, 'name ' || g, (g % 997) / 7.0 FROM generate_series(1, 1000) g`,
			// A stale estimate (1,000 rows of 40,000): first-level
			// segments well above the threshold, split level by level.
			`ANALYZE a`,
			`INSERT INTO a SELECT g, 'name ' || g, (g % 997) / 7.0 FROM generate_series(1001, 40000) g`,
			`CREATE TABLE b (LIKE a INCLUDING ALL)`, // never analyzed: no estimate
			`INSERT INTO b SELECT * FROM a`,
			`UPDATE b SET price = price + 0.01 WHERE id IN (777, 5555, 21000)`,
			`UPDATE b SET name = 'Name 20000' WHERE id = 20000`,
			`DELETE FROM b WHERE id = 33333`,
			`INSERT INTO b VALUES (40001, 'new', 1)`,
		)
	}
	late := func(tag string) {
		testdb.Exec(t, dsn,
			`UPDATE b SET name = '`+tag+`' WHERE id % 97 = 0`,
			`DELETE FROM a WHERE id BETWEEN 100 AND 150`,
			`INSERT INTO b SELECT g, '`+tag+`', 0 FROM generate_series(50000 + (SELECT count(*) FROM b), 50100 + (SELECT count(*) FROM b)) g`)
	}
	a, b := connectors.TableRef{Name: "a"}, connectors.TableRef{Name: "b"}
	// check diffs with merge, changes the tables, and diffs again with
	// merge and with bisect: each must find what the first merge found.
	check := func(name string, src, tgt *postgres.Source, tag string) {
		t.Helper()
		_, want, err := bisectChanges(t, t.Context(), src, tgt, a, b, reconcile.Options{Algorithm: reconcile.Merge})
		if err != nil || len(want) != 6 {
			t.Fatalf("%s: merge found %q (%v), want the 6 changes made before the snapshot", name, want, err)
		}
		late(tag)
		_, again, err := bisectChanges(t, t.Context(), src, tgt, a, b, reconcile.Options{Algorithm: reconcile.Merge})
		if err != nil || !slices.Equal(again, want) {
			t.Fatalf("%s: merge after the snapshot found %d changes (%v), before it %d", name, len(again), err, len(want))
		}
		queries := map[string]int64{}
		for _, tc := range []struct {
			label    string
			workers  int
			maxQuery float64
		}{{"1 worker", 1, 0}, {"4 workers", 4, 0}, {"4 workers, chunked", 4, 0.002}, {"1 worker, chunked", 1, 0.002}} {
			res, got, err := bisectChanges(t, t.Context(), src, tgt, a, b,
				reconcile.Options{Algorithm: reconcile.Bisect, BisectThreshold: 64, Workers: tc.workers, MaxQuerySeconds: tc.maxQuery})
			if err != nil {
				t.Fatalf("%s, %s: %v", name, tc.label, err)
			}
			if !slices.Equal(got, want) || res.Plan.RowsFetched >= 40000 {
				t.Errorf("%s, %s: bisect found %d changes (%d rows read), merge %d", name, tc.label, len(got), res.Plan.RowsFetched, len(want))
			}
			queries[tc.label] = res.Plan.Queries
		}
		if queries["4 workers, chunked"] <= queries["4 workers"] || queries["1 worker, chunked"] <= queries["1 worker"] {
			t.Errorf("%s: queries %v: the chunked first level took no more statements", name, queries)
		}
	}

	build()
	src, tgt := open(t, dsn), open(t, dsn)
	check("exported snapshot", src, tgt, "late")
	src.Close()
	tgt.Close()

	build()
	testdb.Exec(t, dsn, `REVOKE EXECUTE ON FUNCTION pg_export_snapshot() FROM PUBLIC`)
	limited := testdb.Role(t, dsn, "GRANT SELECT ON a, b TO ROLE")
	src, tgt = open(t, limited), open(t, limited)
	info, err := src.Describe(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(info.Notes, " "), "one at a time") {
		t.Fatalf("the limited role exported a snapshot: notes %q", info.Notes)
	}
	check("one shared connection", src, tgt, "later")
}

// Cancelling a bisect diff stops the checksum statements running on the
// servers, and a checksum that fails on one side stops the other side's.
// The tables' filter sleeps, or fails, only inside checksum statements
// (the ones whose text holds the connector's fence).
func TestBisectCancelStopsChecksums(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE a (id int PRIMARY KEY, v text)`,
		`INSERT INTO a SELECT g, 'v' || g FROM generate_series(1, 40000) g`,
		`ANALYZE a`,
		`CREATE FUNCTION in_checksum() RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT pg_catalog.current_query() LIKE '%reconcile fence%' $$`,
		`CREATE FUNCTION slow() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
		 BEGIN IF in_checksum() THEN PERFORM pg_sleep(0.001); END IF; RETURN true; END $$`,
		`CREATE FUNCTION refuse() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
		 BEGIN IF in_checksum() THEN RAISE EXCEPTION 'checksum refused by the test'; END IF; RETURN true; END $$`,
	)
	admin := testdb.Connect(t, dsn)
	running := func() int {
		var n int
		err := admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'reconcile' AND state = 'active' AND query LIKE '%reconcile fence%'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// waitFor polls cond for up to half a minute.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	slow := connectors.TableRef{Name: "a", Where: "slow()"}
	src, tgt := open(t, dsn), open(t, dsn)

	// Each side's one first-level statement would take 40 s.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := bisectChanges(t, ctx, src, tgt, slow, slow, reconcile.Options{Algorithm: reconcile.Bisect, Workers: 4})
		done <- err
	}()
	waitFor("both checksum statements to run", func() bool { return running() == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled bisect: %v, want context.Canceled", err)
	}
	waitFor("the cancelled checksum statements to stop", func() bool { return running() == 0 })

	// The target refuses its checksum: the source's is cancelled.
	_, _, err := bisectChanges(t, t.Context(), src, tgt, slow, connectors.TableRef{Name: "a", Where: "refuse()"},
		reconcile.Options{Algorithm: reconcile.Bisect, Workers: 4})
	if err == nil || !strings.Contains(err.Error(), "checksum refused by the test") {
		t.Errorf("refused checksum: %v", err)
	}
	waitFor("the source's checksum statement to stop", func() bool { return running() == 0 })
}
