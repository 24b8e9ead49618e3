package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/cespare/xxhash/v2"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/arrowtest"
)

// sumSource is a Checksummer over Go rows whose first column is the key
// (int or string): the test double of a database that checksums segments.
// It computes segment sums exactly as the contract says, from the engine's
// own canonical encoding, and serves range reads in small batches.
type sumSource struct {
	t        testing.TB
	mem      memory.Allocator
	schema   *arrow.Schema
	rows     [][]any // sorted by key
	estimate int64
	reads    int           // ReadOrdered calls
	native   string        // NativeHash label
	dropKey  any           // a key whose rows ranged reads leave out (reads and checksums disagree)
	failSums error         // returned by Checksums
	rowDelay time.Duration // Checksums and Boundaries sleep this long per row of their range: a slow database
	// block, when set, is called by each Checksums and Boundaries call
	// ("checksums", "boundaries") with its context and range before it
	// computes anything; an error it returns is the call's.
	block func(ctx context.Context, call string, r connectors.KeyRange) error

	mu       sync.Mutex
	hashes   map[string]int // Checksums calls by hash asked for
	sums     []sumCall      // Checksums calls, in the order they ended
	inFlight atomic.Int64   // Checksums and Boundaries calls running now
	entered  atomic.Int64   // Checksums and Boundaries calls started so far
	peak     atomic.Int64   // the most that ran at once
}

// sumCall is a recorded Checksums call.
type sumCall struct {
	r        connectors.KeyRange
	segments int
}

