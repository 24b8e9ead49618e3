package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	memsrc "github.com/reconhq/reconcile/connectors/memory"
	"github.com/reconhq/reconcile/internal/arrowtest"
)

// tbl builds an in-memory table from rows of Go values (see
// arrowtest.Records), in batches of batch rows.
func tbl(t testing.TB, mem memory.Allocator, name string, fields []arrow.Field, rows [][]any, batch int) memsrc.Table {
	t.Helper()
	schema := arrow.NewSchema(fields, nil)
	recs, err := arrowtest.Records(mem, schema, rows, batch)
	if err != nil {
		t.Fatal(err)
	}
	return memsrc.Table{Name: name, Schema: schema, Records: recs}
}

// checkedAlloc returns an allocator that fails the test if any Arrow
// buffer is still allocated once the test and its cleanups are done.
func checkedAlloc(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// source wraps a table; the records' ownership moves to the source.
func source(t testing.TB, tb memsrc.Table, ordered []string) connectors.Source {
	t.Helper()
	defer func() {
		for _, r := range tb.Records {
			r.Release()
		}
	}()
	if ordered != nil {
		s, err := memsrc.NewOrdered(tb, ordered)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s, err := memsrc.New(tb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type collected struct {
	res     *Result
	changes []Change
}

// lines renders the changes as sorted strings, so runs can be compared
// regardless of listing order.
func (c collected) lines() []string {
	var out []string
	for _, ch := range c.changes {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s %s", ch.Kind, ch.KeyString())
		if ch.Side != 0 {
			fmt.Fprintf(&sb, " side=%s count=%d", ch.Side, ch.Count)
		}
		for i, col := range ch.Columns {
			fmt.Fprintf(&sb, " %s:%s→%s", col, ch.Source[i].Value, ch.Target[i].Value)
		}
		out = append(out, sb.String())
	}
	sort.Strings(out)
	return out
}

func diff(t testing.TB, src, tgt connectors.Source, opts Options) collected {
	t.Helper()
	var c collected
	res, err := Diff(context.Background(), Input{Source: src}, Input{Source: tgt}, opts, func(ch Change) error {
		c.changes = append(c.changes, ch)
		return nil
	})
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	c.res = res
	return c
}

var custFields = []arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}

func TestDiffClassifiesEveryKind(t *testing.T) {
	mem := checkedAlloc(t)
	src := tbl(t, mem, "billing", custFields, [][]any{
		{1, "a@x.com", "10.50", true},
		{2, "b@x.com", "20.00", true},
		{3, "c@x.com", "30.00", false}, // missing in target
		{4, "d@x.com", "40.00", true},  // duplicated in source
		{4, "d@x.com", "40.00", true},
		{nil, "n@x.com", "1.00", true}, // null key
		{6, "f@x.com", nil, true},
	}, 3)
	tgt := tbl(t, mem, "crm", custFields, [][]any{
		{2, "B@x.com", "20.01", true}, // changed: email, amount
		{1, "a@x.com", "10.5", true},  // equal (10.50 = 10.5)
		{4, "d@x.com", "40.00", true},
		{5, "e@x.com", "50.00", true}, // extra
		{6, "f@x.com", nil, true},     // NULL = NULL
		{7, "g@x.com", "1", true},     // duplicated in target only
		{7, "g@x.com", "1", false},
	}, 2)
	for _, algo := range []struct {
		name    string
		ordered bool
	}{{"hash", false}} {
		c := diff(t, source(t, src, nil), source(t, tgt, nil), Options{Key: []string{"id"}, Allocator: mem})
		want := Counts{Matched: 2, Missing: 1, Extra: 1, Changed: 1, Duplicate: 2, NullKey: 1}
		if c.res.Summary != want {
			t.Errorf("%s: summary = %+v, want %+v", algo.name, c.res.Summary, want)
		}
		got := c.lines()
		wantLines := []string{
			"changed id=2 amount:20→20.01 email:b@x.com→B@x.com",
			"duplicate id=4 side=source count=2",
			"duplicate id=7 side=target count=2",
			"extra id=5",
			"missing id=3",
			"null_key id=NULL side=source count=0",
		}
		if !slices.Equal(got, wantLines) {
			t.Errorf("%s: changes =\n%s\nwant\n%s", algo.name, strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
		}
		if c.res.Source.Rows != 7 || c.res.Target.Rows != 7 {
			t.Errorf("rows = %d/%d, want 7/7", c.res.Source.Rows, c.res.Target.Rows)
		}
		drift := map[string]int64{}
		for _, d := range c.res.Columns {
			drift[d.Name] = d.Changed
		}
		if drift["email"] != 1 || drift["amount"] != 1 || drift["active"] != 0 {
			t.Errorf("column drift = %v", drift)
		}
		if c.res.Consistent() {
			t.Error("Consistent() = true with differences")
		}
	}
}

// genRows makes n customer rows with a few NULLs.
func genRows(r *rand.Rand, n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		var email any = fmt.Sprintf("user%d@example.com", r.IntN(1_000_000))
		if r.IntN(50) == 0 {
			email = nil
		}
		rows[i] = []any{i + 1, email, fmt.Sprintf("%d.%02d", r.IntN(10000), r.IntN(100)), r.IntN(2) == 0}
	}
	return rows
}

func mutate(r *rand.Rand, rows [][]any, n int) [][]any {
	out := make([][]any, 0, len(rows))
	for _, row := range rows {
		switch r.IntN(len(rows) / n) {
		case 0: // drop
			continue
		case 1: // change
			row = slices.Clone(row)
			row[1] = fmt.Sprintf("changed%d@example.com", r.IntN(1000))
		}
		out = append(out, row)
	}
	for i := 0; i < n/3+1; i++ {
		out = append(out, []any{len(rows) + 1 + i, "new@example.com", "1.00", true})
	}
	return out
}

func TestDiffProperties(t *testing.T) {
	mem := checkedAlloc(t)
	r := rand.New(rand.NewPCG(1, 2))
	a := genRows(r, 3000)
	b := mutate(r, a, 60)
	mk := func(rows [][]any, batch int) connectors.Source {
		return source(t, tbl(t, mem, "t", custFields, rows, batch), nil)
	}
	opts := Options{Key: []string{"id"}, Allocator: mem, Algorithm: Hash}

	self := diff(t, mk(a, 500), mk(a, 700), opts)
	if !self.res.Consistent() || len(self.changes) != 0 || self.res.Summary.Matched != 3000 {
		t.Fatalf("diff(A, A): %+v, %d changes", self.res.Summary, len(self.changes))
	}
	if self.res.Source.Checksum != self.res.Target.Checksum {
		t.Error("diff(A, A): checksums differ")
	}

	ab := diff(t, mk(a, 500), mk(b, 500), opts)
	ba := diff(t, mk(b, 500), mk(a, 500), opts)
	if ab.res.Summary.Missing != ba.res.Summary.Extra || ab.res.Summary.Extra != ba.res.Summary.Missing ||
		ab.res.Summary.Changed != ba.res.Summary.Changed || ab.res.Summary.Missing == 0 || ab.res.Summary.Changed == 0 {
		t.Errorf("diff(A,B) = %+v, diff(B,A) = %+v", ab.res.Summary, ba.res.Summary)
	}

	// Shuffling rows changes nothing, checksums included.
	shuffled := slices.Clone(b)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	abs := diff(t, mk(a, 500), mk(shuffled, 333), opts)
	if !slices.Equal(ab.lines(), abs.lines()) || ab.res.Summary != abs.res.Summary || ab.res.Target.Checksum != abs.res.Target.Checksum {
		t.Error("shuffling target rows changed the result")
	}

	// Reordering columns changes nothing.
	perm := []int{3, 1, 0, 2}
	pf := make([]arrow.Field, 4)
	prow := func(rows [][]any) [][]any {
		out := make([][]any, len(rows))
		for i, row := range rows {
			out[i] = make([]any, 4)
			for j, p := range perm {
				out[i][j] = row[p]
			}
		}
		return out
	}
	for j, p := range perm {
		pf[j] = custFields[p]
	}
	abp := diff(t, mk(a, 500), source(t, tbl(t, mem, "t", pf, prow(b), 400), nil), opts)
	if !slices.Equal(ab.lines(), abp.lines()) || ab.res.Target.Checksum != abp.res.Target.Checksum {
		t.Error("reordering target columns changed the result")
	}

	// Spilling gives the same result.
	spillOpts := opts
	spillOpts.MemoryLimit = 16 << 10
	spillOpts.TempDir = t.TempDir()
	abSpill := diff(t, mk(a, 500), mk(b, 500), spillOpts)
	if abSpill.res.Plan.SpilledParts == 0 || abSpill.res.Plan.SpilledBytes == 0 {
		t.Error("MemoryLimit 16KiB did not spill")
	}
	if !slices.Equal(ab.lines(), abSpill.lines()) || ab.res.Summary != abSpill.res.Summary {
		t.Error("spilling changed the result")
	}

	// The ordered merge gives the same result as the hash algorithm.
	mkOrdered := func(rows [][]any, batch int) connectors.Source {
		return source(t, tbl(t, mem, "t", custFields, rows, batch), []string{"id"})
	}
	mergeOpts := opts
	mergeOpts.Algorithm = Merge
	abMerge := diff(t, mkOrdered(a, 256), mkOrdered(b, 100), mergeOpts)
	if abMerge.res.Plan.Algorithm != "merge" {
		t.Fatalf("algorithm = %s, want merge", abMerge.res.Plan.Algorithm)
	}
	if fmt.Sprint(ab.changes) != fmt.Sprint(abMerge.changes) {
		t.Error("hash and merge list the changes in different orders")
	}
	if !slices.Equal(ab.lines(), abMerge.lines()) || ab.res.Summary != abMerge.res.Summary ||
		ab.res.Source.Checksum != abMerge.res.Source.Checksum {
		t.Errorf("merge and hash disagree: %+v vs %+v\n%v\n%v", abMerge.res.Summary, ab.res.Summary, abMerge.lines(), ab.lines())
	}

	// Auto merges inputs that happen to be in key order and falls back to
	// hashing when one is not; the result is the same either way.
	auto := opts
	auto.Algorithm = Auto
	abAuto := diff(t, mk(a, 500), mk(b, 300), auto)
	if abAuto.res.Plan.Algorithm != "merge" || !slices.Equal(ab.lines(), abAuto.lines()) || ab.res.Summary != abAuto.res.Summary {
		t.Errorf("auto on sorted inputs: algorithm %s, summary %+v", abAuto.res.Plan.Algorithm, abAuto.res.Summary)
	}
	autoLim := auto
	autoLim.Limit = 7
	abAutoShuf := diff(t, mk(a, 500), mk(shuffled, 300), autoLim)
	abHashLim := diff(t, mk(a, 500), mk(shuffled, 300), Options{Key: []string{"id"}, Allocator: mem, Algorithm: Hash, Limit: 7})
	if abAutoShuf.res.Plan.Algorithm != "hash" || abAutoShuf.res.Plan.Note == "" || ab.res.Summary != abAutoShuf.res.Summary ||
		abAutoShuf.res.Source.Rows != 3000 || len(abAutoShuf.changes) != 7 {
		t.Errorf("auto on shuffled inputs: algorithm %s (%s), summary %+v, rows %d, %d listed", abAutoShuf.res.Plan.Algorithm,
			abAutoShuf.res.Plan.Note, abAutoShuf.res.Summary, abAutoShuf.res.Source.Rows, len(abAutoShuf.changes))
	}
	// A capped listing is the changes with the smallest keys, in key order,
	// whichever algorithm ran.
	abMergeLim := diff(t, mk(a, 500), mk(b, 300), autoLim)
	if fmt.Sprint(abMergeLim.changes) != fmt.Sprint(abAutoShuf.changes) || fmt.Sprint(abHashLim.changes) != fmt.Sprint(abMergeLim.changes) {
		t.Errorf("capped listings differ:\nmerge %v\nhash  %v", abMergeLim.lines(), abAutoShuf.lines())
	}

	// Limit caps the list, never the counts.
	lim := opts
	lim.Limit = 5
	abLim := diff(t, mk(a, 500), mk(b, 500), lim)
	if len(abLim.changes) != 5 || abLim.res.Listed != 5 || abLim.res.Summary != ab.res.Summary {
		t.Errorf("limit 5: %d listed, summary %+v", len(abLim.changes), abLim.res.Summary)
	}
}

func TestDiffSchemaDriftAndCoercion(t *testing.T) {
	mem := checkedAlloc(t)
	srcF := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "plan", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: arrow.BinaryTypes.String}, // text on this side
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "legacy", Type: arrow.BinaryTypes.String},
	}
	tgtF := []arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String}, // text key on this side
		{Name: "tier", Type: arrow.BinaryTypes.String},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
		{Name: "flag", Type: arrow.FixedWidthTypes.Timestamp_us}, // incompatible
		{Name: "owner", Type: arrow.BinaryTypes.String},
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := tbl(t, mem, "s", srcF, [][]any{{1, "gold", "10.50", true, "x"}, {2, "free", "abc", false, "y"}}, 0)
	tgt := tbl(t, mem, "t", tgtF, [][]any{{"1", "gold", 10.5, ts, "o"}, {"2", "free", 3.0, ts, "o"}}, 0)
	c := diff(t, source(t, src, nil), source(t, tgt, nil), Options{Key: []string{"id"}, Map: map[string]string{"plan": "tier"}, Allocator: mem})
	s := c.res.Schema
	if !slices.Equal(s.OnlyInSource, []string{"legacy"}) || !slices.Equal(s.OnlyInTarget, []string{"owner"}) {
		t.Errorf("only in source %v, only in target %v", s.OnlyInSource, s.OnlyInTarget)
	}
	mism := map[string]bool{}
	for _, m := range s.TypeMismatch {
		mism[m.Column] = m.Compared
	}
	if len(mism) != 3 || !mism["id"] || !mism["amount"] || mism["flag"] {
		t.Errorf("type mismatches = %+v", s.TypeMismatch)
	}
	if got, want := c.lines(), []string{"changed id=2 amount:abc→3"}; !slices.Equal(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
	if c.res.Summary.Matched != 1 {
		t.Errorf("matched = %d, want 1", c.res.Summary.Matched)
	}
}

