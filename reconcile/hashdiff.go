package reconcile

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/reconhq/reconcile/internal/arrowpool"
)

// The hash algorithm: both sides are read concurrently. Every row with a
// non-NULL key adds a compact entry (key hash, row digest, key encoding and
// the row's place in its side's rowLog) to one of `parts` partitions by key
// hash; the record batches themselves are kept in the rowLog. Once both
// sides are read, partitions are joined independently, in parallel, by key
// and row digest, and only the rows that differ are encoded, from the
// rowLog, for the report. Changes are emitted in partition order.
//
// When what is held passes the memory budget, the side that is reading
// first writes its oldest record batches to its rowLog's spill file (each
// row encoded into its partition's stream, which the partition's join reads
// once), then its largest partitions to spill files of their own (Arrow IPC
// streams of the compact entries, read back whole to be joined).

const hashPartitions = 128

// rowOverhead is the memory a partition entry costs besides its key bytes.
const rowOverhead = int64(unsafe.Sizeof(entry{}))

// Keys live in chunks of at most maxChunk bytes; a key never spans chunks.
// A key's locator is chunk index << chunkBits | offset.
const (
	chunkBits  = 20
	maxChunk   = 1 << chunkBits
	firstChunk = 16 << 10
	maxChunks  = 1<<(32-chunkBits) - 1
)

var spillSchema = arrow.NewSchema([]arrow.Field{
	{Name: "key_hash", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "digest", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "row", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "key", Type: arrow.BinaryTypes.Binary},
}, nil)

// entry is one row in a partition. Its key encoding is stored in the
// partition's chunks as uvarint(len(key)) key, at keyLoc.
type entry struct {
	hash   uint64 // key hash
	digest uint64 // row digest
	row    uint64 // the row's locator in its rowLog
	keyLoc uint32
}

// partStore holds one side's entries of one partition, in arrival order.
type partStore struct {
	entries  []entry
	chunks   [][]byte
	chunkMem int64

	side      Side
	spillPath string
	spillFile *os.File
	spillW    *ipc.Writer
	spilled   int64 // rows in the spill file
	// spilledMem is what the spilled entries took in memory: loading
	// the partition back takes about that much again.
	spilledMem int64
}

func (s *partStore) len() int { return len(s.entries) }

func (s *partStore) memBytes() int64 {
	return s.chunkMem + int64(len(s.entries))*rowOverhead
}

// full reports whether the store can take no more chunks.
func (s *partStore) full() bool { return len(s.chunks) >= maxChunks }

// add stores one entry.
func (s *partStore) add(h, digest, row uint64, key []byte) {
	var hdr [binary.MaxVarintLen64]byte
	hn := binary.PutUvarint(hdr[:], uint64(len(key)))
	n := hn + len(key)
	last := len(s.chunks) - 1
	if last < 0 || cap(s.chunks[last])-len(s.chunks[last]) < n {
		size := firstChunk
		if last >= 0 {
			size = min(2*cap(s.chunks[last]), maxChunk)
		}
		size = max(size, n)
		s.chunks = append(s.chunks, make([]byte, 0, size))
		s.chunkMem += int64(size)
		last++
	}
	c := s.chunks[last]
	s.entries = append(s.entries, entry{hash: h, digest: digest, row: row, keyLoc: uint32(last)<<chunkBits | uint32(len(c))})
	c = append(c, hdr[:hn]...)
	s.chunks[last] = append(c, key...)
}

func (s *partStore) key(i int) []byte {
	loc := s.entries[i].keyLoc
	c := s.chunks[loc>>chunkBits][loc&(maxChunk-1):]
	kl, k := binary.Uvarint(c)
	return c[k : k+int(kl) : k+int(kl)]
}

func (s *partStore) release() {
	s.entries, s.chunks, s.chunkMem = nil, nil, 0
}

// rowLog keeps one side's record batches, so that the rows a report lists
// can be encoded after the join, which compares row digests only. A row's
// locator is its batch's index << 32 | its index in the batch.
//
// Batches stay in memory while the budget allows. spillOne encodes the
// oldest one into the spill file, each row to its partition's stream
// (uvarint(len) row, in arrival order, written in segments of about
// segmentSize), and frees it. Since the oldest batches spill first, the
// first spilledRows[p] entries of partition p are the rows of p's stream,
// in the same order: scan reads a partition's stream once, whatever number
// of its rows a join needs.
type rowLog struct {
	side        Side
	encs        []columnEncoder // the ingesting goroutine's, for spill
	batches     []logBatch
	spilled     int // batches[:spilled] are in the file
	path        string
	f           *os.File
	size        int64 // bytes written to f
	pbuf        [hashPartitions][]byte
	pbufBytes   int64 // the capacity of the pbuf buffers, counted in hashDiff.inMem
	segs        [hashPartitions][]segment
	spilledRows [hashPartitions]int
	prev        map[*memory.Buffer]struct{} // the buffers of the last batch added
}

