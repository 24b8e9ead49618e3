package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/arrowpool"
)

// badFile wraps an error from a binary format's reader.
func (s *Source) badFile(err error) error {
	return fmt.Errorf("read %s: %w: %w", s.path, err, connectors.ErrBadInput)
}

// parquetBuffer is the read buffer of each column chunk stream. The reader
// allocates one per column and row group and grows it to fit a page, so a
// small one costs nothing in reads: 1 MiB made a quarter of all the bytes
// a Parquet read allocated.
const parquetBuffer = 128 << 10

// outputPoolLimit bounds the free buffers a reader's pool keeps, memory
// that --memory-limit does not see: a few batches of a wide table.
const outputPoolLimit = 8 << 20

// newOutputPool returns the allocator of a Parquet reader's record
// batches (a variable so that a test can count the pools made).
var newOutputPool = func() memory.Allocator { return arrowpool.New(outputPoolLimit) }

// openParquet opens the Parquet file and its Arrow reader.
func (s *Source) openParquet(mem memory.Allocator, batch int) (*file.Reader, *pqarrow.FileReader, error) {
	f, err := s.openFile() // a clear error for a missing file
	if err != nil {
		return nil, nil, err
	}
	// Column chunks are streamed through a buffer rather than read whole:
	// a row group's chunks would otherwise all sit in memory at once.
	props := parquet.NewReaderProperties(mem)
	props.BufferedStreamEnabled = true
	props.BufferSize = parquetBuffer
	pf, err := file.NewParquetReader(f, file.WithReadProps(props))
	if err != nil {
		f.Close()
		return nil, nil, s.badFile(err)
	}
	// The record batches' buffers come from a pool that takes back the
	// ones released (unless the caller chose an allocator): the decoder
	// allocates hundreds of megabytes a second, and collecting them as
	// garbage was a sixth of the CPU time. Only the Arrow output is
	// pooled: the Parquet reader's own buffers (pages, dictionaries) may
	// be read after their release, which a pool would turn into wrong
	// values.
	out := mem
	if arrowpool.Replaces(mem) {
		out = newOutputPool()
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batch), Parallel: false}, out)
	if err != nil {
		pf.Close()
		return nil, nil, s.badFile(err)
	}
	return pf, fr, nil
}

func (s *Source) describeParquet() (*plan, error) {
	pf, fr, err := s.openParquet(memory.DefaultAllocator, DefaultBatchRows)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	schema, err := fr.Schema()
	if err != nil {
		return nil, s.badFile(err)
	}
	return &plan{info: connectors.TableInfo{Schema: schema, EstimatedRows: pf.NumRows()}}, nil
}

// leaves collects the Parquet leaf column indices of a field. A field
// with children is a group whatever IsLeaf says: arrow-go leaves a
// group's ColIndex at 0, which IsLeaf takes for leaf column 0.
func leaves(f *pqarrow.SchemaField, out []int) []int {
	if len(f.Children) == 0 {
		return append(out, f.ColIndex)
	}
	for i := range f.Children {
		out = leaves(&f.Children[i], out)
	}
	return out
}

