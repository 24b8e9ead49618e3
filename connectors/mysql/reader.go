package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/arrowpool"
	"github.com/reconhq/reconcile/internal/colselect"
	"github.com/reconhq/reconcile/internal/recordstream"
)

// Read streams the table (in primary key order when it has one, so that a
// lost connection can resume) as record batches. The caller owns the
// reader and must Release it. The read runs on the Source's one
// connection: it starts once the reader before it has ended.
func (s *Source) Read(ctx context.Context, ref connectors.TableRef, opts connectors.ReadOptions) (array.RecordReader, error) {
	return s.read(ctx, ref, nil, opts)
}

// ReadOrdered streams the rows sorted by key in the engine's key order
// (see the package documentation).
func (s *Source) ReadOrdered(ctx context.Context, ref connectors.TableRef, key []string, opts connectors.ReadOptions) (array.RecordReader, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("read %s: an ordered read needs at least one key column: %w", refName(ref), connectors.ErrUnsupported)
	}
	return s.read(ctx, ref, key, opts)
}

// batchPoolLimit bounds the free buffers a scan's pool keeps: a few
// batches' worth.
const batchPoolLimit = 16 << 20

func (s *Source) read(ctx context.Context, ref connectors.TableRef, key []string, opts connectors.ReadOptions) (array.RecordReader, error) {
	name := refName(ref)
	p, err := s.plan(ctx, ref)
	if err != nil {
		return nil, err // "describe <name>: ..."
	}
	names := make([]string, len(p.cols))
	for i := range p.cols {
		names[i] = p.cols[i].name
	}
	var ranges string
	if opts.Ranges != nil {
		if len(key) == 0 {
			return nil, fmt.Errorf("read %s: key ranges need an ordered read: %w", name, connectors.ErrUnsupported)
		}
		kcols, err := p.rangeKey(key)
		if err == nil {
			ranges, err = rangesPredicate(kcols, opts.Ranges)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	out, keys, err := colselect.Resolve(colselect.Table{
		Name: name, Columns: names,
		Unordered: func(i int) (string, string) { return p.cols[i].typeName, p.cols[i].unordered },
	}, opts.Columns, key)
	if err != nil {
		return nil, err
	}
	// Read in primary key order when no key is given, and break ties of a
	// given key by the primary key: the order then names every row, and a
	// read resumed after a lost connection goes on exactly after the last
	// row handed on. The engine sees rows sorted by its key either way.
	var pk []int
	unique := len(p.info.PrimaryKey) > 0
	for _, k := range p.info.PrimaryKey {
		i := p.column(k)
		if i < 0 || p.cols[i].unordered != "" {
			pk, unique = nil, false
			break
		}
		if !slices.Contains(keys, i) {
			pk = append(pk, i)
		}
	}
	keys = append(keys, pk...)
	mem := opts.Allocator
	if mem == nil {
		mem = s.opts.Allocator
	}
	if arrowpool.Replaces(mem) {
		mem = arrowpool.New(batchPoolLimit)
	}
	batch := opts.BatchRows
	if batch <= 0 {
		batch = DefaultBatchRows
	}
	fields := make([]arrow.Field, len(out))
	for i, c := range out {
		fields[i] = p.cols[c].field
	}
	sc := &scan{
		s:      s,
		plan:   p,
		name:   name,
		schema: arrow.NewSchema(fields, nil),
		keys:   keys,
		ranges: ranges,
		unique: unique,
		nOut:   len(out),
		batch:  batch,
		out:    make(chan arrow.Record, 1),
		done:   make(chan struct{}),
	}
	// The SELECT reads the output columns, then key columns not among them.
	sc.fields = append(sc.fields, out...)
	for _, k := range keys {
		pos := slices.Index(sc.fields, k)
		if pos < 0 {
			pos = len(sc.fields)
			sc.fields = append(sc.fields, k)
		}
		sc.keyPos = append(sc.keyPos, pos)
	}
	sc.textKinds = textKinds(p, sc.fields)
	reserve := min(batch, 1024)
	for _, c := range out {
		d := newColDec(mem, &p.cols[c], reserve)
		sc.decs = append(sc.decs, d)
		if d.str != nil || d.bin != nil {
			sc.vars = append(sc.vars, len(sc.decs)-1)
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	r := recordstream.NewReader(ctx, cancel, recordstream.Producer{
		Name: sc.name, Schema: sc.schema, Out: sc.out, Done: sc.done,
		Err: func() error { return sc.err },
	})
	go sc.run(sctx)
	return r, nil
}

// scan is the goroutine side of a read: it waits for the connection, runs
// the SELECT, retrying after lost connections, and hands batches to the
// reader through out.
type scan struct {
	s      *Source
	plan   *tablePlan
	name   string
	schema *arrow.Schema
	fields []int // plan columns in SELECT order: the output, then extra key columns
	nOut   int
	keys   []int  // plan columns of the key, in order; nil for an unordered read
	ranges string // the predicate of ReadOptions.Ranges ("" for none)
	unique bool   // the keys end with the primary key: no two rows share them
	keyPos []int  // positions in fields of the key columns
	// textKinds: the kinds of fields when textRows can read them, else nil.
	textKinds []kind
	decs      []*colDec
	vars      []int // indexes in decs of the variable-width (text, binary) columns
	batch     int
	rows      int // rows in the builders

	out  chan arrow.Record
	done chan struct{}
	err  error // set before out and done close

	ctx      context.Context
	cur      keyState // the key of the last row appended to the builders
	handed   keyState // the key of the last row handed on
	progress bool     // a batch was handed on during this attempt
}

func (sc *scan) run(ctx context.Context) {
	sc.ctx = ctx
	err := sc.loop(ctx)
	for _, d := range sc.decs {
		d.b.Release()
	}
	sc.err = err
	close(sc.out)
	close(sc.done)
}

func (sc *scan) loop(ctx context.Context) error {
	s := sc.s
	if err := s.take(ctx); err != nil {
		return fmt.Errorf("read %s: %w", sc.name, err)
	}
	defer s.give()
	failures := 0
	for {
		sc.progress = false
		err := sc.attempt(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("read %s: %w", sc.name, ctx.Err())
		}
		err = s.scrub(err)
		if s.isClosed() || errors.Is(err, errClosed) {
			return fmt.Errorf("read %s: %w; %s", sc.name, errClosed, sc.unread())
		}
		if isTimeout(err) {
			return fmt.Errorf("read %s: statement timeout exceeded; %s: %w", sc.name, sc.unread(), err)
		}
		if !connectionLost(err) {
			if sc.handed.set {
				return fmt.Errorf("read %s: %s: %w", sc.name, sc.unread(), err)
			}
			return fmt.Errorf("read %s: %w", sc.name, err)
		}
		if !sc.unique && sc.handed.set && sc.handed.partial {
			return fmt.Errorf("read %s: the connection was lost (%w) after a batch that ended inside a run of rows sharing the key %s; "+
				"without a primary key (a view, a query, a table without one) equal keys come back in no fixed order, so the rest of the run "+
				"cannot be told from the rows already handed on: %w",
				sc.name, err, describeKey(sc.plan, sc.keys, &sc.handed), connectors.ErrUnsupported)
		}
		if col, n := sc.longKey(); n > 0 {
			return fmt.Errorf("read %s: the connection was lost (%w) after a batch ending at key %s, whose %s value is %d bytes long; "+
				"the server orders text and binary values by about their first %d bytes only (max_sort_length = %d), so keys sharing those "+
				"come back in no fixed order and the read cannot resume exactly after this one; run the diff again, or key it on a shorter column: %w",
				sc.name, err, describeKey(sc.plan, sc.keys, &sc.handed), col, n, sortedPrefix, maxSortLength, connectors.ErrUnsupported)
		}
		if len(sc.keys) == 0 {
			return fmt.Errorf("read %s: the connection was lost during a read in no particular order (no primary key and no key given), which cannot resume; %s: %w",
				sc.name, sc.unread(), err)
		}
		if sc.progress {
			failures = 0
		}
		failures++
		if failures >= s.conf.Attempts {
			return fmt.Errorf("read %s: the connection was lost, or could not be opened again, %d times in a row; %s: %w", sc.name, failures, sc.unread(), err)
		}
		if err := sleep(ctx, s.conf.backoff(failures)); err != nil {
			return fmt.Errorf("read %s: %w", sc.name, err)
		}
	}
}

func (s *Source) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// unread describes the rows not read, for an error.
func (sc *scan) unread() string {
	if !sc.handed.set {
		return "no rows were handed on"
	}
	return "the rows after key " + describeKey(sc.plan, sc.keys, &sc.handed) + " were not read"
}

// attempt runs the SELECT once, resuming after the last key handed on.
func (sc *scan) attempt(ctx context.Context) error {
	s := sc.s
	ss, fresh, cause, err := s.ensure(ctx)
	if err != nil {
		return err
	}
	if fresh {
		r := Resume{Table: sc.name, Cause: causeText(s.scrub(cause)), Snapshot: ss.snap}
		if sc.handed.set {
			r.After = describeKey(sc.plan, sc.keys, &sc.handed)
		}
		s.addResume(r)
	}
	// Rows of a batch not handed on are read again.
	for _, d := range sc.decs {
		d.b.NewArray().Release()
	}
	sc.rows = 0
	sc.cur.copyFrom(&sc.handed)
	var resume *resumePoint
	if sc.handed.set {
		if resume, err = sc.resumePoint(); err != nil {
			return err
		}
	}
	sql, args := sc.plan.selectWhere(sc.fields, sc.keys, resume, sc.ranges)
	stop := s.watch(ctx, ss)
	query := ss.query
	if sc.plan.binary {
		query = ss.prepared
	}
	var rows driver.Rows
	var text *textRows
	if s.text && ss.sock != nil && len(args) == 0 && sc.textKinds != nil && len(sql) <= maxTextQuery {
		if text, err = textQuery(ss.ctx, ss.sock, sql, sc.textKinds); err == nil {
			rows = text
			s.textScans.Add(1)
		}
	} else {
		rows, err = query(ss.ctx, sql, args)
	}
	if err == nil {
		// The rows come as fast as the server reads them: take them in
		// large chunks rather than waking for every packet.
		endBulk := ss.sock.Bulk()
		defer endBulk() // also after a panic; a second call does nothing
		err = sc.stream(rows)
		if err != nil && ctx.Err() == nil && !connectionLost(err) {
			// Stop the rest of the statement rather than read it to the end.
			s.killQuery(ss.id)
		}
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		endBulk()
	}
	stop()
	if err == nil && sc.rows > 0 {
		sc.cur.partial = false // the result set ended: so did the run of its last key
		err = sc.emit()
	}
	// textRows closes a socket it cannot read on (the driver does not
	// know): its session goes whatever the caller's context says.
	broken := text != nil && text.broken != nil
	if err != nil && (broken || sessionGone(err) && ctx.Err() == nil) {
		s.drop(ss, err)
	} else if err != nil && ctx.Err() != nil && !ss.usable() {
		s.drop(ss, err)
	}
	return err
}

// usable reports whether the connection survived a stopped statement.
// Once the session's context is cancelled (the last resort to stop a
// statement) the socket is closed or about to be, whoever closed it.
func (ss *session) usable() bool {
	if ss.ctx.Err() != nil {
		return false
	}
	v, ok := ss.conn.(driver.Validator)
	return !ok || v.IsValid()
}

// longKey returns the name and length of a text or binary value of the
// last key handed on longer than sortedPrefix, or n = 0. A resume after
// such a key could skip rows: keys sharing its first sortedPrefix bytes
// come back in no fixed order, so rows after it in the server's order may
// sort before it.
func (sc *scan) longKey() (col string, n int) {
	if !sc.handed.set {
		return "", 0
	}
	for i, k := range sc.keys {
		c, cp := &sc.handed.cells[i], &sc.plan.cols[k]
		if !c.null && (cp.kind == kindText || cp.kind == kindBinary) && len(c.b) > sortedPrefix {
			return cp.name, len(c.b)
		}
	}
	return "", 0
}

func (sc *scan) resumePoint() (*resumePoint, error) {
	r := &resumePoint{null: make([]bool, len(sc.keys)), vals: make([]any, len(sc.keys))}
	for i, k := range sc.keys {
		c := &sc.handed.cells[i]
		if c.null {
			r.null[i] = true
			continue
		}
		v, err := c.param(&sc.plan.cols[k])
		if err != nil {
			return nil, err
		}
		r.vals[i] = v
	}
	return r, nil
}

// Batch limits beyond the row count.
var (
	// batchByteBudget: a batch is cut once its variable-width columns
	// (text, binary) hold this many bytes, so that memory stays at a
	// couple of batches whatever the rows' width.
	batchByteBudget int64 = 64 << 20
	// maxVarBytes is what one variable-width Arrow column of a batch can
	// hold: its offsets are 32-bit.
	maxVarBytes int64 = math.MaxInt32
)

// stream decodes the rows of the result set into the builders, handing on
// a record every batch rows or once the text and binary columns hold
// batchByteBudget bytes. After a resume it first skips the rows of the
// last key already handed on.
//
// Without a unique key (no primary key to break ties) equal keys come in
// no fixed order, so a batch is cut where the key changes: the rows of
// the last key handed on are then all handed on, and a resume goes on
// strictly after it. A run of equal keys longer than two batches is cut
// inside; the batch records that (keyState.partial), and a resume after
// it fails.
func (sc *scan) stream(rows driver.Rows) error {
	dest := make([]driver.Value, len(sc.fields))
	var skip int64
	skipping := sc.handed.set
	if skipping {
		skip = sc.handed.count
	}
	keyed := len(sc.keys) > 0
	runs := keyed && !sc.unique // batches are cut between runs of equal keys
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		same := false
		if keyed {
			if skipping {
				if sc.handed.equal(dest, sc.keyPos) && (runs || skip > 0) {
					skip--
					continue
				}
				skipping = false
			}
			same = sc.cur.equal(dest, sc.keyPos)
		}
		overflow, err := sc.rowFits(dest)
		if err != nil {
			if keyed {
				var k keyState
				k.assign(dest, sc.keyPos)
				return fmt.Errorf("at key %s: %w", describeKey(sc.plan, sc.keys, &k), err)
			}
			return err
		}
		if sc.rows > 0 {
			cut := overflow
			if runs && !cut {
				bytes := sc.varBytes()
				if same {
					cut = sc.rows >= 2*sc.batch || bytes >= 2*batchByteBudget
				} else {
					cut = sc.rows >= sc.batch || bytes >= batchByteBudget
				}
			}
			if cut {
				sc.cur.partial = runs && same
				if err := sc.emit(); err != nil {
					return err
				}
			}
		}
		if keyed {
			if same {
				sc.cur.count++
			} else {
				sc.cur.assign(dest, sc.keyPos)
				sc.cur.partial = false
			}
		}
		for i, d := range sc.decs {
			if err := d.append(dest[i]); err != nil {
				err = valueError(d.cp, dest[i], err)
				if keyed {
					return fmt.Errorf("at key %s: %w", describeKey(sc.plan, sc.keys, &sc.cur), err)
				}
				return err
			}
		}
		sc.rows++
		if !runs && (sc.rows >= sc.batch || sc.varBytes() >= batchByteBudget) {
			if err := sc.emit(); err != nil {
				return err
			}
		}
	}
}

// rowFits checks the row's text and binary values against the 32-bit
// offsets of their Arrow columns: a value that cannot fit even an empty
// batch is an error; overflow says the row needs a new batch.
func (sc *scan) rowFits(dest []driver.Value) (overflow bool, err error) {
	for _, i := range sc.vars {
		b, ok := bytesOf(dest[i])
		if !ok {
			continue
		}
		n := int64(len(b))
		if n > maxVarBytes {
			return false, fmt.Errorf("column %s: a value of %d bytes is larger than an Arrow column can hold (%d bytes): %w",
				sc.decs[i].cp.name, n, maxVarBytes, connectors.ErrBadInput)
		}
		if sc.decs[i].dataLen()+n > maxVarBytes {
			overflow = true
		}
	}
	return overflow, nil
}

// varBytes is the size of the values in the text and binary builders.
func (sc *scan) varBytes() int64 {
	var n int64
	for _, i := range sc.vars {
		n += sc.decs[i].dataLen()
	}
	return n
}

// emit hands the builders' rows to the reader as one record.
func (sc *scan) emit() error {
	cols := make([]arrow.Array, sc.nOut)
	for i, d := range sc.decs {
		cols[i] = d.b.NewArray()
		d.reserve(sc.batch, cols[i])
	}
	rec := array.NewRecord(sc.schema, cols, int64(sc.rows))
	for _, c := range cols {
		c.Release()
	}
	sc.rows = 0
	select {
	case sc.out <- rec:
		sc.handed.copyFrom(&sc.cur)
		sc.progress = true
		return nil
	case <-sc.ctx.Done():
		rec.Release()
		return sc.ctx.Err()
	}
}