type logBatch struct {
	rec   arrow.Record // nil once spilled
	parts []uint8      // row i's partition, noPart for a NULL key
	bytes int64        // memory accounted for rec and parts
	n     int
}

// segment is a run of one partition's stream in the spill file.
type segment struct {
	off int64
	n   int
}

const (
	noPart      = 0xff
	segmentSize = 64 << 10
)

func locator(batch, row int) uint64 { return uint64(batch)<<32 | uint64(uint32(row)) }

// add keeps rec and returns its batch index and the memory it accounts.
func (l *rowLog) add(rec arrow.Record) (int, int64) {
	for _, c := range rec.Columns() {
		buildDictionaries(c)
	}
	rec.Retain()
	n := int(rec.NumRows())
	b := logBatch{rec: rec, parts: make([]uint8, n), n: n}
	for i := range b.parts {
		b.parts[i] = noPart
	}
	b.bytes = l.recordBytes(rec) + int64(n)
	l.batches = append(l.batches, b)
	return len(l.batches) - 1, b.bytes
}

// buildDictionaries makes arrow-go build the values of every dictionary in
// arr now: it builds them on first use, without a lock, so the join workers
// encoding rows of one batch at once would race (and leak the array one of
// them built).
func buildDictionaries(arr arrow.Array) {
	switch a := arr.(type) {
	case array.ExtensionArray:
		buildDictionaries(a.Storage())
	case *array.Dictionary:
		buildDictionaries(a.Dictionary())
	case *array.Struct:
		for i := 0; i < a.NumField(); i++ {
			buildDictionaries(a.Field(i))
		}
	case array.ListLike:
		buildDictionaries(a.ListValues())
	}
}

// recordBytes is the memory of rec's buffers, less those the batch before
// it shares (a reader may hand out consecutive slices of one record). Only
// the last batch's buffers are remembered: a map of every buffer would keep
// alive those whose bytes no allocator frees (memory.NewBufferBytes).
func (l *rowLog) recordBytes(rec arrow.Record) int64 {
	prev := l.prev
	cur := make(map[*memory.Buffer]struct{}, 3*len(rec.Columns()))
	var n int64
	arrowpool.EachBuffer(rec, func(b *memory.Buffer) {
		if _, ok := cur[b]; ok {
			return
		}
		cur[b] = struct{}{}
		if _, ok := prev[b]; !ok {
			// The allocation, not the size asked for: a pooling
			// allocator rounds up to its size classes.
			n += int64(cap(b.Buf()))
		}
	})
	l.prev = cur
	return n
}

// encodeRow appends the row encoding of row i of rec, as sideState's
// appendRow would have written it.
func encodeRow(dst []byte, encs []columnEncoder, rec arrow.Record, i int) []byte {
	for c := range encs {
		dst = encs[c].appendCellOrInvalid(dst, rec.Column(c), i)
	}
	return dst
}

// spillOne writes the oldest batch still in memory to the spill file and
// returns the memory that freed, or 0 when every batch is on disk; what
// the partitions' stream buffers grew by is taken off (a first spill may
// free less than it takes).
func (l *rowLog) spillOne(h *hashDiff) (int64, error) {
	if l.spilled == len(l.batches) {
		return 0, nil
	}
	if l.f == nil {
		dir, err := h.dir()
		if err != nil {
			return 0, err
		}
		l.path = filepath.Join(dir, fmt.Sprintf("%s-rows.bin", l.side))
		if l.f, err = os.Create(l.path); err != nil {
			return 0, fmt.Errorf("spill: %w", err)
		}
	}
	b := &l.batches[l.spilled]
	var hdr [binary.MaxVarintLen64]byte
	var row []byte
	before := l.pbufBytes
	for i, p := range b.parts {
		if p == noPart {
			continue
		}
		row = encodeRow(row[:0], l.encs, b.rec, i)
		hn := binary.PutUvarint(hdr[:], uint64(len(row)))
		old := cap(l.pbuf[p])
		l.pbuf[p] = append(append(l.pbuf[p], hdr[:hn]...), row...)
		l.pbufBytes += int64(cap(l.pbuf[p]) - old)
		l.spilledRows[p]++
		if len(l.pbuf[p]) >= segmentSize {
			if err := l.flush(h, int(p)); err != nil {
				return 0, err
			}
		}
	}
	b.rec.Release()
	b.rec, b.parts = nil, nil
	l.spilled++
	return b.bytes - (l.pbufBytes - before), nil
}

