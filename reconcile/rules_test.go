package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
	memsrc "github.com/reconhq/reconcile/connectors/memory"
)

// lowerRule lower-cases a string column into a new array.
func lowerRule() ColumnRule {
	return ColumnRule{Describe: "email: lower", Normalize: func(arr arrow.Array, mem memory.Allocator) (arrow.Array, error) {
		s, ok := arr.(*array.String)
		if !ok {
			return nil, fmt.Errorf("lower needs text, not %s", arr.DataType())
		}
		b := array.NewStringBuilder(mem)
		defer b.Release()
		b.Reserve(s.Len())
		for i := range s.Len() {
			if s.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(strings.ToLower(s.Value(i)))
		}
		return b.NewArray(), nil
	}}
}

// identityRule hands the column back as it is.
func identityRule() ColumnRule {
	return ColumnRule{Normalize: func(arr arrow.Array, _ memory.Allocator) (arrow.Array, error) {
		arr.Retain()
		return arr, nil
	}}
}

// absRule tolerates numbers within tol of each other.
func absRule(tol float64) ColumnRule {
	return ColumnRule{Describe: fmt.Sprintf("amount: abs %g", tol), Equal: func(s, t Value) bool {
		a, ok1 := s.Float()
		b, ok2 := t.Float()
		return ok1 && ok2 && math.Abs(a-b) <= tol
	}}
}

var ruleFields = []arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "updated_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
}

var (
	ruleNow = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	old     = ruleNow.Add(-48 * time.Hour)
	recent  = ruleNow.Add(-time.Minute)
	cutoff  = ruleNow.Add(-10 * time.Minute)
)

func ruleRows() (src, tgt [][]any) {
	src = [][]any{
		{1, "A@x.com", 1.0, old, "n"},    // matched once normalised
		{2, "b@x.com", 10.0, old, "n"},   // amount within tolerance: matched
		{3, "c@x.com", 10.0, old, "n"},   // amount changed
		{4, "d@x.com", 1.0, old, "n"},    // email changed, amount tolerated
		{5, "e@x.com", 1.0, recent, "n"}, // missing, in flight
		{6, "f@x.com", 1.0, old, "n"},    // missing
		{8, "h@x.com", 1.0, old, "n"},    // note changed on a target updated just now: in flight
		{9, "i@x.com", 1.0, old, "n"},    // equal, updated_at differs but is not compared
	}
	tgt = [][]any{
		{9, "i@x.com", 1.0, recent, "n"},
		{8, "h@x.com", 1.0, recent, "m"},
		{7, "g@x.com", 1.0, recent, "n"}, // extra, in flight
		{4, "D2@x.com", 1.004, old, "n"},
		{3, "c@x.com", 11.0, old, "n"},
		{2, "b@x.com", 10.005, old, "n"},
		{1, "a@x.com", 1.0, old, "n"},
	}
	return src, tgt
}

func ruleOpts(mem memory.Allocator) Options {
	return Options{
		Key:         []string{"id"},
		Ignore:      []string{"updated_at"},
		Allocator:   mem,
		ColumnRules: map[string]ColumnRule{"email": lowerRule(), "amount": absRule(0.01)},
		Context:     []string{"updated_at"},
		InFlight:    &InFlightRule{Column: "updated_at", After: cutoff},
	}
}

// ruleLines renders the changes with their kinds, values and context.
func ruleLines(c collected) []string {
	var out []string
	for _, ch := range c.changes {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s %s", ch.Kind, ch.KeyString())
		if ch.Kind == InFlight {
			fmt.Fprintf(&sb, " as=%s", ch.InFlightAs)
		}
		if len(ch.Columns) > 0 {
			for i, col := range ch.Columns {
				fmt.Fprintf(&sb, " %s:%s→%s", col, ch.Source[i].Value, ch.Target[i].Value)
			}
		} else {
			for _, f := range append(slices.Clone(ch.Source), ch.Target...) {
				fmt.Fprintf(&sb, " %s=%s", f.Name, f.Value)
			}
		}
		for _, f := range ch.SourceContext {
			fmt.Fprintf(&sb, " src.%s=%s", f.Name, f.Value)
		}
		for _, f := range ch.TargetContext {
			fmt.Fprintf(&sb, " tgt.%s=%s", f.Name, f.Value)
		}
		out = append(out, sb.String())
	}
	return out
}

