package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// trimLowerRule trims and lower-cases a string column, as the job
// normaliser chain [trim, lower] does.
func trimLowerRule() ColumnRule {
	return ColumnRule{Describe: "email: trim, lower", Normalize: func(arr arrow.Array, mem memory.Allocator) (arrow.Array, error) {
		s, ok := arr.(*array.String)
		if !ok {
			return nil, fmt.Errorf("trim, lower needs text, not %s", arr.DataType())
		}
		b := array.NewStringBuilder(mem)
		defer b.Release()
		for i := range s.Len() {
			if s.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(strings.ToLower(strings.TrimSpace(s.Value(i))))
		}
		return b.NewArray(), nil
	}}
}

// rawLines renders each change with its normalised values and the stored
// ones of each side.
func rawLines(c collected) []string {
	var out []string
	for _, ch := range c.changes {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s %s", ch.Kind, ch.KeyString())
		for i, col := range ch.Columns {
			fmt.Fprintf(&sb, " %s:%s→%s", col, ch.Source[i].Value, ch.Target[i].Value)
		}
		for _, side := range []struct {
			name string
			fs   []Field
		}{{"src", ch.SourceRaw}, {"tgt", ch.TargetRaw}} {
			for _, f := range side.fs {
				v, _ := f.Value.Text()
				fmt.Fprintf(&sb, " %s.raw.%s=%q", side.name, f.Name, v)
			}
		}
		out = append(out, sb.String())
	}
	return out
}

// A change carries the stored values of its normalised columns, on every
// algorithm path (merge, hash, hash with spilled partitions, a tentative
// merge, a capped listing), while what is compared, counted, hashed and
// listed stays normalised.
func TestChangesCarryStoredValuesOfNormalisedColumns(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Int64},
		{Name: "updated_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	}
	src := [][]any{
		{1, "  Alice@X.COM ", 1, old}, // a really different e-mail
		{2, "Carol@x.com ", 1, old},   // equal once normalised: not reported
		{3, " Dan@X.com", 5, old},     // amount differs, e-mails equal once normalised
		{4, "Eve@X.com  ", 1, old},    // missing
		{6, nil, 1, old},              // NULL e-mail on both sides: equal
		{7, "Gus@x.com", 1, old},      // NULL on the target
	}
	tgt := [][]any{
		{1, "bob@x.com", 1, old},
		{2, "carol@X.com", 1, old},
		{3, "dan@x.com", 6, old},
		{5, " Fay@x.COM", 1, old}, // extra
		{6, nil, 1, old},
		{7, nil, 1, old},
	}
	want := []string{
		`changed id=1 email:alice@x.com→bob@x.com src.raw.email="  Alice@X.COM " tgt.raw.email="bob@x.com"`,
		`changed id=3 amount:5→6 src.raw.email=" Dan@X.com" tgt.raw.email="dan@x.com"`,
		`missing id=4 src.raw.email="Eve@X.com  "`,
		`extra id=5 tgt.raw.email=" Fay@x.COM"`,
		`changed id=7 email:gus@x.com→NULL src.raw.email="Gus@x.com" tgt.raw.email=""`,
	}
	for _, tc := range []struct {
		name    string
		opts    Options
		ordered bool
		spill   bool
		noCtx   bool // the stored cells right after the compared ones
		algo    string
	}{
		{name: "merge", opts: Options{Algorithm: Merge}, ordered: true, algo: "merge"},
		{name: "merge limit", opts: Options{Algorithm: Merge, Limit: 2}, ordered: true, algo: "merge"},
		{name: "hash", opts: Options{Algorithm: Hash}, algo: "hash"},
		{name: "hash limit", opts: Options{Algorithm: Hash, Limit: 2}, algo: "hash"},
		{name: "hash spilled", opts: Options{Algorithm: Hash, MemoryLimit: 1}, spill: true, algo: "hash"},
		{name: "hash without context", opts: Options{Algorithm: Hash}, noCtx: true, algo: "hash"},
		{name: "hash spilled without context", opts: Options{Algorithm: Hash, MemoryLimit: 1}, spill: true, noCtx: true, algo: "hash"},
		{name: "merge without context", opts: Options{Algorithm: Merge}, ordered: true, noCtx: true, algo: "merge"},
		{name: "auto", opts: Options{}, algo: "merge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sr, tr := slices.Clone(src), slices.Clone(tgt)
			if tc.spill {
				// Enough equal rows, padded differently on each side, to
				// pass the memory limit.
				for i := 100; i < 1100; i++ {
					sr = append(sr, []any{i, fmt.Sprintf(" U%d@x.com", i), 1, old})
					tr = append(tr, []any{i, fmt.Sprintf("u%d@X.com ", i), 1, old})
				}
			}
			var ord []string
			if tc.ordered {
				ord = []string{"id"}
			}
			opts := tc.opts
			opts.Key, opts.Allocator, opts.TempDir = []string{"id"}, mem, t.TempDir()
			opts.ColumnRules = map[string]ColumnRule{"email": trimLowerRule()}
			// A context column puts extras between the compared cells and
			// the stored ones.
			opts.Ignore = []string{"updated_at"}
			if !tc.noCtx {
				opts.Context = []string{"updated_at"}
			}
			c := diff(t, source(t, tbl(t, mem, "s", f, sr, 2), ord), source(t, tbl(t, mem, "t", f, tr, 3), ord), opts)
			w := want
			if opts.Limit > 0 {
				w = w[:opts.Limit]
			}
			got := rawLines(c)
			if !slices.Equal(got, w) {
				t.Errorf("changes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
			}
			// A NULL stored value renders as "" above: it is NULL.
			for _, ch := range c.changes {
				if ch.KeyString() == "id=7" && (len(ch.TargetRaw) != 1 || !ch.TargetRaw[0].Value.IsNull()) {
					t.Errorf("id=7: stored target e-mail %v, want NULL", ch.TargetRaw)
				}
				if (len(ch.SourceContext)+len(ch.TargetContext) == 0) != tc.noCtx {
					t.Errorf("%s: no context", ch.KeyString())
				}
			}
			wantCounts := Counts{Matched: 2, Missing: 1, Extra: 1, Changed: 3}
			if tc.spill {
				wantCounts.Matched += 1000
				if c.res.Plan.SpilledParts == 0 {
					t.Error("did not spill")
				}
			}
			if c.res.Summary != wantCounts {
				t.Errorf("summary %+v, want %+v", c.res.Summary, wantCounts)
			}
			if c.res.Plan.Algorithm != tc.algo {
				t.Errorf("algorithm %s, want %s (%s)", c.res.Plan.Algorithm, tc.algo, c.res.Plan.Note)
			}
		})
	}
}

