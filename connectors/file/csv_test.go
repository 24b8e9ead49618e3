package file

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/reconhq/reconcile/connectors"
)

func TestInferCSV(t *testing.T) {
	const (
		i64  = "int64"
		text = "utf8"
		f64  = "float64"
		bl   = "bool"
		d32  = "date32"
		ts   = "timestamp[us, tz=UTC]"
	)
	tests := []struct {
		name   string
		values []string // one column, one value per row
		null   *string
		want   string
		cells  []string // optional: the values as read
	}{
		{"integers", []string{"1", "-2", "0", "9223372036854775807", "-9223372036854775808"}, nil, i64,
			[]string{"1", "-2", "0", "9223372036854775807", "-9223372036854775808"}},
		{"minus zero", []string{"-0", "5"}, nil, i64, []string{"0", "5"}},
		{"leading zeros stay text", []string{"00123", "5"}, nil, text, []string{"00123", "5"}},
		{"plus sign stays text", []string{"+5", "6"}, nil, text, nil},
		{"20-digit number is text", []string{"12345678901234567890", "1"}, nil, text, nil},
		{"beyond int64 is text", []string{"9223372036854775808"}, nil, text, nil},
		{"decimal scale is the max", []string{"1.5", "2.25", "3"}, nil, "decimal(38, 2)",
			[]string{"1.50", "2.25", "3.00"}},
		{"negative decimals", []string{"-0.001", "-12.5"}, nil, "decimal(38, 3)", []string{"-0.001", "-12.500"}},
		{"decimal of 38 digits", []string{"1234567890123456789012345678.0123456789"}, nil, "decimal(38, 10)",
			[]string{"1234567890123456789012345678.0123456789"}},
		{"decimal beyond 38 digits is text", []string{"1234567890123456789012345678901234567.89"}, nil, text, nil},
		{"decimal precision from all values", []string{"123456789012345678901234567890", "0.123456789"}, nil, text, nil},
		{"decimal needs digits after the point", []string{"1.", "2"}, nil, text, nil},
		{"decimal with leading zero", []string{"01.5"}, nil, text, nil},
		{"exponent floats", []string{"1e5", "-2.5E-3", "1.5e+10"}, nil, f64, []string{"100000", "-0.0025", "1.5e+10"}},
		{"NaN and infinities", []string{"NaN", "inf", "-Inf", "Infinity", "-INFINITY", "1e3"}, nil, f64,
			[]string{"NaN", "+Inf", "-Inf", "+Inf", "-Inf", "1000"}},
		{"float beyond float64 is text", []string{"1e400"}, nil, text, nil},
		{"float that does not round-trip is text", []string{"1.00000000000000000001e5"}, nil, text, nil},
		{"ints and floats exact", []string{"1", "2.5", "3e2"}, nil, f64, []string{"1", "2.5", "300"}},
		{"big int and float is text", []string{"9007199254740993", "1e0"}, nil, text, nil},
		{"int at 2^53 and float", []string{"9007199254740992", "1e0"}, nil, f64, nil},
		{"long decimal and float is text", []string{"0.12345678901234567", "1e0"}, nil, text, nil},
		{"booleans", []string{"true", "False", "TRUE", "false"}, nil, bl, []string{"true", "false", "true", "false"}},
		{"t and f are text", []string{"t", "f"}, nil, text, nil},
		{"dates", []string{"2024-02-29", "1970-01-01", "0001-01-01", "9999-12-31"}, nil, d32,
			[]string{"2024-02-29", "1970-01-01", "0001-01-01", "9999-12-31"}},
		{"invalid date is text", []string{"2023-02-29"}, nil, text, nil},
		{"timestamps", []string{
			"2024-01-02T03:04:05",
			"2024-01-02 03:04:05.5",
			"2024-01-02T03:04:05.123456789Z",
			"2024-01-02T03:04:05+02:00",
			"2024-01-02T03:04:05-0130",
			"1969-12-31T23:59:59.999999Z",
		}, nil, ts, []string{
			"2024-01-02T03:04:05Z",
			"2024-01-02T03:04:05.5Z",
			"2024-01-02T03:04:05.123456Z",
			"2024-01-02T01:04:05Z",
			"2024-01-02T04:34:05Z",
			"1969-12-31T23:59:59.999999Z",
		}},
		{"bad timestamp is text", []string{"2024-01-02T25:00:00"}, nil, text, nil},
		{"fraction beyond nanoseconds is text", []string{"2024-01-02T03:04:05.1234567890"}, nil, text, nil},
		{"dates and timestamps", []string{"2024-01-02", "2024-01-02T10:00:00Z"}, nil, ts,
			[]string{"2024-01-02T00:00:00Z", "2024-01-02T10:00:00Z"}},
		{"mixed int and text", []string{"1", "two"}, nil, text, nil},
		{"mixed int and bool", []string{"1", "true"}, nil, text, nil},
		{"mixed date and int", []string{"2024-01-01", "7"}, nil, text, nil},
		{"empty makes text", []string{"1", "", "3"}, nil, text, []string{"1", "", "3"}},
		{"empty is NULL with marker", []string{"1", "", "3"}, strp(""), i64, []string{"1", "NULL", "3"}},
		{"NULL marker", []string{"1.5", "NULL", "2"}, strp("NULL"), "decimal(38, 1)", []string{"1.5", "NULL", "2.0"}},
		{"NULL marker is exact", []string{"1", "null"}, strp("NULL"), text, nil},
		{"only NULLs is text", []string{"NULL", "NULL"}, strp("NULL"), text, []string{"NULL", "NULL"}},
		{"only empty is text", []string{`""`, `""`}, nil, text, []string{"", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content := "v\n" + strings.Join(tc.values, "\n") + "\n"
			tb := mustRead(t, "t.csv", content, connectors.Options{NullValue: tc.null})
			if got := tb.typeOf("v"); got != tc.want {
				t.Errorf("type %s, want %s", got, tc.want)
			}
			if tc.cells != nil && !reflect.DeepEqual(tb.col("v"), tc.cells) {
				t.Errorf("values %q, want %q", tb.col("v"), tc.cells)
			}
		})
	}
}

