package rules

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/reconhq/reconcile/reconcile"
)

// Strategy decides which value of a differing column wins. The set is
// closed.
type Strategy uint8

const (
	// SourceOfTruth: the named system's value wins (by default the
	// system of record, the diff's source side).
	SourceOfTruth Strategy = iota + 1
	// Newest: the value of the side whose timestamp column (NewestColumn,
	// default updated_at) is later wins.
	Newest
	// PreferNonNull: a value wins over a NULL; two values go to review.
	PreferNonNull
	// Max: the larger value wins.
	Max
	// Min: the smaller value wins.
	Min
	// Manual: never fixed automatically; listed for review.
	Manual
	// Ignore: never fixed and not listed.
	Ignore
)

var strategyNames = [...]string{SourceOfTruth: "source_of_truth", Newest: "newest", PreferNonNull: "prefer_non_null",
	Max: "max", Min: "min", Manual: "manual", Ignore: "ignore"}

func (s Strategy) String() string {
	if int(s) < len(strategyNames) && strategyNames[s] != "" {
		return strategyNames[s]
	}
	return fmt.Sprintf("strategy(%d)", uint8(s))
}

// ParseStrategy reads a strategy name.
func ParseStrategy(s string) (Strategy, error) {
	for i, n := range strategyNames {
		if n != "" && n == s {
			return Strategy(i), nil
		}
	}
	return 0, fmt.Errorf("unknown strategy %q (accepted: %s)", s, strings.Join(strategyNames[1:], ", "))
}

// Action is what to do with a row of one kind (missing, extra, changed).
type Action uint8

const (
	Insert Action = iota + 1
	Delete
	Update
	Review
	IgnoreRow
)

var actionNames = [...]string{Insert: "insert", Delete: "delete", Update: "update", Review: "review", IgnoreRow: "ignore"}

