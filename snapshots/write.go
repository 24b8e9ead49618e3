package snapshots

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"golang.org/x/sync/errgroup"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/arrowpool"
	"github.com/reconhq/reconcile/internal/atomicfile"
	"github.com/reconhq/reconcile/reconcile"
)

// Default part and row group sizes. Row groups of 128Ki rows decode in
// large vectorised runs and keep a reader's memory small; a part holds
// 16 of them, so that a snapshot of a big table is a handful of files.
const (
	DefaultRowGroupRows = 128 << 10
	DefaultPartRows     = 16 * DefaultRowGroupRows
)

// WriteOptions describe the snapshot being written.
type WriteOptions struct {
	// Name is the snapshot series: the folder under the store.
	Name string
	// Source is where the rows come from, for the manifest; it is
	// redacted again here (connectors.Redact), so a password never lands
	// on disk.
	Source              string
	Table, Query, Where string
	// Key names the key columns (required).
	Key []string
	// Consistency is the source's marker of the point in time it read.
	Consistency *connectors.Consistency
	Notes       []string
	ToolVersion string
	ConfigHash  string
	// PartRows and RowGroupRows size the Parquet files; 0 means the
	// defaults.
	PartRows, RowGroupRows int64
	Allocator              memory.Allocator
	// Now returns the time; nil means time.Now. It names the snapshot.
	Now func() time.Time
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// CheckName reports whether name can name a snapshot series.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("snapshot name %q: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// idLayout names a snapshot folder: its UTC start time, sortable as text.
const idLayout = "2006-01-02T150405.000Z"

// Write reads rr to the end and stores it as a new snapshot in
// <store>/<opts.Name>/<UTC time>/: Parquet parts, then manifest.json,
// written last and atomically. It returns the manifest and the folder.
// On failure the folder is removed; a crash leaves it without a manifest,
// which readers ignore and Prune removes.
func Write(ctx context.Context, store string, rr array.RecordReader, opts WriteOptions) (*Manifest, string, error) {
	if err := CheckName(opts.Name); err != nil {
		return nil, "", err
	}
	if len(opts.Key) == 0 {
		return nil, "", errors.New("snapshot: no key columns (give --key, or read a table with a primary key)")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.PartRows <= 0 {
		opts.PartRows = DefaultPartRows
	}
	if opts.RowGroupRows <= 0 {
		opts.RowGroupRows = DefaultRowGroupRows
	}
	opts.RowGroupRows = min(opts.RowGroupRows, opts.PartRows)
	if opts.Allocator == nil {
		opts.Allocator = memory.DefaultAllocator
	}
	schema := rr.Schema()
	dig, err := reconcile.NewDigester(schema, opts.Key)
	if err != nil {
		return nil, "", fmt.Errorf("snapshot: %w", err)
	}
	sch, err := newSchema(schema)
	if err != nil {
		return nil, "", err
	}
	series := filepath.Join(store, opts.Name)
	if err := os.MkdirAll(series, 0o755); err != nil {
		return nil, "", fmt.Errorf("snapshot store: %w", err)
	}
	taken := now().UTC()
	var dir, id string
	for range 1000 {
		id = taken.Format(idLayout)
		dir = filepath.Join(series, id)
		err = os.Mkdir(dir, 0o755)
		if !errors.Is(err, os.ErrExist) {
			break
		}
		taken = taken.Add(time.Millisecond) // a snapshot of this name began in the same millisecond
	}
	if err != nil {
		return nil, "", fmt.Errorf("snapshot store: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()

	m := &Manifest{
		Format: formatName, FormatVersion: FormatVersion, Name: opts.Name, ID: id,
		Source: connectors.Redact(opts.Source), Table: opts.Table, Query: opts.Query, Where: opts.Where,
		Key: opts.Key, Schema: sch, TakenAt: taken, Consistency: opts.Consistency, Notes: opts.Notes,
		ToolVersion: opts.ToolVersion, ConfigHash: opts.ConfigHash,
	}

	// The parts are written by one goroutine while this one digests the
	// same batches: compression and hashing overlap.
	recs := make(chan arrow.Record, 4)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		parts, err := writeParts(gctx, dir, schema, recs, &opts)
		m.Parts = parts
		return err
	})
	g.Go(func() error {
		defer close(recs)
		for rr.Next() {
			rec := rr.Record()
			if err := dig.Add(rec); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			if rec.NumRows() == 0 {
				continue
			}
			rec.Retain()
			select {
			case recs <- rec:
			case <-gctx.Done():
				rec.Release()
				return gctx.Err()
			}
		}
		if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return ctx.Err()
	})
	if err := g.Wait(); err != nil {
		// Drain what the writer left, so no batch is leaked.
		for rec := range recs {
			rec.Release()
		}
		return nil, "", err
	}
	st := dig.Stats()
	m.Rows, m.Checksum, m.NullKeys, m.Sorted = st.Rows, Hex64(st.Checksum), dig.NullKeys(), dig.Sorted()
	for _, c := range st.Columns {
		m.Columns = append(m.Columns, ColumnChecksum{Name: c.Name, Checksum: Hex64(c.Checksum)})
	}
	var partRows int64
	for _, p := range m.Parts {
		partRows += p.Rows
	}
	if partRows != m.Rows {
		return nil, "", fmt.Errorf("snapshot: wrote %d rows to the parts but read %d", partRows, m.Rows)
	}
	m.FinishedAt = now().UTC()
	if err := writeManifest(dir, m); err != nil {
		return nil, "", err
	}
	ok = true
	return m, dir, nil
}

// writeManifest writes manifest.json atomically: a temporary file, synced,
// renamed into place, and the folder synced.
func writeManifest(dir string, m *Manifest) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, ManifestFile), append(raw, '\n')); err != nil {
		return fmt.Errorf("snapshot manifest: %w", err)
	}
	return nil
}