// flush writes partition p's buffered rows as a segment.
func (l *rowLog) flush(h *hashDiff, p int) error {
	buf := l.pbuf[p]
	if len(buf) == 0 {
		return nil
	}
	if _, err := l.f.Write(buf); err != nil {
		return fmt.Errorf("spill: write %s: %w", l.path, err)
	}
	l.segs[p] = append(l.segs[p], segment{off: l.size, n: len(buf)})
	l.size += int64(len(buf))
	h.spilledBytes.Add(int64(len(buf)))
	if cap(buf) > 2*segmentSize {
		// A large row: do not keep its buffer.
		l.pbufBytes -= int64(cap(buf))
		buf = nil
	}
	l.pbuf[p] = buf[:0]
	return nil
}

// finish writes what the partitions' buffers hold, once reading is done.
func (l *rowLog) finish(h *hashDiff) error {
	held := l.pbufBytes
	for p := range l.pbuf {
		if err := l.flush(h, p); err != nil {
			return err
		}
		l.pbuf[p] = nil
	}
	h.inMem.Add(-held)
	l.pbufBytes = 0
	return nil
}

// spilledEntry reports whether an entry's row was spilled.
func (l *rowLog) spilledEntry(loc uint64) bool { return int(loc>>32) < l.spilled }

// rowFetcher encodes rows of batches in memory. Each concurrent caller
// needs its own: the encoders keep scratch space.
type rowFetcher struct {
	l    *rowLog
	encs []columnEncoder
	buf  []byte // scan's read buffer
}

func (l *rowLog) fetcher() *rowFetcher { return &rowFetcher{l: l, encs: cloneEncoders(l.encs)} }

// row appends the encoding of the row at a locator, whose batch must be in
// memory.
func (f *rowFetcher) row(dst []byte, loc uint64) ([]byte, error) {
	bi, i := int(loc>>32), int(uint32(loc))
	if bi >= len(f.l.batches) || i >= f.l.batches[bi].n || f.l.batches[bi].rec == nil {
		return nil, fmt.Errorf("read %s row %d of batch %d: not in memory", f.l.side, i, bi)
	}
	return encodeRow(dst, f.encs, f.l.batches[bi].rec, i), nil
}

// scan reads partition p's spilled stream once and calls fn(i, row) for
// every want[i], the ordinals of the rows wanted, in ascending order; the
// row is valid during the call.
func (f *rowFetcher) scan(p int, want []int, fn func(i int, row []byte)) error {
	l := f.l
	k, next := 0, 0
	for _, sg := range l.segs[p] {
		if next == len(want) {
			return nil
		}
		if cap(f.buf) < sg.n {
			f.buf = make([]byte, sg.n)
		}
		buf := f.buf[:sg.n]
		if _, err := l.f.ReadAt(buf, sg.off); err != nil {
			return fmt.Errorf("spill: read %s: %w", l.path, err)
		}
		for len(buf) > 0 {
			n, hn := binary.Uvarint(buf)
			if hn <= 0 || n > uint64(len(buf)-hn) {
				return fmt.Errorf("spill: %s is corrupt (partition %d, row %d)", l.path, p, k)
			}
			for next < len(want) && want[next] == k {
				fn(next, buf[hn:hn+int(n)])
				next++
			}
			buf = buf[hn+int(n):]
			k++
		}
	}
	if next < len(want) {
		return fmt.Errorf("spill: %s holds %d rows of partition %d, row %d was wanted", l.path, k, p, want[next])
	}
	return nil
}

// release drops the batches and the spill file.
func (l *rowLog) release() {
	for i := range l.batches {
		if r := l.batches[i].rec; r != nil {
			r.Release()
			l.batches[i].rec = nil
		}
	}
	l.batches, l.prev = nil, nil
	l.pbuf = [hashPartitions][]byte{}
	l.segs = [hashPartitions][]segment{}
	if l.f != nil {
		l.f.Close()
		os.Remove(l.path)
		l.f = nil
	}
}