func TestDuplicatesOnBothSides(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.BinaryTypes.String}}
	srcRows := [][]any{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {4, "d"}, {5, "e"}}
	tgtRows := [][]any{{1, "a"}, {1, "x"}, {2, "b"}, {3, "c"}, {3, "y"}, {3, "c"}, {4, "d"}, {4, "d"}, {5, "E"}, {6, "f"}}
	want := []string{
		"changed id=5 v:e→E",
		"duplicate id=1 side=target count=2",
		"duplicate id=3 side=target count=3",
		"duplicate id=4 side=source count=2",
		"duplicate id=4 side=target count=2",
		"extra id=6",
	}
	for _, tc := range []struct {
		name string
		opts Options
		ord  []string
	}{
		{"hash", Options{Algorithm: Hash}, nil},
		{"hash spilled", Options{Algorithm: Hash, MemoryLimit: 1, TempDir: t.TempDir()}, nil},
		{"merge", Options{Algorithm: Merge}, []string{"id"}},
	} {
		tc.opts.Key, tc.opts.Allocator = []string{"id"}, mem
		c := diff(t, source(t, tbl(t, mem, "s", f, srcRows, 2), tc.ord), source(t, tbl(t, mem, "t", f, tgtRows, 3), tc.ord), tc.opts)
		if got := c.lines(); !slices.Equal(got, want) || c.res.Summary.Matched != 1 {
			t.Errorf("%s: matched %d, changes\n%s\nwant\n%s", tc.name, c.res.Summary.Matched, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestNullKeysListLastInBothAlgorithms(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "b", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.BinaryTypes.String}}
	srcRows := [][]any{{1, nil, "n"}, {1, 1, "x"}, {2, 5, "x"}, {3, 1, "x"}}
	tgtRows := [][]any{{1, 1, "y"}, {2, 5, "y"}, {3, 1, "y"}}
	var listings []string
	for _, algo := range []Algorithm{Hash, Merge} {
		for _, limit := range []int64{0, 2} {
			c := diff(t, source(t, tbl(t, mem, "s", f, srcRows, 0), []string{"a", "b"}), source(t, tbl(t, mem, "t", f, tgtRows, 0), []string{"a", "b"}),
				Options{Key: []string{"a", "b"}, Algorithm: algo, Limit: limit, Allocator: mem})
			var keys []string
			for _, ch := range c.changes {
				keys = append(keys, ch.Kind.String()+" "+ch.KeyString())
			}
			listings = append(listings, fmt.Sprintf("limit %d: %s", limit, strings.Join(keys, "; ")))
			if c.res.Summary.NullKey != 1 || c.res.Summary.Changed != 3 {
				t.Errorf("%s limit %d: summary %+v", algo, limit, c.res.Summary)
			}
		}
	}
	want := []string{
		"limit 0: changed a=1, b=1; changed a=2, b=5; changed a=3, b=1; null_key a=1, b=NULL",
		"limit 2: changed a=1, b=1; changed a=2, b=5",
	}
	if !slices.Equal(listings[:2], want) || !slices.Equal(listings[2:], want) {
		t.Errorf("listings (hash, then merge):\n%s\nwant each\n%s", strings.Join(listings, "\n"), strings.Join(want, "\n"))
	}
}

func TestMapTakesTheTargetColumn(t *testing.T) {
	mem := checkedAlloc(t)
	srcF := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "plan", Type: arrow.BinaryTypes.String}, {Name: "tier", Type: arrow.BinaryTypes.String}}
	tgtF := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "tier", Type: arrow.BinaryTypes.String}}
	src := tbl(t, mem, "s", srcF, [][]any{{1, "gold", "x"}}, 0)
	tgt := tbl(t, mem, "t", tgtF, [][]any{{1, "gold"}}, 0)
	c := diff(t, source(t, src, nil), source(t, tgt, nil), Options{Key: []string{"id"}, Map: map[string]string{"plan": "tier"}, Allocator: mem})
	if len(c.changes) != 0 || !slices.Equal(c.res.Schema.OnlyInSource, []string{"tier"}) || len(c.res.Schema.OnlyInTarget) != 0 {
		t.Errorf("--map plan=tier with a source tier: changes %v, schema %+v", c.lines(), c.res.Schema)
	}
}

