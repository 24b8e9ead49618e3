//go:build !purego

package reconcile

import (
	"math/rand/v2"
	"syscall"
	"testing"
)

// guardedPage returns a page of data whose neighbours on both sides may
// not be read: a load that strays outside it faults.
func guardedPage(t *testing.T) []byte {
	t.Helper()
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[:page], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mprotect(mem[2*page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	data := mem[page : 2*page : 2*page]
	for i := range data {
		data[i] = byte(i*131 + 7)
	}
	return data
}

// TestHashStringsReadsOnlyItsStrings puts a string of every length from 0
// to 61 in every lane of a block, once ending on the last byte of a page
// and once starting on its first, with unreadable pages around: a load
// reading even one byte past a string faults. The kernel must take every
// block.
func TestHashStringsReadsOnlyItsStrings(t *testing.T) {
	if !vectorDigests {
		t.Skip("this machine lacks AVX-512 (F, DQ, BW and VL); only the Go loops run")
	}
	data := guardedPage(t)
	page := int32(len(data))
	r := rand.New(rand.NewPCG(1, 2))
	for n := range int32(62) {
		for lane := range 8 {
			for _, other := range []int32{-1, 0, 5, 29, 61} { // -1: random lengths
				length := func() int32 {
					if other < 0 {
						return r.Int32N(62)
					}
					return other
				}
				end := make([]int32, 9) // lane ends on the page's last byte, later lanes are empty
				for j := lane + 1; j <= 8; j++ {
					end[j] = page
				}
				end[lane] = page - n
				for j := lane - 1; j >= 0; j-- {
					end[j] = end[j+1] - length()
				}
				start := make([]int32, 9) // lane starts on its first byte, earlier lanes are empty
				start[lane+1] = n
				for j := lane + 1; j < 8; j++ {
					start[j+1] = start[j] + length()
				}
				for _, offs := range [][]int32{end, start} {
					if done := kernelStrings(t, offs, data); done != 8 {
						t.Fatalf("offsets %v: the kernel did %d strings, want 8", offs, done)
					}
				}
			}
		}
	}
}

// Damaged offsets must stop the kernel before it reads anything: every
// one of a block's nine offsets is checked, unsigned, against the buffer.
// The Go loop then panics on the bad slice, which a reader can recover
// from, where a stray vector load against an unreadable page would kill
// the process.
func TestHashStringsStopsAtDamagedOffsets(t *testing.T) {
	if !vectorDigests {
		t.Skip("this machine lacks AVX-512 (F, DQ, BW and VL); only the Go loops run")
	}
	data := guardedPage(t)
	page := int32(len(data))
	seq := func(from, step int32) []int32 {
		o := make([]int32, 9)
		for i := range o {
			o[i] = from + int32(i)*step
		}
		return o
	}
	for _, tc := range []struct {
		name string
		offs []int32
		done int // strings the kernel does before the damage
	}{
		{"past the buffer", seq(page-16, 29), 0},
		{"wrapping around 2^31", append([]int32{2147483640}, seq(-2147483640, 0)[1:]...), 0},
		{"the ninth past the buffer", append(seq(page-50, 1)[:7], page-40, page+1), 0},
		{"the first negative", append([]int32{-5}, seq(10, 1)[1:]...), 0},
		{"decreasing in the second block", append(seq(page-29, 0), 0, 0, 0, 0, 0, 0, 0, page), 8},
	} {
		if done := kernelStrings(t, tc.offs, data); done != tc.done {
			t.Errorf("%s: the kernel did %d strings, want %d", tc.name, done, tc.done)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: hashStrings did not panic", tc.name)
				}
			}()
			hashStrings(make([]uint64, len(tc.offs)-1), tc.offs, data, tagText)
		}()
	}
}
