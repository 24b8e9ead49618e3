package memory_test

import (
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/connectortest"
	memsrc "github.com/reconhq/reconcile/connectors/memory"
)

// FixtureTable builds the conformance fixture as Arrow records, one record
// per two rows.
func FixtureTable(t *testing.T, f connectortest.Fixture) memsrc.Table {
	t.Helper()
	var fields []arrow.Field
	for _, c := range f.Columns {
		var dt arrow.DataType
		switch c.Type {
		case "integer":
			dt = arrow.PrimitiveTypes.Int64
		case "decimal":
			dt = &arrow.Decimal128Type{Precision: 20, Scale: 2}
		case "timestamp":
			dt = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
		case "boolean":
			dt = arrow.FixedWidthTypes.Boolean
		default:
			dt = arrow.BinaryTypes.String
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: dt, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	tbl := memsrc.Table{Name: "fixture", Schema: schema, PrimaryKey: []string{f.Columns[0].Name}}
	for i, row := range f.Rows {
		for c, v := range row {
			fb := b.Field(c)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int64Builder:
				fb.Append(v.(int64))
			case *array.Decimal128Builder:
				n, err := decimal128.FromString(v.(string), 20, 2)
				if err != nil {
					t.Fatal(err)
				}
				fb.Append(n)
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
			case *array.BooleanBuilder:
				fb.Append(v.(bool))
			case *array.StringBuilder:
				fb.Append(v.(string))
			}
		}
		if i%2 == 1 || i == len(f.Rows)-1 {
			tbl.Records = append(tbl.Records, b.NewRecord())
		}
	}
	return tbl
}

func TestConformance(t *testing.T) {
	connectortest.Run(t, func(t *testing.T, f connectortest.Fixture) (connectors.Source, connectors.TableRef) {
		tbl := FixtureTable(t, f)
		src, err := memsrc.NewOrdered(tbl, []string{"id"})
		for _, r := range tbl.Records {
			r.Release()
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src, connectors.TableRef{}
	})
}