func TestDiffErrors(t *testing.T) {
	mem := memory.NewGoAllocator()
	mk := func() connectors.Source {
		return source(t, tbl(t, mem, "billing.csv", custFields, [][]any{{1, "a", "1.00", true}}, 0), nil)
	}
	_, err := Diff(context.Background(), Input{Source: mk()}, Input{Source: mk()}, Options{Key: []string{"idx", "email"}}, nil)
	if !errors.Is(err, connectors.ErrColumnNotFound) || !strings.Contains(err.Error(), "id, email, amount, active") {
		t.Errorf("unknown key: %v", err)
	}
	_, err = Diff(context.Background(), Input{Source: mk()}, Input{Source: mk()}, Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "--key") {
		t.Errorf("no key: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Diff(ctx, Input{Source: mk()}, Input{Source: mk()}, Options{Key: []string{"id"}}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	sinkErr := errors.New("disk full")
	_, err = Diff(context.Background(), Input{Source: mk()}, Input{Source: source(t, tbl(t, mem, "x", custFields, [][]any{{2, "a", "1.00", true}}, 0), nil)},
		Options{Key: []string{"id"}}, func(Change) error { return sinkErr })
	if !errors.Is(err, sinkErr) {
		t.Errorf("sink error: %v", err)
	}
	// An ordered source that is not in order fails; it never yields a verdict.
	bad := source(t, tbl(t, mem, "x", custFields, [][]any{{2, "a", "1.00", true}, {1, "a", "1.00", true}}, 0), []string{"id"})
	good := source(t, tbl(t, mem, "y", custFields, [][]any{{1, "a", "1.00", true}, {2, "a", "1.00", true}}, 0), []string{"id"})
	_, err = Diff(context.Background(), Input{Source: bad}, Input{Source: good}, Options{Key: []string{"id"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "not in key order") {
		t.Errorf("unordered merge input: %v", err)
	}
}

// A text column marked as exact decimals compares as numbers: with a
// Decimal128 column, with another decimal-text column, and as a key in
// numeric order.
func TestLogicalDecimalComparesAsNumber(t *testing.T) {
	mem := checkedAlloc(t)
	dec := arrow.NewMetadata([]string{connectors.MetaLogical}, []string{connectors.LogicalDecimal})
	srcF := []arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String, Metadata: dec},
		{Name: "a", Type: arrow.BinaryTypes.String, Metadata: dec, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.String, Metadata: dec, Nullable: true},
	}
	tgtF := []arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64},
		{Name: "a", Type: &arrow.Decimal128Type{Precision: 10, Scale: 3}, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.String, Metadata: dec, Nullable: true},
	}
	for _, ordered := range [][]string{nil, {"k"}} {
		src := tbl(t, mem, "s", srcF, [][]any{
			{"2", "10.50", "NaN"}, {"10", "-0.000", "123456789012345678901234567890123456789012.5"}, {"30", "1", "1e3"},
		}, 0)
		tgt := tbl(t, mem, "t", tgtF, [][]any{
			{2, "10.5", "NaN"}, {10, "0", "123456789012345678901234567890123456789012.50"}, {30, "1.001", "1000.0"},
		}, 0)
		c := diff(t, source(t, src, ordered), source(t, tgt, ordered), Options{Key: []string{"k"}, Allocator: mem})
		if got, want := c.lines(), []string{"changed k=30 a:1→1.001"}; !slices.Equal(got, want) {
			t.Errorf("ordered=%v: changes = %v, want %v", ordered != nil, got, want)
		}
		for _, m := range c.res.Schema.TypeMismatch {
			if m.Column != "k" || m.SourceType != "decimal" {
				t.Errorf("unexpected type mismatch %+v", m)
			}
		}
	}
}

