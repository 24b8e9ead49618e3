package reconcile

import (
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Declared rules: normalisers and tolerances per column, context columns
// and in-flight rows. The engine only applies them; the rules package
// declares them.
//
// Normalisers run where batches enter the engine (a reader wrapped around
// each side's reads), so every algorithm sees the normalised columns: the
// schema comparison and type checks see the types the normalisers give,
// the checksums are of the normalised values and reports show them. The
// reader also appends each normalised column's stored array after the
// projection's columns; rows carry those cells (the plan's raws) through
// every algorithm, spill files included, uncompared and unhashed, so
// that a change can hand over what each side stores (Change.SourceRaw,
// TargetRaw) for a fix to write and guard on. Without normalisers there
// are none and nothing is added.
// Tolerances are consulted only for the cells of a row whose digests
// differ, so rows that match exactly cost nothing more. Neither can run
// inside a database, so they force the comparison after fetching: bisect
// is refused and auto streams, saying why in the plan note.

// ColumnRule is what a column declares besides being compared.
type ColumnRule struct {
	// Normalize maps each batch's column, on both sides, to the array that
	// is hashed, compared and reported. It returns an array the engine
	// owns one reference to and releases (a new array, or arr after
	// arr.Retain()); it may be of another type, the same for every batch,
	// which the engine finds by normalising an empty array before reading.
	// An error fails the run, naming the column and the side. It is called
	// from the goroutine reading that side, both sides at once.
	Normalize func(arr arrow.Array, mem memory.Allocator) (arrow.Array, error)
	// Equal decides whether two values that differ canonically are equal
	// all the same (a tolerance). It is consulted only for cells whose
	// digests differ, from one goroutine, and must not keep the values.
	// Key columns match exactly and take no tolerance.
	Equal func(src, tgt Value) bool
	// Describe says what the rule does, for the report's plan (e.g.
	// "email: trim, lower").
	Describe string
}

// InFlightRule holds back rows that may still be being copied (the kind
// of change they become is InFlight).
type InFlightRule struct {
	// Column is a timestamp or date column (source name; the target's is
	// the one Options.Map pairs with it, or its namesake), read on both
	// sides whether or not it is compared.
	Column string
	// After: a row that would be Missing, Extra or Changed whose Column,
	// on a side the row is on, is later than After is InFlight instead.
	// NULL is never in flight.
	After time.Time
	// Until, when set, bounds the window: a time later than Until (a
	// clock skewed into the future, a 9999-12-31 placeholder) is drift,
	// not in flight, or a row could hide as in flight forever.
	Until time.Time
}

// normCol is one normalised column of a side's read projection.
type normCol struct {
	idx  int // column index in the projection
	name string
	typ  arrow.DataType // the type the normaliser gives
	fn   func(arrow.Array, memory.Allocator) (arrow.Array, error)
}

// normaliseFields replaces, in the field maps, the type of every column
// with a normaliser by the type the normaliser gives, found by normalising
// an empty array of the column's type.
func normaliseFields(srcField, tgtField map[string]arrow.Field, tgtName func(string) string, opts *Options) []error {
	if len(opts.ColumnRules) == 0 {
		return nil
	}
	mem := opts.Allocator
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	var problems []error
	for _, name := range sortedRuleNames(opts.ColumnRules) {
		r := opts.ColumnRules[name]
		f, ok := srcField[name]
		if !ok {
			problems = append(problems, fmt.Errorf("column rule %q: no such column in the source", name))
			continue
		}
		if r.Normalize == nil {
			continue
		}
		nf, err := normalisedField(f, r.Normalize, mem)
		if err != nil {
			problems = append(problems, fmt.Errorf("normalize column %s (source): %w", name, err))
		}
		srcField[name] = nf
		t := tgtName(name)
		if tf, ok := tgtField[t]; ok && t != "" {
			nf, err := normalisedField(tf, r.Normalize, mem)
			if err != nil {
				problems = append(problems, fmt.Errorf("normalize column %s (target %s): %w", name, t, err))
			}
			tgtField[t] = nf
		}
	}
	return problems
}

func sortedRuleNames(rules map[string]ColumnRule) []string {
	names := make([]string, 0, len(rules))
	for n := range rules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// normalisedField is f with the type fn gives. Metadata describing the
// storage (a logical type, an invalid-value marker) is kept only when the
// type is unchanged.
func normalisedField(f arrow.Field, fn func(arrow.Array, memory.Allocator) (arrow.Array, error), mem memory.Allocator) (nf arrow.Field, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s column: %v", f.Type, r)
		}
	}()
	b := array.NewBuilder(mem, f.Type)
	empty := b.NewArray()
	b.Release()
	defer empty.Release()
	out, err := fn(empty, mem)
	if err != nil {
		return f, err
	}
	if out == nil {
		return f, errors.New("the normaliser returned no array")
	}
	defer out.Release()
	if out.Len() != 0 {
		return f, fmt.Errorf("the normaliser turned an empty array into %d values", out.Len())
	}
	nf = f
	if !arrow.TypeEqual(f.Type, out.DataType()) {
		nf.Type = out.DataType()
		nf.Metadata = arrow.Metadata{}
	}
	return nf, nil
}

