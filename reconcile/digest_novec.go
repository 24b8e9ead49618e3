//go:build !amd64 || purego

package reconcile

import "unsafe"

// Without the AVX-512 kernels of digest_amd64.s, the callers of these do
// all the work in Go.

const vectorDigests = false

func hash9Vec([]uint64, unsafe.Pointer, bool, byte) int { return 0 }
func hash5Vec([]uint64, unsafe.Pointer, byte) int       { return 0 }
func foldVec([]uint64, []uint64) (int, uint64)          { return 0, 0 }
func finishVec([]uint64) (int, uint64)                  { return 0, 0 }
func hashShortVec([]uint64, []int32, []byte, byte) int  { return 0 }