func (s *Source) readParquet(ctx context.Context, p *plan, proj []int, mem memory.Allocator, batch int) (array.RecordReader, error) {
	pf, fr, err := s.openParquet(mem, batch)
	if err != nil {
		return nil, err
	}
	// Ask for each needed field once, in the order requested; map the
	// requested columns onto the reader's fields.
	var uniq []int
	pos := map[int]int{}
	need := proj
	if len(need) == 0 && p.info.Schema.NumFields() > 0 {
		need = []int{0} // no columns: still count the rows
	}
	for _, fi := range need {
		if _, ok := pos[fi]; !ok {
			pos[fi] = len(uniq)
			uniq = append(uniq, fi)
		}
	}
	var cols []int
	for _, fi := range uniq {
		if fi >= len(fr.Manifest.Fields) {
			pf.Close()
			return nil, s.badFile(errors.New("the schema changed since the file was described"))
		}
		cols = leaves(&fr.Manifest.Fields[fi], cols)
	}
	if len(cols) == 0 {
		pf.Close()
		return newProjReader(ctx, p.info.Schema, proj, batch, func() (arrow.Record, error) { return nil, io.EOF }, nil, s.badFile), nil
	}
	// arrow-go cannot build a dictionary column's batch from two row
	// groups (each has its own dictionary: "not implemented"), so a read
	// of such a column goes row group by row group, its batches cut at
	// their ends; the others read across them.
	groups := [][]int{nil} // nil: every row group, in one reader
	for _, fi := range uniq {
		if pf.NumRowGroups() > 1 && hasDictionary(fr.Manifest.Fields[fi].Field.Type) {
			groups = groups[:0]
			for rg := range pf.NumRowGroups() {
				groups = append(groups, []int{rg})
			}
			break
		}
	}
	var rr pqarrow.RecordReader
	open := func() error {
		var err error
		rr, err = fr.GetRecordReader(ctx, cols, groups[0])
		groups = groups[1:]
		return err
	}
	if err := open(); err != nil {
		pf.Close()
		return nil, s.badFile(err)
	}
	schema := rr.Schema()
	idx := make([]int, len(proj))
	for k, fi := range proj {
		idx[k] = pos[fi]
	}
	next := func() (arrow.Record, error) {
		for rr != nil {
			if rr.Next() {
				return rr.Record(), nil
			}
			if err := rr.Err(); err != nil && err != io.EOF {
				return nil, err
			}
			if len(groups) == 0 {
				break
			}
			rr.Release()
			rr = nil
			if err := open(); err != nil {
				return nil, err
			}
		}
		return nil, io.EOF
	}
	cleanup := func() {
		if rr != nil {
			rr.Release()
		}
		pf.Close()
	}
	return newProjReader(ctx, schema, idx, batch, next, cleanup, s.badFile), nil
}

// hasDictionary reports whether dt is or holds a dictionary type.
func hasDictionary(dt arrow.DataType) bool {
	if dt.ID() == arrow.DICTIONARY {
		return true
	}
	if ext, ok := dt.(arrow.ExtensionType); ok {
		return hasDictionary(ext.StorageType())
	}
	if n, ok := dt.(arrow.NestedType); ok {
		for _, f := range n.Fields() {
			if hasDictionary(f.Type) {
				return true
			}
		}
	}
	return false
}

// arrowMagic starts an Arrow IPC file (the stream format has none).
var arrowMagic = []byte("ARROW1")

// ipcSource reads either IPC format, sniffed from the first bytes.
type ipcSource struct {
	f      *os.File
	schema *arrow.Schema
	next   func() (arrow.Record, error)
	close  func()
}

// checkedNext wraps an IPC reader's next with checkOffsets, and turns a
// panic of Arrow's reader (its file reader panics on some damaged
// buffers, where its stream reader returns an error) into an error. The
// batch being built when it panics is not released: the run fails, and
// Go's collector takes its memory.
func checkedNext(next func() (arrow.Record, error)) func() (arrow.Record, error) {
	batch := 0
	return func() (rec arrow.Record, err error) {
		batch++
		defer func() {
			if p := recover(); p != nil {
				rec, err = nil, fmt.Errorf("batch %d: %v; the file is damaged", batch, p)
			}
		}()
		rec, err = next()
		if err != nil {
			return nil, err
		}
		for c, col := range rec.Columns() {
			if err := checkOffsets(col.Data()); err != nil {
				return nil, fmt.Errorf("column %s, batch %d: %w; the file is damaged", rec.ColumnName(c), batch, err)
			}
		}
		return rec, nil
	}
}

