package mysql

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
)

// The protocol cases a real server does not produce on demand: both ways
// of ending column definitions and result sets, rows of several packets,
// errors and malformed results. The real server's results go through
// textRows in every scan of the package's other tests.

// fakeServer answers one COM_QUERY on the other end of a pipe with the
// given payloads (sequence numbers from 1), then closes or stays open.
func fakeServer(t *testing.T, payloads [][]byte, seqs []byte, stayOpen bool) (net.Conn, <-chan []byte) {
	t.Helper()
	client, server := net.Pipe()
	got := make(chan []byte, 1)
	go func() {
		defer func() {
			if !stayOpen {
				server.Close()
			}
		}()
		hdr := make([]byte, 4)
		if _, err := io.ReadFull(server, hdr); err != nil {
			return
		}
		q := make([]byte, int(hdr[0])|int(hdr[1])<<8|int(hdr[2])<<16)
		if _, err := io.ReadFull(server, q); err != nil {
			return
		}
		got <- q
		seq := byte(1)
		for i, p := range payloads {
			if seqs != nil {
				seq = seqs[i]
			}
			for {
				n := min(len(p), maxPayload)
				if _, err := server.Write(append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, p[:n]...)); err != nil {
					return
				}
				seq++
				p = p[n:]
				if n < maxPayload {
					break
				}
			}
		}
	}()
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, got
}

func lenencStr(s string) []byte {
	var b []byte
	switch n := len(s); {
	case n < 0xfb:
		b = []byte{byte(n)}
	case n < 1<<16:
		b = []byte{0xfc, byte(n), byte(n >> 8)}
	case n < 1<<24:
		b = []byte{0xfd, byte(n), byte(n >> 8), byte(n >> 16)}
	default:
		b = []byte{0xfe, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), 0, 0, 0, 0}
	}
	return append(b, s...)
}

func row(cells ...*string) []byte {
	var p []byte
	for _, c := range cells {
		if c == nil {
			p = append(p, lenencNull)
		} else {
			p = append(p, lenencStr(*c)...)
		}
	}
	return p
}

func sp(s string) *string { return &s }

var (
	colDef   = []byte("\x03def\x00\x00\x00\x01a\x00\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00")
	eofOld   = []byte{pktEOF, 0, 0, 2, 0}
	okEOF    = []byte{pktEOF, 0, 0, 2, 0, 0, 0}
	errKill  = append([]byte{pktErr, 0x25, 0x05, '#', '7', '0', '1', '0', '0'}, "Query execution was interrupted"...)
	twoKinds = []kind{kindInt64, kindText}
)

// readAll reads every row as strings ("NULL" for NULL), and the numbers
// of the integer cells.
func readAll(t *testing.T, rows *textRows) (out []string, err error) {
	dest := make([]driver.Value, len(rows.kinds))
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		var cells []string
		for _, v := range dest {
			switch x := v.(type) {
			case nil:
				cells = append(cells, "NULL")
			case *textCell:
				if x.form == 'i' {
					cells = append(cells, "i:"+string(x.b))
				} else {
					cells = append(cells, string(x.b))
				}
			default:
				t.Fatalf("cell %T", v)
			}
		}
		out = append(out, strings.Join(cells, ","))
	}
}

func TestTextRowsEndings(t *testing.T) {
	rows := [][]byte{row(sp("1"), sp("x")), row(sp("-7"), nil), row(nil, sp(""))}
	want := "i:1,x|i:-7,NULL|NULL,"
	cases := []struct {
		name     string
		payloads [][]byte
		want     string
	}{
		{"deprecated EOF", append(append([][]byte{{2}, colDef, colDef}, rows...), okEOF), want},
		{"EOF packets", append(append([][]byte{{2}, colDef, colDef, eofOld}, rows...), eofOld), want},
		{"deprecated EOF, no rows", [][]byte{{2}, colDef, colDef, okEOF}, ""},
		{"EOF packets, no rows", [][]byte{{2}, colDef, colDef, eofOld, eofOld}, ""},
		{"MariaDB metadata flag after the count", append(append([][]byte{{2, 1}, colDef, colDef}, rows...), okEOF), want},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, got := fakeServer(t, c.payloads, nil, true)
			r, err := textQuery(context.Background(), conn, "select a, b from t", twoKinds)
			if err != nil {
				t.Fatal(err)
			}
			if q := <-got; string(q) != "\x03select a, b from t" {
				t.Fatalf("sent %q", q)
			}
			out, err := readAll(t, r)
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(out, "|"); s != c.want {
				t.Errorf("rows %q, want %q", s, c.want)
			}
			if err := r.Close(); err != nil || r.broken != nil {
				t.Errorf("Close = %v, broken %v", err, r.broken)
			}
		})
	}
}

