package file

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
)

// writeFile writes content to name in a fresh temporary directory,
// gzip-compressing it when name ends in .gz.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	data := []byte(content)
	if strings.HasSuffix(name, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// table is a read result: the schema and each row's cells formatted as
// text ("NULL" for a null).
type table struct {
	schema  *arrow.Schema
	rows    [][]string
	batches int
}

func (tb *table) col(name string) []string {
	i := tb.schema.FieldIndices(name)[0]
	out := make([]string, len(tb.rows))
	for r, row := range tb.rows {
		out[r] = row[i]
	}
	return out
}

func (tb *table) typeOf(name string) string {
	idx := tb.schema.FieldIndices(name)
	if len(idx) == 0 {
		return "(missing)"
	}
	return tb.schema.Field(idx[0]).Type.String()
}

// cell formats one value.
func cell(arr arrow.Array, i int) string {
	if arr.IsNull(i) {
		return "NULL"
	}
	switch a := arr.(type) {
	case *array.Decimal128:
		dt := a.DataType().(*arrow.Decimal128Type)
		return a.Value(i).ToString(dt.Scale)
	case *array.Timestamp:
		return a.Value(i).ToTime(arrow.Microsecond).UTC().Format("2006-01-02T15:04:05.999999Z")
	case *array.Date32:
		return a.Value(i).FormattedString()
	case *array.String:
		return a.Value(i)
	}
	return arr.ValueStr(i)
}

// readAll reads a whole source with a checked allocator and fails the test
// on a leak.
func readAll(t testing.TB, src connectors.Source, opts connectors.ReadOptions) (*table, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opts.Allocator = mem
	rr, err := src.Read(context.Background(), connectors.TableRef{}, opts)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	tb := &table{schema: rr.Schema()}
	for rr.Next() {
		rec := rr.Record()
		if !rec.Schema().Equal(tb.schema) {
			t.Fatalf("batch schema %v differs from reader schema %v", rec.Schema(), tb.schema)
		}
		tb.batches++
		for r := 0; r < int(rec.NumRows()); r++ {
			row := make([]string, rec.NumCols())
			for c := range row {
				row[c] = cell(rec.Column(c), r)
			}
			tb.rows = append(tb.rows, row)
		}
	}
	return tb, rr.Err()
}

// readFile opens a file written from content and reads it whole.
func readFile(t testing.TB, name, content string, opts connectors.Options) (*table, error) {
	t.Helper()
	src, err := New(writeFile(t, name, content), opts)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	info, err := src.Describe(context.Background(), connectors.TableRef{})
	if err != nil {
		return nil, err
	}
	tb, err := readAll(t, src, connectors.ReadOptions{})
	if err != nil {
		return nil, err
	}
	if !info.Schema.Equal(tb.schema) {
		t.Fatalf("Describe schema %v differs from Read schema %v", info.Schema, tb.schema)
	}
	return tb, nil
}

func mustRead(t testing.TB, name, content string, opts connectors.Options) *table {
	t.Helper()
	tb, err := readFile(t, name, content, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// wantErr checks that err wraps sentinel and its message contains every
// fragment.
func wantErr(t testing.TB, err, sentinel error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v containing %q", sentinel, fragments)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("error %q does not wrap %v", err, sentinel)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err, f)
		}
	}
}

func strp(s string) *string { return &s }

func rowsString(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%q\n", r)
	}
	return b.String()
}
