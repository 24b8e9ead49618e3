package snapshots

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
)

// matrixSchema holds every Arrow type the connectors produce.
var matrixSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 20, Scale: 4}, Nullable: true},
	{Name: "bignum", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: arrow.NewMetadata([]string{connectors.MetaLogical}, []string{connectors.LogicalDecimal})},
	{Name: "txt", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: arrow.NewMetadata([]string{connectors.MetaDBType}, []string{"text"})},
	{Name: "doc", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: arrow.NewMetadata([]string{connectors.MetaLogical}, []string{connectors.LogicalJSON})},
	{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "local", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "tod", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
	{Name: "ints", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
}, nil)

const matrixRows = `[
 {"id": 1, "i8": -8, "i16": 300, "i32": -70000, "u64": 18446744073709551615, "f32": 1.5, "f64": -0.25, "dec": "12.3400", "bignum": "123456789012345678901234567890.5", "txt": "héllo, \"world\"", "doc": "{\"a\": [1, 2]}", "bin": "AAEC", "flag": true, "day": 19000, "ts": "2026-01-01T00:00:00.123456Z", "local": "2026-01-01T00:00:00", "tod": 3600000000, "ints": [1, null, 3]},
 {"id": 2, "i8": null, "i16": null, "i32": null, "u64": null, "f32": null, "f64": null, "dec": null, "bignum": null, "txt": null, "doc": null, "bin": null, "flag": null, "day": null, "ts": null, "local": null, "tod": null, "ints": null},
 {"id": 3, "i8": 127, "i16": -1, "i32": 0, "u64": 0, "f32": -0.0, "f64": 1e300, "dec": "-0.0001", "bignum": "NaN", "txt": "", "doc": "[]", "bin": "", "flag": false, "day": -1, "ts": "1969-12-31T23:59:59.999999Z", "local": "1900-01-01T00:00:00", "tod": 0, "ints": []}
]`