// partWriter is one Parquet file being written, hashed as it goes.
type partWriter struct {
	f    *os.File
	buf  *bufio.Writer
	sum  hash.Hash
	n    int64
	fw   *pqarrow.FileWriter
	rows int64
	name string
}

func (p *partWriter) Write(b []byte) (int, error) {
	n, err := p.buf.Write(b)
	p.sum.Write(b[:n])
	p.n += int64(n)
	return n, err
}

func writerProps(opts *WriteOptions) (*parquet.WriterProperties, pqarrow.ArrowWriterProperties) {
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1),
		parquet.WithMaxRowGroupLength(opts.RowGroupRows),
		parquet.WithAllocator(opts.Allocator),
		parquet.WithCreatedBy("reconcile "+opts.ToolVersion),
		parquet.WithStats(true),
	)
	return props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(opts.Allocator))
}

// maxOpenBytes bounds the batches a part's open row group keeps (a
// variable for tests).
var maxOpenBytes int64 = 64 << 20

// batchBytes is the size of the buffers rec's columns use; a slice counts
// its whole batch's, an overestimate.
func batchBytes(rec arrow.Record) int64 {
	var n int64
	arrowpool.EachBuffer(rec, func(b *memory.Buffer) { n += int64(b.Len()) })
	return n
}

// writeParts writes the batches of recs into Parquet parts of at most
// PartRows rows each and returns them in order.
func writeParts(ctx context.Context, dir string, schema *arrow.Schema, recs <-chan arrow.Record, opts *WriteOptions) ([]Part, error) {
	props, aprops := writerProps(opts)
	var parts []Part
	var cur *partWriter
	// The batches of the row group being written stay retained until it
	// is: arrow-go's column statistics keep their min and max as slices of
	// the batches' buffers, and a buffer released earlier may be handed
	// out again (the file connector's Parquet reader pools them), which
	// wrote other values into the statistics. A row group also ends once
	// the batches it holds pass maxOpenBytes, so that wide rows do not
	// keep RowGroupRows of them in memory.
	var open []arrow.Record
	var openBytes int64
	releaseOpen := func() {
		for _, r := range open {
			r.Release()
		}
		open, openBytes = open[:0], 0
	}
	defer releaseOpen()
	closePart := func() error {
		if cur == nil {
			return nil
		}
		p := cur
		cur = nil
		defer releaseOpen()
		if err := p.fw.Close(); err != nil {
			p.f.Close()
			return fmt.Errorf("snapshot %s: %w", p.name, err)
		}
		if err := p.finish(); err != nil {
			return err
		}
		parts = append(parts, Part{File: p.name, Rows: p.rows, Bytes: p.n, SHA256: hex.EncodeToString(p.sum.Sum(nil))})
		return nil
	}
	defer func() {
		if cur != nil {
			cur.f.Close()
		}
	}()
	for rec := range recs {
		err := func() error {
			defer rec.Release()
			for off := int64(0); off < rec.NumRows(); {
				if cur == nil {
					p, err := newPart(dir, len(parts), schema, props, aprops)
					if err != nil {
						return err
					}
					cur = p
				}
				n := min(rec.NumRows()-off, opts.PartRows-cur.rows)
				slice := rec
				if off > 0 || n < rec.NumRows() {
					slice = rec.NewSlice(off, off+n)
				} else {
					rec.Retain()
				}
				open = append(open, slice)
				openBytes += batchBytes(slice)
				if err := cur.fw.WriteBuffered(slice); err != nil {
					return fmt.Errorf("snapshot %s: %w", cur.name, err)
				}
				cur.rows += n
				off += n
				// A part about to close ends its row group itself (a new
				// one now would be left empty).
				if rows, err := cur.fw.RowGroupNumRows(); err == nil && cur.rows < opts.PartRows &&
					(int64(rows) >= opts.RowGroupRows || openBytes >= maxOpenBytes) {
					cur.fw.NewBufferedRowGroup()
					releaseOpen()
				}
				if cur.rows >= opts.PartRows {
					if err := closePart(); err != nil {
						return err
					}
				}
			}
			return ctx.Err()
		}()
		if err != nil {
			return parts, err
		}
	}
	if err := closePart(); err != nil {
		return parts, err
	}
	return parts, ctx.Err()
}

func newPart(dir string, i int, schema *arrow.Schema, props *parquet.WriterProperties, aprops pqarrow.ArrowWriterProperties) (*partWriter, error) {
	name := fmt.Sprintf("part-%05d.parquet", i)
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	p := &partWriter{f: f, buf: bufio.NewWriterSize(f, 1<<20), sum: sha256.New(), name: name}
	p.fw, err = pqarrow.NewFileWriter(schema, nopCloser{p}, props, aprops)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("snapshot %s: %w", name, err)
	}
	return p, nil
}

// finish flushes and syncs the part's file.
func (p *partWriter) finish() error {
	if err := p.buf.Flush(); err != nil {
		p.f.Close()
		return fmt.Errorf("snapshot %s: %w", p.name, err)
	}
	if err := p.f.Sync(); err != nil {
		p.f.Close()
		return fmt.Errorf("snapshot %s: %w", p.name, err)
	}
	return p.f.Close()
}

// nopCloser keeps the Parquet writer from closing the part before it is
// flushed and synced.
type nopCloser struct{ io.Writer }
