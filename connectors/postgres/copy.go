package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
)

// copySignature opens every binary COPY stream.
const copySignature = "PGCOPY\n\xff\r\n\x00"

// decodeError is a value or a stream the connector cannot decode. It wraps
// connectors.ErrBadInput and is never retried.
type decodeError struct {
	column string
	msg    string
}

func (e *decodeError) Error() string {
	if e.column == "" {
		return e.msg
	}
	return fmt.Sprintf("column %s: %s", e.column, e.msg)
}

func (e *decodeError) Unwrap() error { return connectors.ErrBadInput }

// sink is where one field of the COPY rows goes: an Arrow builder of the
// column's type, or nowhere for a key column read only to resume.
type sink struct {
	col     *colPlan
	key     int           // the position in the key, -1 for none
	bytes   int64         // bytes in a variable-width builder
	builder array.Builder // nil for a key-only field
	i16     *array.Int16Builder
	i32     *array.Int32Builder
	i64     *array.Int64Builder
	f32     *array.Float32Builder
	f64     *array.Float64Builder
	dec     *array.Decimal128Builder
	str     *array.BinaryBuilder // of a String builder
	bin     *array.BinaryBuilder
	boolean *array.BooleanBuilder
	date    *array.Date32Builder
	ts      *array.TimestampBuilder
	clock   *array.Time64Builder
}

func newSink(mem memory.Allocator, col *colPlan, output bool) sink {
	s := sink{col: col}
	if !output {
		return s
	}
	s.builder = array.NewBuilder(mem, col.field.Type)
	switch b := s.builder.(type) {
	case *array.Int16Builder:
		s.i16 = b
	case *array.Int32Builder:
		s.i32 = b
	case *array.Int64Builder:
		s.i64 = b
	case *array.Float32Builder:
		s.f32 = b
	case *array.Float64Builder:
		s.f64 = b
	case *array.Decimal128Builder:
		s.dec = b
	case *array.StringBuilder:
		s.str = b.BinaryBuilder
	case *array.BinaryBuilder:
		s.bin = b
	case *array.BooleanBuilder:
		s.boolean = b
	case *array.Date32Builder:
		s.date = b
	case *array.TimestampBuilder:
		s.ts = b
	case *array.Time64Builder:
		s.clock = b
	}
	return s
}

// keyState is a key value in binary form and how many rows in a row had
// it.
type keyState struct {
	vals [][]byte
	null []bool
	set  bool
	run  int
}

func (k *keyState) copyFrom(o *keyState) {
	k.setTo(o.vals, o.null)
	k.set = o.set
	k.run = o.run
}

// setTo copies a key's values into k, reusing k's buffers.
func (k *keyState) setTo(vals [][]byte, null []bool) {
	k.vals = k.vals[:0]
	for i, v := range vals {
		if i < cap(k.vals) {
			k.vals = k.vals[:i+1]
			k.vals[i] = append(k.vals[i][:0], v...)
		} else {
			k.vals = append(k.vals, append([]byte(nil), v...))
		}
	}
	k.null = append(k.null[:0], null...)
}

// Batch limits beyond the row count.
var (
	// batchByteBudget: a batch is emitted once its variable-width
	// columns (text, bytea, JSON, ...) hold this many bytes, so memory
	// stays at a couple of batches whatever the rows' width.
	batchByteBudget int64 = 64 << 20
	// maxVarBytes is what one variable-width Arrow column of a batch can
	// hold: its offsets are 32-bit.
	maxVarBytes int64 = math.MaxInt32
)

// errRunCut: a resumed read found more rows of the last key handed on
// than it had handed on, and has no tie-breaker to tell which were read.
var errRunCut = errors.New("more rows share the last key handed on")

// copyDecoder is the io.Writer a binary COPY is written to. It parses
// the stream in the buffers it is handed, wherever they split it, and
// appends each field straight to its builder; every batchRows rows, or
// once the variable-width columns hold batchBytes bytes, it calls emit.
// After a failure it records the error, calls abort (which cancels the
// statement) and discards the rest: Write never fails, so the connection
// sees the cancellation through and is not cut mid-message.
type copyDecoder struct {
	sinks      []sink
	keys       []int // the field index of each key column, in key order
	unique     bool  // no two rows share a key: its run is always 1
	batchRows  int
	batchBytes int64
	maxVar     int64
	emit       func() error
	abort      func()

	carry    []byte // the start of a row split across writes
	header   bool
	ended    bool
	rows     int   // rows in the builders
	varBytes int64 // bytes in the variable-width builders
	err      error
	bytes    int64
	scratch  []byte
	uuid     [36]byte

	// Key tracking, for resuming an ordered read.
	cur     keyState // the key of the last row decoded (once committed)
	pending bool     // kv, kn hold the key of the last row decoded, not yet in cur
	skip    int      // rows of key skipTo still to skip after a resume
	check   bool     // a resume skipped its rows: the next row must have another key
	skipTo  keyState
	kv      [][]byte // this row's key fields, in the buffer being parsed
	kn      []bool
}

