//go:build !purego

package reconcile

import (
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// vectorDigests says whether the AVX-512 kernels of digest_amd64.s run. It
// is a variable so that tests can run the scalar code on the same machine.
var vectorDigests = cpu.X86.HasAVX2 && cpu.X86.HasBMI2 &&
	cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

//go:noescape
func hash9x8(dst *uint64, src unsafe.Pointer, n int, tag uint64, signed32 bool)

//go:noescape
func hash5x8(dst *uint64, src unsafe.Pointer, n int, tag uint64)

//go:noescape
func foldx8(r, d *uint64, n int) (sum uint64)

//go:noescape
func finishx8(r *uint64, n int) (sum uint64)

// The ...Vec functions do the leading multiple of 8 of their work and
// return how many values they did; the callers do the rest.

// vecLen is how many of n values the kernels take: 0 without them.
func vecLen(n int) int {
	if !vectorDigests {
		return 0
	}
	return n &^ 7
}

func hash9Vec(dst []uint64, src unsafe.Pointer, signed32 bool, tag byte) int {
	n := vecLen(len(dst))
	if n == 0 {
		return 0
	}
	hash9x8(&dst[0], src, n, uint64(tag), signed32)
	return n
}

func hash5Vec(dst []uint64, src unsafe.Pointer, tag byte) int {
	n := vecLen(len(dst))
	if n == 0 {
		return 0
	}
	hash5x8(&dst[0], src, n, uint64(tag))
	return n
}

func foldVec(r, d []uint64) (int, uint64) {
	n := vecLen(len(r))
	if n == 0 {
		return 0, 0
	}
	return n, foldx8(&r[0], &d[0], n)
}

func finishVec(r []uint64) (int, uint64) {
	n := vecLen(len(r))
	if n == 0 {
		return 0, 0
	}
	return n, finishx8(&r[0], n)
}

//go:noescape
func hashShortx8(dst *uint64, offs *int32, data unsafe.Pointer, size int, n int, tag uint64) (done int)

func hashShortVec(dst []uint64, offs []int32, data []byte, tag byte) int {
	n := vecLen(len(dst))
	if n == 0 {
		return 0
	}
	// Offsets are int32: no valid one passes MaxInt32.
	size := min(len(data), math.MaxInt32)
	return hashShortx8(&dst[0], &offs[0], unsafe.Pointer(unsafe.SliceData(data)), size, n, uint64(tag))
}
