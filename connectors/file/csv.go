package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
)

// maxBatchBytes ends a batch early when its raw text grows this large, so
// string offsets stay within int32 and memory stays bounded.
const maxBatchBytes = 256 << 20

// nullMatcher decides which text fields are NULL.
type nullMatcher struct {
	set bool
	v   string
}

func newNullMatcher(nv *string) nullMatcher {
	if nv == nil {
		return nullMatcher{}
	}
	return nullMatcher{set: true, v: *nv}
}

// match: a field equal to the marker is NULL, quoted or not, except that
// a quoted "" is always the empty string (so NullValue "" makes only
// unquoted empty fields NULL).
func (m nullMatcher) match(f []byte, quoted bool) bool {
	return m.set && len(f) == len(m.v) && (!quoted || len(f) > 0) && string(f) == m.v
}

// openCSV opens the file and reads its header.
func (s *Source) openCSV(ctx context.Context) (io.Closer, *csvScanner, []string, error) {
	rc, bufSize, err := s.openText()
	if err != nil {
		return nil, nil, nil, err
	}
	sc := newCSVScanner(ctx, rc, s.path, s.delim, bufSize)
	sc.skipBOM()
	fields, line, ok := sc.readHeader()
	if !ok {
		rc.Close()
		if sc.err != nil {
			return nil, nil, nil, sc.err
		}
		return nil, nil, nil, &ParseError{File: s.path, Line: 1, Msg: "empty file: no header row"}
	}
	header := make([]string, len(fields))
	seen := make(map[string]int, len(fields))
	var errs []error
	for i, f := range fields {
		name := string(f)
		header[i] = name
		if name == "" {
			errs = append(errs, &ParseError{File: s.path, Line: line, Msg: fmt.Sprintf("empty column name in the header (column %d)", i+1)})
			continue
		}
		if j, dup := seen[name]; dup {
			errs = append(errs, &ParseError{File: s.path, Line: line, Msg: fmt.Sprintf("duplicate column name %q in the header (columns %d and %d)", name, j+1, i+1)})
			continue
		}
		seen[name] = i
	}
	if len(errs) > 0 {
		rc.Close()
		return nil, nil, nil, errors.Join(errs...)
	}
	sc.header = header
	return rc, sc, header, nil
}

// forcedTypes resolves Options.Types against the columns.
func (s *Source) forcedTypes(cols []string) (map[int]forcedType, error) {
	if len(s.opts.Types) == 0 {
		return nil, nil
	}
	index := make(map[string]int, len(cols))
	for i, c := range cols {
		index[c] = i
	}
	out := make(map[int]forcedType, len(s.opts.Types))
	var unknown []string
	for name, t := range s.opts.Types {
		i, ok := index[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		ft, _ := parseTypeName(t) // validated in New
		out[i] = ft
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		errs := make([]error, len(unknown))
		for i, u := range unknown {
			errs[i] = fmt.Errorf("describe %s: type given for unknown column %q (columns: %s): %w",
				s.name, u, strings.Join(cols, ", "), connectors.ErrColumnNotFound)
		}
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// describeCSV reads the header and, unless every column's type is forced,
// tokenizes the whole file once to infer the column types.
func (s *Source) describeCSV(ctx context.Context) (*plan, error) {
	rc, sc, header, err := s.openCSV(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	forced, err := s.forcedTypes(header)
	if err != nil {
		return nil, err
	}
	ncol := len(header)
	stats := make([]colStats, ncol)
	var active []int // columns still being classified
	keep := make([]bool, ncol)
	for i := range header {
		ft, isForced := forced[i]
		if !isForced || ft.autoScale {
			active = append(active, i)
			keep[i] = isForced // a forced decimal needs its scale even if text appears
		}
	}
	if len(active) > 0 {
		null := newNullMatcher(s.opts.NullValue)
		for {
			rows := sc.nextChunk(chunkRows, ncol)
			if rows == 0 {
				break
			}
			for k := 0; k < len(active); k++ {
				c := active[k]
				st := &stats[c]
				st.observeColumn(sc, c, ncol, rows, null, keep[c])
				if st.isText() && !keep[c] {
					active = append(active[:k], active[k+1:]...)
					k--
				}
			}
		}
		if sc.err != nil {
			return nil, sc.err
		}
	}
	p := &plan{types: make([]colType, ncol)}
	fields := make([]arrow.Field, ncol)
	for i, name := range header {
		var t colType
		if ft, ok := forced[i]; ok {
			t = ft.colType
			if ft.autoScale {
				t.scale = int32(stats[i].maxScale)
			}
		} else {
			t = stats[i].resolve()
			if n := stats[i].note(name); n != "" {
				p.info.Notes = append(p.info.Notes, n)
			}
		}
		p.types[i] = t
		fields[i] = t.field(name)
	}
	p.info.Schema = arrow.NewSchema(fields, nil)
	p.info.EstimatedRows = -1
	return p, nil
}

// valueError reports a field that is not a valid value of its column type.
func valueError(file string, line int, col string, t colType, f []byte) error {
	return &ParseError{File: file, Line: line, Column: col,
		Msg: fmt.Sprintf("column %s: %q is not a valid %s", col, sample(f), t)}
}

func (s *Source) readCSV(ctx context.Context, p *plan, proj []int, mem memory.Allocator, batch int) (array.RecordReader, error) {
	rc, sc, header, err := s.openCSV(ctx)
	if err != nil {
		return nil, err
	}
	if len(header) != len(p.types) || strings.Join(header, "\x00") != strings.Join(fieldNames(p.info.Schema), "\x00") {
		rc.Close()
		return nil, &ParseError{File: s.path, Line: 1, Msg: "the header changed since the file was described"}
	}
	r := &csvReader{
		textReader: textReader{refs: 1, ctx: ctx, rc: rc},
		sc:         sc,
		file:       s.path,
		header:     header,
		types:      p.types,
		proj:       proj,
		null:       newNullMatcher(s.opts.NullValue),
		mem:        mem,
		batch:      batch,
	}
	fields := make([]arrow.Field, len(proj))
	r.builders = make([]*colBuilder, len(proj))
	for k, fi := range proj {
		fields[k] = p.info.Schema.Field(fi)
		r.builders[k] = newColBuilder(p.types[fi], mem, batch)
	}
	r.schema = arrow.NewSchema(fields, nil)
	return r, nil
}

// csvReader is the array.RecordReader of a CSV or TSV file.
type csvReader struct {
	textReader
	sc     *csvScanner
	file   string
	header []string
	types  []colType
	proj   []int
	null   nullMatcher
	mem    memory.Allocator
	batch  int
}

func (r *csvReader) Next() bool {
	if !r.begin() {
		return false
	}
	sc := r.sc
	ncol := len(r.header)
	rows, size := 0, 0
	for rows < r.batch && size < maxBatchBytes {
		n := sc.nextChunk(min(chunkRows, r.batch-rows), ncol)
		if n == 0 {
			if sc.err != nil {
				return r.fail(sc.err)
			}
			r.finish()
			break
		}
		for k, fi := range r.proj {
			b := r.builders[k]
			if row, ok := b.appendColumn(sc, fi, ncol, n, r.null); !ok {
				sp := sc.spans[row*ncol+fi]
				return r.fail(valueError(r.file, int(sc.lines[row]), r.header[fi], r.types[fi], sc.text(sp)))
			}
		}
		rows += n
		size += sc.bytes
	}
	return r.emit(rows)
}
