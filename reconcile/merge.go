package reconcile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"golang.org/x/sync/errgroup"
)

// The merge algorithm: both sides arrive sorted by key; a single pass
// walks them in step, so memory is bounded by a few batches per side. Each
// side is read and digested by its own goroutine; the merge runs in the
// caller's. Rows are compared by their digests; the values of a row are
// encoded only when a report lists it.

// errUnordered reports that an input not declared ordered turned out not to
// be in key order; the caller falls back to the hash algorithm.
var errUnordered = errors.New("input is not in key order")

// encBatch is one digested batch handed from a reader goroutine to the
// merge. Row r (a row of the record with a non-NULL key) has its key
// encoding in keys, its row digest and cell digests, and its index in rec,
// from which the merge encodes the values of the few rows a report shows.
type encBatch struct {
	keys    []byte
	keyEnds []int32 // row r's key is keys[keyEnds[r]:keyEnds[r+1]]
	idx     []int32
	digest  []uint64     // by record row
	cells   [][]uint64   // per column, by record row
	rec     arrow.Record // retained while the batch is in use
	encs    []columnEncoder
}

func (b *encBatch) len() int { return len(b.idx) }

func (b *encBatch) key(r int) []byte {
	end := b.keyEnds[r+1]
	return b.keys[b.keyEnds[r]:end:end]
}

// values appends the row encoding of row r.
func (b *encBatch) values(dst []byte, r int) ([]byte, error) {
	i := int(b.idx[r])
	for c := range b.encs {
		var err error
		if dst, err = b.encs[c].appendCell(dst, b.rec.Column(c), i); err != nil {
			return nil, fmt.Errorf("encode column %s: %w", b.encs[c].name, err)
		}
	}
	return dst, nil
}

func (b *encBatch) releaseRecord() {
	if b.rec != nil {
		b.rec.Release()
		b.rec = nil
	}
}

// mergeRow is one row under the merge: row r of batch b, or detached (its
// key, digests and values copied out) once that batch may be recycled.
type mergeRow struct {
	key     []byte
	b       *encBatch
	r       int
	digest  uint64   // when detached
	cells   []uint64 // when detached
	payload []byte   // when detached
}

func (m *mergeRow) rowDigest() uint64 {
	if m.b == nil {
		return m.digest
	}
	return m.b.digest[m.b.idx[m.r]]
}

func (m *mergeRow) cell(c int) uint64 {
	if m.b == nil {
		return m.cells[c]
	}
	return m.b.cells[c][m.b.idx[m.r]]
}

func (m *mergeRow) values() ([]byte, error) {
	if m.b == nil {
		return m.payload, nil
	}
	return m.b.values(nil, m.r)
}

func (m *mergeRow) detach() error {
	if m.b == nil {
		return nil
	}
	p, err := m.values()
	if err != nil {
		return err
	}
	cells := make([]uint64, len(m.b.cells))
	for c := range cells {
		cells[c] = m.cell(c)
	}
	m.digest, m.cells, m.payload, m.key, m.b = m.rowDigest(), cells, p, clone(m.key), nil
	return nil
}