type hashDiff struct {
	budget       int64 // bytes the partition stores and row logs may hold
	p            *plan
	opts         *Options
	parts        int
	inMem        atomic.Int64
	spillDir     string
	spillOnce    sync.Once
	spillErr     error
	spilledParts atomic.Int64
	spilledBytes atomic.Int64
	stores       [2][]*partStore
	logs         [2]*rowLog
}

func newHashDiff(p *plan, opts *Options) *hashDiff {
	// The stores and logs get half the memory limit: the rest is for what
	// is in flight besides them (the batch being read, the partitions
	// being joined) and for the garbage collector's headroom.
	budget := opts.MemoryLimit / 2
	h := &hashDiff{p: p, opts: opts, parts: hashPartitions, budget: budget}
	for s := range h.stores {
		h.stores[s] = make([]*partStore, h.parts)
		for i := range h.stores[s] {
			h.stores[s][i] = &partStore{side: Side(s + 1)}
		}
		h.logs[s] = &rowLog{side: Side(s + 1)}
	}
	return h
}

func (h *hashDiff) cleanup() {
	for _, side := range h.stores {
		for _, st := range side {
			if st != nil && st.spillFile != nil {
				st.spillFile.Close()
			}
		}
	}
	for _, l := range h.logs {
		l.release()
	}
	if h.spillDir != "" {
		os.RemoveAll(h.spillDir)
	}
}

// dir returns the spill directory, creating it on first use.
func (h *hashDiff) dir() (string, error) {
	h.spillOnce.Do(func() {
		h.spillDir, h.spillErr = os.MkdirTemp(h.opts.TempDir, "reconcile-spill-")
	})
	if h.spillErr != nil {
		return "", fmt.Errorf("spill: create temp dir: %w (set --temp-dir to a writable directory)", h.spillErr)
	}
	return h.spillDir, nil
}

func (h *hashDiff) partOf(hash uint64) int { return int(hash >> 57) } // 128 partitions

type openFunc func(ctx context.Context) (array.RecordReader, error)

func (h *hashDiff) run(ctx context.Context, ss, ts *sideState, openSrc, openTgt openFunc, em *emitter) error {
	g, gctx := errgroup.WithContext(ctx)
	ingest := func(s *sideState, stores []*partStore, log *rowLog, open openFunc) func() error {
		return func() error {
			r, err := open(gctx)
			if err != nil {
				return err
			}
			defer r.Release()
			// Only keys and the digests are needed to join; the values of
			// the rows that differ are encoded from the log afterwards.
			log.encs = s.encs
			for r.Next() {
				if err := gctx.Err(); err != nil {
					return err
				}
				rec := r.Record()
				if rec.NumRows() == 0 {
					continue
				}
				batch, added := log.add(rec)
				parts := log.batches[batch].parts
				err := s.batch(rec, func(hash uint64, key []byte, i int) error {
					part := h.partOf(hash)
					st := stores[part]
					if st.full() {
						if err := h.spill(st, s.side, part); err != nil {
							return err
						}
					}
					parts[i] = uint8(part)
					before := st.memBytes()
					st.add(hash, s.rowDigests[i], locator(batch, i), key)
					added += st.memBytes() - before
					return nil
				})
				if err != nil {
					return err
				}
				// Memory is accounted once a batch, to keep the shared
				// counter off the hot path.
				if h.inMem.Add(added) > h.budget {
					if err := h.spillSide(stores, log, s.side); err != nil {
						return err
					}
				}
			}
			if err := r.Err(); err != nil {
				return fmt.Errorf("read %s: %w", s.side, err)
			}
			if err := gctx.Err(); err != nil {
				return err
			}
			return log.finish(h)
		}
	}
	g.Go(ingest(ss, h.stores[0], h.logs[0], openSrc))
	g.Go(ingest(ts, h.stores[1], h.logs[1], openTgt))
	if err := g.Wait(); err != nil {
		return err
	}
	// Changes are listed in key order, as the merge lists them. With a
	// limit, a heap keeps the smallest keys. Without one, every change is
	// held (the changes, not the data) and sorted at the end; should they
	// outgrow a quarter of the budget, the ones held so far are listed
	// sorted and the rest follow in partition order, which the plan notes.
	var top *smallest
	var held []pendingChange
	var heldBytes int64
	streaming := false
	// The rows of missing, extra and duplicate keys are encoded when they
	// are listed, on this goroutine.
	fetchS, fetchT := h.logs[0].fetcher(), h.logs[1].fetcher()
	listed := 0
	list := func(pc *pendingChange) error {
		// Listing every change of a heavily drifted pair takes a while:
		// a cancelled run stops here too, and says so.
		if err := listedSoFar(ctx, listed); err != nil {
			return err
		}
		listed++
		var err error
		if pc.srcAt != 0 {
			if pc.src, err = fetchS.row(nil, pc.srcAt-1); err != nil {
				return err
			}
			pc.srcAt = 0
		}
		if pc.tgtAt != 0 {
			if pc.tgt, err = fetchT.row(nil, pc.tgtAt-1); err != nil {
				return err
			}
			pc.tgtAt = 0
		}
		return em.list(pc)
	}
	deliver := func(pc *pendingChange) error {
		if keep, err := em.account(pc); err != nil || !keep {
			return err
		}
		switch {
		case top != nil:
			top.offer(pc)
		case streaming:
			return list(pc)
		default:
			held = append(held, *pc) // partition changes own their bytes
			heldBytes += pc.size()
			if heldBytes > heldLimit(h.opts.MemoryLimit) {
				streaming = true
				em.res.Plan.Note = joinNote(em.res.Plan.Note, "too many differences to list in key order within the memory limit; later ones are listed in partition order")
				sortChanges(held)
				for i := range held {
					if err := list(&held[i]); err != nil {
						return err
					}
				}
				held = nil
			}
		}
		return nil
	}
	if em.limit > 0 {
		top = &smallest{limit: int(em.limit)}
	}
	if err := h.joinAll(ctx, em, deliver); err != nil {
		return err
	}
	if top != nil {
		held = top.sorted()
	} else {
		sortChanges(held)
	}
	for i := range held {
		if err := list(&held[i]); err != nil {
			return err
		}
	}
	for _, l := range h.logs {
		l.release()
	}
	// Rows with a NULL in the key come last, source then target, in arrival
	// order, as the merge lists them. Those kept without values (past the
	// limit) are only counted.
	for _, s := range []*sideState{ss, ts} {
		for i := range s.nullKeys {
			pc := &s.nullKeys[i]
			if pc.src == nil && pc.tgt == nil {
				em.count(pc)
				continue
			}
			if err := listedSoFar(ctx, i); err != nil {
				return err
			}
			if err := em.emit(pc); err != nil {
				return err
			}
		}
		s.nullKeys = nil
	}
	return nil
}