// enter counts a call in flight; the returned func counts it out.
func (s *sumSource) enter() func() {
	n := s.inFlight.Add(1)
	s.entered.Add(1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return func() { s.inFlight.Add(-1) }
}

// slow waits as long as the database would take over the rows of r.
func (s *sumSource) slow(ctx context.Context, call string, r connectors.KeyRange) error {
	if s.block != nil {
		if err := s.block(ctx, call, r); err != nil {
			return err
		}
	}
	if s.rowDelay == 0 {
		return nil
	}
	n := 0
	for _, row := range s.rows {
		if inRange(keyOf(row), r) {
			n++
		}
	}
	t := time.NewTimer(time.Duration(n) * s.rowDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ connectors.Checksummer = (*sumSource)(nil)
var _ connectors.OrderedReader = (*sumSource)(nil)

func newSumSource(t testing.TB, mem memory.Allocator, fields []arrow.Field, rows [][]any) *sumSource {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b []any) int { return cmpKey(keyOf(a), keyOf(b)) })
	return &sumSource{t: t, mem: mem, schema: arrow.NewSchema(fields, nil), rows: rows, estimate: int64(len(rows))}
}

func keyOf(row []any) any {
	switch k := row[0].(type) {
	case int:
		return int64(k)
	default:
		return k
	}
}

func cmpKey(a, b any) int {
	switch a := a.(type) {
	case int64:
		return cmpInt(a, b.(int64))
	case string:
		return strings.Compare(a, b.(string))
	}
	panic(fmt.Sprintf("key type %T", a))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func inRange(k any, r connectors.KeyRange) bool {
	return (r.From == nil || cmpKey(k, r.From[0]) >= 0) && (r.To == nil || cmpKey(k, r.To[0]) < 0)
}

func (s *sumSource) Describe(context.Context, connectors.TableRef) (*connectors.TableInfo, error) {
	return &connectors.TableInfo{Name: "t", Schema: s.schema, EstimatedRows: s.estimate, PrimaryKey: []string{s.schema.Field(0).Name}}, nil
}

// project returns the rows of r with the named columns, as one record.
func (s *sumSource) project(r connectors.KeyRange, cols []string, batch int) ([][]any, *arrow.Schema, []arrow.Record) {
	idx := make([]int, len(cols))
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		idx[i] = s.schema.FieldIndices(c)[0]
		fields[i] = s.schema.Field(idx[i])
	}
	var out [][]any
	for _, row := range s.rows {
		if !inRange(keyOf(row), r) {
			continue
		}
		p := make([]any, len(idx))
		for i, j := range idx {
			p[i] = row[j]
		}
		out = append(out, p)
	}
	schema := arrow.NewSchema(fields, nil)
	recs, err := arrowtest.Records(s.mem, schema, out, batch)
	if err != nil {
		s.t.Fatal(err)
	}
	return out, schema, recs
}

func (s *sumSource) Read(ctx context.Context, ref connectors.TableRef, opts connectors.ReadOptions) (array.RecordReader, error) {
	return nil, errors.New("sumSource reads only in key order")
}

func (s *sumSource) ReadOrdered(ctx context.Context, ref connectors.TableRef, key []string, opts connectors.ReadOptions) (array.RecordReader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	cols := opts.Columns
	if cols == nil {
		for _, f := range s.schema.Fields() {
			cols = append(cols, f.Name)
		}
	}
	ranges := opts.Ranges
	if ranges == nil {
		ranges = []connectors.KeyRange{{}}
	}
	var recs []arrow.Record
	var schema *arrow.Schema
	for i, r := range ranges {
		if i > 0 && (ranges[i-1].To == nil || r.From == nil || cmpKey(ranges[i-1].To[0], r.From[0]) > 0) {
			return nil, fmt.Errorf("ranges out of order: %v before %v", ranges[i-1], r)
		}
		var part []arrow.Record
		if s.dropKey != nil {
			saved := s.rows
			s.rows = slices.DeleteFunc(slices.Clone(s.rows), func(row []any) bool { return cmpKey(keyOf(row), s.dropKey) == 0 })
			_, schema, part = s.project(r, cols, 7)
			s.rows = saved
		} else {
			_, schema, part = s.project(r, cols, 7)
		}
		recs = append(recs, part...)
	}
	rr, err := array.NewRecordReader(schema, recs)
	for _, rec := range recs {
		rec.Release()
	}
	return rr, err
}

func (s *sumSource) Close() error { return nil }

func (s *sumSource) Checksummable(context.Context, connectors.TableRef, []string, []string) ([]string, error) {
	return nil, nil
}

func (s *sumSource) NativeHash() string { return s.native }

func (s *sumSource) Boundaries(ctx context.Context, _ connectors.TableRef, _ []string, r connectors.KeyRange, n int) ([][]any, error) {
	defer s.enter()()
	if err := s.slow(ctx, "boundaries", r); err != nil {
		return nil, err
	}
	var keys []any
	for _, row := range s.rows {
		if k := keyOf(row); inRange(k, r) && (len(keys) == 0 || cmpKey(keys[len(keys)-1], k) != 0) {
			keys = append(keys, k)
		}
	}
	var out [][]any
	for i := 1; i < n; i++ {
		j := i * len(keys) / n
		if j == 0 || j >= len(keys) || (len(out) > 0 && cmpKey(out[len(out)-1][0], keys[j]) == 0) {
			continue
		}
		out = append(out, []any{keys[j]})
	}
	return out, nil
}

func (s *sumSource) Checksums(ctx context.Context, _ connectors.TableRef, req connectors.ChecksumRequest) ([]connectors.Segment, error) {
	defer s.enter()()
	if err := s.slow(ctx, "checksums", req.Range); err != nil {
		return nil, err
	}
	if s.failSums != nil {
		return nil, s.failSums
	}
	if req.Hash != "" && req.Hash != s.native {
		return nil, fmt.Errorf("hash %q asked of a source whose native hash is %q", req.Hash, s.native)
	}
	s.mu.Lock()
	if s.hashes == nil {
		s.hashes = map[string]int{}
	}
	s.hashes[req.Hash]++
	s.sums = append(s.sums, sumCall{r: req.Range, segments: len(req.Bounds) + 1})
	s.mu.Unlock()
	cols, r, bounds := req.Columns, req.Range, req.Bounds
	rows, _, recs := s.project(r, cols, max(1, len(s.rows)))
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	kc := slices.Index(cols, s.schema.Field(0).Name)
	segs := make([]connectors.Segment, len(bounds)+1)
	var last []any // last key per segment, for distinct counts
	last = make([]any, len(segs))
	i := 0
	for _, rec := range recs {
		for j := 0; j < int(rec.NumRows()); j, i = j+1, i+1 {
			k := keyOf(rows[i][kc:])
			seg := 0
			for seg < len(bounds) && cmpKey(k, bounds[seg][0]) >= 0 {
				seg++
			}
			enc, err := AppendRow(nil, rec, j)
			if err != nil {
				return nil, err
			}
			segs[seg].Rows++
			if req.Hash != "" {
				// A native hash: anything that tells rows apart.
				segs[seg].Sum += xxhash.Sum64(enc) * 3
			} else {
				segs[seg].Sum += connectors.RowHash(enc)
			}
			if last[seg] == nil || cmpKey(last[seg], k) != 0 {
				segs[seg].Keys++
				last[seg] = k
			}
		}
	}
	return segs, nil
}

// bisectFields carry their database types, as a database connector's do.
var bisectFields = []arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Metadata: withDBType("bigint")},
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: withDBType("text")},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true, Metadata: withDBType("numeric(10,2)")},
}

