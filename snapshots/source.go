package snapshots

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/reconhq/reconcile/connectors"
)

// DefaultBatchRows is the batch size of a snapshot read.
const DefaultBatchRows = 64 << 10

// Source reads one snapshot. It is a connectors.Source, and an
// OrderedReader for the snapshot's key when its rows are stored in key
// order. Every part is checked against the manifest (size, SHA-256, row
// count) as it is read: a part that does not match fails the read.
type Source struct {
	dir  string
	m    *Manifest
	opts connectors.Options
}

var (
	_ connectors.Source        = (*Source)(nil)
	_ connectors.OrderedReader = (*Source)(nil)
)

// Open opens the snapshot a location names ("snap:<store>/<name>@latest",
// see Resolve). It is the connectors.Opener of the "snap" scheme.
func Open(_ context.Context, location string, opts connectors.Options) (*Source, error) {
	if opts.Format != "" {
		return nil, fmt.Errorf("%s: a snapshot has its own format; drop the format option: %w", location, connectors.ErrUnsupported)
	}
	dir, m, err := Resolve(location)
	if err != nil {
		return nil, err
	}
	return &Source{dir: dir, m: m, opts: opts}, nil
}

// OpenDir opens the snapshot in a snapshot folder.
func OpenDir(dir string) (*Source, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	return &Source{dir: dir, m: m}, nil
}

// Manifest returns the snapshot's manifest.
func (s *Source) Manifest() *Manifest { return s.m }

// Dir returns the snapshot's folder.
func (s *Source) Dir() string { return s.dir }

func (s *Source) Close() error { return nil }

// checkRef accepts the table reference a diff passes: the table the
// snapshot was taken of (or none), and no SQL but the filter it was taken
// with.
func (s *Source) checkRef(ref connectors.TableRef) error {
	var problems []string
	if ref.Name != "" && !sameTable(ref.Name, s.m.Table) {
		held := s.m.Table
		if held == "" {
			held = "a query's rows"
		}
		problems = append(problems, fmt.Sprintf("the snapshot holds %s, not table %s", held, ref.Name))
	}
	if ref.Query != "" && ref.Query != s.m.Query {
		problems = append(problems, "a snapshot cannot run a query (it was taken of "+s.what()+")")
	}
	if ref.Where != "" && ref.Where != s.m.Where {
		problems = append(problems, fmt.Sprintf("a snapshot cannot run SQL: --where %q differs from the filter it was taken with (%q); filter the other side only with --source-where/--target-where", ref.Where, s.m.Where))
	}
	if len(problems) > 0 {
		return fmt.Errorf("snapshot %s: %s: %w", s.name(), strings.Join(problems, "; "), connectors.ErrUnsupported)
	}
	return nil
}

func sameTable(a, b string) bool {
	norm := func(s string) string { return strings.TrimPrefix(strings.ReplaceAll(s, `"`, ""), "public.") }
	return a == b || norm(a) == norm(b)
}

func (s *Source) what() string {
	switch {
	case s.m.Table != "":
		return "table " + s.m.Table
	case s.m.Query != "":
		return "a query"
	}
	return "the rows"
}

func (s *Source) name() string { return s.m.Name + "@" + s.m.ID }

// Describe returns the snapshot's schema and key.
func (s *Source) Describe(_ context.Context, ref connectors.TableRef) (*connectors.TableInfo, error) {
	if err := s.checkRef(ref); err != nil {
		return nil, err
	}
	info := &connectors.TableInfo{
		Name:          s.name(),
		Schema:        s.m.Schema.Arrow(),
		PrimaryKey:    slices.Clone(s.m.Key),
		EstimatedRows: s.m.Rows,
		Consistency:   s.m.Consistency,
	}
	info.Notes = append(info.Notes, fmt.Sprintf("snapshot of %s from %s taken at %s", s.what(), s.m.Source, s.m.TakenAt.Format("2006-01-02 15:04:05Z07:00")))
	return info, nil
}

// Read reads the snapshot's rows in stored order.
func (s *Source) Read(ctx context.Context, ref connectors.TableRef, opts connectors.ReadOptions) (array.RecordReader, error) {
	if err := s.checkRef(ref); err != nil {
		return nil, err
	}
	return s.read(ctx, opts)
}