func matrixRecord(t *testing.T, mem memory.Allocator) arrow.Record {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, matrixSchema, strings.NewReader(matrixRows))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func readAll(t *testing.T, rr array.RecordReader) []arrow.Record {
	t.Helper()
	defer rr.Release()
	var out []arrow.Record
	for rr.Next() {
		rec := rr.Record()
		rec.Retain()
		out = append(out, rec)
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func write(t *testing.T, store, name string, recs []arrow.Record, o WriteOptions) (*Manifest, string) {
	t.Helper()
	rr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	o.Name = name
	if o.Key == nil {
		o.Key = []string{"id"}
	}
	if o.Source == "" {
		o.Source = "postgres://app:s3cret@db/shop"
	}
	m, dir, err := Write(context.Background(), store, rr, o)
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

func TestRoundTripKeepsEveryTypeAndDigest(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rec := matrixRecord(t, mem)
	defer rec.Release()
	store := t.TempDir()
	m, dir := write(t, store, "matrix", []arrow.Record{rec}, WriteOptions{Table: "public.things", Allocator: mem})

	if strings.Contains(m.Source, "s3cret") {
		t.Errorf("manifest source %q holds the password", m.Source)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	if strings.Contains(string(raw), "s3cret") {
		t.Error("manifest.json holds the password")
	}
	if m.Rows != 3 || !m.Sorted || len(m.Parts) != 1 {
		t.Fatalf("manifest: rows %d sorted %v parts %d", m.Rows, m.Sorted, len(m.Parts))
	}
	src, err := Open(context.Background(), "snap:"+filepath.Join(store, "matrix")+"@latest", connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := src.Describe(context.Background(), connectors.TableRef{Name: "public.things"})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Schema.Equal(matrixSchema) {
		t.Fatalf("schema changed:\n got %s\nwant %s", info.Schema, matrixSchema)
	}
	for i, f := range info.Schema.Fields() {
		if !f.Metadata.Equal(matrixSchema.Field(i).Metadata) {
			t.Errorf("field %s: metadata %v, want %v", f.Name, f.Metadata, matrixSchema.Field(i).Metadata)
		}
	}
	rr, err := src.ReadOrdered(context.Background(), connectors.TableRef{}, []string{"id"}, connectors.ReadOptions{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, rr)
	if len(got) != 1 || !array.RecordEqual(got[0], rec) {
		t.Fatalf("read back differs:\n got %v\nwant %v", got, rec)
	}
	for _, r := range got {
		r.Release()
	}
	// The manifest's checksums are the engine's: a diff of the snapshot
	// with the rows it was taken from reports the same figures.
	d, err := reconcile.NewDigester(matrixSchema, []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Add(rec); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); Hex64(st.Checksum) != m.Checksum || len(st.Columns) != len(m.Columns) {
		t.Fatalf("checksum %x, manifest %x", st.Checksum, m.Checksum)
	}
	if _, err := Verify(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
}

// A projection returns the asked columns in the asked order.
func TestProjection(t *testing.T) {
	rec := matrixRecord(t, memory.DefaultAllocator)
	defer rec.Release()
	store := t.TempDir()
	_, dir := write(t, store, "p", []arrow.Record{rec}, WriteOptions{})
	src, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := src.Read(context.Background(), connectors.TableRef{}, connectors.ReadOptions{Columns: []string{"txt", "id", "ints"}})
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, rr)
	if len(got) != 1 || got[0].NumCols() != 3 || got[0].ColumnName(0) != "txt" || got[0].ColumnName(2) != "ints" {
		t.Fatalf("projection: %v", got)
	}
	if !array.Equal(got[0].Column(1), rec.Column(0)) || !array.Equal(got[0].Column(0), rec.Column(9)) {
		t.Fatal("projected values differ")
	}
	got[0].Release()
	if _, err := src.Read(context.Background(), connectors.TableRef{}, connectors.ReadOptions{Columns: []string{"nope"}}); !errors.Is(err, connectors.ErrColumnNotFound) {
		t.Fatalf("unknown column: %v", err)
	}
}

// intRecords builds n rows (id, v) in batches, ids ascending unless
// shuffled.
func intRecords(t *testing.T, n, batch int, id func(i int) int64) []arrow.Record {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "v", Type: arrow.BinaryTypes.String}}, nil)
	var out []arrow.Record
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(id(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("value %d", i))
		if (i+1)%batch == 0 || i == n-1 {
			out = append(out, b.NewRecord())
		}
	}
	t.Cleanup(func() {
		for _, r := range out {
			r.Release()
		}
	})
	return out
}

func TestPartsAndOrder(t *testing.T) {
	store := t.TempDir()
	recs := intRecords(t, 10_000, 777, func(i int) int64 { return int64(i) })
	m, dir := write(t, store, "big", recs, WriteOptions{PartRows: 3000, RowGroupRows: 1000})
	if len(m.Parts) != 4 || m.Parts[3].Rows != 1000 || !m.Sorted {
		t.Fatalf("parts %+v sorted %v", m.Parts, m.Sorted)
	}
	src, _ := OpenDir(dir)
	rr, err := src.ReadOrdered(context.Background(), connectors.TableRef{}, []string{"id"}, connectors.ReadOptions{BatchRows: 512})
	if err != nil {
		t.Fatal(err)
	}
	var next int64
	for _, rec := range readAll(t, rr) {
		ids := rec.Column(0).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			if ids.Value(i) != next {
				t.Fatalf("row %d has id %d", next, ids.Value(i))
			}
			next++
		}
		rec.Release()
	}
	if next != 10_000 {
		t.Fatalf("read %d rows", next)
	}

	// Unordered rows are kept as they came and not offered in key order.
	shuffled := intRecords(t, 100, 10, func(i int) int64 { return int64((i * 37) % 100) })
	m2, dir2 := write(t, store, "shuffled", shuffled, WriteOptions{})
	if m2.Sorted {
		t.Fatal("shuffled rows recorded as sorted")
	}
	src2, _ := OpenDir(dir2)
	if _, err := src2.ReadOrdered(context.Background(), connectors.TableRef{}, []string{"id"}, connectors.ReadOptions{}); !errors.Is(err, connectors.ErrUnsupported) {
		t.Fatalf("ordered read of unordered snapshot: %v", err)
	}
	if _, err := src.ReadOrdered(context.Background(), connectors.TableRef{}, []string{"v"}, connectors.ReadOptions{}); !errors.Is(err, connectors.ErrUnsupported) {
		t.Fatalf("ordered read by another key: %v", err)
	}
}

func TestRefusesSQLAndOtherTables(t *testing.T) {
	rec := matrixRecord(t, memory.DefaultAllocator)
	defer rec.Release()
	_, dir := write(t, t.TempDir(), "r", []arrow.Record{rec}, WriteOptions{Table: "public.orders", Where: "id > 0"})
	src, _ := OpenDir(dir)
	ctx := context.Background()
	for _, ref := range []connectors.TableRef{{Name: "orders"}, {Name: `"public"."orders"`}, {Where: "id > 0"}, {}} {
		if _, err := src.Describe(ctx, ref); err != nil {
			t.Errorf("%+v: %v", ref, err)
		}
	}
	for _, ref := range []connectors.TableRef{{Name: "public.customers"}, {Where: "id > 1"}, {Query: "select 1"}} {
		if _, err := src.Describe(ctx, ref); !errors.Is(err, connectors.ErrUnsupported) {
			t.Errorf("%+v: %v", ref, err)
		}
	}
}

func TestNullKeysAreCounted(t *testing.T) {
	recs := intRecords(t, 10, 10, func(i int) int64 { return int64(i) })
	b := array.NewRecordBuilder(memory.DefaultAllocator, recs[0].Schema())
	b.Field(0).(*array.Int64Builder).AppendNull()
	b.Field(1).(*array.StringBuilder).Append("no key")
	withNull := b.NewRecord()
	b.Release()
	defer withNull.Release()
	m, dir := write(t, t.TempDir(), "n", []arrow.Record{recs[0], withNull}, WriteOptions{})
	if m.Rows != 11 || m.NullKeys != 1 {
		t.Fatalf("rows %d null keys %d", m.Rows, m.NullKeys)
	}
	if _, err := Verify(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	recs := intRecords(t, 5000, 1000, func(i int) int64 { return int64(i) })
	fresh := func(t *testing.T) (string, *Manifest) {
		m, dir := write(t, t.TempDir(), "s", recs, WriteOptions{PartRows: 2000, RowGroupRows: 500})
		return dir, m
	}
	readErr := func(dir string) error {
		src, err := OpenDir(dir)
		if err != nil {
			return err
		}
		rr, err := src.Read(ctx, connectors.TableRef{}, connectors.ReadOptions{})
		if err != nil {
			return err
		}
		defer rr.Release()
		for rr.Next() {
		}
		return rr.Err()
	}
	cases := []struct {
		name  string
		spoil func(t *testing.T, dir string, m *Manifest)
		want  string
	}{
		{"truncated part", func(t *testing.T, dir string, m *Manifest) {
			p := filepath.Join(dir, m.Parts[1].File)
			if err := os.Truncate(p, m.Parts[1].Bytes/2); err != nil {
				t.Fatal(err)
			}
		}, "truncated"},
		{"changed byte", func(t *testing.T, dir string, m *Manifest) {
			p := filepath.Join(dir, m.Parts[2].File)
			raw, _ := os.ReadFile(p)
			raw[len(raw)/2] ^= 0x40
			os.WriteFile(p, raw, 0o644)
		}, "SHA-256"},
		{"missing part", func(t *testing.T, dir string, m *Manifest) {
			os.Remove(filepath.Join(dir, m.Parts[0].File))
		}, "missing"},
		{"manifest checksum edited", func(t *testing.T, dir string, m *Manifest) {
			m.Checksum++
			rewrite(t, dir, m)
		}, "table checksum"},
		{"manifest column checksum edited", func(t *testing.T, dir string, m *Manifest) {
			m.Columns[1].Checksum ^= 1
			rewrite(t, dir, m)
		}, "column v"},
		{"manifest row count edited", func(t *testing.T, dir string, m *Manifest) {
			m.Rows++
			m.Parts[0].Rows++
			rewrite(t, dir, m)
		}, "rows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, m := fresh(t)
			c.spoil(t, dir, m)
			_, err := Verify(ctx, dir)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("verify: %v, want ErrCorrupt mentioning %q", err, c.want)
			}
			if !strings.HasPrefix(c.name, "manifest checksum") && !strings.HasPrefix(c.name, "manifest column") {
				if err := readErr(dir); !errors.Is(err, connectors.ErrBadInput) {
					t.Fatalf("read: %v, want ErrBadInput", err)
				}
			}
		})
	}
	t.Run("newer format", func(t *testing.T) {
		dir, _ := fresh(t)
		p := filepath.Join(dir, ManifestFile)
		raw, _ := os.ReadFile(p)
		var doc map[string]any
		json.Unmarshal(raw, &doc)
		doc["format_version"] = FormatVersion + 1
		doc["something_new"] = true
		raw, _ = json.Marshal(doc)
		os.WriteFile(p, raw, 0o644)
		_, err := ReadManifest(dir)
		if !errors.Is(err, connectors.ErrUnsupported) || !strings.Contains(err.Error(), "newer reconcile") {
			t.Fatalf("newer format: %v", err)
		}
	})
	t.Run("unknown field", func(t *testing.T) {
		dir, _ := fresh(t)
		p := filepath.Join(dir, ManifestFile)
		raw, _ := os.ReadFile(p)
		raw = []byte(strings.Replace(string(raw), "{", `{"surprise": 1,`, 1))
		os.WriteFile(p, raw, 0o644)
		if _, err := ReadManifest(dir); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("unknown field: %v", err)
		}
	})
	t.Run("extra file", func(t *testing.T) {
		dir, _ := fresh(t)
		os.WriteFile(filepath.Join(dir, "part-99999.parquet"), []byte("x"), 0o644)
		if _, err := Verify(ctx, dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not part of the snapshot") {
			t.Fatalf("extra file: %v", err)
		}
	})
}

