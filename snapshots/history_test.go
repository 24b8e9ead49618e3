package snapshots

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
)

func change(kind reconcile.Kind, id string, cols ...string) *reconcile.Change {
	return &reconcile.Change{Kind: kind, Key: []reconcile.Field{{Name: "id", Value: reconcile.Value(reconcile.AppendText(nil, id))}}, Columns: cols}
}

// Nightly runs: a difference that lasts keeps its first sighting, one that
// disappears heals, one that comes back starts a new episode.
func TestHistoryRecordsEpisodes(t *testing.T) {
	store := t.TempDir()
	ctx := context.Background()
	day := func(d int) time.Time { return time.Date(2026, 11, 17+d, 2, 0, 0, 0, time.UTC) }
	run := func(d int, cs ...*reconcile.Change) (*History, *HistorySummary) {
		t.Helper()
		h, err := OpenHistory(ctx, store, "orders", "a vs b")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			h.Observe(c)
		}
		s, err := h.Commit(ctx, day(d))
		if err != nil {
			t.Fatal(err)
		}
		return h, s
	}
	_, s := run(0, change(reconcile.Changed, "1", "amount"), change(reconcile.Missing, "2"))
	if s.New != 2 || s.Ongoing != 0 || s.Healed != 0 || !s.Previous.IsZero() {
		t.Fatalf("first run: %+v", s)
	}
	for d := 1; d <= 9; d++ {
		run(d, change(reconcile.Changed, "1", "amount"), change(reconcile.Missing, "2"))
	}
	h, s := run(10, change(reconcile.Changed, "1", "amount", "note"), change(reconcile.Extra, "3"))
	if s.New != 1 || s.Ongoing != 1 || s.Healed != 1 || !s.Oldest.Equal(day(0)) || !s.Previous.Equal(day(9)) {
		t.Fatalf("day 10: %+v", s)
	}
	if since, ok := h.Since(change(reconcile.Changed, "1")); !ok || !since.Equal(day(0)) {
		t.Fatalf("since: %v %v", since, ok)
	}
	run(11, change(reconcile.Missing, "2")) // key 2 diverges again: a new episode
	drifts, runs, err := ReadHistory(ctx, store, "orders", "a vs b")
	if err != nil || len(runs) != 12 || len(drifts) != 3 {
		t.Fatalf("history: %v %d runs %v", drifts, len(runs), err)
	}
	byKey := map[string]Drift{}
	for _, d := range drifts {
		byKey[d.Key] = d
	}
	if d := byKey["id=1"]; !d.HealedAt.Equal(day(11)) || !d.FirstSeen.Equal(day(0)) || d.Runs != 11 || d.Columns != "amount,note" {
		t.Errorf("id=1: %+v", d)
	}
	if d := byKey["id=2"]; !d.Open() || !d.FirstSeen.Equal(day(11)) || d.Runs != 1 {
		t.Errorf("id=2: %+v", d)
	}
	if d := byKey["id=3"]; !d.HealedAt.Equal(day(11)) || d.Kind != "extra" {
		t.Errorf("id=3: %+v", d)
	}

	// Another pair under the same name is refused; a damaged file too.
	if _, err := OpenHistory(ctx, store, "orders", "c vs d"); !errors.Is(err, connectors.ErrBadInput) {
		t.Errorf("other pair: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(store, historyDir, "orders", "drift-*.parquet"))
	if len(files) != 1 {
		t.Fatalf("data files: %v", files)
	}
	raw, _ := os.ReadFile(files[0])
	raw[len(raw)/2] ^= 1
	os.WriteFile(files[0], raw, 0o644)
	if _, err := OpenHistory(ctx, store, "orders", "a vs b"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("damaged history: %v", err)
	}
}

// A row in flight is not drift yet: an open record stays open (not
// healed, not extended), and no record is started for it.
func TestHistoryKeepsRowsInFlight(t *testing.T) {
	store := t.TempDir()
	ctx := context.Background()
	day := func(d int) time.Time { return time.Date(2026, 11, 17+d, 2, 0, 0, 0, time.UTC) }
	run := func(d int, cs ...*reconcile.Change) *HistorySummary {
		t.Helper()
		h, err := OpenHistory(ctx, store, "orders", "a vs b")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			h.Observe(c)
		}
		s, err := h.Commit(ctx, day(d))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	run(0, change(reconcile.Changed, "1", "amount"))
	if s := run(1, change(reconcile.InFlight, "1"), change(reconcile.InFlight, "2")); s.New != 0 || s.Healed != 0 {
		t.Errorf("in flight: %+v", s)
	}
	drifts, _, err := ReadHistory(ctx, store, "orders", "a vs b")
	if err != nil || len(drifts) != 1 || !drifts[0].Open() || drifts[0].Runs != 1 || !drifts[0].LastSeen.Equal(day(0)) {
		t.Errorf("after a run in flight: %+v %v", drifts, err)
	}
	if s := run(2); s.Healed != 1 {
		t.Errorf("healed once no longer in flight nor different: %+v", s)
	}
}