// Carrying the stored values changes nothing of what is compared: the
// changes, counts and checksums are those of data normalised beforehand
// and diffed without rules, whose changes carry no stored values.
func TestStoredValuesLeaveChecksumsAlone(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "email", Type: arrow.BinaryTypes.String}}
	src := [][]any{{1, " A@x.com"}, {2, "B@x.com"}, {3, "c@x.com"}}
	tgt := [][]any{{1, "a@x.com "}, {2, "b2@x.com"}, {4, "D@x.com"}}
	norm := func(rows [][]any) [][]any {
		var out [][]any
		for _, r := range rows {
			out = append(out, []any{r[0], strings.ToLower(strings.TrimSpace(r[1].(string)))})
		}
		return out
	}
	for _, algo := range []Algorithm{Merge, Hash} {
		rules := map[string]ColumnRule{"email": trimLowerRule()}
		with := diff(t, source(t, tbl(t, mem, "s", f, src, 0), []string{"id"}), source(t, tbl(t, mem, "t", f, tgt, 0), []string{"id"}),
			Options{Key: []string{"id"}, Algorithm: algo, Allocator: mem, ColumnRules: rules})
		plain := diff(t, source(t, tbl(t, mem, "s", f, norm(src), 0), []string{"id"}), source(t, tbl(t, mem, "t", f, norm(tgt), 0), []string{"id"}),
			Options{Key: []string{"id"}, Algorithm: algo, Allocator: mem})
		if !slices.Equal(with.lines(), plain.lines()) || with.res.Summary != plain.res.Summary ||
			with.res.Source.Checksum != plain.res.Source.Checksum || with.res.Target.Checksum != plain.res.Target.Checksum ||
			!slices.Equal(with.res.Source.Columns, plain.res.Source.Columns) || !slices.Equal(with.res.Target.Columns, plain.res.Target.Columns) {
			t.Errorf("%s: normalising in the engine differs from normalised data:\n%q %+v\n%q %+v", algo, with.lines(), with.res.Summary, plain.lines(), plain.res.Summary)
		}
		if len(with.changes) != 3 {
			t.Fatalf("%s: %d changes", algo, len(with.changes))
		}
		for i, ch := range with.changes {
			if (ch.Kind != Extra) != (len(ch.SourceRaw) == 1) || (ch.Kind != Missing) != (len(ch.TargetRaw) == 1) {
				t.Errorf("%s: %s %s: stored values %v / %v", algo, ch.Kind, ch.KeyString(), ch.SourceRaw, ch.TargetRaw)
			}
			if p := plain.changes[i]; p.SourceRaw != nil || p.TargetRaw != nil {
				t.Errorf("%s: without normalisers a change carries stored values: %v / %v", algo, p.SourceRaw, p.TargetRaw)
			}
		}
	}
}

