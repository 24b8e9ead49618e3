package reports_test

import (
	"os"

	"github.com/reconhq/reconcile/reconcile"
	"github.com/reconhq/reconcile/reports"
)

func ExampleNewTable() {
	rep := reports.NewTable(os.Stdout, reports.Meta{Source: "billing.csv", Target: "crm.csv", Key: []string{"id"}})
	_ = rep.Change(reconcile.Change{
		Kind:    reconcile.Changed,
		Key:     []reconcile.Field{{Name: "id", Value: reconcile.Value(reconcile.AppendInt(nil, 5))}},
		Columns: []string{"email"},
		Source:  []reconcile.Field{{Name: "email", Value: reconcile.Value(reconcile.AppendText(nil, "a@x.com"))}},
		Target:  []reconcile.Field{{Name: "email", Value: reconcile.Value(reconcile.AppendText(nil, "A@x.com"))}},
	})
	_ = rep.Finish(&reconcile.Result{
		Source:  reconcile.SideStats{Rows: 2, Checksum: 0xfeed},
		Target:  reconcile.SideStats{Rows: 2, Checksum: 0xbeef},
		Key:     []string{"id"},
		Summary: reconcile.Counts{Matched: 1, Changed: 1},
		Columns: []reconcile.ColumnDrift{{Name: "email", Changed: 1}},
	}, nil)
	// Output:
	// source  billing.csv  2 rows  checksum 000000000000feed
	// target  crm.csv      2 rows  checksum 000000000000beef
	// key     id
	//
	// summary
	// ┌─────────────┬───────┐
	// │ kind        │ count │
	// ├─────────────┼───────┤
	// │ matched     │     1 │
	// │ missing     │     0 │
	// │ extra       │     0 │
	// │ changed     │     1 │
	// │ duplicate   │     0 │
	// │ null_key    │     0 │
	// ├─────────────┼───────┤
	// │ differences │     1 │
	// └─────────────┴───────┘
	//
	// column drift
	// ┌────────┬─────────┐
	// │ column │ changed │
	// ├────────┼─────────┤
	// │ email  │       1 │
	// └────────┴─────────┘
	//
	// differences (all 1, by key)
	// * id=5  email: "a@x.com" → "A@x.com"
	//
	// verdict: 1 difference (exit 1)
}
