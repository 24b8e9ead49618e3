package snapshots

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/atomicfile"
	"github.com/reconhq/reconcile/reconcile"
)

// HistoryRetention is how long a healed difference stays in a history.
const HistoryRetention = 90 * 24 * time.Hour

// maxHistoryRuns is how many runs a history's run log keeps.
const maxHistoryRuns = 400

const (
	historyData     = "drift.parquet"
	historyManifest = "history.json"
)

// Drift is what a history knows of one key: the difference last seen, when
// it was first and last seen, and when it healed (zero while it lasts).
type Drift struct {
	Key       string // the key as reports show it: "id=7"
	Kind      string // the kind last seen
	Columns   string // the differing columns last seen, comma-separated
	FirstSeen time.Time
	LastSeen  time.Time
	HealedAt  time.Time
	Runs      int64 // runs that saw it in this episode
}

// Open reports whether the difference is still there.
func (d *Drift) Open() bool { return d.HealedAt.IsZero() }

// HistoryRun is one recorded run.
type HistoryRun struct {
	At          time.Time `json:"at"`
	Differences int64     `json:"differences"`
	New         int64     `json:"new"`
	Ongoing     int64     `json:"ongoing"`
	Healed      int64     `json:"healed"`
}

// historyFile is history.json.
type historyFile struct {
	Format        string       `json:"format"`
	FormatVersion int          `json:"format_version"`
	Pair          string       `json:"pair"`
	Data          string       `json:"data"`
	SHA256        string       `json:"sha256"`
	Rows          int64        `json:"rows"`
	Runs          []HistoryRun `json:"runs"`
}

// History is the drift history of one pair of sides, diffed repeatedly:
// per key, when a difference was first seen, last seen and healed. It
// lives in <store>/_history/<name>/ as a Parquet file (drift.parquet) and
// history.json, both replaced atomically by Commit.
//
// A run is recorded only when it is complete: Observe every difference of
// the run, then Commit. A run that failed must not be committed, or the
// keys it did not reach would count as healed.
type History struct {
	dir   string
	pair  string
	prev  map[string]*Drift
	runs  []HistoryRun
	seen  map[string]*reconcile.Change
	order []string
	// held: keys in flight this run, whose record is kept as it was.
	held map[string]bool
}

// HistoryName derives a history's name from a description of the pair
// (the sides' redacted locations and tables).
func HistoryName(pair string) string {
	sum := sha256.Sum256([]byte(pair))
	return "pair-" + hex.EncodeToString(sum[:6])
}

// OpenHistory opens (or starts) the history called name in a store; pair
// describes the two sides and is checked against the history's, so that
// one name is never shared by two pairs by accident.
func OpenHistory(ctx context.Context, store, name, pair string) (*History, error) {
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	h := &History{dir: filepath.Join(store, historyDir, name), pair: pair, prev: map[string]*Drift{}, seen: map[string]*reconcile.Change{}}
	raw, err := os.ReadFile(filepath.Join(h.dir, historyManifest))
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", h.dir, err)
	}
	var hf historyFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&hf); err != nil || hf.Format != "reconcile-history" {
		return nil, fmt.Errorf("history %s: %s is not a reconcile history: %w", h.dir, historyManifest, ErrCorrupt)
	}
	if hf.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("history %s: written in format %d by a newer reconcile (this one reads up to %d): %w", h.dir, hf.FormatVersion, FormatVersion, connectors.ErrUnsupported)
	}
	if hf.Pair != pair {
		return nil, fmt.Errorf("history %s records the pair %q, not %q: give another history name: %w", h.dir, hf.Pair, pair, connectors.ErrBadInput)
	}
	h.runs = hf.Runs
	data, err := os.ReadFile(filepath.Join(h.dir, hf.Data))
	if err != nil {
		return nil, fmt.Errorf("history %s: %v: %w", h.dir, err, ErrCorrupt)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != hf.SHA256 {
		return nil, fmt.Errorf("history %s: %s does not match its SHA-256 in %s: %w", h.dir, hf.Data, historyManifest, ErrCorrupt)
	}
	drifts, err := readDrifts(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("history %s: %s: %v: %w", h.dir, hf.Data, err, ErrCorrupt)
	}
	if int64(len(drifts)) != hf.Rows {
		return nil, fmt.Errorf("history %s: %d rows, %s says %d: %w", h.dir, len(drifts), historyManifest, hf.Rows, ErrCorrupt)
	}
	for i := range drifts {
		h.prev[drifts[i].Key] = &drifts[i]
	}
	return h, nil
}

