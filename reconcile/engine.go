package reconcile

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/cespare/xxhash/v2"
	"golang.org/x/sync/errgroup"

	"github.com/reconhq/reconcile/connectors"
)

// Input is one side of a diff.
type Input struct {
	Source connectors.Source
	Table  connectors.TableRef
	// Name is how reports name this side; defaults to the table's name.
	Name string
}

// Algorithm selects how the two sides are matched.
type Algorithm string

const (
	// Auto merges when both sources can read in key order and
	// hash-partitions otherwise.
	Auto Algorithm = "auto"
	// Hash partitions both sides by key hash, spilling past the memory limit.
	Hash Algorithm = "hash"
	// Merge streams both sides in key order; both sources must implement
	// connectors.OrderedReader.
	Merge Algorithm = "merge"
	// Bisect compares segment checksums computed in the databases and
	// reads only the segments that differ; both sources must implement
	// connectors.Checksummer and connectors.OrderedReader.
	Bisect Algorithm = "bisect"
)

// Options shape a diff. The zero value needs only a key (or a source with a
// primary key).
type Options struct {
	// Key lists the key columns by source name; empty uses the source's
	// primary key.
	Key []string
	// Map pairs renamed columns: source name → target name.
	Map map[string]string
	// Columns restricts the comparison to these source columns (the key is
	// always compared); Ignore leaves columns out.
	Columns, Ignore []string
	// Limit caps the changes handed to the sink; 0 hands over all. Counts
	// are complete either way.
	Limit int64
	// MemoryLimit bounds the bytes the hash algorithm keeps in memory
	// before spilling partitions to TempDir; 0 means 512 MiB.
	MemoryLimit int64
	// TempDir holds spill files; empty means os.TempDir().
	TempDir string
	// Workers bounds parallel partition diffs (hash) and the statements
	// bisect runs at once against each side (a checksum or a boundary
	// query of an independent key range each); 0 means GOMAXPROCS.
	Workers int
	// Algorithm defaults to Auto.
	Algorithm Algorithm
	// Allocator is used for every Arrow buffer; nil means the default.
	Allocator memory.Allocator
	// BatchRows is the batch size asked of the sources; 0 lets them choose.
	BatchRows int
	// Progress, when set, is updated as rows are read.
	Progress *Progress
	// BisectThreshold is the most rows a differing segment may hold to be
	// read rather than split again; 0 means DefaultBisectThreshold.
	BisectThreshold int64
	// BisectFactor is how many segments a differing segment above the
	// threshold is split into; 0 means DefaultBisectFactor.
	BisectFactor int
	// MaxQuerySeconds is the time, in seconds, one checksum statement of
	// bisect aims at, like pt-table-checksum's --chunk-time, so that no
	// single statement loads a source for long: the first level of
	// segments, which covers the whole table, is checksummed in chunks
	// of consecutive segments, the first of one segment, the next ones
	// sized from the measured time per segment of the slower side
	// (growing at most twofold a step). It is a target, not a timeout.
	// 0 (or less) checksums the first level in one statement per side.
	MaxQuerySeconds float64
	// ColumnRules declares normalisers and tolerances per column, keyed by
	// source column name (the target column is the one Map pairs with it,
	// or its namesake). Normalisers and tolerances run in Go, so they
	// force the comparison after fetching: bisect is refused and auto
	// streams (see ColumnRule).
	ColumnRules map[string]ColumnRule
	// Context lists columns (source names) read on both sides and handed
	// with every change that carries a row (Change.SourceContext,
	// TargetContext), whether or not they are compared: say updated_at,
	// for a rule that picks the newest side. They are read even when
	// Columns or Ignore leave them out of the comparison.
	Context []string
	// InFlight, when set, holds back rows still being copied: see InFlightRule.
	InFlight *InFlightRule
}

// maxWorkers caps Options.Workers: partitions are the unit of parallelism.
const maxWorkers = hashPartitions

