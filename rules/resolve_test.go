package rules

import (
	"reflect"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/reconcile"
)

func fl(name string, v reconcile.Value) reconcile.Field { return reconcile.Field{Name: name, Value: v} }

func mustRules(t *testing.T, s Spec) *Rules {
	t.Helper()
	r, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var ctx = Context{SourceSystem: "billing", TargetSystem: "crm"}

func TestResolveRows(t *testing.T) {
	key := []reconcile.Field{fl("id", reconcile.AppendInt(nil, 1))}
	row := []reconcile.Field{fl("id", reconcile.AppendInt(nil, 1)), fl("email", text("a@x"))}
	missing := reconcile.Change{Kind: reconcile.Missing, Key: key, Source: row}
	extra := reconcile.Change{Kind: reconcile.Extra, Key: key, Target: row}
	for _, tc := range []struct {
		name   string
		spec   Spec
		c      reconcile.Change
		ctx    Context
		op     Op
		set    []reconcile.Field
		expect []reconcile.Field
		reason string
	}{
		{"missing inserts", Spec{}, missing, ctx, OpInsert, row, nil, "actions.missing: insert (the row is only in billing)"},
		{"extra deletes with the whole row as pre-image", Spec{}, extra, ctx, OpDelete, nil, row, "actions.extra: delete"},
		{"missing to review", Spec{Actions: map[string]string{"missing": "review"}}, missing, ctx, OpReview, nil, nil, "actions.missing: review"},
		{"extra ignored", Spec{Actions: map[string]string{"extra": "ignore"}}, extra, ctx, OpIgnore, nil, nil, "actions.extra: ignore"},
		{"manual default reviews rows", Spec{Default: "manual"}, extra, ctx, OpReview, nil, nil, "default: manual"},
		{"ignore default ignores rows", Spec{Default: "ignore"}, missing, ctx, OpIgnore, nil, nil, "default: ignore"},
		{"target is the truth", Spec{SourceOfTruth: "crm"}, missing, ctx, OpReview, nil, nil, "crm, the target, wins"},
		{"source named as truth", Spec{SourceOfTruth: "billing"}, missing, ctx, OpInsert, row, nil, "insert"},
		{"duplicate", Spec{}, reconcile.Change{Kind: reconcile.Duplicate, Key: key}, ctx, OpReview, nil, nil, "duplicate"},
		{"null key", Spec{}, reconcile.Change{Kind: reconcile.NullKey}, ctx, OpReview, nil, nil, "null_key"},
		{"in flight", Spec{}, reconcile.Change{Kind: reconcile.InFlight, InFlightAs: reconcile.Missing}, ctx, OpNone, nil, nil, "in_flight"},
	} {
		d := mustRules(t, tc.spec).Resolve(tc.c, tc.ctx)
		if d.Op != tc.op || !reflect.DeepEqual(d.Set, tc.set) || !reflect.DeepEqual(d.Expect, tc.expect) || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s: %+v", tc.name, d)
		}
	}
}

