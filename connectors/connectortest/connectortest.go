// Package connectortest is the conformance suite every connector passes.
//
// A connector's tests call Run with a Harness that stores the Fixture in
// the connector's own medium (a file, a database table, Arrow records) and
// returns a Source over it:
//
//	func TestConformance(t *testing.T) {
//		connectortest.Run(t, func(t *testing.T, f connectortest.Fixture) (connectors.Source, connectors.TableRef) {
//			path := writeTheFixtureSomehow(t, f)
//			src, err := file.Open(t.Context(), path, connectors.Options{})
//			...
//			return src, connectors.TableRef{}
//		})
//	}
//
// The suite checks what the engine relies on: the schema, every value
// (compared by logical value, so a connector may choose its own Arrow
// types), projection, errors for unknown columns, cancellation that is
// never a silent short read, Arrow memory released, concurrent use, an
// idempotent Close, and key order from an OrderedReader. A connector that
// ignores ReadOptions.Allocator (one serving data it already holds) makes
// the memory check vacuous for itself; every other check applies.
package connectortest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
)

// Column is one fixture column. Type is the logical type: "integer",
// "text", "decimal", "timestamp" or "boolean".
type Column struct {
	Name string
	Type string
}

// Fixture is the table a harness must serve. Values are int64, string,
// string (decimals, as text like "10.50"), time.Time (UTC) and bool; nil is
// NULL. The first column is the key, and rows are in key order.
type Fixture struct {
	Columns []Column
	Rows    [][]any
}

// Standard returns the fixture of the suite: awkward text (quotes, commas,
// a newline, non-ASCII), exact decimals, instants and NULLs.
func Standard() Fixture {
	ts := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t.UTC()
	}
	return Fixture{
		Columns: []Column{{"id", "integer"}, {"name", "text"}, {"amount", "decimal"}, {"at", "timestamp"}, {"active", "boolean"}, {"note", "text"}},
		Rows: [][]any{
			{int64(1), "Ada Lovelace", "10.50", ts("2026-01-01T00:00:00Z"), true, nil},
			{int64(2), `Acme "Widgets", Ltd`, "0.01", ts("2026-01-02T03:04:05.123456Z"), false, "line one\nline two"},
			{int64(3), "Zoë Straße", "-7.25", ts("1999-12-31T23:59:59Z"), true, ""},
			{int64(10), "O'Brien", "1234567.89", ts("2026-06-30T12:00:00Z"), false, "plain"},
			{int64(42), "", "0.00", ts("2026-11-26T09:00:00.5Z"), true, "x,y"},
		},
	}
}

// Harness stores f and returns a source serving it, and the reference
// that names it. The harness registers its own cleanup; Run closes the
// source itself too, to check that Close may be called twice.
type Harness func(t *testing.T, f Fixture) (connectors.Source, connectors.TableRef)

