package file

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
)

// DefaultBatchRows is the number of rows per record batch when ReadOptions
// does not set BatchRows.
const DefaultBatchRows = 64 * 1024

// ParquetBatchRows is the default for Parquet files instead. arrow-go's
// Parquet reader grows a fresh set of builders for every batch and
// streams each column chunk through its own buffers, so its memory follows
// the batch: on the 2M-row benchmark pair, 16Ki-row batches take two
// thirds of the peak RSS of 64Ki-row ones (195 vs 295 MB) in the same
// wall time.
const ParquetBatchRows = 16 * 1024

// format is a file format.
type format uint8

const (
	formatCSV format = iota + 1
	formatTSV
	formatJSONL
	formatParquet
	formatArrow
)

func (f format) String() string {
	switch f {
	case formatCSV:
		return "csv"
	case formatTSV:
		return "tsv"
	case formatJSONL:
		return "jsonl"
	case formatParquet:
		return "parquet"
	case formatArrow:
		return "arrow"
	}
	return "unknown"
}

func (f format) isText() bool { return f == formatCSV || f == formatTSV || f == formatJSONL }

// formatNames maps format names and extensions to formats.
var formatNames = map[string]format{
	"csv":     formatCSV,
	"tsv":     formatTSV,
	"jsonl":   formatJSONL,
	"ndjson":  formatJSONL,
	"parquet": formatParquet,
	"arrow":   formatArrow,
	"ipc":     formatArrow,
	"feather": formatArrow,
}

const supportedExts = ".csv, .tsv, .jsonl, .ndjson, .parquet, .arrow, .ipc, .feather, " +
	"and .csv.gz, .tsv.gz, .jsonl.gz, .ndjson.gz"

// Source is a file holding one table: CSV, TSV, JSON Lines (optionally
// gzip-compressed), Parquet or Arrow IPC. It is safe for concurrent use;
// each Read opens the file anew.
type Source struct {
	path   string
	name   string
	format format
	opts   connectors.Options
	delim  byte

	mu     sync.Mutex
	closed bool
	plan   *plan // cached by the first successful Describe or Read
}

// plan is what Describe learned: the schema and how to read each column.
type plan struct {
	info  connectors.TableInfo
	types []colType // text formats: the type of each column
}