func (a Action) String() string {
	if int(a) < len(actionNames) && actionNames[a] != "" {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// kindActions lists the actions each kind accepts.
var kindActions = map[reconcile.Kind][]Action{
	reconcile.Missing: {Insert, Review, IgnoreRow},
	reconcile.Extra:   {Delete, Review, IgnoreRow},
	reconcile.Changed: {Update, Review, IgnoreRow},
}

// Spec is the declared form of a job's rules, as a config holds them.
type Spec struct {
	// Default is the strategy of every column without its own; empty
	// means source_of_truth.
	Default string
	// Columns overrides the strategy per column (source names).
	Columns map[string]string
	// SourceOfTruth names the system that wins under source_of_truth;
	// empty means the system of record (the source side).
	SourceOfTruth string
	// NewestColumn is the timestamp column newest compares, on each
	// side; empty means updated_at.
	NewestColumn string
	// Actions per kind: "missing" (insert, review, ignore; default
	// insert), "extra" (delete, review, ignore; default delete),
	// "changed" (update, review, ignore; default update).
	Actions map[string]string
}

// Rules is a validated, immutable set of resolution rules of one job.
type Rules struct {
	def     Strategy
	columns map[string]Strategy
	truth   string
	newest  string
	actions map[reconcile.Kind]Action
}

// New validates a Spec, reporting every problem at once.
func New(s Spec) (*Rules, error) {
	r := &Rules{def: SourceOfTruth, columns: map[string]Strategy{}, truth: s.SourceOfTruth, newest: s.NewestColumn,
		actions: map[reconcile.Kind]Action{reconcile.Missing: Insert, reconcile.Extra: Delete, reconcile.Changed: Update}}
	if r.newest == "" {
		r.newest = "updated_at"
	}
	var problems []error
	if s.Default != "" {
		st, err := ParseStrategy(s.Default)
		if err != nil {
			problems = append(problems, fmt.Errorf("default: %w", err))
		}
		r.def = st
	}
	for _, c := range sortedKeys(s.Columns) {
		st, err := ParseStrategy(s.Columns[c])
		if err != nil {
			problems = append(problems, fmt.Errorf("columns.%s: %w", c, err))
			continue
		}
		r.columns[c] = st
	}
	for _, k := range sortedKeys(s.Actions) {
		var kind reconcile.Kind
		switch k {
		case "missing":
			kind = reconcile.Missing
		case "extra":
			kind = reconcile.Extra
		case "changed":
			kind = reconcile.Changed
		default:
			problems = append(problems, fmt.Errorf("actions: unknown kind %q (accepted: missing, extra, changed)", k))
			continue
		}
		ok := false
		var names []string
		for _, a := range kindActions[kind] {
			names = append(names, a.String())
			if a.String() == s.Actions[k] {
				r.actions[kind], ok = a, true
			}
		}
		if !ok {
			problems = append(problems, fmt.Errorf("actions.%s: unknown action %q (accepted: %s)", k, s.Actions[k], strings.Join(names, ", ")))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("parse rules: %w", errors.Join(problems...))
	}
	return r, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// String renders the rules canonically (sorted), for summaries and
// config hashes: "default source_of_truth; columns email=newest;
// newest_column updated_at; actions missing=insert extra=delete
// changed=update".
func (r *Rules) String() string {
	var sb strings.Builder
	sb.WriteString("default " + r.def.String())
	if r.truth != "" {
		sb.WriteString(" (" + r.truth + ")")
	}
	if len(r.columns) > 0 {
		sb.WriteString("; columns")
		for _, c := range sortedKeys(r.columns) {
			sb.WriteString(" " + c + "=" + r.columns[c].String())
		}
	}
	sb.WriteString("; newest_column " + r.newest)
	fmt.Fprintf(&sb, "; actions missing=%s extra=%s changed=%s", r.actions[reconcile.Missing], r.actions[reconcile.Extra], r.actions[reconcile.Changed])
	return sb.String()
}

// Strategy returns the strategy of a column (source name).
func (r *Rules) Strategy(column string) Strategy {
	if s, ok := r.columns[column]; ok {
		return s
	}
	return r.def
}

// NewestColumn is the column newest compares: add it to the engine's
// context columns (reconcile.Options.Context) so that every change
// carries it for both sides.
func (r *Rules) NewestColumn() string { return r.newest }

// NeedsContext reports whether any strategy reads the newest column.
func (r *Rules) NeedsContext() bool {
	if r.def == Newest {
		return true
	}
	for _, s := range r.columns {
		if s == Newest {
			return true
		}
	}
	return false
}

// Context is what Resolve knows beyond the change itself.
type Context struct {
	// SourceSystem and TargetSystem name the two sides (the system of
	// record and the replica), for source_of_truth and for the reasons.
	SourceSystem, TargetSystem string
	// Source and Target hold the context columns of each side's row
	// (reconcile.Change.SourceContext and TargetContext).
	Source, Target []reconcile.Field
}

// Op is what a decision does to the target.
type Op uint8

const (
	// OpNone: nothing to do (the target keeps its value, or the row is
	// not drift).
	OpNone Op = iota
	OpInsert
	OpUpdate
	OpDelete
	// OpReview: not fixed automatically; listed for a person.
	OpReview
	// OpIgnore: not fixed and not listed.
	OpIgnore
)

var opNamesDecision = [...]string{OpNone: "none", OpInsert: "insert", OpUpdate: "update", OpDelete: "delete", OpReview: "review", OpIgnore: "ignore"}

func (o Op) String() string {
	if int(o) < len(opNamesDecision) {
		return opNamesDecision[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Rule names the rule behind a choice, for machines; Reason says it for
// people.
type Rule struct {
	// Scope is "default", "columns.<name>" or "actions.<kind>".
	Scope    string
	Strategy Strategy // 0 for a kind action
	Action   Action   // 0 for a strategy
}

// ColumnDecision is the decision for one differing column of a changed row.
type ColumnDecision struct {
	Column string // source name
	// Op is OpUpdate (write Value), OpNone (the target's value wins),
	// OpReview or OpIgnore.
	Op    Op
	Value reconcile.Value // the value to write, for OpUpdate
	// Seen is the target's value the diff saw: the pre-image an update
	// guards on.
	Seen   reconcile.Value
	Rule   Rule
	Reason string
}

// Decision is what to do about one change.
type Decision struct {
	Kind reconcile.Kind
	Key  []reconcile.Field
	// Op is the row's operation: insert (Set is the source row), update
	// (Set is the columns to write), delete, review, ignore or none. An
	// update may come with columns for review (Columns); Review lists
	// them.
	Op  Op
	Set []reconcile.Field
	// Expect is the pre-image the fix expects on the target: the seen
	// values of the columns an update writes, the whole target row for a
	// delete, nothing for an insert (which expects no row).
	Expect []reconcile.Field
	// Columns holds the per-column decisions of a changed row.
	Columns []ColumnDecision
	// Rule and Reason are the row-level rule (a kind action or the
	// default strategy); for a changed row each column has its own.
	Rule   Rule
	Reason string
}

// Review lists the columns of a changed row that go to review.
func (d Decision) Review() []string {
	var out []string
	for _, c := range d.Columns {
		if c.Op == OpReview {
			out = append(out, c.Column)
		}
	}
	return out
}

// Reasons lists every reason behind the decision, row first.
func (d Decision) Reasons() []string {
	out := []string{}
	if d.Reason != "" {
		out = append(out, d.Reason)
	}
	for _, c := range d.Columns {
		out = append(out, c.Reason)
	}
	return out
}

// Resolve decides what to do about one change. It is a pure function of
// the change, the context and the rules.
//
// Missing rows follow actions.missing (default insert the source row),
// extra rows actions.extra (default delete the target row, expecting the
// whole row), changed rows actions.changed (default update) and then each
// differing column its strategy. The default strategy bounds the row
// actions: under manual a missing or extra row goes to review, under
// ignore it is ignored, and under source_of_truth naming the target
// system it goes to review (the target is right; the source is not
// written). Duplicate and NULL-key rows always go to review; rows in
// flight are not drift (OpNone).
func (r *Rules) Resolve(c reconcile.Change, ctx Context) Decision {
	d := Decision{Kind: c.Kind, Key: c.Key}
	switch c.Kind {
	case reconcile.Missing, reconcile.Extra:
		r.resolveRow(&d, c, ctx)
	case reconcile.Changed:
		r.resolveChanged(&d, c, ctx)
	case reconcile.Duplicate, reconcile.NullKey:
		d.Op = OpReview
		d.Reason = fmt.Sprintf("%s: a %s row cannot be fixed by key", c.Kind, c.Kind)
	case reconcile.InFlight:
		d.Op = OpNone
		d.Reason = "in_flight: still being copied, not drift"
	default:
		d.Op = OpReview
		d.Reason = fmt.Sprintf("%s: unknown kind", c.Kind)
	}
	return d
}

func (r *Rules) truthIsTarget(ctx Context) bool {
	return r.truth != "" && r.truth != ctx.SourceSystem && r.truth == ctx.TargetSystem
}

func (r *Rules) resolveRow(d *Decision, c reconcile.Change, ctx Context) {
	kind := "actions." + c.Kind.String()
	a := r.actions[c.Kind]
	d.Rule = Rule{Scope: kind, Action: a}
	switch {
	case a == Review:
		d.Op, d.Reason = OpReview, kind+": review"
		return
	case a == IgnoreRow:
		d.Op, d.Reason = OpIgnore, kind+": ignore"
		return
	case r.def == Manual:
		d.Op, d.Rule, d.Reason = OpReview, Rule{Scope: "default", Strategy: Manual}, "default: manual (never fixed automatically)"
		return
	case r.def == Ignore:
		d.Op, d.Rule, d.Reason = OpIgnore, Rule{Scope: "default", Strategy: Ignore}, "default: ignore"
		return
	case r.def == SourceOfTruth && r.truthIsTarget(ctx):
		d.Op, d.Rule = OpReview, Rule{Scope: "default", Strategy: SourceOfTruth}
		d.Reason = fmt.Sprintf("default: source_of_truth (%s, the target, wins; the source is not written)", r.truth)
		return
	}
	if c.Kind == reconcile.Missing {
		d.Op, d.Set = OpInsert, c.Source
		d.Reason = fmt.Sprintf("%s: insert (the row is only in %s)", kind, sideName(ctx.SourceSystem, "the source"))
		return
	}
	d.Op, d.Expect = OpDelete, c.Target
	d.Reason = fmt.Sprintf("%s: delete (the row is not in %s)", kind, sideName(ctx.SourceSystem, "the source"))
}

func sideName(name, fallback string) string {
	if name == "" {
		return fallback
	}
	return name
}

func field(fs []reconcile.Field, name string) (reconcile.Value, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

func (r *Rules) resolveChanged(d *Decision, c reconcile.Change, ctx Context) {
	a := r.actions[reconcile.Changed]
	d.Rule = Rule{Scope: "actions.changed", Action: a}
	for _, col := range c.Columns {
		src, _ := field(c.Source, col)
		tgt, _ := field(c.Target, col)
		if src == nil {
			src = reconcile.Null
		}
		if tgt == nil {
			tgt = reconcile.Null
		}
		cd := ColumnDecision{Column: col, Seen: tgt}
		switch a {
		case Review:
			cd.Op, cd.Rule, cd.Reason = OpReview, d.Rule, "actions.changed: review"
		case IgnoreRow:
			cd.Op, cd.Rule, cd.Reason = OpIgnore, d.Rule, "actions.changed: ignore"
		default:
			r.resolveColumn(&cd, src, tgt, c, ctx)
		}
		d.Columns = append(d.Columns, cd)
	}
	review, ignored := false, 0
	for _, cd := range d.Columns {
		switch cd.Op {
		case OpUpdate:
			d.Set = append(d.Set, reconcile.Field{Name: cd.Column, Value: cd.Value})
			d.Expect = append(d.Expect, reconcile.Field{Name: cd.Column, Value: cd.Seen})
		case OpReview:
			review = true
		case OpIgnore:
			ignored++
		}
	}
	switch {
	case len(d.Set) > 0:
		d.Op = OpUpdate
	case review:
		d.Op = OpReview
	case ignored > 0 && ignored == len(d.Columns):
		d.Op = OpIgnore
	default:
		d.Op = OpNone
	}
}

func (r *Rules) resolveColumn(cd *ColumnDecision, src, tgt reconcile.Value, c reconcile.Change, ctx Context) {
	st := r.def
	scope := "default"
	if s, ok := r.columns[cd.Column]; ok {
		st, scope = s, "columns."+cd.Column
	}
	cd.Rule = Rule{Scope: scope, Strategy: st}
	prefix := scope + ": " + st.String()
	take := func(why string) {
		cd.Op, cd.Value, cd.Reason = OpUpdate, src, prefix+" ("+why+")"
	}
	keep := func(why string) {
		cd.Op, cd.Reason = OpNone, prefix+" ("+why+")"
	}
	review := func(why string) {
		cd.Op, cd.Reason = OpReview, prefix+" ("+why+"; review)"
	}
	srcName := sideName(ctx.SourceSystem, "source")
	tgtName := sideName(ctx.TargetSystem, "target")
	switch st {
	case SourceOfTruth:
		if r.truthIsTarget(ctx) {
			keep(tgtName + " wins")
			return
		}
		take(srcName + " wins")
	case Newest:
		col := r.newest
		sv, sok := field(ctx.Source, col)
		if !sok {
			sv, sok = field(c.Source, col)
		}
		tv, tok := field(ctx.Target, col)
		if !tok {
			tv, tok = field(c.Target, col)
		}
		switch {
		case !sok || !tok:
			review(fmt.Sprintf("no %s on both sides", col))
			return
		case sv.IsNull() || tv.IsNull():
			review(fmt.Sprintf("%s %s is NULL", col, map[bool]string{true: srcName, false: tgtName}[sv.IsNull()]))
			return
		}
		k, ok := reconcile.Compare(sv, tv)
		switch {
		case !ok:
			review(fmt.Sprintf("%s values %s and %s cannot be compared", col, sv, tv))
		case k > 0:
			take(fmt.Sprintf("%s %s %s < %s %s", tgtName, col, tv, srcName, sv))
		case k < 0:
			keep(fmt.Sprintf("%s %s %s < %s %s", srcName, col, sv, tgtName, tv))
		default:
			review(fmt.Sprintf("%s equal on both sides: %s", col, sv))
		}
	case PreferNonNull:
		switch {
		case tgt.IsNull() && !src.IsNull():
			take(tgtName + " is NULL")
		case src.IsNull() && !tgt.IsNull():
			keep(srcName + " is NULL")
		default:
			review("both sides hold values")
		}
	case Max, Min:
		k, ok := reconcile.Compare(src, tgt)
		if !ok {
			review(fmt.Sprintf("%s and %s cannot be compared", src, tgt))
			return
		}
		if st == Min {
			k = -k
		}
		switch {
		case k > 0:
			take(fmt.Sprintf("%s %s wins over %s %s", srcName, src, tgtName, tgt))
		case k < 0:
			keep(fmt.Sprintf("%s %s wins over %s %s", tgtName, tgt, srcName, src))
		default:
			review("the values compare equal")
		}
	case Manual:
		cd.Op, cd.Reason = OpReview, prefix+" (never fixed automatically)"
	case Ignore:
		cd.Op, cd.Reason = OpIgnore, prefix
	default:
		review("unknown strategy")
	}
}
