package mysql

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// A scan's rows are read straight from the session's socket rather than
// through the driver: the driver hands over every cell as an interface
// value, which for a number or a byte slice is an allocation; reading
// rows itself took reconcile's CPU on a 1M-row MariaDB pair from 1.03 to
// 0.89 s. textRows sends the
// scan's SELECT as a plain query (MySQL's text protocol) on the driver's
// idle connection, reads the result set itself and hands each cell over
// as a *textCell, a pointer into a slice it reuses. The connection is the
// driver's again once the result set has been read to its end.
//
// Only statements without arguments go this way (a whole scan's first
// attempt, which reads nearly every row; a resume or a key-range read
// binds key values and goes through the driver), and only on connections
// that carry the protocol as is: not under TLS or compression, and
// without the driver's own read and write timeouts, which it applies
// packet by packet.

// textProtocolOK reports whether connections made with cfg carry MySQL's
// protocol as is, so that textRows can speak it on their sockets: no TLS
// (the socket would carry TLS records), no compression (the driver's
// compressed framing), no per-packet timeouts of the driver's.
func textProtocolOK(cfg *mysql.Config) bool {
	if cfg.TLS != nil || (cfg.TLSConfig != "" && cfg.TLSConfig != "false") {
		return false
	}
	if cfg.ReadTimeout != 0 || cfg.WriteTimeout != 0 {
		return false
	}
	return !strings.Contains(cfg.FormatDSN(), "compress=true")
}

// textKinds returns the kinds of a scan's columns (plan columns, in
// SELECT order) when textRows can read them, or nil. Floating-point
// columns cannot: the server writes them as decimal text of its own
// choosing, and the binary protocol gives their exact bits.
func textKinds(p *tablePlan, fields []int) []kind {
	kinds := make([]kind, len(fields))
	for i, f := range fields {
		switch k := p.cols[f].kind; k {
		case kindFloat32, kindFloat64:
			return nil
		default:
			kinds[i] = k
		}
	}
	return kinds
}

// textCell is one cell of a text-protocol row: its bytes, valid until the
// next row, and for an integer column the number, parsed once when it
// fits an int64 (an unsigned bigint beyond that stays digits, as the
// binary protocol gives it).
type textCell struct {
	b      []byte
	i      int64
	form   byte     // 'i': i holds the value; 'b': only b
	digits [20]byte // b for an unsigned value beyond int64, written anew
}

// Protocol constants (MySQL client/server protocol).
const (
	comQuery       = 0x03
	maxPayload     = 1<<24 - 1 // a payload this long continues in the next packet
	pktOK          = 0x00
	pktEOF         = 0xfe
	pktErr         = 0xff
	pktLocalInfile = 0xfb
	lenencNull     = 0xfb
	textBufSize    = 256 << 10
	maxTextQuery   = 1 << 20 // longer statements go through the driver
)

// errProtocol is a result the reader could not follow; the connection is
// then closed, as the driver would close it.
var errProtocol = errors.New("malformed result from the server")

// textRows is an open text-protocol result set (driver.Rows).
type textRows struct {
	conn     net.Conn
	buf      []byte
	pos, end int
	seq      byte
	big      []byte // a payload of several packets
	replay   []byte // a payload read ahead, for Next to take first
	kinds    []kind
	cells    []textCell
	done     bool  // the result set ended (EOF, OK or ERR read)
	broken   error // the connection is unusable: what broke it
	stopWait func() bool
}

// textQuery sends sql (no arguments) over the text protocol and reads the
// result set's header; kinds are the columns' kinds, in SELECT order.
// ctx is the session's context: once it is done the socket is closed,
// the last resort to stop a statement (s.watch kills it first). On an
// error the rows come back closed, for the caller to see whether they
// broke the connection.
func textQuery(ctx context.Context, conn net.Conn, sql string, kinds []kind) (*textRows, error) {
	t := &textRows{conn: conn, buf: make([]byte, textBufSize), kinds: kinds, cells: make([]textCell, len(kinds))}
	t.stopWait = context.AfterFunc(ctx, func() { conn.Close() })
	if err := t.start(sql); err != nil {
		t.Close()
		return t, err
	}
	return t, nil
}