// checkOffsets checks that the value offsets of d, and of the arrays it
// holds (list, struct and map children, a dictionary's values), are in
// order and inside what they point into. Arrow's IPC reader takes them as
// the file wrote them, and everything that reads the values (the digests'
// vector loads included) relies on them.
func checkOffsets(d arrow.ArrayData) error {
	dt := d.DataType()
	if ext, ok := dt.(arrow.ExtensionType); ok {
		dt = ext.StorageType()
	}
	values := func() int {
		if b := d.Buffers(); len(b) > 2 && b[2] != nil {
			return b[2].Len()
		}
		return 0
	}
	child := func() int {
		if ch := d.Children(); len(ch) > 0 {
			return ch[0].Len()
		}
		return 0
	}
	var err error
	switch dt.ID() {
	case arrow.STRING, arrow.BINARY:
		err = checkOffsetsOf[int32](d, values(), "byte")
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		err = checkOffsetsOf[int64](d, values(), "byte")
	case arrow.LIST, arrow.MAP:
		err = checkOffsetsOf[int32](d, child(), "element")
	case arrow.LARGE_LIST:
		err = checkOffsetsOf[int64](d, child(), "element")
	}
	if err != nil {
		return err
	}
	for _, ch := range d.Children() {
		if err := checkOffsets(ch); err != nil {
			return err
		}
	}
	if dt.ID() == arrow.DICTIONARY && d.Dictionary() != nil {
		if err := checkOffsets(d.Dictionary()); err != nil {
			return fmt.Errorf("dictionary: %w", err)
		}
	}
	return nil
}

// checkOffsetsOf checks d's offsets (buffer 1) against size, the number of
// units (bytes or elements) they index.
func checkOffsetsOf[T int32 | int64](d arrow.ArrayData, size int, unit string) error {
	if d.Len() == 0 {
		return nil
	}
	bufs := d.Buffers()
	if len(bufs) < 2 || bufs[1] == nil {
		return errors.New("no value offsets")
	}
	all := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(bufs[1].Bytes()))), bufs[1].Len()/int(unsafe.Sizeof(T(0))))
	if len(all) < d.Offset()+d.Len()+1 {
		return fmt.Errorf("%d value offsets for %d rows", len(all), d.Offset()+d.Len())
	}
	offs := all[d.Offset() : d.Offset()+d.Len()+1]
	prev := offs[0]
	if prev < 0 || int64(prev) > int64(size) {
		return fmt.Errorf("row 1 starts at %s %d of %d", unit, prev, size)
	}
	for i, o := range offs[1:] {
		if o < prev || int64(o) > int64(size) {
			return fmt.Errorf("row %d ends at %s %d, outside %d..%d", i+1, unit, o, prev, size)
		}
		prev = o
	}
	return nil
}

func (s *Source) openIPC(mem memory.Allocator) (*ipcSource, error) {
	f, err := s.openFile()
	if err != nil {
		return nil, err
	}
	var magic [6]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	if n == len(magic) && bytes.Equal(magic[:], arrowMagic) {
		fr, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
		if err != nil {
			f.Close()
			return nil, s.badFile(err)
		}
		return &ipcSource{
			f:      f,
			schema: fr.Schema(),
			next:   checkedNext(fr.Read),
			close:  func() { fr.Close(); f.Close() },
		}, nil
	}
	// A stream starts with the length of its schema message; check it
	// against the file size before the IPC reader allocates that much.
	if st, err := f.Stat(); err == nil {
		var hdr [8]byte
		n, _ := io.ReadFull(f, hdr[:])
		size := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		if size == 0xFFFFFFFF { // continuation marker, then the length
			size = int64(binary.LittleEndian.Uint32(hdr[4:8]))
		}
		if n < len(hdr) || size > st.Size() {
			f.Close()
			return nil, s.badFile(errors.New("not an Arrow IPC file or stream"))
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("read %s: %w", s.path, err)
		}
	}
	rd, err := ipc.NewReader(bufio.NewReaderSize(f, 1<<20), ipc.WithAllocator(mem))
	if err != nil {
		f.Close()
		return nil, s.badFile(err)
	}
	return &ipcSource{
		f:      f,
		schema: rd.Schema(),
		next: checkedNext(func() (arrow.Record, error) {
			if rd.Next() {
				return rd.Record(), nil
			}
			if err := rd.Err(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}),
		close: func() { rd.Release(); f.Close() },
	}, nil
}

func (s *Source) describeArrow(ctx context.Context) (*plan, error) {
	src, err := s.openIPC(memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	defer src.close()
	// The row count is not in the footer: count the batches' rows.
	var rows int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, s.badFile(err)
		}
		rows += rec.NumRows()
	}
	return &plan{info: connectors.TableInfo{Schema: src.schema, EstimatedRows: rows}}, nil
}