func ts(t time.Time) string { return t.Format("2006-01-02T15:04:05.999999Z") }

var ruleWant = []string{
	"changed id=3 amount:10→11 src.updated_at=" + ts(old) + " tgt.updated_at=" + ts(old),
	"changed id=4 email:d@x.com→d2@x.com src.updated_at=" + ts(old) + " tgt.updated_at=" + ts(old),
	"in_flight id=5 as=missing id=5 email=e@x.com amount=1 note=n src.updated_at=" + ts(recent),
	"missing id=6 id=6 email=f@x.com amount=1 note=n src.updated_at=" + ts(old),
	"in_flight id=7 as=extra id=7 email=g@x.com amount=1 note=n tgt.updated_at=" + ts(recent),
	"in_flight id=8 as=changed note:n→m src.updated_at=" + ts(old) + " tgt.updated_at=" + ts(recent),
}

func TestRulesEveryAlgorithm(t *testing.T) {
	mem := checkedAlloc(t)
	srcRows, tgtRows := ruleRows()
	sorted := func(rows [][]any) [][]any {
		rows = slices.Clone(rows)
		slices.SortFunc(rows, func(a, b []any) int { return a[0].(int) - b[0].(int) })
		return rows
	}
	for _, tc := range []struct {
		name      string
		algo      Algorithm
		ordered   bool
		sortedTgt bool
		spill     bool
		limit     int64
		wantAlgo  string
	}{
		{name: "hash", algo: Hash, wantAlgo: "hash"},
		{name: "hash spilled", algo: Hash, spill: true, wantAlgo: "hash"},
		{name: "hash limit", algo: Hash, limit: 2, wantAlgo: "hash"},
		{name: "merge", algo: Merge, ordered: true, wantAlgo: "merge"},
		{name: "merge limit", algo: Merge, ordered: true, limit: 2, wantAlgo: "merge"},
		{name: "auto unordered", algo: Auto, wantAlgo: "hash"},
		{name: "auto in order", algo: Auto, sortedTgt: true, wantAlgo: "merge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := ruleOpts(mem)
			opts.Algorithm, opts.Limit = tc.algo, tc.limit
			if tc.spill {
				opts.MemoryLimit, opts.TempDir = 1, t.TempDir()
			}
			var ord []string
			sr, tr := srcRows, tgtRows
			if tc.spill {
				// Enough equal rows to pass the memory limit.
				for i := 100; i < 1100; i++ {
					row := []any{i, fmt.Sprintf("u%d@x.com", i), 1.0, old, "n"}
					sr, tr = append(slices.Clone(sr), row), append(slices.Clone(tr), row)
				}
			}
			if tc.ordered {
				ord = []string{"id"}
			}
			if tc.ordered || tc.sortedTgt {
				tr = sorted(tr)
			}
			c := diff(t, source(t, tbl(t, mem, "s", ruleFields, sorted(sr), 3), ord), source(t, tbl(t, mem, "t", ruleFields, tr, 2), ord), opts)
			want := ruleWant
			if tc.limit > 0 {
				want = want[:tc.limit]
			}
			if got := ruleLines(c); !slices.Equal(got, want) {
				t.Errorf("changes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			wantCounts := Counts{Matched: 3, Missing: 1, Changed: 2, InFlight: 3, Tolerated: 1}
			if tc.spill {
				wantCounts.Matched += 1000
			}
			if c.res.Summary != wantCounts {
				t.Errorf("summary %+v, want %+v", c.res.Summary, wantCounts)
			}
			if c.res.Summary.Differences() != 3 || c.res.Consistent() {
				t.Errorf("differences %d, consistent %v", c.res.Summary.Differences(), c.res.Consistent())
			}
			if c.res.Plan.Algorithm != tc.wantAlgo {
				t.Errorf("algorithm %s, want %s (%s)", c.res.Plan.Algorithm, tc.wantAlgo, c.res.Plan.Note)
			}
			if tc.spill && c.res.Plan.SpilledParts == 0 {
				t.Error("did not spill")
			}
			drift := map[string]ColumnDrift{}
			for _, d := range c.res.Columns {
				drift[d.Name] = d
			}
			if d := drift["amount"]; d.Changed != 1 || d.Tolerated != 2 {
				t.Errorf("amount drift %+v, want 1 changed, 2 tolerated", d)
			}
			if d := drift["email"]; d.Changed != 1 || d.Tolerated != 0 {
				t.Errorf("email drift %+v", d)
			}
			if _, ok := drift["updated_at"]; ok || slices.Contains(c.res.Compared, "updated_at") {
				t.Error("a context column is compared")
			}
			wantRules := []string{"amount: abs 0.01", "email: lower", "in flight: updated_at after " + cutoff.Format(time.RFC3339Nano)}
			if !slices.Equal(c.res.Plan.Rules, wantRules) {
				t.Errorf("rules %q, want %q", c.res.Plan.Rules, wantRules)
			}
		})
	}
}

// Only in-flight differences: consistent.
func TestInFlightOnlyIsConsistent(t *testing.T) {
	mem := checkedAlloc(t)
	f := ruleFields
	src := [][]any{{1, "a", 1.0, recent, "x"}, {2, "b", 1.0, old, "x"}}
	tgt := [][]any{{1, "a", 1.0, recent, "y"}, {2, "b", 1.0, old, "x"}, {3, "c", 1.0, recent, "x"}}
	for _, algo := range []Algorithm{Hash, Merge} {
		c := diff(t, source(t, tbl(t, mem, "s", f, src, 0), []string{"id"}), source(t, tbl(t, mem, "t", f, tgt, 0), []string{"id"}),
			Options{Key: []string{"id"}, Algorithm: algo, Allocator: mem, InFlight: &InFlightRule{Column: "updated_at", After: cutoff}})
		if !c.res.Consistent() || c.res.Summary.InFlight != 2 || c.res.Summary.Matched != 1 || len(c.changes) != 2 {
			t.Errorf("%s: consistent %v, summary %+v, %d listed", algo, c.res.Consistent(), c.res.Summary, len(c.changes))
		}
	}
}

// A time beyond the window's end (a clock in the future, a 9999-12-31
// placeholder) is drift, never in flight forever.
func TestInFlightUntil(t *testing.T) {
	mem := checkedAlloc(t)
	f := ruleFields
	future := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	src := [][]any{{1, "a", 1.0, recent, "x"}, {2, "b", 1.0, old, "x"}}
	tgt := [][]any{{1, "a", 1.0, recent, "y"}, {2, "b", 1.0, future, "wrong"}, {3, "c", 1.0, future, "x"}}
	for _, algo := range []Algorithm{Hash, Merge} {
		c := diff(t, source(t, tbl(t, mem, "s", f, src, 0), []string{"id"}), source(t, tbl(t, mem, "t", f, tgt, 0), []string{"id"}),
			Options{Key: []string{"id"}, Algorithm: algo, Allocator: mem,
				InFlight: &InFlightRule{Column: "updated_at", After: cutoff, Until: recent.Add(time.Minute)}})
		if c.res.Consistent() || c.res.Summary.InFlight != 1 || c.res.Summary.Changed != 1 || c.res.Summary.Extra != 1 {
			t.Errorf("%s: consistent %v, summary %+v", algo, c.res.Consistent(), c.res.Summary)
		}
	}
	_, err := Diff(t.Context(), Input{Source: source(t, tbl(t, mem, "s", f, src, 0), nil)}, Input{Source: source(t, tbl(t, mem, "t", f, tgt, 0), nil)},
		Options{Key: []string{"id"}, Allocator: mem, InFlight: &InFlightRule{Column: "updated_at", After: cutoff, Until: cutoff}}, func(Change) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "ends") {
		t.Errorf("an empty window: %v", err)
	}
}

// Normalising both sides with the identity, and a tolerance of 0, change
// nothing: the same changes, counts and checksums as without rules.
func TestIdentityRulesChangeNothing(t *testing.T) {
	mem := checkedAlloc(t)
	srcRows, tgtRows := ruleRows()
	for _, algo := range []Algorithm{Hash, Merge} {
		run := func(rules map[string]ColumnRule) collected {
			srt := func(rows [][]any) [][]any {
				rows = slices.Clone(rows)
				slices.SortFunc(rows, func(a, b []any) int { return a[0].(int) - b[0].(int) })
				return rows
			}
			return diff(t, source(t, tbl(t, mem, "s", ruleFields, srt(srcRows), 3), []string{"id"}),
				source(t, tbl(t, mem, "t", ruleFields, srt(tgtRows), 2), []string{"id"}),
				Options{Key: []string{"id"}, Algorithm: algo, Allocator: mem, ColumnRules: rules})
		}
		plain := run(nil)
		ident := map[string]ColumnRule{}
		for _, f := range ruleFields[1:] { // a normalised key is not read in order
			r := identityRule()
			if f.Name == "amount" {
				r.Equal = absRule(0).Equal
			}
			ident[f.Name] = r
		}
		same := run(ident)
		if !slices.Equal(plain.lines(), same.lines()) || plain.res.Summary != same.res.Summary ||
			plain.res.Source.Checksum != same.res.Source.Checksum || plain.res.Target.Checksum != same.res.Target.Checksum {
			t.Errorf("%s: identity rules changed the result:\n%s\n%+v\nvs\n%s\n%+v", algo,
				strings.Join(plain.lines(), "\n"), plain.res.Summary, strings.Join(same.lines(), "\n"), same.res.Summary)
		}
		if plain.res.Summary.Changed == 0 {
			t.Errorf("%s: the data shows no change to keep", algo)
		}
	}
}

// A normalised key may lose the sources' order: auto falls back to hash
// partitioning, an explicit merge is refused before reading.
func TestNormalisedKey(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{{Name: "email", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}
	src := [][]any{{"B", 1}, {"a", 2}, {"c", 3}} // in order as is, not once lowered
	tgt := [][]any{{"a", 2}, {"b", 1}, {"c", 4}}
	rules := map[string]ColumnRule{"email": lowerRule()}
	c := diff(t, source(t, tbl(t, mem, "s", f, src, 0), []string{"email"}), source(t, tbl(t, mem, "t", f, tgt, 0), []string{"email"}),
		Options{Key: []string{"email"}, Allocator: mem, ColumnRules: rules})
	if want := []string{"changed email=c v:3→4"}; !slices.Equal(c.lines(), want) || c.res.Summary.Matched != 2 || c.res.Plan.Algorithm != "hash" ||
		c.res.Plan.Note != "a key column is normalised, which may change the key order; inputs not in key order; switched to hash partitioning" {
		t.Errorf("auto: %q, %+v, %s (%s)", c.lines(), c.res.Summary, c.res.Plan.Algorithm, c.res.Plan.Note)
	}
	_, err := Diff(context.Background(), Input{Source: source(t, tbl(t, mem, "s", f, src, 0), []string{"email"})}, Input{Source: source(t, tbl(t, mem, "t", f, tgt, 0), []string{"email"})},
		Options{Key: []string{"email"}, Allocator: mem, ColumnRules: rules, Algorithm: Merge}, nil)
	if !errors.Is(err, connectors.ErrUnsupported) {
		t.Errorf("merge with a normalised key: %v", err)
	}
}

// Bisect cannot apply Go rules: refused when asked for, streamed by auto
// with the reason in the plan note. Context columns alone keep it.
func TestRulesAndBisect(t *testing.T) {
	mem := checkedAlloc(t)
	var src, tgt [][]any
	for i := range 2000 {
		email := fmt.Sprintf("u%d@x.com", i)
		src = append(src, []any{i, strings.ToUpper(email), float64(i), old, "n"})
		tgt = append(tgt, []any{i, email, float64(i), old, "n"})
	}
	tgt[1500][4] = "changed"
	opts := ruleOpts(mem)
	opts.Ignore = nil
	opts.BisectThreshold = 16
	run := func(o Options) (collected, error) {
		var c collected
		res, err := Diff(context.Background(), Input{Source: newSumSource(t, mem, ruleFields, src)}, Input{Source: newSumSource(t, mem, ruleFields, tgt)}, o,
			func(ch Change) error { c.changes = append(c.changes, ch); return nil })
		c.res = res
		return c, err
	}
	o := opts
	o.Algorithm = Bisect
	_, err := run(o)
	if !errors.Is(err, connectors.ErrUnsupported) || !strings.Contains(err.Error(), "normalisers and tolerances force the comparison after fetching (column(s) amount, email)") ||
		!strings.Contains(err.Error(), "in-flight rows") {
		t.Errorf("bisect with rules: %v", err)
	}
	o.Algorithm = Auto
	c, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	if c.res.Plan.Algorithm != "merge" || !strings.Contains(c.res.Plan.Note, "normalisers and tolerances force the comparison after fetching") {
		t.Errorf("auto: %s (%s)", c.res.Plan.Algorithm, c.res.Plan.Note)
	}
	if c.res.Summary.Changed != 1 || c.res.Summary.Matched != 1999 || len(c.changes) != 1 || c.changes[0].Columns[0] != "note" {
		t.Errorf("auto: %+v %q", c.res.Summary, ruleLines(c))
	}
	// Context alone: bisect reads the context columns of the differing segments.
	o = Options{Key: []string{"id"}, Allocator: mem, Algorithm: Bisect, BisectThreshold: 16, Context: []string{"updated_at"}, Ignore: []string{"updated_at"}}
	for i := range src {
		src[i][1] = tgt[i][1]
	}
	c, err = run(o)
	if err != nil {
		t.Fatal(err)
	}
	if c.res.Plan.Algorithm != "bisect" || len(c.changes) != 1 || len(c.changes[0].SourceContext) != 1 || c.changes[0].TargetContext[0].Value.String() != ts(old) {
		t.Errorf("bisect with context: %s, %d changes", c.res.Plan.Algorithm, len(c.changes))
	} else if got, want := ruleLines(c)[0], "changed id=1500 note:n→changed src.updated_at="+ts(old)+" tgt.updated_at="+ts(old); got != want {
		t.Errorf("bisect with context: %s, want %s", got, want)
	}
}

// Problems with the rules are reported before reading, all at once.
func TestRulesValidation(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "n", Type: arrow.PrimitiveTypes.Int64}, {Name: "s", Type: arrow.BinaryTypes.String}}
	rows := [][]any{{1, 2, "x"}}
	_, err := Diff(context.Background(), Input{Source: source(t, tbl(t, mem, "s", f, rows, 0), nil)}, Input{Source: source(t, tbl(t, mem, "t", f, rows, 0), nil)},
		Options{Key: []string{"id"}, Allocator: mem,
			ColumnRules: map[string]ColumnRule{"n": lowerRule(), "nope": absRule(1), "id": absRule(1)},
			Context:     []string{"gone"},
			InFlight:    &InFlightRule{Column: "s", After: cutoff}}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"normalize column n (source): lower needs text, not int64",
		"normalize column n (target n): lower needs text",
		`column rule "nope": no such column in the source`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	_, err = Diff(context.Background(), Input{Source: source(t, tbl(t, mem, "s", f, rows, 0), nil)}, Input{Source: source(t, tbl(t, mem, "t", f, rows, 0), nil)},
		Options{Key: []string{"id"}, Allocator: mem,
			ColumnRules: map[string]ColumnRule{"id": absRule(1)},
			Context:     []string{"gone"},
			InFlight:    &InFlightRule{Column: "s", After: cutoff}}, nil)
	for _, want := range []string{
		`column rule "id": a key column matches exactly`,
		`context column "gone" is not in the source`,
		`in-flight column "s" is utf8 in the source; it must be a timestamp, timestamptz or date`,
		`in-flight column "s" is utf8 in the target`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// A normaliser that fails, or changes its type, fails the run naming the
// column and the side; nothing leaks.
func TestNormaliserFailureFailsTheRun(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "s", Type: arrow.BinaryTypes.String}}
	var rows [][]any
	for i := range 100 {
		rows = append(rows, []any{i, "x"})
	}
	failing := ColumnRule{Normalize: func(arr arrow.Array, mem memory.Allocator) (arrow.Array, error) {
		if arr.Len() > 0 {
			return nil, errors.New("boom")
		}
		arr.Retain()
		return arr, nil
	}}
	retyping := ColumnRule{Normalize: func(arr arrow.Array, mem memory.Allocator) (arrow.Array, error) {
		if arr.Len() > 0 {
			b := array.NewInt64Builder(mem)
			defer b.Release()
			for range arr.Len() {
				b.Append(1)
			}
			return b.NewArray(), nil
		}
		arr.Retain()
		return arr, nil
	}}
	for _, algo := range []Algorithm{Hash, Merge} {
		for name, r := range map[string]ColumnRule{"boom": failing, "gave int64": retyping} {
			_, err := Diff(context.Background(), Input{Source: source(t, tbl(t, mem, "s", f, rows, 10), []string{"id"})}, Input{Source: source(t, tbl(t, mem, "t", f, rows, 7), []string{"id"})},
				Options{Key: []string{"id"}, Algorithm: algo, Allocator: mem, ColumnRules: map[string]ColumnRule{"s": r}}, nil)
			if err == nil || !strings.Contains(err.Error(), "normalize column s (") || !strings.Contains(err.Error(), name) {
				t.Errorf("%s %s: %v", algo, name, err)
			}
		}
	}
}

// A normaliser may change the type: the schema comparison sees the type
// it gives.
func TestNormaliserChangesTheType(t *testing.T) {
	mem := checkedAlloc(t)
	sf := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "flag", Type: arrow.BinaryTypes.String}}
	tf := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "flag", Type: arrow.FixedWidthTypes.Boolean}}
	yes := ColumnRule{Describe: "flag: yes/no", Normalize: func(arr arrow.Array, mem memory.Allocator) (arrow.Array, error) {
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		switch a := arr.(type) {
		case *array.String:
			for i := range a.Len() {
				b.Append(a.Value(i) == "yes")
			}
		case *array.Boolean:
			for i := range a.Len() {
				b.Append(a.Value(i))
			}
		default:
			return nil, fmt.Errorf("yes/no needs text or boolean")
		}
		return b.NewArray(), nil
	}}
	c := diff(t, source(t, tbl(t, mem, "s", sf, [][]any{{1, "yes"}, {2, "no"}, {3, "no"}}, 0), nil),
		source(t, tbl(t, mem, "t", tf, [][]any{{1, true}, {2, false}, {3, true}}, 0), nil),
		Options{Key: []string{"id"}, Allocator: mem, ColumnRules: map[string]ColumnRule{"flag": yes}})
	if !c.res.Schema.Empty() || !slices.Equal(c.lines(), []string{"changed id=3 flag:false→true"}) {
		t.Errorf("schema %+v, changes %q", c.res.Schema, c.lines())
	}
}

