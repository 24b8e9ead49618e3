package postgres

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/testdb"
)

const mixedTable = `CREATE TABLE mixed (
	id int PRIMARY KEY, t text, n12 numeric(12,2), n numeric, ts timestamptz, u uuid, j jsonb, b bytea,
	arr int[], f float8, ok boolean, d date, tm time, iv interval, c char(5))`

const mixedRows = `INSERT INTO mixed
SELECT g, 'row ' || g || repeat('é', g % 7), g * 1.25, (g::numeric / 7)::numeric(40, 20),
       '2026-01-01'::timestamptz + g * interval '1 hour 1.5 second', md5(g::text)::uuid,
       jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g)), decode(md5(g::text), 'hex'),
       ARRAY[g, g + 1], g / 3.0, g % 2 = 0, '2000-01-01'::date + g, '00:00'::time + g * interval '1 minute',
       g * interval '1 day 2 hours', 'c' || (g % 10)
FROM generate_series(1, 300) g;
INSERT INTO mixed (id) VALUES (1000);
INSERT INTO mixed (id, t) VALUES (1001, repeat('long ', 40000))`

// captureCopy returns the binary COPY stream of the whole plan, with the
// key order of the primary key.
func captureCopy(t *testing.T, src *Source, ref connectors.TableRef) (*tablePlan, []int, []byte) {
	t.Helper()
	p, err := src.plan(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int, len(p.cols))
	for i := range all {
		all[i] = i
	}
	l, err := src.acquire(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.release(true)
	var buf bytes.Buffer
	if _, err := l.conn.PgConn().CopyTo(t.Context(), &buf, "COPY ("+p.selectSQL(all, []int{0}, "")+") TO STDOUT (FORMAT binary)"); err != nil {
		t.Fatal(err)
	}
	return p, all, buf.Bytes()
}

// decodeChunks decodes stream handed over in pieces of the sizes chunk
// returns, and renders every row.
func decodeChunks(t *testing.T, mem memory.Allocator, p *tablePlan, fields []int, stream []byte, batch int, chunk func() int) ([]string, error) {
	t.Helper()
	d := newDecoder(mem, p, fields, len(fields), []int{0}, true, batch)
	defer d.release()
	var rows []string
	emit := func() error {
		n := d.rows
		cols := d.arrays(len(d.sinks))
		for r := 0; r < n; r++ {
			var cells []string
			for _, c := range cols {
				cells = append(cells, c.ValueStr(r))
			}
			rows = append(rows, strings.Join(cells, "|"))
		}
		for _, c := range cols {
			c.Release()
		}
		return nil
	}
	d.emit = emit
	d.reset(nil)
	for len(stream) > 0 {
		n := min(chunk(), len(stream))
		if w, err := d.Write(stream[:n]); w != n || err != nil {
			t.Fatalf("Write = %d, %v", w, err)
		}
		stream = stream[n:]
	}
	if err := d.finish(); err != nil {
		return rows, err
	}
	if d.rows > 0 {
		emit()
	}
	return rows, nil
}

// Rows split across writes anywhere decode the same as whole.
func TestCopyDecoderChunking(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn, mixedTable, mixedRows)
	src, err := Open(t.Context(), dsn, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p, fields, stream := captureCopy(t, src, connectors.TableRef{Name: "mixed"})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	whole, err := decodeChunks(t, mem, p, fields, stream, 1<<20, func() int { return len(stream) })
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != 302 {
		t.Fatalf("decoded %d rows, want 302", len(whole))
	}
	if !strings.HasPrefix(whole[0], `1|row 1é|1.25|0.14285714285714285714|2026-01-01 01:00:01.5Z|c4ca4238-a0b9-2382-0dcc-509a6f75849b|{"g": 1, "tags": ["a", 1]}|`) {
		t.Errorf("first row = %s", whole[0])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name  string
		chunk func() int
	}{
		{"1", func() int { return 1 }},
		{"2", func() int { return 2 }},
		{"3", func() int { return 3 }},
		{"7", func() int { return 7 }},
		{"19", func() int { return 19 }},
		{"random", func() int { return 1 + rng.IntN(200) }},
		{"large", func() int { return 64 << 10 }},
	} {
		got, err := decodeChunks(t, mem, p, fields, stream, 7, c.chunk)
		if err != nil {
			t.Errorf("chunks of %s: %v", c.name, err)
			continue
		}
		if strings.Join(got, "\n") != strings.Join(whole, "\n") {
			t.Errorf("chunks of %s: %d rows differ from the whole decode", c.name, len(got))
		}
	}

	// A stream cut short, or with bytes after its end, is an error.
	for _, bad := range [][]byte{stream[:len(stream)-1], stream[:len(stream)/2], append(append([]byte(nil), stream...), 0)} {
		_, err := decodeChunks(t, mem, p, fields, bad, 50, func() int { return 1000 })
		if !errors.Is(err, connectors.ErrBadInput) {
			t.Errorf("a damaged stream of %d bytes: err = %v, want ErrBadInput", len(bad), err)
		}
	}
}

func FuzzCopyDecoder(f *testing.F) {
	f.Add([]byte(copySignature+"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x04\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff"), 3)
	f.Add([]byte("PGCOPY\n"), 1)
	p := &tablePlan{cols: []colPlan{
		{name: "i", kind: kindInt4, field: arrow.Field{Name: "i", Type: arrow.PrimitiveTypes.Int32}, typeName: "integer"},
		{name: "n", kind: kindNumericText, field: arrow.Field{Name: "n", Type: arrow.BinaryTypes.String}, typeName: "numeric"},
	}}
	f.Fuzz(func(t *testing.T, stream []byte, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		d := newDecoder(mem, p, []int{0, 1}, 2, []int{0}, false, 2)
		d.emit = func() error { d.dropRows(); return nil }
		d.reset(nil)
		for len(stream) > 0 {
			n := min(chunk, len(stream))
			d.Write(stream[:n])
			stream = stream[n:]
		}
		d.finish()
		d.dropRows()
		d.release()
		if mem.CurrentAlloc() != 0 {
			t.Errorf("%d bytes leaked", mem.CurrentAlloc())
		}
	})
}

func TestDecodeErrorNamesColumn(t *testing.T) {
	e := &decodeError{column: "amount", msg: "boom"}
	if got := fmt.Sprint(e); got != "column amount: boom" || !errors.Is(e, connectors.ErrBadInput) {
		t.Errorf("decodeError = %q", got)
	}
}

// Batches are cut by the bytes of their variable-width columns too, so
// no column's 32-bit offsets can overflow and memory stays at a couple
// of batches; a value too large for one batch column fails, naming it.
func TestBatchByteBudget(t *testing.T) {
	dsn := testdb.Postgres(t)
	testdb.Exec(t, dsn,
		`CREATE TABLE wide (id int PRIMARY KEY, t text, b bytea)`,
		// 1 MiB of text and 1 KiB of bytea a row; TOAST compresses them.
		`INSERT INTO wide SELECT g, repeat(md5(g::text), 32768), decode(repeat(md5(g::text), 32), 'hex') FROM generate_series(1, 300) g`,
	)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, err := Open(t.Context(), dsn, connectors.Options{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	budget, limit := batchByteBudget, maxVarBytes
	t.Cleanup(func() { batchByteBudget, maxVarBytes = budget, limit })

	const row = 1<<20 + 512
	batchByteBudget = 16 << 20
	rr, err := src.Read(t.Context(), connectors.TableRef{Name: "wide"}, connectors.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next, batches := 1, 0
	for rr.Next() {
		rec := rr.Record()
		batches++
		// The budget is passed by the row that reaches it.
		if n := int(rec.NumRows()); n != min(16, 301-next) {
			t.Errorf("batch %d has %d rows of %d bytes, want %d", batches, n, row, min(16, 301-next))
		}
		ids := rec.Column(0).(*array.Int32)
		txt := rec.Column(1).(*array.String)
		bin := rec.Column(2).(*array.Binary)
		for i := 0; i < int(rec.NumRows()); i++ {
			id := int(ids.Value(i))
			sum := fmt.Sprintf("%x", md5.Sum([]byte(fmt.Sprint(id))))
			v := txt.Value(i)
			if id != next || len(v) != 1<<20 || v[:32] != sum || v[len(v)-32:] != sum || len(bin.Value(i)) != 512 {
				t.Fatalf("row %d: id %d, text of %d bytes (%.40q...)", next, id, len(v), v)
			}
			next++
		}
	}
	if err := rr.Err(); err != nil || next != 301 {
		t.Errorf("read %d rows: %v", next-1, err)
	}
	rr.Release()

	// A value larger than a batch column holds fails, naming the column.
	maxVarBytes = 1<<20 - 1
	rr, err = src.Read(t.Context(), connectors.TableRef{Name: "wide"}, connectors.ReadOptions{Columns: []string{"id", "t"}})
	if err != nil {
		t.Fatal(err)
	}
	for rr.Next() {
		t.Fatal("a batch holding a value over the limit")
	}
	if err := rr.Err(); !errors.Is(err, connectors.ErrBadInput) || !strings.Contains(err.Error(), "column t: ") {
		t.Errorf("a value over the limit: %v", err)
	}
	rr.Release()
}