// ReadOrdered reads the rows in key order: the snapshot must be stored in
// the order of key (or of a key it begins with).
func (s *Source) ReadOrdered(ctx context.Context, ref connectors.TableRef, key []string, opts connectors.ReadOptions) (array.RecordReader, error) {
	if err := s.checkRef(ref); err != nil {
		return nil, err
	}
	if len(opts.Ranges) > 0 {
		return nil, fmt.Errorf("snapshot %s: key ranges: %w", s.name(), connectors.ErrUnsupported)
	}
	if !s.m.Sorted || len(key) == 0 || len(key) > len(s.m.Key) || !slices.Equal(key, s.m.Key[:len(key)]) {
		return nil, fmt.Errorf("snapshot %s is stored in the order of key (%s), not of (%s): %w", s.name(), strings.Join(s.m.Key, ", "), strings.Join(key, ", "), connectors.ErrUnsupported)
	}
	return s.read(ctx, opts)
}

func (s *Source) read(ctx context.Context, opts connectors.ReadOptions) (array.RecordReader, error) {
	full := s.m.Schema.Arrow()
	proj := make([]int, 0, full.NumFields())
	if opts.Columns == nil {
		for i := range full.NumFields() {
			proj = append(proj, i)
		}
	} else {
		var missing []string
		for _, c := range opts.Columns {
			idx := full.FieldIndices(c)
			if len(idx) == 0 {
				missing = append(missing, c)
				continue
			}
			proj = append(proj, idx[0])
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("snapshot %s: no column %s (columns: %s): %w", s.name(), strings.Join(missing, ", "), strings.Join(fieldNames(full), ", "), connectors.ErrColumnNotFound)
		}
	}
	fields := make([]arrow.Field, len(proj))
	for i, fi := range proj {
		fields[i] = full.Field(fi)
	}
	md := full.Metadata()
	mem := opts.Allocator
	if mem == nil {
		mem = s.opts.Allocator
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	batch := opts.BatchRows
	if batch <= 0 {
		batch = DefaultBatchRows
	}
	r := &reader{ctx: ctx, src: s, proj: proj, schema: arrow.NewSchema(fields, &md), mem: mem, batch: batch}
	r.refs.Store(1)
	return r, nil
}

func fieldNames(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

// reader reads the parts one after the other.
type reader struct {
	ctx    context.Context
	src    *Source
	proj   []int // manifest field indexes, in output order
	schema *arrow.Schema
	mem    memory.Allocator
	batch  int
	refs   atomic.Int64

	part     int // next part to open
	pf       *file.Reader
	rr       pqarrow.RecordReader
	idx      []int // output column → column of rr's records
	partRows int64
	rec      arrow.Record
	err      error
	done     bool
}

func (r *reader) Retain()               { r.refs.Add(1) }
func (r *reader) Schema() *arrow.Schema { return r.schema }
func (r *reader) Record() arrow.Record  { return r.rec }
func (r *reader) Err() error            { return r.err }

func (r *reader) Release() {
	if r.refs.Add(-1) == 0 {
		r.closePart()
		if r.rec != nil {
			r.rec.Release()
			r.rec = nil
		}
	}
}

func (r *reader) closePart() {
	if r.rr != nil {
		r.rr.Release()
		r.rr = nil
	}
	if r.pf != nil {
		r.pf.Close()
		r.pf = nil
	}
}

func (r *reader) fail(err error) bool {
	r.err = err
	r.done = true
	r.closePart()
	return false
}

func (r *reader) Next() bool {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if r.done {
		return false
	}
	for {
		if err := r.ctx.Err(); err != nil {
			return r.fail(err)
		}
		if r.rr == nil {
			if r.part == len(r.src.m.Parts) {
				r.done = true
				return false
			}
			if err := r.openPart(); err != nil {
				return r.fail(err)
			}
		}
		if r.rr.Next() {
			in := r.rr.Record()
			n := in.NumRows()
			if n == 0 {
				continue
			}
			cols := make([]arrow.Array, len(r.idx))
			for i, j := range r.idx {
				cols[i] = in.Column(j)
			}
			r.partRows += n
			r.rec = array.NewRecord(r.schema, cols, n)
			return true
		}
		p := r.src.m.Parts[r.part-1]
		if err := r.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return r.fail(r.src.corrupt(p, err.Error()))
		}
		if r.partRows != p.Rows {
			return r.fail(r.src.corrupt(p, fmt.Sprintf("read %d rows, the manifest says %d", r.partRows, p.Rows)))
		}
		r.closePart()
	}
}

func (s *Source) corrupt(p Part, why string) error {
	return fmt.Errorf("snapshot %s: %s: %s (run 'reconcile snapshot verify %s'): %w", s.dir, p.File, why, s.dir, ErrCorrupt)
}

// checkPart checks a part's size and SHA-256 against the manifest.
func (s *Source) checkPart(p Part) error {
	why, err := s.partProblem(p)
	if err != nil {
		return err
	}
	if why != "" {
		return s.corrupt(p, why)
	}
	return nil
}

// partProblem says how a part differs from the manifest ("" if it does
// not); the error is for failures to read it at all.
func (s *Source) partProblem(p Part) (string, error) {
	f, err := os.Open(filepath.Join(s.dir, p.File))
	if errors.Is(err, os.ErrNotExist) {
		return "the part is missing", nil
	}
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %w", s.dir, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %s: %w", s.dir, p.File, err)
	}
	if n != p.Bytes {
		return fmt.Sprintf("the part has %d bytes, the manifest says %d (truncated or changed)", n, p.Bytes), nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return "the part's SHA-256 does not match the manifest (changed or corrupted)", nil
	}
	return "", nil
}

