package postgres

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/arrowpool"
	"github.com/reconhq/reconcile/internal/testdb"
)

// A scan's batches come from its pool, and their values hold whether each
// batch is released at once (its buffers then go to the next batches) or
// all are held to the end; the pool poisons what is released to it.
func TestScanBatchesFromPool(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE pooled (id int PRIMARY KEY, t text, n numeric(12, 2))`,
		`INSERT INTO pooled SELECT g, 'row ' || g, g * 1.25 FROM generate_series(1, 5000) g`,
	)
	var pools atomic.Int64
	restore := newBatchPool
	newBatchPool = func() memory.Allocator { pools.Add(1); return arrowpool.Poisoned(batchPoolLimit) }
	t.Cleanup(func() { newBatchPool = restore })

	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	check := func(rec arrow.Record, next int) int {
		ids := rec.Column(0).(*array.Int32)
		txt := rec.Column(1).(*array.String)
		num := rec.Column(2).(*array.Decimal128)
		for i := 0; i < int(rec.NumRows()); i++ {
			id := int(ids.Value(i))
			if id != next || txt.Value(i) != fmt.Sprintf("row %d", id) || num.Value(i).LowBits() != uint64(id*125) {
				t.Fatalf("row %d: id %d, %q, %v", next, id, txt.Value(i), num.Value(i))
			}
			next++
		}
		return next
	}
	for _, hold := range []bool{false, true} {
		before := pools.Load()
		rr, err := src.ReadOrdered(t.Context(), connectors.TableRef{Name: "pooled"}, []string{"id"}, connectors.ReadOptions{BatchRows: 256})
		if err != nil {
			t.Fatal(err)
		}
		var held []arrow.Record
		next := 1
		for rr.Next() {
			rec := rr.Record()
			if hold {
				rec.Retain()
				held = append(held, rec)
				continue
			}
			next = check(rec, next)
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		rr.Release()
		for _, rec := range held {
			next = check(rec, next)
			rec.Release()
		}
		if next != 5001 {
			t.Errorf("hold %v: read %d rows, want 5000", hold, next-1)
		}
		if pools.Load() == before {
			t.Errorf("hold %v: the scan did not take its batches from a pool", hold)
		}
	}
}
