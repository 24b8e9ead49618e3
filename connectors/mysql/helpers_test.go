package mysql_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/mysql"
)

// open opens a Source on loc, closed when the test ends.
func open(t *testing.T, loc string, conf mysql.Config) *mysql.Source {
	t.Helper()
	src, err := conf.Open(t.Context(), loc, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// collect reads r to its end and renders every row as "v1 | v2 | ...";
// it releases r and checks that the checked allocator is empty after.
func collect(t *testing.T, r array.RecordReader, mem *memory.CheckedAllocator) []string {
	t.Helper()
	var out []string
	for r.Next() {
		rec := r.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for c := 0; c < int(rec.NumCols()); c++ {
				cells = append(cells, render(rec.Column(c), i))
			}
			out = append(out, strings.Join(cells, " | "))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("reading: %v", err)
	}
	r.Release()
	if mem != nil {
		mem.AssertSize(t, 0)
	}
	return out
}

// readAll reads ref in full with a checked allocator.
func readAll(t *testing.T, src *mysql.Source, ref connectors.TableRef, key []string, opts connectors.ReadOptions) []string {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	opts.Allocator = mem
	var r array.RecordReader
	var err error
	if key != nil {
		r, err = src.ReadOrdered(t.Context(), ref, key, opts)
	} else {
		r, err = src.Read(t.Context(), ref, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	return collect(t, r, mem)
}

// render shows one value with its Arrow type's meaning: instants in UTC,
// dates and times as text, invalid values as "invalid".
func render(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch x := a.(type) {
	case *array.Timestamp:
		if x.Value(i) == math.MinInt64 {
			return "invalid"
		}
		return x.Value(i).ToTime(arrow.Microsecond).UTC().Format("2006-01-02 15:04:05.999999")
	case *array.Date32:
		if x.Value(i) == math.MinInt32 {
			return "invalid"
		}
		return x.Value(i).ToTime().Format("2006-01-02")
	case *array.Time64:
		return (time.Duration(x.Value(i)) * time.Microsecond).String()
	case *array.Binary:
		return fmt.Sprintf("%x", x.Value(i))
	case *array.String:
		return fmt.Sprintf("%q", x.Value(i))
	}
	return a.ValueStr(i)
}

// fieldTypes renders a schema as "name type [meta]" lines, leaving out
// the text columns' collations (collations() shows those).
func fieldTypes(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		line := f.Name + " " + f.Type.String()
		var keys, values []string
		for i, k := range f.Metadata.Keys() {
			if k != connectors.MetaCollation {
				keys, values = append(keys, k), append(values, f.Metadata.Values()[i])
			}
		}
		if len(keys) > 0 {
			line += fmt.Sprintf(" %v=%v", keys, values)
		}
		out = append(out, line)
	}
	return out
}

func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s =\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// collations renders the text columns' collations as "name collation".
func collations(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		if c, ok := f.Metadata.GetValue(connectors.MetaCollation); ok {
			out = append(out, f.Name+" "+c)
		}
	}
	return out
}