func (t *textRows) start(sql string) error {
	pkt := make([]byte, 5+len(sql))
	n := 1 + len(sql)
	pkt[0], pkt[1], pkt[2], pkt[3] = byte(n), byte(n>>8), byte(n>>16), 0
	pkt[4] = comQuery
	copy(pkt[5:], sql)
	if _, err := t.conn.Write(pkt); err != nil {
		return t.fail(err)
	}
	t.seq = 1
	p, err := t.packet()
	if err != nil {
		return err
	}
	switch p[0] {
	case pktErr:
		t.done = true
		return errPacket(p)
	case pktOK, pktLocalInfile:
		return t.fail(fmt.Errorf("%w: the statement returned no result set (packet 0x%02x)", errProtocol, p[0]))
	}
	cols, n2 := lenenc(p)
	// (MariaDB may follow the count with a metadata flag.)
	if n2 == 0 || cols != uint64(len(t.kinds)) {
		return t.fail(fmt.Errorf("%w: a result set header for %d columns, expected %d", errProtocol, cols, len(t.kinds)))
	}
	for range cols {
		if _, err := t.packet(); err != nil {
			return err
		}
	}
	// Without CLIENT_DEPRECATE_EOF an EOF packet (5 bytes) ends the column
	// definitions; with it the rows follow at once and the result set
	// ends with an OK packet of at least 7 bytes under the EOF header.
	p, err = t.packet()
	if err != nil {
		return err
	}
	if p[0] == pktEOF && len(p) == 5 {
		return nil
	}
	t.replay = p // the first row, or the end of an empty result
	return nil
}

// Columns is required by driver.Rows; the scan knows its columns.
func (t *textRows) Columns() []string { return make([]string, len(t.kinds)) }

// Next reads the next row into dest: nil for NULL, else a *textCell
// valid until the next call.
func (t *textRows) Next(dest []driver.Value) error {
	if t.broken != nil {
		return t.broken
	}
	if t.done {
		return io.EOF
	}
	var p []byte
	if t.replay != nil {
		p, t.replay = t.replay, nil
	} else {
		var err error
		if p, err = t.packet(); err != nil {
			return err
		}
	}
	switch {
	case p[0] == pktEOF && len(p) <= maxPayload:
		t.done = true
		return io.EOF
	case p[0] == pktErr:
		t.done = true
		return errPacket(p)
	}
	pos := 0
	for i := range dest {
		if pos >= len(p) {
			return t.fail(fmt.Errorf("%w: a row of %d columns ends after %d", errProtocol, len(dest), i))
		}
		if p[pos] == lenencNull {
			dest[i] = nil
			pos++
			continue
		}
		l, n := lenenc(p[pos:])
		if n == 0 || l > uint64(len(p)-pos-n) {
			return t.fail(fmt.Errorf("%w: column %d of a row runs past its packet", errProtocol, i+1))
		}
		pos += n
		c := &t.cells[i]
		c.b = p[pos : pos+int(l) : pos+int(l)]
		pos += int(l)
		c.form = 'b'
		switch t.kinds[i] {
		case kindInt8, kindInt16, kindInt32, kindInt64:
			if v, err := parseInt(c.b); err == nil {
				c.i, c.form = v, 'i'
			}
		case kindUint8, kindUint16, kindUint32, kindUint64:
			if v, err := parseUint(c.b); err == nil {
				if v <= math.MaxInt64 {
					c.i, c.form = int64(v), 'i'
				} else {
					// Without the zeros ZEROFILL pads it with: a key
					// compares with the binary protocol's digits.
					c.b = strconv.AppendUint(c.digits[:0], v, 10)
				}
			}
		}
		dest[i] = c
	}
	if pos != len(p) {
		return t.fail(fmt.Errorf("%w: a row of %d columns has %d bytes left over", errProtocol, len(dest), len(p)-pos))
	}
	return nil
}