// LastRun is when the previous recorded run ran (zero if none).
func (h *History) LastRun() time.Time {
	if len(h.runs) == 0 {
		return time.Time{}
	}
	return h.runs[len(h.runs)-1].At
}

// Since says since when the difference at c's key has lasted, when an
// earlier run saw it and it has not healed since.
func (h *History) Since(c *reconcile.Change) (time.Time, bool) {
	d, ok := h.prev[c.KeyString()]
	if !ok || !d.Open() {
		return time.Time{}, false
	}
	return d.FirstSeen, true
}

// Observe records one difference of the current run. A key reported more
// than once (a duplicate on both sides) is recorded once.
//
// A row in flight (reconcile.InFlight) is not drift yet: its record, if
// any, is kept as it was, neither healed nor extended.
func (h *History) Observe(c *reconcile.Change) {
	k := c.KeyString()
	if c.Kind == reconcile.InFlight {
		if h.held == nil {
			h.held = map[string]bool{}
		}
		h.held[k] = true
		return
	}
	if _, dup := h.seen[k]; dup {
		return
	}
	cc := &reconcile.Change{Kind: c.Kind, Columns: append([]string(nil), c.Columns...)}
	h.seen[k] = cc
	h.order = append(h.order, k)
}

// HistorySummary is what a run changed in the history.
type HistorySummary struct {
	Dir      string
	Previous time.Time // the previous run, zero for the first
	Now      time.Time
	New      int64 // differences no earlier run saw (or seen again after healing)
	Ongoing  int64 // differences an earlier run saw too
	Healed   int64 // differences the previous state held that this run did not see
	// Oldest is when the longest-lasting open difference was first seen.
	Oldest time.Time
}

// Commit merges the current run into the history and writes it. now is
// the run's time.
func (h *History) Commit(ctx context.Context, now time.Time) (*HistorySummary, error) {
	now = now.UTC()
	sum := &HistorySummary{Dir: h.dir, Previous: h.LastRun(), Now: now}
	next := make([]Drift, 0, len(h.prev)+len(h.seen))
	for _, k := range h.order {
		c := h.seen[k]
		d := Drift{Key: k, Kind: c.Kind.String(), Columns: strings.Join(c.Columns, ","), FirstSeen: now, LastSeen: now, Runs: 1}
		if p, ok := h.prev[k]; ok && p.Open() {
			d.FirstSeen, d.Runs = p.FirstSeen, p.Runs+1
			sum.Ongoing++
		} else {
			sum.New++
		}
		if sum.Oldest.IsZero() || d.FirstSeen.Before(sum.Oldest) {
			sum.Oldest = d.FirstSeen
		}
		next = append(next, d)
	}
	for k, p := range h.prev {
		if _, ok := h.seen[k]; ok {
			continue
		}
		d := *p
		if d.Open() && !h.held[k] {
			d.HealedAt = now
			sum.Healed++
		}
		if !d.Open() && now.Sub(d.HealedAt) > HistoryRetention {
			continue
		}
		next = append(next, d)
	}
	sort.Slice(next, func(i, j int) bool { return next[i].Key < next[j].Key })
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := writeDrifts(next)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", h.dir, err)
	}
	h.runs = append(h.runs, HistoryRun{At: now, Differences: int64(len(h.order)), New: sum.New, Ongoing: sum.Ongoing, Healed: sum.Healed})
	if len(h.runs) > maxHistoryRuns {
		h.runs = h.runs[len(h.runs)-maxHistoryRuns:]
	}
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	// A new data file under a new name, then the manifest that names it:
	// a reader sees the old pair or the new one, never a mix.
	digest := sha256.Sum256(data)
	dataName := fmt.Sprintf("drift-%s.parquet", hex.EncodeToString(digest[:6]))
	if err := atomicfile.WriteBytes(filepath.Join(h.dir, dataName), data); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	hf := historyFile{Format: "reconcile-history", FormatVersion: FormatVersion, Pair: h.pair, Data: dataName,
		SHA256: hex.EncodeToString(digest[:]), Rows: int64(len(next)), Runs: h.runs}
	raw, err := json.MarshalIndent(hf, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(h.dir, historyManifest), append(raw, '\n')); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	// Older data files are no longer named by the manifest.
	if ents, err := os.ReadDir(h.dir); err == nil {
		for _, de := range ents {
			if n := de.Name(); n != dataName && strings.HasPrefix(n, "drift-") && strings.HasSuffix(n, ".parquet") {
				os.Remove(filepath.Join(h.dir, n))
			}
		}
	}
	return sum, nil
}