// listedSoFar returns ctx's error every 1024th listed change (i counts
// them), so that a long listing stops when the diff is cancelled.
func listedSoFar(ctx context.Context, i int) error {
	if i%1024 == 1023 {
		return ctx.Err()
	}
	return nil
}

// spillSide brings the memory in use back under three quarters of the
// budget: first by writing this side's record batches to its row log's
// file, oldest first, then its largest partitions.
func (h *hashDiff) spillSide(stores []*partStore, log *rowLog, side Side) error {
	for h.inMem.Load() > h.budget*3/4 && log.spilled < len(log.batches) {
		freed, err := log.spillOne(h)
		if err != nil {
			return err
		}
		h.inMem.Add(-freed)
	}
	if h.inMem.Load() <= h.budget*3/4 {
		return nil
	}
	order := make([]int, len(stores))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return stores[order[a]].memBytes() > stores[order[b]].memBytes() })
	for _, i := range order {
		if h.inMem.Load() <= h.budget*3/4 || stores[i].len() == 0 {
			break
		}
		if err := h.spill(stores[i], side, i); err != nil {
			return err
		}
	}
	return nil
}

func (h *hashDiff) spill(st *partStore, side Side, part int) error {
	dir, err := h.dir()
	if err != nil {
		return err
	}
	if st.spillW == nil {
		st.spillPath = filepath.Join(dir, fmt.Sprintf("%s-%03d.arrows", side, part))
		f, err := os.Create(st.spillPath)
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		st.spillFile = f
		st.spillW = ipc.NewWriter(f, ipc.WithSchema(spillSchema), ipc.WithAllocator(h.opts.Allocator))
		h.spilledParts.Add(1)
	}
	mem := h.opts.Allocator
	hb := array.NewUint64Builder(mem)
	defer hb.Release()
	db := array.NewUint64Builder(mem)
	defer db.Release()
	lb := array.NewUint64Builder(mem)
	defer lb.Release()
	kb := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	defer kb.Release()
	hb.Reserve(st.len())
	db.Reserve(st.len())
	lb.Reserve(st.len())
	kb.ReserveData(int(st.chunkMem))
	kb.Reserve(st.len())
	for i, e := range st.entries {
		hb.UnsafeAppend(e.hash)
		db.UnsafeAppend(e.digest)
		lb.UnsafeAppend(e.row)
		kb.Append(st.key(i))
	}
	h.spilledBytes.Add(int64(kb.DataLen() + 24*st.len()))
	cols := []arrow.Array{hb.NewArray(), db.NewArray(), lb.NewArray(), kb.NewArray()}
	rec := array.NewRecord(spillSchema, cols, int64(st.len()))
	for _, c := range cols {
		c.Release()
	}
	err = st.spillW.Write(rec)
	rec.Release()
	if err != nil {
		return fmt.Errorf("spill: write %s: %w", st.spillPath, err)
	}
	st.spilled += int64(st.len())
	st.spilledMem += st.memBytes()
	h.inMem.Add(-st.memBytes())
	st.release()
	return nil
}

