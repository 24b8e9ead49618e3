package recordstream

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var schema = arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)

// produce starts a producer that sends n one-row records, then stops with
// err; it stops early, with ctx's error, when ctx ends.
func produce(t *testing.T, mem memory.Allocator, n int, err error) (*Reader, *int) {
	t.Helper()
	ctx := t.Context()
	pctx, cancel := context.WithCancel(ctx)
	out, done := make(chan arrow.Record, 1), make(chan struct{})
	var perr error
	sent := 0
	go func() {
		defer close(done)
		defer close(out)
		for i := 0; i < n; i++ {
			b := array.NewInt64Builder(mem)
			b.Append(int64(i))
			a := b.NewArray()
			b.Release()
			rec := array.NewRecord(schema, []arrow.Array{a}, 1)
			a.Release()
			select {
			case out <- rec:
				sent++
			case <-pctx.Done():
				rec.Release()
				perr = pctx.Err()
				return
			}
		}
		perr = err
	}()
	r := NewReader(ctx, cancel, Producer{Name: "t", Schema: schema, Out: out, Done: done, Err: func() error { return perr }})
	return r, &sent
}

func TestReaderDeliversAllThenTheError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	boom := errors.New("boom")
	r, _ := produce(t, mem, 3, boom)
	got := 0
	for r.Next() {
		if r.Record().NumRows() != 1 {
			t.Fatalf("record of %d rows", r.Record().NumRows())
		}
		got++
	}
	if got != 3 || !errors.Is(r.Err(), boom) {
		t.Errorf("read %d records, Err %v; want 3 and boom", got, r.Err())
	}
	if r.Next() {
		t.Error("Next after the end")
	}
	r.Release()
}

func TestEarlyReleaseStopsTheProducerAndFreesEverything(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, sent := produce(t, mem, 1000, nil)
	if !r.Next() {
		t.Fatal(r.Err())
	}
	r.Retain()
	r.Release() // still held once
	r.Release() // stops the producer and drains what it sent
	if *sent >= 1000 {
		t.Errorf("the producer sent all %d records after Release", *sent)
	}
}

func TestCancelledCallerIsAnErrorNotAShortRead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx, cancel := context.WithCancel(t.Context())
	pctx, pcancel := context.WithCancel(ctx)
	out, done := make(chan arrow.Record), make(chan struct{})
	var perr error
	go func() {
		defer close(done)
		defer close(out)
		<-pctx.Done()
		perr = pctx.Err()
	}()
	r := NewReader(ctx, pcancel, Producer{Name: "orders", Schema: schema, Out: out, Done: done, Err: func() error { return perr }})
	defer r.Release()
	cancel()
	if r.Next() {
		t.Fatal("Next after cancellation")
	}
	if !errors.Is(r.Err(), context.Canceled) {
		t.Errorf("Err = %v, want context.Canceled", r.Err())
	}
}
