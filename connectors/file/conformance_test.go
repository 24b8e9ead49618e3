package file_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/connectortest"
	"github.com/reconhq/reconcile/connectors/file"
)

const csvNull = `\N`

// csvText renders the fixture as CSV (RFC 4180 quoting, \N for NULL).
func csvText(f connectortest.Fixture) string {
	var b strings.Builder
	for i, c := range f.Columns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.Name)
	}
	b.WriteString("\r\n")
	for _, row := range f.Rows {
		for i, v := range row {
			if i > 0 {
				b.WriteByte(',')
			}
			switch x := v.(type) {
			case nil:
				b.WriteString(csvNull)
			case int64:
				b.WriteString(strconv.FormatInt(x, 10))
			case bool:
				b.WriteString(strconv.FormatBool(x))
			case time.Time:
				b.WriteString(x.Format(time.RFC3339Nano))
			case string:
				if f.Columns[i].Type == "decimal" {
					b.WriteString(x)
				} else {
					b.WriteString(`"` + strings.ReplaceAll(x, `"`, `""`) + `"`)
				}
			}
		}
		b.WriteString("\r\n")
	}
	return b.String()
}

func jsonlText(t *testing.T, f connectortest.Fixture) string {
	var b strings.Builder
	for _, row := range f.Rows {
		obj := map[string]any{}
		for i, v := range row {
			switch x := v.(type) {
			case nil:
				continue // absent = NULL
			case time.Time:
				obj[f.Columns[i].Name] = x.Format(time.RFC3339Nano)
			case string:
				if f.Columns[i].Type == "decimal" {
					obj[f.Columns[i].Name] = json.Number(x)
				} else {
					obj[f.Columns[i].Name] = x
				}
			default:
				obj[f.Columns[i].Name] = x
			}
		}
		// Keys in fixture order, so the inferred columns keep that order.
		b.WriteByte('{')
		first := true
		for _, c := range f.Columns {
			v, ok := obj[c.Name]
			if !ok {
				continue
			}
			raw, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&b, "%q:%s", c.Name, raw)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// fixtureRecord is the fixture as one Arrow record, for Parquet and IPC.
func fixtureRecord(t *testing.T, f connectortest.Fixture) arrow.Record {
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 18, Scale: 2}},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "active", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	}
	b := array.NewRecordBuilder(memory.NewGoAllocator(), arrow.NewSchema(fields, nil))
	defer b.Release()
	for _, row := range f.Rows {
		b.Field(0).(*array.Int64Builder).Append(row[0].(int64))
		b.Field(1).(*array.StringBuilder).Append(row[1].(string))
		n, err := decimal128.FromString(row[2].(string), 18, 2)
		if err != nil {
			t.Fatal(err)
		}
		b.Field(2).(*array.Decimal128Builder).Append(n)
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(row[3].(time.Time).UnixMicro()))
		b.Field(4).(*array.BooleanBuilder).Append(row[4].(bool))
		if row[5] == nil {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.StringBuilder).Append(row[5].(string))
		}
	}
	return b.NewRecord()
}

func TestConformance(t *testing.T) {
	open := func(t *testing.T, path string, opts connectors.Options) connectors.Source {
		src, err := file.Open(context.Background(), path, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}
	null := csvNull
	formats := map[string]func(t *testing.T, f connectortest.Fixture, dir string) connectors.Source{
		"csv": func(t *testing.T, f connectortest.Fixture, dir string) connectors.Source {
			p := filepath.Join(dir, "fixture.csv")
			if err := os.WriteFile(p, []byte(csvText(f)), 0o644); err != nil {
				t.Fatal(err)
			}
			return open(t, p, connectors.Options{NullValue: &null})
		},
		"jsonl": func(t *testing.T, f connectortest.Fixture, dir string) connectors.Source {
			p := filepath.Join(dir, "fixture.jsonl")
			if err := os.WriteFile(p, []byte(jsonlText(t, f)), 0o644); err != nil {
				t.Fatal(err)
			}
			return open(t, p, connectors.Options{Types: map[string]string{"at": "timestamp"}})
		},
		"parquet": func(t *testing.T, f connectortest.Fixture, dir string) connectors.Source {
			p := filepath.Join(dir, "fixture.parquet")
			rec := fixtureRecord(t, f)
			defer rec.Release()
			tbl := array.NewTableFromRecords(rec.Schema(), []arrow.Record{rec})
			defer tbl.Release()
			out, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := pqarrow.WriteTable(tbl, out, 2, nil, pqarrow.DefaultWriterProps()); err != nil {
				t.Fatal(err)
			}
			out.Close()
			return open(t, p, connectors.Options{})
		},
		"arrow": func(t *testing.T, f connectortest.Fixture, dir string) connectors.Source {
			p := filepath.Join(dir, "fixture.arrow")
			rec := fixtureRecord(t, f)
			defer rec.Release()
			out, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			w, err := ipc.NewFileWriter(out, ipc.WithSchema(rec.Schema()))
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []arrow.Record{rec.NewSlice(0, 2), rec.NewSlice(2, rec.NumRows())} {
				err := w.Write(part)
				part.Release()
				if err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			out.Close()
			return open(t, p, connectors.Options{})
		},
	}
	for name, mk := range formats {
		t.Run(name, func(t *testing.T) {
			connectortest.Run(t, func(t *testing.T, f connectortest.Fixture) (connectors.Source, connectors.TableRef) {
				return mk(t, f, t.TempDir()), connectors.TableRef{}
			})
		})
	}
}
