package file

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"unicode/utf8"
	"unsafe"

	"github.com/reconhq/reconcile/connectors"
)

// ParseError reports malformed input at a line of a file. It wraps
// connectors.ErrBadInput.
type ParseError struct {
	File   string // the path as given to New
	Line   int    // 1-based physical line where the record starts
	Column string // the column, when the problem is in one field
	Msg    string // the complete message after "file:line: "
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

func (e *ParseError) Unwrap() error { return connectors.ErrBadInput }

const (
	// initialBufSize is the size of a scanner's read buffer (less for a
	// smaller file); it grows when one record does not fit.
	initialBufSize = 1 << 20
	// maxRecordSize bounds one record (one CSV row or one JSON line).
	maxRecordSize = 1 << 30
	// chunkRows is the most records one chunk holds, and maxChunkBytes
	// about the most raw bytes (a chunk ends after the record that crosses
	// it).
	chunkRows     = 2048
	maxChunkBytes = 16 << 20
)

// span is a field's position: buf[start:end], or scratch[^start:end]
// when start < 0. It holds no pointer, so recording one costs no GC write
// barrier.
type span struct {
	start, end int32
	quoted     bool
}

// csvScanner is an RFC 4180 tokenizer over a large read buffer. It
// tokenizes records a chunk at a time: the spans of a chunk's fields, row
// after row, stay valid until the next call to nextChunk. The consumer
// then works column by column over the chunk, which keeps its loops tight
// and its branches predictable.
type csvScanner struct {
	ctx  context.Context
	r    io.Reader
	name string

	buf []byte
	pos int // start of unconsumed data
	end int // end of valid data in buf
	eof bool

	delim   byte
	special [256]bool // bytes that stop an unquoted field (slow path)

	line int // physical line of buf[pos]

	// The current chunk: spans of all its fields, row after row; the
	// physical line where each row starts; the raw bytes it spans.
	spans   []span
	lines   []int32
	bytes   int
	scratch []byte // unescaped quoted fields

	recStart int // index in spans of the record being parsed
	// nextQuote is the position of the next quote in buf at or after the
	// record being parsed, or len(buf) if none; -1 when unknown.
	nextQuote int

	header []string // column names, once known, for messages
	err    error
}

// newCSVScanner returns a scanner with a read buffer of bufSize bytes
// (it grows when one record does not fit).
func newCSVScanner(ctx context.Context, r io.Reader, name string, delim byte, bufSize int) *csvScanner {
	s := &csvScanner{
		ctx:       ctx,
		r:         r,
		name:      name,
		buf:       make([]byte, bufSize),
		delim:     delim,
		line:      1,
		nextQuote: -1,
	}
	s.special[delim] = true
	s.special['\n'] = true
	s.special['"'] = true
	for c := 0x80; c < 0x100; c++ {
		s.special[c] = true
	}
	return s
}

func (s *csvScanner) errorf(line int, format string, args ...any) {
	s.err = &ParseError{File: s.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// skipBOM drops a UTF-8 byte order mark at the start of the input.
func (s *csvScanner) skipBOM() {
	for s.end-s.pos < 3 && !s.eof {
		if !s.fill() {
			return
		}
	}
	if bytes.HasPrefix(s.buf[s.pos:s.end], []byte("\xEF\xBB\xBF")) {
		s.pos += 3
	}
}

// text returns the bytes of a span of the current chunk.
func (s *csvScanner) text(sp span) []byte {
	if sp.start < 0 {
		return s.scratch[^sp.start:sp.end]
	}
	return s.buf[sp.start:sp.end]
}

// readHeader reads the first record, whatever its number of fields, and
// the line where it starts.
func (s *csvScanner) readHeader() ([][]byte, int, bool) {
	if s.nextChunk(1, -1) == 0 {
		return nil, 0, false
	}
	out := make([][]byte, len(s.spans))
	for i, sp := range s.spans {
		out[i] = s.text(sp)
	}
	return out, int(s.lines[0]), true
}

// nextChunk tokenizes up to max records. Each must have ncol fields
// (ncol < 0: any number, for the header). It returns the number of
// records, 0 at the end of the input or on an error (s.err). A chunk ends
// early where the buffer needs refilling, so its spans stay valid.
func (s *csvScanner) nextChunk(max, ncol int) int {
	s.spans = s.spans[:0]
	s.lines = s.lines[:0]
	s.scratch = s.scratch[:0]
	s.bytes = 0
	if s.err != nil {
		return 0
	}
	rows := 0
	for rows < max && s.bytes < maxChunkBytes {
		if rows += s.fastChunk(max-rows, ncol); rows == max || s.bytes >= maxChunkBytes {
			break
		}
		start := s.pos
		line := s.line
		ok, more := s.parse()
		if !ok {
			s.spans = s.spans[:s.recStart]
			if more && rows == 0 && s.fill() {
				continue
			}
			return rows
		}
		if n := len(s.spans) - s.recStart; ncol >= 0 && n != ncol {
			s.errorf(line, "row has %d fields, header has %d", n, ncol)
			return 0
		}
		s.lines = append(s.lines, int32(line))
		s.bytes += s.pos - start
		rows++
	}
	return rows
}

// fill moves the unconsumed tail to the front of the buffer and reads more.
func (s *csvScanner) fill() bool {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return false
	}
	if s.eof {
		return false
	}
	if s.pos > 0 {
		copy(s.buf, s.buf[s.pos:s.end])
		s.end -= s.pos
		s.pos = 0
	}
	s.nextQuote = -1
	if s.end == len(s.buf) {
		if len(s.buf) >= maxRecordSize {
			s.errorf(s.line, "record longer than %d bytes", maxRecordSize)
			return false
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	n, err := io.ReadFull(s.r, s.buf[s.end:])
	s.end += n
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		s.eof = true
	case err != nil:
		s.err = fmt.Errorf("read %s: %w", s.name, err)
		return false
	}
	return true
}

// parse tries to tokenize one record from buf[pos:end], appending its
// fields to s.spans. It returns ok=true with a record, or more=true when
// the record is cut by the end of the buffer and more input may follow.
func (s *csvScanner) parse() (ok, more bool) {
	buf := s.buf[:s.end]
	i := s.pos
	s.recStart = len(s.spans)
	if i >= len(buf) {
		return false, !s.eof
	}
	line := s.line
	delim := s.delim
	for {
		if i < len(buf) && buf[i] == '"' {
			// A quoted field: find the closing quote, unescaping "" pairs.
			i++
			start := i
			escStart := -1
			var sp span
			for {
				j := bytes.IndexByte(buf[i:], '"')
				if j < 0 {
					if !s.eof {
						return false, true
					}
					s.errorf(s.line, "unterminated quoted field")
					return false, false
				}
				line += bytes.Count(buf[i:i+j], []byte{'\n'})
				q := i + j
				if q+1 >= len(buf) && !s.eof {
					return false, true // cannot tell "" from a closing quote yet
				}
				if q+1 < len(buf) && buf[q+1] == '"' {
					if escStart < 0 {
						escStart = len(s.scratch)
					}
					s.scratch = append(s.scratch, buf[i:q+1]...)
					i = q + 2
					continue
				}
				var field []byte
				if escStart >= 0 {
					s.scratch = append(s.scratch, buf[i:q]...)
					field = s.scratch[escStart:]
					sp = span{int32(^escStart), int32(len(s.scratch)), true}
				} else {
					field = buf[start:q]
					sp = span{int32(start), int32(q), true}
				}
				if !utf8.Valid(field) {
					s.badUTF8(len(s.spans) - s.recStart)
					return false, false
				}
				i = q + 1
				break
			}
			s.spans = append(s.spans, sp)
			if i >= len(buf) { // eof
				break
			}
			c := buf[i]
			if c == delim {
				i++
				continue
			}
			if c == '\n' {
				i++
				line++
				break
			}
			if c == '\r' {
				if i+1 < len(buf) && buf[i+1] == '\n' {
					i += 2
					line++
					break
				}
				if i+1 >= len(buf) {
					if !s.eof {
						return false, true
					}
					i++
					break
				}
			}
			s.errorf(s.line, "unexpected %q after the closing quote of column %s", c, s.columnName(len(s.spans)-s.recStart-1))
			return false, false
		}
		// An unquoted field.
		start := i
		for i < len(buf) && !s.special[buf[i]] {
			i++
		}
		if i < len(buf) && buf[i] >= 0x80 {
			for i < len(buf) {
				c := buf[i]
				if c == delim || c == '\n' || c == '"' {
					break
				}
				i++
			}
			if i == len(buf) && !s.eof {
				return false, true // the field (maybe a character) is cut
			}
			if !utf8.Valid(buf[start:i]) {
				s.badUTF8(len(s.spans) - s.recStart)
				return false, false
			}
		}
		if i >= len(buf) {
			if !s.eof {
				return false, true
			}
			e := i
			if e > start && buf[e-1] == '\r' {
				e--
			}
			s.spans = append(s.spans, span{int32(start), int32(e), false})
			break
		}
		c := buf[i]
		if c == delim {
			s.spans = append(s.spans, span{int32(start), int32(i), false})
			i++
			continue
		}
		if c == '"' {
			s.errorf(s.line, "bare quote in unquoted field of column %s (quote the whole field and double the quote)", s.columnName(len(s.spans)-s.recStart))
			return false, false
		}
		// '\n'
		e := i
		if e > start && buf[e-1] == '\r' {
			e--
		}
		s.spans = append(s.spans, span{int32(start), int32(e), false})
		i++
		line++
		break
	}
	if rec := s.spans[s.recStart:]; len(rec) == 1 && !rec[0].quoted && rec[0].start == rec[0].end {
		// An empty line: ignored when only empty lines follow.
		k := i
		for k < len(buf) && (buf[k] == '\n' || buf[k] == '\r') {
			k++
		}
		if k == len(buf) {
			if !s.eof {
				return false, true
			}
			s.pos = k
			return false, false
		}
	}
	s.line = line
	s.pos = i
	return true, false
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
	lows  = 0x7F7F7F7F7F7F7F7F
)

// zeroBytes has the high bit set in exactly the bytes of x that are zero.
func zeroBytes(x uint64) uint64 {
	return ^(((x & lows) + lows) | x | lows)
}

// fastChunk tokenizes up to max records from s.pos for as long as they
// are simple: a newline inside the buffer (with eight bytes to spare), no
// quote, valid UTF-8, not empty, and ncol fields when ncol >= 0. It
// returns how many it added to the chunk; the general parser takes the
// first record it refuses.
func (s *csvScanner) fastChunk(max, ncol int) int {
	buf := s.buf[:s.end]
	limit := len(buf) - 8
	base := unsafe.Pointer(unsafe.SliceData(buf))
	dm := uint64(s.delim) * ones
	rows := 0
	for rows < max && s.pos <= limit && s.bytes < maxChunkBytes {
		rec := s.pos
		n := len(s.spans)
		if cap(s.spans)-n < 64 {
			s.spans = append(s.spans[:n:n], make([]span, 64+n)...)[:n]
		}
		k, nl, any := splitRecord(base, rec, limit, dm, s.spans[n:cap(s.spans)])
		if nl < 0 || nl == rec || (ncol >= 0 && k != ncol) {
			break // cut by the buffer's end, too wide, empty, or to report
		}
		if s.nextQuote < rec {
			if q := bytes.IndexByte(buf[rec:], '"'); q >= 0 {
				s.nextQuote = rec + q
			} else {
				s.nextQuote = len(buf)
			}
		}
		if nl > s.nextQuote || (any&highs != 0 && !utf8.Valid(buf[rec:nl])) {
			break
		}
		s.spans = s.spans[:n+k]
		if last := &s.spans[n+k-1]; last.end > last.start && buf[last.end-1] == '\r' {
			last.end--
		}
		s.lines = append(s.lines, int32(s.line))
		s.line++
		s.bytes += nl + 1 - rec
		s.pos = nl + 1
		rows++
	}
	return rows
}

// splitRecord records the spans of the fields of the record that starts
// at i, up to its newline, and returns how many it recorded, where the
// newline is (-1 if it is past limit or spans are full) and the OR of the
// words it read (to detect non-ASCII bytes). Loads start at most at limit,
// so they stay inside the buffer. Each field starts a new unaligned word
// load: field lengths repeat column by column, which keeps the branches
// predictable; few live variables keep the loop in registers.
func splitRecord(base unsafe.Pointer, i, limit int, dm uint64, spans []span) (k, nl int, any uint64) {
	const nm = uint64('\n') * ones
	start := i
	for j := i; j <= limit; {
		w := binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(base, j))[:])
		any |= w
		// zeroBytes(x) | zeroBytes(y), sharing the final steps
		x, y := w^dm, w^nm
		m := highs &^ ((((x & lows) + lows) | x) & (((y & lows) + lows) | y))
		if m == 0 {
			j += 8
			continue
		}
		p := j + bits.TrailingZeros64(m)>>3
		if k == len(spans) {
			return k, -1, any
		}
		spans[k] = span{int32(start), int32(p), false}
		k++
		if *(*byte)(unsafe.Add(base, p)) == '\n' {
			return k, p, any
		}
		start = p + 1
		j = start
	}
	return k, -1, any
}

// badUTF8 reports invalid UTF-8 in field idx of the record being parsed;
// the message names the column by its header name when known.
func (s *csvScanner) badUTF8(idx int) {
	col := s.columnName(idx)
	s.err = &ParseError{File: s.name, Line: s.line, Column: col, Msg: "invalid UTF-8 in column " + col}
}

// columnName names column idx by its header name when known.
func (s *csvScanner) columnName(idx int) string {
	if s.header != nil && idx < len(s.header) {
		return s.header[idx]
	}
	return fmt.Sprintf("%d", idx+1)
}