func withDBType(name string) arrow.Metadata {
	return arrow.NewMetadata([]string{connectors.MetaDBType}, []string{name})
}

func bisectRows(r *rand.Rand, n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		var email any = fmt.Sprintf("u%d@example.com", r.IntN(1000))
		if r.IntN(20) == 0 {
			email = nil
		}
		rows[i] = []any{i * 3, email, fmt.Sprintf("%d.%02d", r.IntN(1000), r.IntN(100))}
	}
	return rows
}

// The bisect plan reports exactly what the stream (merge) reports, on
// data sets shaped to hit its edges: equal tables, a difference at the
// first and at the last key, a cluster, 10 % changed, rows on one side
// only, duplicated keys, a stale row estimate.
func TestBisectAgreesWithStream(t *testing.T) {
	mem := checkedAlloc(t)
	// Reads of a few ranges each, so that a side's leaves take several.
	defer func(n int) { rangesPerRead = n }(rangesPerRead)
	rangesPerRead = 3
	r := rand.New(rand.NewPCG(21, 22))
	base := bisectRows(r, 600)
	change := func(rows [][]any, i int) {
		rows[i] = slices.Clone(rows[i])
		rows[i][1] = "changed@example.com"
	}
	cases := map[string]func() [][]any{
		"equal": func() [][]any { return slices.Clone(base) },
		"first key": func() [][]any {
			b := slices.Clone(base)
			change(b, 0)
			return b
		},
		"last key": func() [][]any {
			b := slices.Clone(base)
			change(b, len(b)-1)
			return b
		},
		"cluster": func() [][]any {
			b := slices.Clone(base)
			for i := 300; i < 340; i++ {
				change(b, i)
			}
			return b
		},
		"ten percent": func() [][]any {
			b := slices.Clone(base)
			for i := range b {
				if r.IntN(10) == 0 {
					change(b, i)
				}
			}
			return b
		},
		"missing and extra": func() [][]any {
			b := slices.Clone(base[5:590])
			b = slices.Delete(b, 100, 103)
			return append(b, []any{1, "between@example.com", "1.00"}, []any{5000, "after@example.com", "2.00"})
		},
		"duplicates": func() [][]any {
			b := slices.Clone(base)
			return append(b, slices.Clone(b[10]), slices.Clone(b[400]), slices.Clone(b[400]))
		},
	}
	for name, mk := range cases {
		tgtRows := mk()
		for _, cfg := range []struct {
			threshold int64
			factor    int
			estimate  int64
		}{{8, 4, 0}, {64, 16, 0}, {8, 2, 1}, {DefaultBisectThreshold, 0, 0}} {
			t.Run(fmt.Sprintf("%s/threshold=%d,factor=%d,estimate=%d", name, cfg.threshold, cfg.factor, cfg.estimate), func(t *testing.T) {
				stream := diff(t, source(t, tbl(t, mem, "s", bisectFields, base, 50), []string{"id"}),
					source(t, tbl(t, mem, "t", bisectFields, sortedByKey(tgtRows), 50), []string{"id"}),
					Options{Key: []string{"id"}, Allocator: mem, Algorithm: Merge})
				ss, ts := newSumSource(t, mem, bisectFields, base), newSumSource(t, mem, bisectFields, tgtRows)
				if cfg.estimate > 0 {
					ss.estimate, ts.estimate = cfg.estimate, cfg.estimate
				}
				// Sides with the same native hash use it; different ones
				// fall back to the canonical hash.
				wantHash := ""
				switch cfg.threshold {
				case 8:
					ss.native, ts.native, wantHash = "x", "x", "x"
				case 64:
					ss.native, ts.native = "x", "y"
				}
				bis := diff(t, ss, ts, Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect, BisectThreshold: cfg.threshold, BisectFactor: cfg.factor})
				if bis.res.Plan.Algorithm != "bisect" {
					t.Fatalf("algorithm %q", bis.res.Plan.Algorithm)
				}
				if !slices.Equal(stream.lines(), bis.lines()) || stream.res.Summary != bis.res.Summary {
					t.Fatalf("bisect %+v, stream %+v\nbisect %v\nstream %v", bis.res.Summary, stream.res.Summary, bis.lines(), stream.lines())
				}
				if bis.res.Source.Rows != stream.res.Source.Rows || bis.res.Target.Rows != stream.res.Target.Rows {
					t.Errorf("rows: bisect %d/%d, stream %d/%d", bis.res.Source.Rows, bis.res.Target.Rows, stream.res.Source.Rows, stream.res.Target.Rows)
				}
				if fmt.Sprint(bis.res.Columns) != fmt.Sprint(stream.res.Columns) {
					t.Errorf("column drift: bisect %v, stream %v", bis.res.Columns, stream.res.Columns)
				}
				pl := bis.res.Plan
				if len(ss.hashes) != 1 || ss.hashes[wantHash] == 0 || len(ts.hashes) != 1 || ts.hashes[wantHash] == 0 {
					t.Errorf("hashes asked for: source %v, target %v; want only %q", ss.hashes, ts.hashes, wantHash)
				}
				if pl.Segments == 0 || pl.Queries == 0 {
					t.Errorf("plan statistics missing: %+v", pl)
				}
				if name == "equal" {
					if pl.RowsFetched != 0 || pl.SegmentsMismatched != 0 || ss.reads != 0 || bis.res.Source.Checksum != bis.res.Target.Checksum {
						t.Errorf("equal tables: %+v, %d reads, checksums %x/%x", pl, ss.reads, bis.res.Source.Checksum, bis.res.Target.Checksum)
					}
				} else if pl.SegmentsMismatched == 0 || pl.RowsFetched == 0 {
					t.Errorf("differences found without mismatched segments: %+v", pl)
				}
				// A few scattered differences are found by reading a small
				// part of the table.
				if (name == "first key" || name == "last key") && cfg.threshold <= 64 && pl.RowsFetched > 2*(cfg.threshold+1) {
					t.Errorf("%s: fetched %d rows with threshold %d", name, pl.RowsFetched, cfg.threshold)
				}
			})
		}
	}
}

