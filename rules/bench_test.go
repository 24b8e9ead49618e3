package rules

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/reconcile"
)

// BenchmarkResolve resolves 100,000 changed rows of three differing
// columns each (source_of_truth, newest, max): the batch size.
func BenchmarkResolve(b *testing.B) {
	r, err := New(Spec{Columns: map[string]string{"email": "newest", "score": "max"}})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	changes := make([]reconcile.Change, n)
	ctxs := make([]Context, n)
	for i := range changes {
		changes[i] = reconcile.Change{Kind: reconcile.Changed, Key: []reconcile.Field{{Name: "id", Value: reconcile.AppendInt(nil, int64(i))}},
			Columns: []string{"email", "name", "score"},
			Source: []reconcile.Field{{Name: "email", Value: reconcile.AppendText(nil, fmt.Sprintf("u%d@x", i))},
				{Name: "name", Value: reconcile.AppendText(nil, "a")}, {Name: "score", Value: reconcile.AppendInt(nil, int64(i))}},
			Target: []reconcile.Field{{Name: "email", Value: reconcile.AppendText(nil, "old@x")},
				{Name: "name", Value: reconcile.AppendText(nil, "b")}, {Name: "score", Value: reconcile.AppendInt(nil, int64(n-i))}}}
		ctxs[i] = Context{SourceSystem: "billing", TargetSystem: "crm",
			Source: []reconcile.Field{{Name: "updated_at", Value: reconcile.AppendTimestamp(nil, int64(i)*1e6)}},
			Target: []reconcile.Field{{Name: "updated_at", Value: reconcile.AppendTimestamp(nil, 5e10)}}}
	}
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		for i := range changes {
			_ = r.Resolve(changes[i], ctxs[i])
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "changes/s")
}

// BenchmarkApplyTrimLower normalises a column of 1M strings.
func BenchmarkApplyTrimLower(b *testing.B) {
	mem := memory.NewGoAllocator()
	sb := array.NewStringBuilder(mem)
	for i := 0; i < 1_000_000; i++ {
		sb.Append(fmt.Sprintf("  User%d@Example.COM ", i))
	}
	arr := sb.NewArray()
	sb.Release()
	defer arr.Release()
	c, err := ParseChain([]any{"trim", "lower"})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		out, err := c.Apply(arr, mem)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
	b.ReportMetric(float64(arr.Len()*b.N)/b.Elapsed().Seconds(), "rows/s")
}