// A boolean column compares with a number column as 0 and 1 (MySQL's
// tinyint(1)); a value marked invalid (a zero date) differs from every
// valid value and equals another invalid one.
func TestBooleanAsNumberAndInvalidValues(t *testing.T) {
	mem := checkedAlloc(t)
	inv := arrow.NewMetadata([]string{connectors.MetaInvalid}, []string{connectors.InvalidMin})
	srcF := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	}
	tgtF := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "flag", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true, Metadata: inv},
	}
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	zero := arrow.Date32(math.MinInt32)
	for _, ordered := range [][]string{nil, {"id"}} {
		src := tbl(t, mem, "s", srcF, [][]any{{1, true, day}, {2, false, day}, {3, true, day}, {4, nil, nil}}, 0)
		tgt := tbl(t, mem, "t", tgtF, [][]any{{1, int8(1), day}, {2, int8(0), zero}, {3, int8(2), day}, {4, nil, nil}}, 0)
		c := diff(t, source(t, src, ordered), source(t, tgt, ordered), Options{Key: []string{"id"}, Allocator: mem})
		want := []string{
			"changed id=2 day:2026-01-01→<invalid: a value the source cannot represent (e.g. a zero date)>",
			"changed id=3 flag:1→2",
		}
		if got := c.lines(); !slices.Equal(got, want) {
			t.Errorf("ordered=%v: changes = %q, want %q", ordered != nil, got, want)
		}
	}
}

