package memory_test

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/connectortest"
	memsrc "github.com/reconhq/reconcile/connectors/memory"
	"github.com/reconhq/reconcile/internal/arrowtest"
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
	rows := make([][]any, len(f.Rows))
	for i, row := range f.Rows {
		rows[i] = append([]any(nil), row...)
	}
	recs, err := arrowtest.Records(memory.NewGoAllocator(), schema, rows, 2)
	if err != nil {
		t.Fatal(err)
	}
	tbl := memsrc.Table{Name: "fixture", Schema: schema, Records: recs, PrimaryKey: []string{f.Columns[0].Name}}
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
