package reconcile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"golang.org/x/sync/errgroup"
)

// The hash algorithm: both sides are read concurrently, every row is
// encoded and appended to one of `parts` partitions by key hash. When the
// rows kept in memory pass the memory limit, the largest partitions of the
// side that is reading are written to spill files (Arrow IPC streams of
// key hash + row encoding). Once both sides are read, partitions are diffed
// independently, in parallel, and their changes emitted in partition order.

const hashPartitions = 128

// rowOverhead is the memory a stored row costs besides its bytes.
const rowOverhead = 8 + 4

// Rows live in chunks of at most maxChunk bytes; a row never spans chunks.
// A row's locator is chunk index << chunkBits | offset.
const (
	chunkBits  = 20
	maxChunk   = 1 << chunkBits
	firstChunk = 16 << 10
	maxChunks  = 1<<(32-chunkBits) - 1
)

var spillSchema = arrow.NewSchema([]arrow.Field{
	{Name: "key_hash", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "row", Type: arrow.BinaryTypes.Binary},
}, nil)

// partStore holds one side's rows of one partition, in arrival order. A row
// is stored as uvarint(len(key)) uvarint(len(payload)) key payload.
type partStore struct {
	hashes   []uint64
	locs     []uint32
	chunks   [][]byte
	chunkMem int64

	side      Side
	spillPath string
	spillFile *os.File
	spillW    *ipc.Writer
	spilled   int64 // rows in the spill file
}

func (s *partStore) len() int { return len(s.hashes) }

func (s *partStore) memBytes() int64 {
	return s.chunkMem + int64(len(s.hashes))*rowOverhead
}

// full reports whether the store can take no more chunks.
func (s *partStore) full() bool { return len(s.chunks) >= maxChunks }

// room returns the current chunk with room for n more bytes, adding a chunk
// when needed, and records the locator of the row about to be written.
func (s *partStore) room(n int) []byte {
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
	s.locs = append(s.locs, uint32(last)<<chunkBits|uint32(len(s.chunks[last])))
	return s.chunks[last]
}

// addRow stores row i of side's current batch.
func (s *partStore) addRow(h uint64, key []byte, side *sideState, i int) {
	plen := side.rowLen(i)
	var hdr [2 * binary.MaxVarintLen64]byte
	hn := binary.PutUvarint(hdr[:], uint64(len(key)))
	hn += binary.PutUvarint(hdr[hn:], uint64(plen))
	c := s.room(hn + len(key) + plen)
	c = append(c, hdr[:hn]...)
	c = append(c, key...)
	c = side.appendRowN(c, i, plen)
	s.chunks[len(s.chunks)-1] = c
	s.hashes = append(s.hashes, h)
}

// addRaw stores a row in its stored form (from a spill file).
func (s *partStore) addRaw(h uint64, raw []byte) {
	c := s.room(len(raw))
	s.chunks[len(s.chunks)-1] = append(c, raw...)
	s.hashes = append(s.hashes, h)
}

func (s *partStore) raw(i int) []byte {
	loc := s.locs[i]
	c := s.chunks[loc>>chunkBits][loc&(maxChunk-1):]
	kl, k1 := binary.Uvarint(c)
	pl, k2 := binary.Uvarint(c[k1:])
	return c[:k1+k2+int(kl)+int(pl)]
}

func (s *partStore) row(i int) (key, payload []byte) {
	loc := s.locs[i]
	c := s.chunks[loc>>chunkBits][loc&(maxChunk-1):]
	kl, k1 := binary.Uvarint(c)
	pl, k2 := binary.Uvarint(c[k1:])
	c = c[k1+k2:]
	return c[:kl], c[kl : kl+pl]
}

func (s *partStore) release() {
	s.hashes, s.locs, s.chunks, s.chunkMem = nil, nil, nil, 0
}

type hashDiff struct {
	budget       int64 // bytes the partition stores may hold
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
}

