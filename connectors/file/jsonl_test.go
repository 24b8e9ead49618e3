package file

import (
	"reflect"
	"testing"

	"github.com/reconhq/reconcile/connectors"
)

func TestJSONLInference(t *testing.T) {
	content := `{"id": 1, "name": "ann", "amount": 1.5, "ok": true, "tags": ["a", "b"], "mixed": 1, "big": 12345678901234567890, "f": 1e400, "e": 1.5e3}
` + "\n   \n" + `{"id": 2, "name": "bob", "amount": 2.25, "ok": false, "tags": {"k" : [1, 2]}, "mixed": "1", "big": 1, "f": 1, "e": 2, "late": null}
{"id": 3, "amount": null, "mixed": {"x": null}, "f": 2, "e": 25e-1, "late": "x\u00e9"}
`
	tb := mustRead(t, "j.jsonl", content, connectors.Options{})
	wantTypes := map[string]string{
		"id": "int64", "name": "utf8", "amount": "decimal(38, 2)", "ok": "bool", "tags": "utf8",
		"mixed": "utf8", "big": "decimal(38, 0)", "f": "utf8", "e": "decimal(38, 1)", "late": "utf8",
	}
	if got := fieldNames(tb.schema); !reflect.DeepEqual(got, []string{"id", "name", "amount", "ok", "tags", "mixed", "big", "f", "e", "late"}) {
		t.Errorf("columns %q (want first-seen order)", got)
	}
	for col, typ := range wantTypes {
		if got := tb.typeOf(col); got != typ {
			t.Errorf("%s: type %s, want %s", col, got, typ)
		}
	}
	wantCols := map[string][]string{
		"id":     {"1", "2", "3"},
		"name":   {"ann", "bob", "NULL"},
		"amount": {"1.50", "2.25", "NULL"},
		"ok":     {"true", "false", "NULL"},
		"tags":   {`["a","b"]`, `{"k":[1,2]}`, "NULL"},
		"mixed":  {`1`, `"1"`, `{"x":null}`},
		"big":    {"12345678901234567890", "1", "NULL"},
		"f":      {"1e400", "1", "2"},
		"e":      {"1500.0", "2.0", "2.5"},
		"late":   {"NULL", "NULL", "xé"},
	}
	for col, want := range wantCols {
		if got := tb.col(col); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %q, want %q", col, got, want)
		}
	}
	for _, col := range []string{"tags", "mixed"} {
		f := tb.schema.Field(tb.schema.FieldIndices(col)[0])
		if v, _ := f.Metadata.GetValue(connectors.MetaLogical); v != "json" {
			t.Errorf("%s: metadata %v, want %s=json", col, f.Metadata, connectors.MetaLogical)
		}
	}
	f := tb.schema.Field(tb.schema.FieldIndices("name")[0])
	if f.HasMetadata() {
		t.Errorf("name has metadata %v", f.Metadata)
	}
}

func TestJSONLFloats(t *testing.T) {
	tb := mustRead(t, "f.ndjson", `{"x": 1e300}`+"\n"+`{"x": 0.5}`+"\n", connectors.Options{})
	if tb.typeOf("x") != "float64" {
		t.Errorf("x: %s", tb.typeOf("x"))
	}
	if got := tb.col("x"); !reflect.DeepEqual(got, []string{"1e+300", "0.5"}) {
		t.Errorf("x = %q", got)
	}
}

func TestJSONLOverridesAndProjection(t *testing.T) {
	content := `{"when": "2024-01-02T03:04:05+01:00", "n": "12", "doc": 5}` + "\n" + `{"when": "2024-01-03", "n": 7, "doc": "five"}` + "\n"
	tb := mustRead(t, "o.jsonl.gz", content, connectors.Options{Types: map[string]string{"when": "timestamp", "n": "integer", "doc": "text"}})
	if got := tb.col("when"); !reflect.DeepEqual(got, []string{"2024-01-02T02:04:05Z", "2024-01-03T00:00:00Z"}) {
		t.Errorf("when = %q", got)
	}
	if got := tb.col("n"); !reflect.DeepEqual(got, []string{"12", "7"}) || tb.typeOf("n") != "int64" {
		t.Errorf("n = %q %s", got, tb.typeOf("n"))
	}
	if got := tb.col("doc"); !reflect.DeepEqual(got, []string{"5", "five"}) {
		t.Errorf("doc = %q", got)
	}

	src, err := New(writeFile(t, "p.jsonl", content), connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := readAll(t, src, connectors.ReadOptions{Columns: []string{"doc", "when"}, BatchRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"5", "2024-01-02T03:04:05+01:00"}, {`"five"`, "2024-01-03"}}; !reflect.DeepEqual(out.rows, want) || out.batches != 2 {
		t.Errorf("rows %q in %d batches", out.rows, out.batches)
	}
	_, err = readAll(t, src, connectors.ReadOptions{Columns: []string{"nope"}})
	wantErr(t, err, connectors.ErrColumnNotFound, `"nope"`, "columns: when, n, doc")
}

func TestJSONLErrors(t *testing.T) {
	tests := []struct {
		name, content string
		opts          connectors.Options
		want          string
	}{
		{"not an object", "{\"a\":1}\n[1,2]\n", connectors.Options{}, "j.jsonl:2: not a JSON object"},
		{"invalid JSON", "{\"a\":1}\n\n{\"a\":\n", connectors.Options{}, "j.jsonl:3: invalid JSON"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}\n", connectors.Options{}, "j.jsonl:1: invalid UTF-8"},
		{"forced type", "{\"a\":\"x\"}\n", connectors.Options{Types: map[string]string{"a": "integer"}}, `j.jsonl:1: column a: "\"x\"" is not a valid integer`},
		{"unknown forced column", "{\"a\":1}\n", connectors.Options{Types: map[string]string{"b": "integer"}}, `unknown column "b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readFile(t, "j.jsonl", tc.content, tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			wantErr(t, err, nil, tc.want)
		})
	}
	_, err := readFile(t, "j.jsonl", "[]\n", connectors.Options{})
	wantErr(t, err, connectors.ErrBadInput)
}

func TestJSONLEmpty(t *testing.T) {
	tb := mustRead(t, "e.jsonl", "\n\n", connectors.Options{})
	if tb.schema.NumFields() != 0 || len(tb.rows) != 0 {
		t.Errorf("%v %q", tb.schema, tb.rows)
	}
	tb = mustRead(t, "e2.jsonl", "{}\n{}\r\n", connectors.Options{})
	if tb.schema.NumFields() != 0 || len(tb.rows) != 2 {
		t.Errorf("%v %d rows", tb.schema, len(tb.rows))
	}
}
