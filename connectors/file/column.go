package file

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// colBuilder accumulates one column of a batch directly in buffers from
// the reader's allocator and hands them to an Arrow array at the end of the
// batch. Appending a value is a parse plus an indexed store: no allocation
// per field and no per-value bitmap work (NULLs are rare and kept as a list
// of positions until the batch ends).
type colBuilder struct {
	typ      colType
	mem      memory.Allocator
	allowExp bool // decimals may carry an exponent (JSON numbers)

	n     int     // values in the batch
	cap   int     // values the current buffers hold
	nulls []int32 // positions of NULLs

	vals []byte // values (fixed width), bits (boolean) or offsets (text)
	i64  []int64
	f64  []float64
	i32  []int32
	dec  []decimal128.Num
	offs []int32

	data     []byte // text bytes, len(data) is the allocation
	dlen     int    // text bytes used
	capHint  int    // values to allocate for the next batch
	dataHint int    // text bytes to allocate for the next batch
}

const minBuilderCap = 256

func newColBuilder(t colType, mem memory.Allocator, maxRows int) *colBuilder {
	return &colBuilder{typ: t, mem: mem, capHint: min(maxRows, 4096), dataHint: 64 << 10}
}

func (b *colBuilder) isText() bool { return b.typ.kind == kText || b.typ.kind == kJSON }

// valueBytes is the size of the values buffer for n values.
func (b *colBuilder) valueBytes(n int) int {
	switch b.typ.kind {
	case kInt, kTimestamp, kFloat:
		return n * 8
	case kDate:
		return n * 4
	case kDecimal:
		return n * 16
	case kBool:
		return (n + 7) / 8
	}
	return (n + 1) * 4 // offsets
}

// setViews points the typed views at vals.
func (b *colBuilder) setViews() {
	switch b.typ.kind {
	case kInt, kTimestamp:
		b.i64 = arrow.Int64Traits.CastFromBytes(b.vals)
	case kFloat:
		b.f64 = arrow.Float64Traits.CastFromBytes(b.vals)
	case kDate:
		b.i32 = arrow.Int32Traits.CastFromBytes(b.vals)
	case kDecimal:
		b.dec = arrow.Decimal128Traits.CastFromBytes(b.vals)
	case kText, kJSON:
		b.offs = arrow.Int32Traits.CastFromBytes(b.vals)
	}
}

// grow makes room for at least one more value.
func (b *colBuilder) grow() {
	if b.vals == nil {
		b.cap = max(b.capHint, minBuilderCap)
		b.vals = b.mem.Allocate(b.valueBytes(b.cap))
		if b.typ.kind == kBool {
			clear(b.vals)
		}
		if b.isText() {
			b.data = b.mem.Allocate(max(b.dataHint, 64))
			b.dlen = 0
		}
		b.setViews()
		if b.isText() {
			b.offs[0] = 0
		}
		return
	}
	old := len(b.vals)
	b.cap *= 2
	b.vals = b.mem.Reallocate(b.valueBytes(b.cap), b.vals)
	if b.typ.kind == kBool {
		clear(b.vals[old:])
	}
	b.setViews()
}

// reserve makes room for n more values.
func (b *colBuilder) reserve(n int) {
	for b.n+n > b.cap {
		b.grow()
	}
}

// growData makes room for n more text bytes.
func (b *colBuilder) growData(n int) {
	size := max(2*len(b.data), b.dlen+n)
	b.data = b.mem.Reallocate(size, b.data)
}

func (b *colBuilder) appendString(f []byte) {
	if b.dlen+len(f) > len(b.data) {
		b.growData(len(f))
	}
	b.dlen += copy(b.data[b.dlen:], f)
	b.offs[b.n+1] = int32(b.dlen)
	b.n++
}

// appendNull appends a NULL.
func (b *colBuilder) appendNull() {
	if b.n == b.cap {
		b.grow()
	}
	b.nulls = append(b.nulls, int32(b.n))
	switch b.typ.kind {
	case kInt, kTimestamp:
		b.i64[b.n] = 0
	case kFloat:
		b.f64[b.n] = 0
	case kDate:
		b.i32[b.n] = 0
	case kDecimal:
		b.dec[b.n] = decimal128.Num{}
	case kBool:
	default:
		b.offs[b.n+1] = int32(b.dlen)
	}
	b.n++
}

// appendBytes appends a value to a text or JSON column as is.
func (b *colBuilder) appendBytes(f []byte) {
	if b.n == b.cap {
		b.grow()
	}
	b.appendString(f)
}

// appendText parses a field in the column's type; false means the text is
// not a valid value of that type.
func (b *colBuilder) appendText(f []byte) bool {
	if b.n == b.cap {
		b.grow()
	}
	switch b.typ.kind {
	case kText:
		b.appendString(f)
		return true
	case kInt:
		v, ok := parseInt(f)
		if !ok {
			return false
		}
		b.i64[b.n] = v
	case kTimestamp:
		v, ok := parseTimestamp(f)
		if !ok {
			d, ok2 := parseDate(f)
			if !ok2 {
				return false
			}
			v = int64(d) * microsPerDay
		}
		b.i64[b.n] = v
	case kDate:
		v, ok := parseDate(f)
		if !ok {
			return false
		}
		b.i32[b.n] = v
	case kDecimal:
		v, ok := parseDecimal(f, b.typ.scale, b.allowExp)
		if !ok {
			return false
		}
		b.dec[b.n] = v
	case kFloat:
		if len(f) == 0 || f[0] == '_' || f[len(f)-1] == '_' {
			return false
		}
		v, err := strconv.ParseFloat(bstr(f), 64)
		if err != nil && !(math.IsInf(v, 0) && isSpecialFloat(f)) {
			return false
		}
		b.f64[b.n] = v
	case kBool:
		v, ok := parseBoolLenient(f)
		if !ok {
			return false
		}
		if v {
			b.vals[b.n>>3] |= 1 << (b.n & 7)
		}
	case kJSON:
		if !json.Valid(f) {
			return false
		}
		b.appendString(f)
		return true
	}
	b.n++
	return true
}