func sortedByKey(rows [][]any) [][]any {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b []any) int { return cmpKey(keyOf(a), keyOf(b)) })
	return rows
}

func TestBisectRefusals(t *testing.T) {
	mem := checkedAlloc(t)
	rows := bisectRows(rand.New(rand.NewPCG(1, 1)), 20)
	// A source without database checksums.
	plain := source(t, tbl(t, mem, "s", bisectFields, rows, 5), []string{"id"})
	_, err := Diff(context.Background(), Input{Source: plain}, Input{Source: newSumSource(t, mem, bisectFields, rows)},
		Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect}, nil)
	if !errors.Is(err, connectors.ErrUnsupported) || !strings.Contains(err.Error(), "source") {
		t.Errorf("plain source: %v", err)
	}
	// A key that may be NULL.
	nullable := slices.Clone(bisectFields)
	nullable[0].Nullable = true
	_, err = Diff(context.Background(), Input{Source: newSumSource(t, mem, nullable, rows)}, Input{Source: newSumSource(t, mem, bisectFields, rows)},
		Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect}, nil)
	if err == nil || !strings.Contains(err.Error(), "key column id of the source may be NULL") {
		t.Errorf("nullable key: %v", err)
	}
}

// Auto bisects two checksumming sources when a sample of segments shows
// few differences, streams when most sampled segments differ, and streams
// (saying why) when the pair cannot be bisected; the report is the same.
func TestAutoChoosesBetweenBisectAndStream(t *testing.T) {
	probeCosts = false // in memory, checksums and reads take no measurable time
	t.Cleanup(func() { probeCosts = true })
	mem := checkedAlloc(t)
	r := rand.New(rand.NewPCG(31, 32))
	base := bisectRows(r, 2000)
	few := slices.Clone(base)
	few[700] = []any{few[700][0], "changed@example.com", few[700][2]}
	dense := slices.Clone(base)
	for i := range dense {
		if i%3 == 0 {
			dense[i] = []any{dense[i][0], "changed@example.com", dense[i][2]}
		}
	}
	nullable := slices.Clone(bisectFields)
	nullable[0].Nullable = true
	for _, tc := range []struct {
		name     string
		tgt      [][]any
		fields   []arrow.Field
		algo     string
		noteHas  string
		maxReads int
	}{
		{"few differences", few, bisectFields, "bisect", "", 1},
		{"dense differences", dense, bisectFields, "merge", "of 16 sampled segments differ", 1},
		{"nullable key", few, nullable, "merge", "key column id of the target may be NULL", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := diff(t, source(t, tbl(t, mem, "s", bisectFields, base, 50), []string{"id"}),
				source(t, tbl(t, mem, "t", bisectFields, tc.tgt, 50), []string{"id"}),
				Options{Key: []string{"id"}, Allocator: mem, Algorithm: Merge})
			ss, ts := newSumSource(t, mem, bisectFields, base), newSumSource(t, mem, tc.fields, tc.tgt)
			auto := diff(t, ss, ts, Options{Key: []string{"id"}, Allocator: mem, BisectThreshold: 20})
			if auto.res.Plan.Algorithm != tc.algo || !strings.Contains(auto.res.Plan.Note, tc.noteHas) {
				t.Errorf("algorithm %q (note %q), want %q with %q", auto.res.Plan.Algorithm, auto.res.Plan.Note, tc.algo, tc.noteHas)
			}
			if !slices.Equal(stream.lines(), auto.lines()) || stream.res.Summary != auto.res.Summary {
				t.Errorf("auto %+v, stream %+v", auto.res.Summary, stream.res.Summary)
			}
			if ss.reads > tc.maxReads || ts.reads > tc.maxReads {
				t.Errorf("%d/%d reads, want at most %d per side", ss.reads, ts.reads, tc.maxReads)
			}
			if tc.algo == "bisect" && auto.res.Plan.RowsFetched > 2*20 {
				t.Errorf("fetched %d rows for one difference", auto.res.Plan.RowsFetched)
			}
		})
	}
}