// parquetBuffer is the read buffer of each column chunk stream.
const parquetBuffer = 1 << 20

func (r *reader) openPart() error {
	s := r.src
	p := s.m.Parts[r.part]
	r.part++
	r.partRows = 0
	if err := s.checkPart(p); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(s.dir, p.File))
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", s.dir, err)
	}
	props := parquet.NewReaderProperties(r.mem)
	props.BufferedStreamEnabled = true
	props.BufferSize = parquetBuffer
	pf, err := file.NewParquetReader(f, file.WithReadProps(props))
	if err != nil {
		f.Close()
		return s.corrupt(p, err.Error())
	}
	r.pf = pf
	if pf.NumRows() != p.Rows {
		return s.corrupt(p, fmt.Sprintf("the part holds %d rows, the manifest says %d", pf.NumRows(), p.Rows))
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(r.batch), Parallel: false}, r.mem)
	if err != nil {
		return s.corrupt(p, err.Error())
	}
	full := s.m.Schema.Arrow()
	if len(fr.Manifest.Fields) != full.NumFields() {
		return s.corrupt(p, fmt.Sprintf("the part has %d columns, the manifest %d", len(fr.Manifest.Fields), full.NumFields()))
	}
	var leafCols []int
	for _, fi := range r.uniq() {
		leafCols = leaves(&fr.Manifest.Fields[fi], leafCols)
	}
	if len(leafCols) == 0 {
		// No columns asked for: read the first, so rows are still counted.
		leafCols = leaves(&fr.Manifest.Fields[0], leafCols)
	}
	rr, err := fr.GetRecordReader(r.ctx, leafCols, nil)
	if err != nil {
		return s.corrupt(p, err.Error())
	}
	r.rr = rr
	// Map the output columns onto the reader's fields, by name, and check
	// that each reads back as the type the manifest records.
	got := rr.Schema()
	r.idx = make([]int, len(r.proj))
	for i, fi := range r.proj {
		want := full.Field(fi)
		j := -1
		for k, f := range got.Fields() {
			if f.Name == want.Name {
				j = k
				break
			}
		}
		if j < 0 {
			return s.corrupt(p, fmt.Sprintf("column %s is missing (%s)", want.Name, got))
		}
		if !arrow.TypeEqual(got.Field(j).Type, want.Type) {
			return s.corrupt(p, fmt.Sprintf("column %s reads as %s, the manifest says %s", want.Name, got.Field(j).Type, want.Type))
		}
		r.idx[i] = j
	}
	return nil
}

// uniq lists the manifest fields to read, each once, ascending.
func (r *reader) uniq() []int {
	out := slices.Clone(r.proj)
	slices.Sort(out)
	return slices.Compact(out)
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