func TestTextRowsLongRow(t *testing.T) {
	// A row of more than one packet (16 MiB each), and one of exactly
	// 16 MiB - 1, which an empty packet follows.
	long := strings.Repeat("ab", maxPayload/2+10)
	exact := strings.Repeat("c", maxPayload-2-4) // with "1" and the lengths, maxPayload bytes
	r1, r2 := row(sp("1"), sp(long)), row(sp("1"), sp(exact))
	if len(r2) != maxPayload {
		t.Fatalf("test row of %d bytes", len(r2))
	}
	conn, _ := fakeServer(t, [][]byte{{2}, colDef, colDef, r1, r2, row(sp("2"), sp("z")), okEOF}, nil, true)
	r, err := textQuery(context.Background(), conn, "q", twoKinds)
	if err != nil {
		t.Fatal(err)
	}
	out, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || out[0] != "i:1,"+long || out[1] != "i:1,"+exact || out[2] != "i:2,z" {
		t.Fatalf("got %d rows", len(out))
	}
}

func TestTextRowsServerError(t *testing.T) {
	// A statement killed mid-result: the server's error, and the
	// connection stays usable.
	conn, _ := fakeServer(t, [][]byte{{2}, colDef, colDef, row(sp("1"), sp("x")), errKill}, nil, true)
	r, err := textQuery(context.Background(), conn, "q", twoKinds)
	if err != nil {
		t.Fatal(err)
	}
	out, err := readAll(t, r)
	var me *mysql.MySQLError
	if len(out) != 1 || !errors.As(err, &me) || me.Number != erQueryInterrupted || string(me.SQLState[:]) != "70100" ||
		me.Message != "Query execution was interrupted" {
		t.Fatalf("rows %q, err %#v", out, err)
	}
	if !connectionLost(err) || sessionGone(err) {
		t.Errorf("a killed query should be retried on the same session: lost %v, gone %v", connectionLost(err), sessionGone(err))
	}
	if err := r.Close(); err != nil || r.broken != nil {
		t.Errorf("Close = %v, broken %v", err, r.broken)
	}

	// An error instead of a result set.
	conn, _ = fakeServer(t, [][]byte{errKill}, nil, true)
	if _, err := textQuery(context.Background(), conn, "q", twoKinds); !errors.As(err, &me) || me.Number != erQueryInterrupted {
		t.Fatalf("err %v", err)
	}
}

func TestTextRowsCloseDrains(t *testing.T) {
	conn, _ := fakeServer(t, [][]byte{{2}, colDef, colDef, row(sp("1"), sp("x")), row(sp("2"), sp("y")), row(sp("3"), sp("z")), okEOF}, nil, true)
	r, err := textQuery(context.Background(), conn, "q", twoKinds)
	if err != nil {
		t.Fatal(err)
	}
	dest := make([]driver.Value, 2)
	if err := r.Next(dest); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil || !r.done || r.broken != nil {
		t.Fatalf("Close = %v, done %v, broken %v", err, r.done, r.broken)
	}
}