func rewrite(t *testing.T, dir string, m *Manifest) {
	t.Helper()
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A write that fails leaves nothing; a crashed one leaves a folder with
// no manifest, which readers skip and prune removes.
func TestFailedAndIncompleteWrites(t *testing.T) {
	store := t.TempDir()
	recs := intRecords(t, 100, 10, func(i int) int64 { return int64(i) })
	clock := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	write(t, store, "s", recs, WriteOptions{Now: now})

	// A reader that fails midway.
	failing := &failReader{RecordReader: mustReader(t, recs), after: 3}
	clock = clock.Add(24 * time.Hour)
	_, _, err := Write(context.Background(), store, failing, WriteOptions{Name: "s", Key: []string{"id"}, Now: now})
	if err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("failed write: %v", err)
	}
	series, _ := ReadSeries(filepath.Join(store, "s"))
	if len(series.Entries) != 1 {
		t.Fatalf("a failed write left %d folders", len(series.Entries))
	}

	// A crash: a folder with a part but no manifest.
	crashed := filepath.Join(store, "s", clock.Add(time.Hour).Format(idLayout))
	os.Mkdir(crashed, 0o755)
	os.WriteFile(filepath.Join(crashed, "part-00000.parquet"), []byte("PAR1"), 0o644)
	dir, m, err := Resolve("snap:" + filepath.Join(store, "s") + "@latest")
	if err != nil || m.TakenAt != time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC) || dir == crashed {
		t.Fatalf("latest: %s %v", dir, err)
	}
	if _, _, err := Resolve(crashed); !errors.Is(err, connectors.ErrBadInput) || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("incomplete: %v", err)
	}
	// Within the grace period the folder may be a write in progress.
	pruned, err := Prune(filepath.Join(store, "s"), PruneOptions{Keep: 5, Now: time.Now()})
	if err != nil || len(pruned) != 0 {
		t.Fatalf("prune within grace: %v %v", pruned, err)
	}
	pruned, err = Prune(filepath.Join(store, "s"), PruneOptions{Keep: 5, Now: time.Now().Add(2 * time.Hour)})
	if err != nil || len(pruned) != 1 || pruned[0].Dir != crashed {
		t.Fatalf("prune: %v %v", pruned, err)
	}
	if _, err := os.Stat(crashed); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("incomplete folder not removed")
	}
}

