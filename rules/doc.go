// Package rules holds a job's declared rules: normalisers and tolerances,
// which decide what counts as equal, and resolution strategies, which
// decide what to do about each difference. It does no I/O and reads no
// clock: everything comes in as arguments.
//
// # Normalisers
//
// A column's normalisers form an ordered Chain, parsed from a config with
// ParseChain: trim, lower, upper (Unicode simple case mapping, code point
// by code point: ß stays ß), collapse_spaces (every run of white
// space becomes one space; no trimming), nfc (Unicode NFC),
// round(n) (n decimal places, half away from zero, exact on decimals; a
// float's shortest round-trip decimal is rounded exactly and the result
// is the nearest float, so round(2) of the float 2.675 is 2.68),
// truncate(n) (the first n characters, code points), alias (a map of
// canonical value to variants, matched exactly after the normalisers
// before it), null_if_empty, time_zone (a timestamp without time zone is
// read as wall time in an IANA zone and becomes the UTC instant; a
// timestamp that carries a zone is left as it is; a wall time skipped or
// repeated by a daylight-saving change resolves as Go's time.Date does)
// and truncate_time (second, millisecond, minute, hour or day, toward
// the past, in UTC for instants).
//
// Chain.Apply maps an Arrow column to its normalised column (the engine's
// reconcile.ColumnRule.Normalize); Chain.ApplyValue and ApplyValueFor do
// the same to one canonical value and agree with Apply. A normaliser on a
// column type it does not apply to is an error at run time naming both.
//
// Normalisers and tolerances run in Go: they force a column to be
// compared after fetching, never in a pushed-down checksum.
//
// # Tolerances
//
// ParseTolerance reads {abs: 0.01}, {rel: 0.001} (of the larger
// magnitude), both (either suffices) or {skew: 2s} for timestamps, dates
// and times. Tolerance.Equal compares numbers exactly as rationals; NULL
// equals only NULL and NaN only NaN.
//
// # Resolution
//
// New validates a Spec: a default strategy, per-column strategies and
// per-kind actions. Strategies: source_of_truth, newest, prefer_non_null,
// max, min, manual, ignore. Rules.Resolve is a pure function of a change
// and its Context returning a Decision: the row's operation, the values
// to write, the pre-image a guarded fix expects, and for every choice
// the rule that made it (Rule, for machines) and why (Reason, for people).
//
// Example:
//
//	chain, err := rules.ParseChain([]any{"trim", "lower"})
//	if err != nil { ... }
//	norm, err := chain.Apply(emails, mem) // a new array; release it
//
//	r, err := rules.New(rules.Spec{Default: "source_of_truth", Columns: map[string]string{"email": "newest"}})
//	d := r.Resolve(change, rules.Context{SourceSystem: "billing", TargetSystem: "crm",
//		Source: change.SourceContext, Target: change.TargetContext})
//	// d.Op, d.Set, d.Expect, d.Reasons()
package rules
