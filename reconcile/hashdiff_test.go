package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	memsrc "github.com/reconhq/reconcile/connectors/memory"
	"github.com/reconhq/reconcile/internal/arrowpool"
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
// still in memory or was spilled to its partition's stream, and scan finds
// every spilled row of a partition by its ordinal.
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
	partOf := func(b, i int) uint8 {
		if (b+i)%97 == 0 {
			return noPart // a NULL key: no entry, never spilled
		}
		return uint8((i*7 + b) % hashPartitions)
	}
	var total int64
	for b, rec := range tb.Records {
		bi, n := log.add(rec)
		if bi != b || n <= 0 {
			t.Fatalf("add batch %d: index %d, %d bytes", b, bi, n)
		}
		for i := range log.batches[b].parts {
			log.batches[b].parts[i] = partOf(b, i)
		}
		total += n
	}
	// The spilled streams, as they should read: per partition, the rows of
	// the first two batches in arrival order.
	var streams [hashPartitions][][]byte
	for b, rec := range tb.Records[:2] {
		for i := 0; i < int(rec.NumRows()); i++ {
			if p := partOf(b, i); p != noPart {
				streams[p] = append(streams[p], encodeRow(nil, benchEncoders(), rec, i))
			}
		}
	}
	var freed int64
	for range 2 {
		n, err := log.spillOne(h)
		if err != nil {
			t.Fatal(err)
		}
		freed += n
	}
	if err := log.finish(h); err != nil {
		t.Fatal(err)
	}
	if log.spilled != 2 || log.batches[0].rec != nil || log.batches[2].rec == nil {
		t.Fatalf("spilled %d batches", log.spilled)
	}
	if freed <= 0 || freed >= total || h.spilledBytes.Load() == 0 {
		t.Errorf("spilling freed %d of %d bytes, wrote %d", freed, total, h.spilledBytes.Load())
	}
	f := log.fetcher()
	for p, rows := range streams {
		if log.spilledRows[p] != len(rows) {
			t.Fatalf("partition %d: %d rows spilled, want %d", p, log.spilledRows[p], len(rows))
		}
		// Every row, and then a sparse set with a repeat.
		all := make([]int, len(rows))
		for k := range all {
			all[k] = k
		}
		sparse := []int{0, 0, len(rows) / 2, len(rows) - 1}
		for _, want := range [][]int{all, sparse} {
			got := 0
			err := f.scan(p, want, func(i int, row []byte) {
				if !bytes.Equal(row, rows[want[i]]) {
					t.Fatalf("partition %d row %d: scan differs from the encoding", p, want[i])
				}
				got++
			})
			if err != nil || got != len(want) {
				t.Fatalf("partition %d: scan found %d of %d rows: %v", p, got, len(want), err)
			}
		}
		if err := f.scan(p, []int{len(rows)}, func(int, []byte) {}); err == nil {
			t.Fatalf("partition %d: a row past the stream was found", p)
		}
	}
	rec := tb.Records[2]
	for _, i := range []int{0, 999, int(rec.NumRows()) - 1} {
		row, err := f.row([]byte("prefix"), locator(2, i))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(row, encodeRow([]byte("prefix"), benchEncoders(), rec, i)) {
			t.Fatalf("batch 2 row %d: fetch differs from the encoding", i)
		}
	}
	if _, err := f.row(nil, locator(0, 5)); err == nil {
		t.Error("row of a spilled batch was fetched from memory")
	}
	if !log.spilledEntry(locator(1, 3)) || log.spilledEntry(locator(2, 3)) {
		t.Error("spilledEntry is wrong")
	}
	if n, err := log.spillOne(h); n <= 0 || err != nil {
		t.Errorf("spill of the last batch: %d, %v", n, err)
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

// The row log counts what a pooling allocator allocated, its size classes,
// not the sizes the builders asked for.
func TestRowLogCountsPooledAllocations(t *testing.T) {
	pool := arrowpool.New(0)
	b := array.NewInt64Builder(pool)
	defer b.Release()
	for i := range 5000 { // 40,000 bytes of values, in a 64 KiB class
		b.Append(int64(i))
	}
	arr := b.NewArray()
	defer arr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := array.NewRecord(schema, []arrow.Array{arr}, 5000)
	defer rec.Release()
	log := &rowLog{}
	_, n := log.add(rec)
	log.release()
	if n < 64<<10 {
		t.Errorf("a 5,000-row int64 record in pooled buffers counted %d bytes; its values alone take a 64 KiB buffer", n)
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
// budget, whatever made its buffers; the budget also counts the buffers of
// the partitions' streams while they exist.
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
		b, n := log.add(rec)
		for i := range log.batches[b].parts {
			log.batches[b].parts[i] = uint8(i % hashPartitions)
		}
		rec.Release() // the reader moves on
		h.inMem.Add(n)
		m, err := log.spillOne(h)
		if err != nil {
			t.Fatal(err)
		}
		h.inMem.Add(-m)
		accounted += n
		freed += m
		var buffered int64
		for _, b := range log.pbuf {
			buffered += int64(len(b))
		}
		if counted := h.inMem.Load(); counted < buffered {
			t.Fatalf("after a spill, %d bytes are counted; the partitions' stream buffers hold %d", counted, buffered)
		}
	}
	if err := log.finish(h); err != nil {
		t.Fatal(err)
	}
	grew := liveHeap() - before
	if accounted < batches<<20 || freed < accounted*8/10 || h.inMem.Load() != 0 {
		t.Errorf("accounted %d bytes, freed %d, still counted after finish %d", accounted, freed, h.inMem.Load())
	}
	if grew > 16<<20 {
		t.Errorf("every batch was spilled, yet the heap holds %d MiB more", grew>>20)
	}
}

// dictTable is n rows of id, v and a dictionary-encoded status; bump
// changes v in every other row.
func dictTable(t *testing.T, mem memory.Allocator, n int, bump bool) memsrc.Table {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64},
		{Name: "status", Type: dt},
	}, nil)
	ib, vb := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
	defer ib.Release()
	defer vb.Release()
	db := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	defer db.Release()
	for i := range n {
		ib.Append(int64(i))
		v := int64(i)
		if bump && i%2 == 0 {
			v++
		}
		vb.Append(v)
		if err := db.AppendString(fmt.Sprintf("state %d", i%5)); err != nil {
			t.Fatal(err)
		}
	}
	cols := []arrow.Array{ib.NewArray(), vb.NewArray(), db.NewArray()}
	rec := array.NewRecord(schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return memsrc.Table{Name: "t", Schema: schema, Records: []arrow.Record{rec}}
}

