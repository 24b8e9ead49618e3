package reconcile

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
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
// it value by value). On amd64 with AVX-512, 64- and 32-bit integers,
// microsecond instants and times, dates, strings of up to 61 bytes and the
// row folds run eight values at a time (digest_amd64.s), giving the same
// numbers.

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

// hashBytes is xxhash64 of the encoding tag, uvarint(len(v)), v. Values
// shorter than 128 bytes (a one-byte length) are hashed in place by
// hashTagged; longer ones are assembled in a buffer first.
func hashBytes[T string | []byte](tag byte, v T) uint64 {
	if len(v) < 128 {
		// A read-only view of v's bytes (hashTagged never writes): string
		// and slice headers both start with the data pointer, and
		// string(v) would copy a []byte.
		return hashTagged(tag, unsafe.Slice(*(**byte)(unsafe.Pointer(&v)), len(v)))
	}
	b := make([]byte, 0, len(v)+binary.MaxVarintLen64+1)
	return xxhash.Sum64(appendLen(b, tag, []byte(v)))
}

// hashTagged is xxhash64 of the message tag, byte(len(v)), v for len(v) <
// 128, read straight from v: message byte j is v[j-2] for j >= 2, so every
// 8-byte word but the first is one load from v.
func hashTagged(tag byte, v []byte) uint64 {
	n := len(v)
	total := n + 2
	head := uint64(tag) | uint64(n)<<8
	var h uint64
	var rest []byte // the message still to hash once the 2 head bytes are in h
	switch {
	case total >= 32:
		p1, p2 := prime1, prime2 // variables: the seeds wrap around mod 2^64
		v1, v2, v3, v4 := p1+p2, p2, uint64(0), -p1
		v1 = xxRound(v1, head|le48(v)<<16)
		v2 = xxRound(v2, le64(v[6:]))
		v3 = xxRound(v3, le64(v[14:]))
		v4 = xxRound(v4, le64(v[22:]))
		rest = v[30:]
		for len(rest) >= 32 {
			v1 = xxRound(v1, le64(rest))
			v2 = xxRound(v2, le64(rest[8:]))
			v3 = xxRound(v3, le64(rest[16:]))
			v4 = xxRound(v4, le64(rest[24:]))
			rest = rest[32:]
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = xxMergeRound(h, v1)
		h = xxMergeRound(h, v2)
		h = xxMergeRound(h, v3)
		h = xxMergeRound(h, v4)
		h += uint64(total)
	case total >= 8:
		h = prime5 + uint64(total)
		h ^= xxRound(0, head|le48(v)<<16)
		h = bits.RotateLeft64(h, 27)*prime1 + prime4
		rest = v[6:]
	case total >= 4:
		h = prime5 + uint64(total)
		h ^= (head | uint64(v[0])<<16 | uint64(v[1])<<24) * prime1
		h = bits.RotateLeft64(h, 23)*prime2 + prime3
		rest = v[2:] // at most 3 bytes: the tail below takes them one by one
	default: // the two head bytes and at most one value byte
		h = prime5 + uint64(total)
		h ^= uint64(tag) * prime5
		h = bits.RotateLeft64(h, 11) * prime1
		h ^= uint64(n) * prime5
		h = bits.RotateLeft64(h, 11) * prime1
		rest = v
	}
	for len(rest) >= 8 {
		h ^= xxRound(0, le64(rest))
		h = bits.RotateLeft64(h, 27)*prime1 + prime4
		rest = rest[8:]
	}
	if len(rest) >= 4 {
		w := uint32(rest[0]) | uint32(rest[1])<<8 | uint32(rest[2])<<16 | uint32(rest[3])<<24
		h ^= uint64(w) * prime1
		h = bits.RotateLeft64(h, 23)*prime2 + prime3
		rest = rest[4:]
	}
	for i := 0; i < len(rest); i++ {
		h ^= uint64(rest[i]) * prime5
		h = bits.RotateLeft64(h, 11) * prime1
	}
	return xxAvalanche(h)
}

func xxMergeRound(acc, val uint64) uint64 {
	val = xxRound(0, val)
	acc ^= val
	return acc*prime1 + prime4
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

func le48(b []byte) uint64 {
	_ = b[5]
	return uint64(binary.LittleEndian.Uint32(b)) | uint64(b[4])<<32 | uint64(b[5])<<40
}

// hash9Ints sets dst[i] to hash9(tag, src[i]) for 64-bit values, eight at
// a time where the machine has AVX-512.
func hash9Ints[T ~int64](dst []uint64, src []T, tag byte) {
	src = src[:len(dst)]
	i := hash9Vec(dst, unsafe.Pointer(unsafe.SliceData(src)), false, tag)
	for ; i < len(dst); i++ {
		dst[i] = hash9(tag, uint64(src[i]))
	}
}

// hash9Int32s is hash9Ints for 32-bit values, sign-extended.
func hash9Int32s[T ~int32](dst []uint64, src []T, tag byte) {
	src = src[:len(dst)]
	i := hash9Vec(dst, unsafe.Pointer(unsafe.SliceData(src)), true, tag)
	for ; i < len(dst); i++ {
		dst[i] = hash9(tag, uint64(int64(src[i])))
	}
}

// hash5Ints sets dst[i] to hash5(tag, src[i]).
func hash5Ints[T ~int32](dst []uint64, src []T, tag byte) {
	src = src[:len(dst)]
	i := hash5Vec(dst, unsafe.Pointer(unsafe.SliceData(src)), tag)
	for ; i < len(dst); i++ {
		dst[i] = hash5(tag, uint32(src[i]))
	}
}

// hashStrings sets dst[i] to hashBytes(tag, data[offs[i]:offs[i+1]]), the
// strings of an Arrow string or binary array (offs its value offsets, data
// its whole value buffer). Where the machine has AVX-512, blocks of eight
// strings of at most 61 bytes are hashed together.
func hashStrings(dst []uint64, offs []int32, data []byte, tag byte) {
	offs = offs[:len(dst)+1]
	for i := 0; i < len(dst); {
		i += hashShortVec(dst[i:], offs[i:], data, tag)
		for end := min(i+8, len(dst)); i < end; i++ {
			dst[i] = hashBytes(tag, data[offs[i]:offs[i+1]])
		}
	}
}

// hashStringArray is hashStrings over rows lo to lo+len(dst) of a string
// or binary array, whose offsets point into its whole value buffer.
func hashStringArray(dst []uint64, a interface {
	arrow.Array
	ValueOffsets() []int32
}, lo int, tag byte) {
	if len(dst) == 0 {
		return // an empty array may have no offsets
	}
	var data []byte
	if b := a.Data().Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	hashStrings(dst, a.ValueOffsets()[lo:], data, tag)
}

// foldColumn folds the cell digests d of one column into the row digests
// r (r[i] = rowFold(r[i], d[i])) and returns the sum of d.
func foldColumn(r, d []uint64) uint64 {
	d = d[:len(r)]
	i, sum := foldVec(r, d)
	for ; i < len(r); i++ {
		sum += d[i]
		r[i] = rowFold(r[i], d[i])
	}
	return sum
}

// finishRows ends the row digests r (r[i] = rowFinish(r[i])) and returns
// their sum.
func finishRows(r []uint64) uint64 {
	i, sum := finishVec(r)
	for ; i < len(r); i++ {
		r[i] = rowFinish(r[i])
		sum += r[i]
	}
	return sum
}

// rowSeed starts a row digest; rowFold adds the next cell digest.
const rowSeed = prime5

func rowFold(h, d uint64) uint64 {
	h ^= xxRound(0, d)
	return bits.RotateLeft64(h, 27)*prime1 + prime4
}

// rowFinish ends a row digest.
func rowFinish(h uint64) uint64 { return xxAvalanche(h) }

// digestFast writes the cell digests of rows lo to lo+len(dst) of arr to
// dst, straight from the Arrow buffers, and reports whether it did; the
// answer depends only on the column (its type and how it is read), so a
// caller may digest a batch in ranges. Other columns go through encode and
// xxhash.
func (e *columnEncoder) digestFast(arr arrow.Array, lo int, dst []uint64) bool {
	if e.invalidMin || e.own != e.as && !(e.own == classDate && e.as == classTimestamp) {
		return false
	}
	nulls := arr.NullN() > 0
	switch a := arr.(type) {
	case *array.Int64:
		hash9Ints(dst, a.Int64Values()[lo:], tagInt)
	case *array.Int32:
		hash9Int32s(dst, a.Int32Values()[lo:], tagInt)
	case *array.Int16:
		for i, v := range a.Int16Values()[lo : lo+len(dst)] {
			dst[i] = hash9(tagInt, uint64(int64(v)))
		}
	case *array.Int8:
		for i, v := range a.Int8Values()[lo : lo+len(dst)] {
			dst[i] = hash9(tagInt, uint64(int64(v)))
		}
	case *array.Uint32:
		for i, v := range a.Uint32Values()[lo : lo+len(dst)] {
			dst[i] = hash9(tagInt, uint64(v))
		}
	case *array.Uint16:
		for i, v := range a.Uint16Values()[lo : lo+len(dst)] {
			dst[i] = hash9(tagInt, uint64(v))
		}
	case *array.Uint8:
		for i, v := range a.Uint8Values()[lo : lo+len(dst)] {
			dst[i] = hash9(tagInt, uint64(v))
		}
	case *array.Float64:
		// Integral values within 2^53 are integers; the rest need the
		// shortest-decimal encoding.
		var scratch [40]byte
		for i, v := range a.Float64Values()[lo : lo+len(dst)] {
			if v == math.Trunc(v) && math.Abs(v) <= 1<<53 {
				dst[i] = hash9(tagInt, uint64(int64(v)))
			} else {
				dst[i] = xxhash.Sum64(AppendFloat(scratch[:0], v, 64))
			}
		}
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		if unit == arrow.Microsecond {
			hash9Ints(dst, a.TimestampValues()[lo:], tagTimestamp)
			break
		}
		for i, v := range a.TimestampValues()[lo : lo+len(dst)] {
			dst[i] = hash9(tagTimestamp, uint64(toMicros(int64(v), unit)))
		}
	case *array.Date32:
		if e.as == classTimestamp {
			for i, v := range a.Date32Values()[lo : lo+len(dst)] {
				dst[i] = hash9(tagTimestamp, uint64(int64(v)*86400*1_000_000))
			}
		} else {
			hash5Ints(dst, a.Date32Values()[lo:], tagDate)
		}
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		if unit == arrow.Microsecond {
			hash9Ints(dst, a.Time64Values()[lo:], tagTime)
			break
		}
		for i, v := range a.Time64Values()[lo : lo+len(dst)] {
			dst[i] = hash9(tagTime, uint64(toMicros(int64(v), unit)))
		}
	case *array.String:
		if e.as != classText {
			return false
		}
		hashStringArray(dst, a, lo, tagText)
	case *array.Binary:
		hashStringArray(dst, a, lo, tagBinary)
	case *array.Decimal128:
		digestDecimals(dst, a.Values()[lo:], a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Boolean:
		for i := range dst {
			if a.Value(lo + i) {
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
			if arr.IsNull(lo + i) {
				dst[i] = nullDigest
			}
		}
	}
	return true
}

// digestDecimals sets dst[i] to the digest of the decimal vals[i] at
// scale, as digestDecimal64 and appendDecimal128At define it. Values that
// are not integral and fit in 64 bits, the common case, have their number
// text written side by side into a buffer and hashed 64 at a time by
// hashStrings.
func digestDecimals(dst []uint64, vals []decimal128.Num, scale int32) {
	const chunk = 64
	var (
		buf  [chunk * 24]byte // a text is at most 24 bytes: '-', 19 digits, "e-18"
		offs [chunk + 1]int32
		at   [chunk]int32 // where each text's digest goes in dst
		hs   [chunk]uint64
	)
	k := 0
	flush := func() {
		hashStrings(hs[:k], offs[:k+1], buf[:], tagNumber)
		for j, h := range hs[:k] {
			dst[at[j]] = h
		}
		k = 0
	}
	for i, v := range vals[:len(dst)] {
		lo, hi := v.LowBits(), v.HighBits()
		switch {
		case (hi != 0 || lo > math.MaxInt64) && (hi != -1 || lo <= math.MaxInt64):
			var scratch [48]byte
			dst[i] = xxhash.Sum64(appendDecimal128At(scratch[:0], v, scale))
		case scale <= 0 || scale >= 19 || int64(lo) == math.MinInt64:
			dst[i] = digestDecimal64(int64(lo), scale)
		case int64(lo)%10 == 0 && int64(lo)%pow10[scale] == 0:
			dst[i] = hash9(tagInt, uint64(int64(lo)/pow10[scale]))
		default:
			n := putDecimalText(buf[offs[k]:], int64(lo), scale)
			offs[k+1] = offs[k] + int32(n)
			at[k] = int32(i)
			if k++; k == chunk {
				flush()
			}
		}
	}
	flush()
}

// decimalDigits is the number of decimal digits of u > 0.
func decimalDigits(u int64) int {
	t := bits.Len64(uint64(u)) * 1233 >> 12 // about log10(u)
	if u >= pow10[t] {
		t++
	}
	return t
}

// digits8 is the 8 decimal digits of x < 10^8 as ASCII, the first in the
// lowest byte: the two halves of 4 digits, then the pairs, then the
// digits are split in parallel in the lanes of one word (each step's
// multiply-and-shift divides exactly in its range).
func digits8(x uint64) uint64 {
	v := x/10000 | x%10000<<32
	q := v * 10486 >> 20 & 0x0000007f_0000007f // lane / 100
	v = q | (v-q*100)<<16
	q = v * 103 >> 10 & 0x000f_000f_000f_000f // lane / 10
	v = q | (v-q*10)<<8
	return v + 0x30303030_30303030
}

// putDecimalText writes to the start of b (at least 24 bytes) the number
// text of the non-integral unscaled / 10^scale (0 < scale < 19, unscaled
// not MinInt64), as AppendDecimal64 writes it after the tag and length:
// the digits without trailing zeros, "e-" and the exponent. It returns the
// text's length; bytes of b past it may have been written too.
func putDecimalText(b []byte, unscaled int64, scale int32) int {
	u, neg := unscaled, unscaled < 0
	if neg {
		u = -u
	}
	exp := int(scale) // the exponent is -exp
	for u%10 == 0 {
		u /= 10
		exp--
	}
	p := 0
	if neg {
		b[0] = '-'
		p = 1
	}
	d := decimalDigits(u)
	if u < 1e8 {
		binary.LittleEndian.PutUint64(b[p:], digits8(uint64(u))>>(8*(8-d)))
	} else {
		// Backwards, two digits at a time.
		for i := p + d; u >= 10; {
			q := u / 100
			r := 2 * (u - q*100)
			i -= 2
			b[i], b[i+1] = digitPairs[r], digitPairs[r+1]
			u = q
		}
		if d%2 == 1 {
			b[p] = byte('0' + u)
		}
	}
	p += d
	if exp < 10 {
		binary.LittleEndian.PutUint32(b[p:], 'e'|'-'<<8|uint32('0'+exp)<<16)
		return p + 3
	}
	binary.LittleEndian.PutUint32(b[p:], 'e'|'-'<<8|'1'<<16|uint32('0'+exp-10)<<24)
	return p + 4
}

var pow10 = [19]int64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// digestDecimal64 is xxhash64 of AppendDecimal64(unscaled, scale), written
// for the common case (a positive scale below 19): an integral value is
// hashed as the integer, the rest as mantissa digits and exponent assembled
// on the stack.
func digestDecimal64(unscaled int64, scale int32) uint64 {
	if scale <= 0 || scale >= 19 || unscaled == math.MinInt64 {
		var scratch [48]byte
		return xxhash.Sum64(AppendDecimal64(scratch[:0], unscaled, scale))
	}
	// A last digit other than 0 settles it without dividing by 10^scale.
	if unscaled%10 == 0 && unscaled%pow10[scale] == 0 {
		return hash9(tagInt, uint64(unscaled/pow10[scale]))
	}
	var t [24]byte
	n := putDecimalText(t[:], unscaled, scale)
	return hashTagged(tagNumber, t[:n])
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

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
