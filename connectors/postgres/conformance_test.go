package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/connectortest"
	"github.com/reconhq/reconcile/connectors/postgres"
	"github.com/reconhq/reconcile/internal/testdb"
)

// pgTypes maps the fixture's logical types to PostgreSQL types.
var pgTypes = map[string]string{
	"integer":   "bigint",
	"text":      "text",
	"decimal":   "numeric(12,2)",
	"timestamp": "timestamptz",
	"boolean":   "boolean",
}

// sqlValue renders a fixture value as a SQL literal.
func sqlValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return fmt.Sprint(x)
	case bool:
		return fmt.Sprint(x)
	case time.Time:
		return "'" + x.Format(time.RFC3339Nano) + "'"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	}
	panic(fmt.Sprintf("unexpected fixture value %T", v))
}

func TestConformance(t *testing.T) {
	connectortest.Run(t, func(t *testing.T, f connectortest.Fixture) (connectors.Source, connectors.TableRef) {
		dsn := testdb.Postgres(t)
		var cols []string
		for i, c := range f.Columns {
			def := fmt.Sprintf("%q %s", c.Name, pgTypes[c.Type])
			if i == 0 {
				def += " PRIMARY KEY"
			}
			cols = append(cols, def)
		}
		stmts := []string{"CREATE TABLE fixture (" + strings.Join(cols, ", ") + ")"}
		for _, row := range f.Rows {
			var vals []string
			for _, v := range row {
				vals = append(vals, sqlValue(v))
			}
			stmts = append(stmts, "INSERT INTO fixture VALUES ("+strings.Join(vals, ", ")+")")
		}
		testdb.Exec(t, dsn, stmts...)
		src, err := postgres.Open(t.Context(), dsn, connectors.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src, connectors.TableRef{Name: "fixture"}
	})
}