// Reads that return other rows than the checksums counted are an error,
// never a clean verdict; a long run of one repeated key is read rather than
// split forever.
func TestBisectCrossChecksAndRepeatedKeys(t *testing.T) {
	mem := checkedAlloc(t)
	rows := bisectRows(rand.New(rand.NewPCG(41, 42)), 300)
	tgt := slices.Clone(rows)
	tgt[150] = []any{tgt[150][0], "changed@example.com", tgt[150][2]}
	ss, ts := newSumSource(t, mem, bisectFields, rows), newSumSource(t, mem, bisectFields, tgt)
	ts.dropKey = int64(450) // the changed row's key (i*3)
	_, err := Diff(context.Background(), Input{Source: ss}, Input{Source: ts}, Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect, BisectThreshold: 8}, nil)
	if !errors.Is(err, connectors.ErrBadInput) || !strings.Contains(err.Error(), "reading them returned") {
		t.Errorf("reads disagreeing with checksums: %v", err)
	}

	// Key 7 sixty times on both sides, one of them different.
	var dup [][]any
	for i := range 60 {
		dup = append(dup, []any{7, fmt.Sprint("r", i), "1.00"})
	}
	dup = append(dup, []any{9, "x", "1.00"})
	dupT := slices.Clone(dup)
	dupT[30] = []any{7, "other", "1.00"}
	ss, ts = newSumSource(t, mem, bisectFields, dup), newSumSource(t, mem, bisectFields, dupT)
	bis := diff(t, ss, ts, Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect, BisectThreshold: 8, BisectFactor: 4})
	stream := diff(t, source(t, tbl(t, mem, "s", bisectFields, dup, 50), []string{"id"}), source(t, tbl(t, mem, "t", bisectFields, dupT, 50), []string{"id"}),
		Options{Key: []string{"id"}, Allocator: mem, Algorithm: Merge})
	if !slices.Equal(stream.lines(), bis.lines()) || stream.res.Summary != bis.res.Summary {
		t.Errorf("repeated key: bisect %+v %v, stream %+v %v", bis.res.Summary, bis.lines(), stream.res.Summary, stream.lines())
	}
	if bis.res.Plan.Segments > 8 {
		t.Errorf("repeated key split into %d segments", bis.res.Plan.Segments)
	}
}

// A checksum statement that fails makes bisect fail (exit 2, never a
// verdict) and auto stream the table instead, saying why.
func TestChecksumFailure(t *testing.T) {
	mem := checkedAlloc(t)
	rows := bisectRows(rand.New(rand.NewPCG(51, 52)), 200)
	tgt := slices.Clone(rows)
	tgt[20] = []any{tgt[20][0], "changed@example.com", tgt[20][2]}
	boom := errors.New("canceling statement due to statement timeout")
	ss, ts := newSumSource(t, mem, bisectFields, rows), newSumSource(t, mem, bisectFields, tgt)
	ts.failSums = boom
	if _, err := Diff(context.Background(), Input{Source: ss}, Input{Source: ts}, Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect}, nil); !errors.Is(err, boom) {
		t.Errorf("bisect: %v, want the checksum error", err)
	}
	auto := diff(t, ss, ts, Options{Key: []string{"id"}, Allocator: mem})
	if auto.res.Plan.Algorithm != "merge" || !strings.Contains(auto.res.Plan.Note, "statement timeout") || auto.res.Summary.Changed != 1 || auto.res.Summary.Matched != 199 {
		t.Errorf("auto: %+v, %+v", auto.res.Plan, auto.res.Summary)
	}
}

