package reconcile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow/array"
	"golang.org/x/sync/errgroup"
)

// The merge algorithm: both sides arrive sorted by key; a single pass
// walks them in step, so memory is bounded by a few batches per side. Each
// side is read and encoded by its own goroutine; the merge runs in the
// caller's.

// errUnordered reports that an input not declared ordered turned out not to
// be in key order; the caller falls back to the hash algorithm.
var errUnordered = errors.New("input is not in key order")

type mergeRow struct {
	key, payload []byte
}

// encBatch is one encoded batch handed from a reader goroutine to the
// merge: row i is key arena[starts[2i]:starts[2i+1]] and payload
// arena[starts[2i+1]:starts[2i+2]] (the last row ends at len(arena)).
type encBatch struct {
	arena  []byte
	starts []int32
}

func (b *encBatch) len() int { return len(b.starts) / 2 }

func (b *encBatch) row(i int) mergeRow {
	end := len(b.arena)
	if 2*i+2 < len(b.starts) {
		end = int(b.starts[2*i+2])
	}
	k, p := b.starts[2*i], b.starts[2*i+1]
	return mergeRow{key: b.arena[k:p:p], payload: b.arena[p:end:end]}
}

// produce reads r, encodes every batch and sends it on out; it closes out
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
			b = &encBatch{}
		}
		b.arena, b.starts = b.arena[:0], b.starts[:0]
		err := s.batch(r.Record(), func(_ uint64, key []byte, i int) ([]byte, error) {
			start := len(b.arena)
			b.arena = append(b.arena, key...)
			b.arena = s.appendRow(b.arena, i)
			b.starts = append(b.starts, int32(start), int32(start+len(key)))
			return b.arena[start+len(key):], nil
		})
		if err != nil {
			return err
		}
		if len(b.arena) > math.MaxInt32 {
			return fmt.Errorf("read %s: a batch of %d bytes is too large; use smaller batches", s.side, len(b.arena))
		}
		if b.len() == 0 {
			continue
		}
		prev := last
		for i := 0; i < b.len(); i++ {
			k := b.row(i).key
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
		select {
		case out <- b:
		case <-ctx.Done():
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
	row    mergeRow
	pos    int
	eof    bool
	index  int64 // rows consumed, for error messages
	strict bool  // the source promised key order: a violation is an error
}

func (o *orderedSide) peek() (*mergeRow, error) {
	for o.cur == nil || o.pos >= o.cur.len() {
		if o.eof {
			return nil, nil
		}
		if o.cur != nil {
			select {
			case o.free <- o.cur:
			default:
			}
			o.cur = nil
		}
		select {
		case b, ok := <-o.in:
			if !ok {
				o.eof = true
				return nil, nil
			}
			o.cur, o.pos = b, 0
		case <-o.ctx.Done():
			return nil, o.ctx.Err()
		}
	}
	o.row = o.cur.row(o.pos)
	return &o.row, nil
}

// run consumes every row with the current key and returns a copy of the
// first one and the number of rows.
func (o *orderedSide) run() (key, payload []byte, n int64, err error) {
	first, err := o.peek()
	if err != nil || first == nil {
		return nil, nil, 0, err
	}
	// The first row is copied only when the run reaches the end of its
	// batch, which may then be recycled by the reader goroutine.
	key, payload = first.key, first.payload
	copied := false
	for {
		o.pos++
		o.index++
		n++
		if !copied && o.pos >= o.cur.len() {
			key, payload, copied = clone(key), clone(payload), true
		}
		next, err := o.peek()
		if err != nil {
			return nil, nil, 0, err
		}
		if next == nil {
			return key, payload, n, nil
		}
		c := compareKeys(next.key, key)
		if c < 0 {
			if !o.strict {
				return nil, nil, 0, errUnordered
			}
			return nil, nil, 0, fmt.Errorf("read %s: rows are not in key order (row %d has a smaller key than the row before it)", o.side, o.index+1)
		}
		if c > 0 {
			return key, payload, n, nil
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
	S := &orderedSide{ctx: gctx, side: SourceSide, in: sc, free: make(chan *encBatch, 2), strict: strict}
	T := &orderedSide{ctx: gctx, side: TargetSide, in: tc, free: make(chan *encBatch, 2), strict: strict}
	g.Go(func() error { return produce(gctx, ss, sr, sc, S.free, strict) })
	g.Go(func() error { return produce(gctx, ts, tr, tc, T.free, strict) })
	err := mergeLoop(S, T, em)
	if err != nil {
		cancel()
	}
	if werr := g.Wait(); werr != nil && !(err != nil && errors.Is(werr, context.Canceled)) {
		return werr
	}
	if err != nil {
		return err
	}
	for _, s := range []*sideState{ss, ts} {
		for i := range s.nullKeys {
			if err := em.emit(&s.nullKeys[i]); err != nil {
				return err
			}
		}
		s.nullKeys = nil
	}
	return nil
}

func mergeLoop(S, T *orderedSide, em *emitter) error {
	for {
		a, err := S.peek()
		if err != nil {
			return err
		}
		b, err := T.peek()
		if err != nil {
			return err
		}
		if a == nil && b == nil {
			return nil
		}
		c := 0
		switch {
		case b == nil:
			c = -1
		case a == nil:
			c = 1
		default:
			c = compareKeys(a.key, b.key)
		}
		if c < 0 {
			key, row, n, err := S.run()
			if err != nil {
				return err
			}
			pc := pendingChange{kind: Missing, key: key, src: row}
			if n > 1 {
				pc = pendingChange{kind: Duplicate, side: SourceSide, count: n, key: key, src: row}
			}
			if err := em.emit(&pc); err != nil {
				return err
			}
			continue
		}
		if c > 0 {
			key, row, n, err := T.run()
			if err != nil {
				return err
			}
			pc := pendingChange{kind: Extra, key: key, tgt: row}
			if n > 1 {
				pc = pendingChange{kind: Duplicate, side: TargetSide, count: n, key: key, tgt: row}
			}
			if err := em.emit(&pc); err != nil {
				return err
			}
			continue
		}
		// Same key on both sides.
		key, srow, sn, err := S.run()
		if err != nil {
			return err
		}
		_, trow, tn, err := T.run()
		if err != nil {
			return err
		}
		if sn > 1 {
			if err := em.emit(&pendingChange{kind: Duplicate, side: SourceSide, count: sn, key: key, src: srow}); err != nil {
				return err
			}
		}
		if tn > 1 {
			if err := em.emit(&pendingChange{kind: Duplicate, side: TargetSide, count: tn, key: key, tgt: trow}); err != nil {
				return err
			}
		}
		if sn > 1 || tn > 1 {
			continue
		}
		if bytes.Equal(srow, trow) {
			em.res.Summary.Matched++
			continue
		}
		cols, err := changedColumns(srow, trow)
		if err != nil {
			return err
		}
		if err := em.emit(&pendingChange{kind: Changed, key: key, src: srow, tgt: trow, cols: cols}); err != nil {
			return err
		}
	}
}

// compareKeys orders two key encodings cell by cell: numbers numerically
// (-Inf < finite < +Inf < NaN), text and binary byte-wise, instants, dates
// and times chronologically, NULL after everything. Cells of different
// kinds order by their tag.
func compareKeys(a, b []byte) int {
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
