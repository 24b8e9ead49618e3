package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/arrowpool"
	"github.com/reconhq/reconcile/internal/colselect"
	"github.com/reconhq/reconcile/internal/recordstream"
)

// Read streams the table (in primary key order when it has one, so that a
// lost connection can resume) as record batches. The caller owns the
// reader and must Release it.
func (s *Source) Read(ctx context.Context, ref connectors.TableRef, opts connectors.ReadOptions) (array.RecordReader, error) {
	if opts.Ranges != nil {
		return nil, fmt.Errorf("read %s: key ranges restrict an ordered read only (ReadOrdered with its key): %w", refName(ref), connectors.ErrUnsupported)
	}
	return s.read(ctx, ref, nil, opts)
}

// ReadOrdered streams the rows sorted by key in the engine's key order
// (see the package documentation). With opts.Ranges not nil it streams
// only the rows whose key lies in one of the ranges (none with a NULL in
// the key, none at all for an empty slice), in one statement.
func (s *Source) ReadOrdered(ctx context.Context, ref connectors.TableRef, key []string, opts connectors.ReadOptions) (array.RecordReader, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("read %s: an ordered read needs at least one key column: %w", refName(ref), connectors.ErrUnsupported)
	}
	return s.read(ctx, ref, key, opts)
}

// batchPoolLimit bounds the free buffers a scan's pool keeps: a few
// batches' worth.
const batchPoolLimit = 16 << 20

// newBatchPool returns the allocator of a scan's record batches (a
// variable so that a test can count the pools made).
var newBatchPool = func() memory.Allocator { return arrowpool.New(batchPoolLimit) }

