package config

import (
	"maps"
	"slices"

	"github.com/reconhq/reconcile/reconcile"
)

// ColumnRules builds the engine's per-column rules (reconcile.Options.
// ColumnRules) from the job's normalisers and tolerances, keyed by source
// column name, each described as "email: trim, lower" or "mrr: abs 0.01".
func (j Job) ColumnRules() map[string]reconcile.ColumnRule {
	out := map[string]reconcile.ColumnRule{}
	cols := slices.Sorted(maps.Keys(j.Normalize))
	for c := range j.Tolerance {
		if _, ok := j.Normalize[c]; !ok {
			cols = append(cols, c)
		}
	}
	for _, c := range cols {
		var r reconcile.ColumnRule
		desc := ""
		if n, ok := j.Normalize[c]; ok && len(n) > 0 {
			r.Normalize = n.Apply
			desc = n.String()
		}
		if t, ok := j.Tolerance[c]; ok {
			r.Equal = t.Equal
			if desc != "" {
				desc += "; "
			}
			desc += t.String()
		}
		if r.Normalize == nil && r.Equal == nil {
			continue
		}
		r.Describe = c + ": " + desc
		out[c] = r
	}
	return out
}

// ContextColumns lists the columns every change must carry for both
// sides (reconcile.Options.Context): the newest column when a strategy
// reads it.
func (j Job) ContextColumns() []string {
	if j.Rules != nil && j.Rules.NeedsContext() {
		return []string{j.Rules.NewestColumn()}
	}
	return nil
}