// planRules resolves the declared rules against the plan: the normalisers
// of each projection (with the stored values they keep, as raws), the
// tolerances, and the Context and InFlight columns, read as extras when
// they are not compared. stored holds the source's and the target's
// fields with their stored types. All problems are reported at once.
func planRules(p *plan, srcField, tgtField map[string]arrow.Field, stored [2]map[string]arrow.Field, tgtName func(string) string, opts *Options) error {
	var problems []error
	isKey := make(map[int]bool, len(p.keyPairs))
	for _, k := range p.keyPairs {
		isKey[k] = true
	}
	// rowIndex finds or adds a column to read on both sides.
	rowIndex := func(what, name string) int {
		for i, c := range p.pairs {
			if c.src == name {
				return i
			}
		}
		for i, c := range p.extras {
			if c.src == name {
				return len(p.pairs) + i
			}
		}
		sf, ok := srcField[name]
		if !ok {
			problems = append(problems, fmt.Errorf("%s column %q is not in the source", what, name))
			return -1
		}
		t := tgtName(name)
		tf, ok := tgtField[t]
		if !ok || t == "" {
			problems = append(problems, fmt.Errorf("%s column %q is not in the target (use a column map if it is named differently there)", what, t))
			return -1
		}
		sc, tc := classOf(sf), classOf(tf)
		p.extras = append(p.extras, colPair{src: sf.Name, tgt: tf.Name,
			srcEnc: newColumnEncoder(sf, sc, sc), tgtEnc: newColumnEncoder(tf, tc, tc)})
		p.srcColumns = append(p.srcColumns, sf.Name)
		p.tgtColumns = append(p.tgtColumns, tf.Name)
		return len(p.pairs) + len(p.extras) - 1
	}
	for _, name := range opts.Context {
		if i := rowIndex("context", name); i >= 0 {
			p.context = append(p.context, i)
			p.contextNames = append(p.contextNames, name)
		}
	}
	if f := opts.InFlight; f != nil {
		if f.After.IsZero() {
			problems = append(problems, fmt.Errorf("in-flight column %q: no time given after which rows are in flight", f.Column))
		}
		if i := rowIndex("in-flight", f.Column); i >= 0 {
			p.inFlight, p.inFlightAfter, p.inFlightUntil = i, f.After, f.Until
			if !f.Until.IsZero() && !f.Until.After(f.After) {
				problems = append(problems, fmt.Errorf("in-flight column %q: the window ends (%s) before it starts (%s)", f.Column, f.Until.UTC().Format(time.RFC3339), f.After.UTC().Format(time.RFC3339)))
			}
			for _, side := range []struct {
				name string
				c    string
				f    arrow.Field
			}{{"source", p.srcColumns[i], srcField[p.srcColumns[i]]}, {"target", p.tgtColumns[i], tgtField[p.tgtColumns[i]]}} {
				if c := classOf(side.f); c != classTimestamp && c != classDate {
					problems = append(problems, fmt.Errorf("in-flight column %q is %s in the %s; it must be a timestamp, timestamptz or date", side.c, typeName(side.f), side.name))
				}
			}
			p.rules = append(p.rules, fmt.Sprintf("in flight: %s after %s", f.Column, f.After.UTC().Format(time.RFC3339Nano)))
		}
	}
	p.drift = make([]int, len(p.pairs))
	j := 0
	for i := range p.pairs {
		p.drift[i] = -1
		if !isKey[i] {
			p.drift[i] = j
			j++
		}
	}
	var descr []string
	for _, name := range sortedRuleNames(opts.ColumnRules) {
		r := opts.ColumnRules[name]
		idx := -1
		for i, c := range p.srcColumns {
			if c == name {
				idx = i
			}
		}
		if idx < 0 {
			continue // not read: left out of the comparison
		}
		applied := false
		if r.Normalize != nil {
			applied = true
			p.srcNorm = append(p.srcNorm, normCol{idx: idx, name: name, typ: srcField[name].Type, fn: r.Normalize})
			p.tgtNorm = append(p.tgtNorm, normCol{idx: idx, name: name, typ: tgtField[p.tgtColumns[idx]].Type, fn: r.Normalize})
			sf, tf := stored[0][name], stored[1][p.tgtColumns[idx]]
			sc, tc := classOf(sf), classOf(tf)
			p.raws = append(p.raws, rawCol{name: name, srcEnc: newColumnEncoder(sf, sc, sc), tgtEnc: newColumnEncoder(tf, tc, tc)})
			if idx < len(p.pairs) && isKey[idx] {
				p.keyNormalised = true
			}
		}
		if r.Equal != nil && idx < len(p.pairs) {
			if isKey[idx] {
				problems = append(problems, fmt.Errorf("column rule %q: a key column matches exactly and takes no tolerance", name))
			} else {
				applied = true
				if p.equal == nil {
					p.equal = make([]func(Value, Value) bool, len(p.pairs))
				}
				p.equal[idx] = r.Equal
			}
		}
		if applied {
			d := r.Describe
			if d == "" {
				d = name + ": declared rule"
			}
			descr = append(descr, d)
		}
	}
	p.rules = append(descr, p.rules...)
	return errors.Join(problems...)
}