func (s *Source) read(ctx context.Context, ref connectors.TableRef, key []string, opts connectors.ReadOptions) (array.RecordReader, error) {
	name := refName(ref)
	p, err := s.plan(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	names := make([]string, len(p.cols))
	for i := range p.cols {
		names[i] = p.cols[i].name
	}
	out, keys, err := colselect.Resolve(colselect.Table{
		Name: name, Columns: names,
		Unordered: func(i int) (string, string) { return p.cols[i].typeName, p.cols[i].unordered },
	}, opts.Columns, key)
	if err != nil {
		return nil, err
	}
	if key == nil {
		// Read in primary key order when the key can be ordered: the read
		// can then resume after a lost connection.
		for _, k := range p.info.PrimaryKey {
			i := p.column(k)
			if i < 0 || p.cols[i].unordered != "" {
				keys = nil
				break
			}
			keys = append(keys, i)
		}
	}
	// A key that may repeat is completed by the table's tie-breakers, so
	// that equal keys come in one order and a resume is exact; without
	// them (views, foreign tables, queries) a resume is exact only when
	// the rows of the last key handed on were all handed on.
	unique := len(keys) > 0 && p.uniqueKey(keys)
	if len(keys) > 0 && !unique && len(p.ties) > 0 {
		keys = append(keys, p.tieBreakers()...)
		unique = true
	}
	var filter string
	if opts.Ranges != nil {
		cols, err := p.rangeKey(key)
		if err == nil {
			filter, err = rangesPredicate(cols, opts.Ranges)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: key ranges: %w", name, err)
		}
	}
	if err := s.usable(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}

	mem := opts.Allocator
	if mem == nil {
		mem = s.opts.Allocator
	}
	if arrowpool.Replaces(mem) {
		mem = newBatchPool()
	}
	batch := opts.BatchRows
	if batch <= 0 {
		batch = DefaultBatchRows
	}
	fields := make([]arrow.Field, len(out))
	for i, c := range out {
		fields[i] = p.cols[c].field
	}
	if opts.Ranges != nil && len(opts.Ranges) == 0 {
		// No range, no row: nothing to ask the server.
		rr, err := array.NewRecordReader(arrow.NewSchema(fields, nil), nil)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return rr, nil
	}
	sc := &scan{
		s:      s,
		plan:   p,
		name:   name,
		schema: arrow.NewSchema(fields, nil),
		keys:   keys,
		filter: filter,
		out:    make(chan arrow.Record, 1),
		done:   make(chan struct{}),
	}
	// The COPY reads the output columns, then key columns not among them.
	sc.fields = append(sc.fields, out...)
	var keyPos []int
	for _, k := range keys {
		pos := slices.Index(sc.fields, k)
		if pos < 0 {
			pos = len(sc.fields)
			sc.fields = append(sc.fields, k)
		}
		keyPos = append(keyPos, pos)
	}
	dec := newDecoder(mem, p, sc.fields, len(out), keyPos, unique, batch)
	dec.emit = sc.emit
	sc.dec = dec
	sctx, cancel := context.WithCancel(ctx)
	r := recordstream.NewReader(ctx, cancel, recordstream.Producer{
		Name: sc.name, Schema: sc.schema, Out: sc.out, Done: sc.done,
		Err: func() error { return sc.err },
	})
	go sc.run(sctx)
	return r, nil
}

// scan is the goroutine side of a read: it runs the COPY, retrying after
// lost connections, and hands batches to the reader through out.
type scan struct {
	s      *Source
	plan   *tablePlan
	name   string
	schema *arrow.Schema
	fields []int  // plan columns in COPY order: the output, then extra key columns and tie-breakers
	keys   []int  // plan columns of the key, in order, tie-breakers last; nil for an unordered read
	filter string // the key range's predicate; "" for none
	dec    *copyDecoder

	out  chan arrow.Record
	done chan struct{}
	err  error // set before out and done close

	ctx      context.Context
	lost     error    // the last lost connection
	handed   keyState // the key of the last row handed on
	rows     int64    // rows handed on
	progress bool     // a batch was handed on during this attempt
}

func (sc *scan) run(ctx context.Context) {
	sc.ctx = ctx
	err := sc.loop(ctx)
	sc.dec.release()
	sc.err = err
	close(sc.out)
	close(sc.done)
}

func (sc *scan) loop(ctx context.Context) error {
	conf := sc.s.conf
	failures := 0
	for {
		sc.progress = false
		err := sc.attempt(ctx, failures > 0)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("read %s: %w", sc.name, ctx.Err())
		}
		if errors.Is(err, ErrSnapshotLost) {
			return fmt.Errorf("read %s: %s: %w", sc.name, sc.unread(), err)
		}
		if errors.Is(err, errRunCut) {
			return fmt.Errorf("read %s: the connection was lost (%v) inside a run of rows with equal keys, and a view, foreign table or query has no row identity to resume such a run exactly; %s: %w",
				sc.name, sc.lost, sc.unread(), connectors.ErrUnsupported)
		}
		if !connectionLost(err) {
			return fmt.Errorf("read %s: %w", sc.name, err)
		}
		if len(sc.keys) == 0 && sc.rows > 0 {
			return fmt.Errorf("read %s: the connection was lost after %d rows of a read in no particular order (no primary key and no key given), which cannot resume: %w",
				sc.name, sc.rows, err)
		}
		sc.lost = err
		if sc.progress {
			failures = 0
		}
		failures++
		if failures >= conf.Attempts {
			return fmt.Errorf("read %s: the connection was lost, and %d attempt(s) in a row failed; %s: %w", sc.name, failures, sc.unread(), err)
		}
		if sc.s.onRetry != nil {
			sc.s.onRetry(err)
		}
		if err := sleep(ctx, conf.backoff(failures)); err != nil {
			return fmt.Errorf("read %s: %w", sc.name, err)
		}
	}
}

// unread describes the rows not read, for an error.
func (sc *scan) unread() string {
	if !sc.handed.set {
		if sc.rows > 0 {
			return fmt.Sprintf("%d rows were read, in no particular order", sc.rows)
		}
		return "no rows were read"
	}
	var names, vals []string
	for i, k := range sc.keys {
		if k >= len(sc.plan.cols) {
			break // a tie-breaker
		}
		c := sc.plan.col(k)
		names = append(names, c.name)
		if sc.handed.null[i] {
			vals = append(vals, "NULL")
			continue
		}
		lit, err := c.literal(sc.handed.vals[i])
		if err != nil {
			lit = "?"
		}
		lit = strings.TrimSuffix(lit, "::"+c.baseName)
		if len(lit) > 80 {
			lit = lit[:77] + "..."
		}
		vals = append(vals, lit)
	}
	return fmt.Sprintf("the rows after key (%s) = (%s) were not read", strings.Join(names, ", "), strings.Join(vals, ", "))
}

