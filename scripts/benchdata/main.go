// Command benchdata generates a deterministic source/target pair of data files
// for benchmarking `reconcile diff` (see scripts/bench-files.sh).
//
// Both files have 8 columns:
//
//	id           int, 1..N (the key)
//	name         text; some contain commas and/or double quotes, so CSV
//	             quoting is exercised
//	email        text
//	amount       decimal with 2 places (1234.50)
//	qty          int
//	created_at   timestamp UTC, 2026-01-02T03:04:05Z, some with microseconds
//	signup_date  date, YYYY-MM-DD
//	active       true/false
//
// The target is the source with a small drift (default 0.1% of N): a third
// of it deleted (missing), a third new rows (extra, ids N+1...), a third
// changed (email or amount). The target is written in id order, like a
// normal export, unless -shuffle-target is given.
//
// Output files in -out: source.csv, target.csv, source.parquet,
// target.parquet (per -format) and expected.json. The expected counts are
// also printed to stderr as
//
//	expected missing=667 extra=667 changed=667
//
// The same -rows and -seed always give byte-identical source files; the
// drift and shuffle use their own random streams, so changing -drift or
// -shuffle-target leaves the source untouched.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// Config is what one run generates.
type Config struct {
	Rows          int
	Drift         float64 // fraction of Rows that differs, split in 3
	Seed          uint64
	Out           string
	Format        string // csv, parquet or both
	ShuffleTarget bool
	Compression   string // parquet: snappy, zstd or none
	RowGroup      int    // parquet rows per row group
}

// Expected is the diff that `reconcile diff source target --key id` must find.
type Expected struct {
	Rows          int      `json:"rows"`
	TargetRows    int      `json:"target_rows"`
	Seed          uint64   `json:"seed"`
	Drift         float64  `json:"drift"`
	ShuffleTarget bool     `json:"shuffle_target"`
	Missing       int      `json:"missing"`
	Extra         int      `json:"extra"`
	Changed       int      `json:"changed"`
	ChangedEmail  int      `json:"changed_email"`
	ChangedAmount int      `json:"changed_amount"`
	Files         []string `json:"files"`
}

func main() {
	var cfg Config
	flag.IntVar(&cfg.Rows, "rows", 100000, "number of source rows")
	flag.Float64Var(&cfg.Drift, "drift", 0.001, "fraction of rows that differ (split evenly into missing, extra, changed)")
	flag.Uint64Var(&cfg.Seed, "seed", 42, "random seed; the same seed gives the same files")
	flag.StringVar(&cfg.Out, "out", ".", "output directory (created if missing)")
	flag.StringVar(&cfg.Format, "format", "csv", "output format: csv, parquet or both")
	flag.BoolVar(&cfg.ShuffleTarget, "shuffle-target", false, "write the target rows in random order instead of id order")
	flag.StringVar(&cfg.Compression, "compression", "snappy", "parquet compression: snappy, zstd or none")
	flag.IntVar(&cfg.RowGroup, "row-group", 128*1024, "parquet rows per row group")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "benchdata: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	start := time.Now()
	exp, err := Generate(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchdata:", err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "benchdata: %d source rows, %d target rows, %s, written to %s in %.2fs\n",
		exp.Rows, exp.TargetRows, cfg.Format, cfg.Out, time.Since(start).Seconds())
	fmt.Fprintf(os.Stderr, "expected missing=%d extra=%d changed=%d\n", exp.Missing, exp.Extra, exp.Changed)
}

// row holds one record compactly; text columns are derived when written.
type row struct {
	id      int64
	cents   int64 // amount * 100
	created int64 // unix microseconds, UTC
	signup  int32 // days since 1970-01-01
	qty     int32
	first   uint16
	last    uint16
	nick    uint16
	style   uint8 // name style, see appendName
	domain  uint8 // index into domains; changedDomain for a changed email
	active  bool
}

const changedDomain = 255

