package mysql_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/connectortest"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/internal/testdb"
)

// mysqlTypes maps the fixture's logical types to MySQL types. MySQL has no
// boolean type; bit(1) is the one read as Arrow Boolean.
var mysqlTypes = map[string]string{
	"integer":   "bigint",
	"text":      "text",
	"decimal":   "decimal(12,2)",
	"timestamp": "datetime(6)",
	"boolean":   "bit(1)",
}

func TestConformance(t *testing.T) {
	connectortest.Run(t, func(t *testing.T, f connectortest.Fixture) (connectors.Source, connectors.TableRef) {
		loc := testdb.MySQL(t)
		var cols, marks []string
		for i, c := range f.Columns {
			def := fmt.Sprintf("`%s` %s", c.Name, mysqlTypes[c.Type])
			if i == 0 {
				def += " PRIMARY KEY"
			}
			cols = append(cols, def)
			marks = append(marks, "?")
		}
		db := testdb.OpenMySQL(t, loc)
		if _, err := db.ExecContext(t.Context(), "CREATE TABLE fixture ("+strings.Join(cols, ", ")+")"); err != nil {
			t.Fatal(err)
		}
		for _, row := range f.Rows {
			if _, err := db.ExecContext(t.Context(), "INSERT INTO fixture VALUES ("+strings.Join(marks, ", ")+")", row...); err != nil {
				t.Fatal(err)
			}
		}
		src, err := mysql.Open(t.Context(), loc, connectors.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src, connectors.TableRef{Name: "fixture"}
	})
}