type failReader struct {
	array.RecordReader
	after int
	err   error
}

func (f *failReader) Next() bool {
	if f.after == 0 {
		f.err = errors.New("connection lost")
		return false
	}
	f.after--
	return f.RecordReader.Next()
}

func (f *failReader) Err() error { return f.err }

func mustReader(t *testing.T, recs []arrow.Record) array.RecordReader {
	rr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rr.Release)
	return rr
}

func TestSelectorsListAndPrune(t *testing.T) {
	store := t.TempDir()
	recs := intRecords(t, 10, 10, func(i int) int64 { return int64(i) })
	base := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	var ids []string
	for d := range 5 {
		at := base.Add(time.Duration(d) * 24 * time.Hour)
		m, _ := write(t, store, "orders", recs, WriteOptions{Now: func() time.Time { return at }})
		ids = append(ids, m.ID)
	}
	series := "snap:" + filepath.Join(store, "orders")
	for sel, want := range map[string]string{"@latest": ids[4], "": ids[4], "@-0": ids[4], "@-1": ids[3], "@-4": ids[0], "@2026-11-02": ids[1], "@2026-11-03T02:00": ids[2]} {
		_, m, err := Resolve(series + sel)
		if err != nil || m.ID != want {
			t.Errorf("%s: got %v %v, want %s", sel, m, err, want)
		}
	}
	for _, sel := range []string{"@-5", "@2025", "@-x"} {
		if _, _, err := Resolve(series + sel); err == nil {
			t.Errorf("%s resolved", sel)
		}
	}
	if _, _, err := Resolve(series + "@2026-11"); err == nil || !strings.Contains(err.Error(), "5 snapshots match") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, _, err := Resolve("snap:" + filepath.Join(store, "nope") + "@latest"); !errors.Is(err, connectors.ErrTableNotFound) {
		t.Errorf("missing series: %v", err)
	}
	list, err := List(store)
	if err != nil || len(list) != 1 || len(list[0].Entries) != 5 {
		t.Fatalf("list: %v %v", list, err)
	}
	now := base.Add(4*24*time.Hour + time.Hour)
	pruned, err := Prune(filepath.Join(store, "orders"), PruneOptions{Keep: 2, KeepWithin: 50 * time.Hour, Now: now, DryRun: true})
	if err != nil || len(pruned) != 2 { // keeps days 5, 4 (newest two) and 3 (within 50h)
		t.Fatalf("dry run: %v %v", pruned, err)
	}
	if _, err := Prune(filepath.Join(store, "orders"), PruneOptions{Keep: 2, Now: now}); err != nil {
		t.Fatal(err)
	}
	s, _ := ReadSeries(filepath.Join(store, "orders"))
	if len(s.Entries) != 2 || s.Entries[1].ID != ids[4] {
		t.Fatalf("after prune: %v", s.Entries)
	}
	if _, err := Prune(filepath.Join(store, "orders"), PruneOptions{Keep: 0}); err == nil {
		t.Fatal("keep 0 accepted")
	}
}