// New returns a Source for the file at path. The format comes from the
// extension unless opts.Format names one. The file must exist; nothing is
// read until Describe or Read.
func New(path string, opts connectors.Options) (*Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open %s: no such file: %w", path, connectors.ErrTableNotFound)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("open %s: is a directory, not a file: %w", path, connectors.ErrUnsupported)
	}
	f, err := detectFormat(path, opts.Format)
	if err != nil {
		return nil, err
	}
	s := &Source{path: path, name: filepath.Base(path), format: f, opts: opts}
	switch f {
	case formatCSV:
		s.delim = ','
	case formatTSV:
		s.delim = '\t'
	}
	if f == formatCSV || f == formatTSV {
		if d := opts.Delimiter; d != 0 {
			if d >= 0x80 || d == '"' || d == '\n' || d == '\r' {
				return nil, fmt.Errorf("open %s: delimiter %q must be one ASCII character other than a quote or a line break: %w",
					path, d, connectors.ErrUnsupported)
			}
			s.delim = byte(d)
		}
	}
	var errs []error
	for _, col := range slices.Sorted(maps.Keys(opts.Types)) {
		if t := opts.Types[col]; !validTypeName(t) {
			errs = append(errs, fmt.Errorf("open %s: column %q: unknown type %q (known: integer, decimal, decimal(p,s), float, boolean, timestamp, date, text, json): %w",
				path, col, t, connectors.ErrUnsupported))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// Open is a connectors.Opener: location is a plain path or a file:// URL.
func Open(_ context.Context, location string, opts connectors.Options) (connectors.Source, error) {
	path, err := pathOf(location)
	if err != nil {
		return nil, err
	}
	s, err := New(path, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// pathOf turns a file:// URL into a path; other locations are paths.
func pathOf(location string) (string, error) {
	if len(location) < 7 || !strings.EqualFold(location[:7], "file://") {
		return location, nil
	}
	rest := location[7:]
	if !strings.HasPrefix(rest, "/") {
		// file://localhost/x or file://relative/path
		if host, p, ok := strings.Cut(rest, "/"); ok && strings.EqualFold(host, "localhost") {
			rest = "/" + p
		}
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("open %s: bad file URL: %w", location, connectors.ErrUnsupported)
	}
	return p, nil
}

// detectFormat picks the format from an override or the file name.
func detectFormat(path, override string) (format, error) {
	if override != "" {
		name := strings.TrimSuffix(strings.ToLower(strings.TrimPrefix(override, ".")), ".gz")
		if name == "json" {
			name = "jsonl"
		}
		f, ok := formatNames[name]
		if !ok || (!f.isText() && strings.HasSuffix(strings.ToLower(override), ".gz")) {
			return 0, fmt.Errorf("open %s: unknown format %q (known: csv, tsv, jsonl, parquet, arrow, and csv.gz, tsv.gz, jsonl.gz): %w",
				path, override, connectors.ErrUnsupported)
		}
		return f, nil
	}
	base := strings.ToLower(filepath.Base(path))
	gz := strings.HasSuffix(base, ".gz")
	base = strings.TrimSuffix(base, ".gz")
	ext := strings.TrimPrefix(filepath.Ext(base), ".")
	if f, ok := formatNames[ext]; ok && (!gz || f.isText()) {
		return f, nil
	}
	shown := filepath.Ext(base)
	if gz {
		shown += ".gz"
	}
	if shown == "" {
		shown = "(none)"
	}
	return 0, fmt.Errorf("open %s: unsupported file extension %q (supported: %s); name the format with --source-format/--target-format: %w",
		path, shown, supportedExts, connectors.ErrUnsupported)
}

// Describe returns the file name, the Arrow schema every batch of Read
// carries, and a row estimate (-1 for text formats). Text formats are read
// once to infer column types; the result is cached.
func (s *Source) Describe(ctx context.Context, ref connectors.TableRef) (*connectors.TableInfo, error) {
	p, err := s.describe(ctx, ref)
	if err != nil {
		return nil, err
	}
	info := p.info
	info.Notes = append([]string(nil), p.info.Notes...)
	return &info, nil
}

func (s *Source) describe(ctx context.Context, ref connectors.TableRef) (*plan, error) {
	if ref.Query != "" || ref.Where != "" {
		return nil, fmt.Errorf("describe %s: a file source cannot run a query or a filter: %w", s.name, connectors.ErrUnsupported)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("describe %s: source is closed", s.name)
	}
	if s.plan != nil {
		return s.plan, nil
	}
	var p *plan
	var err error
	switch s.format {
	case formatCSV, formatTSV:
		p, err = s.describeCSV(ctx)
	case formatJSONL:
		p, err = s.describeJSONL(ctx)
	case formatParquet:
		p, err = s.describeParquet()
	case formatArrow:
		p, err = s.describeArrow(ctx)
	}
	if err != nil {
		return nil, err
	}
	p.info.Name = s.name
	s.plan = p
	return p, nil
}

// Read streams the file as record batches. The caller owns the reader and
// must Release it; when ctx is cancelled the reader stops and Err returns
// ctx.Err().
func (s *Source) Read(ctx context.Context, ref connectors.TableRef, opts connectors.ReadOptions) (array.RecordReader, error) {
	p, err := s.describe(ctx, ref)
	if err != nil {
		return nil, err
	}
	proj, err := s.projection(p.info.Schema, opts.Columns)
	if err != nil {
		return nil, err
	}
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
		if s.format == formatParquet {
			batch = ParquetBatchRows
		}
	}
	var rr array.RecordReader
	switch s.format {
	case formatCSV, formatTSV:
		rr, err = s.readCSV(ctx, p, proj, mem, batch)
	case formatJSONL:
		rr, err = s.readJSONL(ctx, p, proj, mem, batch)
	case formatParquet:
		rr, err = s.readParquet(ctx, p, proj, mem, batch)
	case formatArrow:
		rr, err = s.readArrow(ctx, p, proj, mem, batch)
	}
	if err != nil {
		return nil, err
	}
	return rr, nil
}

// projection maps ReadOptions.Columns to column indices of schema.
func (s *Source) projection(schema *arrow.Schema, cols []string) ([]int, error) {
	if cols == nil {
		idx := make([]int, schema.NumFields())
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	idx := make([]int, len(cols))
	var errs []error
	for i, c := range cols {
		fi := schema.FieldIndices(c)
		if len(fi) == 0 {
			errs = append(errs, fmt.Errorf("read %s: column %q not found (columns: %s): %w",
				s.name, c, strings.Join(fieldNames(schema), ", "), connectors.ErrColumnNotFound))
			continue
		}
		idx[i] = fi[0]
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return idx, nil
}

func fieldNames(schema *arrow.Schema) []string {
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	return names
}

// Close releases the source. Readers already returned stay usable until
// released. Close is idempotent.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.plan = nil
	return nil
}

// openText opens a text-format file, transparently decompressing gzip
// (detected by its magic bytes, whatever the extension says), and suggests
// a read buffer size: the whole of a small file, else initialBufSize.
func (s *Source) openText() (io.ReadCloser, int, error) {
	f, err := s.openFile()
	if err != nil {
		return nil, 0, err
	}
	var magic [2]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("read %s: %w", s.path, err)
	}
	if n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("read %s: %w: %w", s.path, err, connectors.ErrBadInput)
		}
		return &gzipFile{zr: zr, f: f}, initialBufSize, nil
	}
	size := initialBufSize
	if st, err := f.Stat(); err == nil && st.Size() < int64(size) {
		size = max(int(st.Size())+64, 4096)
	}
	return f, size, nil
}

func (s *Source) openFile() (*os.File, error) {
	f, err := os.Open(s.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open %s: no such file: %w", s.path, connectors.ErrTableNotFound)
		}
		return nil, fmt.Errorf("open %s: %w", s.path, err)
	}
	return f, nil
}

type gzipFile struct {
	zr *gzip.Reader
	f  *os.File
}

func (g *gzipFile) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("gzip: %w: %w", err, connectors.ErrBadInput)
	}
	return n, err
}

func (g *gzipFile) Close() error {
	g.zr.Close()
	return g.f.Close()
}

var _ connectors.Source = (*Source)(nil)