// produce reads r, digests every batch and sends it on out; it closes out
// when r is exhausted. Batches come back through free for reuse, so a side
// holds at most a handful of batches.
//
// The producer checks its side's key order as it goes, so that an input out
// of order stops a tentative merge at once rather than when the merge
// reaches the row (which, against a sorted other side, may be most of it).
func produce(ctx context.Context, s *sideState, r array.RecordReader, out chan<- *encBatch, free chan *encBatch, strict bool) (err error) {
	// Closing out tells the merge this side is complete, so it is closed
	// only on a clean end: after a failure the merge must see the
	// cancellation, never a short input.
	defer func() {
		if err == nil {
			close(out)
		}
	}()
	// The merge goroutine encodes listed rows with its own copy of the
	// encoders.
	encs := cloneEncoders(s.encs)
	nc := s.np
	var last []byte // the last key of the previous batch
	var seen int64  // rows before this batch, for messages
	for r.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		var b *encBatch
		select {
		case b = <-free:
		default:
			b = &encBatch{encs: encs, cells: make([][]uint64, nc)}
		}
		b.keys, b.keyEnds, b.idx = b.keys[:0], append(b.keyEnds[:0], 0), b.idx[:0]
		rec := r.Record()
		// With a one-column key the batch can take that column's
		// encodings as they are, unless a NULL key leaves a row out; the
		// key bytes are then copied row by row.
		oneKey := len(s.p.keyPairs) == 1
		err := s.batch(rec, func(_ uint64, key []byte, i int) error {
			if !oneKey {
				b.keys = append(b.keys, key...)
				b.keyEnds = append(b.keyEnds, int32(len(b.keys)))
			}
			b.idx = append(b.idx, int32(i))
			return nil
		})
		if err != nil {
			return err
		}
		if oneKey {
			col := &s.cols[s.p.keyPairs[0]]
			if b.len() == int(rec.NumRows()) {
				b.keys, col.buf = col.buf, b.keys[:0]
				b.keyEnds, col.offs = col.offs, b.keyEnds[:0]
			} else {
				for _, i := range b.idx {
					b.keys = append(b.keys, col.cell(int(i))...)
					b.keyEnds = append(b.keyEnds, int32(len(b.keys)))
				}
			}
		}
		if len(b.keys) > math.MaxInt32 {
			return fmt.Errorf("read %s: a batch of %d key bytes is too large; use smaller batches", s.side, len(b.keys))
		}
		if b.len() == 0 {
			continue
		}
		// The batch takes the digest vectors; the side gets the batch's
		// old ones to fill next.
		n := int(rec.NumRows())
		b.digest, s.rowDigests = s.rowDigests[:n], b.digest[:0]
		for c := range b.cells {
			b.cells[c], s.digests[c] = s.digests[c][:n], b.cells[c][:0]
		}
		prev := last
		for i := 0; i < b.len(); i++ {
			k := b.key(i)
			if prev != nil && compareKeys(prev, k) > 0 {
				if !strict {
					return errUnordered
				}
				return fmt.Errorf("read %s: rows are not in key order (row %d has a smaller key than the row before it)", s.side, seen+int64(i)+1)
			}
			prev = k
		}
		last = append(last[:0], prev...)
		seen += int64(b.len())
		rec.Retain()
		b.rec = rec
		select {
		case out <- b:
		case <-ctx.Done():
			b.releaseRecord()
			return ctx.Err()
		}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("read %s: %w", s.side, err)
	}
	return ctx.Err()
}

type orderedSide struct {
	ctx    context.Context
	side   Side
	in     <-chan *encBatch
	free   chan *encBatch
	cur    *encBatch
	pos    int
	eof    bool
	index  int64 // rows consumed, for error messages
	strict bool  // the source promised key order: a violation is an error
	nc     int   // columns
}

func (o *orderedSide) recycle() {
	if o.cur == nil {
		return
	}
	o.cur.releaseRecord()
	select {
	case o.free <- o.cur:
	default:
	}
	o.cur = nil
}

// drain releases what the merge still holds of this side once both
// producers have stopped.
func (o *orderedSide) drain() {
	o.recycle()
	for {
		select {
		case b, ok := <-o.in:
			if !ok {
				return
			}
			b.releaseRecord()
		default:
			return
		}
	}
}

// peek makes the next row current (o.cur, o.pos) and reports whether
// there is one.
func (o *orderedSide) peek() (bool, error) {
	for o.cur == nil || o.pos >= len(o.cur.idx) {
		if o.eof {
			return false, nil
		}
		o.recycle()
		select {
		case b, ok := <-o.in:
			if !ok {
				o.eof = true
				return false, nil
			}
			o.cur, o.pos = b, 0
		case <-o.ctx.Done():
			return false, o.ctx.Err()
		}
	}
	return true, nil
}

// key is the key of the current row.
func (o *orderedSide) key() []byte { return o.cur.key(o.pos) }

// run consumes every row with the current key and returns the first one
// and the number of rows.
func (o *orderedSide) run() (first mergeRow, n int64, err error) {
	if ok, err := o.peek(); err != nil || !ok {
		return mergeRow{}, 0, err
	}
	// The first row is detached only when the run reaches the end of its
	// batch, which may then be recycled by the reader goroutine.
	first = mergeRow{key: o.key(), b: o.cur, r: o.pos}
	for {
		o.pos++
		o.index++
		n++
		if o.pos >= len(o.cur.idx) {
			if err := first.detach(); err != nil {
				return mergeRow{}, 0, err
			}
		}
		ok, err := o.peek()
		if err != nil {
			return mergeRow{}, 0, err
		}
		if !ok {
			return first, n, nil
		}
		c := compareKeys(o.key(), first.key)
		if c < 0 {
			if !o.strict {
				return mergeRow{}, 0, errUnordered
			}
			return mergeRow{}, 0, fmt.Errorf("read %s: rows are not in key order (row %d has a smaller key than the row before it)", o.side, o.index+1)
		}
		if c > 0 {
			return first, n, nil
		}
	}
}

