// Package memory is an in-memory connector: a table held as Arrow record
// batches. It is the test double of the connector contract and a way for
// library users to diff data they already hold in Arrow form.
package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/reconhq/reconcile/connectors"
)

// Table is the data a Source serves.
type Table struct {
	Name       string
	Schema     *arrow.Schema
	Records    []arrow.Record // each must carry Schema
	PrimaryKey []string
}

// Source serves one Table. It retains the records until Close.
type Source struct {
	mu     sync.RWMutex // Close takes it to release the records; reads share it
	t      Table
	closed bool
}

// New returns a Source over t; it retains t's records.
func New(t Table) (*Source, error) {
	for i, r := range t.Records {
		if !r.Schema().Equal(t.Schema) {
			return nil, fmt.Errorf("memory table %s: record %d has schema %s, want %s", t.Name, i, r.Schema(), t.Schema)
		}
	}
	for _, r := range t.Records {
		r.Retain()
	}
	return &Source{t: t}, nil
}

// Describe implements connectors.Source.
func (s *Source) Describe(ctx context.Context, ref connectors.TableRef) (*connectors.TableInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var rows int64
	for _, r := range s.t.Records {
		rows += r.NumRows()
	}
	return &connectors.TableInfo{Name: s.t.Name, Schema: s.t.Schema, PrimaryKey: slices.Clone(s.t.PrimaryKey), EstimatedRows: rows}, nil
}

// check reports a closed source or a done context; the caller holds s.mu.
func (s *Source) check(ctx context.Context) error {
	if s.closed {
		return fmt.Errorf("memory table %s: source is closed", s.t.Name)
	}
	return ctx.Err()
}

// Read implements connectors.Source.
func (s *Source) Read(ctx context.Context, ref connectors.TableRef, opts connectors.ReadOptions) (array.RecordReader, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	idx := make([]int, 0, s.t.Schema.NumFields())
	fields := []arrow.Field{}
	if opts.Columns == nil {
		for i := range s.t.Schema.Fields() {
			idx = append(idx, i)
		}
		fields = s.t.Schema.Fields()
	} else {
		for _, c := range opts.Columns {
			is := s.t.Schema.FieldIndices(c)
			if len(is) == 0 {
				names := make([]string, 0, s.t.Schema.NumFields())
				for _, f := range s.t.Schema.Fields() {
					names = append(names, f.Name)
				}
				return nil, fmt.Errorf("read %s: column %q (columns: %s): %w", s.t.Name, c, strings.Join(names, ", "), connectors.ErrColumnNotFound)
			}
			idx = append(idx, is[0])
			fields = append(fields, s.t.Schema.Field(is[0]))
		}
	}
	md := s.t.Schema.Metadata()
	schema := arrow.NewSchema(fields, &md)
	recs := make([]arrow.Record, 0, len(s.t.Records))
	for _, r := range s.t.Records {
		cols := make([]arrow.Array, len(idx))
		for i, j := range idx {
			cols[i] = r.Column(j)
		}
		recs = append(recs, array.NewRecord(schema, cols, r.NumRows()))
	}
	rr, err := array.NewRecordReader(schema, recs)
	for _, r := range recs {
		r.Release()
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.t.Name, err)
	}
	return &ctxReader{RecordReader: rr, ctx: ctx}, nil
}

// Close releases the records. It is safe to call more than once.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		for _, r := range s.t.Records {
			r.Release()
		}
	}
	return nil
}

// Ordered is a Source whose records are already sorted by Key; it offers
// the connectors.OrderedReader capability for that key.
type Ordered struct {
	*Source
	Key []string
}

// NewOrdered returns a Source that declares its records sorted by key. The
// engine checks the order as it reads and fails on a violation.
func NewOrdered(t Table, key []string) (*Ordered, error) {
	s, err := New(t)
	if err != nil {
		return nil, err
	}
	return &Ordered{Source: s, Key: key}, nil
}

// ReadOrdered implements connectors.OrderedReader.
func (o *Ordered) ReadOrdered(ctx context.Context, ref connectors.TableRef, key []string, opts connectors.ReadOptions) (array.RecordReader, error) {
	if !slices.Equal(key, o.Key) {
		return nil, fmt.Errorf("read %s ordered by %v: sorted by %v only: %w", o.t.Name, key, o.Key, connectors.ErrUnsupported)
	}
	return o.Read(ctx, ref, opts)
}

type ctxReader struct {
	array.RecordReader
	ctx context.Context
	err error
}

func (r *ctxReader) Next() bool {
	if r.err = r.ctx.Err(); r.err != nil {
		return false
	}
	return r.RecordReader.Next()
}

func (r *ctxReader) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.RecordReader.Err()
}

var (
	_ connectors.Source        = (*Source)(nil)
	_ connectors.Source        = (*Ordered)(nil)
	_ connectors.OrderedReader = (*Ordered)(nil)
)