// The identity property on random data: identity normalisers on every
// non-key column and a tolerance of 0 on the numbers give the same
// changes, counts and checksums as no rules, in every algorithm.
func TestIdentityRulesRandom(t *testing.T) {
	mem := checkedAlloc(t)
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 99))
		var srcRows, tgtRows [][]any
		for i := range 300 {
			row := []any{i, fmt.Sprintf("u%d@x.com", r.IntN(50)), float64(r.IntN(1000)) / 8, old, "n"}
			if r.IntN(10) != 0 {
				srcRows = append(srcRows, row)
			}
			switch r.IntN(10) {
			case 0: // missing
			case 1:
				tgtRows = append(tgtRows, []any{i, row[1], row[2].(float64) + 0.125, old, "n"})
			case 2:
				tgtRows = append(tgtRows, []any{i, "other", row[2], old, nil})
			default:
				tgtRows = append(tgtRows, row)
			}
		}
		ident := map[string]ColumnRule{}
		for _, f := range ruleFields[1:] {
			rule := identityRule()
			if f.Name == "amount" {
				rule.Equal = absRule(0).Equal
			}
			ident[f.Name] = rule
		}
		for _, o := range []Options{{Algorithm: Hash}, {Algorithm: Hash, MemoryLimit: 1, TempDir: t.TempDir()}, {Algorithm: Merge}, {Algorithm: Merge, Limit: 5}} {
			o.Key, o.Allocator = []string{"id"}, mem
			run := func(rules map[string]ColumnRule) collected {
				o := o
				o.ColumnRules = rules
				return diff(t, source(t, tbl(t, mem, "s", ruleFields, srcRows, 64), []string{"id"}), source(t, tbl(t, mem, "t", ruleFields, tgtRows, 50), []string{"id"}), o)
			}
			plain, same := run(nil), run(ident)
			if !slices.Equal(plain.lines(), same.lines()) || plain.res.Summary != same.res.Summary ||
				plain.res.Source.Checksum != same.res.Source.Checksum || plain.res.Target.Checksum != same.res.Target.Checksum {
				t.Errorf("seed %d %s: identity rules changed the result: %+v vs %+v", seed, o.Algorithm, plain.res.Summary, same.res.Summary)
			}
			if plain.res.Summary.Changed == 0 || plain.res.Summary.Missing == 0 {
				t.Errorf("seed %d: the data shows no difference to keep: %+v", seed, plain.res.Summary)
			}
		}
	}
}