// normReader wraps a side's reader and hands out its batches with the
// normalised columns in place of the stored ones, and the stored ones
// (the raws) appended after the projection's columns, in cols order.
type normReader struct {
	refs atomic.Int64
	r    array.RecordReader
	side Side
	cols []normCol
	mem  memory.Allocator
	rec  arrow.Record
	err  error
}

// normalising wraps r when the side has normalisers; r's reference moves
// to the result.
func normalising(r array.RecordReader, side Side, cols []normCol, mem memory.Allocator) array.RecordReader {
	if len(cols) == 0 {
		return r
	}
	n := &normReader{r: r, side: side, cols: cols, mem: mem}
	n.refs.Store(1)
	return n
}

func (n *normReader) Retain() { n.refs.Add(1) }

func (n *normReader) Release() {
	if n.refs.Add(-1) == 0 {
		if n.rec != nil {
			n.rec.Release()
			n.rec = nil
		}
		n.r.Release()
	}
}

func (n *normReader) Schema() *arrow.Schema {
	if n.rec != nil {
		return n.rec.Schema()
	}
	return n.r.Schema()
}

func (n *normReader) Record() arrow.Record { return n.rec }

func (n *normReader) Err() error {
	if n.err != nil {
		return n.err
	}
	return n.r.Err()
}

func (n *normReader) Next() bool {
	if n.rec != nil {
		n.rec.Release()
		n.rec = nil
	}
	if n.err != nil || !n.r.Next() {
		return false
	}
	rec, err := n.normalise(n.r.Record())
	if err != nil {
		n.err = err
		return false
	}
	n.rec = rec
	return true
}