// A normalised key column is among the stored values too: a fix finds
// the row by the key as each side stores it.
func TestStoredValuesOfANormalisedKey(t *testing.T) {
	mem := checkedAlloc(t)
	f := []arrow.Field{{Name: "email", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}
	src := [][]any{{"B", 1}, {"a", 2}, {" C", 3}}
	tgt := [][]any{{"a", 2}, {"b", 1}, {"c ", 4}}
	for _, algo := range []Algorithm{Auto, Hash} {
		c := diff(t, source(t, tbl(t, mem, "s", f, src, 0), []string{"email"}), source(t, tbl(t, mem, "t", f, tgt, 0), []string{"email"}),
			Options{Key: []string{"email"}, Algorithm: algo, Allocator: mem, ColumnRules: map[string]ColumnRule{"email": trimLowerRule()}})
		want := []string{`changed email=c v:3→4 src.raw.email=" C" tgt.raw.email="c "`}
		if got := rawLines(c); !slices.Equal(got, want) || c.res.Summary.Matched != 2 {
			t.Errorf("%s: %q, %+v; want %q", algo, got, c.res.Summary, want)
		}
	}
}

// Two normalised columns, one named otherwise on the target (Options.Map):
// each change carries both stored values in source-name order, under the
// source's names, each from its own column, on every path.
func TestStoredValuesOfSeveralColumns(t *testing.T) {
	mem := checkedAlloc(t)
	sf := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "email", Type: arrow.BinaryTypes.String},
	}
	tf := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "email", Type: arrow.BinaryTypes.String},
		{Name: "full_name", Type: arrow.BinaryTypes.String},
	}
	src := [][]any{{1, " Ann ", "A@x.com"}, {2, "Bob", " b@x.com"}, {3, "Cy", "c@x.com"}}
	tgt := [][]any{{1, "a@X.com ", "ANN"}, {2, "B2@x.com", "bob "}, {4, "d@x.com", "Di"}}
	want := []string{
		`changed id=2 email:b@x.com→b2@x.com src.raw.email=" b@x.com" src.raw.name="Bob" tgt.raw.email="B2@x.com" tgt.raw.name="bob "`,
		`missing id=3 src.raw.email="c@x.com" src.raw.name="Cy"`,
		`extra id=4 tgt.raw.email="d@x.com" tgt.raw.name="Di"`,
	}
	for _, tc := range []struct {
		name    string
		opts    Options
		ordered bool
	}{
		{"merge", Options{Algorithm: Merge}, true},
		{"hash", Options{Algorithm: Hash}, false},
		{"hash spilled", Options{Algorithm: Hash, MemoryLimit: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ord []string
			if tc.ordered {
				ord = []string{"id"}
			}
			opts := tc.opts
			opts.Key, opts.Allocator, opts.TempDir = []string{"id"}, mem, t.TempDir()
			opts.Map = map[string]string{"name": "full_name"}
			opts.ColumnRules = map[string]ColumnRule{"email": trimLowerRule(), "name": trimLowerRule()}
			c := diff(t, source(t, tbl(t, mem, "s", sf, src, 2), ord), source(t, tbl(t, mem, "t", tf, tgt, 2), ord), opts)
			if got := rawLines(c); !slices.Equal(got, want) {
				t.Errorf("changes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
