// Package arrowpool is an Arrow memory allocator that reuses the buffers
// released to it instead of leaving them to the garbage collector.
//
// A reader that decodes a file into Arrow record batches allocates fresh
// buffers for every batch, hundreds of megabytes a second, and Go's
// allocator hands them out zeroed and takes them back only by collecting
// garbage: on the Parquet path that was a sixth of the CPU time, in
// collections alone. A Pool keeps the buffers whose records were released
// (Arrow counts references, and the last Release frees a buffer) and hands
// them out again.
//
// Buffers are kept in power-of-two size classes from 4 KiB; smaller ones
// are left to Go. Every buffer handed out is zeroed, as Go's allocator
// zeroes them, so code written against memory.GoAllocator sees no
// difference. A Pool keeps at most Limit bytes of free buffers.
//
// EachBuffer walks the buffers of a record, for the callers that count the
// memory records hold.
package arrowpool

import (
	"flag"
	"math/bits"
	"sync"
	"testing"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

const (
	minClass  = 12 // 4 KiB: smaller buffers go to Go's allocator
	maxClass  = 30 // 1 GiB: larger ones too
	alignment = 64 // what memory.GoAllocator guarantees
)

// Pool is a memory.Allocator. Its methods are safe for concurrent use: a
// record is often released on another goroutine than the one that read
// it.
type Pool struct {
	limit  int64 // bytes of free buffers kept at most
	poison bool  // fill freed buffers (tests)

	mu   sync.Mutex
	free [maxClass + 1][][]byte
	held int64 // bytes in free
	goa  memory.GoAllocator
}

// New returns a Pool that keeps at most limit bytes of free buffers.
//
// In a test binary (testing.Testing) it is a Poisoned pool, unless the
// run benchmarks: every package's tests then catch a record's memory read
// after its last Release, whichever reader's pool it came from, while
// benchmarks measure the pool as it runs.
func New(limit int64) *Pool { return &Pool{limit: limit, poison: poisonInTests()} }

// poisonInTests reports whether this is a test binary running tests
// rather than benchmarks.
func poisonInTests() bool {
	if !testing.Testing() {
		return false
	}
	f := flag.Lookup("test.bench")
	return f == nil || f.Value.String() == ""
}

// Replaces reports whether a reader given mem as its allocator should
// build its record batches in a Pool instead: mem is nil or
// memory.DefaultAllocator. A caller's own allocator is kept. A pool takes
// back the buffers of released batches and hands them out for the next
// ones, rather than fresh memory the kernel must fault in and the
// collector must reclaim.
func Replaces(mem memory.Allocator) bool { return mem == nil || mem == memory.DefaultAllocator }

// Poisoned returns a Pool that fills every buffer freed to it with 0xA5
// bytes, whether it keeps it or not: for tests, so that code still
// reading a buffer after its last Release reads garbage rather than the
// values it expects.
func Poisoned(limit int64) *Pool { return &Pool{limit: limit, poison: true} }

var _ memory.Allocator = (*Pool)(nil)

func class(size int) int { return bits.Len(uint(size - 1)) }

// Allocate returns a zeroed buffer of size bytes, aligned to 64 bytes.
func (p *Pool) Allocate(size int) []byte { return p.allocate(size, 0) }

// allocate is Allocate for a caller that overwrites the first keep bytes
// itself: a reused buffer is zeroed from there on only.
func (p *Pool) allocate(size, keep int) []byte {
	c := class(size)
	if size <= 0 || c < minClass || c > maxClass {
		return p.goa.Allocate(size)
	}
	p.mu.Lock()
	var b []byte
	if n := len(p.free[c]); n > 0 {
		b = p.free[c][n-1]
		p.free[c][n-1] = nil
		p.free[c] = p.free[c][:n-1]
		p.held -= int64(cap(b))
	}
	p.mu.Unlock()
	if b == nil {
		return allocClass(c)[:size]
	}
	b = b[:size]
	clear(b[min(keep, size):])
	return b
}

// allocClass returns a new 64-byte-aligned buffer of 1<<c bytes.
func allocClass(c int) []byte {
	n := 1 << c
	raw := make([]byte, n+alignment)
	shift := (alignment - int(uintptr(unsafe.Pointer(unsafe.SliceData(raw))))%alignment) % alignment
	return raw[shift : shift+n : shift+n]
}

// Reallocate resizes b to size bytes, keeping its contents; the bytes it
// gains are zero.
func (p *Pool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		old := len(b)
		b = b[:size]
		if size > old {
			clear(b[old:])
		}
		return b
	}
	nb := p.allocate(size, len(b)) // the copy overwrites the first len(b) bytes
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free takes back a buffer Allocate or Reallocate returned.
func (p *Pool) Free(b []byte) {
	if p.poison {
		b = b[:cap(b)]
		for i := range b {
			b[i] = 0xA5
		}
	}
	c := class(cap(b))
	if cap(b) != 1<<c || c < minClass || c > maxClass {
		return // Go's, or not one of ours: the collector takes it
	}
	p.mu.Lock()
	if p.held+int64(cap(b)) <= p.limit {
		p.free[c] = append(p.free[c], b[:0])
		p.held += int64(cap(b))
	}
	p.mu.Unlock()
}