// DefaultMemoryLimit is the memory budget of the hash algorithm.
const DefaultMemoryLimit = 512 << 20

// Progress counts rows read so far; safe to read from another goroutine.
type Progress struct {
	SourceRows atomic.Int64
	TargetRows atomic.Int64
}

// Sink receives the listed changes, one at a time, from a single goroutine;
// each Change is the sink's to keep.
// An error from the sink stops the diff.
type Sink func(Change) error

// Diff compares source with target and hands each listed change to sink.
// The Result is complete only when err is nil; a failed or cancelled diff
// returns the error and must not be reported as a verdict.
func Diff(ctx context.Context, src, tgt Input, opts Options, sink Sink) (*Result, error) {
	start := time.Now()
	if opts.MemoryLimit <= 0 {
		opts.MemoryLimit = DefaultMemoryLimit
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	opts.Workers = min(opts.Workers, maxWorkers)
	if opts.Allocator == nil {
		opts.Allocator = memory.DefaultAllocator
	}
	if sink == nil {
		sink = func(Change) error { return nil }
	}
	// Describing may mean reading a whole file (type inference of CSV), so
	// both sides are described at once.
	var srcInfo, tgtInfo *connectors.TableInfo
	dg, dctx := errgroup.WithContext(ctx)
	dg.Go(func() (err error) {
		if srcInfo, err = src.Source.Describe(dctx, src.Table); err != nil {
			return fmt.Errorf("describe source: %w", err)
		}
		return nil
	})
	dg.Go(func() (err error) {
		if tgtInfo, err = tgt.Source.Describe(dctx, tgt.Table); err != nil {
			return fmt.Errorf("describe target: %w", err)
		}
		return nil
	})
	if err := dg.Wait(); err != nil {
		return nil, err
	}
	p, err := buildPlan(srcInfo, tgtInfo, &opts)
	if err != nil {
		return nil, err
	}
	res := &Result{Key: p.key, Schema: p.schema}
	res.Plan.Rules = p.rules
	res.Source.Name = nameOr(src.Name, srcInfo.Name)
	res.Target.Name = nameOr(tgt.Name, tgtInfo.Name)
	describeSide(&res.Source, src.Table, srcInfo)
	describeSide(&res.Target, tgt.Table, tgtInfo)
	for _, c := range p.pairs {
		res.Compared = append(res.Compared, c.src)
		if !c.isKey {
			d := ColumnDrift{Name: c.src}
			if c.tgt != c.src {
				d.Target = c.tgt
			}
			res.Columns = append(res.Columns, d)
		}
	}
	em := &emitter{p: p, sink: sink, limit: opts.Limit, res: res, needValues: p.needValues()}

	algo := opts.Algorithm
	if algo == "" {
		algo = Auto
	}
	so, sOK := src.Source.(connectors.OrderedReader)
	to, tOK := tgt.Source.(connectors.OrderedReader)
	// Auto bisects two sources that checksum in the database, deciding
	// from a sample whether that beats streaming.
	adaptive := false
	switch algo {
	case Auto:
		if sOK && tOK {
			algo = Merge
			_, sc := src.Source.(connectors.Checksummer)
			_, tc := tgt.Source.(connectors.Checksummer)
			if sc && tc {
				algo, adaptive = Bisect, true
			}
		}
	case Merge:
		if !sOK || !tOK {
			return nil, fmt.Errorf("diff: the stream (merge) algorithm needs both sides to read in key order: %w", connectors.ErrUnsupported)
		}
	case Hash:
	case Bisect:
		// newBisector says what a side lacks.
	default:
		return nil, fmt.Errorf("diff: unknown algorithm %q (want auto, hash, merge or bisect)", algo)
	}
	if p.keyNormalised && algo == Merge && opts.Algorithm == Merge {
		return nil, fmt.Errorf("diff: the stream (merge) algorithm needs the key in the order the sources read it, which a normaliser of a key column may not keep (use --algorithm hash or auto): %w", connectors.ErrUnsupported)
	}
	res.Plan.Algorithm = string(algo)
	if algo == Auto {
		res.Plan.Algorithm = string(Merge)
	}

	ss := newSideState(SourceSide, p, &opts)
	ts := newSideState(TargetSide, p, &opts)
	ropts := func(cols []string) connectors.ReadOptions {
		return connectors.ReadOptions{Columns: cols, Allocator: opts.Allocator, BatchRows: opts.BatchRows}
	}
	tkey := make([]string, len(p.keyPairs))
	for i, k := range p.keyPairs {
		tkey[i] = p.pairs[k].tgt
	}
	// A side that can read in key order always does: a tentative merge
	// then needs only the other side to be sorted.
	readSide := func(name string, in Input, ord connectors.OrderedReader, key, cols []string, norm []normCol) openFunc {
		return func(ctx context.Context) (array.RecordReader, error) {
			var r array.RecordReader
			var err error
			if ord != nil {
				r, err = ord.ReadOrdered(ctx, in.Table, key, ropts(cols))
			} else {
				r, err = in.Source.Read(ctx, in.Table, ropts(cols))
			}
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			side := SourceSide
			if name == "target" {
				side = TargetSide
			}
			return normalising(r, side, norm, opts.Allocator), nil
		}
	}
	readSrc := readSide("source", src, so, p.key, p.srcColumns, p.srcNorm)
	readTgt := readSide("target", tgt, to, tkey, p.tgtColumns, p.tgtNorm)
	if algo == Bisect {
		b, err := newBisector(ctx, src, tgt, p, &opts, srcInfo, tgtInfo)
		switch {
		case err != nil && !adaptive:
			return nil, err
		case err != nil:
			res.Plan.Note = "segment checksums in the databases were not possible, so the table was streamed: " +
				strings.TrimPrefix(err.Error(), bisectRefusal)
			algo = Merge
		default:
			b.adaptive = adaptive
			streamed, err := bisectDiff(ctx, b, ss, ts, so, to, &opts, em, srcInfo, tgtInfo)
			var ce *checksumError
			switch {
			case err != nil && adaptive && errors.As(err, &ce) && ctx.Err() == nil:
				// Nothing was read or listed yet: stream instead.
				res.Plan.Note = "segment checksums failed, so the table was streamed: " + err.Error()
				streamed = true
			case err != nil:
				return nil, err
			}
			if streamed {
				algo = Merge
			} else {
				defer b.finish(res)
			}
		}
		res.Plan.Algorithm = string(algo)
	}
	if p.keyNormalised && algo == Merge {
		// A normalised key may not keep the order the sources read in:
		// merge tentatively, as for unordered sources.
		algo = Auto
		res.Plan.Note = joinNote(res.Plan.Note, "a key column is normalised, which may change the key order")
	}
	switch {
	case algo == Bisect:
		// Done above.
	case algo == Merge:
		sr, err := readSrc(ctx)
		if err != nil {
			return nil, err
		}
		defer sr.Release()
		tr, err := readTgt(ctx)
		if err != nil {
			return nil, err
		}
		defer tr.Release()
		if err := mergeDiff(ctx, ss, ts, sr, tr, em, true); err != nil {
			return nil, err
		}
	case opts.Algorithm == "" || opts.Algorithm == Auto:
		// Unordered sources are often in key order anyway (exports sorted
		// by primary key): try a merge that falls back to the hash
		// algorithm at the first row out of order. Changes are held back
		// until the merge has finished, so a fallback lists nothing twice.
		why, err := tryMerge(ctx, ss, ts, readSrc, readTgt, em)
		if err != nil {
			return nil, err
		}
		if why == "" {
			res.Plan.Algorithm = string(Merge)
			res.Plan.Note = joinNote(res.Plan.Note, "inputs were in key order")
			break
		}
		res.Plan.Note = joinNote(res.Plan.Note, why+"; switched to hash partitioning")
		res.Summary = Counts{}
		for i := range res.Columns {
			res.Columns[i].Changed, res.Columns[i].Tolerated = 0, 0
		}
		if opts.Progress != nil {
			opts.Progress.SourceRows.Store(0)
			opts.Progress.TargetRows.Store(0)
		}
		ss = newSideState(SourceSide, p, &opts)
		ts = newSideState(TargetSide, p, &opts)
		fallthrough
	default:
		res.Plan.Algorithm = string(Hash)
		hd := newHashDiff(p, &opts)
		defer hd.cleanup()
		err := hd.run(ctx, ss, ts, readSrc, readTgt, em)
		res.Plan.Partitions = hd.parts
		res.Plan.SpilledParts = int(hd.spilledParts.Load())
		res.Plan.SpilledBytes = hd.spilledBytes.Load()
		if err != nil {
			return nil, err
		}
	}
	ss.fill(&res.Source)
	ts.fill(&res.Target)
	addNotes(&res.Source, src.Source)
	addNotes(&res.Target, tgt.Source)
	res.Listed = em.listed
	res.Plan.Elapsed = time.Since(start)
	return res, nil
}

// describeSide records what the source says about how it was read.
func describeSide(st *SideStats, ref connectors.TableRef, info *connectors.TableInfo) {
	if ref.Name != "" || ref.Query != "" {
		st.Table = ref.String()
	}
	st.Snapshot = info.Consistency
	st.Notes = info.Notes
}

// addNotes appends what a source noted while it was read, once each.
func addNotes(st *SideStats, src connectors.Source) {
	n, ok := src.(connectors.Noter)
	if !ok {
		return
	}
	seen := map[string]bool{}
	for _, s := range st.Notes {
		seen[s] = true
	}
	for _, s := range n.Notes() {
		if !seen[s] {
			seen[s] = true
			st.Notes = append(st.Notes, s)
		}
	}
}

func nameOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sideState encodes the batches of one side and keeps its statistics.
type sideState struct {
	side        Side
	p           *plan
	np          int // compared columns; the extras after them are only read
	encs        []columnEncoder
	cols        []encCol
	rows        int64
	checksum    uint64
	colSums     []uint64
	digests     [][]uint64 // per column: the cell digests of the current batch
	rowDigests  []uint64   // the row digests of the current batch
	fast        []bool     // per column: digests straight from the Arrow buffers
	rec         arrow.Record
	isKey       []bool // per column
	encoded     []bool // per column: the current batch's cells are in cols
	progress    *atomic.Int64
	keyBuf      []byte
	rowBuf      []byte
	nullKeys    []pendingChange
	limit       int64
	memoryLimit int64
}

func newSideState(side Side, p *plan, opts *Options) *sideState {
	nc := p.rowCols()
	s := &sideState{side: side, p: p, np: len(p.pairs), cols: make([]encCol, nc), colSums: make([]uint64, len(p.pairs)), digests: make([][]uint64, len(p.pairs)), limit: opts.Limit, memoryLimit: opts.MemoryLimit}
	s.isKey = make([]bool, nc)
	s.encoded = make([]bool, nc)
	s.fast = make([]bool, nc)
	for i, c := range append(p.pairs[:len(p.pairs):len(p.pairs)], p.extras...) {
		s.isKey[i] = c.isKey
		if side == SourceSide {
			s.encs = append(s.encs, c.srcEnc)
		} else {
			s.encs = append(s.encs, c.tgtEnc)
		}
	}
	for _, r := range p.raws {
		if side == SourceSide {
			s.encs = append(s.encs, r.srcEnc)
		} else {
			s.encs = append(s.encs, r.tgtEnc)
		}
	}
	if opts.Progress != nil {
		if side == SourceSide {
			s.progress = &opts.Progress.SourceRows
		} else {
			s.progress = &opts.Progress.TargetRows
		}
	}
	return s
}

func (s *sideState) fill(st *SideStats) {
	st.Rows = s.rows
	st.Checksum = s.checksum
	for i, c := range s.p.pairs {
		st.Columns = append(st.Columns, ColumnChecksum{Name: c.src, Checksum: s.colSums[i]})
	}
}

// rowFunc receives one row with a non-NULL key: its key hash, its key
// encoding (valid only during the call) and its index in the batch.
type rowFunc func(keyHash uint64, key []byte, i int) error

// appendRow appends the row encoding of row i of the current batch: the
// cells the batch encoded, and the others encoded from the record.
func (s *sideState) appendRow(dst []byte, i int) []byte {
	for c := range s.cols {
		if s.encoded[c] {
			col := &s.cols[c]
			dst = append(dst, col.buf[col.offs[i]:col.offs[i+1]]...)
			continue
		}
		dst = s.encs[c].appendCellOrInvalid(dst, s.rec.Column(c), i)
	}
	return dst
}

// appendCellOrInvalid is appendCell for a value whose batch was digested:
// the digests came from the same values, so an error here keeps the row
// distinct (an invalid cell carrying the message) rather than lose it.
func (e *columnEncoder) appendCellOrInvalid(dst []byte, arr arrow.Array, i int) []byte {
	dst, err := e.appendCell(dst, arr, i)
	if err != nil {
		dst = appendLen(dst, tagInvalid, []byte(err.Error()))
	}
	return dst
}

// cloneEncoders copies encoders for another goroutine: their scratch space
// belongs to the goroutine that uses them.
func cloneEncoders(encs []columnEncoder) []columnEncoder {
	out := make([]columnEncoder, len(encs))
	for i, e := range encs {
		out[i] = columnEncoder{name: e.name, own: e.own, as: e.as, invalidMin: e.invalidMin}
	}
	return out
}

// batch digests one record batch, updates the statistics, records NULL-key
// rows and calls fn for every other row. Afterwards s.rowDigests and
// s.digests hold the batch's row and cell digests. Only what the digests
// and keys need is encoded: key columns, and columns whose digests cannot
// be computed from the Arrow values directly; appendRow encodes the rest of
// a row when it is needed.
// digestRange is how many rows batch digests at a time: the cell digests of
// a range of every column fit in the L2 cache.
const digestRange = 2048

func (s *sideState) batch(rec arrow.Record, fn rowFunc) error {
	if int(rec.NumCols()) != len(s.encs) {
		return fmt.Errorf("read %s: batch has %d columns, expected %d", s.side, rec.NumCols(), len(s.encs))
	}
	n := int(rec.NumRows())
	s.rec = rec
	if cap(s.rowDigests) < n {
		s.rowDigests = make([]uint64, n)
	}
	rd := s.rowDigests[:n]
	// First pass, per column: encode what must be encoded, hash the
	// columns whose digests need their encodings, and digest the first
	// range of the rest straight from the Arrow buffers.
	first := min(n, digestRange)
	for c := s.np; c < len(s.encs); c++ {
		// Columns only read (Context, InFlight) are not digested; they are
		// encoded with the rest of a row when it is needed.
		col := rec.Column(c)
		if col.Len() != n {
			return fmt.Errorf("read %s: column %s has %d rows in a batch of %d", s.side, s.encs[c].name, col.Len(), n)
		}
		s.encoded[c] = false
	}
	for c := range s.np {
		col := rec.Column(c)
		if col.Len() != n {
			return fmt.Errorf("read %s: column %s has %d rows in a batch of %d", s.side, s.encs[c].name, col.Len(), n)
		}
		if cap(s.digests[c]) < n {
			s.digests[c] = make([]uint64, n)
		}
		dig := s.digests[c][:n]
		// Keys are always encoded: the merge orders by them, the hash
		// algorithm stores them.
		s.fast[c] = s.encs[c].digestFast(col, 0, dig[:first])
		s.encoded[c] = s.isKey[c] || !s.fast[c]
		if s.encoded[c] {
			if err := s.encs[c].encode(col, &s.cols[c]); err != nil {
				return fmt.Errorf("read %s: %w", s.side, err)
			}
		}
		if !s.fast[c] {
			enc := &s.cols[c]
			for i := range dig {
				dig[i] = xxhash.Sum64(enc.buf[enc.offs[i]:enc.offs[i+1]])
			}
		}
	}
	// Then range by range, so that the cell digests are folded into the
	// row digests while they are still in the cache.
	var sum uint64
	for lo := 0; lo < n; lo += digestRange {
		hi := min(lo+digestRange, n)
		r := rd[lo:hi]
		for i := range r {
			r[i] = rowSeed
		}
		for c := range s.np {
			dig := s.digests[c][lo:hi]
			if s.fast[c] && lo > 0 {
				s.encs[c].digestFast(rec.Column(c), lo, dig)
			}
			s.colSums[c] += foldColumn(r, dig)
		}
		sum += finishRows(r)
	}
	s.checksum += sum
	keyPairs := s.p.keyPairs
	// With a one-column key, the key encoding is that column's cell, so
	// its digest is the key hash.
	var keyDigests []uint64
	if len(keyPairs) == 1 {
		keyDigests = s.digests[keyPairs[0]][:n]
	}
	for i := 0; i < n; i++ {
		var key []byte
		null := false
		if len(keyPairs) == 1 {
			// The key is the cell itself; fn copies what it keeps.
			col := &s.cols[keyPairs[0]]
			key = col.buf[col.offs[i]:col.offs[i+1]:col.offs[i+1]]
			null = key[0] == tagNull
		} else {
			key = s.keyBuf[:0]
			for _, k := range keyPairs {
				col := &s.cols[k]
				cell := col.buf[col.offs[i]:col.offs[i+1]]
				if cell[0] == tagNull {
					null = true
				}
				key = append(key, cell...)
			}
			s.keyBuf = key
		}
		if null {
			pc := pendingChange{kind: NullKey, side: s.side, key: clone(key)}
			if s.limit == 0 || int64(len(s.nullKeys)) < s.limit {
				row := s.appendRow(nil, i)
				if s.side == SourceSide {
					pc.src = row
				} else {
					pc.tgt = row
				}
			}
			s.nullKeys = append(s.nullKeys, pc)
			continue
		}
		var kh uint64
		if keyDigests != nil {
			kh = keyDigests[i]
		} else {
			kh = xxhash.Sum64(key)
		}
		if err := fn(kh, key, i); err != nil {
			return err
		}
	}
	s.rows += int64(n)
	if s.progress != nil {
		s.progress.Add(int64(n))
	}
	return nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// pendingChange is a change in encoded form; it is decoded only if listed.
type pendingChange struct {
	kind     Kind
	side     Side
	count    int64
	key      []byte
	src, tgt []byte // row encodings
	// srcAt, tgtAt: the hash algorithm's locator + 1 of a row not yet
	// encoded (rowLog), 0 if none; the row is fetched when listed.
	srcAt, tgtAt uint64
	cols         []int // changed pair indexes
	was          Kind  // for InFlight: the kind it would have been
}

// emitter counts every change and hands the first Limit ones to the sink.
type emitter struct {
	p      *plan
	sink   Sink
	limit  int64
	listed int64
	res    *Result

	// needValues: the rules need a change's row values to classify it,
	// so they are built even for a change that will only be counted.
	needValues         bool
	scratchS, scratchT []Value

	// While holding, listed changes are kept instead of handed over.
	holding   bool
	held      []pendingChange
	heldBytes int64
	maxHeld   int64
}

// tryMerge runs a merge over sources not declared ordered. It returns why
// it gave up (and no error) when an input turns out not to be in key order
// or too many changes would have to be held back; the caller then starts
// over. An empty reason means the merge completed.
func tryMerge(ctx context.Context, ss, ts *sideState, readSrc, readTgt openFunc, em *emitter) (fallback string, err error) {
	sr, err := readSrc(ctx)
	if err != nil {
		return "", err
	}
	defer sr.Release()
	tr, err := readTgt(ctx)
	if err != nil {
		return "", err
	}
	defer tr.Release()
	em.holding, em.held, em.heldBytes = true, nil, 0
	em.maxHeld = heldLimit(ss.memoryLimit)
	err = mergeDiff(ctx, ss, ts, sr, tr, em, false)
	em.holding = false
	held := em.held
	em.held, em.listed = nil, 0
	switch {
	case errors.Is(err, errUnordered):
		return "inputs not in key order", nil
	case errors.Is(err, errHeldFull):
		return "too many differences to hold back during a tentative merge", nil
	}
	if err != nil {
		return "", err
	}
	for i := range held {
		if err := em.list(&held[i]); err != nil {
			return "", err
		}
	}
	return "", nil
}

// emit counts a change and lists it, unless the limit is reached.
// listing reports whether the next change emitted will be listed, so a
// caller can skip building the values of one that would only be counted.
func (e *emitter) listing() bool { return e.needValues || e.limit <= 0 || e.listed < e.limit }

func (e *emitter) emit(pc *pendingChange) error {
	if keep, err := e.account(pc); err != nil || !keep {
		return err
	}
	if e.limit > 0 && e.listed >= e.limit {
		return nil
	}
	return e.list(pc)
}

func (e *emitter) count(pc *pendingChange) {
	e.res.Summary.add(pc.kind, 1)
	if pc.kind == Changed {
		j := 0
		for i, c := range e.p.pairs {
			if c.isKey {
				continue
			}
			for _, ci := range pc.cols {
				if ci == i {
					e.res.Columns[j].Changed++
				}
			}
			j++
		}
	}
}

// errHeldFull stops a tentative merge whose held-back changes outgrew
// their share of the memory limit.
var errHeldFull = errors.New("too many changes held back")

func (e *emitter) list(pc *pendingChange) error {
	if e.holding {
		own := pc.own()
		e.held = append(e.held, own)
		e.heldBytes += own.size()
		e.listed++
		if e.heldBytes > e.maxHeld {
			return errHeldFull
		}
		return nil
	}
	c, err := e.decode(pc)
	if err != nil {
		return err
	}
	e.listed++
	return e.sink(c)
}

// smallest keeps the limit changes with the smallest keys, so that a capped
// listing from the hash algorithm shows the same changes, in the same key
// order, as the merge algorithm. It keeps the changes it is offered as they
// are: the hash algorithm's changes already own their bytes (joinPartition
// copies them out of partition storage, NULL-key rows are copied when read).
type smallest struct {
	limit int
	h     []pendingChange // max-heap by key
}

func (s *smallest) less(i, j int) bool { return compareKeys(s.h[i].key, s.h[j].key) > 0 }

func (s *smallest) offer(pc *pendingChange) {
	if len(s.h) == s.limit {
		if compareKeys(pc.key, s.h[0].key) >= 0 {
			return
		}
		s.h[0] = *pc
		s.down(0)
		return
	}
	s.h = append(s.h, *pc)
	for i := len(s.h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s.h[i], s.h[parent] = s.h[parent], s.h[i]
		i = parent
	}
}

func (s *smallest) down(i int) {
	for {
		l, r, top := 2*i+1, 2*i+2, i
		if l < len(s.h) && s.less(l, top) {
			top = l
		}
		if r < len(s.h) && s.less(r, top) {
			top = r
		}
		if top == i {
			return
		}
		s.h[i], s.h[top] = s.h[top], s.h[i]
		i = top
	}
}

// sorted returns the kept changes in key order (stable for equal keys).
func (s *smallest) sorted() []pendingChange {
	out := s.h
	sortChanges(out)
	return out
}

func sortChanges(cs []pendingChange) {
	sort.SliceStable(cs, func(i, j int) bool {
		if c := compareKeys(cs[i].key, cs[j].key); c != 0 {
			return c < 0
		}
		return changeRank(&cs[i]) < changeRank(&cs[j])
	})
}

// changeRank orders changes of one key: source duplicates before target
// duplicates, then the rest in kind order.
func changeRank(pc *pendingChange) int { return int(pc.kind)*4 + int(pc.side) }

// size is the memory a held change takes.
func (pc *pendingChange) size() int64 {
	return int64(unsafe.Sizeof(*pc)) + int64(len(pc.key)+len(pc.src)+len(pc.tgt)+8*len(pc.cols))
}

// own returns a copy that shares no memory with partition storage.
func (pc *pendingChange) own() pendingChange {
	c := *pc
	c.key = clone(pc.key)
	if pc.src != nil {
		c.src = clone(pc.src)
	}
	if pc.tgt != nil {
		c.tgt = clone(pc.tgt)
	}
	return c
}

// decode turns a pending change into a Change whose values share no
// memory with the engine's buffers, so a sink may keep it.
func (e *emitter) decode(pc *pendingChange) (Change, error) {
	owned := pc.own()
	pc = &owned
	c := Change{Kind: pc.kind, Count: pc.count, InFlightAs: pc.was}
	if pc.kind == Duplicate || pc.kind == NullKey {
		c.Side = pc.side
	}
	keyCells, err := SplitCells(pc.key, nil)
	if err != nil || len(keyCells) != len(e.p.key) {
		return c, errors.New("decode change: corrupt key encoding")
	}
	for i, v := range keyCells {
		c.Key = append(c.Key, Field{Name: e.p.key[i], Value: v})
	}
	row := func(b []byte, only []int) (out, ctx, raw []Field, err error) {
		if b == nil {
			return nil, nil, nil, nil
		}
		cells, err := SplitCells(b, nil)
		if err != nil || len(cells) != e.p.rowCols() {
			return nil, nil, nil, errors.New("decode change: corrupt row encoding")
		}
		if only == nil {
			only = e.p.display
		}
		for _, i := range only {
			out = append(out, Field{Name: e.p.pairs[i].src, Value: cells[i]})
		}
		for j, i := range e.p.context {
			ctx = append(ctx, Field{Name: e.p.contextNames[j], Value: cells[i]})
		}
		for j, r := range e.p.raws {
			raw = append(raw, Field{Name: r.name, Value: cells[e.p.rawStart()+j]})
		}
		return out, ctx, raw, nil
	}
	var only []int
	if pc.kind == Changed || pc.was == Changed {
		only = pc.cols
		for _, i := range pc.cols {
			c.Columns = append(c.Columns, e.p.pairs[i].src)
		}
	}
	if c.Source, c.SourceContext, c.SourceRaw, err = row(pc.src, only); err != nil {
		return c, err
	}
	if c.Target, c.TargetContext, c.TargetRaw, err = row(pc.tgt, only); err != nil {
		return c, err
	}
	return c, nil
}

// changedColumns compares the first n cells of two row encodings cell by
// cell and returns the indexes of the pairs that differ.
func changedColumns(a, b []byte, n int) ([]int, error) {
	var out []int
	for i := 0; i < n && (len(a) > 0 || len(b) > 0); i++ {
		na, nb := cellLen(a), cellLen(b)
		if na < 0 || nb < 0 {
			return nil, errors.New("compare rows: corrupt row encoding")
		}
		if string(a[:na]) != string(b[:nb]) {
			out = append(out, i)
		}
		a, b = a[na:], b[nb:]
	}
	return out, nil
}

// heldLimit is how many bytes of changes may be held back to be listed in
// key order: a quarter of the memory limit, and at least 32 MiB, so that a
// small limit changes when rows spill but not what is listed.
func heldLimit(memoryLimit int64) int64 { return max(memoryLimit/4, 32<<20) }