// newDecoder returns a decoder of COPY rows holding the plan columns
// fields, of which the first nOut are output columns; keys are the field
// positions of the key columns (tie-breakers included), unique says no
// two rows share a key.
func newDecoder(mem memory.Allocator, p *tablePlan, fields []int, nOut int, keys []int, unique bool, batchRows int) *copyDecoder {
	d := &copyDecoder{keys: keys, unique: unique, batchRows: batchRows, batchBytes: batchByteBudget, maxVar: maxVarBytes}
	for i, f := range fields {
		d.sinks = append(d.sinks, newSink(mem, p.col(f), i < nOut))
		d.sinks[i].key = -1
	}
	for k, f := range keys {
		d.sinks[f].key = k
	}
	d.kv = make([][]byte, len(keys))
	d.kn = make([]bool, len(keys))
	return d
}

// reset prepares for a new COPY stream that skips the first rows
// (last.run of them, which must have key last) and continues key
// tracking from last. Rows in the builders are dropped.
func (d *copyDecoder) reset(last *keyState) {
	d.carry = d.carry[:0]
	d.header, d.ended, d.err = false, false, nil
	d.dropRows()
	d.skip, d.check, d.pending = 0, false, false
	d.cur = keyState{}
	if last != nil && last.set {
		d.skip = last.run
		d.skipTo.copyFrom(last)
		d.cur.copyFrom(last)
	}
}

// arrays hands over the rows in the output builders as arrays, and
// starts a new batch. The key of the last row is then in cur.
func (d *copyDecoder) arrays(n int) []arrow.Array {
	d.commit()
	cols := make([]arrow.Array, n)
	for i := range cols {
		cols[i] = d.sinks[i].builder.NewArray()
	}
	d.batchDone()
	return cols
}

// dropRows empties the builders.
func (d *copyDecoder) dropRows() {
	if d.rows == 0 {
		return
	}
	for _, s := range d.sinks {
		if s.builder != nil {
			s.builder.NewArray().Release()
		}
	}
	d.batchDone()
}

func (d *copyDecoder) batchDone() {
	d.rows, d.varBytes = 0, 0
	for i := range d.sinks {
		d.sinks[i].bytes = 0
	}
}

// commit copies the key of the last row decoded into cur, before the
// buffer it lies in goes. Only a unique key defers this: a key that may
// repeat is compared row by row.
func (d *copyDecoder) commit() {
	if d.pending {
		d.cur.setTo(d.kv, d.kn)
		d.cur.set = true
		d.cur.run = 1
		d.pending = false
	}
}

func (d *copyDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
		if d.abort != nil {
			d.abort()
		}
	}
}

func (d *copyDecoder) Write(p []byte) (int, error) {
	n := len(p)
	d.bytes += int64(n)
	if d.err != nil {
		return n, nil
	}
	buf := p
	if len(d.carry) > 0 {
		d.carry = append(d.carry, p...)
		buf = d.carry
	}
	used, err := d.parse(buf)
	if err != nil {
		d.fail(err)
		return n, nil
	}
	rest := buf[used:]
	if len(d.carry) > 0 {
		d.carry = d.carry[:copy(d.carry, rest)]
	} else if len(rest) > 0 {
		d.carry = append(d.carry[:0], rest...)
	}
	return n, nil
}