func newHashDiff(p *plan, opts *Options) *hashDiff {
	// The stores get half the memory limit: the rest is for what is in
	// flight besides them (record batches, their encodings, the partition
	// being joined) and for the garbage collector's headroom.
	budget := opts.MemoryLimit / 2
	h := &hashDiff{p: p, opts: opts, parts: hashPartitions, budget: budget}
	for s := range h.stores {
		h.stores[s] = make([]*partStore, h.parts)
		for i := range h.stores[s] {
			h.stores[s][i] = &partStore{side: Side(s + 1)}
		}
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
	if h.spillDir != "" {
		os.RemoveAll(h.spillDir)
	}
}

func (h *hashDiff) partOf(hash uint64) int { return int(hash >> 57) } // 128 partitions

type openFunc func(ctx context.Context) (array.RecordReader, error)

func (h *hashDiff) run(ctx context.Context, ss, ts *sideState, openSrc, openTgt openFunc, em *emitter) error {
	g, gctx := errgroup.WithContext(ctx)
	ingest := func(s *sideState, stores []*partStore, open openFunc) func() error {
		return func() error {
			r, err := open(gctx)
			if err != nil {
				return err
			}
			defer r.Release()
			// Memory is accounted in steps, not per row, to keep the
			// shared counter off the hot path.
			var pending int64
			err = readAll(gctx, s, r, func(hash uint64, key []byte, i int) error {
				part := h.partOf(hash)
				st := stores[part]
				if st.full() {
					if err := h.spill(st, s.side, part); err != nil {
						return err
					}
				}
				before := st.memBytes()
				st.addRow(hash, key, s, i)
				pending += st.memBytes() - before
				if pending > 256<<10 {
					used := h.inMem.Add(pending)
					pending = 0
					if used > h.budget {
						if err := h.spillLargest(stores, s.side); err != nil {
							return err
						}
					}
				}
				return nil
			})
			h.inMem.Add(pending)
			return err
		}
	}
	g.Go(ingest(ss, h.stores[0], openSrc))
	g.Go(ingest(ts, h.stores[1], openTgt))
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
	deliver := func(pc *pendingChange) error {
		if keep, err := em.account(pc); err != nil || !keep {
			return err
		}
		switch {
		case top != nil:
			top.offer(pc)
		case streaming:
			return em.list(pc)
		default:
			held = append(held, *pc) // partition changes own their bytes
			heldBytes += int64(len(pc.key)+len(pc.src)+len(pc.tgt)) + 96
			if heldBytes > heldLimit(h.opts.MemoryLimit) {
				streaming = true
				em.res.Plan.Note = joinNote(em.res.Plan.Note, "too many differences to list in key order within the memory limit; later ones are listed in partition order")
				sortChanges(held)
				for i := range held {
					if err := em.list(&held[i]); err != nil {
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
		if err := em.list(&held[i]); err != nil {
			return err
		}
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
			if err := em.emit(pc); err != nil {
				return err
			}
		}
		s.nullKeys = nil
	}
	return nil
}

// spillLargest writes this side's largest partitions to disk until the
// memory in use is back under three quarters of the limit.
func (h *hashDiff) spillLargest(stores []*partStore, side Side) error {
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
	h.spillOnce.Do(func() {
		h.spillDir, h.spillErr = os.MkdirTemp(h.opts.TempDir, "reconcile-spill-")
	})
	if h.spillErr != nil {
		return fmt.Errorf("spill: create temp dir: %w (set --temp-dir to a writable directory)", h.spillErr)
	}
	if st.spillW == nil {
		st.spillPath = filepath.Join(h.spillDir, fmt.Sprintf("%s-%03d.arrows", side, part))
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
	rb := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	defer rb.Release()
	hb.AppendValues(st.hashes, nil)
	rb.ReserveData(int(st.chunkMem))
	rb.Reserve(st.len())
	for i := range st.hashes {
		rb.Append(st.raw(i))
	}
	h.spilledBytes.Add(int64(rb.DataLen()))
	ha, ra := hb.NewArray(), rb.NewArray()
	rec := array.NewRecord(spillSchema, []arrow.Array{ha, ra}, int64(st.len()))
	ha.Release()
	ra.Release()
	err := st.spillW.Write(rec)
	rec.Release()
	if err != nil {
		return fmt.Errorf("spill: write %s: %w", st.spillPath, err)
	}
	st.spilled += int64(st.len())
	h.inMem.Add(-st.memBytes())
	st.release()
	return nil
}

// load returns the whole partition of one side: spilled rows first, then
// the rows still in memory, in arrival order.
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
	out := &partStore{}
	for r.Next() {
		rec := r.Record()
		hs := rec.Column(0).(*array.Uint64)
		rows := rec.Column(1).(*array.Binary)
		for i := 0; i < int(rec.NumRows()); i++ {
			if out.full() {
				return nil, fmt.Errorf("spill: one partition of the %s holds about 4 GiB, the most this version keeps per partition; raise --memory-limit so fewer rows spill", st.side)
			}
			out.addRaw(hs.Value(i), rows.Value(i))
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("spill: read %s: %w", st.spillPath, err)
	}
	for i := range st.hashes {
		if out.full() {
			return nil, fmt.Errorf("spill: one partition of the %s holds about 4 GiB, the most this version keeps per partition; raise --memory-limit so fewer rows spill", st.side)
		}
		out.addRaw(st.hashes[i], st.raw(i))
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
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for i := 0; i < h.parts; i++ {
			select {
			case ahead <- struct{}{}:
			case <-gctx.Done():
				return
			}
			g.Go(func() error {
				src, err := h.load(h.stores[0][i])
				if err != nil {
					return err
				}
				tgt, err := h.load(h.stores[1][i])
				if err != nil {
					return err
				}
				r, err := joinPartition(gctx, src, tgt, len(h.p.pairs), h.p.rowCols() > len(h.p.pairs))
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

// keyTable is an open-addressing hash table over the rows of a partStore,
// holding the first row of every distinct key.
type keyTable struct {
	st    *partStore
	slots []int32 // row index + 1; 0 is empty
	mask  uint64
	dups  map[int32]int64 // first row → occurrences, for keys seen twice or more
	first []bool          // row is the first of its key
}

func buildTable(st *partStore) *keyTable {
	n := st.len()
	size := 16
	for size < 2*n {
		size <<= 1
	}
	t := &keyTable{st: st, slots: make([]int32, size), mask: uint64(size - 1), first: make([]bool, n)}
	for i := 0; i < n; i++ {
		h := st.hashes[i]
		key, _ := st.row(i)
		pos := h & t.mask
		for {
			s := t.slots[pos]
			if s == 0 {
				t.slots[pos] = int32(i + 1)
				t.first[i] = true
				break
			}
			j := int(s - 1)
			if st.hashes[j] == h {
				if k2, _ := st.row(j); bytes.Equal(k2, key) {
					if t.dups == nil {
						t.dups = map[int32]int64{}
					}
					if t.dups[int32(j)] == 0 {
						t.dups[int32(j)] = 1
					}
					t.dups[int32(j)]++
					break
				}
			}
			pos = (pos + 1) & t.mask
		}
	}
	return t
}

// find returns the first row with this key, or -1.
func (t *keyTable) find(h uint64, key []byte) int {
	pos := h & t.mask
	for {
		s := t.slots[pos]
		if s == 0 {
			return -1
		}
		j := int(s - 1)
		if t.st.hashes[j] == h {
			if k2, _ := t.st.row(j); bytes.Equal(k2, key) {
				return j
			}
		}
		pos = (pos + 1) & t.mask
	}
}

// joinPartition matches the rows of one partition. Rows are compared by
// their first np cells; with extras (cells only carried, not compared:
// context and in-flight columns, the stored values of normalised ones)
// the rest of a row is left out of the comparison.
func joinPartition(ctx context.Context, src, tgt *partStore, np int, extras bool) (partResult, error) {
	var r partResult
	if src.len() == 0 && tgt.len() == 0 {
		return r, nil
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	st := buildTable(src)
	tt := buildTable(tgt)
	seen := make([]bool, tgt.len())
	for i := 0; i < src.len(); i++ {
		if !st.first[i] {
			continue
		}
		key, srow := src.row(i)
		h := src.hashes[i]
		sCount := st.dups[int32(i)]
		if sCount > 1 {
			r.changes = append(r.changes, pendingChange{kind: Duplicate, side: SourceSide, count: sCount, key: key, src: srow})
		}
		j := tt.find(h, key)
		if j < 0 {
			if sCount <= 1 {
				r.changes = append(r.changes, pendingChange{kind: Missing, key: key, src: srow})
			}
			continue
		}
		seen[j] = true
		_, trow := tgt.row(j)
		tCount := tt.dups[int32(j)]
		if tCount > 1 {
			r.changes = append(r.changes, pendingChange{kind: Duplicate, side: TargetSide, count: tCount, key: key, tgt: trow})
		}
		if sCount > 1 || tCount > 1 {
			continue
		}
		if !extras && bytes.Equal(srow, trow) {
			r.matched++
			continue
		}
		if extras {
			sl, tl := prefixLen(srow, np), prefixLen(trow, np)
			if sl < 0 || tl < 0 {
				return r, errors.New("compare rows: corrupt row encoding")
			}
			if bytes.Equal(srow[:sl], trow[:tl]) {
				r.matched++
				continue
			}
		}
		cols, err := changedColumns(srow, trow, np)
		if err != nil {
			return r, err
		}
		r.changes = append(r.changes, pendingChange{kind: Changed, key: key, src: srow, tgt: trow, cols: cols})
	}

	for j := 0; j < tgt.len(); j++ {
		if !tt.first[j] || seen[j] {
			continue
		}
		key, trow := tgt.row(j)
		if c := tt.dups[int32(j)]; c > 1 {
			r.changes = append(r.changes, pendingChange{kind: Duplicate, side: TargetSide, count: c, key: key, tgt: trow})
		} else {
			r.changes = append(r.changes, pendingChange{kind: Extra, key: key, tgt: trow})
		}
	}
	// Own the bytes, so the partition's storage can be freed now rather
	// than when its changes have been emitted.
	for i := range r.changes {
		r.changes[i] = r.changes[i].own()
	}
	sortChanges(r.changes)
	return r, nil
}
