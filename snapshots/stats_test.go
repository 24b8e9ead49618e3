package snapshots

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	pqfile "github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"

	"github.com/reconhq/reconcile/internal/arrowpool"
)

// poolReader yields batches of sorted string keys built in a poisoned
// pool, releasing each when the next is asked for, as the file
// connector's Parquet reader does: a buffer still in use after that holds
// 0xA5 bytes, or another batch's values.
type poolReader struct {
	schema      *arrow.Schema
	pool        *arrowpool.Pool
	rows, batch int
	next        int
	cur         arrow.Record
	refs        int64
}

func (r *poolReader) Schema() *arrow.Schema { return r.schema }
func (r *poolReader) Record() arrow.Record  { return r.cur }
func (r *poolReader) Err() error            { return nil }
func (r *poolReader) Retain()               { r.refs++ }
func (r *poolReader) Release() {
	if r.refs--; r.refs == 0 && r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}

func (r *poolReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.next >= r.rows {
		return false
	}
	b := array.NewRecordBuilder(r.pool, r.schema)
	defer b.Release()
	for i := r.next; i < min(r.next+r.batch, r.rows); i++ {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("k%08d", i))
	}
	r.next += r.batch
	r.cur = b.NewRecord()
	return true
}

// writeOnePart snapshots rr's 6,000 rows into one part with row groups of
// at most rowGroup rows and opens that part; it is closed when the test
// ends.
func writeOnePart(t *testing.T, rr *poolReader, rowGroup int64) *pqfile.Reader {
	t.Helper()
	_, dir, err := Write(context.Background(), t.TempDir(), rr, WriteOptions{Name: "s", Key: []string{"k"}, ToolVersion: "test", PartRows: 6000, RowGroupRows: rowGroup})
	if err != nil {
		t.Fatal(err)
	}
	pf, err := pqfile.OpenParquetFile(filepath.Join(dir, "part-00000.parquet"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pf.Close() })
	return pf
}

// The column statistics of every row group are those of its own rows even
// when the batches written are released and their buffers reused while
// the part is written: arrow-go keeps min and max as slices of the batches
// until the row group is written.
func TestPartStatisticsSurviveReusedBuffers(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}}, nil)
	rr := &poolReader{schema: schema, pool: arrowpool.Poisoned(1 << 20), rows: 6000, batch: 500, refs: 1}
	defer rr.Release()
	pf := writeOnePart(t, rr, 2000)
	if pf.NumRowGroups() != 3 { // and no empty one at the end
		t.Fatalf("%d row groups, want 3 of 2,000 rows", pf.NumRowGroups())
	}
	for rg := range 3 {
		cc, err := pf.MetaData().RowGroup(rg).ColumnChunk(0)
		if err != nil {
			t.Fatal(err)
		}
		st, err := cc.Statistics()
		if err != nil || st == nil {
			t.Fatalf("row group %d: no statistics (%v)", rg, err)
		}
		bs := st.(*metadata.ByteArrayStatistics)
		wantMin, wantMax := fmt.Sprintf("k%08d", rg*2000), fmt.Sprintf("k%08d", rg*2000+1999)
		if string(bs.Min()) != wantMin || string(bs.Max()) != wantMax {
			t.Errorf("row group %d: statistics min %q max %q, want %q and %q", rg, bs.Min(), bs.Max(), wantMin, wantMax)
		}
	}
}

// A row group also ends once the batches it keeps pass maxOpenBytes.
func TestRowGroupsEndAtTheByteBound(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}}, nil)
	rr := &poolReader{schema: schema, pool: arrowpool.New(1 << 20), rows: 6000, batch: 500, refs: 1}
	defer rr.Release()
	restore := maxOpenBytes
	maxOpenBytes = 10_000 // two batches of 500 keys of 9 bytes (and their offsets) pass it
	defer func() { maxOpenBytes = restore }()
	pf := writeOnePart(t, rr, 1<<20)
	if n := pf.NumRowGroups(); n != 6 || pf.MetaData().RowGroup(0).NumRows() != 1000 || pf.NumRows() != 6000 {
		t.Fatalf("%d row groups (the first of %d rows) holding %d rows; want 6 of 1,000", n, pf.MetaData().RowGroup(0).NumRows(), pf.NumRows())
	}
}
