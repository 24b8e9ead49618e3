package main

import (
	"slices"
	"testing"

	"github.com/reconhq/reconcile/reconcile"
	"github.com/reconhq/reconcile/rules"
)

// storedForm without a database: which values a fix writes and guards on,
// per operation, and when it holds a row for review.
func TestStoredForm(t *testing.T) {
	txt := func(s string) reconcile.Value { return reconcile.AppendText(nil, s) }
	f := func(name, v string) reconcile.Field { return reconcile.Field{Name: name, Value: txt(v)} }
	chain := func(items ...any) rules.Chain {
		c, err := rules.ParseChain(items)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	norm := map[string]rules.Chain{"email": chain("trim", "lower"), "at": chain(map[string]any{"time_zone": "Europe/Paris"}), "empty": nil}
	key := []reconcile.Field{{Name: "id", Value: reconcile.AppendInt(nil, 1)}}
	c := reconcile.Change{
		SourceRaw: []reconcile.Field{f("at", "src-at"), f("email", " Ann@X.com")},
		TargetRaw: []reconcile.Field{f("at", "tgt-at"), f("email", "ANN@x.com ")},
	}
	value := func(fs []reconcile.Field, name string) string {
		for _, x := range fs {
			if x.Name == name {
				s, _ := x.Value.Text()
				return s
			}
		}
		return "<none>"
	}

	// An update writes the source's stored value and guards on the target's.
	d := rules.Decision{Op: rules.OpUpdate, Key: key, Set: []reconcile.Field{f("email", "ann@x.com"), f("empty", "e")}, Expect: []reconcile.Field{f("email", "ann@y.com"), f("empty", "e0")}}
	if _, _, held := storedForm(&d, c, norm); len(held) != 0 || d.Op != rules.OpUpdate ||
		value(d.Set, "email") != " Ann@X.com" || value(d.Expect, "email") != "ANN@x.com " || value(d.Set, "empty") != "e" {
		t.Errorf("update: held %v, %+v", held, d)
	}
	// Writing a time_zone column would copy a wall-clock time across as an
	// instant: held; guarding on the target's own value is fine.
	d = rules.Decision{Op: rules.OpUpdate, Key: key, Set: []reconcile.Field{f("at", "n")}, Expect: []reconcile.Field{f("at", "n0")}}
	if _, _, held := storedForm(&d, c, norm); !slices.Equal(held, []string{"at"}) || d.Op != rules.OpReview {
		t.Errorf("update of a time_zone column: held %v, op %v", held, d.Op)
	}
	d = rules.Decision{Op: rules.OpInsert, Key: key, Set: []reconcile.Field{f("email", "ann@x.com")}}
	srcCtx, _, held := storedForm(&d, reconcile.Change{SourceRaw: c.SourceRaw, SourceContext: []reconcile.Field{f("at", "ctx")}}, norm)
	if !slices.Equal(held, []string{"at"}) || d.Op != rules.OpReview || value(d.Set, "email") != " Ann@X.com" || value(srcCtx, "at") != "ctx" {
		t.Errorf("insert with a time_zone context column: held %v, op %v, %+v", held, d.Op, d)
	}
	// A delete expects the target's stored row, time_zone columns too (its
	// undo writes the target's own values back).
	d = rules.Decision{Op: rules.OpDelete, Key: key, Expect: []reconcile.Field{f("email", "ann@x.com"), f("at", "n")}}
	if _, _, held := storedForm(&d, c, norm); len(held) != 0 || d.Op != rules.OpDelete || value(d.Expect, "email") != "ANN@x.com " || value(d.Expect, "at") != "tgt-at" {
		t.Errorf("delete: held %v, %+v", held, d)
	}
	// No stored value handed over: held, never the normalised one written.
	d = rules.Decision{Op: rules.OpUpdate, Key: key, Set: []reconcile.Field{f("email", "ann@x.com")}, Expect: []reconcile.Field{f("email", "b")}}
	if _, _, held := storedForm(&d, reconcile.Change{}, norm); !slices.Equal(held, []string{"email"}) || d.Op != rules.OpReview {
		t.Errorf("no stored value: held %v, op %v", held, d.Op)
	}
	// No normalisers: nothing changes.
	d = rules.Decision{Op: rules.OpUpdate, Key: key, Set: []reconcile.Field{f("email", "x")}}
	if _, _, held := storedForm(&d, c, nil); held != nil || value(d.Set, "email") != "x" {
		t.Errorf("no normalisers: %v %+v", held, d)
	}
}