// A native hash is used only where every compared column has the same
// database type on both sides; otherwise the canonical hash is.
func TestNativeHashNeedsSameDBTypes(t *testing.T) {
	mem := checkedAlloc(t)
	rows := bisectRows(rand.New(rand.NewPCG(61, 62)), 100)
	other := slices.Clone(bisectFields)
	other[1].Metadata = withDBType("character(30)")
	for _, tc := range []struct {
		fields []arrow.Field
		want   string
	}{{bisectFields, "x"}, {other, ""}} {
		ss, ts := newSumSource(t, mem, bisectFields, rows), newSumSource(t, mem, tc.fields, rows)
		ss.native, ts.native = "x", "x"
		res := diff(t, ss, ts, Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect})
		if len(ts.hashes) != 1 || ts.hashes[tc.want] == 0 || !res.res.Consistent() {
			t.Errorf("email typed %s: hashes %v, want %q", dbType(tc.fields[1]), ts.hashes, tc.want)
		}
	}
}

// bisectReport is what two runs of one bisect must agree on: the changes,
// the counts, the sides' totals and the plan's figures (times and bytes
// aside).
func bisectReport(c collected) string {
	p := c.res.Plan
	return fmt.Sprintf("%v\n%+v\nsource %d %x, target %d %x\nsegments %d, mismatched %d, fetched %d",
		c.lines(), c.res.Summary, c.res.Source.Rows, c.res.Source.Checksum, c.res.Target.Rows, c.res.Target.Checksum,
		p.Segments, p.SegmentsMismatched, p.RowsFetched)
}

// scatter returns rows with every step-th row's email changed, from the
// first on.
func scatter(rows [][]any, first, step int) [][]any {
	out := slices.Clone(rows)
	for i := first; i < len(out); i += step {
		out[i] = []any{out[i][0], "changed@example.com", out[i][2]}
	}
	return out
}

// Bisect reports the same, with the same plan, whatever the number of
// workers, and never runs more statements at once against a side than
// Options.Workers.
func TestBisectWorkersSameReport(t *testing.T) {
	mem := checkedAlloc(t)
	defer func(n int) { rangesPerRead = n }(rangesPerRead)
	rangesPerRead = 3
	r := rand.New(rand.NewPCG(71, 72))
	base := bisectRows(r, 1200)
	missing := slices.Delete(slices.Clone(base), 500, 510)
	cases := map[string][][]any{
		"scattered":         scatter(base, 17, 290),
		"cluster":           scatter(base[:1000], 900, 1),
		"ten percent":       scatter(base, 5, 10),
		"missing and extra": append(missing, []any{1, "between@example.com", "1.00"}, []any{99999, "after@example.com", "2.00"}),
	}
	for name, tgt := range cases {
		var want string
		var wantQueries int64
		for _, workers := range []int{1, 2, 4} {
			ss, ts := newSumSource(t, mem, bisectFields, base), newSumSource(t, mem, bisectFields, tgt)
			// A stale estimate: first-level segments far above the
			// threshold, split level by level.
			ss.estimate, ts.estimate = 40, 40
			ss.rowDelay, ts.rowDelay = 2*time.Microsecond, 2*time.Microsecond
			got := diff(t, ss, ts, Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect, BisectThreshold: 8, BisectFactor: 4, Workers: workers})
			for side, s := range map[string]*sumSource{"source": ss, "target": ts} {
				if p := s.peak.Load(); p > int64(workers) || p < 1 {
					t.Errorf("%s, %d workers: %d statements at once against the %s", name, workers, p, side)
				}
			}
			rep := bisectReport(got)
			if workers == 1 {
				want, wantQueries = rep, got.res.Plan.Queries
				stream := diff(t, source(t, tbl(t, mem, "s", bisectFields, base, 50), []string{"id"}),
					source(t, tbl(t, mem, "t", bisectFields, sortedByKey(tgt), 50), []string{"id"}),
					Options{Key: []string{"id"}, Allocator: mem, Algorithm: Merge})
				if !slices.Equal(stream.lines(), got.lines()) || stream.res.Summary != got.res.Summary {
					t.Fatalf("%s: bisect %+v, stream %+v", name, got.res.Summary, stream.res.Summary)
				}
				continue
			}
			if rep != want || got.res.Plan.Queries != wantQueries {
				t.Errorf("%s: %d workers report (%d queries)\n%s\n1 worker reports (%d queries)\n%s", name, workers, got.res.Plan.Queries, rep, wantQueries, want)
			}
		}
	}
}