func TestTextRowsMalformed(t *testing.T) {
	cases := []struct {
		name     string
		payloads [][]byte
		seqs     []byte
		open     bool
		want     string
	}{
		{"column count", [][]byte{{3}, colDef, colDef, colDef, okEOF}, nil, true, "3 columns, expected 2"},
		{"no result set", [][]byte{{pktOK, 0, 0, 2, 0, 0, 0}}, nil, true, "no result set"},
		{"short row", [][]byte{{2}, colDef, colDef, row(sp("1"))}, nil, true, "ends after 1"},
		{"cell past the packet", [][]byte{{2}, colDef, colDef, append(row(sp("1")), 5, 'a')}, nil, true, "runs past its packet"},
		{"bytes left over", [][]byte{{2}, colDef, colDef, append(row(sp("1"), sp("x")), 'z')}, nil, true, "left over"},
		{"sequence", [][]byte{{2}, colDef, colDef, row(sp("1"), sp("x"))}, []byte{1, 2, 3, 9}, true, "packet 9 where 4 was due"},
		{"empty packet", [][]byte{{2}, colDef, colDef, {}}, nil, true, "empty packet"},
		{"connection closed", [][]byte{{2}, colDef, colDef, row(sp("1"), sp("x"))}, nil, false, "unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, _ := fakeServer(t, c.payloads, c.seqs, c.open)
			r, err := textQuery(context.Background(), conn, "q", twoKinds)
			if err == nil {
				_, err = readAll(t, r)
			}
			if r == nil || r.broken == nil {
				t.Fatalf("err %v: the rows do not say the connection broke", err)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one saying %q", err, c.want)
			}
			if !errors.Is(err, mysql.ErrInvalidConn) || !sessionGone(err) || errors.Is(err, io.EOF) {
				t.Errorf("err %v should mark the session lost (and not read as the end of the rows)", err)
			}
			// The connection is closed: nothing else may use it.
			if _, werr := conn.Write([]byte{0}); werr == nil {
				t.Error("the connection is still open")
			}
		})
	}
}

func TestTextRowsContextClosesSocket(t *testing.T) {
	// A server that never finishes: cancelling the session's context
	// closes the socket, and the read fails rather than hangs.
	conn, _ := fakeServer(t, [][]byte{{2}, colDef, colDef, row(sp("1"), sp("x"))}, nil, true)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := textQuery(ctx, conn, "q", twoKinds)
	if err != nil {
		t.Fatal(err)
	}
	dest := make([]driver.Value, 2)
	if err := r.Next(dest); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := r.Next(dest); err == nil || !sessionGone(err) {
		t.Fatalf("err %v, want the session lost", err)
	}
	r.Close()
}

func TestTextCellKeysMatchDriverValues(t *testing.T) {
	// A key read by textRows equals the same key read by the driver (a
	// resume goes through the driver), whichever form the driver uses.
	cases := []struct {
		cell textCell
		same []driver.Value
		diff []driver.Value
	}{
		{textCell{b: []byte("42"), i: 42, form: 'i'}, []driver.Value{int64(42), uint64(42)}, []driver.Value{int64(43), []byte("42"), nil}},
		{textCell{b: []byte("18446744073709551615"), form: 'b'}, []driver.Value{uint64(1<<64 - 1), []byte("18446744073709551615")}, []driver.Value{uint64(1<<64 - 2), nil}},
		{textCell{b: []byte("abc"), form: 'b'}, []driver.Value{[]byte("abc")}, []driver.Value{[]byte("abd"), nil}},
	}
	for _, c := range cases {
		var k keyCell
		k.set(&c.cell)
		for _, v := range c.same {
			if !k.equal(v) {
				t.Errorf("key from %q does not equal %#v", c.cell.b, v)
			}
			var k2 keyCell
			k2.set(v)
			if !k2.equal(&c.cell) {
				t.Errorf("key from %#v does not equal cell %q", v, c.cell.b)
			}
		}
		for _, v := range c.diff {
			if k.equal(v) {
				t.Errorf("key from %q equals %#v", c.cell.b, v)
			}
		}
	}
	if !bytes.Equal(lenencStr("ab"), []byte{2, 'a', 'b'}) {
		t.Fatal("lenencStr")
	}
}

func TestTextRowsUnsignedDigits(t *testing.T) {
	// ZEROFILL pads the text protocol's digits, not the binary
	// protocol's: an unsigned bigint beyond int64 is handed on without
	// the zeros, so that a resume through the driver recognises the key.
	conn, _ := fakeServer(t, [][]byte{{2}, colDef, colDef,
		row(sp("09223372036854775808"), sp("00042")), row(sp("18446744073709551615"), sp("7")), okEOF}, nil, true)
	r, err := textQuery(context.Background(), conn, "q", []kind{kindUint64, kindUint32})
	if err != nil {
		t.Fatal(err)
	}
	out, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(out, "|"); s != "9223372036854775808,i:00042|18446744073709551615,i:7" {
		t.Fatalf("rows %q", s)
	}
}

func TestSessionUnusableOnceCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ss := &session{ctx: ctx, cancel: cancel}
	if !ss.usable() {
		t.Fatal("a live session is unusable")
	}
	cancel()
	if ss.usable() {
		t.Fatal("a session whose context was cancelled (its socket closed) is usable")
	}
}

// readRows reads a whole table in key order and renders its rows.
func readRows(t *testing.T, src *Source, table string) []string {
	t.Helper()
	r, err := src.ReadOrdered(t.Context(), connectors.TableRef{Name: table}, []string{"id"}, connectors.ReadOptions{BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var got []string
	for r.Next() {
		rec := r.Record()
		for i := range int(rec.NumRows()) {
			var row []string
			for c := range int(rec.NumCols()) {
				row = append(row, rec.Column(c).ValueStr(i))
			}
			got = append(got, strings.Join(row, " | "))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// Every column kind textRows reads gives the same Arrow values as the
// driver's binary protocol; a table with a float column is read by the
// driver.
func TestTextRowsMatchBinaryProtocol(t *testing.T) {
	loc := testdb.MySQL(t)
	testdb.ExecMySQL(t, loc,
		"CREATE TABLE t (id int PRIMARY KEY, ti tinyint, si smallint unsigned, mi mediumint, bi bigint, "+
			"ub bigint(20) unsigned zerofill, y year, b1 bit(1), b9 bit(9), d decimal(12,3), dw decimal(50,10), "+
			"dt date, ts datetime(6), ts0 timestamp NULL, tm time(3), s varchar(20), c char(5), j json, "+
			"e enum('a','b'), st set('x','y'), bl blob, vb varbinary(8))",
		"INSERT INTO t VALUES "+
			"(1, -128, 65535, -8388608, -9223372036854775808, 18446744073709551615, 1901, b'1', b'100000001', "+
			"-123456789.123, 1234567890123456789012345678901234567890.0123456789, '0000-00-00', '2026-01-02 03:04:05.123456', "+
			"'2026-05-06 07:08:09', '-838:59:59.000', 'Straße', 'ab', '{\"b\": [1, 2.50], \"a\": null}', 'b', 'x,y', x'00ff10', x'')",
		"INSERT INTO t VALUES "+
			"(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "+
			"(3, 127, 0, 8388607, 9223372036854775807, 42, 2155, b'0', b'0', 0.001, -0.0000000001, '9999-12-31', '1000-01-01 00:00:00', "+
			"'1970-01-01 00:00:01', '123:00:00.5', '', '', '[]', 'a', '', x'', x'0102030405060708')",
		"INSERT INTO t SELECT seq + 10, seq % 100, seq, -seq, seq * 1000003, seq * 7, 2000 + seq % 50, seq % 2, seq % 512, "+
			"seq / 7, seq / 3, '2026-01-01' + INTERVAL seq DAY, '2026-01-01' + INTERVAL seq SECOND, NULL, SEC_TO_TIME(seq), "+
			"CONCAT('row ', seq), 'c', CONCAT('{\"n\": ', seq, '}'), 'a', 'y', UNHEX(HEX(seq)), '' FROM seq_1_to_40",
		"CREATE TABLE f (id int PRIMARY KEY, x double)",
		"INSERT INTO f VALUES (1, 0.1), (2, 1e300)",
	)
	src, err := Config{}.Open(t.Context(), loc, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if !src.text {
		t.Fatal("a plain TCP location should read with textRows")
	}
	text := readRows(t, src, "t")
	if n := src.textScans.Load(); n != 1 {
		t.Fatalf("%d statements read by textRows, want 1", n)
	}
	src.text = false
	binary := readRows(t, src, "t")
	if len(text) != 43 || !slices.Equal(text, binary) {
		t.Fatalf("text protocol:\n%s\nbinary protocol:\n%s", strings.Join(text, "\n"), strings.Join(binary, "\n"))
	}
	src.text = true
	if got := readRows(t, src, "f"); len(got) != 2 || src.textScans.Load() != 1 {
		t.Errorf("float table: %q, %d statements read by textRows (want the driver's)", got, src.textScans.Load())
	}
}
