package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/reconhq/reconcile/connectors"
)

// TestFastParquetMatchesPqarrow reads one file of every type the fast path
// takes (and a few it leaves to pqarrow), with NULLs, several row groups
// and many small pages, both ways, and requires the same values.
func TestFastParquetMatchesPqarrow(t *testing.T) {
	fields := []arrow.Field{
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "d9", Type: &arrow.Decimal128Type{Precision: 9, Scale: 2}, Nullable: true},
		{Name: "d18", Type: &arrow.Decimal128Type{Precision: 18, Scale: 4}, Nullable: true},
		{Name: "d38", Type: &arrow.Decimal128Type{Precision: 38, Scale: 10}, Nullable: true},
		{Name: "ts_ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "ts_us", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "req", Type: arrow.PrimitiveTypes.Int64, Nullable: false},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true}, // left to pqarrow
	}
	schema := arrow.NewSchema(fields, nil)
	r := rand.New(rand.NewPCG(11, 12))
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	const rows = 3000
	words := []string{"", "a", "Zoë", "quote\"d", "comma,", strings.Repeat("long", 50)}
	for i := 0; i < rows; i++ {
		for c, f := range fields {
			fb := b.Field(c)
			if f.Nullable && r.IntN(8) == 0 {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int64Builder:
				fb.Append(r.Int64() - r.Int64())
			case *array.Int32Builder:
				fb.Append(int32(r.Uint32()))
			case *array.Int16Builder:
				fb.Append(int16(r.Uint32()))
			case *array.Float32Builder:
				fb.Append(r.Float32()*1e6 - 5e5)
			case *array.Float64Builder:
				fb.Append(r.NormFloat64() * 1e9)
			case *array.BooleanBuilder:
				fb.Append(r.IntN(2) == 0)
			case *array.StringBuilder:
				fb.Append(words[r.IntN(len(words))] + fmt.Sprint(r.IntN(50)))
			case *array.BinaryBuilder:
				fb.Append([]byte{byte(r.Uint32()), 0, byte(i)})
			case *array.Decimal128Builder:
				p := f.Type.(*arrow.Decimal128Type).Precision
				v := r.Int64N(1_000_000_000) - 500_000_000
				if p >= 18 {
					v = v*1_000_000_000 + r.Int64N(1_000_000_000)
				}
				n := decimal128.FromI64(v)
				if p == 38 {
					n = n.Mul(decimal128.FromI64(1_000_000_007))
				}
				fb.Append(n)
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(r.Int64N(4_000_000_000_000) - 1_000_000_000_000))
			case *array.Date32Builder:
				fb.Append(arrow.Date32(r.IntN(40000) - 10000))
			default:
				t.Fatalf("builder %T", fb)
			}
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.Record{rec})
	defer tbl.Release()
	path := filepath.Join(t.TempDir(), "types.parquet")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithDataPageSize(512), parquet.WithDictionaryDefault(true))
	if err := pqarrow.WriteTable(tbl, out, 700, props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	out.Close()

	read := func(fast bool, cols []string) []string {
		src, err := New(path, connectors.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		src.noFastParquet = !fast
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		rr, err := src.Read(context.Background(), connectors.TableRef{}, connectors.ReadOptions{Columns: cols, Allocator: mem, BatchRows: 256})
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		var lines []string
		for rr.Next() {
			rec := rr.Record()
			for i := 0; i < int(rec.NumRows()); i++ {
				var cells []string
				for c := 0; c < int(rec.NumCols()); c++ {
					col := rec.Column(c)
					if col.IsNull(i) {
						cells = append(cells, "NULL")
					} else {
						cells = append(cells, col.ValueStr(i))
					}
				}
				lines = append(lines, strings.Join(cells, "|"))
			}
			if !rec.Schema().Equal(rr.Schema()) {
				t.Errorf("fast=%v: record schema differs from the reader's", fast)
			}
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		return lines
	}
	// Without i16 every column takes the fast path; with it, pqarrow reads all.
	var fastCols []string
	for _, f := range fields[:len(fields)-1] {
		fastCols = append(fastCols, f.Name)
	}
	src, _ := New(path, connectors.Options{})
	info, err := src.Describe(context.Background(), connectors.TableRef{})
	if err != nil {
		t.Fatal(err)
	}
	pf, fr, err := src.openParquet(memory.DefaultAllocator, 256)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, len(fastCols))
	for i := range idx {
		idx[i] = i
	}
	if _, ok := planFast(pf, fr, idx, info.Schema); !ok {
		t.Error("the fast path refused columns it should take")
	}
	if _, ok := planFast(pf, fr, []int{len(fields) - 1}, info.Schema); ok {
		t.Error("the fast path took an int16 column")
	}
	pf.Close()
	src.Close()

	for _, cols := range [][]string{fastCols, {"s", "d38", "req", "ts_ns"}} {
		fast, slow := read(true, cols), read(false, cols)
		if len(fast) != rows || len(slow) != rows {
			t.Fatalf("rows: fast %d, pqarrow %d, want %d", len(fast), len(slow), rows)
		}
		for i := range fast {
			if fast[i] != slow[i] {
				t.Fatalf("row %d differs:\nfast    %s\npqarrow %s", i, fast[i], slow[i])
			}
		}
	}
}
