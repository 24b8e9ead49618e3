package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/arrowpool"
)

// wideParquet writes n rows of every kind of column a pooled reader
// builds (fixed-width, strings short and over 4 KiB, a dictionary, a
// list, nulls everywhere but the key) in row groups of rowGroup rows.
func wideParquet(t *testing.T, n int, rowGroup int64) string {
	t.Helper()
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "status", Type: dictType, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 18, Scale: 2}, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "blob", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	mem := memory.NewGoAllocator()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	r := rand.New(rand.NewPCG(1, 2))
	null := func() bool { return r.IntN(7) == 0 }
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if sb := b.Field(1).(*array.StringBuilder); null() {
			sb.AppendNull()
		} else if r.IntN(50) == 0 {
			sb.Append(strings.Repeat(fmt.Sprint(i%10), 5000+r.IntN(3000)))
		} else {
			sb.Append(fmt.Sprintf("value %d", r.IntN(1_000_000)))
		}
		if db := b.Field(2).(*array.BinaryDictionaryBuilder); null() {
			db.AppendNull()
		} else if err := db.AppendString(fmt.Sprintf("state %d", r.IntN(6))); err != nil {
			t.Fatal(err)
		}
		if db := b.Field(3).(*array.Decimal128Builder); null() {
			db.AppendNull()
		} else {
			db.Append(decimal128.FromI64(r.Int64N(1e12) - 5e11))
		}
		if tb := b.Field(4).(*array.TimestampBuilder); null() {
			tb.AppendNull()
		} else {
			tb.Append(arrow.Timestamp(r.Int64N(1e15)))
		}
		if fb := b.Field(5).(*array.Float64Builder); null() {
			fb.AppendNull()
		} else {
			fb.Append(r.NormFloat64())
		}
		if bb := b.Field(6).(*array.BooleanBuilder); null() {
			bb.AppendNull()
		} else {
			bb.Append(r.IntN(2) == 0)
		}
		if lb := b.Field(7).(*array.ListBuilder); null() {
			lb.AppendNull()
		} else {
			lb.Append(true)
			for range r.IntN(4) {
				lb.ValueBuilder().(*array.Int32Builder).Append(r.Int32())
			}
		}
		if bb := b.Field(8).(*array.BinaryBuilder); null() {
			bb.AppendNull()
		} else {
			blob := make([]byte, r.IntN(40))
			for j := range blob {
				blob[j] = byte(r.IntN(256))
			}
			bb.Append(blob)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	return writeParquetRecord(t, "wide.parquet", rec, rowGroup, parquet.NewWriterProperties(parquet.WithDictionaryDefault(true)))
}

// The record batches a Parquet reader builds in pooled buffers equal
// those it builds in buffers of Go's allocator, whether the consumer
// releases each batch at once (the pool hands its buffers out again for
// the next batches) or holds them all: no buffer is reused while a batch
// still uses it. The pool is poisoned, so a buffer freed too early holds
// garbage, whether reused or not.
func TestParquetPooledBatchesEqualPlainOnes(t *testing.T) {
	path := wideParquet(t, 30_000, 7_000)
	src, err := New(path, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	pools := 0
	restore := newOutputPool
	newOutputPool = func() memory.Allocator { pools++; return arrowpool.Poisoned(outputPoolLimit) }
	defer func() { newOutputPool = restore }()
	read := func(pooled bool) array.RecordReader {
		t.Helper()
		opts := connectors.ReadOptions{BatchRows: 1000, Allocator: memory.DefaultAllocator}
		if !pooled {
			opts.Allocator = memory.NewGoAllocator() // not the default: no pool
		}
		r, err := src.Read(context.Background(), connectors.TableRef{}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	compare := func(t *testing.T, got, want arrow.Record, batch int) {
		t.Helper()
		if !array.RecordEqual(got, want) {
			for c := range int(want.NumCols()) {
				if !array.Equal(got.Column(c), want.Column(c)) {
					t.Fatalf("batch %d, column %s: the pooled read differs", batch, want.ColumnName(c))
				}
			}
			t.Fatalf("batch %d: the pooled read differs", batch)
		}
	}
	t.Run("released at once", func(t *testing.T) {
		pooled, plain := read(true), read(false)
		defer pooled.Release()
		defer plain.Release()
		batches := 0
		for plain.Next() {
			if !pooled.Next() {
				t.Fatalf("the pooled read ended after %d batches: %v", batches, pooled.Err())
			}
			compare(t, pooled.Record(), plain.Record(), batches)
			batches++
		}
		if pooled.Next() || pooled.Err() != nil || plain.Err() != nil || batches != 30 {
			t.Fatalf("%d batches; errors %v, %v", batches, pooled.Err(), plain.Err())
		}
	})
	t.Run("held", func(t *testing.T) {
		pooled := read(true)
		defer pooled.Release()
		var held []arrow.Record
		for pooled.Next() {
			rec := pooled.Record()
			rec.Retain()
			held = append(held, rec)
		}
		if err := pooled.Err(); err != nil {
			t.Fatal(err)
		}
		plain := read(false)
		defer plain.Release()
		for i := 0; plain.Next(); i++ {
			compare(t, held[i], plain.Record(), i)
			held[i].Release()
		}
	})
	if pools == 0 {
		t.Fatal("the reads did not use the pool")
	}
}

// A dictionary column is read whatever the batch size: arrow-go cannot
// build one batch of it from two row groups, so the reader cuts batches
// at row group ends for it (the default batch, 16Ki rows, spans the
// 7,000-row groups here).
func TestParquetDictionaryColumnAcrossRowGroups(t *testing.T) {
	path := wideParquet(t, 30_000, 7_000)
	src, err := New(path, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	aligned, err := readAll(t, src, connectors.ReadOptions{BatchRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{0, 3000} {
		tb, err := readAll(t, src, connectors.ReadOptions{BatchRows: batch})
		if err != nil {
			t.Fatalf("batches of %d rows: %v", batch, err)
		}
		if len(tb.rows) != 30_000 || !reflect.DeepEqual(tb.rows, aligned.rows) {
			t.Fatalf("batches of %d rows: %d rows, differing from a read in batches of 1,000", batch, len(tb.rows))
		}
	}
	// Without the dictionary column, batches span row groups.
	tb, err := readAll(t, src, connectors.ReadOptions{BatchRows: 3000, Columns: []string{"id", "s"}})
	if err != nil || len(tb.rows) != 30_000 || tb.batches != 10 {
		t.Fatalf("id and s in batches of 3,000: %d rows in %d batches, %v", len(tb.rows), tb.batches, err)
	}
}