// noting is a source that remarks on how it was read (connectors.Noter).
type noting struct {
	connectors.Source
	notes []string
}

func (n noting) Notes() []string { return n.notes }

func TestNotesOfTheSourcesReachTheResult(t *testing.T) {
	mem := checkedAlloc(t)
	rows := [][]any{{1, "a@x", "1.00", true}}
	src := noting{source(t, tbl(t, mem, "s", custFields, rows, 0), nil), []string{"connection lost after key 7; resumed from a later snapshot", "connection lost after key 7; resumed from a later snapshot"}}
	tgt := source(t, tbl(t, mem, "t", custFields, rows, 0), nil)
	c := diff(t, src, tgt, Options{Key: []string{"id"}, Allocator: mem})
	if want := []string{"connection lost after key 7; resumed from a later snapshot"}; !slices.Equal(c.res.Source.Notes, want) || c.res.Target.Notes != nil {
		t.Errorf("notes: source %q, target %q; want %q once on the source", c.res.Source.Notes, c.res.Target.Notes, want)
	}
}

// The merge's fast lane (matchRun) must agree with the general loop and
// with the hash algorithm wherever batches end, keys repeat and rows
// differ: random sorted sides with dense duplicates, in batches of every
// small size.
func TestMergeAgreesWithHashOnDenseDuplicates(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.BinaryTypes.String}}
	r := rand.New(rand.NewPCG(11, 12))
	gen := func() [][]any {
		var rows [][]any
		for id := 0; id < 400; id++ {
			n := 1
			switch r.IntN(10) {
			case 0:
				n = 0
			case 1:
				n = 2 + r.IntN(3)
			}
			for range n {
				rows = append(rows, []any{id, fmt.Sprint("v", r.IntN(40))})
			}
		}
		return rows
	}
	for trial := range 8 {
		src, tgt := gen(), gen()
		// Most keys should match: copy the source's value for a majority.
		for i := range tgt {
			if i < len(src) && r.IntN(4) != 0 {
				tgt[i] = slices.Clone(src[i])
			}
		}
		slices.SortStableFunc(tgt, func(a, b []any) int { return a[0].(int) - b[0].(int) })
		hash := diff(t, source(t, tbl(t, mem, "s", f, src, 7), nil), source(t, tbl(t, mem, "t", f, tgt, 5), nil),
			Options{Key: []string{"id"}, Allocator: mem, Algorithm: Hash})
		for _, sb := range []int{1, 2, 3, 64} {
			tb := 1 + (sb+trial)%4
			merge := diff(t, source(t, tbl(t, mem, "s", f, src, sb), []string{"id"}), source(t, tbl(t, mem, "t", f, tgt, tb), []string{"id"}),
				Options{Key: []string{"id"}, Allocator: mem, Algorithm: Merge})
			if !slices.Equal(hash.lines(), merge.lines()) || hash.res.Summary != merge.res.Summary {
				t.Fatalf("trial %d, batches %d/%d: merge %+v, hash %+v\nmerge %v\nhash  %v", trial, sb, tb,
					merge.res.Summary, hash.res.Summary, merge.lines(), hash.lines())
			}
		}
		if hash.res.Summary.Matched == 0 || hash.res.Summary.Duplicate == 0 || hash.res.Summary.Changed == 0 {
			t.Fatalf("trial %d exercises too little: %+v", trial, hash.res.Summary)
		}
	}
}

