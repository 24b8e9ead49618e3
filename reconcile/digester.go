package reconcile

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/reconhq/reconcile/connectors"
)

// Digester computes, batch by batch, the figures a diff reports for one
// side: the row count, the table checksum (the sum mod 2^64 of the row
// digests) and the per-column checksums. They are the very values Diff
// reports for a side whose every column is compared with a side of the
// same schema, so a snapshot can record them and a later run can check
// them.
//
// It also tells whether the rows arrived in the canonical key order
// (OrderedReader), duplicates allowed, and counts the rows with a NULL in
// the key.
type Digester struct {
	s        *sideState
	cols     []int // the schema's column of each pair, in the plan's order
	schema   *arrow.Schema
	prev     []byte
	sorted   bool
	nullKeys int64
}

// NewDigester returns a Digester for batches of the given schema, with the
// given key columns.
func NewDigester(schema *arrow.Schema, key []string) (*Digester, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("digest: no key columns")
	}
	info := &connectors.TableInfo{Name: "snapshot", Schema: schema}
	opts := &Options{Key: key, Limit: 1}
	p, err := buildPlan(info, info, opts)
	if err != nil {
		return nil, err
	}
	s := newSideState(SourceSide, p, opts)
	d := &Digester{s: s, sorted: true}
	var fields []arrow.Field
	for _, c := range p.pairs {
		idx := schema.FieldIndices(c.src)
		if len(idx) != 1 {
			return nil, fmt.Errorf("digest: column %q appears %d times in the schema", c.src, len(idx))
		}
		d.cols = append(d.cols, idx[0])
		fields = append(fields, schema.Field(idx[0]))
	}
	d.schema = arrow.NewSchema(fields, nil)
	return d, nil
}

// Add digests one batch.
func (d *Digester) Add(rec arrow.Record) error {
	// The engine digests the columns in the plan's order (by name).
	cols := make([]arrow.Array, len(d.cols))
	for i, c := range d.cols {
		cols[i] = rec.Column(c)
	}
	proj := array.NewRecord(d.schema, cols, rec.NumRows())
	defer proj.Release()
	err := d.s.batch(proj, func(_ uint64, key []byte, _ int) error {
		if d.sorted && d.prev != nil && compareKeys(d.prev, key) > 0 {
			d.sorted = false
		}
		d.prev = append(d.prev[:0], key...)
		return nil
	})
	// NULL-keyed rows are only counted here; nothing lists them.
	d.nullKeys += int64(len(d.s.nullKeys))
	d.s.nullKeys = d.s.nullKeys[:0]
	return err
}

// Stats returns the figures of the batches added so far: Rows, Checksum
// and Columns (ordered by name) are set.
func (d *Digester) Stats() SideStats {
	var st SideStats
	d.s.fill(&st)
	return st
}

// Sorted reports whether every row with a non-NULL key so far came in
// canonical key order (equal keys allowed).
func (d *Digester) Sorted() bool { return d.sorted }

// NullKeys is the number of rows so far with a NULL in the key.
func (d *Digester) NullKeys() int64 { return d.nullKeys }
