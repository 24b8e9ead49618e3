package reconcile

import (
	"bytes"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
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
// still in memory or was spilled, and frees what it spilled.
func TestRowLogFetchesSpilledRows(t *testing.T) {
	mem := checkedAlloc(t)
	tb := benchTable(mem, 150_000, true) // three batches
	defer func() {
		for _, r := range tb.Records {
			r.Release()
		}
	}()
	h := newHashDiff(&plan{}, &Options{MemoryLimit: 1 << 30, TempDir: t.TempDir(), Allocator: mem})
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
