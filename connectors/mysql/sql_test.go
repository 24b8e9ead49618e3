package mysql

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestParseTableName(t *testing.T) {
	for _, c := range []struct {
		in      string
		db, tbl string
		err     bool
	}{
		{"orders", "", "orders", false},
		{"Shop.Orders", "Shop", "Orders", false},
		{"`my db`.`order items`", "my db", "order items", false},
		{"`we``ird`", "", "we`ird", false},
		{" shop . `select` ", "shop", "select", false},
		{"`a.b`.c", "a.b", "c", false},
		{`"quoted"`, "", `"quoted"`, false},
		{"a.b.c", "", "", true},
		{"`open", "", "", true},
		{"``", "", "", true},
		{"a b", "", "", true},
		{"", "", "", true},
		{"a.", "", "", true},
	} {
		got, err := parseTableName(c.in)
		if (err != nil) != c.err || (!c.err && (got.db != c.db || got.name != c.tbl)) {
			t.Errorf("parseTableName(%q) = %+v, %v", c.in, got, err)
		}
	}
}

// FuzzParseTableName checks that a parsed name quotes back to a name that
// parses to the same parts.
func FuzzParseTableName(f *testing.F) {
	for _, s := range []string{"orders", "`my db`.`t`", "`we``ird`", "a.b.c", "`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseTableName(s)
		if err != nil {
			return
		}
		back, err := parseTableName(n.quoted())
		if err != nil || back != n {
			t.Fatalf("parseTableName(%q) = %+v; its quoted form %s parses to %+v, %v", s, n, n.quoted(), back, err)
		}
	})
}

func TestQuoteIdent(t *testing.T) {
	if got := quoteIdent("a`b"); got != "`a``b`" {
		t.Errorf("quoteIdent = %s", got)
	}
}

func testPlan() *tablePlan {
	p := &tablePlan{from: "`t`"}
	for _, c := range []catalogColumn{
		{name: "id", dataType: "int", columnType: "int(11)"},
		{name: "name", dataType: "varchar", columnType: "varchar(20)", nullable: true},
		{name: "amount", dataType: "decimal", columnType: "decimal(12,2)", precision: 12, scale: 2},
		{name: "at", dataType: "datetime", columnType: "datetime(6)", nullable: true},
		{name: "f", dataType: "float", columnType: "float"},
	} {
		cp, _ := mapCatalogColumn(c)
		p.cols = append(p.cols, cp)
	}
	return p
}

func TestSelectSQL(t *testing.T) {
	p := testPlan()
	p.where = userSQL("amount > 0 -- positive only")
	sql, args := p.selectSQL([]int{0, 1, 4}, []int{1, 0}, nil)
	want := "SELECT /* reconcile read */ `id`, `name`, (`f` + 0E0) FROM `t` WHERE (amount > 0 -- positive only\n)" +
		" ORDER BY CAST(CONVERT(`name` USING utf8mb4) AS BINARY) IS NULL, CAST(CONVERT(`name` USING utf8mb4) AS BINARY), `id`"
	if sql != want || len(args) != 0 {
		t.Errorf("selectSQL =\n%s\nwant\n%s", sql, want)
	}

	// A NOT NULL key resumes with a plain comparison.
	p.where = ""
	sql, args = p.selectSQL([]int{0}, []int{0, 2}, &resumePoint{null: []bool{false, false}, vals: []any{int64(7), "1.50"}})
	if !strings.Contains(sql, "WHERE (`id`, `amount`) >= (?, CAST(? AS DECIMAL(65, 2))) ORDER BY `id`, `amount`") || len(args) != 2 {
		t.Errorf("selectSQL = %s %v", sql, args)
	}

	// Nullable keys: lexicographic with NULLs last.
	sql, args = p.selectSQL([]int{0}, []int{1, 3}, &resumePoint{null: []bool{false, true}, vals: []any{[]byte("x"), nil}})
	name := "CAST(CONVERT(`name` USING utf8mb4) AS BINARY)"
	wantWhere := "WHERE (((" + name + " > ? OR " + name + " IS NULL)) OR (" + name + " = ? AND `at` IS NULL))"
	if !strings.Contains(sql, wantWhere) || len(args) != 2 {
		t.Errorf("selectSQL =\n%s\nwant it to hold\n%s", sql, wantWhere)
	}
	sql, _ = p.selectSQL([]int{0}, []int{1}, &resumePoint{null: []bool{true}, vals: []any{nil}})
	if !strings.Contains(sql, "WHERE (("+name+" IS NULL)) ORDER BY") {
		t.Errorf("resume after a NULL key: %s", sql)
	}
}

func TestMapCatalogColumn(t *testing.T) {
	for _, c := range []struct {
		col  catalogColumn
		want string
		meta string
	}{
		{catalogColumn{dataType: "tinyint", columnType: "tinyint(1)"}, "int8", ""},
		{catalogColumn{dataType: "tinyint", columnType: "tinyint(3) unsigned"}, "uint8", ""},
		{catalogColumn{dataType: "mediumint", columnType: "mediumint(8) unsigned"}, "uint32", ""},
		{catalogColumn{dataType: "bigint", columnType: "bigint(20) unsigned"}, "uint64", ""},
		{catalogColumn{dataType: "decimal", columnType: "decimal(38,10)", precision: 38, scale: 10}, "decimal(38, 10)", ""},
		{catalogColumn{dataType: "decimal", columnType: "decimal(65,30)", precision: 65, scale: 30}, "utf8", "decimal"},
		{catalogColumn{dataType: "bit", columnType: "bit(1)", precision: 1}, "bool", ""},
		{catalogColumn{dataType: "bit", columnType: "bit(12)", precision: 12}, "uint64", ""},
		{catalogColumn{dataType: "year", columnType: "year(4)"}, "int16", ""},
		{catalogColumn{dataType: "date", columnType: "date"}, "date32", "min"},
		{catalogColumn{dataType: "datetime", columnType: "datetime(3)"}, "timestamp[us]", "min"},
		{catalogColumn{dataType: "timestamp", columnType: "timestamp"}, "timestamp[us, tz=UTC]", "min"},
		{catalogColumn{dataType: "time", columnType: "time"}, "time64[us]", ""},
		{catalogColumn{dataType: "longtext", columnType: "longtext", json: true}, "utf8", "json"},
		{catalogColumn{dataType: "json", columnType: "json"}, "utf8", "json"},
		{catalogColumn{dataType: "enum", columnType: "enum('a','b')"}, "utf8", ""},
		{catalogColumn{dataType: "varbinary", columnType: "varbinary(10)"}, "binary", ""},
		{catalogColumn{dataType: "point", columnType: "point"}, "utf8", ""},
		{catalogColumn{dataType: "inet6", columnType: "inet6"}, "utf8", ""},
	} {
		cp, _ := mapCatalogColumn(c.col)
		meta := ""
		if md := cp.field.Metadata; md.Len() > 0 {
			meta = md.Values()[0]
		}
		if got := cp.field.Type.String(); got != c.want || meta != c.meta {
			t.Errorf("%s: %s %q, want %s %q", c.col.columnType, got, meta, c.want, c.meta)
		}
	}
	if cp, _ := mapCatalogColumn(catalogColumn{dataType: "timestamp"}); cp.field.Type.(*arrow.TimestampType).TimeZone != "UTC" {
		t.Error("timestamp without UTC")
	}
}