// A batch larger than the range batch digests at a time gives the same
// checksums and changes as small batches.
func TestLargeBatchesDigestInRanges(t *testing.T) {
	mem := checkedAlloc(t)
	r := rand.New(rand.NewPCG(13, 14))
	a := genRows(r, 3*digestRange+17)
	b := mutate(r, a, 90)
	small := diff(t, source(t, tbl(t, mem, "s", custFields, a, 100), []string{"id"}), source(t, tbl(t, mem, "t", custFields, b, 77), []string{"id"}),
		Options{Key: []string{"id"}, Allocator: mem, Algorithm: Merge})
	large := diff(t, source(t, tbl(t, mem, "s", custFields, a, len(a)), []string{"id"}), source(t, tbl(t, mem, "t", custFields, b, len(b)), []string{"id"}),
		Options{Key: []string{"id"}, Allocator: mem, Algorithm: Merge})
	if small.res.Source.Checksum != large.res.Source.Checksum || small.res.Target.Checksum != large.res.Target.Checksum ||
		!slices.Equal(small.lines(), large.lines()) || small.res.Summary != large.res.Summary || small.res.Summary.Changed == 0 {
		t.Errorf("batches of %d rows: %+v, checksums %x/%x; small batches: %+v, %x/%x", len(a), large.res.Summary,
			large.res.Source.Checksum, large.res.Target.Checksum, small.res.Summary, small.res.Source.Checksum, small.res.Target.Checksum)
	}
	for c := range small.res.Source.Columns {
		if small.res.Source.Columns[c] != large.res.Source.Columns[c] {
			t.Errorf("column checksum %v vs %v", small.res.Source.Columns[c], large.res.Source.Columns[c])
		}
	}
}
