package mysql

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
)

// TestBatchByteBudget reads 300 rows of 1 MiB with lowered byte limits:
// batches are cut at the budget, and before a column outgrows its 32-bit
// offsets; a single value too large for them is an error naming its
// column. Rows keep their order and content.
func TestBatchByteBudget(t *testing.T) {
	loc := testdb.MySQL(t)
	budget, limit := batchByteBudget, maxVarBytes
	t.Cleanup(func() { batchByteBudget, maxVarBytes = budget, limit })
	src, err := Open(t.Context(), loc, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	const mib = 1 << 20
	ref := connectors.TableRef{Query: "SELECT seq AS id, REPEAT(CHAR(65 + seq % 26 USING utf8mb4), 1048576) AS s, " +
		"CAST(REPEAT(CHAR(97 + seq % 26), 16) AS BINARY) AS b FROM seq_1_to_300"}
	read := func(t *testing.T, key []string) ([]int, error) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		opts := connectors.ReadOptions{BatchRows: 1000, Allocator: mem}
		var r array.RecordReader
		var err error
		if key == nil {
			r, err = src.Read(t.Context(), ref, opts)
		} else {
			r, err = src.ReadOrdered(t.Context(), ref, key, opts)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		var sizes []int
		next := uint64(1)
		for r.Next() {
			rec := r.Record()
			sizes = append(sizes, int(rec.NumRows()))
			ids, s, b := rec.Column(0).(*array.Uint64), rec.Column(1).(*array.String), rec.Column(2).(*array.Binary)
			for i := 0; i < int(rec.NumRows()); i++ {
				if ids.Value(i) != next {
					t.Fatalf("row id %d, want %d", ids.Value(i), next)
				}
				c := string(rune(65 + next%26))
				if v := s.Value(i); len(v) != mib || strings.Count(v, c) != mib {
					t.Fatalf("row %d: s is wrong (%d bytes)", next, len(v))
				}
				if v := string(b.Value(i)); v != strings.Repeat(string(rune(97+next%26)), 16) {
					t.Fatalf("row %d: b = %q", next, v)
				}
				next++
			}
		}
		if r.Err() == nil && next != 301 {
			t.Fatalf("read %d rows, want 300", next-1)
		}
		return sizes, r.Err()
	}
	want := func(first, _ int) string {
		var w []string
		for left := 300; left > 0; left -= min(left, first) {
			w = append(w, fmt.Sprint(min(left, first)))
		}
		return strings.Join(w, " ")
	}
	show := func(sizes []int) string { return strings.Trim(fmt.Sprint(sizes), "[]") }

	batchByteBudget, maxVarBytes = 8*mib, limit
	for _, key := range [][]string{nil, {"id"}} {
		sizes, err := read(t, key)
		if err != nil {
			t.Fatal(err)
		}
		// Cut once the columns hold 8 MiB: 8 rows of 1 MiB and 16 bytes.
		if got := show(sizes); got != want(8, 300) {
			t.Errorf("key %v: batch sizes %s, want %s", key, got, want(8, 300))
		}
	}

	// A column that would outgrow its offsets takes a new batch first.
	batchByteBudget, maxVarBytes = 64*mib, 3*mib+100
	sizes, err := read(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := show(sizes); got != want(3, 300) {
		t.Errorf("batch sizes %s, want %s", got, want(3, 300))
	}

	// A value that fits no batch.
	maxVarBytes = mib - 1
	_, err = read(t, []string{"id"})
	if err == nil || !errors.Is(err, connectors.ErrBadInput) || !strings.Contains(err.Error(), "column s") {
		t.Fatalf("Err() = %v, want ErrBadInput naming column s", err)
	}
}
