package reconcile

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	memsrc "github.com/reconhq/reconcile/connectors/memory"
)

var benchFields = []arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String},
	{Name: "email", Type: arrow.BinaryTypes.String},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 18, Scale: 2}},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int64},
	{Name: "created_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "signup_date", Type: arrow.FixedWidthTypes.Date32},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean},
}

// benchTable builds n rows in batches of 64Ki; every 1000th row (from
// offset drift) gets a different email, so 0.1 % of rows differ.
func benchTable(mem memory.Allocator, n int, drift bool) memsrc.Table {
	schema := arrow.NewSchema(benchFields, nil)
	t := memsrc.Table{Name: "bench", Schema: schema}
	r := rand.New(rand.NewPCG(7, 7))
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	const batch = 64 << 10
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		for i := start; i < end; i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(i + 1))
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("Customer %d", i))
			email := fmt.Sprintf("user%d@example.com", i)
			if drift && i%1000 == 999 {
				email = "changed@example.com"
			}
			b.Field(2).(*array.StringBuilder).Append(email)
			b.Field(3).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(r.IntN(10_000_000))))
			b.Field(4).(*array.Int64Builder).Append(int64(r.IntN(100)))
			b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(base + int64(i)*1_000_000))
			b.Field(6).(*array.Date32Builder).Append(arrow.Date32(19000 + i%2000))
			b.Field(7).(*array.BooleanBuilder).Append(i%3 == 0)
		}
		t.Records = append(t.Records, b.NewRecord())
	}
	return t
}

// BenchmarkDiffHash measures hash + classify over in-memory Arrow batches:
// 1M rows × 8 columns per side, 0.1 % of rows changed. rows/s counts the
// rows of both sides. The memory limit (1 GiB) keeps everything in memory;
// BenchmarkDiffHashSpill is the same under the default 512 MiB, where the
// batches the row log keeps pass half the limit and part of them spill.
func BenchmarkDiffHash(b *testing.B) { benchDiff(b, false, 1_000_000, 1<<30) }

// BenchmarkDiffHashSpill is BenchmarkDiffHash under the default memory limit.
func BenchmarkDiffHashSpill(b *testing.B) { benchDiff(b, false, 1_000_000, 0) }

// BenchmarkDiffMerge is the same data through the ordered merge.
func BenchmarkDiffMerge(b *testing.B) { benchDiff(b, true, 1_000_000, 0) }

func benchDiff(b *testing.B, ordered bool, n int, memoryLimit int64) {
	mem := memory.NewGoAllocator()
	st, tt := benchTable(mem, n, false), benchTable(mem, n, true)
	var src, tgt connectors.Source
	if ordered {
		s, _ := memsrc.NewOrdered(st, []string{"id"})
		t, _ := memsrc.NewOrdered(tt, []string{"id"})
		src, tgt = s, t
	} else {
		s, _ := memsrc.New(st)
		t, _ := memsrc.New(tt)
		src, tgt = s, t
	}
	defer src.Close()
	defer tgt.Close()
	for _, r := range append(st.Records, tt.Records...) {
		r.Release()
	}
	var spilled int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		algo := Hash
		if ordered {
			algo = Merge
		}
		res, err := Diff(context.Background(), Input{Source: src}, Input{Source: tgt}, Options{Key: []string{"id"}, Limit: 100, Algorithm: algo, MemoryLimit: memoryLimit}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if res.Summary.Changed != int64(n/1000) {
			b.Fatalf("changed = %d, want %d", res.Summary.Changed, n/1000)
		}
		spilled = res.Plan.SpilledBytes
	}
	b.ReportMetric(float64(2*n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(spilled)/(1<<20), "spilled-MiB")
}

// BenchmarkDigestColumn measures the cell digests of each benchmark column
// type, in ns per cell.
func BenchmarkDigestColumn(b *testing.B) {
	t := benchTable(memory.NewGoAllocator(), 1<<16, false)
	rec := t.Records[0]
	for c, f := range benchFields {
		b.Run(f.Name, func(b *testing.B) {
			own := classOf(f)
			e := newColumnEncoder(f, own, own)
			dst := make([]uint64, rec.NumRows())
			for i := 0; i < b.N; i++ {
				if !e.digestFast(rec.Column(c), 0, dst) {
					b.Fatal("slow")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rec.NumRows()), "ns/cell")
		})
	}
}
