//go:build !purego

package reconcile

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestVectorDigestsMatchScalar runs the AVX-512 kernels and the Go loops
// over the same values, at every length from 0 to 40 so that each kernel
// meets whole blocks of 8 and a remainder, and at offsets that leave its
// loads unaligned.
func TestVectorDigestsMatchScalar(t *testing.T) {
	if !vectorDigests {
		t.Skip("this machine lacks AVX-512 (F, DQ, BW and VL); only the Go loops run")
	}
	r := rand.New(rand.NewPCG(3, 4))
	vals := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 0xff, -0x100, 0x0102030405060708}
	for len(vals) < 48 {
		vals = append(vals, int64(r.Uint64()))
	}
	v32 := make([]int32, len(vals))
	for i, v := range vals {
		v32[i] = int32(v)
	}
	v32[1], v32[2] = math.MaxInt32, math.MinInt32

	run := func(vec bool, f func()) {
		defer func(was bool) { vectorDigests = was }(vectorDigests)
		vectorDigests = vec
		f()
	}
	for off := range 3 {
		for n := 0; n+off <= 40; n++ {
			for _, tag := range []byte{tagInt, tagTimestamp, tagDate, 0, 0xff} {
				type kernel struct {
					name string
					f    func(dst []uint64)
				}
				for _, k := range []kernel{
					{"hash9Ints", func(dst []uint64) { hash9Ints(dst, vals[off:], tag) }},
					{"hash9Int32s", func(dst []uint64) { hash9Int32s(dst, v32[off:], tag) }},
					{"hash5Ints", func(dst []uint64) { hash5Ints(dst, v32[off:], tag) }},
				} {
					got, want := make([]uint64, n), make([]uint64, n)
					run(true, func() { k.f(got) })
					run(false, func() { k.f(want) })
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%s(tag %#x), %d values from %d: [%d] = %#x, want %#x", k.name, tag, n, off, i, got[i], want[i])
						}
					}
				}
			}

			d := make([]uint64, off+n)[off:]
			for i := range d {
				d[i] = r.Uint64()
			}
			rows := [2][]uint64{make([]uint64, off+n)[off:], make([]uint64, n)}
			var sums [2][2]uint64
			for side, vec := range []bool{true, false} {
				for i := range rows[side] {
					rows[side][i] = rowSeed + uint64(i)*prime3
				}
				run(vec, func() {
					sums[side][0] = foldColumn(rows[side], d)
					sums[side][1] = finishRows(rows[side])
				})
			}
			if sums[0] != sums[1] {
				t.Fatalf("%d rows from %d: sums (column, rows) = %#x, want %#x", n, off, sums[0], sums[1])
			}
			for i := range rows[1] {
				if rows[0][i] != rows[1][i] {
					t.Fatalf("%d rows from %d: row digest [%d] = %#x, want %#x", n, off, i, rows[0][i], rows[1][i])
				}
			}
		}
	}
}

// TestHashStringsMatchesXXHash hashes blocks of strings of every length
// around the vector kernel's limits (29 bytes for a short block, 61 for a
// long one), mixed so that some blocks hold a longer string and go to the
// Go loop, from offsets that start the
// array part-way through a buffer, and compares each digest with xxhash of
// the encoded cell.
func TestHashStringsMatchesXXHash(t *testing.T) {
	if !vectorDigests {
		t.Skip("this machine lacks AVX-512 (F, DQ, BW and VL); only the Go loops run")
	}
	r := rand.New(rand.NewPCG(9, 10))
	for round := range 200 {
		count := r.IntN(70)
		maxLen := []int{30, 62, 70}[round%3] // short blocks, long ones, some too long for the kernel
		var data []byte
		offs := []int32{0}
		if round%5 == 0 { // the array starts part-way into its buffer
			data = append(data, "lead"...)
			offs[0] = 4
		}
		for range count {
			n := r.IntN(maxLen)
			for range n {
				data = append(data, byte(r.Uint32()))
			}
			offs = append(offs, int32(len(data)))
		}
		checkHashStrings(t, fmt.Sprintf("round %d: ", round), offs, data)
	}
}

// BenchmarkHashStrings hashes 64Ki strings of 10-20, 30-40 and 50-60
// bytes (names, e-mail addresses, street addresses) with the vector
// kernel and with the Go loop alone, in ns per string.
func BenchmarkHashStrings(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, lens := range [][2]int{{10, 20}, {30, 40}, {50, 60}} {
		var data []byte
		offs := []int32{0}
		for range 1 << 16 {
			for range lens[0] + r.IntN(lens[1]-lens[0]+1) {
				data = append(data, 'a'+byte(r.IntN(26)))
			}
			offs = append(offs, int32(len(data)))
		}
		dst := make([]uint64, len(offs)-1)
		for _, vec := range []bool{true, false} {
			name := fmt.Sprintf("%d-%d/vector=%v", lens[0], lens[1], vec)
			b.Run(name, func(b *testing.B) {
				if vec && !vectorDigests {
					b.Skip("no AVX-512")
				}
				defer func(was bool) { vectorDigests = was }(vectorDigests)
				vectorDigests = vec
				for b.Loop() {
					hashStrings(dst, offs, data, tagText)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(dst)), "ns/string")
			})
		}
	}
}

// kernelStrings runs the string kernel alone over the whole blocks of
// offs and checks the digests of the strings it reports done.
func kernelStrings(t *testing.T, offs []int32, data []byte) int {
	t.Helper()
	n := (len(offs) - 1) &^ 7
	if n == 0 {
		return 0
	}
	got := make([]uint64, n)
	done := hashShortx8(&got[0], &offs[0], unsafe.Pointer(unsafe.SliceData(data)), len(data), n, uint64(tagText))
	for i := range done {
		v := data[offs[i]:offs[i+1]]
		if want := hashBytes(tagText, v); got[i] != want {
			t.Fatalf("string %d (%d bytes at %d) = %#x, want %#x", i, len(v), offs[i], got[i], want)
		}
	}
	return done
}

// TestHashShortKernelBlocks runs the string kernel alone over random
// blocks of eight: all short (messages under 32 bytes), all long, mixed,
// or holding a string too long for it, where it must stop before that
// block having hashed every block before it.
func TestHashShortKernelBlocks(t *testing.T) {
	if !vectorDigests {
		t.Skip("this machine lacks AVX-512 (F, DQ, BW and VL); only the Go loops run")
	}
	r := rand.New(rand.NewPCG(5, 6))
	data := make([]byte, 1<<15)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for range 5000 {
		blocks := 1 + r.IntN(4)
		offs := []int32{int32(r.IntN(100))}
		want := -1
		for b := range blocks {
			kind := r.IntN(4)
			for range 8 {
				n := []int{r.IntN(30), 30 + r.IntN(32), r.IntN(62), r.IntN(62)}[kind]
				if kind == 3 && r.IntN(8) == 0 {
					n = 62 + r.IntN(10)
					if want < 0 {
						want = 8 * b
					}
				}
				offs = append(offs, offs[len(offs)-1]+int32(n))
			}
		}
		if want < 0 {
			want = 8 * blocks
		}
		if done := kernelStrings(t, offs, data); done != want {
			t.Fatalf("offsets %v: the kernel did %d strings, want %d", offs, done, want)
		}
	}
}
