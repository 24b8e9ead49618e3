package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/reconhq/reconcile/connectors"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

const testJSON = `[
	{"id": 1, "name": "ann", "amount": "1.50", "at": "2024-01-02T03:04:05Z"},
	{"id": 2, "name": null, "amount": "-2.25", "at": null},
	{"id": 3, "name": "cy", "amount": null, "at": "1970-01-01T00:00:00Z"}
]`

var testRows = [][]string{
	{"1", "ann", "1.50", "2024-01-02T03:04:05Z"},
	{"2", "NULL", "-2.25", "NULL"},
	{"3", "cy", "NULL", "1970-01-01T00:00:00Z"},
}

func testRecord(t *testing.T, mem memory.Allocator) arrow.Record {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, testSchema, strings.NewReader(testJSON))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func writeParquet(t *testing.T, rowGroup int64) string {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := testRecord(t, mem)
	defer rec.Release()
	return writeParquetRecord(t, "t.parquet", rec, rowGroup, parquet.NewWriterProperties(parquet.WithAllocator(mem)))
}

// writeParquetRecord writes rec to a new Parquet file name in a temporary
// directory, in row groups of rowGroup rows, with its Arrow schema stored.
func writeParquetRecord(t *testing.T, name string, rec arrow.Record, rowGroup int64, props *parquet.WriterProperties) string {
	t.Helper()
	tbl := array.NewTableFromRecords(rec.Schema(), []arrow.Record{rec})
	defer tbl.Release()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pqarrow.WriteTable(tbl, f, rowGroup, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParquetRoundTrip(t *testing.T) {
	path := writeParquet(t, 2)
	src, err := New(path, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	info, err := src.Describe(context.Background(), connectors.TableRef{})
	if err != nil {
		t.Fatal(err)
	}
	if info.EstimatedRows != 3 || info.Name != "t.parquet" {
		t.Errorf("info %+v", info)
	}
	for i, f := range testSchema.Fields() {
		if got := info.Schema.Field(i); got.Name != f.Name || !arrow.TypeEqual(got.Type, f.Type) {
			t.Errorf("field %d: %v, want %v", i, got, f)
		}
	}
	tb, err := readAll(t, src, connectors.ReadOptions{BatchRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tb.rows, testRows) {
		t.Errorf("rows\n%s", rowsString(tb.rows))
	}
	if !tb.schema.Equal(info.Schema) {
		t.Errorf("read schema %v, described %v", tb.schema, info.Schema)
	}

	tb, err = readAll(t, src, connectors.ReadOptions{Columns: []string{"at", "id", "at"}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"2024-01-02T03:04:05Z", "1", "2024-01-02T03:04:05Z"},
		{"NULL", "2", "NULL"},
		{"1970-01-01T00:00:00Z", "3", "1970-01-01T00:00:00Z"},
	}
	if !reflect.DeepEqual(tb.rows, want) || !reflect.DeepEqual(fieldNames(tb.schema), []string{"at", "id", "at"}) {
		t.Errorf("projected rows\n%s%v", rowsString(tb.rows), tb.schema)
	}
	tb, err = readAll(t, src, connectors.ReadOptions{Columns: []string{}})
	if err != nil || len(tb.rows) != 3 || tb.schema.NumFields() != 0 {
		t.Errorf("no columns: %v %v", tb, err)
	}
	_, err = readAll(t, src, connectors.ReadOptions{Columns: []string{"nope"}})
	wantErr(t, err, connectors.ErrColumnNotFound, "columns: id, name, amount, at")
}

func TestParquetCancel(t *testing.T) {
	src, err := New(writeParquet(t, 1), connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rr, err := src.Read(ctx, connectors.TableRef{}, connectors.ReadOptions{Allocator: mem, BatchRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	cancel()
	if rr.Next() {
		t.Error("Next after cancel")
	}
	if !errors.Is(rr.Err(), context.Canceled) {
		t.Errorf("Err() = %v", rr.Err())
	}
}

func TestBadBinaryFiles(t *testing.T) {
	for _, name := range []string{"bad.parquet", "bad.arrow"} {
		src, err := New(writeFile(t, name, "this is not a binary file at all"), connectors.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Describe(context.Background(), connectors.TableRef{})
		wantErr(t, err, connectors.ErrBadInput, name)
	}
}

func writeIPC(t *testing.T, name string, stream bool, batches int) string {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := testRecord(t, mem)
	defer rec.Release()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type writer interface {
		Write(arrow.Record) error
		Close() error
	}
	var w writer
	if stream {
		w = ipc.NewWriter(f, ipc.WithSchema(testSchema), ipc.WithAllocator(mem))
	} else {
		fw, err := ipc.NewFileWriter(f, ipc.WithSchema(testSchema), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	}
	for i := 0; i < batches; i++ {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// An IPC file whose string offsets run backwards or past the value buffer
// is reported as damaged, naming the column, not read (Arrow's reader
// takes offsets as written; the digests' vector loads trust them).
func TestArrowIPCDamagedOffsets(t *testing.T) {
	// testRecord's name column: "ann", NULL, "cy", offsets 0 3 3 5.
	want := []byte{0, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0}
	for _, tc := range []struct {
		name    string
		stream  bool
		patch   []byte
		message []string
	}{
		{"backwards.arrow", false, []byte{0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0},
			[]string{"column name", "column name, batch 1: row 2 ends at byte 1, outside 3..5", "the file is damaged"}},
		{"negative.arrows", true, []byte{0xf0, 0xff, 0xff, 0xff, 3, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0},
			[]string{"column name", "column name, batch 1: row 1 starts at byte -16 of 5", "the file is damaged"}},
		// Arrow itself checks the last offset against the buffer.
		{"past.arrow", false, []byte{0, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0x50, 0, 0, 0},
			[]string{"offsets out of bounds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeIPC(t, tc.name, tc.stream, 1)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			at := strings.Index(string(raw), string(want))
			if at < 0 {
				t.Fatal("the name column's offsets are not in the file")
			}
			copy(raw[at:], tc.patch)
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := New(path, connectors.Options{Format: "arrow"})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			_, err = src.Describe(context.Background(), connectors.TableRef{})
			wantErr(t, err, connectors.ErrBadInput, tc.message...)
		})
	}
}

// Offsets are checked inside dictionaries and lists too.
func TestArrowIPCDamagedNestedOffsets(t *testing.T) {
	mem := memory.NewGoAllocator()
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "plan", Type: dictType},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	db := b.Field(0).(*array.BinaryDictionaryBuilder)
	for _, v := range []string{"abcdefghij", "klmnopqrstu", "abcdefghij"} {
		if err := db.AppendString(v); err != nil {
			t.Fatal(err)
		}
	}
	lb := b.Field(1).(*array.ListBuilder)
	vb := lb.ValueBuilder().(*array.StringBuilder)
	lb.Append(true)
	vb.Append("xyz")
	vb.Append("uvwxy")
	lb.Append(true)
	vb.Append("q")
	lb.Append(false)
	rec := b.NewRecord()
	defer rec.Release()
	offsets := func(v ...uint32) string {
		var out []byte
		for _, x := range v {
			out = append(out, byte(x), byte(x>>8), byte(x>>16), byte(x>>24))
		}
		return string(out)
	}
	for _, tc := range []struct {
		name, from, to, message string
	}{
		{"dictionary", offsets(0, 10, 21), offsets(0, 30, 21), "column plan, batch 1: dictionary: row 1 ends at byte 30, outside 0..21"},
		{"list", offsets(0, 3, 8, 9), offsets(0, 8, 3, 9), "column tags, batch 1: row 2 ends at byte 3, outside 8..9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf strings.Builder
			w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			raw := buf.String()
			if strings.Count(raw, tc.from) != 1 {
				t.Fatalf("the offsets %x are in the stream %d times", tc.from, strings.Count(raw, tc.from))
			}
			path := writeFile(t, tc.name+".arrows", strings.Replace(raw, tc.from, tc.to, 1))
			src, err := New(path, connectors.Options{Format: "arrow"})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			_, err = src.Describe(context.Background(), connectors.TableRef{})
			wantErr(t, err, connectors.ErrBadInput, tc.message, "the file is damaged")
		})
	}
}

func TestArrowIPCRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream bool
	}{{"t.arrow", false}, {"t.feather", false}, {"s.arrow", true}, {"s.ipc", true}} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := New(writeIPC(t, tc.name, tc.stream, 2), connectors.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			info, err := src.Describe(context.Background(), connectors.TableRef{})
			if err != nil {
				t.Fatal(err)
			}
			if info.EstimatedRows != 6 || !info.Schema.Equal(testSchema) {
				t.Errorf("info %+v", info)
			}
			tb, err := readAll(t, src, connectors.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want := append(append([][]string{}, testRows...), testRows...); !reflect.DeepEqual(tb.rows, want) || tb.batches != 2 {
				t.Errorf("rows (%d batches)\n%s", tb.batches, rowsString(tb.rows))
			}
			tb, err = readAll(t, src, connectors.ReadOptions{Columns: []string{"name", "id"}, BatchRows: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(tb.rows) != 6 || !reflect.DeepEqual(tb.rows[1], []string{"NULL", "2"}) || !reflect.DeepEqual(tb.rows[5], []string{"cy", "3"}) || tb.batches != 4 {
				t.Errorf("projected rows (%d batches)\n%s", tb.batches, rowsString(tb.rows))
			}
		})
	}
}

func TestArrowIPCFormatOverride(t *testing.T) {
	path := writeIPC(t, "data.bin", false, 1)
	src, err := New(path, connectors.Options{Format: "arrow"})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := readAll(t, src, connectors.ReadOptions{})
	if err != nil || len(tb.rows) != 3 {
		t.Errorf("%v %v", tb, err)
	}
	src, err = New(writeParquet(t, 10), connectors.Options{Format: "parquet"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, src, connectors.ReadOptions{}); err != nil {
		t.Error(err)
	}
}

// A nested column is read by its own leaves, not by column 0's: arrow-go
// gives a list field a ColIndex of 0 although it is not a leaf.
func TestParquetNestedColumnProjection(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(`[{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": null}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.Record{rec})
	defer tbl.Release()
	path := filepath.Join(t.TempDir(), "n.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pqarrow.WriteTable(tbl, f, 10, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
		t.Fatal(err)
	}
	f.Close()
	src, err := New(path, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tb, err := readAll(t, src, connectors.ReadOptions{Columns: []string{"tags"}})
	if err != nil {
		t.Fatal(err)
	}
	if tb.schema.NumFields() != 1 || !arrow.TypeEqual(tb.schema.Field(0).Type, schema.Field(1).Type) || len(tb.rows) != 2 || tb.rows[1][0] != "NULL" {
		t.Fatalf("projected nested column: %v %v", tb.schema, tb.rows)
	}
}

// Parquet files are read in batches of ParquetBatchRows by default (the
// text formats in DefaultBatchRows), and an explicit BatchRows wins.
func TestParquetDefaultBatchRows(t *testing.T) {
	const n = 2*ParquetBatchRows + 100
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	for i := range n {
		b.Append(int64(i))
	}
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecord(schema, []arrow.Array{col}, n)
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.Record{rec})
	defer tbl.Release()
	path := filepath.Join(t.TempDir(), "ids.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// WriteTable closes the file.
	if err := pqarrow.WriteTable(tbl, f, n, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	src, err := New(path, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, c := range []struct{ batch, want int }{{0, 3}, {n, 1}, {1000, (n + 999) / 1000}} {
		tb, err := readAll(t, src, connectors.ReadOptions{BatchRows: c.batch})
		if err != nil {
			t.Fatal(err)
		}
		if len(tb.rows) != n || tb.batches != c.want {
			t.Errorf("BatchRows %d: %d rows in %d batches, want %d rows in %d", c.batch, len(tb.rows), tb.batches, n, c.want)
		}
		if tb.rows[n-1][0] != strconv.Itoa(n-1) {
			t.Errorf("BatchRows %d: last row %v", c.batch, tb.rows[n-1])
		}
	}
}
