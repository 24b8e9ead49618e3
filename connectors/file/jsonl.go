package file

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// lineReader splits its input into lines over a large read buffer. A line
// stays valid until the next call to next.
type lineReader struct {
	ctx  context.Context
	r    io.Reader
	name string
	buf  []byte
	pos  int
	end  int
	scan int // bytes after pos already known to hold no newline
	eof  bool
	line int // physical line of the last line returned
	err  error
}

func newLineReader(ctx context.Context, r io.Reader, name string, bufSize int) *lineReader {
	return &lineReader{ctx: ctx, r: r, name: name, buf: make([]byte, bufSize)}
}

func (l *lineReader) next() ([]byte, bool) {
	for {
		if i := bytes.IndexByte(l.buf[l.pos+l.scan:l.end], '\n'); i >= 0 {
			ln := l.buf[l.pos : l.pos+l.scan+i]
			l.pos += l.scan + i + 1
			l.scan = 0
			l.line++
			return bytes.TrimSuffix(ln, []byte{'\r'}), true
		}
		l.scan = l.end - l.pos
		if l.eof {
			if l.pos < l.end {
				ln := l.buf[l.pos:l.end]
				l.pos, l.scan = l.end, 0
				l.line++
				return bytes.TrimSuffix(ln, []byte{'\r'}), true
			}
			return nil, false
		}
		if !l.fill() {
			return nil, false
		}
	}
}

func (l *lineReader) fill() bool {
	if err := l.ctx.Err(); err != nil {
		l.err = err
		return false
	}
	if l.pos > 0 {
		copy(l.buf, l.buf[l.pos:l.end])
		l.end -= l.pos
		l.pos = 0
	}
	if l.end == len(l.buf) {
		if len(l.buf) >= maxRecordSize {
			l.err = &ParseError{File: l.name, Line: l.line + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxRecordSize)}
			return false
		}
		nb := make([]byte, 2*len(l.buf))
		copy(nb, l.buf[:l.end])
		l.buf = nb
	}
	n, err := io.ReadFull(l.r, l.buf[l.end:])
	l.end += n
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		l.eof = true
	case err != nil:
		l.err = fmt.Errorf("read %s: %w", l.name, err)
		return false
	}
	return true
}

// JSON value kinds.
const (
	jString uint8 = 1 << iota
	jNumber
	jBool
	jNested // object or array
	jNull
)

func jsonKind(v []byte) uint8 {
	switch v[0] {
	case '"':
		return jString
	case '{', '[':
		return jNested
	case 't', 'f':
		return jBool
	case 'n':
		return jNull
	}
	return jNumber
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// skipJSONString returns the index after the string starting at b[i] and
// whether it holds escapes.
func skipJSONString(b []byte, i int) (int, bool) {
	esc := false
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			esc = true
			i++
		case '"':
			return i + 1, esc
		}
	}
	return len(b), esc
}

func skipJSONValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		j, _ := skipJSONString(b, i)
		return j
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = skipJSONString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}

// jsonLine checks one line and calls fn for each member of its object. It
// returns (false, nil) for a blank line.
func jsonLine(file string, lineNo int, line []byte, fn func(key []byte, val []byte) error) (bool, error) {
	i := skipJSONSpace(line, 0)
	if i == len(line) {
		return false, nil
	}
	if !utf8.Valid(line) {
		return false, &ParseError{File: file, Line: lineNo, Msg: "invalid UTF-8"}
	}
	if !json.Valid(line) {
		var v any
		err := json.Unmarshal(line, &v)
		msg := "invalid JSON"
		if err != nil {
			msg = "invalid JSON: " + err.Error()
		}
		return false, &ParseError{File: file, Line: lineNo, Msg: msg}
	}
	if line[i] != '{' {
		return false, &ParseError{File: file, Line: lineNo, Msg: "not a JSON object"}
	}
	i = skipJSONSpace(line, i+1)
	if line[i] == '}' {
		return true, nil
	}
	var keyBuf []byte
	for {
		kEnd, esc := skipJSONString(line, i)
		key := line[i+1 : kEnd-1]
		if esc {
			var k string
			if err := json.Unmarshal(line[i:kEnd], &k); err != nil {
				return false, &ParseError{File: file, Line: lineNo, Msg: "invalid JSON key: " + err.Error()}
			}
			keyBuf = append(keyBuf[:0], k...)
			key = keyBuf
		}
		i = skipJSONSpace(line, kEnd)
		i = skipJSONSpace(line, i+1) // ':'
		vEnd := skipJSONValue(line, i)
		if err := fn(key, line[i:vEnd]); err != nil {
			return false, err
		}
		i = skipJSONSpace(line, vEnd)
		if line[i] != ',' {
			return true, nil
		}
		i = skipJSONSpace(line, i+1)
	}
}

