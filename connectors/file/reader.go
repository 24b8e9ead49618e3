package file

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// textReader is the record-reader life cycle the CSV and JSON Lines readers
// share: reference counting, the current record, the error, and closing
// the file once reading stops.
type textReader struct {
	refs     int64
	ctx      context.Context
	rc       io.Closer
	builders []*colBuilder
	schema   *arrow.Schema

	rec  arrow.Record
	err  error
	done bool
}

func (r *textReader) Retain() { atomic.AddInt64(&r.refs, 1) }

func (r *textReader) Release() {
	if atomic.AddInt64(&r.refs, -1) == 0 {
		r.dropRecord()
		r.finish()
	}
}

func (r *textReader) Schema() *arrow.Schema { return r.schema }
func (r *textReader) Record() arrow.Record  { return r.rec }
func (r *textReader) Err() error            { return r.err }

func (r *textReader) dropRecord() {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
}

// finish stops reading and closes the file.
func (r *textReader) finish() {
	r.done = true
	if r.rc != nil {
		r.rc.Close()
		r.rc = nil
	}
}

// fail records err, frees the builders and stops; it returns false for Next.
func (r *textReader) fail(err error) bool {
	r.err = err
	for _, b := range r.builders {
		b.release()
	}
	r.finish()
	return false
}

// begin starts a Next: it drops the previous record and reports whether
// reading may go on.
func (r *textReader) begin() bool {
	r.dropRecord()
	if r.done {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		return r.fail(err)
	}
	return true
}

// emit turns the builders' rows into the current record; it returns false
// when there were none (the end of the input).
func (r *textReader) emit(rows int) bool {
	if rows == 0 {
		return false
	}
	cols := make([]arrow.Array, len(r.builders))
	for k, b := range r.builders {
		cols[k] = b.finish()
	}
	r.rec = array.NewRecord(r.schema, cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	return true
}