func (n *normReader) normalise(in arrow.Record) (out arrow.Record, err error) {
	nc := int(in.NumCols())
	cols := make([]arrow.Array, nc, nc+len(n.cols))
	for i := range cols {
		cols[i] = in.Column(i)
	}
	fields := make([]arrow.Field, nc, nc+len(n.cols))
	copy(fields, in.Schema().Fields())
	var made []arrow.Array
	defer func() {
		for _, a := range made {
			a.Release()
		}
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("normalize %s: %v", n.side, r)
		}
	}()
	for _, c := range n.cols {
		if c.idx >= len(cols) {
			return nil, fmt.Errorf("normalize column %s (%s): the batch has %d columns", c.name, n.side, len(cols))
		}
		a, err := c.fn(cols[c.idx], n.mem)
		if err != nil {
			return nil, fmt.Errorf("normalize column %s (%s): %w", c.name, n.side, err)
		}
		if a == nil {
			return nil, fmt.Errorf("normalize column %s (%s): the normaliser returned no array", c.name, n.side)
		}
		made = append(made, a)
		if a.Len() != int(in.NumRows()) {
			return nil, fmt.Errorf("normalize column %s (%s): %d values for a batch of %d rows", c.name, n.side, a.Len(), in.NumRows())
		}
		if !arrow.TypeEqual(a.DataType(), c.typ) {
			return nil, fmt.Errorf("normalize column %s (%s): gave %s, but %s for an empty column", c.name, n.side, a.DataType(), c.typ)
		}
		cols[c.idx] = a
		fields[c.idx].Type = a.DataType()
	}
	// The stored values, for fixes to write and guard on.
	for _, c := range n.cols {
		cols = append(cols, in.Column(c.idx))
		fields = append(fields, in.Schema().Field(c.idx))
	}
	return array.NewRecord(arrow.NewSchema(fields, nil), cols, in.NumRows()), nil
}

// nthCell returns cell i of a row encoding.
func nthCell(row []byte, i int) (Value, error) {
	for ; ; i-- {
		n := cellLen(row)
		if n < 0 {
			return nil, errors.New("decode row: corrupt row encoding")
		}
		if i == 0 {
			return Value(row[:n:n]), nil
		}
		row = row[n:]
	}
}

// inFlightAt reports whether a row's in-flight cell is later than the
// rule's time.
func (p *plan) inFlightAt(row []byte) (bool, error) {
	if row == nil {
		return false, nil
	}
	v, err := nthCell(row, p.inFlight)
	if err != nil {
		return false, err
	}
	t, ok := v.Timestamp()
	if !ok {
		t, ok = v.Date()
	}
	if !ok {
		return false, nil
	}
	return t.After(p.inFlightAfter) && (p.inFlightUntil.IsZero() || !t.After(p.inFlightUntil)), nil
}

// account applies the declared rules to a change, then counts it: a
// Changed row whose differing cells are all within their tolerances is
// matched (and reported false, not to be listed); a Missing, Extra or
// Changed row recent enough becomes InFlight. Without rules it only counts.
func (e *emitter) account(pc *pendingChange) (bool, error) {
	p := e.p
	if p.equal != nil && pc.kind == Changed {
		if pc.src == nil || pc.tgt == nil {
			return false, errors.New("classify change: row values missing")
		}
		var err error
		if e.scratchS, err = SplitCells(pc.src, e.scratchS[:0]); err != nil {
			return false, err
		}
		if e.scratchT, err = SplitCells(pc.tgt, e.scratchT[:0]); err != nil {
			return false, err
		}
		if len(e.scratchS) != p.rowCols() || len(e.scratchT) != p.rowCols() {
			return false, errors.New("classify change: corrupt row encoding")
		}
		keep := pc.cols[:0:0]
		for _, c := range pc.cols {
			ok, err := tolerated(p.equal[c], p.pairs[c].src, e.scratchS[c], e.scratchT[c])
			if err != nil {
				return false, err
			}
			if ok {
				if d := p.drift[c]; d >= 0 {
					e.res.Columns[d].Tolerated++
				}
				continue
			}
			keep = append(keep, c)
		}
		if len(keep) == 0 {
			e.res.Summary.Matched++
			e.res.Summary.Tolerated++
			return false, nil
		}
		pc.cols = keep
	}
	if p.inFlight >= 0 && (pc.kind == Missing || pc.kind == Extra || pc.kind == Changed) {
		s, err := p.inFlightAt(pc.src)
		if err != nil {
			return false, err
		}
		t, err := p.inFlightAt(pc.tgt)
		if err != nil {
			return false, err
		}
		if s || t {
			pc.was, pc.kind = pc.kind, InFlight
		}
	}
	e.count(pc)
	return true, nil
}

// tolerated calls a column's tolerance, if it has one; a tolerance that
// panics fails the run rather than the process.
func tolerated(eq func(src, tgt Value) bool, col string, s, t Value) (ok bool, err error) {
	if eq == nil {
		return false, nil
	}
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("compare column %s within its tolerance: %v", col, r)
		}
	}()
	return eq(s, t), nil
}