// The in-flight column may be a date; NULL is never in flight.
func TestInFlightDateAndNull(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}
	today, yesterday := ruleNow.Truncate(24*time.Hour), ruleNow.Add(-24*time.Hour)
	src := [][]any{{1, today, 1}, {2, yesterday, 1}, {3, nil, 1}}
	tgt := [][]any{{1, today, 2}, {2, yesterday, 2}, {3, nil, 2}}
	for _, algo := range []Algorithm{Hash, Merge} {
		c := diff(t, source(t, tbl(t, mem, "s", f, src, 0), []string{"id"}), source(t, tbl(t, mem, "t", f, tgt, 0), []string{"id"}),
			Options{Key: []string{"id"}, Algorithm: algo, Allocator: mem, InFlight: &InFlightRule{Column: "day", After: today.Add(-time.Hour)}})
		want := []string{"changed id=2 v:1→2", "changed id=3 v:1→2", "in_flight id=1 v:1→2"}
		if got := c.lines(); !slices.Equal(got, want) || c.res.Summary.InFlight != 1 || c.res.Summary.Changed != 2 {
			t.Errorf("%s: %q, %+v", algo, got, c.res.Summary)
		}
	}
}

// BenchmarkRulesMerge is BenchmarkDiffMerge with declared rules: "plain"
// has none, "tolerance" a tolerance on amount, a context column and an
// in-flight rule (values are then decoded for every change, listed or
// not), "normalise" adds a normaliser that rebuilds the email column of
// every batch on both sides.
func BenchmarkRulesMerge(b *testing.B) {
	const n = 1_000_000
	mem := memory.NewGoAllocator()
	st, tt := benchTable(mem, n, false), benchTable(mem, n, true)
	s, _ := memsrc.NewOrdered(st, []string{"id"})
	t, _ := memsrc.NewOrdered(tt, []string{"id"})
	defer s.Close()
	defer t.Close()
	for _, r := range append(st.Records, tt.Records...) {
		r.Release()
	}
	tol := absRule(0.01)
	inFlight := &InFlightRule{Column: "created_at", After: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{}},
		{"tolerance", Options{ColumnRules: map[string]ColumnRule{"amount": tol}, Context: []string{"created_at"}, InFlight: inFlight}},
		{"normalise", Options{ColumnRules: map[string]ColumnRule{"amount": tol, "email": lowerRule()}, Context: []string{"created_at"}, InFlight: inFlight}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				o := bc.opts
				o.Key, o.Limit, o.Algorithm = []string{"id"}, 100, Merge
				res, err := Diff(context.Background(), Input{Source: s}, Input{Source: t}, o, nil)
				if err != nil {
					b.Fatal(err)
				}
				if res.Summary.Changed != n/1000 {
					b.Fatalf("changed = %d", res.Summary.Changed)
				}
			}
			b.ReportMetric(float64(2*n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// A tolerance that panics fails the run; it does not crash it.
func TestPanickingToleranceFailsTheRun(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}
	rules := map[string]ColumnRule{"v": {Equal: func(Value, Value) bool { panic("bad tolerance") }}}
	for _, algo := range []Algorithm{Hash, Merge} {
		_, err := Diff(context.Background(), Input{Source: source(t, tbl(t, mem, "s", f, [][]any{{1, 1}}, 0), []string{"id"})}, Input{Source: source(t, tbl(t, mem, "t", f, [][]any{{1, 2}}, 0), []string{"id"})},
			Options{Key: []string{"id"}, Algorithm: algo, Allocator: mem, ColumnRules: rules}, nil)
		if err == nil || !strings.Contains(err.Error(), "compare column v within its tolerance: bad tolerance") {
			t.Errorf("%s: %v", algo, err)
		}
	}
}
