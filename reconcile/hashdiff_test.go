package reconcile

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func benchEncoders() []columnEncoder {
	encs := make([]columnEncoder, len(benchFields))
	for i, f := range benchFields {
		own := classOf(f)
		encs[i] = newColumnEncoder(f, own, own)
	}
	return encs
}

// The row log hands back the same encoding for a row whether its batch is
// still in memory or was spilled (with its row offsets kept in memory, or
// read from the file under a small budget), and frees what it spilled.
func TestRowLogFetchesSpilledRows(t *testing.T) {
	for _, limit := range []int64{1 << 30, 1} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) { testRowLogFetches(t, limit) })
	}
}

func testRowLogFetches(t *testing.T, limit int64) {
	mem := checkedAlloc(t)
	tb := benchTable(mem, 150_000, true) // three batches
	defer func() {
		for _, r := range tb.Records {
			r.Release()
		}
	}()
	h := newHashDiff(&plan{}, &Options{MemoryLimit: limit, TempDir: t.TempDir(), Allocator: mem})
	defer h.cleanup()
	log := h.logs[0]
	log.encs = benchEncoders()
	var total int64
	for i, rec := range tb.Records {
		b, n := log.add(rec)
		if b != i || n <= 0 {
			t.Fatalf("add batch %d: index %d, %d bytes", i, b, n)
		}
		total += n
	}
	want := map[uint64][]byte{}
	fetch := log.fetcher()
	for b, rec := range tb.Records {
		for _, i := range []int{0, 1, 999, int(rec.NumRows()) - 1} {
			loc := locator(b, i)
			row, err := fetch(nil, loc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(row, encodeRow(nil, benchEncoders(), rec, i)) {
				t.Fatalf("batch %d row %d: fetch differs from the encoding", b, i)
			}
			want[loc] = row
		}
	}
	// Spill the first two batches; the third stays in memory.
	var freed int64
	for range 2 {
		n, err := log.spillOne(h)
		if err != nil {
			t.Fatal(err)
		}
		freed += n
	}
	if log.spilled != 2 || log.batches[0].rec != nil || log.batches[2].rec == nil {
		t.Fatalf("spilled %d batches", log.spilled)
	}
	if kept := log.batches[0].ends != nil; kept != (limit > 1) {
		t.Fatalf("memory limit %d: row offsets kept in memory: %v", limit, kept)
	}
	if freed <= 0 || freed >= total || h.spilledBytes.Load() == 0 {
		t.Errorf("spilling freed %d of %d bytes, wrote %d", freed, total, h.spilledBytes.Load())
	}
	fetch = log.fetcher()
	prefix := []byte("prefix")
	for loc, w := range want {
		row, err := fetch(bytes.Clone(prefix), loc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(row, append(bytes.Clone(prefix), w...)) {
			t.Fatalf("row %x: spilled fetch differs", loc)
		}
	}
	if _, err := fetch(nil, locator(5, 0)); err == nil {
		t.Error("fetch of a batch that does not exist succeeded")
	}
	if _, err := fetch(nil, locator(0, int(tb.Records[0].NumRows()))); err == nil {
		t.Error("fetch past the end of a spilled batch succeeded")
	}
	for range 2 {
		if _, err := log.spillOne(h); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := log.spillOne(h); n != 0 || err != nil {
		t.Errorf("spill with every batch on disk: %d, %v", n, err)
	}
}

// Slices of one record share its buffers: the log counts them once.
func TestRowLogCountsSharedBuffersOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tb := benchTable(mem, 10_000, false)
	whole := tb.Records[0]
	var parts []arrow.Record
	for lo := int64(0); lo < whole.NumRows(); lo += 2500 {
		parts = append(parts, whole.NewSlice(lo, lo+2500))
	}
	alone := &rowLog{}
	_, wholeBytes := alone.add(whole)
	alone.release()

	log := &rowLog{}
	var sum int64
	for _, p := range parts {
		_, n := log.add(p)
		sum += n
		p.Release()
	}
	log.release()
	whole.Release()
	if sum != wholeBytes {
		t.Errorf("four slices accounted %d bytes, the record they slice %d", sum, wholeBytes)
	}
}

// goBytesRecord is a record of cols int64 columns whose buffers wrap Go
// byte slices without an allocator (memory.NewBufferBytes), as pqarrow
// builds some columns: releasing such a buffer does not free its bytes,
// whoever still points at it keeps them.
func goBytesRecord(rows, cols int) arrow.Record {
	var fields []arrow.Field
	var arrs []arrow.Array
	for c := range cols {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("c%d", c), Type: arrow.PrimitiveTypes.Int64})
		d := array.NewData(arrow.PrimitiveTypes.Int64, rows, []*memory.Buffer{nil, memory.NewBufferBytes(make([]byte, 8*rows))}, nil, 0, 0)
		arrs = append(arrs, array.MakeFromData(d))
		d.Release()
	}
	rec := array.NewRecord(arrow.NewSchema(fields, nil), arrs, int64(rows))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// A spilled batch's memory is gone from the heap, not only from the
// budget, whatever made its buffers.
func TestRowLogSpillFreesTheBatch(t *testing.T) {
	h := newHashDiff(&plan{}, &Options{MemoryLimit: 1 << 30, TempDir: t.TempDir(), Allocator: memory.DefaultAllocator})
	defer h.cleanup()
	log := h.logs[0]
	const batches, rows, cols = 64, 1 << 14, 8 // 1 MiB a batch
	for c := range cols {
		f := arrow.Field{Name: fmt.Sprintf("c%d", c), Type: arrow.PrimitiveTypes.Int64}
		log.encs = append(log.encs, newColumnEncoder(f, classNumber, classNumber))
	}
	before := liveHeap()
	var accounted, freed int64
	for range batches {
		rec := goBytesRecord(rows, cols)
		_, n := log.add(rec)
		rec.Release() // the reader moves on
		m, err := log.spillOne(h)
		if err != nil {
			t.Fatal(err)
		}
		accounted += n
		freed += m
	}
	log.buf = nil
	grew := liveHeap() - before
	if accounted < batches<<20 || freed < accounted*9/10 {
		t.Errorf("accounted %d bytes, freed %d", accounted, freed)
	}
	// What stays is the row offsets, 4 bytes a row (4 MiB here).
	if grew > 16<<20 {
		t.Errorf("every batch was spilled, yet the heap holds %d MiB more", grew>>20)
	}
}