func (s *Source) readArrow(ctx context.Context, p *plan, proj []int, mem memory.Allocator, batch int) (array.RecordReader, error) {
	src, err := s.openIPC(mem)
	if err != nil {
		return nil, err
	}
	if !src.schema.Equal(p.info.Schema) {
		src.close()
		return nil, s.badFile(errors.New("the schema changed since the file was described"))
	}
	return newProjReader(ctx, src.schema, proj, batch, src.next, src.close, s.badFile), nil
}

// projReader adapts a record source to array.RecordReader: it cuts
// batches to at most batch rows, selects and reorders columns, and stops
// when ctx is cancelled. It owns the records it hands out: each is valid
// until the next call to Next.
type projReader struct {
	refs    int64
	ctx     context.Context
	schema  *arrow.Schema
	idx     []int
	ident   bool
	batch   int64
	next    func() (arrow.Record, error)
	cleanup func()
	wrap    func(error) error

	cur  arrow.Record // the source batch being cut, retained
	off  int64        // rows of cur already handed out
	rec  arrow.Record
	err  error
	done bool
}

func newProjReader(ctx context.Context, src *arrow.Schema, idx []int, batch int, next func() (arrow.Record, error), cleanup func(), wrap func(error) error) *projReader {
	fields := make([]arrow.Field, len(idx))
	ident := len(idx) == src.NumFields()
	for k, i := range idx {
		fields[k] = src.Field(i)
		if i != k {
			ident = false
		}
	}
	schema := src
	if !ident {
		schema = arrow.NewSchema(fields, nil)
	}
	return &projReader{refs: 1, ctx: ctx, schema: schema, idx: idx, ident: ident, batch: int64(batch),
		next: next, cleanup: cleanup, wrap: wrap}
}

func (r *projReader) Retain() { atomic.AddInt64(&r.refs, 1) }

func (r *projReader) Release() {
	if atomic.AddInt64(&r.refs, -1) == 0 {
		if r.rec != nil {
			r.rec.Release()
			r.rec = nil
		}
		r.finish()
	}
}

func (r *projReader) finish() {
	r.done = true
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.cleanup != nil {
		r.cleanup()
		r.cleanup = nil
	}
}

func (r *projReader) Schema() *arrow.Schema { return r.schema }
func (r *projReader) Record() arrow.Record  { return r.rec }
func (r *projReader) Err() error            { return r.err }

func (r *projReader) Next() bool {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if r.done {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		r.finish()
		return false
	}
	for r.cur == nil || r.off >= r.cur.NumRows() {
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
		rec, err := r.next()
		if err != nil {
			if err != io.EOF {
				if ctxErr := r.ctx.Err(); ctxErr != nil {
					r.err = ctxErr
				} else {
					r.err = r.wrap(err)
				}
			}
			r.finish()
			return false
		}
		rec.Retain()
		r.cur, r.off = rec, 0
	}
	n := r.cur.NumRows() - r.off
	if r.batch > 0 && n > r.batch {
		n = r.batch
	}
	var part arrow.Record
	if r.off == 0 && n == r.cur.NumRows() {
		part = r.cur
		part.Retain()
	} else {
		part = r.cur.NewSlice(r.off, r.off+n)
	}
	r.off += n
	if r.ident {
		r.rec = part
		return true
	}
	cols := make([]arrow.Array, len(r.idx))
	for k, i := range r.idx {
		cols[k] = part.Column(i)
	}
	r.rec = array.NewRecord(r.schema, cols, n)
	part.Release()
	return true
}