var (
	firstNames = []string{"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
		"William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
		"Sarah", "Charles", "Karen", "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty",
		"Anthony", "Margaret", "Mark", "Sandra", "Donald", "Ashley", "Steven", "Kimberly", "Paul",
		"Emily", "Andrew", "Donna", "Joshua", "Michelle", "Zoë", "José", "Renée", "Søren", "Ана",
		"Kenji", "Amara", "Nikolai", "Aoife", "Mateo"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
		"Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
		"Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris",
		"Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
		"Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "O'Brien", "Müller", "Dubois",
		"Kowalski", "Rossi", "Yamamoto", "Okafor", "Ivanova", "Van der Berg", "Murphy"}
	nicks   = []string{"Ace", "Buddy", "Doc", "Jazz", "Red", "Sunny", "Tex", "Ziggy"}
	domains = []string{"example.com", "example.org", "mail.example.net", "corp.example", "shop.example.co.uk", "test.example.io"}
)

const (
	epoch2015 = 16436 // days: 2015-01-01
	epoch2026 = 20454 // days: 2026-01-01
	sec2020   = 1577836800
	sec2026   = 1767225600
)

func newRow(r *rand.Rand, id int64) row {
	var x row
	x.id = id
	x.first = uint16(r.IntN(len(firstNames)))
	x.last = uint16(r.IntN(len(lastNames)))
	x.nick = uint16(r.IntN(len(nicks)))
	switch p := r.IntN(100); {
	case p < 6: // Last, First
		x.style = 1
	case p < 9: // First "Nick" Last
		x.style = 2
	case p < 10: // Last, First "Nick"
		x.style = 3
	default:
		x.style = 0
	}
	x.domain = uint8(r.IntN(len(domains)))
	x.cents = r.Int64N(10_000_000) // 0.00 .. 99999.99
	if r.IntN(50) == 0 {
		x.cents = -x.cents // refunds
	}
	x.qty = int32(r.IntN(1000))
	x.created = (sec2020 + r.Int64N(sec2026-sec2020)) * 1_000_000
	if r.IntN(4) == 0 { // a quarter with microseconds
		x.created += 1 + r.Int64N(999_999)
	}
	x.signup = int32(epoch2015 + r.IntN(epoch2026-epoch2015))
	x.active = r.IntN(10) < 7
	return x
}

// Generate writes the files described by cfg and returns the expected diff.
func Generate(cfg Config) (*Expected, error) {
	if cfg.Rows < 1 {
		return nil, errors.New("-rows must be at least 1")
	}
	if cfg.Drift < 0 || cfg.Drift > 0.6 {
		return nil, errors.New("-drift must be between 0 and 0.6")
	}
	if cfg.RowGroup < 1 {
		cfg.RowGroup = 128 * 1024
	}
	var wantCSV, wantParquet bool
	switch cfg.Format {
	case "csv":
		wantCSV = true
	case "parquet":
		wantParquet = true
	case "both":
		wantCSV, wantParquet = true, true
	default:
		return nil, fmt.Errorf("-format must be csv, parquet or both, not %q", cfg.Format)
	}
	if cfg.Compression == "" {
		cfg.Compression = "snappy"
	}
	codec, err := parseCompression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}

	n := cfg.Rows
	// Source rows: their own stream, so they depend only on seed and rows.
	src := make([]row, n)
	rs := rand.New(rand.NewPCG(cfg.Seed, 1))
	for i := range src {
		src[i] = newRow(rs, int64(i+1))
	}

	// Drift: k rows of each kind.
	k := int(math.Round(float64(n) * cfg.Drift / 3))
	if 2*k > n {
		k = n / 2
	}
	rd := rand.New(rand.NewPCG(cfg.Seed, 2))
	picked := sampleDistinct(rd, n, 2*k) // indices into src
	deleted := make(map[int]bool, k)
	for _, i := range picked[:k] {
		deleted[i] = true
	}
	changed := make(map[int]bool, k)
	for _, i := range picked[k:] {
		changed[i] = true
	}

	exp := &Expected{Rows: n, Seed: cfg.Seed, Drift: cfg.Drift, ShuffleTarget: cfg.ShuffleTarget,
		Missing: k, Extra: k, Changed: k}
	rc := rand.New(rand.NewPCG(cfg.Seed, 3))
	tgt := make([]row, 0, n)
	for i := range src {
		if deleted[i] {
			continue
		}
		x := src[i]
		if changed[i] {
			if rc.IntN(2) == 0 {
				x.domain = changedDomain
				exp.ChangedEmail++
			} else {
				x.cents += 1 + rc.Int64N(100_000)
				exp.ChangedAmount++
			}
		}
		tgt = append(tgt, x)
	}
	for j := 0; j < k; j++ {
		tgt = append(tgt, newRow(rc, int64(n+1+j)))
	}
	if cfg.ShuffleTarget {
		rp := rand.New(rand.NewPCG(cfg.Seed, 4))
		rp.Shuffle(len(tgt), func(a, b int) { tgt[a], tgt[b] = tgt[b], tgt[a] })
	}
	exp.TargetRows = len(tgt)

	type job struct {
		path string
		rows []row
		fn   func(string, []row) error
	}
	var jobs []job
	if wantCSV {
		jobs = append(jobs,
			job{filepath.Join(cfg.Out, "source.csv"), src, writeCSV},
			job{filepath.Join(cfg.Out, "target.csv"), tgt, writeCSV})
	}
	if wantParquet {
		pw := func(path string, rows []row) error { return writeParquet(path, rows, codec, cfg.RowGroup) }
		jobs = append(jobs,
			job{filepath.Join(cfg.Out, "source.parquet"), src, pw},
			job{filepath.Join(cfg.Out, "target.parquet"), tgt, pw})
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		exp.Files = append(exp.Files, filepath.Base(j.path))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = j.fn(j.path, j.rows)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "expected.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return exp, nil
}