// parse consumes the complete rows at the start of buf and returns how
// many bytes they took.
func (d *copyDecoder) parse(buf []byte) (int, error) {
	// The key of the last row lies in buf: keep it before buf goes.
	defer d.commit()
	pos := 0
	if !d.header {
		if len(buf) < 19 {
			return 0, nil
		}
		if string(buf[:11]) != copySignature {
			return 0, &decodeError{msg: "the COPY stream has no binary COPY signature"}
		}
		ext := int(int32(binary.BigEndian.Uint32(buf[15:])))
		if ext < 0 {
			return 0, &decodeError{msg: "bad binary COPY header"}
		}
		if len(buf)-19 < ext {
			return 0, nil
		}
		pos = 19 + ext
		d.header = true
	}
	nf := len(d.sinks)
	for {
		if d.ended {
			if pos < len(buf) {
				return pos, &decodeError{msg: "data after the end of the binary COPY stream"}
			}
			return pos, nil
		}
		if len(buf)-pos < 2 {
			return pos, nil
		}
		count := int(int16(binary.BigEndian.Uint16(buf[pos:])))
		if count == -1 {
			d.ended = true
			pos += 2
			continue
		}
		if count != nf {
			return pos, &decodeError{msg: fmt.Sprintf("a COPY row has %d fields, want %d", count, nf)}
		}
		// Find the end of the row before decoding any of it.
		q := pos + 2
		for i := 0; i < nf; i++ {
			if len(buf)-q < 4 {
				return pos, nil
			}
			l := int(int32(binary.BigEndian.Uint32(buf[q:])))
			q += 4
			if l > 0 {
				if len(buf)-q < l {
					return pos, nil
				}
				q += l
			} else if l < -1 {
				return pos, &decodeError{column: d.sinks[i].col.name, msg: fmt.Sprintf("bad field length %d", l)}
			}
		}
		if d.rows > 0 && d.varBytes+int64(q-pos) > d.maxVar {
			// Far from happening with the byte budget well below the
			// offsets' limit; but a column's offsets must never overflow.
			if err := d.emit(); err != nil {
				return pos, err
			}
		}
		if err := d.row(buf[pos+2 : q]); err != nil {
			return pos, err
		}
		pos = q
		if d.rows >= d.batchRows || d.varBytes >= d.batchBytes {
			if err := d.emit(); err != nil {
				return pos, err
			}
		}
	}
}

// row decodes one complete row (its fields, after the field count).
func (d *copyDecoder) row(b []byte) error {
	if d.skip > 0 || d.check {
		d.keyFields(b)
		if d.skip > 0 {
			if !d.sameKey(&d.skipTo) {
				return &decodeError{msg: "resuming: the rows read again differ from those read before the connection was lost"}
			}
			d.skip--
			d.check = d.skip == 0
			return nil
		}
		d.check = false
		if d.sameKey(&d.skipTo) {
			return errRunCut
		}
	}
	q := 0
	for i := range d.sinks {
		s := &d.sinks[i]
		l := int(int32(binary.BigEndian.Uint32(b[q:])))
		q += 4
		if l < 0 {
			if s.key >= 0 {
				d.kv[s.key], d.kn[s.key] = nil, true
			}
			if s.builder != nil {
				s.builder.AppendNull()
			}
			continue
		}
		v := b[q : q+l]
		q += l
		if s.key >= 0 {
			d.kv[s.key], d.kn[s.key] = v, false
		}
		if s.builder != nil {
			if err := d.appendValue(s, v); err != nil {
				return err
			}
		}
	}
	if len(d.keys) > 0 {
		switch {
		case d.unique:
			d.pending = true
		case d.cur.set && d.sameKey(&d.cur):
			d.cur.run++
		default:
			d.cur.setTo(d.kv, d.kn)
			d.cur.set = true
			d.cur.run = 1
		}
	}
	d.rows++
	return nil
}

// keyFields picks this row's key fields out of b into kv and kn.
func (d *copyDecoder) keyFields(b []byte) {
	q := 0
	for i := range d.sinks {
		l := int(int32(binary.BigEndian.Uint32(b[q:])))
		q += 4
		var v []byte
		if l >= 0 {
			v = b[q : q+l]
			q += l
		}
		if k := d.sinks[i].key; k >= 0 {
			d.kv[k], d.kn[k] = v, l < 0
		}
	}
}

// sameKey compares this row's key (kv, kn) with k.
func (d *copyDecoder) sameKey(k *keyState) bool {
	for i, kf := range d.keys {
		if d.kn[i] != k.null[i] {
			return false
		}
		if !d.kn[i] && !d.sinks[kf].col.keyEqual(d.kv[i], k.vals[i]) {
			return false
		}
	}
	return true
}