// Close reads what is left of the result set, so that the connection is
// ready for the driver's next statement; a connection that cannot be
// read to the end is closed.
func (t *textRows) Close() error {
	defer t.stopWait()
	if p := t.replay; p != nil {
		t.replay = nil
		if p[0] == pktErr || p[0] == pktEOF && len(p) <= maxPayload {
			t.done = true
		}
	}
	for t.broken == nil && !t.done {
		p, err := t.packet()
		if err != nil {
			break
		}
		switch {
		case p[0] == pktEOF && len(p) <= maxPayload:
			t.done = true
		case p[0] == pktErr:
			t.done = true
			if err := errPacket(p); !serverError(err, erQueryInterrupted) {
				return err
			}
		}
	}
	return t.broken
}

// fail closes the connection after an I/O or protocol error and returns
// the error, as one that marks the session lost.
func (t *textRows) fail(err error) error {
	if t.broken == nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		t.broken = fmt.Errorf("%w: %w", mysql.ErrInvalidConn, err)
		t.conn.Close()
	}
	return t.broken
}

// packet returns the next payload, valid until the next call; payloads
// of several packets are joined.
func (t *textRows) packet() ([]byte, error) {
	p, err := t.onePacket()
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, t.fail(fmt.Errorf("%w: an empty packet", errProtocol))
	}
	if len(p) < maxPayload {
		return p, nil
	}
	t.big = append(t.big[:0], p...)
	for {
		q, err := t.onePacket()
		if err != nil {
			return nil, err
		}
		t.big = append(t.big, q...)
		if len(q) < maxPayload {
			return t.big, nil
		}
	}
}

func (t *textRows) onePacket() ([]byte, error) {
	if err := t.fill(4); err != nil {
		return nil, err
	}
	h := t.buf[t.pos : t.pos+4]
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	if h[3] != t.seq {
		return nil, t.fail(fmt.Errorf("%w: packet %d where %d was due", errProtocol, h[3], t.seq))
	}
	t.seq++
	t.pos += 4
	if err := t.fill(n); err != nil {
		return nil, err
	}
	p := t.buf[t.pos : t.pos+n : t.pos+n]
	t.pos += n
	return p, nil
}

// fill makes n unread bytes available at buf[pos:].
func (t *textRows) fill(n int) error {
	if t.broken != nil {
		return t.broken
	}
	if t.end-t.pos >= n {
		return nil
	}
	if t.pos > 0 {
		t.end = copy(t.buf, t.buf[t.pos:t.end])
		t.pos = 0
	}
	if n > len(t.buf) {
		t.buf = append(t.buf[:t.end], make([]byte, n-t.end)...)
	}
	got, err := io.ReadAtLeast(t.conn, t.buf[t.end:], n-t.end)
	t.end += got
	if err != nil {
		return t.fail(err)
	}
	return nil
}

// lenenc reads a length-encoded integer; n is the bytes it took (0 when
// b is too short or does not start one).
func lenenc(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1
	case c == 0xfc && len(b) >= 3:
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3
	case c == 0xfd && len(b) >= 4:
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4
	case c == 0xfe && len(b) >= 9:
		return binary.LittleEndian.Uint64(b[1:]), 9
	}
	return 0, 0
}

// errPacket decodes an ERR packet.
func errPacket(p []byte) error {
	if len(p) < 3 {
		return &mysql.MySQLError{Number: 0, Message: "malformed error packet"}
	}
	e := &mysql.MySQLError{Number: binary.LittleEndian.Uint16(p[1:3])}
	msg := p[3:]
	if len(msg) >= 6 && msg[0] == '#' {
		copy(e.SQLState[:], msg[1:6])
		msg = msg[6:]
	}
	e.Message = string(msg)
	return e
}