// sampleDistinct returns m distinct ints from [0, n), in random order.
func sampleDistinct(r *rand.Rand, n, m int) []int {
	seen := make(map[int]bool, m)
	out := make([]int, 0, m)
	for len(out) < m {
		i := r.IntN(n)
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

func parseCompression(s string) (compress.Compression, error) {
	switch s {
	case "snappy":
		return compress.Codecs.Snappy, nil
	case "zstd":
		return compress.Codecs.Zstd, nil
	case "none", "uncompressed":
		return compress.Codecs.Uncompressed, nil
	}
	return 0, fmt.Errorf("-compression must be snappy, zstd or none, not %q", s)
}

// ---- text rendering -------------------------------------------------------

const csvHeader = "id,name,email,amount,qty,created_at,signup_date,active\n"

func appendName(dst []byte, x *row) []byte {
	f, l := firstNames[x.first], lastNames[x.last]
	switch x.style {
	case 1:
		dst = append(dst, l...)
		dst = append(dst, ", "...)
		dst = append(dst, f...)
	case 2:
		dst = append(dst, f...)
		dst = append(dst, " \""...)
		dst = append(dst, nicks[x.nick]...)
		dst = append(dst, "\" "...)
		dst = append(dst, l...)
	case 3:
		dst = append(dst, l...)
		dst = append(dst, ", "...)
		dst = append(dst, f...)
		dst = append(dst, " \""...)
		dst = append(dst, nicks[x.nick]...)
		dst = append(dst, '"')
	default:
		dst = append(dst, f...)
		dst = append(dst, ' ')
		dst = append(dst, l...)
	}
	return dst
}

func appendLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+('a'-'A'))
		case c == ' ' || c == '\'':
			// dropped
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendEmail(dst []byte, x *row) []byte {
	dst = appendLowerASCII(dst, firstNames[x.first])
	dst = append(dst, '.')
	dst = appendLowerASCII(dst, lastNames[x.last])
	dst = strconv.AppendInt(dst, x.id, 10)
	dst = append(dst, '@')
	if x.domain == changedDomain {
		return append(dst, "changed.example"...)
	}
	return append(dst, domains[x.domain]...)
}

func appendAmount(dst []byte, cents int64) []byte {
	if cents < 0 {
		dst = append(dst, '-')
		cents = -cents
	}
	dst = strconv.AppendInt(dst, cents/100, 10)
	c := cents % 100
	return append(dst, '.', byte('0'+c/10), byte('0'+c%10))
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse).
func civil(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func appendDate(dst []byte, days int64) []byte {
	y, m, d := civil(days)
	dst = strconv.AppendInt(dst, y, 10)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d)
}

func appendTimestamp(dst []byte, micros int64) []byte {
	sec := micros / 1_000_000
	frac := micros % 1_000_000
	days := sec / 86400
	rem := int(sec % 86400)
	dst = appendDate(dst, days)
	dst = append(dst, 'T')
	dst = append2(dst, rem/3600)
	dst = append(dst, ':')
	dst = append2(dst, rem/60%60)
	dst = append(dst, ':')
	dst = append2(dst, rem%60)
	if frac != 0 {
		dst = append(dst, '.')
		for div := int64(100_000); div > 0; div /= 10 {
			dst = append(dst, byte('0'+frac/div%10))
		}
	}
	return append(dst, 'Z')
}

// appendCSVField appends s, quoted per RFC 4180 when needed.
func appendCSVField(dst, s []byte) []byte {
	need := false
	for _, c := range s {
		if c == ',' || c == '"' || c == '\n' || c == '\r' {
			need = true
			break
		}
	}
	if !need {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for _, c := range s {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

func appendCSVRow(dst, scratch []byte, x *row) ([]byte, []byte) {
	dst = strconv.AppendInt(dst, x.id, 10)
	dst = append(dst, ',')
	scratch = appendName(scratch[:0], x)
	dst = appendCSVField(dst, scratch)
	dst = append(dst, ',')
	dst = appendEmail(dst, x)
	dst = append(dst, ',')
	dst = appendAmount(dst, x.cents)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(x.qty), 10)
	dst = append(dst, ',')
	dst = appendTimestamp(dst, x.created)
	dst = append(dst, ',')
	dst = appendDate(dst, int64(x.signup))
	dst = append(dst, ',')
	dst = strconv.AppendBool(dst, x.active)
	return append(dst, '\n'), scratch
}

func writeCSV(path string, rows []row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := w.WriteString(csvHeader); err != nil {
		f.Close()
		return err
	}
	line := make([]byte, 0, 256)
	scratch := make([]byte, 0, 128)
	for i := range rows {
		line, scratch = appendCSVRow(line[:0], scratch, &rows[i])
		if _, err := w.Write(line); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ---- parquet --------------------------------------------------------------

// Schema is the Arrow schema of the Parquet files.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String},
	{Name: "email", Type: arrow.BinaryTypes.String},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 18, Scale: 2}},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int64},
	{Name: "created_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "signup_date", Type: arrow.FixedWidthTypes.Date32},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean},
}, nil)

// writeParquet writes rows in row groups of rowGroup rows. The pqarrow
// writer closes the file when it is closed.
func writeParquet(path string, rows []row, codec compress.Compression, rowGroup int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	props := parquet.NewWriterProperties(
		parquet.WithCompression(codec),
		parquet.WithMaxRowGroupLength(int64(rowGroup)),
		parquet.WithCreatedBy("reconcile scripts/benchdata"),
	)
	fw, err := pqarrow.NewFileWriter(Schema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		f.Close()
		return err
	}
	mem := memory.NewGoAllocator()
	b := array.NewRecordBuilder(mem, Schema)
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	names := b.Field(1).(*array.StringBuilder)
	emails := b.Field(2).(*array.StringBuilder)
	amounts := b.Field(3).(*array.Decimal128Builder)
	qtys := b.Field(4).(*array.Int64Builder)
	created := b.Field(5).(*array.TimestampBuilder)
	signup := b.Field(6).(*array.Date32Builder)
	active := b.Field(7).(*array.BooleanBuilder)
	buf := make([]byte, 0, 128)
	for start := 0; start < len(rows); start += rowGroup {
		chunk := rows[start:min(start+rowGroup, len(rows))]
		b.Reserve(len(chunk))
		for i := range chunk {
			x := &chunk[i]
			ids.UnsafeAppend(x.id)
			buf = appendName(buf[:0], x)
			names.BinaryBuilder.Append(buf)
			buf = appendEmail(buf[:0], x)
			emails.BinaryBuilder.Append(buf)
			amounts.Append(decimal128.FromI64(x.cents))
			qtys.UnsafeAppend(int64(x.qty))
			created.Append(arrow.Timestamp(x.created))
			signup.Append(arrow.Date32(x.signup))
			active.Append(x.active)
		}
		rec := b.NewRecord()
		err = fw.Write(rec)
		rec.Release()
		if err != nil {
			fw.Close()
			return err
		}
	}
	return fw.Close()
}
