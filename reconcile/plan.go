package reconcile

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/reconhq/reconcile/connectors"
)

// colPair is one column compared on both sides.
type colPair struct {
	src, tgt       string // names on each side
	srcIdx, tgtIdx int    // index in each side's read projection
	srcEnc, tgtEnc columnEncoder
	isKey          bool
	order          int // position in the source schema, for display
}

// plan is the resolved comparison: which columns, in which order, read how.
type plan struct {
	key        []string  // source names, in key order
	keyPairs   []int     // index into pairs for each key column
	pairs      []colPair // key and compared columns, sorted by source name
	srcColumns []string  // projection read from the source
	tgtColumns []string  // projection read from the target
	schema     SchemaDiff
	display    []int // pair indexes in source schema order

	// Declared rules (rules.go). A row encoding holds the pairs, then the
	// extras: columns read but not compared (Context, InFlight), which
	// also follow the pairs in both projections; then, with normalisers,
	// the raws: the stored values of the normalised columns, which the
	// normalising reader appends to each batch (not read separately).
	extras        []colPair
	raws          []rawCol // one per normaliser, in srcNorm order
	context       []int    // row index of each Context column
	contextNames  []string // Options.Context
	inFlight      int      // row index of the in-flight column; -1 for none
	inFlightAfter time.Time
	inFlightUntil time.Time
	equal         []func(src, tgt Value) bool // per pair; nil without tolerances
	drift         []int                       // per pair: its index in Result.Columns; -1 for a key
	srcNorm       []normCol                   // normalisers of the source projection
	tgtNorm       []normCol                   // normalisers of the target projection
	keyNormalised bool                        // a key column is normalised: key order is not kept
	rules         []string                    // descriptions, for PlanStats.Rules
}

// rawCol is a normalised column whose stored (un-normalised) values a
// row encoding carries too, after the pairs and the extras: the values a
// fix writes and guards on. They are never hashed or compared.
type rawCol struct {
	name           string        // source name
	srcEnc, tgtEnc columnEncoder // of the stored types
}

// rowCols is the number of cells of a row encoding.
func (p *plan) rowCols() int { return len(p.pairs) + len(p.extras) + len(p.raws) }

// rawStart is the index of the first raw cell of a row encoding.
func (p *plan) rawStart() int { return len(p.pairs) + len(p.extras) }

// needValues reports whether a change's row values are needed to classify
// it (tolerances, in-flight rows), listed or not.
func (p *plan) needValues() bool { return p.equal != nil || p.inFlight >= 0 }

// pushDownBlocker says why the declared rules keep the comparison out of
// the databases' checksums, or "" when they do not.
func (p *plan) pushDownBlocker() string {
	var cols []string
	for _, n := range p.srcNorm {
		cols = append(cols, n.name)
	}
	for i, eq := range p.equal {
		if eq != nil && !slices.Contains(cols, p.pairs[i].src) {
			cols = append(cols, p.pairs[i].src)
		}
	}
	var why []string
	if len(cols) > 0 {
		sort.Strings(cols)
		why = append(why, "normalisers and tolerances force the comparison after fetching (column(s) "+strings.Join(cols, ", ")+")")
	}
	if p.inFlight >= 0 {
		why = append(why, "in-flight rows are recognised after fetching")
	}
	return strings.Join(why, "; ")
}

func columnNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

func typeName(f arrow.Field) string {
	switch id := f.Type.ID(); {
	case classOf(f) == classJSON && id == arrow.STRING:
		return "json"
	case classOf(f) == classNumber && (id == arrow.STRING || id == arrow.LARGE_STRING):
		return "decimal"
	}
	return f.Type.String()
}