// appendColumn appends column c of the scanner's current chunk (rows
// records of ncol fields). On a value that is not valid for the column's
// type it returns the row and false; the builder must then be released.
// The type switch is made once per chunk: each case is a tight loop.
func (b *colBuilder) appendColumn(sc *csvScanner, c, ncol, rows int, null nullMatcher) (int, bool) {
	b.reserve(rows)
	spans := sc.spans
	n := b.n
	isNull := func(f []byte, sp span, r int) bool {
		if null.set && null.match(f, sp.quoted) {
			b.nulls = append(b.nulls, int32(n+r))
			return true
		}
		return false
	}
	switch b.typ.kind {
	case kText, kJSON:
		offs := b.offs[n+1 : n+1+rows]
		for r := range offs {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if !isNull(f, sp, r) {
				if b.typ.kind == kJSON && !json.Valid(f) {
					return r, false
				}
				if b.dlen+len(f) > len(b.data) {
					b.growData(len(f))
				}
				b.dlen += copy(b.data[b.dlen:], f)
			}
			offs[r] = int32(b.dlen)
		}
	case kInt:
		out := b.i64[n : n+rows]
		for r := range out {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if isNull(f, sp, r) {
				out[r] = 0
				continue
			}
			v, ok := parseInt(f)
			if !ok {
				return r, false
			}
			out[r] = v
		}
	case kTimestamp:
		out := b.i64[n : n+rows]
		for r := range out {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if isNull(f, sp, r) {
				out[r] = 0
				continue
			}
			v, ok := parseTimestamp(f)
			if !ok {
				d, ok := parseDate(f)
				if !ok {
					return r, false
				}
				v = int64(d) * microsPerDay
			}
			out[r] = v
		}
	case kDate:
		out := b.i32[n : n+rows]
		for r := range out {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if isNull(f, sp, r) {
				out[r] = 0
				continue
			}
			v, ok := parseDate(f)
			if !ok {
				return r, false
			}
			out[r] = v
		}
	case kDecimal:
		out := b.dec[n : n+rows]
		for r := range out {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if isNull(f, sp, r) {
				out[r] = decimal128.Num{}
				continue
			}
			v, ok := parseDecimal(f, b.typ.scale, false)
			if !ok {
				return r, false
			}
			out[r] = v
		}
	case kBool:
		vals := b.vals
		for r := 0; r < rows; r++ {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if isNull(f, sp, r) {
				continue
			}
			v, ok := parseBool(f)
			if !ok {
				if v, ok = parseBoolLenient(f); !ok {
					return r, false
				}
			}
			if v {
				i := n + r
				vals[i>>3] |= 1 << (i & 7)
			}
		}
	default: // kFloat: not worth a special loop
		for r := 0; r < rows; r++ {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if null.set && null.match(f, sp.quoted) {
				b.appendNull()
				continue
			}
			if !b.appendText(f) {
				return r, false
			}
		}
		return 0, true
	}
	b.n += rows
	return 0, true
}

// release frees the buffers of an unfinished batch.
func (b *colBuilder) release() {
	if b.vals != nil {
		b.mem.Free(b.vals)
		b.vals = nil
	}
	if b.data != nil {
		b.mem.Free(b.data)
		b.data = nil
	}
	b.n, b.cap, b.dlen = 0, 0, 0
	b.nulls = b.nulls[:0]
}

// finish builds the Arrow array of the batch; the builder starts a new
// batch with new buffers on its next append.
func (b *colBuilder) finish() arrow.Array {
	n := b.n
	if b.vals == nil {
		b.grow() // an empty batch still needs its buffers
	}
	var valid *memory.Buffer
	if len(b.nulls) > 0 {
		bm := b.mem.Allocate((n + 7) / 8)
		for i := range bm {
			bm[i] = 0xFF
		}
		for _, p := range b.nulls {
			bm[p>>3] &^= 1 << (p & 7)
		}
		valid = memory.NewBufferWithAllocator(bm, b.mem)
	}
	bufs := []*memory.Buffer{valid, memory.NewBufferWithAllocator(b.vals, b.mem)}
	if b.isText() {
		bufs = append(bufs, memory.NewBufferWithAllocator(b.data, b.mem))
		b.dataHint = b.dlen + b.dlen/8
	}
	data := array.NewData(b.typ.arrow(), n, bufs, nil, len(b.nulls), 0)
	for _, buf := range bufs {
		if buf != nil {
			buf.Release()
		}
	}
	arr := array.MakeFromData(data)
	data.Release()
	b.capHint = b.cap
	b.vals, b.data = nil, nil
	b.n, b.cap, b.dlen = 0, 0, 0
	b.nulls = b.nulls[:0]
	return arr
}