func TestInferCSVNotes(t *testing.T) {
	src, err := New(writeFile(t, "n.csv", "zip,qty\n123,1\n00123,\n"), connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := src.Describe(context.Background(), connectors.TableRef{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(info.Notes, "\n")
	for _, want := range []string{`column "zip" read as text`, `"00123" (line 3)`, `column "qty" read as text`, "NULL marker"} {
		if !strings.Contains(got, want) {
			t.Errorf("notes %q lack %q", got, want)
		}
	}
	if info.Name != "n.csv" || info.EstimatedRows != -1 {
		t.Errorf("info = %+v", info)
	}
}

func TestCSVQuoting(t *testing.T) {
	content := "\xEF\xBB\xBFid,text,n\r\n" +
		"1,\"a,b\",10\r\n" +
		"2,\"say \"\"hi\"\"\",20\r\n" +
		"3,\"line one\nline two\",30\r\n" +
		"4,\"\",40\r\n" +
		"5,plain,50\r\n" +
		"6,\"\"\"\",60" // no final newline
	tb := mustRead(t, "q.csv", content, connectors.Options{})
	want := [][]string{
		{"1", "a,b", "10"},
		{"2", `say "hi"`, "20"},
		{"3", "line one\nline two", "30"},
		{"4", "", "40"},
		{"5", "plain", "50"},
		{"6", `"`, "60"},
	}
	if !reflect.DeepEqual(tb.rows, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", rowsString(tb.rows), rowsString(want))
	}
	if got := fieldNames(tb.schema); !reflect.DeepEqual(got, []string{"id", "text", "n"}) {
		t.Errorf("header %q (BOM not skipped?)", got)
	}
	if tb.typeOf("id") != "int64" || tb.typeOf("n") != "int64" {
		t.Errorf("schema %v", tb.schema)
	}
}

func TestCSVTrailingEmptyLines(t *testing.T) {
	tb := mustRead(t, "e.csv", "a,b\n1,2\n3,4\n\n\r\n\n", connectors.Options{})
	if len(tb.rows) != 2 {
		t.Errorf("rows %q", tb.rows)
	}
	// A single-column file keeps empty lines in the middle as empty values.
	tb = mustRead(t, "e1.csv", "a\nx\n\ny\n\n", connectors.Options{})
	if want := []string{"x", "", "y"}; !reflect.DeepEqual(tb.col("a"), want) {
		t.Errorf("values %q, want %q", tb.col("a"), want)
	}
	// A header alone: no rows, text columns.
	tb = mustRead(t, "h.csv", "a,b\n", connectors.Options{})
	if len(tb.rows) != 0 || tb.typeOf("a") != "utf8" {
		t.Errorf("header only: %v %q", tb.schema, tb.rows)
	}
}

func TestCSVQuotedNullMarker(t *testing.T) {
	tb := mustRead(t, "n.csv", "a,b\n1,x\n,\"\"\n\"NULL\",NULL\n", connectors.Options{NullValue: strp("")})
	if want := []string{"1", "NULL", "NULL"}; !reflect.DeepEqual(tb.col("a"), want) {
		t.Errorf("a = %q, want %q", tb.col("a"), want)
	}
	// a quoted "" is the empty string even when NullValue is ""
	if want := []string{"x", "", "NULL"}; !reflect.DeepEqual(tb.col("b"), want) {
		t.Errorf("b = %q, want %q", tb.col("b"), want)
	}
	tb = mustRead(t, "n2.csv", "a\n\"NULL\"\nNULL\n7\n", connectors.Options{NullValue: strp("NULL")})
	if want := []string{"NULL", "NULL", "7"}; !reflect.DeepEqual(tb.col("a"), want) || tb.typeOf("a") != "int64" {
		t.Errorf("a = %q %s", tb.col("a"), tb.typeOf("a"))
	}
}

func TestTSVAndDelimiter(t *testing.T) {
	tb := mustRead(t, "t.tsv", "a\tb\n1\t\"x\ty\"\n", connectors.Options{})
	if want := [][]string{{"1", "x\ty"}}; !reflect.DeepEqual(tb.rows, want) {
		t.Errorf("tsv rows %q", tb.rows)
	}
	tb = mustRead(t, "s.csv", "a;b\n1;2,5\n", connectors.Options{Delimiter: ';'})
	if want := [][]string{{"1", "2,5"}}; !reflect.DeepEqual(tb.rows, want) {
		t.Errorf("semicolon rows %q", tb.rows)
	}
	_, err := New(writeFile(t, "d.csv", "a\n"), connectors.Options{Delimiter: 'é'})
	wantErr(t, err, connectors.ErrUnsupported, "delimiter")
}

func TestCSVErrors(t *testing.T) {
	tests := []struct {
		name, content string
		opts          connectors.Options
		want          []string
	}{
		{"field count", "a,b,c\n1,2,3\n4,5\n", connectors.Options{}, []string{"f.csv:3: row has 2 fields, header has 3"}},
		{"field count after embedded newline", "a,b\n1,\"x\ny\"\n2,\"p\nq\"\n3\n", connectors.Options{}, []string{"f.csv:6: row has 1 fields, header has 2"}},
		{"too many fields", "a,b\n1,2,3\n", connectors.Options{}, []string{"f.csv:2: row has 3 fields, header has 2"}},
		{"empty line in the middle", "a,b\n1,2\n\n3,4\n", connectors.Options{}, []string{"f.csv:3: row has 1 fields, header has 2"}},
		{"bare quote", "a,b\n1,x\"y\n", connectors.Options{}, []string{"f.csv:2: bare quote", "column b"}},
		{"unterminated quote", "a,b\n1,2\n3,\"abc\n\n", connectors.Options{}, []string{"f.csv:3: unterminated quoted field"}},
		{"text after closing quote", "a,b\n1,\"x\"y\n", connectors.Options{}, []string{"f.csv:2: unexpected 'y' after the closing quote of column b"}},
		{"invalid UTF-8", "id,name\n1,ok\n2,caf\xe9\n", connectors.Options{}, []string{"f.csv:3: invalid UTF-8 in column name"}},
		{"invalid UTF-8 quoted", "id,name\n1,\"caf\xe9\"\n", connectors.Options{}, []string{"f.csv:2: invalid UTF-8 in column name"}},
		{"duplicate header", "a,b,a\n1,2,3\n", connectors.Options{}, []string{"f.csv:1: duplicate column name \"a\""}},
		{"empty header name", "a,,c\n1,2,3\n", connectors.Options{}, []string{"f.csv:1: empty column name", "column 2"}},
		{"empty file", "", connectors.Options{}, []string{"f.csv:1: empty file"}},
		{"forced type", "id,amount\n1,12\n2,abc\n", connectors.Options{Types: map[string]string{"amount": "integer"}},
			[]string{`f.csv:3: column amount: "abc" is not a valid integer`}},
		{"forced decimal scale", "id,amount\n1,1.234\n", connectors.Options{Types: map[string]string{"amount": "decimal(10,2)"}},
			[]string{`f.csv:2: column amount: "1.234" is not a valid decimal(38,2)`}},
		{"forced json", "j\n\"{\"\"a\"\":1}\"\n{oops\n", connectors.Options{Types: map[string]string{"j": "json"}},
			[]string{`f.csv:3: column j: "{oops" is not a valid json`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readFile(t, "f.csv", tc.content, tc.opts)
			wantErr(t, err, connectors.ErrBadInput, tc.want...)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("%v is not a *ParseError", err)
			}
		})
	}
}

func TestCSVTypeOverrides(t *testing.T) {
	content := "id,zip,amount,when,flag,doc\n1,00123,1.5,2024-01-01,1,\"{\"\"b\"\": 2}\"\n2,07001,2,2024-01-02,0,[1]\n"
	tb := mustRead(t, "o.csv", content, connectors.Options{Types: map[string]string{
		"id": "text", "zip": "integer", "amount": "decimal", "when": "timestamp", "flag": "boolean", "doc": "json",
	}})
	want := map[string]string{"id": "utf8", "zip": "int64", "amount": "decimal(38, 1)", "when": "timestamp[us, tz=UTC]", "flag": "bool", "doc": "utf8"}
	for col, typ := range want {
		if got := tb.typeOf(col); got != typ {
			t.Errorf("%s: type %s, want %s", col, got, typ)
		}
	}
	if got := tb.col("zip"); !reflect.DeepEqual(got, []string{"123", "7001"}) {
		t.Errorf("zip %q", got)
	}
	if got := tb.col("flag"); !reflect.DeepEqual(got, []string{"true", "false"}) {
		t.Errorf("flag %q", got)
	}
	f := tb.schema.Field(tb.schema.FieldIndices("doc")[0])
	if v, ok := f.Metadata.GetValue(connectors.MetaLogical); !ok || v != "json" {
		t.Errorf("doc metadata %v", f.Metadata)
	}

	// all columns forced: no inference pass, same result
	tb = mustRead(t, "all.csv", "a,b\n1,x\n", connectors.Options{Types: map[string]string{"a": "float", "b": "text"}})
	if tb.typeOf("a") != "float64" || tb.typeOf("b") != "utf8" {
		t.Errorf("schema %v", tb.schema)
	}

	_, err := readFile(t, "u.csv", "a,b\n1,2\n", connectors.Options{Types: map[string]string{"nope": "integer"}})
	wantErr(t, err, connectors.ErrColumnNotFound, `"nope"`, "columns: a, b")

	_, err = New(writeFile(t, "b.csv", "a\n1\n"), connectors.Options{Types: map[string]string{"a": "varchar"}})
	wantErr(t, err, connectors.ErrUnsupported, `unknown type "varchar"`)
}

func TestCSVProjectionAndBatches(t *testing.T) {
	var b strings.Builder
	b.WriteString("a,b,c\n")
	for i := 0; i < 10; i++ {
		b.WriteString(strings.Repeat("x", i) + ",2," + string(rune('0'+i)) + "\n")
	}
	src, err := New(writeFile(t, "p.csv", b.String()), connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := readAll(t, src, connectors.ReadOptions{Columns: []string{"c", "a"}, BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldNames(tb.schema); !reflect.DeepEqual(got, []string{"c", "a"}) {
		t.Errorf("columns %q", got)
	}
	if tb.batches != 4 || len(tb.rows) != 10 {
		t.Errorf("%d batches, %d rows", tb.batches, len(tb.rows))
	}
	if tb.rows[9][0] != "9" || tb.rows[9][1] != "xxxxxxxxx" || tb.rows[0][1] != "" {
		t.Errorf("rows %q", tb.rows)
	}
	_, err = readAll(t, src, connectors.ReadOptions{Columns: []string{"a", "zz"}})
	wantErr(t, err, connectors.ErrColumnNotFound, `column "zz" not found`, "columns: a, b, c")
}

func TestCSVCancel(t *testing.T) {
	var b strings.Builder
	b.WriteString("a,b\n")
	for i := 0; i < 5000; i++ {
		b.WriteString("1,2\n")
	}
	src, err := New(writeFile(t, "c.csv", b.String()), connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rr, err := src.Read(ctx, connectors.TableRef{}, connectors.ReadOptions{BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	cancel()
	n := 0
	for rr.Next() {
		n++
	}
	if !errors.Is(rr.Err(), context.Canceled) {
		t.Errorf("Err() = %v, want context.Canceled", rr.Err())
	}

	// Describe with a cancelled context fails and caches nothing.
	src2, _ := New(writeFile(t, "c2.csv", b.String()), connectors.Options{})
	if _, err := src2.Describe(ctx, connectors.TableRef{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Describe = %v, want context.Canceled", err)
	}
	if _, err := src2.Describe(context.Background(), connectors.TableRef{}); err != nil {
		t.Errorf("Describe after a cancelled one: %v", err)
	}
}

func TestCSVGzipAndFormats(t *testing.T) {
	const content = "a,b\n1,x\n2,y\n"
	for _, name := range []string{"g.csv.gz", "g.CSV", "g.tsv.gz"} {
		c := content
		if strings.Contains(name, "tsv") {
			c = strings.ReplaceAll(c, ",", "\t")
		}
		tb := mustRead(t, name, c, connectors.Options{})
		if len(tb.rows) != 2 || tb.typeOf("a") != "int64" {
			t.Errorf("%s: %v %q", name, tb.schema, tb.rows)
		}
	}
	for _, f := range []string{"csv", "csv.gz", "CSV"} {
		name := "data.txt"
		if strings.HasSuffix(f, ".gz") {
			name = "data.txt.gz"
		}
		tb := mustRead(t, name, content, connectors.Options{Format: f})
		if len(tb.rows) != 2 {
			t.Errorf("format %s: %q", f, tb.rows)
		}
	}
	_, err := New(writeFile(t, "x.xlsx", "a"), connectors.Options{})
	wantErr(t, err, connectors.ErrUnsupported, `".xlsx"`, ".csv", ".parquet", "--source-format/--target-format")
	_, err = New(writeFile(t, "x.parquet.gz", "a"), connectors.Options{})
	wantErr(t, err, connectors.ErrUnsupported, `".parquet.gz"`)
	_, err = New(writeFile(t, "x.csv", "a"), connectors.Options{Format: "xml"})
	wantErr(t, err, connectors.ErrUnsupported, `unknown format "xml"`)
}

func TestOpenAndClose(t *testing.T) {
	path := writeFile(t, "billing.csv", "a\n1\n")
	for _, loc := range []string{path, "file://" + path, "FILE://localhost" + path} {
		src, err := Open(context.Background(), loc, connectors.Options{})
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		info, err := src.Describe(context.Background(), connectors.TableRef{Name: "ignored"})
		if err != nil || info.Name != "billing.csv" {
			t.Errorf("%s: %+v %v", loc, info, err)
		}
		info2, _ := src.Describe(context.Background(), connectors.TableRef{})
		if info2 == info || !info2.Schema.Equal(info.Schema) {
			t.Errorf("Describe should return equal copies")
		}
		if err := src.Close(); err != nil {
			t.Error(err)
		}
		if err := src.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := src.Describe(context.Background(), connectors.TableRef{}); err == nil {
			t.Error("Describe after Close succeeded")
		}
	}
	missing := strings.Replace(path, "billing.csv", "nope.csv", 1)
	_, err := New(missing, connectors.Options{})
	wantErr(t, err, connectors.ErrTableNotFound, "open "+missing+": no such file")
	_, err = Open(context.Background(), "file://"+missing, connectors.Options{})
	wantErr(t, err, connectors.ErrTableNotFound)

	src, _ := New(path, connectors.Options{})
	_, err = src.Describe(context.Background(), connectors.TableRef{Query: "select 1"})
	wantErr(t, err, connectors.ErrUnsupported)
	var _ connectors.Opener = Open
}

func TestCSVNoColumnsRead(t *testing.T) {
	src, err := New(writeFile(t, "z.csv", "a,b\n1,2\n3,4\n"), connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := readAll(t, src, connectors.ReadOptions{Columns: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if tb.schema.NumFields() != 0 || len(tb.rows) != 2 {
		t.Errorf("%v %d rows", tb.schema, len(tb.rows))
	}
}

// TestCSVSchemaTypes pins the Arrow types used for each class.
func TestCSVSchemaTypes(t *testing.T) {
	tb := mustRead(t, "s.csv", "i,d,f,b,day,ts,s\n1,1.25,1e1,true,2024-01-01,2024-01-01T00:00:00Z,x\n", connectors.Options{})
	want := []arrow.DataType{
		arrow.PrimitiveTypes.Int64,
		&arrow.Decimal128Type{Precision: 38, Scale: 2},
		arrow.PrimitiveTypes.Float64,
		arrow.FixedWidthTypes.Boolean,
		arrow.FixedWidthTypes.Date32,
		&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
		arrow.BinaryTypes.String,
	}
	for i, f := range tb.schema.Fields() {
		if !arrow.TypeEqual(f.Type, want[i]) || !f.Nullable {
			t.Errorf("%s: %v nullable=%v, want %v", f.Name, f.Type, f.Nullable, want[i])
		}
	}
}

func TestConcurrentDescribeAndRead(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := 0; i < 3000; i++ {
		b.WriteString("1,2.5\n")
	}
	src, err := New(writeFile(t, "c.csv", b.String()), connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			if g%2 == 0 {
				_, err := src.Describe(context.Background(), connectors.TableRef{})
				errs <- err
				return
			}
			tb, err := readAll(t, src, connectors.ReadOptions{BatchRows: 1000})
			if err == nil && len(tb.rows) != 3000 {
				err = errors.New("short read")
			}
			errs <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