// Run runs the conformance suite against the harness.
func Run(t *testing.T, h Harness) {
	f := Standard()
	t.Run("Describe", func(t *testing.T) {
		src, ref := h(t, f)
		defer src.Close()
		info, err := src.Describe(t.Context(), ref)
		if err != nil {
			t.Fatalf("Describe: %v", err)
		}
		if info.Schema == nil {
			t.Fatal("Describe: no schema")
		}
		var names []string
		for _, fl := range info.Schema.Fields() {
			names = append(names, fl.Name)
		}
		if want := columnNames(f); strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("columns = %v, want %v", names, want)
		}
		if info.EstimatedRows != -1 && info.EstimatedRows != int64(len(f.Rows)) {
			t.Errorf("EstimatedRows = %d, want -1 or %d", info.EstimatedRows, len(f.Rows))
		}
	})
	t.Run("ReadEveryValue", func(t *testing.T) {
		src, ref := h(t, f)
		defer src.Close()
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		got := readAll(t, src, ref, connectors.ReadOptions{Allocator: mem, BatchRows: 2}, nil)
		mem.AssertSize(t, 0)
		want := render(f, columnNames(f))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("rows =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("Projection", func(t *testing.T) {
		src, ref := h(t, f)
		defer src.Close()
		cols := []string{"note", "id"}
		got := readAll(t, src, ref, connectors.ReadOptions{Columns: cols}, cols)
		if want := render(f, cols); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("projected rows =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		_, err := src.Read(t.Context(), ref, connectors.ReadOptions{Columns: []string{"id", "no_such_column"}})
		if !errors.Is(err, connectors.ErrColumnNotFound) {
			t.Errorf("Read of an unknown column: err = %v, want ErrColumnNotFound", err)
		}
	})
	t.Run("CancelIsNeverAShortRead", func(t *testing.T) {
		src, ref := h(t, f)
		defer src.Close()
		ctx, cancel := context.WithCancel(t.Context())
		r, err := src.Read(ctx, ref, connectors.ReadOptions{BatchRows: 1})
		cancel() // before the first Next: a reader must notice
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Read: %v", err)
			}
			return
		}
		defer r.Release()
		n := 0
		for r.Next() {
			n += int(r.Record().NumRows())
		}
		if !errors.Is(r.Err(), context.Canceled) {
			t.Errorf("a read cancelled before its first batch gave %d rows and Err() = %v, want context.Canceled", n, r.Err())
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		src, ref := h(t, f)
		defer src.Close()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := src.Describe(t.Context(), ref); err != nil {
					errs[i] = err
					return
				}
				r, err := src.Read(t.Context(), ref, connectors.ReadOptions{})
				if err != nil {
					errs[i] = err
					return
				}
				defer r.Release()
				rows := 0
				for r.Next() {
					rows += int(r.Record().NumRows())
				}
				if r.Err() != nil || rows != len(f.Rows) {
					errs[i] = fmt.Errorf("read %d rows, err %v", rows, r.Err())
				}
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("reader %d: %v", i, err)
			}
		}
	})
	t.Run("CloseTwice", func(t *testing.T) {
		src, _ := h(t, f)
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := src.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	t.Run("OrderedReader", func(t *testing.T) {
		src, ref := h(t, f)
		defer src.Close()
		or, ok := src.(connectors.OrderedReader)
		if !ok {
			t.Skip("the source has no OrderedReader capability")
		}
		r, err := or.ReadOrdered(t.Context(), ref, []string{"id"}, connectors.ReadOptions{Columns: []string{"id"}})
		if err != nil {
			t.Fatalf("ReadOrdered: %v", err)
		}
		defer r.Release()
		var prev *big.Rat
		rows := 0
		for r.Next() {
			rows += int(r.Record().NumRows())
			col := r.Record().Column(0)
			for i := 0; i < col.Len(); i++ {
				v, ok := new(big.Rat).SetString(col.ValueStr(i))
				if !ok {
					t.Fatalf("key %q is not a number", col.ValueStr(i))
				}
				if prev != nil && prev.Cmp(v) > 0 {
					t.Errorf("ReadOrdered: key %s after %s", v.RatString(), prev.RatString())
				}
				prev = v
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		if rows != len(f.Rows) {
			t.Errorf("ReadOrdered gave %d rows, want %d", rows, len(f.Rows))
		}
	})
}

func columnNames(f Fixture) []string {
	var out []string
	for _, c := range f.Columns {
		out = append(out, c.Name)
	}
	return out
}

// readAll reads every row and renders it with the logical types of the
// fixture columns named cols (all columns when nil).
func readAll(t *testing.T, src connectors.Source, ref connectors.TableRef, opts connectors.ReadOptions, cols []string) []string {
	t.Helper()
	r, err := src.Read(t.Context(), ref, opts)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	defer r.Release()
	f := Standard()
	if cols == nil {
		cols = columnNames(f)
	}
	types := map[string]string{}
	for _, c := range f.Columns {
		types[c.Name] = c.Type
	}
	var out []string
	for r.Next() {
		rec := r.Record()
		if int(rec.NumCols()) != len(cols) {
			t.Fatalf("record has %d columns, want %d", rec.NumCols(), len(cols))
		}
		if !rec.Schema().Equal(r.Schema()) {
			t.Errorf("record schema %s differs from the reader's %s", rec.Schema(), r.Schema())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for c := range cols {
				cells = append(cells, cell(rec.Schema().Field(c), rec.Column(c), i, types[cols[c]]))
			}
			out = append(out, strings.Join(cells, " | "))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("reading: %v", err)
	}
	return out
}

// cell renders one Arrow value by logical value, whatever Arrow type the
// connector chose for it.
func cell(f arrow.Field, a arrow.Array, i int, typ string) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch typ {
	case "integer", "decimal":
		// A number must arrive as a number: text that looks like one would
		// compare as text ("10.50" ≠ "10.5"), unless the field says it
		// holds exact decimals.
		switch a.DataType().ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
			arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
		case arrow.STRING, arrow.LARGE_STRING:
			if v, ok := f.Metadata.GetValue(connectors.MetaLogical); !ok || v != connectors.LogicalDecimal {
				return "text without the decimal logical type: " + a.DataType().String()
			}
		default:
			return "not a number type: " + a.DataType().String()
		}
		v, ok := new(big.Rat).SetString(a.ValueStr(i))
		if !ok {
			return "not a number: " + a.ValueStr(i)
		}
		return v.RatString()
	case "timestamp":
		if ts, ok := a.(*array.Timestamp); ok {
			unit := ts.DataType().(*arrow.TimestampType).Unit
			return ts.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano)
		}
		return "not a timestamp: " + a.ValueStr(i)
	case "boolean":
		if b, ok := a.(*array.Boolean); ok {
			return fmt.Sprint(b.Value(i))
		}
		return "not a boolean: " + a.ValueStr(i)
	}
	return fmt.Sprintf("%q", a.ValueStr(i))
}

// render is what cell gives for the fixture itself.
func render(f Fixture, cols []string) []string {
	idx := map[string]int{}
	for i, c := range f.Columns {
		idx[c.Name] = i
	}
	var out []string
	for _, row := range f.Rows {
		var cells []string
		for _, c := range cols {
			v := row[idx[c]]
			switch x := v.(type) {
			case nil:
				cells = append(cells, "NULL")
			case int64:
				cells = append(cells, big.NewRat(x, 1).RatString())
			case time.Time:
				cells = append(cells, x.UTC().Format(time.RFC3339Nano))
			case bool:
				cells = append(cells, fmt.Sprint(x))
			case string:
				if f.Columns[idx[c]].Type == "decimal" {
					r, _ := new(big.Rat).SetString(x)
					cells = append(cells, r.RatString())
				} else {
					cells = append(cells, fmt.Sprintf("%q", x))
				}
			}
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return out
}