// jsonStats accumulates the kinds of one JSON Lines column.
type jsonStats struct {
	kinds    uint8
	notInt   bool // some number is not an integer within int64
	notDec   bool // some number is not an exact decimal within 38 digits
	notFloat bool // some number does not survive float64
	maxInt   int
	maxScale int
	text     colStats // for a forced decimal over strings: their scale
}

func (st *jsonStats) observe(v []byte) {
	k := jsonKind(v)
	if k == jNull {
		return
	}
	st.kinds |= k
	if k != jNumber {
		return
	}
	if bytes.IndexAny(v, ".eE") < 0 {
		if n, ok := parseCanonicalInt(v); ok {
			d := len(v)
			if v[0] == '-' {
				d--
			}
			if n == 0 {
				d = 0
			}
			st.maxInt = max(st.maxInt, d)
			if n > maxExactInt || n < -maxExactInt {
				st.notFloat = true
			}
			return
		}
	}
	st.notInt = true
	s := decimalShape(v)
	if !s.ok {
		st.notDec = true
	} else {
		st.maxInt = max(st.maxInt, s.intDigits)
		st.maxScale = max(st.maxScale, s.scale)
	}
	if s.exp || s.sig > 15 {
		if !floatRoundTrips(v) {
			st.notFloat = true
		}
	}
}

func (st *jsonStats) resolve() colType {
	switch st.kinds {
	case 0, jString:
		return colType{kind: kText}
	case jBool:
		return colType{kind: kBool}
	case jNested:
		return colType{kind: kJSON}
	case jNumber:
		switch {
		case !st.notInt:
			return colType{kind: kInt}
		case !st.notDec && st.maxInt+st.maxScale <= maxDecimalDigits:
			return colType{kind: kDecimal, scale: int32(st.maxScale)}
		case !st.notFloat:
			return colType{kind: kFloat}
		}
		return colType{kind: kText}
	}
	return colType{kind: kJSON}
}

