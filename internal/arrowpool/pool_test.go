package arrowpool

import (
	"flag"
	"sync"
	"testing"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

func aligned(b []byte) bool { return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%alignment == 0 }

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// A buffer freed to the pool comes back for the next allocation of its
// size class, zeroed and aligned as Go's allocator would give it.
func TestPoolReusesFreedBuffersZeroed(t *testing.T) {
	p := New(1 << 20)
	b := p.Allocate(5000)
	if len(b) != 5000 || cap(b) != 8192 || !aligned(b) || !zero(b) {
		t.Fatalf("Allocate(5000): len %d cap %d aligned %v", len(b), cap(b), aligned(b))
	}
	for i := range b {
		b[i] = 0xff
	}
	first := unsafe.SliceData(b)
	p.Free(b)
	c := p.Allocate(7000)
	if unsafe.SliceData(c) != first || len(c) != 7000 || !zero(c) {
		t.Fatalf("Allocate(7000) after a free: reused %v, len %d, zeroed %v", unsafe.SliceData(c) == first, len(c), zero(c))
	}
	if d := p.Allocate(7000); unsafe.SliceData(d) == first {
		t.Fatal("one freed buffer was handed out twice")
	}
}

// Reallocate keeps the contents, and what a buffer gains is zero, whether
// it grows within its class or moves to a larger one.
func TestPoolReallocate(t *testing.T) {
	p := New(1 << 20)
	b := p.Allocate(4100)
	for i := range b {
		b[i] = byte(i)
	}
	b = b[:100] // shrink, then grow back within the class: no stale bytes
	b = p.Reallocate(6000, b)
	if cap(b) != 8192 || b[99] != 99 || !zero(b[100:]) {
		t.Fatalf("grown within its class: cap %d, kept %v, zeroed %v", cap(b), b[99] == 99, zero(b[100:]))
	}
	b = p.Reallocate(20000, b)
	if len(b) != 20000 || cap(b) != 32768 || b[99] != 99 || !zero(b[100:6000]) || !zero(b[6000:]) || !aligned(b) {
		t.Fatalf("moved to a larger class: len %d cap %d", len(b), cap(b))
	}
	if n := len(p.free[class(8192)]); n != 1 {
		t.Fatalf("the outgrown buffer was not taken back (%d free)", n)
	}
	// Moving into a reused buffer: the copied bytes are the old ones, and
	// all past them is zero, whatever the buffer held before.
	dirty := p.Allocate(30000)
	for i := range dirty {
		dirty[i] = 0xff
	}
	p.Free(dirty)
	c := p.Allocate(5000)
	for i := range c {
		c[i] = byte(i) | 1
	}
	c = p.Reallocate(25000, c)
	if unsafe.SliceData(c) != unsafe.SliceData(dirty) {
		t.Fatal("the freed 32 KiB buffer was not reused")
	}
	for i := range 5000 {
		if c[i] != byte(i)|1 {
			t.Fatalf("byte %d of the moved contents is %#x", i, c[i])
		}
	}
	if !zero(c[5000:]) {
		t.Fatal("a reused buffer kept old bytes past the moved contents")
	}
}

// Small and huge buffers are Go's; the pool keeps at most its limit, and
// a poisoned pool fills what is freed.
func TestPoolLimitsAndPassThrough(t *testing.T) {
	p := New(16 << 10)
	small := p.Allocate(100)
	if len(small) != 100 || !aligned(small) {
		t.Fatalf("small buffer: len %d aligned %v", len(small), aligned(small))
	}
	p.Free(small)
	if p.held != 0 {
		t.Fatalf("a small buffer was kept: held %d", p.held)
	}
	a, b, c := p.Allocate(8192), p.Allocate(8192), p.Allocate(8192)
	p.Free(a)
	p.Free(b)
	p.Free(c) // over the 16 KiB limit: left to the collector
	if p.held != 16<<10 || len(p.free[13]) != 2 {
		t.Fatalf("held %d bytes in %d buffers, want 16 KiB in 2", p.held, len(p.free[13]))
	}
	q := Poisoned(0)
	d := q.Allocate(5000)
	q.Free(d)
	if d[0] != 0xA5 || d[4999] != 0xA5 || q.held != 0 {
		t.Fatalf("poisoned pool: first byte %#x, held %d", d[0], q.held)
	}
}

// Records are often released on another goroutine than the reader's.
func TestPoolConcurrentUse(t *testing.T) {
	p := New(1 << 20)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				b := p.Allocate(4096 + (g*977+i*131)%60000)
				if !zero(b[:64]) {
					t.Error("a buffer came back dirty")
					return
				}
				b[0] = 1
				p.Free(b)
			}
		}()
	}
	wg.Wait()
	if p.held > p.limit {
		t.Fatalf("held %d bytes past the limit %d", p.held, p.limit)
	}
}

// Pools made by New in tests are poisoned, so that every package's tests
// catch memory read after its release.
func TestNewPoisonsInTests(t *testing.T) {
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		t.Skip("benchmarks run with plain pools")
	}
	p := New(1 << 20)
	b := p.Allocate(8192)
	b[0] = 7
	p.Free(b)
	if b[0] != 0xA5 {
		t.Fatalf("a buffer freed to a pool from New in a test holds %#x, want the 0xA5 poison", b[0])
	}
}

func TestReplaces(t *testing.T) {
	if !Replaces(nil) || !Replaces(memory.DefaultAllocator) {
		t.Error("no allocator, or the default one, should be replaced by a pool")
	}
	if Replaces(memory.NewCheckedAllocator(memory.NewGoAllocator())) || Replaces(New(1<<20)) {
		t.Error("a caller's own allocator should be kept")
	}
}
