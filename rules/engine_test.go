package rules

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	memsrc "github.com/reconhq/reconcile/connectors/memory"
	"github.com/reconhq/reconcile/reconcile"
)

type row struct {
	id      int64
	email   string
	country string
	mrr     float64
	updated time.Time
}

func table(t *testing.T, mem memory.Allocator, rows []row) *memsrc.Source {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "mrr", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "updated_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.id)
		b.Field(1).(*array.StringBuilder).Append(r.email)
		b.Field(2).(*array.StringBuilder).Append(r.country)
		b.Field(3).(*array.Float64Builder).Append(r.mrr)
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(r.updated.UnixMicro()))
	}
	rec := b.NewRecord()
	defer rec.Release()
	s, err := memsrc.New(memsrc.Table{Name: "customers", Schema: schema, Records: []arrow.Record{rec}, PrimaryKey: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The rules plugged into the engine as the lead wires them: normalisers
// and tolerances decide what differs, Resolve decides each fix.
func TestWithEngine(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d1, d2 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	src := table(t, mem, []row{
		{1, " Ann@X.com", "USA", 10.00, d1}, // equal once normalised, mrr within 0.01
		{2, "bob@x.com", "GB", 20.00, d2},   // email newer on the source: update
		{3, "cy@x.com", "US", 30.00, d1},    // email newer on the target: keep; mrr differs: source of truth
		{4, "dee@x.com", "GB", 40.00, d1},   // missing: insert
	})
	defer src.Close()
	tgt := table(t, mem, []row{
		{1, "ann@x.com", "United States", 10.004, d1},
		{2, "robert@x.com", "UK", 20.00, d1},
		{3, "cyrus@x.com", "US", 31.00, d2},
		{5, "eve@x.com", "GB", 50.00, d1}, // extra: delete
	})
	defer tgt.Close()

	norm, err := ParseChain([]any{"trim", "lower"})
	if err != nil {
		t.Fatal(err)
	}
	country, err := ParseChain([]any{map[string]any{"alias": map[string]any{"US": []any{"USA", "United States"}, "GB": []any{"UK"}}}})
	if err != nil {
		t.Fatal(err)
	}
	tol, err := ParseTolerance(map[string]any{"abs": 0.01})
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Spec{Default: "source_of_truth", Columns: map[string]string{"email": "newest"}})
	if err != nil {
		t.Fatal(err)
	}
	opts := reconcile.Options{Key: []string{"id"}, Ignore: []string{"updated_at"}, Allocator: mem,
		ColumnRules: map[string]reconcile.ColumnRule{
			"email":   {Normalize: norm.Apply, Describe: "email: " + norm.String()},
			"country": {Normalize: country.Apply, Describe: "country: " + country.String()},
			"mrr":     {Equal: tol.Equal, Describe: "mrr: " + tol.String()},
		},
		Context: []string{r.NewestColumn()},
	}
	var got []string
	res, err := reconcile.Diff(context.Background(),
		reconcile.Input{Source: src, Table: connectors.TableRef{Name: "customers"}, Name: "billing"},
		reconcile.Input{Source: tgt, Table: connectors.TableRef{Name: "customers"}, Name: "crm"}, opts,
		func(c reconcile.Change) error {
			d := r.Resolve(c, Context{SourceSystem: "billing", TargetSystem: "crm", Source: c.SourceContext, Target: c.TargetContext})
			var sb strings.Builder
			sb.WriteString(c.KeyString() + " " + d.Op.String())
			for _, f := range d.Set {
				sb.WriteString(" set " + f.Name + "=" + f.Value.String())
			}
			for _, f := range d.Expect {
				sb.WriteString(" expect " + f.Name + "=" + f.Value.String())
			}
			sb.WriteString(" | " + strings.Join(d.Reasons(), " | "))
			got = append(got, sb.String())
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"id=2 update set email=bob@x.com expect email=robert@x.com | columns.email: newest (crm updated_at 2026-11-20T10:00:00Z < billing 2026-11-25T10:00:00Z)",
		"id=3 update set mrr=30 expect mrr=31 | columns.email: newest (billing updated_at 2026-11-20T10:00:00Z < crm 2026-11-25T10:00:00Z) | default: source_of_truth (billing wins)",
		"id=4 insert set id=4 set email=dee@x.com set country=GB set mrr=40 | actions.missing: insert (the row is only in billing)",
		"id=5 delete expect id=5 expect email=eve@x.com expect country=GB expect mrr=50 | actions.extra: delete (the row is not in billing)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("decisions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Summary.Matched != 1 || res.Summary.Tolerated != 1 {
		t.Errorf("summary %+v", res.Summary)
	}
}
