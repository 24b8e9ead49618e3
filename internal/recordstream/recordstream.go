// Package recordstream is the consumer side of a connector read that runs
// on a goroutine of its own: the producer sends Arrow records on a
// channel, and Reader serves them as an array.RecordReader with the
// contract connectors.Source promises (an error is never a short read;
// Release stops the producer and frees what it holds).
package recordstream

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
)

// Producer is what the reading goroutine shares with the Reader. It sends
// records on Out, closes Out when it stops, sets its error (nil for a
// complete read) and then closes Done. Out may stay open after a
// cancellation as long as the producer closes it once it has stopped.
type Producer struct {
	// Name is how errors name what is read (a table).
	Name   string
	Schema *arrow.Schema
	Out    <-chan arrow.Record
	Done   <-chan struct{}
	// Err returns the producer's error; it is called only after Done is
	// closed.
	Err func() error
}

// Reader is an array.RecordReader over a Producer's records.
type Reader struct {
	refs   atomic.Int64
	ctx    context.Context // the caller's
	cancel context.CancelFunc
	p      Producer

	rec      arrow.Record
	err      error
	finished bool
}

// NewReader returns a reader holding one reference. ctx is the caller's
// context; cancel stops the producer (it cancels the producer's context).
func NewReader(ctx context.Context, cancel context.CancelFunc, p Producer) *Reader {
	r := &Reader{ctx: ctx, cancel: cancel, p: p}
	r.refs.Store(1)
	return r
}

func (r *Reader) Retain()               { r.refs.Add(1) }
func (r *Reader) Schema() *arrow.Schema { return r.p.Schema }
func (r *Reader) Record() arrow.Record  { return r.rec }
func (r *Reader) Err() error            { return r.err }

// Release drops a reference; the last one stops the producer and frees
// every record it still holds.
func (r *Reader) Release() {
	if r.refs.Add(-1) == 0 {
		r.dropRecord()
		r.stop()
		r.finished = true
	}
}

func (r *Reader) dropRecord() {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
}

// stop ends the producer and frees what it sent but nobody read.
func (r *Reader) stop() {
	r.cancel()
	for rec := range r.p.Out {
		rec.Release()
	}
	<-r.p.Done
}

// Next moves to the next record; false at the end or on an error (Err).
func (r *Reader) Next() bool {
	r.dropRecord()
	if r.finished {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		return r.fail(err)
	}
	select {
	case rec, ok := <-r.p.Out:
		if ok {
			r.rec = rec
			return true
		}
		<-r.p.Done
		r.finished = true
		r.err = r.p.Err()
		r.cancel()
		return false
	case <-r.ctx.Done():
		return r.fail(r.ctx.Err())
	}
}

func (r *Reader) fail(err error) bool {
	r.stop()
	r.finished = true
	if perr := r.p.Err(); perr != nil && !errors.Is(perr, err) {
		r.err = perr
	} else {
		r.err = fmt.Errorf("read %s: %w", r.p.Name, err)
	}
	return false
}