func TestResolveChanged(t *testing.T) {
	t1, t2 := ts(t, "2026-11-20T10:00:00Z"), ts(t, "2026-11-25T10:00:00Z")
	i := func(n int64) reconcile.Value { return reconcile.AppendInt(nil, n) }
	change := func(col string, src, tgt reconcile.Value) reconcile.Change {
		return reconcile.Change{Kind: reconcile.Changed, Key: []reconcile.Field{fl("id", i(1))}, Columns: []string{col},
			Source: []reconcile.Field{fl(col, src)}, Target: []reconcile.Field{fl(col, tgt)}}
	}
	withCtx := func(s, t reconcile.Value) Context {
		c := ctx
		if s != nil {
			c.Source = []reconcile.Field{fl("updated_at", s)}
		}
		if t != nil {
			c.Target = []reconcile.Field{fl("updated_at", t)}
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		spec   Spec
		c      reconcile.Change
		ctx    Context
		op     Op
		value  reconcile.Value
		reason string
	}{
		{"source of truth", Spec{}, change("email", text("a"), text("b")), ctx, OpUpdate, text("a"), "default: source_of_truth (billing wins)"},
		{"target is the truth", Spec{SourceOfTruth: "crm"}, change("email", text("a"), text("b")), ctx, OpNone, nil, "crm wins"},
		{"newest: source newer", Spec{Columns: map[string]string{"email": "newest"}}, change("email", text("a"), text("b")), withCtx(t2, t1), OpUpdate, text("a"),
			"columns.email: newest (crm updated_at 2026-11-20T10:00:00Z < billing 2026-11-25T10:00:00Z)"},
		{"newest: target newer", Spec{Default: "newest"}, change("email", text("a"), text("b")), withCtx(t1, t2), OpNone, nil, "default: newest (billing updated_at"},
		{"newest: tie", Spec{Default: "newest"}, change("email", text("a"), text("b")), withCtx(t1, t1), OpReview, nil, "equal on both sides"},
		{"newest: NULL", Spec{Default: "newest"}, change("email", text("a"), text("b")), withCtx(reconcile.Null, t1), OpReview, nil, "updated_at billing is NULL"},
		{"newest: no context", Spec{Default: "newest"}, change("email", text("a"), text("b")), withCtx(t1, nil), OpReview, nil, "no updated_at on both sides"},
		{"newest: incomparable", Spec{Default: "newest"}, change("email", text("a"), text("b")), withCtx(t1, text("x")), OpReview, nil, "cannot be compared"},
		{"newest: own column", Spec{Default: "newest", NewestColumn: "modified"}, reconcile.Change{Kind: reconcile.Changed, Columns: []string{"modified"},
			Source: []reconcile.Field{fl("modified", t2)}, Target: []reconcile.Field{fl("modified", t1)}}, ctx, OpUpdate, t2, "modified"},
		{"prefer non-null: target NULL", Spec{Default: "prefer_non_null"}, change("n", text("a"), reconcile.Null), ctx, OpUpdate, text("a"), "crm is NULL"},
		{"prefer non-null: source NULL", Spec{Default: "prefer_non_null"}, change("n", reconcile.Null, text("b")), ctx, OpNone, nil, "billing is NULL"},
		{"prefer non-null: both", Spec{Default: "prefer_non_null"}, change("n", text("a"), text("b")), ctx, OpReview, nil, "both sides hold values"},
		{"max: source larger", Spec{Default: "max"}, change("n", i(5), i(3)), ctx, OpUpdate, i(5), "billing 5 wins over crm 3"},
		{"max: target larger", Spec{Default: "max"}, change("n", i(2), i(3)), ctx, OpNone, nil, "crm 3 wins"},
		{"min: source smaller", Spec{Default: "min"}, change("n", i(2), i(3)), ctx, OpUpdate, i(2), "billing 2 wins"},
		{"min: target smaller", Spec{Default: "min"}, change("n", i(5), i(3)), ctx, OpNone, nil, "crm 3 wins"},
		{"max: NULL", Spec{Default: "max"}, change("n", reconcile.Null, i(3)), ctx, OpReview, nil, "cannot be compared"},
		{"max: kinds differ", Spec{Default: "max"}, change("n", text("5"), i(3)), ctx, OpReview, nil, "cannot be compared"},
		{"max: equal values", Spec{Default: "max"}, change("n", num(t, "1.0"), i(1)), ctx, OpReview, nil, "compare equal"},
		{"manual", Spec{Columns: map[string]string{"notes": "manual"}}, change("notes", text("a"), text("b")), ctx, OpReview, nil, "columns.notes: manual"},
		{"ignore", Spec{Columns: map[string]string{"notes": "ignore"}}, change("notes", text("a"), text("b")), ctx, OpIgnore, nil, "columns.notes: ignore"},
		{"changed to review", Spec{Actions: map[string]string{"changed": "review"}}, change("n", i(1), i(2)), ctx, OpReview, nil, "actions.changed: review"},
		{"changed ignored", Spec{Actions: map[string]string{"changed": "ignore"}}, change("n", i(1), i(2)), ctx, OpIgnore, nil, "actions.changed: ignore"},
	} {
		d := mustRules(t, tc.spec).Resolve(tc.c, tc.ctx)
		if d.Op != tc.op || len(d.Columns) != 1 || !strings.Contains(d.Columns[0].Reason, tc.reason) {
			t.Errorf("%s: op %s, %+v", tc.name, d.Op, d.Columns)
			continue
		}
		cd := d.Columns[0]
		if tc.op == OpUpdate {
			if !cd.Value.Equal(tc.value) || len(d.Set) != 1 || !d.Set[0].Value.Equal(tc.value) ||
				len(d.Expect) != 1 || !d.Expect[0].Value.Equal(tc.c.Target[0].Value) || d.Expect[0].Name != tc.c.Columns[0] {
				t.Errorf("%s: set %v expect %v", tc.name, d.Set, d.Expect)
			}
		} else if len(d.Set) != 0 || len(d.Expect) != 0 {
			t.Errorf("%s: writes without an update: %+v", tc.name, d)
		}
	}
}

// A changed row with a column to update and one to review: the update
// goes ahead for its column only, the other is listed.
func TestResolveMixedColumns(t *testing.T) {
	r := mustRules(t, Spec{Columns: map[string]string{"notes": "manual", "vip": "ignore"}})
	c := reconcile.Change{Kind: reconcile.Changed, Columns: []string{"email", "notes", "vip"},
		Source: []reconcile.Field{fl("email", text("a")), fl("notes", text("n1")), fl("vip", text("y"))},
		Target: []reconcile.Field{fl("email", text("b")), fl("notes", text("n2")), fl("vip", text("n"))}}
	d := r.Resolve(c, ctx)
	if d.Op != OpUpdate || len(d.Set) != 1 || d.Set[0].Name != "email" || !reflect.DeepEqual(d.Review(), []string{"notes"}) {
		t.Errorf("%+v", d)
	}
	if got := d.Reasons(); len(got) != 3 || got[0] != "default: source_of_truth (billing wins)" {
		t.Errorf("reasons %q", got)
	}
	if d.Columns[0].Rule != (Rule{Scope: "default", Strategy: SourceOfTruth}) || d.Columns[1].Rule != (Rule{Scope: "columns.notes", Strategy: Manual}) {
		t.Errorf("rules %+v", d.Columns)
	}
}

func TestNewErrors(t *testing.T) {
	_, err := New(Spec{Default: "latest", Columns: map[string]string{"a": "newest", "b": "coin_flip"},
		Actions: map[string]string{"missing": "delete", "gone": "insert"}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`default: unknown strategy "latest"`, `columns.b: unknown strategy "coin_flip"`,
		`actions.missing: unknown action "delete" (accepted: insert, review, ignore)`, `actions: unknown kind "gone"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	r := mustRules(t, Spec{Columns: map[string]string{"email": "newest"}})
	if !r.NeedsContext() || r.NewestColumn() != "updated_at" || r.Strategy("email") != Newest || r.Strategy("x") != SourceOfTruth {
		t.Error("accessors")
	}
}

func FuzzParseStrategy(f *testing.F) {
	for _, s := range []string{"newest", "max", "", "source_of_truth", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStrategy(s)
		if err == nil && st.String() != s {
			t.Fatalf("%q → %s", s, st)
		}
	})
}