// The parts open in DuckDB without conversion, with the column types a
// user expects. It needs node and @duckdb/node-api (npm ci --prefix
// scripts), which .ci/run installs and announces with RECONCILE_TEST_DUCKDB.
func TestPartsOpenInDuckDB(t *testing.T) {
	if os.Getenv("RECONCILE_TEST_DUCKDB") == "" {
		t.Skip("set RECONCILE_TEST_DUCKDB=1 after 'npm ci --prefix scripts' to read a snapshot with DuckDB")
	}
	rec := matrixRecord(t, memory.DefaultAllocator)
	defer rec.Release()
	recs := intRecords(t, 5000, 1000, func(i int) int64 { return int64(i + 1) })
	_, dir := write(t, t.TempDir(), "duck", recs, WriteOptions{PartRows: 2000, RowGroupRows: 500})
	_, mdir := write(t, t.TempDir(), "matrix", []arrow.Record{rec}, WriteOptions{})
	run := func(glob string) map[string]any {
		out, err := exec.Command("node", filepath.Join("testdata", "duckdb-read.mjs"), glob).CombinedOutput()
		if err != nil {
			t.Fatalf("duckdb: %v\n%s", err, out)
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("duckdb output %q: %v", out, err)
		}
		return got
	}
	got := run(filepath.Join(dir, "part-*.parquet"))
	if got["rows"] != float64(5000) || got["id_sum"] != float64(5000*5001/2) {
		t.Fatalf("duckdb read %v", got)
	}
	got = run(filepath.Join(mdir, "part-*.parquet"))
	types := got["types"].(map[string]any)
	want := map[string]string{"id": "BIGINT", "u64": "UBIGINT", "dec": "DECIMAL(20,4)", "txt": "VARCHAR", "bin": "BLOB", "flag": "BOOLEAN",
		"day": "DATE", "ts": "TIMESTAMP WITH TIME ZONE", "local": "TIMESTAMP",
		// arrow-go marks every Parquet TIME as adjusted to UTC, which
		// DuckDB reads as TIMETZ (offset +00): the clock values are kept.
		"tod": "TIME WITH TIME ZONE", "ints": "INTEGER[]", "f32": "FLOAT"}
	for col, typ := range want {
		if types[col] != typ {
			t.Errorf("duckdb reads %s as %v, want %s", col, types[col], typ)
		}
	}
	if got["rows"] != float64(3) {
		t.Errorf("duckdb read %v rows of the matrix", got["rows"])
	}
}