// mergeDiff diffs two readers in key order. With strict false, an input
// found out of order stops the merge with errUnordered.
func mergeDiff(ctx context.Context, ss, ts *sideState, sr, tr array.RecordReader, em *emitter, strict bool) error {
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(mctx)
	sc, tc := make(chan *encBatch, 1), make(chan *encBatch, 1)
	nc := ss.np
	S := &orderedSide{ctx: gctx, side: SourceSide, in: sc, free: make(chan *encBatch, 2), strict: strict, nc: nc}
	T := &orderedSide{ctx: gctx, side: TargetSide, in: tc, free: make(chan *encBatch, 2), strict: strict, nc: nc}
	g.Go(func() error { return produce(gctx, ss, sr, sc, S.free, strict) })
	g.Go(func() error { return produce(gctx, ts, tr, tc, T.free, strict) })
	err := mergeLoop(S, T, em)
	if err != nil {
		cancel()
	}
	werr := g.Wait()
	S.drain()
	T.drain()
	if werr != nil && !(err != nil && errors.Is(werr, context.Canceled)) {
		return werr
	}
	if err != nil {
		return err
	}
	for _, s := range []*sideState{ss, ts} {
		for i := range s.nullKeys {
			if err := listedSoFar(ctx, i); err != nil {
				return err
			}
			if err := em.emit(&s.nullKeys[i]); err != nil {
				return err
			}
		}
		s.nullKeys = nil
	}
	return nil
}

// emitRun reports the rows of one key found on one side only (Missing or
// Extra), or a duplicated key.
func emitRun(em *emitter, kind Kind, side Side, row *mergeRow, n int64) error {
	pc := pendingChange{kind: kind, key: row.key}
	if n > 1 {
		pc = pendingChange{kind: Duplicate, side: side, count: n, key: row.key}
	}
	if em.listing() {
		v, err := row.values()
		if err != nil {
			return err
		}
		if side == SourceSide {
			pc.src = v
		} else {
			pc.tgt = v
		}
	}
	return em.emit(&pc)
}

func mergeLoop(S, T *orderedSide, em *emitter) error {
	for {
		matchRun(S, T, em)
		a, err := S.peek()
		if err != nil {
			return err
		}
		b, err := T.peek()
		if err != nil {
			return err
		}
		if !a && !b {
			return nil
		}
		c := 0
		switch {
		case !b:
			c = -1
		case !a:
			c = 1
		default:
			c = compareKeys(S.key(), T.key())
		}
		if c < 0 {
			row, n, err := S.run()
			if err != nil {
				return err
			}
			if err := emitRun(em, Missing, SourceSide, &row, n); err != nil {
				return err
			}
			continue
		}
		if c > 0 {
			row, n, err := T.run()
			if err != nil {
				return err
			}
			if err := emitRun(em, Extra, TargetSide, &row, n); err != nil {
				return err
			}
			continue
		}
		// Same key on both sides.
		srow, sn, err := S.run()
		if err != nil {
			return err
		}
		trow, tn, err := T.run()
		if err != nil {
			return err
		}
		if sn > 1 {
			if err := emitRun(em, Duplicate, SourceSide, &srow, sn); err != nil {
				return err
			}
		}
		if tn > 1 {
			if err := emitRun(em, Duplicate, TargetSide, &trow, tn); err != nil {
				return err
			}
		}
		if sn > 1 || tn > 1 {
			continue
		}
		if srow.rowDigest() == trow.rowDigest() {
			em.res.Summary.Matched++
			continue
		}
		var cols []int
		for c := range S.nc {
			if srow.cell(c) != trow.cell(c) {
				cols = append(cols, c)
			}
		}
		pc := pendingChange{kind: Changed, key: srow.key, cols: cols}
		if em.listing() {
			if pc.src, err = srow.values(); err != nil {
				return err
			}
			if pc.tgt, err = trow.values(); err != nil {
				return err
			}
		}
		if err := em.emit(&pc); err != nil {
			return err
		}
	}
}

// matchRun is the merge's common case, taken without leaving the current
// batches: while the current rows of both sides have the same key, neither
// side repeats it in its next row, and the row digests agree, the pair is
// matched. It stops at the first row that needs more (a difference, a
// duplicate, the end of a batch), which the general loop then handles. Key
// order needs no check here: the producers checked it.
func matchRun(S, T *orderedSide, em *emitter) {
	sb, tb := S.cur, T.cur
	if sb == nil || tb == nil {
		return
	}
	sp, tp := S.pos, T.pos
	sEnd, tEnd := sb.len()-1, tb.len()-1
	var matched int64
	for sp < sEnd && tp < tEnd {
		sk := sb.key(sp)
		if compareKeys(sk, tb.key(tp)) != 0 ||
			compareKeys(sb.key(sp+1), sk) == 0 || compareKeys(tb.key(tp+1), sk) == 0 ||
			sb.digest[sb.idx[sp]] != tb.digest[tb.idx[tp]] {
			break
		}
		sp++
		tp++
		matched++
	}
	S.index += int64(sp - S.pos)
	T.index += int64(tp - T.pos)
	S.pos, T.pos = sp, tp
	em.res.Summary.Matched += matched
}