// load returns the whole partition of one side: spilled entries first,
// then the ones still in memory, in arrival order.
func (h *hashDiff) load(st *partStore) (*partStore, error) {
	if st.spillW == nil {
		return st, nil
	}
	if err := st.spillW.Close(); err != nil {
		return nil, fmt.Errorf("spill: close %s: %w", st.spillPath, err)
	}
	if _, err := st.spillFile.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("spill: rewind %s: %w", st.spillPath, err)
	}
	r, err := ipc.NewReader(st.spillFile, ipc.WithSchema(spillSchema), ipc.WithAllocator(h.opts.Allocator))
	if err != nil {
		return nil, fmt.Errorf("spill: read %s: %w", st.spillPath, err)
	}
	defer r.Release()
	tooBig := func() error {
		return fmt.Errorf("spill: one partition of the %s holds about 4 GiB of keys, the most this version keeps per partition; raise --memory-limit so fewer rows spill", st.side)
	}
	out := &partStore{side: st.side, entries: make([]entry, 0, st.spilled+int64(len(st.entries)))}
	for r.Next() {
		rec := r.Record()
		hs := rec.Column(0).(*array.Uint64)
		ds := rec.Column(1).(*array.Uint64)
		ls := rec.Column(2).(*array.Uint64)
		ks := rec.Column(3).(*array.Binary)
		for i := 0; i < int(rec.NumRows()); i++ {
			if out.full() {
				return nil, tooBig()
			}
			out.add(hs.Value(i), ds.Value(i), ls.Value(i), ks.Value(i))
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("spill: read %s: %w", st.spillPath, err)
	}
	for i, e := range st.entries {
		if out.full() {
			return nil, tooBig()
		}
		out.add(e.hash, e.digest, e.row, st.key(i))
	}
	st.spillFile.Close()
	os.Remove(st.spillPath)
	st.spillFile, st.spillW = nil, nil
	return out, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// partResult is the outcome of one partition.
type partResult struct {
	changes []pendingChange
	matched int64
}

func (h *hashDiff) joinAll(ctx context.Context, em *emitter, deliver func(*pendingChange) error) error {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(jctx)
	g.SetLimit(h.opts.Workers)
	results := make([]chan partResult, h.parts)
	for i := range results {
		results[i] = make(chan partResult, 1)
	}
	// At most Workers+2 partitions may be finished ahead of the emitter.
	ahead := make(chan struct{}, h.opts.Workers+2)
	gate := newJoinGate(h)
	if onJoinGate != nil {
		onJoinGate(gate)
	}
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for i := 0; i < h.parts; i++ {
			select {
			case ahead <- struct{}{}:
			case <-gctx.Done():
				return
			}
			need := joinBytes(h.stores[0][i], h.stores[1][i])
			if gate.acquire(gctx, need) != nil {
				return
			}
			g.Go(func() error {
				defer gate.release(need)
				src, err := h.load(h.stores[0][i])
				if err != nil {
					return err
				}
				tgt, err := h.load(h.stores[1][i])
				if err != nil {
					return err
				}
				r, err := joinPartition(gctx, i, src, tgt, len(h.p.pairs), em.needValues, h.logs[0].fetcher(), h.logs[1].fetcher())
				if err != nil {
					return err
				}
				h.inMem.Add(-h.stores[0][i].memBytes() - h.stores[1][i].memBytes())
				h.stores[0][i], h.stores[1][i] = nil, nil
				results[i] <- r
				return nil
			})
		}
	}()
	var emitErr error
emit:
	for i := 0; i < h.parts; i++ {
		select {
		case r := <-results[i]:
			em.res.Summary.Matched += r.matched
			for j := range r.changes {
				if err := deliver(&r.changes[j]); err != nil {
					emitErr = err
					break emit
				}
			}
			<-ahead
		case <-gctx.Done():
			break emit
		}
	}
	if emitErr != nil {
		cancel()
	}
	<-dispatched
	werr := g.Wait()
	if emitErr != nil {
		// The workers only saw the cancellation the emitter's error caused.
		return emitErr
	}
	if werr != nil {
		return werr
	}
	return ctx.Err()
}

