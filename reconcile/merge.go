package reconcile

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/apache/arrow/go/v17/arrow/array"
)

// The merge algorithm: both sides arrive sorted by key; a single pass
// walks them in step, so memory is bounded by one batch per side.

type mergeRow struct {
	key, payload []byte
}

type orderedSide struct {
	ctx   context.Context
	s     *sideState
	r     array.RecordReader
	rows  []mergeRow
	arena []byte
	pos   int
	eof   bool
	index int64 // rows consumed, for error messages
}

func (o *orderedSide) fill() error {
	for o.pos >= len(o.rows) && !o.eof {
		if err := o.ctx.Err(); err != nil {
			return err
		}
		if !o.r.Next() {
			if err := o.r.Err(); err != nil {
				return fmt.Errorf("read %s: %w", o.s.side, err)
			}
			o.eof = true
			return o.ctx.Err()
		}
		o.rows, o.arena, o.pos = o.rows[:0], o.arena[:0], 0
		var spans [][2]int
		err := o.s.batch(o.r.Record(), func(_ uint64, key []byte, i int) ([]byte, error) {
			start := len(o.arena)
			o.arena = append(o.arena, key...)
			o.arena = o.s.appendRow(o.arena, i)
			spans = append(spans, [2]int{start, len(key)})
			return o.arena[start+len(key):], nil
		})
		if err != nil {
			return err
		}
		for i, sp := range spans {
			end := len(o.arena)
			if i+1 < len(spans) {
				end = spans[i+1][0]
			}
			o.rows = append(o.rows, mergeRow{key: o.arena[sp[0] : sp[0]+sp[1]], payload: o.arena[sp[0]+sp[1] : end]})
		}
	}
	return nil
}

func (o *orderedSide) peek() (*mergeRow, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	if o.pos >= len(o.rows) {
		return nil, nil
	}
	return &o.rows[o.pos], nil
}

// run consumes every row with the current key and returns a copy of the
// first one and the number of rows.
func (o *orderedSide) run() (key, payload []byte, n int64, err error) {
	first, err := o.peek()
	if err != nil || first == nil {
		return nil, nil, 0, err
	}
	key, payload = clone(first.key), clone(first.payload)
	for {
		o.pos++
		o.index++
		n++
		next, err := o.peek()
		if err != nil {
			return nil, nil, 0, err
		}
		if next == nil {
			return key, payload, n, nil
		}
		c := compareKeys(next.key, key)
		if c < 0 {
			return nil, nil, 0, fmt.Errorf("read %s: rows are not in key order (row %d has a smaller key than the row before it)", o.s.side, o.index+1)
		}
		if c > 0 {
			return key, payload, n, nil
		}
	}
}

func mergeDiff(ctx context.Context, ss, ts *sideState, sr, tr array.RecordReader, em *emitter) error {
	S := &orderedSide{ctx: ctx, s: ss, r: sr}
	T := &orderedSide{ctx: ctx, s: ts, r: tr}
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
			break
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
		// Same key on both sides. Compare before copying: the common case
		// is two equal single rows.
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

// compareKeys orders two key encodings cell by cell: NULL first, numbers
// numerically, text and binary byte-wise, instants, dates and times
// chronologically. Cells of different kinds order by their tag.
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
		return -1
	}
	if tb == tagNull {
		return 1
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

func compareNumbers(a, b []byte) int {
	x, xok := numberRat(a)
	y, yok := numberRat(b)
	if !xok || !yok {
		return bytes.Compare(a, b)
	}
	return x.Cmp(y)
}

func numberRat(v []byte) (*big.Rat, bool) {
	if v[0] == tagInt {
		return new(big.Rat).SetInt64(int64(binary.BigEndian.Uint64(v[1:]))), true
	}
	d, ok := parseDecimalBytes(Value(v).payload())
	if !ok {
		return nil, false
	}
	digits := string(d.digits)
	if digits == "" {
		digits = "0"
	}
	r, ok := new(big.Rat).SetString(digits)
	if !ok {
		return nil, false
	}
	if d.exp != 0 && d.exp > -400 && d.exp < 400 {
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(d.exp))), nil)
		if d.exp > 0 {
			r.Mul(r, new(big.Rat).SetInt(p))
		} else {
			r.Quo(r, new(big.Rat).SetInt(p))
		}
	}
	if d.neg {
		r.Neg(r)
	}
	return r, true
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
