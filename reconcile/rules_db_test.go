package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/connectors/postgres"
	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/reconcile"
)

// Declared rules against real databases whose sources checksum in SQL:
// bisect is refused, auto streams and says why, and the rules decide what
// differs (normalised e-mails, amounts within a cent, rows updated in the
// last ten minutes in flight, updated_at handed along as context).
func TestRulesOnDatabases(t *testing.T) {
	lower := reconcile.ColumnRule{Describe: "email: lower", Normalize: func(arr arrow.Array, mem memory.Allocator) (arrow.Array, error) {
		s, ok := arr.(*array.String)
		if !ok {
			return nil, fmt.Errorf("lower needs text, not %s", arr.DataType())
		}
		b := array.NewStringBuilder(mem)
		defer b.Release()
		for i := range s.Len() {
			if s.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(strings.ToLower(s.Value(i)))
			}
		}
		return b.NewArray(), nil
	}}
	cent := reconcile.ColumnRule{Describe: "amount: abs 0.01", Equal: func(s, t reconcile.Value) bool {
		a, ok1 := s.Float()
		b, ok2 := t.Float()
		return ok1 && ok2 && math.Abs(a-b) <= 0.01+1e-9
	}}
	type db struct {
		name string
		open func(t *testing.T) (src, tgt connectors.Source)
	}
	setup := []string{
		`CREATE TABLE a (id bigint PRIMARY KEY, email varchar(100) NOT NULL, amount numeric(12,2) NOT NULL, updated_at timestamp NOT NULL)`,
		`CREATE TABLE b (id bigint PRIMARY KEY, email varchar(100) NOT NULL, amount numeric(12,2) NOT NULL, updated_at timestamp NOT NULL)`,
	}
	// 2000 rows: upper-case e-mails in a, lower-case in b; row 10's amount
	// off by a cent (tolerated), row 20's by a euro; row 30 missing from b
	// but updated just now, row 40 missing and old.
	fill := []string{
		`INSERT INTO a (id, email, amount, updated_at) VALUES ` + values(func(i int) string {
			at := "2026-11-20 10:00:00"
			if i == 30 {
				at = "2026-11-26 01:59:00"
			}
			return fmt.Sprintf("(%d, 'U%d@X.COM', %d.00, '%s')", i, i, i, at)
		}),
		`INSERT INTO b (id, email, amount, updated_at) VALUES ` + values(func(i int) string {
			amount := fmt.Sprintf("%d.00", i)
			switch i {
			case 10:
				amount = "10.01"
			case 20:
				amount = "21.00"
			case 30, 40:
				return ""
			}
			return fmt.Sprintf("(%d, 'u%d@x.com', %s, '2026-11-20 10:00:00')", i, i, amount)
		}),
	}
	dbs := []db{
		{"postgres", func(t *testing.T) (connectors.Source, connectors.Source) {
			dsn := testdb.Postgres(t)
			testdb.Exec(t, dsn, append(setup, fill...)...)
			return openPG(t, dsn), openPG(t, dsn)
		}},
		{"mysql", func(t *testing.T) (connectors.Source, connectors.Source) {
			loc := testdb.MySQL(t)
			testdb.ExecMySQL(t, loc, append(setup, fill...)...)
			return openMy(t, loc), openMy(t, loc)
		}},
	}
	for _, d := range dbs {
		t.Run(d.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			src, tgt := d.open(t)
			opts := reconcile.Options{Key: []string{"id"}, Allocator: mem, BisectThreshold: 64,
				ColumnRules: map[string]reconcile.ColumnRule{"email": lower, "amount": cent},
				Context:     []string{"updated_at"}, Ignore: []string{"updated_at"},
				InFlight: &reconcile.InFlightRule{Column: "updated_at", After: time.Date(2026, 11, 26, 1, 50, 0, 0, time.UTC)}}
			run := func(algo reconcile.Algorithm) (*reconcile.Result, []string, error) {
				o := opts
				o.Algorithm = algo
				var lines []string
				res, err := reconcile.Diff(context.Background(),
					reconcile.Input{Source: src, Table: connectors.TableRef{Name: "a"}},
					reconcile.Input{Source: tgt, Table: connectors.TableRef{Name: "b"}}, o,
					func(c reconcile.Change) error {
						l := c.Kind.String() + " " + c.KeyString() + " " + strings.Join(c.Columns, ",")
						for _, f := range c.SourceContext {
							l += " " + f.Name + "=" + f.Value.String()
						}
						lines = append(lines, l)
						return nil
					})
				return res, lines, err
			}
			if _, _, err := run(reconcile.Bisect); !errors.Is(err, connectors.ErrUnsupported) ||
				!strings.Contains(err.Error(), "normalisers and tolerances force the comparison after fetching (column(s) amount, email)") {
				t.Fatalf("bisect: %v", err)
			}
			res, lines, err := run(reconcile.Auto)
			if err != nil {
				t.Fatal(err)
			}
			if res.Plan.Algorithm != "merge" || !strings.Contains(res.Plan.Note, "so the table was streamed: normalisers and tolerances force the comparison after fetching") {
				t.Errorf("plan %s: %s", res.Plan.Algorithm, res.Plan.Note)
			}
			want := []string{
				"changed id=20 amount updated_at=2026-11-20T10:00:00Z",
				"in_flight id=30  updated_at=2026-11-26T01:59:00Z",
				"missing id=40  updated_at=2026-11-20T10:00:00Z",
			}
			if !slices.Equal(lines, want) {
				t.Errorf("changes\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
			if s := res.Summary; s.Matched != 1997 || s.Tolerated != 1 || s.InFlight != 1 || s.Differences() != 2 {
				t.Errorf("summary %+v", s)
			}
		})
	}
}

// values renders rows 1..2000, skipping those f renders as "".
func values(f func(int) string) string {
	var rows []string
	for i := 1; i <= 2000; i++ {
		if r := f(i); r != "" {
			rows = append(rows, r)
		}
	}
	return strings.Join(rows, ", ")
}

func openPG(t *testing.T, dsn string) connectors.Source {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openMy(t *testing.T, loc string) connectors.Source {
	t.Helper()
	s, err := mysql.Open(t.Context(), loc, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