// A dictionary column only carried (context) is not encoded while reading,
// so the join workers encode the rows of one batch at once: its values must
// be built before (run with -race; without the fix the checked allocator
// also sees the array a losing worker built).
func TestHashJoinEncodesDictionaryColumnsConcurrently(t *testing.T) {
	for range 5 {
		mem := checkedAlloc(t)
		c := diff(t, source(t, dictTable(t, mem, 20000, false), nil), source(t, dictTable(t, mem, 20000, true), nil),
			Options{Key: []string{"id"}, Algorithm: Hash, Allocator: mem, Workers: 4, Context: []string{"status"}, Ignore: []string{"status"}})
		if c.res.Summary.Changed != 10000 || len(c.changes) != 10000 {
			t.Fatalf("%+v, %d listed", c.res.Summary, len(c.changes))
		}
		for _, ch := range c.changes[:3] {
			if len(ch.SourceContext) != 1 || ch.SourceContext[0].Value.String() == "" {
				t.Fatalf("context of %v: %v", ch.Key, ch.SourceContext)
			}
		}
	}
}

// Cancelling a hash diff while it lists the differences it held stops the
// listing and returns the cancellation, never a complete-looking result.
func TestHashDiffCancelledWhileListing(t *testing.T) {
	mem := checkedAlloc(t)
	src := source(t, benchTable(mem, 5000, false), nil)
	tgt := source(t, benchTable(mem, 2000, false), nil) // 3,000 missing
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	listed := 0
	res, err := Diff(ctx, Input{Source: src}, Input{Source: tgt}, Options{Key: []string{"id"}, Algorithm: Hash}, func(Change) error {
		if listed++; listed == 1 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || listed >= 3000 {
		t.Fatalf("Diff = %v, %v after listing %d of 3000 changes; want context.Canceled, listing cut short", res, err, listed)
	}
}

// The join gate admits a partition join only while the memory it loads
// fits the budget beside what is held and the joins already running, and
// always admits one join, however large, so that the diff goes on.
func TestJoinGateKeepsJoinsWithinTheBudget(t *testing.T) {
	h := &hashDiff{budget: 100}
	h.inMem.Store(50)
	g := newJoinGate(h)
	ctx := t.Context()
	if err := g.acquire(ctx, 30); err != nil {
		t.Fatal(err)
	}
	admitted := make(chan struct{})
	go func() {
		if g.acquire(ctx, 30) == nil { // 50 + 30 + 30 > 100: waits
			close(admitted)
		}
	}()
	select {
	case <-admitted:
		t.Fatal("a second join was admitted past the budget")
	case <-time.After(50 * time.Millisecond):
	}
	h.inMem.Store(20) // the first join's stores were dropped
	g.release(30)
	<-admitted // 20 + 30 <= 100
	g.release(30)
	// Alone, a join larger than the whole budget still runs.
	if err := g.acquire(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	// A waiting join gives up when the diff is cancelled.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- g.acquire(cctx, 10) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire after cancel = %v, want context.Canceled", err)
	}
}

// A hash diff joins its partitions through the gate: when the joins' memory
// does not fit the budget, one runs at a time whatever the workers. (The
// test shrinks the budget once reading is done: partitions that outgrow a
// real one take far more rows than a test should.)
func TestHashDiffJoinsThroughTheGate(t *testing.T) {
	mem := checkedAlloc(t)
	src, tgt := source(t, benchTable(mem, 100_000, false), nil), source(t, benchTable(mem, 100_000, true), nil)
	for _, tight := range []bool{false, true} {
		var gates []*joinGate
		onJoinGate = func(g *joinGate) {
			gates = append(gates, g)
			if tight {
				g.h.budget = 1
			}
		}
		res, err := Diff(t.Context(), Input{Source: src}, Input{Source: tgt},
			Options{Key: []string{"id"}, Algorithm: Hash, Workers: 4}, nil)
		onJoinGate = nil
		if err != nil || res.Summary.Changed != 100 || res.Summary.Matched != 99_900 {
			t.Fatalf("tight %v: %v, %+v", tight, err, res)
		}
		if len(gates) != 1 || gates[0].peak < 1 {
			t.Fatalf("tight %v: %d join gates seen, want one that ran the joins", tight, len(gates))
		}
		if tight && gates[0].peak != 1 {
			t.Errorf("up to %d joins ran at once past the budget; want one at a time", gates[0].peak)
		}
	}
}

// Cancelling a diff while it lists rows whose key is NULL stops it too, on
// either algorithm.
func TestDiffCancelledWhileListingNullKeys(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	table := func(mem memory.Allocator) memsrc.Table {
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		for i := range 5000 {
			if i < 3000 {
				b.Field(0).(*array.Int64Builder).AppendNull()
			} else {
				b.Field(0).(*array.Int64Builder).Append(int64(i))
			}
			b.Field(1).(*array.Int64Builder).Append(int64(i))
		}
		return memsrc.Table{Name: "t", Schema: schema, Records: []arrow.Record{b.NewRecord()}}
	}
	for _, algo := range []Algorithm{Hash, Merge} {
		mem := checkedAlloc(t)
		var ordered []string
		if algo == Merge {
			ordered = []string{"id"}
		}
		src, tgt := source(t, table(mem), ordered), source(t, table(mem), ordered)
		ctx, cancel := context.WithCancel(t.Context())
		listed := 0
		_, err := Diff(ctx, Input{Source: src}, Input{Source: tgt}, Options{Key: []string{"id"}, Algorithm: algo}, func(c Change) error {
			if listed++; listed == 1 {
				cancel()
			}
			return nil
		})
		cancel()
		if !errors.Is(err, context.Canceled) || listed >= 6000 {
			t.Errorf("%v: Diff = %v after listing %d of 6,000 NULL-key rows; want context.Canceled, listing cut short", algo, err, listed)
		}
	}
}