// ReadHistory returns the drift records of a history, by key.
func ReadHistory(ctx context.Context, store, name, pair string) ([]Drift, []HistoryRun, error) {
	h, err := OpenHistory(ctx, store, name, pair)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Drift, 0, len(h.prev))
	for _, d := range h.prev {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, h.runs, nil
}

var driftSchema = arrow.NewSchema([]arrow.Field{
	{Name: "key", Type: arrow.BinaryTypes.String},
	{Name: "kind", Type: arrow.BinaryTypes.String},
	{Name: "columns", Type: arrow.BinaryTypes.String},
	{Name: "first_seen", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "last_seen", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: "healed_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "runs", Type: arrow.PrimitiveTypes.Int64},
}, nil)

func writeDrifts(ds []Drift) ([]byte, error) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, driftSchema)
	defer b.Release()
	ts := func(t time.Time) arrow.Timestamp { return arrow.Timestamp(t.UnixMicro()) }
	for _, d := range ds {
		b.Field(0).(*array.StringBuilder).Append(d.Key)
		b.Field(1).(*array.StringBuilder).Append(d.Kind)
		b.Field(2).(*array.StringBuilder).Append(d.Columns)
		b.Field(3).(*array.TimestampBuilder).Append(ts(d.FirstSeen))
		b.Field(4).(*array.TimestampBuilder).Append(ts(d.LastSeen))
		if d.Open() {
			b.Field(5).(*array.TimestampBuilder).AppendNull()
		} else {
			b.Field(5).(*array.TimestampBuilder).Append(ts(d.HealedAt))
		}
		b.Field(6).(*array.Int64Builder).Append(d.Runs)
	}
	rec := b.NewRecord()
	defer rec.Release()
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithCompressionLevel(1))
	fw, err := pqarrow.NewFileWriter(driftSchema, &buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, err
	}
	if err := fw.Write(rec); err != nil {
		return nil, err
	}
	if err := fw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func readDrifts(ctx context.Context, data []byte) ([]Drift, error) {
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	got := rr.Schema()
	if got.NumFields() != driftSchema.NumFields() {
		return nil, fmt.Errorf("%d columns, want %d", got.NumFields(), driftSchema.NumFields())
	}
	for i, f := range driftSchema.Fields() {
		if g := got.Field(i); g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return nil, fmt.Errorf("column %d is %s %s, want %s %s", i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	var out []Drift
	at := func(a arrow.Array, i int) time.Time {
		if a.IsNull(i) {
			return time.Time{}
		}
		return time.UnixMicro(int64(a.(*array.Timestamp).Value(i))).UTC()
	}
	for rr.Next() {
		rec := rr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, Drift{
				// Copies: Value's strings are the record's memory.
				Key:       strings.Clone(rec.Column(0).(*array.String).Value(i)),
				Kind:      strings.Clone(rec.Column(1).(*array.String).Value(i)),
				Columns:   strings.Clone(rec.Column(2).(*array.String).Value(i)),
				FirstSeen: at(rec.Column(3), i),
				LastSeen:  at(rec.Column(4), i),
				HealedAt:  at(rec.Column(5), i),
				Runs:      rec.Column(6).(*array.Int64).Value(i),
			})
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return out, nil
}
