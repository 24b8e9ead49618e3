package file

import (
	"encoding/binary"
	"fmt"
	"io"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// The fast Parquet path: flat columns whose Arrow type is a plain copy of
// the Parquet values are read with the column chunk readers straight into
// presized Arrow builders, skipping pqarrow's per-value record readers
// (about half the CPU on string-heavy files). Anything else — nested
// columns, INT96, unsigned or narrow integers, times, dictionaries — keeps
// pqarrow. Both paths give the same schema and the same values.

type fastKind uint8

const (
	fastInt64 fastKind = iota + 1 // INT64 → int64 or timestamp
	fastInt32                     // INT32 → int32 or date32
	fastFloat32
	fastFloat64
	fastBool
	fastBytes    // BYTE_ARRAY → string or binary
	fastDecInt32 // INT32 → decimal128
	fastDecInt64 // INT64 → decimal128
	fastDecBytes // FIXED_LEN_BYTE_ARRAY or BYTE_ARRAY → decimal128
)

type fastColumn struct {
	leaf   int
	typ    arrow.DataType
	maxDef int16
	kind   fastKind
}

// planFast maps the requested fields onto fast columns, or reports that the
// file needs pqarrow.
func planFast(pf *file.Reader, fr *pqarrow.FileReader, fields []int, schema *arrow.Schema) ([]fastColumn, bool) {
	var cols []fastColumn
	for _, fi := range fields {
		if fi >= len(fr.Manifest.Fields) || fi >= schema.NumFields() {
			return nil, false
		}
		sf := &fr.Manifest.Fields[fi]
		if !sf.IsLeaf() {
			return nil, false
		}
		desc := pf.MetaData().Schema.Column(sf.ColIndex)
		if desc.MaxRepetitionLevel() != 0 {
			return nil, false
		}
		at := schema.Field(fi).Type
		var k fastKind
		switch pt := desc.PhysicalType(); {
		case pt == parquet.Types.Int64 && (at.ID() == arrow.INT64 || at.ID() == arrow.TIMESTAMP):
			k = fastInt64
		case pt == parquet.Types.Int32 && (at.ID() == arrow.INT32 || at.ID() == arrow.DATE32):
			k = fastInt32
		case pt == parquet.Types.Float && at.ID() == arrow.FLOAT32:
			k = fastFloat32
		case pt == parquet.Types.Double && at.ID() == arrow.FLOAT64:
			k = fastFloat64
		case pt == parquet.Types.Boolean && at.ID() == arrow.BOOL:
			k = fastBool
		case pt == parquet.Types.ByteArray && (at.ID() == arrow.STRING || at.ID() == arrow.BINARY):
			k = fastBytes
		case pt == parquet.Types.Int32 && at.ID() == arrow.DECIMAL128:
			k = fastDecInt32
		case pt == parquet.Types.Int64 && at.ID() == arrow.DECIMAL128:
			k = fastDecInt64
		case (pt == parquet.Types.FixedLenByteArray || pt == parquet.Types.ByteArray) && at.ID() == arrow.DECIMAL128:
			k = fastDecBytes
		default:
			return nil, false
		}
		cols = append(cols, fastColumn{leaf: sf.ColIndex, typ: at, maxDef: desc.MaxDefinitionLevel(), kind: k})
	}
	return cols, true
}

// fastReader yields record batches of the fast columns; each record is
// valid until the next call.
type fastReader struct {
	pf     *file.Reader
	cols   []fastColumn
	schema *arrow.Schema
	mem    memory.Allocator
	batch  int64

	rg       int
	rgRows   int64
	rgDone   int64
	readers  []file.ColumnChunkReader
	last     arrow.Record
	def      []int16
	valid    []bool
	i64      []int64
	i32      []int32
	f32      []float32
	f64      []float64
	bools    []bool
	byteVals []parquet.ByteArray
	flbaVals []parquet.FixedLenByteArray
}

func (r *fastReader) close() {
	if r.last != nil {
		r.last.Release()
		r.last = nil
	}
}

func (r *fastReader) next() (arrow.Record, error) {
	r.close()
	for r.readers == nil || r.rgDone >= r.rgRows {
		if r.rg >= r.pf.NumRowGroups() {
			return nil, io.EOF
		}
		rgr := r.pf.RowGroup(r.rg)
		r.rg++
		r.rgRows, r.rgDone = rgr.NumRows(), 0
		r.readers = r.readers[:0]
		for _, c := range r.cols {
			cr, err := rgr.Column(c.leaf)
			if err != nil {
				return nil, err
			}
			r.readers = append(r.readers, cr)
		}
	}
	n := min(r.batch, r.rgRows-r.rgDone)
	arrs := make([]arrow.Array, 0, len(r.cols))
	release := func() {
		for _, a := range arrs {
			a.Release()
		}
	}
	for i := range r.cols {
		a, err := r.column(i, int(n))
		if err != nil {
			release()
			return nil, fmt.Errorf("row group %d, column %s: %w", r.rg-1, r.schema.Field(i).Name, err)
		}
		arrs = append(arrs, a)
	}
	r.rgDone += n
	r.last = array.NewRecord(r.schema, arrs, n)
	release()
	return r.last, nil
}

// levels reads exactly n rows of a column chunk with read, which fills
// values from offset vOff and levels from offset lOff.
func levels(n int, read func(lOff, vOff, want int) (int64, int, error)) (nvals int, err error) {
	got := 0
	for got < n {
		l, v, err := read(got, nvals, n-got)
		if err != nil {
			return 0, err
		}
		if l == 0 {
			return 0, fmt.Errorf("column chunk ended after %d of %d rows", got, n)
		}
		got += int(l)
		nvals += v
	}
	return nvals, nil
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// spread turns n dense values (one per non-NULL row) into one value per
// row, and fills r.valid; it returns whether any row is NULL.
func spread[T any](vals []T, nvals, n int, def []int16, maxDef int16, valid []bool) bool {
	if nvals == n {
		for i := range valid {
			valid[i] = true
		}
		return false
	}
	j := nvals - 1
	for i := n - 1; i >= 0; i-- {
		if def[i] == maxDef {
			vals[i] = vals[j]
			valid[i] = true
			j--
		} else {
			var zero T
			vals[i] = zero
			valid[i] = false
		}
	}
	return true
}

func (r *fastReader) column(i, n int) (arrow.Array, error) {
	c := &r.cols[i]
	r.def = grow(r.def, n)
	r.valid = grow(r.valid, n)
	def := r.def
	if c.maxDef == 0 {
		def = nil
	}
	b := array.NewBuilder(r.mem, c.typ)
	defer b.Release()
	b.Reserve(n)
	switch c.kind {
	case fastInt64, fastDecInt64:
		cr := r.readers[i].(*file.Int64ColumnChunkReader)
		r.i64 = grow(r.i64, n)
		nv, err := levels(n, func(l, v, want int) (int64, int, error) {
			return cr.ReadBatch(int64(want), r.i64[v:], sub(def, l), nil)
		})
		if err != nil {
			return nil, err
		}
		spread(r.i64, nv, n, r.def, c.maxDef, r.valid)
		switch bb := b.(type) {
		case *array.Int64Builder:
			bb.AppendValues(r.i64, r.valid)
		case *array.TimestampBuilder:
			bb.AppendValues(unsafe.Slice((*arrow.Timestamp)(unsafe.Pointer(unsafe.SliceData(r.i64))), n), r.valid)
		case *array.Decimal128Builder:
			for k, v := range r.i64 {
				if r.valid[k] {
					bb.Append(decimal128.FromI64(v))
				} else {
					bb.AppendNull()
				}
			}
		}
	case fastInt32, fastDecInt32:
		cr := r.readers[i].(*file.Int32ColumnChunkReader)
		r.i32 = grow(r.i32, n)
		nv, err := levels(n, func(l, v, want int) (int64, int, error) {
			return cr.ReadBatch(int64(want), r.i32[v:], sub(def, l), nil)
		})
		if err != nil {
			return nil, err
		}
		spread(r.i32, nv, n, r.def, c.maxDef, r.valid)
		switch bb := b.(type) {
		case *array.Int32Builder:
			bb.AppendValues(r.i32, r.valid)
		case *array.Date32Builder:
			bb.AppendValues(unsafe.Slice((*arrow.Date32)(unsafe.Pointer(unsafe.SliceData(r.i32))), n), r.valid)
		case *array.Decimal128Builder:
			for k, v := range r.i32 {
				if r.valid[k] {
					bb.Append(decimal128.FromI64(int64(v)))
				} else {
					bb.AppendNull()
				}
			}
		}
	case fastFloat32:
		cr := r.readers[i].(*file.Float32ColumnChunkReader)
		r.f32 = grow(r.f32, n)
		nv, err := levels(n, func(l, v, want int) (int64, int, error) {
			return cr.ReadBatch(int64(want), r.f32[v:], sub(def, l), nil)
		})
		if err != nil {
			return nil, err
		}
		spread(r.f32, nv, n, r.def, c.maxDef, r.valid)
		b.(*array.Float32Builder).AppendValues(r.f32, r.valid)
	case fastFloat64:
		cr := r.readers[i].(*file.Float64ColumnChunkReader)
		r.f64 = grow(r.f64, n)
		nv, err := levels(n, func(l, v, want int) (int64, int, error) {
			return cr.ReadBatch(int64(want), r.f64[v:], sub(def, l), nil)
		})
		if err != nil {
			return nil, err
		}
		spread(r.f64, nv, n, r.def, c.maxDef, r.valid)
		b.(*array.Float64Builder).AppendValues(r.f64, r.valid)
	case fastBool:
		cr := r.readers[i].(*file.BooleanColumnChunkReader)
		r.bools = grow(r.bools, n)
		nv, err := levels(n, func(l, v, want int) (int64, int, error) {
			return cr.ReadBatch(int64(want), r.bools[v:], sub(def, l), nil)
		})
		if err != nil {
			return nil, err
		}
		spread(r.bools, nv, n, r.def, c.maxDef, r.valid)
		b.(*array.BooleanBuilder).AppendValues(r.bools, r.valid)
	case fastBytes, fastDecBytes:
		// Values point into the pages, each read into a buffer of its own,
		// so they stay valid until copied below.
		var vals []parquet.ByteArray
		var nv int
		var err error
		if cr, ok := r.readers[i].(*file.FixedLenByteArrayColumnChunkReader); ok {
			r.flbaVals = grow(r.flbaVals, n)
			nv, err = levels(n, func(l, v, want int) (int64, int, error) {
				return cr.ReadBatch(int64(want), r.flbaVals[v:], sub(def, l), nil)
			})
			r.byteVals = grow(r.byteVals, n)
			for k := 0; k < nv; k++ {
				r.byteVals[k] = parquet.ByteArray(r.flbaVals[k])
			}
		} else {
			cr := r.readers[i].(*file.ByteArrayColumnChunkReader)
			r.byteVals = grow(r.byteVals, n)
			nv, err = levels(n, func(l, v, want int) (int64, int, error) {
				return cr.ReadBatch(int64(want), r.byteVals[v:], sub(def, l), nil)
			})
		}
		if err != nil {
			return nil, err
		}
		vals = r.byteVals
		spread(vals, nv, n, r.def, c.maxDef, r.valid)
		switch bb := b.(type) {
		case *array.BinaryBuilder: // string and binary
			total := 0
			for _, v := range vals {
				total += len(v)
			}
			bb.ReserveData(total)
			for k, v := range vals {
				if r.valid[k] {
					bb.Append(v)
				} else {
					bb.AppendNull()
				}
			}
		case *array.StringBuilder:
			total := 0
			for _, v := range vals {
				total += len(v)
			}
			bb.ReserveData(total)
			for k, v := range vals {
				if r.valid[k] {
					bb.BinaryBuilder.Append(v)
				} else {
					bb.AppendNull()
				}
			}
		case *array.Decimal128Builder:
			for k, v := range vals {
				if !r.valid[k] {
					bb.AppendNull()
					continue
				}
				d, err := decimalFromBytes(v)
				if err != nil {
					return nil, err
				}
				bb.Append(d)
			}
		default:
			return nil, fmt.Errorf("unexpected builder %T", b)
		}
	}
	return b.NewArray(), nil
}

func sub(def []int16, off int) []int16 {
	if def == nil {
		return nil
	}
	return def[off:]
}

// decimalFromBytes reads a big-endian two's complement unscaled decimal.
func decimalFromBytes(v []byte) (decimal128.Num, error) {
	if len(v) == 0 || len(v) > 16 {
		return decimal128.Num{}, fmt.Errorf("decimal of %d bytes", len(v))
	}
	var buf [16]byte
	if v[0]&0x80 != 0 {
		for k := range buf {
			buf[k] = 0xff
		}
	}
	copy(buf[16-len(v):], v)
	return decimal128.New(int64(binary.BigEndian.Uint64(buf[:8])), binary.BigEndian.Uint64(buf[8:])), nil
}