// joinBytes estimates the memory the join of one partition takes beyond
// what is already counted: the spilled entries loaded back (a spilled
// side is loaded whole, a copy of its entries still in memory included)
// and the key table, at most 4 slots of 4 bytes and a flag per entry.
func joinBytes(src, tgt *partStore) int64 {
	var n int64
	for _, st := range []*partStore{src, tgt} {
		if st.spillW != nil {
			n += st.spilledMem + st.memBytes()
		}
		n += 17 * (st.spilled + int64(st.len()))
	}
	return n
}

// joinGate runs partition joins in parallel only while the memory they
// load fits the budget with what the partition stores and row logs still
// hold: more workers must not mean more memory than --memory-limit allows.
// One join always runs, whatever its size, so the diff goes on.
type joinGate struct {
	h        *hashDiff
	mu       sync.Mutex
	reserved int64         // bytes the running joins were admitted with
	running  int           // joins admitted and not yet released
	peak     int           // the most joins that ran at once
	changed  chan struct{} // closed, and replaced, when a join ends
}

// onJoinGate, when set (by tests), sees every join gate.
var onJoinGate func(*joinGate)

func newJoinGate(h *hashDiff) *joinGate {
	return &joinGate{h: h, changed: make(chan struct{})}
}

// acquire waits until a join of need bytes may start.
func (g *joinGate) acquire(ctx context.Context, need int64) error {
	for {
		g.mu.Lock()
		if g.running == 0 || g.h.inMem.Load()+g.reserved+need <= g.h.budget {
			g.running++
			g.peak = max(g.peak, g.running)
			g.reserved += need
			g.mu.Unlock()
			return nil
		}
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (g *joinGate) release(need int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running--
	g.reserved -= need
	close(g.changed)
	g.changed = make(chan struct{})
}

// keyTable is an open-addressing hash table over the entries of a
// partStore, holding the first entry of every distinct key.
type keyTable struct {
	st    *partStore
	slots []int32 // entry index + 1; 0 is empty
	mask  uint64
	dups  map[int32]int64 // first entry → occurrences, for keys seen twice or more
	first []bool          // entry is the first of its key
}

func buildTable(st *partStore) *keyTable {
	n := st.len()
	size := 16
	for size < 2*n {
		size <<= 1
	}
	t := &keyTable{st: st, slots: make([]int32, size), mask: uint64(size - 1), first: make([]bool, n)}
	for i := 0; i < n; i++ {
		h := st.entries[i].hash
		pos := h & t.mask
		for {
			s := t.slots[pos]
			if s == 0 {
				t.slots[pos] = int32(i + 1)
				t.first[i] = true
				break
			}
			j := int(s - 1)
			if st.entries[j].hash == h && bytes.Equal(st.key(j), st.key(i)) {
				if t.dups == nil {
					t.dups = map[int32]int64{}
				}
				if t.dups[int32(j)] == 0 {
					t.dups[int32(j)] = 1
				}
				t.dups[int32(j)]++
				break
			}
			pos = (pos + 1) & t.mask
		}
	}
	return t
}

// find returns the first entry with this key, or -1.
func (t *keyTable) find(h uint64, key []byte) int {
	pos := h & t.mask
	for {
		s := t.slots[pos]
		if s == 0 {
			return -1
		}
		j := int(s - 1)
		if t.st.entries[j].hash == h && bytes.Equal(t.st.key(j), key) {
			return j
		}
		pos = (pos + 1) & t.mask
	}
}

// joinPartition matches the entries of partition part by key and row
// digest. A changed row's columns are found by comparing the first np cells
// of the two rows' encodings (the rest are extras: context and in-flight
// columns, the stored values of normalised ones, carried but not
// compared). Rows that were spilled are read with one scan of the
// partition's stream per side. Other rows are encoded from their batches:
// now for changed keys, or when the rules need values to classify a
// change; otherwise the change carries the row's locator, and the row is
// encoded if the change is listed.
func joinPartition(ctx context.Context, part int, src, tgt *partStore, np int, values bool, fs, ft *rowFetcher) (partResult, error) {
	var r partResult
	if src.len() == 0 && tgt.len() == 0 {
		return r, nil
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	// Spilled rows wanted, per side: entry ordinals and the changes that
	// get them.
	type need struct{ k, c int }
	var needs [2][]need
	// want gives change c the row of entry k of side st.
	want := func(c int, st *partStore, k int) error {
		side, f := 0, fs
		if st == tgt {
			side, f = 1, ft
		}
		loc := st.entries[k].row
		pc := &r.changes[c]
		var err error
		switch {
		case f.l.spilledEntry(loc):
			needs[side] = append(needs[side], need{k, c})
		case !values && pc.kind != Changed && side == 0:
			pc.srcAt = loc + 1
		case !values && pc.kind != Changed:
			pc.tgtAt = loc + 1
		case side == 0:
			pc.src, err = f.row(nil, loc)
		default:
			pc.tgt, err = f.row(nil, loc)
		}
		return err
	}
	change := func(pc pendingChange, st *partStore, k int) error {
		r.changes = append(r.changes, pc)
		return want(len(r.changes)-1, st, k)
	}
	st := buildTable(src)
	tt := buildTable(tgt)
	seen := make([]bool, tgt.len())
	for i := 0; i < src.len(); i++ {
		if !st.first[i] {
			continue
		}
		key := src.key(i)
		sCount := st.dups[int32(i)]
		j := tt.find(src.entries[i].hash, key)
		var tCount int64
		if j >= 0 {
			seen[j] = true
			tCount = tt.dups[int32(j)]
			if sCount <= 1 && tCount <= 1 && src.entries[i].digest == tgt.entries[j].digest {
				r.matched++
				continue
			}
		}
		if sCount > 1 {
			if err := change(pendingChange{kind: Duplicate, side: SourceSide, count: sCount, key: key}, src, i); err != nil {
				return r, err
			}
		}
		if j < 0 {
			if sCount <= 1 {
				if err := change(pendingChange{kind: Missing, key: key}, src, i); err != nil {
					return r, err
				}
			}
			continue
		}
		if tCount > 1 {
			if err := change(pendingChange{kind: Duplicate, side: TargetSide, count: tCount, key: key}, tgt, j); err != nil {
				return r, err
			}
		}
		if sCount > 1 || tCount > 1 {
			continue
		}
		// Changed, unless the compared cells turn out equal (below).
		if err := change(pendingChange{kind: Changed, key: key}, src, i); err != nil {
			return r, err
		}
		if err := want(len(r.changes)-1, tgt, j); err != nil {
			return r, err
		}
	}
	for j := 0; j < tgt.len(); j++ {
		if !tt.first[j] || seen[j] {
			continue
		}
		pc := pendingChange{kind: Extra, key: tgt.key(j)}
		if c := tt.dups[int32(j)]; c > 1 {
			pc = pendingChange{kind: Duplicate, side: TargetSide, count: c, key: pc.key}
		}
		if err := change(pc, tgt, j); err != nil {
			return r, err
		}
	}

	for side, f := range []*rowFetcher{fs, ft} {
		ns := needs[side]
		if len(ns) == 0 {
			continue
		}
		slices.SortFunc(ns, func(a, b need) int { return a.k - b.k })
		ks := make([]int, len(ns))
		for i, n := range ns {
			ks[i] = n.k
		}
		err := f.scan(part, ks, func(i int, row []byte) {
			pc := &r.changes[ns[i].c]
			if side == 0 {
				pc.src = clone(row)
			} else {
				pc.tgt = clone(row)
			}
		})
		if err != nil {
			return r, err
		}
	}

	// The changed keys' columns; the keys are copied out of the partition's
	// storage, so that it can be freed now rather than when its changes have
	// been emitted (the rows were encoded into buffers of their own).
	out := r.changes[:0]
	for _, pc := range r.changes {
		if pc.kind == Changed {
			cols, err := changedColumns(pc.src, pc.tgt, np)
			if err != nil {
				return r, err
			}
			if len(cols) == 0 {
				// The digests differ but the compared cells do not: the
				// encodings are the values, so the rows match.
				r.matched++
				continue
			}
			pc.cols = cols
		}
		pc.key = clone(pc.key)
		out = append(out, pc)
	}
	r.changes = out
	sortChanges(r.changes)
	return r, nil
}
