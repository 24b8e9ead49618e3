//go:build !purego

package reconcile

import (
	"syscall"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// TestHashStringsReadsOnlyItsStrings puts strings against pages that may
// not be read, at the very start and the very end of the readable one: a
// vector load that strayed outside a string's bytes would fault.
func TestHashStringsReadsOnlyItsStrings(t *testing.T) {
	if !vectorDigests {
		t.Skip("this machine lacks AVX-512 (F, DQ, BW and VL); only the Go loops run")
	}
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[:page], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mprotect(mem[2*page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	data := mem[page : 2*page : 2*page]
	for i := range data {
		data[i] = byte(i*7 + 1)
	}
	// Strings from the first byte of the page, then strings that end on
	// its last byte, each of every length from 0 to 61 in a lane of its
	// own: a short block (lengths up to 29) and a long one for each.
	offs := []int32{0}
	var tail []int32
	for n := range 62 {
		offs = append(offs, offs[len(offs)-1]+int32(n))
	}
	end := int32(page)
	tail = append(tail, end)
	for n := range 62 {
		end -= int32(n)
		tail = append([]int32{end}, tail...)
	}
	// Damaged offsets (decreasing, past the buffer, wrapping around 2^31)
	// must stop the kernel before it reads: the Go loop then panics on the
	// bad slice, which a reader can recover from, where a stray vector load
	// against the unreadable page would kill the process.
	up := []int32{int32(page) - 16}
	for i := range 8 {
		up = append(up, up[0]+int32(29*(i+1)))
	}
	wrap := []int32{2147483640}
	for range 8 {
		wrap = append(wrap, -2147483640)
	}
	down := []int32{int32(page) - 29}
	for range 8 {
		down = append(down, int32(page)-29)
	}
	down = append(down, 0, 0, 0, 0, 0, 0, 0, int32(page))
	for _, o := range [][]int32{up, wrap, down} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("offsets %v: no panic", o)
				}
			}()
			hashStrings(make([]uint64, len(o)-1), o, data, tagText)
		}()
	}

	for _, o := range [][]int32{offs, tail} {
		got := make([]uint64, len(o)-1)
		hashStrings(got, o, data, tagText)
		for i := range got {
			v := data[o[i]:o[i+1]]
			if want := xxhash.Sum64(appendLen(nil, tagText, v)); got[i] != want {
				t.Fatalf("string %d (%d bytes at %d) = %#x, want %#x", i, len(v), o[i], got[i], want)
			}
		}
	}
}