// jsonString returns the content of a JSON string value.
func jsonString(v []byte) ([]byte, error) {
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

func (s *Source) describeJSONL(ctx context.Context) (*plan, error) {
	rc, bufSize, err := s.openText()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	lr := newLineReader(ctx, rc, s.path, bufSize)
	index := map[string]int{}
	var names []string
	var stats []*jsonStats
	autoScale := map[string]bool{}
	for name, t := range s.opts.Types {
		if ft, _ := parseTypeName(t); ft.autoScale {
			autoScale[name] = true
		}
	}
	for {
		line, ok := lr.next()
		if !ok {
			break
		}
		_, err := jsonLine(s.path, lr.line, line, func(key, val []byte) error {
			c, ok := index[string(key)]
			if !ok {
				c = len(names)
				index[string(key)] = c
				names = append(names, string(key))
				stats = append(stats, &jsonStats{})
			}
			st := stats[c]
			st.observe(val)
			if jsonKind(val) == jString && autoScale[names[c]] {
				if sv, err := jsonString(val); err == nil {
					st.text.observe(sv, lr.line)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if lr.err != nil {
		return nil, lr.err
	}
	forced, err := s.forcedTypes(names)
	if err != nil {
		return nil, err
	}
	p := &plan{types: make([]colType, len(names))}
	fields := make([]arrow.Field, len(names))
	for i, name := range names {
		t := stats[i].resolve()
		if ft, ok := forced[i]; ok {
			t = ft.colType
			if ft.autoScale {
				t.scale = int32(max(stats[i].maxScale, stats[i].text.maxScale))
			}
		}
		p.types[i] = t
		fields[i] = t.field(name)
	}
	p.info.Schema = arrow.NewSchema(fields, nil)
	p.info.EstimatedRows = -1
	return p, nil
}

func (s *Source) readJSONL(ctx context.Context, p *plan, proj []int, mem memory.Allocator, batch int) (array.RecordReader, error) {
	rc, bufSize, err := s.openText()
	if err != nil {
		return nil, err
	}
	names := fieldNames(p.info.Schema)
	r := &jsonlReader{
		textReader: textReader{refs: 1, ctx: ctx, rc: rc},
		lr:         newLineReader(ctx, rc, s.path, bufSize),
		file:       s.path,
		names:      names,
		types:      p.types,
		index:      make(map[string]int, len(names)),
		slot:       make([]int, len(names)),
		vals:       make([][]byte, len(names)),
		mem:        mem,
		batch:      batch,
	}
	for i, n := range names {
		r.index[n] = i
		r.slot[i] = -1
	}
	fields := make([]arrow.Field, len(proj))
	r.builders = make([]*colBuilder, len(proj))
	for k, fi := range proj {
		fields[k] = p.info.Schema.Field(fi)
		r.builders[k] = newColBuilder(p.types[fi], mem, batch)
		r.builders[k].allowExp = true
		r.slot[fi] = k
	}
	r.schema = arrow.NewSchema(fields, nil)
	return r, nil
}

// jsonlReader is the array.RecordReader of a JSON Lines file.
type jsonlReader struct {
	textReader
	lr      *lineReader
	file    string
	names   []string
	types   []colType
	index   map[string]int
	slot    []int    // column → builder index, -1 when not projected
	vals    [][]byte // the current line's value per builder
	mem     memory.Allocator
	batch   int
	compact bytes.Buffer
}

func (r *jsonlReader) Next() bool {
	if !r.begin() {
		return false
	}
	rows, size := 0, 0
	member := func(key, val []byte) error {
		c, ok := r.index[string(key)]
		if !ok {
			return &ParseError{File: r.file, Line: r.lr.line, Msg: fmt.Sprintf("key %q was not in the file when it was described", key)}
		}
		if k := r.slot[c]; k >= 0 {
			r.vals[k] = val
		}
		return nil
	}
	for rows < r.batch && size < maxBatchBytes {
		line, ok := r.lr.next()
		if !ok {
			if r.lr.err != nil {
				return r.fail(r.lr.err)
			}
			r.finish()
			break
		}
		for k := range r.builders {
			r.vals[k] = nil
		}
		isRow, err := jsonLine(r.file, r.lr.line, line, member)
		if err != nil {
			return r.fail(err)
		}
		if !isRow {
			continue
		}
		for k, b := range r.builders {
			if err := r.appendValue(b, r.vals[k]); err != nil {
				return r.fail(err)
			}
		}
		rows++
		size += len(line)
	}
	return r.emit(rows)
}

// appendValue converts one JSON value to the column's type.
func (r *jsonlReader) appendValue(b *colBuilder, v []byte) error {
	if v == nil {
		b.appendNull()
		return nil
	}
	k := jsonKind(v)
	switch {
	case k == jNull:
		b.appendNull()
		return nil
	case b.typ.kind == kJSON:
		if k == jNested {
			r.compact.Reset()
			if err := json.Compact(&r.compact, v); err != nil {
				return r.valueError(b, v)
			}
			v = r.compact.Bytes()
		}
		b.appendBytes(v)
		return nil
	case k == jString:
		sv, err := jsonString(v)
		if err != nil || (b.typ.kind != kText && !b.appendText(sv)) {
			return r.valueError(b, v)
		}
		if b.typ.kind == kText {
			b.appendBytes(sv)
		}
		return nil
	case k == jNested:
		if b.typ.kind != kText {
			return r.valueError(b, v)
		}
		r.compact.Reset()
		if err := json.Compact(&r.compact, v); err != nil {
			return r.valueError(b, v)
		}
		b.appendBytes(r.compact.Bytes())
		return nil
	case b.typ.kind == kText:
		b.appendBytes(v) // a number or boolean literal
		return nil
	case k == jBool && b.typ.kind != kBool:
		return r.valueError(b, v)
	}
	if !b.appendText(v) {
		return r.valueError(b, v)
	}
	return nil
}

func (r *jsonlReader) valueError(b *colBuilder, v []byte) error {
	name := "?"
	for k, bb := range r.builders {
		if bb == b {
			for c, s := range r.slot {
				if s == k {
					name = r.names[c]
				}
			}
		}
	}
	return valueError(r.file, r.lr.line, name, b.typ, v)
}