// attempt runs the COPY once on a connection inside the snapshot,
// resuming after the last key handed on.
func (sc *scan) attempt(ctx context.Context, fresh bool) error {
	resume := ""
	if sc.handed.set {
		var err error
		if resume, err = sc.resumePredicate(); err != nil {
			return err
		}
	}
	l, err := sc.s.acquire(ctx, fresh)
	if err != nil {
		return err
	}
	actx, abort := context.WithCancel(ctx)
	defer abort()
	sc.dec.abort = abort
	sc.dec.reset(&sc.handed)
	sql := "COPY (" + sc.plan.selectSQL(sc.fields, sc.keys, andSQL(sc.filter, resume)) + ") TO STDOUT (FORMAT binary)"
	err = copyOut(actx, l.conn.PgConn(), sql, sc.dec)
	if sc.dec.err != nil {
		// The decoder's own failure (or the reader's stop) caused the
		// cancellation the server reports.
		err = sc.dec.err
	} else if err == nil {
		err = sc.dec.finish()
	}
	l.release(err == nil)
	if err != nil {
		return err
	}
	if sc.dec.rows > 0 {
		return sc.emit()
	}
	return nil
}

// resumePredicate selects the rows at or after the last key handed on, in
// the order of the read (NULLs last); the decoder skips the rows of that
// key already handed on.
func (sc *scan) resumePredicate() (string, error) {
	cols := make([]*colPlan, len(sc.keys))
	lits := make([]string, len(sc.keys))
	simple := true
	for i, k := range sc.keys {
		cols[i] = sc.plan.col(k)
		if sc.handed.null[i] {
			simple = false
			continue
		}
		lit, err := cols[i].literal(sc.handed.vals[i])
		if err != nil {
			return "", err
		}
		lits[i] = lit
		if !cols[i].notNull {
			simple = false
		}
	}
	if simple {
		// No NULLs possible: a row comparison, which an index can serve.
		if len(cols) == 1 {
			return cols[0].orderExpr() + " >= " + lits[0], nil
		}
		exprs := make([]string, len(cols))
		for i, c := range cols {
			exprs[i] = c.orderExpr()
		}
		return "(" + strings.Join(exprs, ", ") + ") >= (" + strings.Join(lits, ", ") + ")", nil
	}
	// Lexicographic with NULLs last: for each column, the rows equal on
	// the columns before it and after it on this one; then the rows equal
	// on all of them.
	var terms, eq []string
	for i, c := range cols {
		e := c.orderExpr()
		if sc.handed.null[i] {
			// Nothing sorts after NULL in this column.
			eq = append(eq, e+" IS NULL")
			continue
		}
		gt := e + " > " + lits[i]
		if !c.notNull {
			gt = "(" + gt + " OR " + e + " IS NULL)"
		}
		terms = append(terms, strings.Join(append(append([]string(nil), eq...), gt), " AND "))
		eq = append(eq, e+" IS NOT DISTINCT FROM "+lits[i])
	}
	terms = append(terms, strings.Join(eq, " AND "))
	return "((" + strings.Join(terms, ") OR (") + "))", nil
}

// emit hands the builders' rows to the reader as one record.
func (sc *scan) emit() error {
	d := sc.dec
	rows := d.rows
	// Key-only fields hold no builder; their rows go with the batch.
	cols := d.arrays(sc.schema.NumFields())
	rec := array.NewRecord(sc.schema, cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	select {
	case sc.out <- rec:
		sc.rows += int64(rows)
		sc.handed.copyFrom(&d.cur)
		sc.progress = true
		return nil
	case <-sc.ctx.Done():
		rec.Release()
		return sc.ctx.Err()
	}
}

// andSQL joins predicates with AND, each in parentheses; empty ones are
// left out.
func andSQL(preds ...string) string {
	var parts []string
	for _, p := range preds {
		if p != "" {
			parts = append(parts, "("+p+")")
		}
	}
	return strings.Join(parts, " AND ")
}