// Differing segments are split concurrently: the boundary queries of two
// of them run at once (the first waits, for at most a minute, for a
// second one to start).
func TestBisectSplitsConcurrently(t *testing.T) {
	mem := checkedAlloc(t)
	base := bisectRows(rand.New(rand.NewPCG(81, 82)), 3000)
	tgt := scatter(base, 100, 700)
	ss, ts := newSumSource(t, mem, bisectFields, base), newSumSource(t, mem, bisectFields, tgt)
	ss.estimate, ts.estimate = 100, 100
	var waited atomic.Bool
	ss.block = func(ctx context.Context, call string, r connectors.KeyRange) error {
		if call != "boundaries" || r.From == nil && r.To == nil || !waited.CompareAndSwap(false, true) {
			return nil // the first level's, or not the first split
		}
		// Another call may start and end between two looks (the
		// sources answer from memory): count calls started, not running.
		seen := ss.entered.Load()
		deadline := time.Now().Add(time.Minute)
		for ss.entered.Load() == seen {
			if time.Now().After(deadline) {
				return errors.New("no other boundary query started while this one ran")
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	}
	got := diff(t, ss, ts, Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect, BisectThreshold: 8, BisectFactor: 4, Workers: 4})
	if got.res.Summary.Changed != 5 || ss.peak.Load() < 2 {
		t.Errorf("%+v, %d statements at once", got.res.Summary, ss.peak.Load())
	}
}

// With MaxQuerySeconds, a slow source has the first level checksummed in
// chunks sized to the target from the measured time per segment, not in
// one statement per side; the report is the same.
func TestBisectChunksToMaxQuerySeconds(t *testing.T) {
	mem := checkedAlloc(t)
	base := bisectRows(rand.New(rand.NewPCG(91, 92)), 4000)
	const (
		threshold = 64
		rowDelay  = 20 * time.Microsecond // a database reading 50,000 rows a second
		target    = 0.005                 // seconds: at most 250 rows, 3 segments of 64 rows, a statement
	)
	// 4000 rows estimated: 63 first-level segments of about 63 rows; the
	// first chunk is one of them.
	const nseg, initial, most = 63, 1, 4
	run := func(tgt [][]any, maxQuery float64, workers int) (collected, *sumSource) {
		ss, ts := newSumSource(t, mem, bisectFields, base), newSumSource(t, mem, bisectFields, tgt)
		ss.rowDelay, ts.rowDelay = rowDelay, rowDelay
		res := diff(t, ss, ts, Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect, BisectThreshold: threshold, BisectFactor: 4,
			Workers: workers, MaxQuerySeconds: maxQuery})
		return res, ss
	}

	// Equal tables: every statement is of the first level.
	whole, ss := run(base, 0, 1)
	if len(ss.sums) != 1 || ss.sums[0].segments != nseg {
		t.Fatalf("without a target: statements %+v, want one of %d segments", ss.sums, nseg)
	}
	chunked, ss := run(base, target, 1)
	calls := ss.sums
	if len(calls) < 1+(nseg-initial)/most {
		t.Fatalf("%d statements, want at least %d", len(calls), 1+(nseg-initial)/most)
	}
	covered := 0
	for i, c := range calls {
		covered += c.segments
		switch {
		case i == 0 && (c.segments != initial || c.r.From != nil):
			t.Errorf("first statement: %d segments from %v, want %d from the start", c.segments, c.r.From, initial)
		case i > 0 && c.segments > most:
			t.Errorf("statement %d covers %d segments, want at most %d", i, c.segments, most)
		case i > 0 && !sameBound(calls[i-1].r.To, c.r.From):
			t.Errorf("statement %d starts at %v, not where statement %d ended (%v)", i, c.r.From, i-1, calls[i-1].r.To)
		}
	}
	if covered != nseg || calls[len(calls)-1].r.To != nil {
		t.Errorf("the statements cover %d segments, ending at %v; want %d to the end", covered, calls[len(calls)-1].r.To, nseg)
	}
	if chunked.res.Plan.Queries != whole.res.Plan.Queries+2*int64(len(calls)-1) || bisectReport(chunked) != bisectReport(whole) {
		t.Errorf("chunked: %d queries, report\n%s\nwhole: %d queries, report\n%s", chunked.res.Plan.Queries, bisectReport(chunked), whole.res.Plan.Queries, bisectReport(whole))
	}

	// Differences, found alike in chunks, with one or more workers.
	tgt := scatter(base, 3, 401)
	want, _ := run(tgt, 0, 1)
	for _, workers := range []int{1, 4} {
		got, ss := run(tgt, target, workers)
		if bisectReport(got) != bisectReport(want) || got.res.Summary.Changed != 10 {
			t.Errorf("%d workers, chunked:\n%s\nwant\n%s", workers, bisectReport(got), bisectReport(want))
		}
		if got.res.Plan.Queries <= want.res.Plan.Queries || ss.peak.Load() > int64(workers) {
			t.Errorf("%d workers: %d queries (%d in one statement a level), %d at once", workers, got.res.Plan.Queries, want.res.Plan.Queries, ss.peak.Load())
		}
	}
}