// compareKeys orders two key encodings cell by cell: numbers numerically
// (-Inf < finite < +Inf < NaN), text and binary byte-wise, instants, dates
// and times chronologically, NULL after everything. Cells of different
// kinds order by their tag.
func compareKeys(a, b []byte) int {
	if len(a) == 9 && len(b) == 9 && a[0] == tagInt && b[0] == tagInt {
		// A one-column integer key, the commonest case.
		x, y := int64(binary.BigEndian.Uint64(a[1:])), int64(binary.BigEndian.Uint64(b[1:]))
		return cmp3(x < y, x > y)
	}
	for len(a) > 0 && len(b) > 0 {
		na, nb := cellLen(a), cellLen(b)
		if na < 0 || nb < 0 {
			return bytes.Compare(a, b)
		}
		if c := compareCell(a[:na], b[:nb]); c != 0 {
			return c
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

func compareCell(a, b []byte) int {
	ta, tb := a[0], b[0]
	if ta == tb {
		switch ta {
		case tagInt, tagTimestamp, tagTime:
			x, y := int64(binary.BigEndian.Uint64(a[1:])), int64(binary.BigEndian.Uint64(b[1:]))
			return cmp3(x < y, x > y)
		case tagDate:
			x, y := int32(binary.BigEndian.Uint32(a[1:])), int32(binary.BigEndian.Uint32(b[1:]))
			return cmp3(x < y, x > y)
		case tagNumber:
			return compareNumbers(a, b)
		case tagText, tagBinary, tagJSON, tagInvalid:
			return bytes.Compare(Value(a).payload(), Value(b).payload())
		}
		return bytes.Compare(a, b)
	}
	if (ta == tagInt || ta == tagNumber) && (tb == tagInt || tb == tagNumber) {
		return compareNumbers(a, b)
	}
	if ta == tagNull {
		return 1
	}
	if tb == tagNull {
		return -1
	}
	return cmp3(ta < tb, ta > tb)
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

// numKey is a canonical number taken apart for ordering.
type numKey struct {
	rank   int // 0 -Inf, 1 finite, 2 +Inf, 3 NaN
	neg    bool
	digits []byte // no leading or trailing zeros; empty for zero
	exp    int
}

func toNumKey(v []byte, scratch []byte) (numKey, bool) {
	if v[0] == tagInt {
		x := int64(binary.BigEndian.Uint64(v[1:]))
		k := numKey{rank: 1, neg: x < 0}
		var u uint64
		if x < 0 {
			u = uint64(-(x + 1)) + 1
		} else {
			u = uint64(x)
		}
		d := decimal{digits: strconv.AppendUint(scratch[:0], u, 10)}.normal()
		k.digits, k.exp = d.digits, d.exp
		return k, true
	}
	p := Value(v).payload()
	switch string(p) {
	case "NaN":
		return numKey{rank: 3}, true
	case "Inf":
		return numKey{rank: 2}, true
	case "-Inf":
		return numKey{rank: 0}, true
	}
	d, ok := parseDecimalBytes(p)
	if !ok {
		return numKey{}, false
	}
	d = d.normal()
	return numKey{rank: 1, neg: d.neg, digits: d.digits, exp: d.exp}, true
}

// compareNumbers orders two canonical numbers exactly, without converting
// them to binary floats.
func compareNumbers(a, b []byte) int {
	var sa, sb [24]byte
	x, xok := toNumKey(a, sa[:])
	y, yok := toNumKey(b, sb[:])
	if !xok || !yok {
		return bytes.Compare(a, b)
	}
	if x.rank != y.rank {
		return cmp3(x.rank < y.rank, x.rank > y.rank)
	}
	if x.rank != 1 {
		return 0
	}
	// Signs: negative < zero < positive.
	sign := func(k numKey) int {
		switch {
		case len(k.digits) == 0:
			return 0
		case k.neg:
			return -1
		}
		return 1
	}
	if s1, s2 := sign(x), sign(y); s1 != s2 || s1 == 0 {
		return cmp3(s1 < s2, s1 > s2)
	}
	// Same sign, both non-zero: compare magnitudes, then flip for negatives.
	mag := 0
	if ox, oy := len(x.digits)+x.exp, len(y.digits)+y.exp; ox != oy {
		mag = cmp3(ox < oy, ox > oy)
	} else {
		mag = bytes.Compare(x.digits, y.digits)
	}
	if x.neg {
		return -mag
	}
	return mag
}