// appendVar appends a variable-width value to s.str or s.bin, within the
// limit of the column's 32-bit offsets.
func (d *copyDecoder) appendVar(s *sink, b *array.BinaryBuilder, v []byte) error {
	n := int64(len(v))
	if s.bytes+n > d.maxVar {
		return &decodeError{column: s.col.name, msg: fmt.Sprintf(
			"a %s value of %d bytes does not fit an Arrow batch column, which holds at most %d bytes",
			s.col.typeName, n, d.maxVar)}
	}
	s.bytes += n
	d.varBytes += n
	b.Append(v)
	return nil
}

func (d *copyDecoder) appendValue(s *sink, v []byte) error {
	bad := func(what string) error {
		return &decodeError{column: s.col.name, msg: fmt.Sprintf("%s: %s value of %d bytes", what, s.col.typeName, len(v))}
	}
	switch s.col.kind {
	case kindInt2:
		if len(v) != 2 {
			return bad("malformed")
		}
		s.i16.Append(int16(binary.BigEndian.Uint16(v)))
	case kindInt4:
		if len(v) != 4 {
			return bad("malformed")
		}
		s.i32.Append(int32(binary.BigEndian.Uint32(v)))
	case kindInt8:
		if len(v) != 8 {
			return bad("malformed")
		}
		s.i64.Append(int64(binary.BigEndian.Uint64(v)))
	case kindFloat4:
		if len(v) != 4 {
			return bad("malformed")
		}
		s.f32.Append(math.Float32frombits(binary.BigEndian.Uint32(v)))
	case kindFloat8:
		if len(v) != 8 {
			return bad("malformed")
		}
		s.f64.Append(math.Float64frombits(binary.BigEndian.Uint64(v)))
	case kindNumeric128:
		n, err := numericUnscaled(v, s.col.precision, s.col.scale)
		if err != nil {
			if errors.Is(err, errNumericNaN) {
				return &decodeError{column: s.col.name, msg: fmt.Sprintf(
					"a %s value is NaN, which the column's Arrow type decimal128(%d, %d) cannot hold; "+
						"read the column as plain numeric through a query (SELECT ..., %s::numeric AS %s ...)",
					s.col.typeName, s.col.precision, s.col.scale, quoteIdent(s.col.name), quoteIdent(s.col.name))}
			}
			return &decodeError{column: s.col.name, msg: err.Error()}
		}
		s.dec.Append(n)
	case kindNumericText:
		var err error
		d.scratch, err = appendNumericText(d.scratch[:0], v)
		if err != nil {
			return bad("malformed")
		}
		return d.appendVar(s, s.str, d.scratch)
	case kindText:
		return d.appendVar(s, s.str, v)
	case kindBPChar:
		return d.appendVar(s, s.str, trimPad(v))
	case kindJSONB:
		if len(v) < 1 || v[0] != 1 {
			return bad("unknown jsonb version in")
		}
		return d.appendVar(s, s.str, v[1:])
	case kindUUID:
		if len(v) != 16 {
			return bad("malformed")
		}
		appendUUID(&d.uuid, v)
		return d.appendVar(s, s.str, d.uuid[:])
	case kindBytea:
		return d.appendVar(s, s.bin, v)
	case kindBool:
		if len(v) != 1 {
			return bad("malformed")
		}
		s.boolean.Append(v[0] != 0)
	case kindDate:
		if len(v) != 4 {
			return bad("malformed")
		}
		days, ok := dateToArrow(int32(binary.BigEndian.Uint32(v)))
		if !ok {
			return bad("out of range")
		}
		s.date.Append(arrow.Date32(days))
	case kindTimestamp:
		if len(v) != 8 {
			return bad("malformed")
		}
		us, ok := timestampToArrow(int64(binary.BigEndian.Uint64(v)))
		if !ok {
			return &decodeError{column: s.col.name, msg: "a timestamp after the year 294246 is beyond Arrow's microsecond timestamps"}
		}
		s.ts.Append(arrow.Timestamp(us))
	case kindTime:
		if len(v) != 8 {
			return bad("malformed")
		}
		s.clock.Append(arrow.Time64(int64(binary.BigEndian.Uint64(v))))
	default:
		return bad("undecodable")
	}
	return nil
}

// finish checks that the stream ended properly.
func (d *copyDecoder) finish() error {
	if d.err != nil {
		return d.err
	}
	if !d.ended || len(d.carry) > 0 {
		return &decodeError{msg: "the binary COPY stream ended early"}
	}
	return nil
}

// release frees the builders.
func (d *copyDecoder) release() {
	for _, s := range d.sinks {
		if s.builder != nil {
			s.builder.Release()
		}
	}
	d.sinks = nil
}