// Cancelling the diff cancels the statements that run; a statement that
// fails on one side cancels the other side's.
func TestBisectCancelsStatements(t *testing.T) {
	mem := checkedAlloc(t)
	base := bisectRows(rand.New(rand.NewPCG(101, 102)), 2000)
	tgt := scatter(base, 10, 100)
	// waitCancel blocks the first-level checksums until their context
	// ends (a minute at most), and counts the calls it saw cancelled.
	waitCancel := func(entered chan<- struct{}, cancelled *atomic.Int64) func(context.Context, string, connectors.KeyRange) error {
		var once sync.Once
		return func(ctx context.Context, call string, r connectors.KeyRange) error {
			if call != "checksums" {
				return nil
			}
			once.Do(func() { close(entered) })
			select {
			case <-ctx.Done():
				cancelled.Add(1)
				return ctx.Err()
			case <-time.After(time.Minute):
				return errors.New("the statement was never cancelled")
			}
		}
	}

	// The caller cancels while both sides' statements run.
	ss, ts := newSumSource(t, mem, bisectFields, base), newSumSource(t, mem, bisectFields, tgt)
	var cancelled atomic.Int64
	sEntered, tEntered := make(chan struct{}), make(chan struct{})
	ss.block, ts.block = waitCancel(sEntered, &cancelled), waitCancel(tEntered, &cancelled)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-sEntered
		<-tEntered
		cancel()
	}()
	_, err := Diff(ctx, Input{Source: ss}, Input{Source: ts}, Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect, Workers: 4, MaxQuerySeconds: 1}, nil)
	if !errors.Is(err, context.Canceled) || cancelled.Load() < 2 || ss.inFlight.Load() != 0 || ts.inFlight.Load() != 0 {
		t.Errorf("cancelled diff: %v; %d statements cancelled, %d/%d still running", err, cancelled.Load(), ss.inFlight.Load(), ts.inFlight.Load())
	}

	// The target's statement fails: the source's is cancelled.
	boom := errors.New("canceling statement due to statement timeout")
	ss, ts = newSumSource(t, mem, bisectFields, base), newSumSource(t, mem, bisectFields, tgt)
	cancelled.Store(0)
	ss.block = waitCancel(make(chan struct{}), &cancelled)
	ts.failSums = boom
	_, err = Diff(context.Background(), Input{Source: ss}, Input{Source: ts}, Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect}, nil)
	if !errors.Is(err, boom) || cancelled.Load() != 1 || ss.inFlight.Load() != 0 {
		t.Errorf("failed target: %v; %d source statements cancelled, %d still running", err, cancelled.Load(), ss.inFlight.Load())
	}
}

// A narrow probe settles only a clear case for streaming: a checksum that
// took at least twice the read, on the slower side of each.
func TestClearlyStream(t *testing.T) {
	ms := func(a, b time.Duration) sides[time.Duration] {
		return sides[time.Duration]{a * time.Millisecond, b * time.Millisecond}
	}
	for _, c := range []struct {
		check, read sides[time.Duration]
		want        bool
	}{
		{ms(41, 30), ms(17, 12), true},  // MD5 against a read: clear
		{ms(10, 18), ms(16, 26), false}, // the record hash: close, probe wide
		{ms(5, 5), ms(20, 10), false},   // the read dearer: probe wide
		{ms(20, 1), ms(10, 10), true},   // the slower side sets each cost
		{ms(19, 1), ms(10, 10), false},
	} {
		if got := clearlyStream(c.check, c.read); got != c.want {
			t.Errorf("clearlyStream(%v, %v) = %v, want %v", c.check, c.read, got, c.want)
		}
	}
}