// buildPlan matches the two schemas and validates the options against them.
// All problems are reported at once.
func buildPlan(src, tgt *connectors.TableInfo, opts *Options) (*plan, error) {
	var problems []error
	srcField := map[string]arrow.Field{}
	for _, f := range src.Schema.Fields() {
		srcField[f.Name] = f
	}
	tgtField := map[string]arrow.Field{}
	for _, f := range tgt.Schema.Fields() {
		tgtField[f.Name] = f
	}
	list := func(names []string) string { return strings.Join(names, ", ") }

	// Column mapping: source name → target name.
	mapped := map[string]string{}
	reverse := map[string]string{}
	for s, t := range opts.Map {
		if _, ok := srcField[s]; !ok {
			problems = append(problems, fmt.Errorf("--map %s=%s: no column %q in source %s (columns: %s): %w",
				s, t, s, src.Name, list(columnNames(src.Schema)), connectors.ErrColumnNotFound))
		}
		if _, ok := tgtField[t]; !ok {
			problems = append(problems, fmt.Errorf("--map %s=%s: no column %q in target %s (columns: %s): %w",
				s, t, t, tgt.Name, list(columnNames(tgt.Schema)), connectors.ErrColumnNotFound))
		}
		if prev, dup := reverse[t]; dup {
			problems = append(problems, fmt.Errorf("--map: target column %q is mapped from both %q and %q", t, prev, s))
		}
		mapped[s] = t
		reverse[t] = s
	}
	// tgtName is the target column a source column pairs with, or "" when
	// its namesake in the target is taken by a --map of another column.
	tgtName := func(s string) string {
		if t, ok := mapped[s]; ok {
			return t
		}
		if _, taken := reverse[s]; taken {
			return ""
		}
		return s
	}

	// Normalisers may change a column's type: the plan is made with the
	// types they give, and the stored values are encoded with the stored
	// types.
	stored := [2]map[string]arrow.Field{srcField, tgtField}
	if len(opts.ColumnRules) > 0 {
		stored = [2]map[string]arrow.Field{maps.Clone(srcField), maps.Clone(tgtField)}
	}
	problems = append(problems, normaliseFields(srcField, tgtField, tgtName, opts)...)

	key := opts.Key
	if len(key) == 0 {
		key = src.PrimaryKey
	}
	if len(key) == 0 {
		problems = append(problems, fmt.Errorf("no key: %s declares no primary key; pass --key with one or more of its columns (%s)",
			src.Name, list(columnNames(src.Schema))))
	}
	isKey := map[string]bool{}
	for _, k := range key {
		if isKey[k] {
			problems = append(problems, fmt.Errorf("--key: column %q is listed twice", k))
		}
		isKey[k] = true
		if _, ok := srcField[k]; !ok {
			problems = append(problems, fmt.Errorf("key column %q is not in source %s (columns: %s): %w",
				k, src.Name, list(columnNames(src.Schema)), connectors.ErrColumnNotFound))
		} else if _, ok := tgtField[tgtName(k)]; !ok {
			problems = append(problems, fmt.Errorf("key column %q is not in target %s (columns: %s); use --map %s=TARGET_COLUMN if it is named differently: %w",
				tgtName(k), tgt.Name, list(columnNames(tgt.Schema)), k, connectors.ErrColumnNotFound))
		}
	}

	restrict := map[string]bool{}
	for _, c := range opts.Columns {
		if _, ok := srcField[c]; !ok {
			problems = append(problems, fmt.Errorf("--columns: no column %q in source %s (columns: %s): %w",
				c, src.Name, list(columnNames(src.Schema)), connectors.ErrColumnNotFound))
		}
		restrict[c] = true
	}
	ignored := map[string]bool{}
	for _, c := range opts.Ignore {
		_, inSrc := srcField[c]
		_, inTgt := tgtField[c]
		if !inSrc && !inTgt {
			problems = append(problems, fmt.Errorf("--ignore: no column %q on either side: %w", c, connectors.ErrColumnNotFound))
		}
		if isKey[c] {
			problems = append(problems, fmt.Errorf("--ignore: %q is a key column and cannot be ignored", c))
		}
		ignored[c] = true
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	wanted := func(s string) bool {
		if isKey[s] {
			return true
		}
		if ignored[s] || ignored[tgtName(s)] {
			return false
		}
		return len(restrict) == 0 || restrict[s]
	}

	p := &plan{key: key, inFlight: -1}
	for _, f := range src.Schema.Fields() {
		if !wanted(f.Name) {
			continue
		}
		f = srcField[f.Name]
		tf, ok := tgtField[tgtName(f.Name)]
		if !ok {
			p.schema.OnlyInSource = append(p.schema.OnlyInSource, f.Name)
			continue
		}
		sc, tc := classOf(f), classOf(tf)
		sAs, tAs, comparable := pairPlan(sc, tc)
		if sc != tc && sc != classNull && tc != classNull {
			p.schema.TypeMismatch = append(p.schema.TypeMismatch, TypeMismatch{
				Column: f.Name, SourceType: typeName(f), TargetType: typeName(tf), Compared: comparable,
			})
		}
		if !comparable {
			if isKey[f.Name] {
				return nil, fmt.Errorf("key column %q has incompatible types: %s in source, %s in target", f.Name, typeName(f), typeName(tf))
			}
			continue
		}
		p.pairs = append(p.pairs, colPair{
			src: f.Name, tgt: tf.Name, isKey: isKey[f.Name], order: len(p.pairs),
			srcEnc: newColumnEncoder(f, sc, sAs),
			tgtEnc: newColumnEncoder(tf, tc, tAs),
		})
	}
	pairedTargets := map[string]bool{}
	for _, f := range src.Schema.Fields() {
		pairedTargets[tgtName(f.Name)] = true
	}
	for _, f := range tgt.Schema.Fields() {
		if pairedTargets[f.Name] || ignored[f.Name] || len(restrict) > 0 {
			continue
		}
		p.schema.OnlyInTarget = append(p.schema.OnlyInTarget, f.Name)
	}
	sort.Slice(p.pairs, func(i, j int) bool { return p.pairs[i].src < p.pairs[j].src })
	for i := range p.pairs {
		p.pairs[i].srcIdx = i
		p.pairs[i].tgtIdx = i
		p.srcColumns = append(p.srcColumns, p.pairs[i].src)
		p.tgtColumns = append(p.tgtColumns, p.pairs[i].tgt)
	}
	p.display = make([]int, len(p.pairs))
	for i, c := range p.pairs {
		p.display[c.order] = i
	}
	for _, k := range key {
		for i := range p.pairs {
			if p.pairs[i].src == k {
				p.keyPairs = append(p.keyPairs, i)
			}
		}
	}
	if err := planRules(p, srcField, tgtField, stored, tgtName, opts); err != nil {
		return nil, err
	}
	return p, nil
}
