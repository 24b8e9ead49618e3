package reconcile

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/cespare/xxhash/v2"
)

// Digests. The digest of a cell is the xxhash64 of its canonical encoding,
// so equal logical values have equal digests on every connector. A row's
// digest folds its cell digests in column order (rowDigest), and a side's
// checksum is the sum mod 2^64 of its row digests.
//
// Most cells are fixed-width encodings of a machine number (integers,
// instants, dates, times, booleans). For those, digestFast hashes the value
// straight from the Arrow buffer with xxhash64 specialised to the encoding's
// length, without writing the encoding anywhere; the results are the same
// numbers xxhash.Sum64 gives for the encoded bytes (digest_test.go checks
// it value by value).

const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	prime5 uint64 = 2870177450012600261
)

var (
	nullDigest  = xxhash.Sum64([]byte{tagNull})
	falseDigest = xxhash.Sum64([]byte{tagBool, 0})
	trueDigest  = xxhash.Sum64([]byte{tagBool, 1})
)

func xxAvalanche(h uint64) uint64 {
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

func xxRound(acc, input uint64) uint64 {
	acc += input * prime2
	acc = bits.RotateLeft64(acc, 31)
	return acc * prime1
}

// hash9 is xxhash64 of the 9-byte encoding tag, v big-endian.
func hash9(tag byte, v uint64) uint64 {
	w := bits.ReverseBytes64(v) // v's big-endian bytes, read little-endian
	h := prime5 + 9
	h ^= xxRound(0, uint64(tag)|w<<8)
	h = bits.RotateLeft64(h, 27)*prime1 + prime4
	h ^= (w >> 56) * prime5
	h = bits.RotateLeft64(h, 11) * prime1
	return xxAvalanche(h)
}

// hash5 is xxhash64 of the 5-byte encoding tag, v big-endian.
func hash5(tag byte, v uint32) uint64 {
	w := bits.ReverseBytes32(v)
	h := prime5 + 5
	h ^= uint64(uint32(tag)|w<<8) * prime1
	h = bits.RotateLeft64(h, 23)*prime2 + prime3
	h ^= uint64(w>>24) * prime5
	h = bits.RotateLeft64(h, 11) * prime1
	return xxAvalanche(h)
}

// hashBytes is xxhash64 of the encoding tag, uvarint(len(v)), v. Short
// values are assembled on the stack rather than in a column buffer.
func hashBytes[T string | []byte](tag byte, v T) uint64 {
	if len(v) < 30 {
		var buf [32]byte
		buf[0], buf[1] = tag, byte(len(v))
		n := copy(buf[2:], v)
		return xxhash.Sum64(buf[:n+2])
	}
	b := make([]byte, 0, len(v)+binary.MaxVarintLen64+1)
	return xxhash.Sum64(appendLen(b, tag, []byte(v)))
}

// rowSeed starts a row digest; rowFold adds the next cell digest.
const rowSeed = prime5

func rowFold(h, d uint64) uint64 {
	h ^= xxRound(0, d)
	return bits.RotateLeft64(h, 27)*prime1 + prime4
}

// rowFinish ends a row digest.
func rowFinish(h uint64) uint64 { return xxAvalanche(h) }

// digestFast writes the cell digests of arr to dst when the column's
// encoding is a fixed-width machine number read as its own class, and
// reports whether it did; other columns go through encode and xxhash.
func (e *columnEncoder) digestFast(arr arrow.Array, dst []uint64) bool {
	if e.invalidMin || e.own != e.as && !(e.own == classDate && e.as == classTimestamp) {
		return false
	}
	nulls := arr.NullN() > 0
	switch a := arr.(type) {
	case *array.Int64:
		for i, v := range a.Int64Values() {
			dst[i] = hash9(tagInt, uint64(v))
		}
	case *array.Int32:
		for i, v := range a.Int32Values() {
			dst[i] = hash9(tagInt, uint64(int64(v)))
		}
	case *array.Int16:
		for i, v := range a.Int16Values() {
			dst[i] = hash9(tagInt, uint64(int64(v)))
		}
	case *array.Int8:
		for i, v := range a.Int8Values() {
			dst[i] = hash9(tagInt, uint64(int64(v)))
		}
	case *array.Uint32:
		for i, v := range a.Uint32Values() {
			dst[i] = hash9(tagInt, uint64(v))
		}
	case *array.Uint16:
		for i, v := range a.Uint16Values() {
			dst[i] = hash9(tagInt, uint64(v))
		}
	case *array.Uint8:
		for i, v := range a.Uint8Values() {
			dst[i] = hash9(tagInt, uint64(v))
		}
	case *array.Float64:
		// Integral values within 2^53 are integers; the rest need the
		// shortest-decimal encoding.
		var scratch [40]byte
		for i, v := range a.Float64Values() {
			if v == math.Trunc(v) && math.Abs(v) <= 1<<53 {
				dst[i] = hash9(tagInt, uint64(int64(v)))
			} else {
				dst[i] = xxhash.Sum64(AppendFloat(scratch[:0], v, 64))
			}
		}
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		for i, v := range a.TimestampValues() {
			dst[i] = hash9(tagTimestamp, uint64(toMicros(int64(v), unit)))
		}
	case *array.Date32:
		if e.as == classTimestamp {
			for i, v := range a.Date32Values() {
				dst[i] = hash9(tagTimestamp, uint64(int64(v)*86400*1_000_000))
			}
		} else {
			for i, v := range a.Date32Values() {
				dst[i] = hash5(tagDate, uint32(v))
			}
		}
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		for i, v := range a.Time64Values() {
			dst[i] = hash9(tagTime, uint64(toMicros(int64(v), unit)))
		}
	case *array.String:
		if e.as != classText {
			return false
		}
		for i := range dst {
			dst[i] = hashBytes(tagText, a.Value(i))
		}
	case *array.Binary:
		for i := range dst {
			dst[i] = hashBytes(tagBinary, a.Value(i))
		}
	case *array.Decimal128:
		var scratch [48]byte
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		vals := a.Values()
		for i := range dst {
			dst[i] = xxhash.Sum64(appendDecimal128At(scratch[:0], vals[i], scale))
		}
	case *array.Boolean:
		for i := range dst {
			if a.Value(i) {
				dst[i] = trueDigest
			} else {
				dst[i] = falseDigest
			}
		}
	default:
		return false
	}
	if nulls {
		for i := range dst {
			if arr.IsNull(i) {
				dst[i] = nullDigest
			}
		}
	}
	return true
}

// appendCell appends the canonical encoding of row i of arr, exactly as
// encode writes it for the whole column. It serves the rows whose values a
// report shows, so it favours one code path over speed.
func (e *columnEncoder) appendCell(b []byte, arr arrow.Array, i int) ([]byte, error) {
	if ext, ok := arr.(array.ExtensionArray); ok {
		return e.appendCell(b, ext.Storage(), i)
	}
	if arr.IsNull(i) {
		return append(b, tagNull), nil
	}
	if e.invalidMin && invalidAt(arr, i) {
		return append(b, invalidValue...), nil
	}
	if d, ok := arr.(*array.Dictionary); ok {
		return e.appendCell(b, d.Dictionary(), d.GetValueIndex(i))
	}
	if e.as == classOther || e.own == classOther {
		return AppendText(b, arr.ValueStr(i)), nil
	}
	switch a := arr.(type) {
	case *array.Int64:
		return AppendInt(b, a.Value(i)), nil
	case *array.String:
		return e.appendText(b, a.Value(i)), nil
	case *array.Float64:
		return AppendFloat(b, a.Value(i), 64), nil
	case *array.Decimal128:
		return appendDecimal128(b, a, i), nil
	case *array.Timestamp:
		return AppendTimestamp(b, toMicros(int64(a.Value(i)), a.DataType().(*arrow.TimestampType).Unit)), nil
	case *array.Date32:
		if e.as == classTimestamp {
			return AppendTimestamp(b, int64(a.Value(i))*86400*1_000_000), nil
		}
		return AppendDate(b, int32(a.Value(i))), nil
	case *array.Boolean:
		if e.as == classNumber {
			return AppendInt(b, int64(boolInt(a.Value(i)))), nil
		}
		return AppendBool(b, a.Value(i)), nil
	}
	return e.appendOne(b, arr, i)
}
