package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/snapshots"
)

// The command lines against the real PostgreSQL: snapshot a
// table, diff it with the live table, diff two snapshots, list, verify.
func TestSnapshotPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.Exec(t, db,
		`create table public.orders (order_id bigint primary key, customer text, amount numeric(12,2), placed_at timestamptz, tags text[])`,
		`insert into public.orders select g, 'cust ' || g, g * 1.5, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour', array['a', g::text] from generate_series(1, 3000) g`)
	store := t.TempDir()
	series := filepath.Join(store, "shop-orders")

	code, out, errOut := runCLI(t, "snapshot", "postgres://postgres:hunter2@"+strings.TrimPrefix(db, "postgres://postgres@"), "--table", "public.orders", "--store", store, "--name", "shop-orders")
	if code != exitConsistent || !strings.Contains(out, "3000 rows") || !strings.Contains(out, "in key order") {
		t.Fatalf("snapshot: exit %d\n%s%s", code, out, errOut)
	}
	_, m, err := snapshots.Resolve(series + "@latest")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.Source, "hunter2") || m.Table != "public.orders" || m.Consistency == nil || m.Consistency.Position == "" || m.Consistency.Time.IsZero() || !strings.HasPrefix(m.ConfigHash, "sha256:") {
		t.Errorf("manifest: %+v", m)
	}

	// The snapshot against the live table: consistent, merged in key order.
	code, out, errOut = runCLI(t, "diff", "snap:"+series+"@latest", db, "--table", "public.orders", "--format", "json")
	if code != exitConsistent {
		t.Fatalf("snapshot vs live: exit %d\n%s%s", code, out, errOut)
	}
	r := decodeReport(t, out)
	var plan struct {
		Plan struct{ Algorithm string } `json:"plan"`
	}
	json.Unmarshal([]byte(out), &plan)
	if r.Summary["matched"] != 3000 || plan.Plan.Algorithm != "merge" {
		t.Errorf("snapshot vs live: %v, plan %s", r.Summary, plan.Plan.Algorithm)
	}

	// The table changes; a second snapshot; what changed since the first.
	testdb.Exec(t, db, `update public.orders set amount = amount + 1 where order_id = 7`, `delete from public.orders where order_id = 3000`)
	if code, out, errOut = runCLI(t, "snapshot", db, "--table", "public.orders", "--store", store, "--name", "shop-orders"); code != 0 {
		t.Fatalf("second snapshot: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "diff", "snap:"+series+"@-1", "snap:"+series+"@latest", "--format", "json")
	if code != exitDifferences {
		t.Fatalf("@-1 vs @latest: exit %d\n%s%s", code, out, errOut)
	}
	r = decodeReport(t, out)
	if r.Summary["changed"] != 1 || r.Summary["missing"] != 1 || r.Columns["amount"].Changed != 1 {
		t.Errorf("@-1 vs @latest: %v", r.Summary)
	}

	code, out, _ = runCLI(t, "snapshot", "list", store)
	if code != 0 || strings.Count(out, "shop-orders") != 2 || strings.Contains(out, "hunter2") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	if code, out, errOut = runCLI(t, "snapshot", "verify", series+"@latest", "snap:"+series+"@-1"); code != 0 || strings.Count(out, "ok ") != 2 {
		t.Errorf("verify: exit %d\n%s%s", code, out, errOut)
	}

	// A corrupted part: verify and diff both fail with exit 2, no verdict.
	dir, m, _ := snapshots.Resolve(series + "@latest")
	part := filepath.Join(dir, m.Parts[0].File)
	raw, _ := os.ReadFile(part)
	raw[len(raw)/3] ^= 1
	os.WriteFile(part, raw, 0o644)
	if code, _, errOut = runCLI(t, "snapshot", "verify", series+"@latest"); code != exitError || !strings.Contains(errOut, "SHA-256") {
		t.Errorf("verify corrupted: exit %d, %s", code, errOut)
	}
	code, out, errOut = runCLI(t, "diff", "snap:"+series+"@latest", db, "--table", "public.orders")
	if code != exitError || !strings.Contains(errOut, "corrupt") || strings.Contains(out, "consistent") {
		t.Errorf("diff corrupted: exit %d\n%s%s", code, out, errOut)
	}

	// Bad arguments are reported together.
	code, _, errOut = runCLI(t, "snapshot", db, "--name", "../x")
	if code != exitError || !strings.Contains(errOut, "--store") || !strings.Contains(errOut, "--name") || !strings.Contains(errOut, "--table or --query") {
		t.Errorf("bad arguments: exit %d, %s", code, errOut)
	}
	// A snapshot cannot run the SQL the other side gets.
	code, _, errOut = runCLI(t, "diff", "snap:"+series+"@-1", db, "--table", "public.orders", "--where", "order_id > 5")
	if code != exitError || !strings.Contains(errOut, "--target-where") {
		t.Errorf("--where on a snapshot: exit %d, %s", code, errOut)
	}
}

func TestSnapshotPruneCommand(t *testing.T) {
	store := t.TempDir()
	demo := filepath.Join("..", "..", "testdata", "demo", "billing.csv")
	for range 3 {
		if code, out, errOut := runCLI(t, "snapshot", demo, "--store", store, "--key", "id"); code != 0 {
			t.Fatalf("snapshot: exit %d\n%s%s", code, out, errOut)
		}
	}
	code, out, _ := runCLI(t, "snapshot", "prune", store, "--keep", "1", "--dry-run")
	if code != 0 || strings.Count(out, "would remove") != 2 {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if code, out, _ = runCLI(t, "snapshot", "prune", store, "--keep", "1"); code != 0 || strings.Count(out, "removed") != 2 {
		t.Fatalf("prune: exit %d\n%s", code, out)
	}
	s, _ := snapshots.ReadSeries(filepath.Join(store, "billing"))
	if len(s.Entries) != 1 {
		t.Fatalf("%d snapshots left", len(s.Entries))
	}
	if code, _, errOut := runCLI(t, "snapshot", "prune", store, "--keep", "0", "--keep-within", "3x"); code != exitError || !strings.Contains(errOut, "--keep 0") || !strings.Contains(errOut, "--keep-within") {
		t.Fatalf("bad prune flags: exit %d %s", code, errOut)
	}
}

// A pair diffed again and again keeps a drift history: the report says
// what is new, what lasts (and since when) and what healed.
func TestDiffHistory(t *testing.T) {
	dir, store := t.TempDir(), t.TempDir()
	src, tgt := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	os.WriteFile(src, []byte("id,v\n1,a\n2,b\n3,c\n4,d\n"), 0o644)
	os.WriteFile(tgt, []byte("id,v\n1,a\n2,x\n3,c\n"), 0o644)
	type hist struct {
		Differences []struct {
			Key   map[string]any `json:"key"`
			Since string         `json:"since"`
		} `json:"differences"`
		History *struct {
			Name     string  `json:"name"`
			Previous *string `json:"previous_run"`
			New      int64   `json:"new"`
			Ongoing  int64   `json:"ongoing"`
			Healed   int64   `json:"healed"`
		} `json:"history"`
	}
	diff := func(extra ...string) (int, hist) {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"diff", src, tgt, "--key", "id", "--format", "json", "--history", store}, extra...)...)
		var h hist
		if err := json.Unmarshal([]byte(out), &h); err != nil {
			t.Fatalf("exit %d: %v\n%s%s", code, err, out, errOut)
		}
		return code, h
	}
	code, h := diff()
	if code != exitDifferences || h.History == nil || h.History.Previous != nil || h.History.New != 2 {
		t.Fatalf("first run: exit %d %+v", code, h.History)
	}
	// Row 2 stays changed, row 4 appears on the target (healed), row 3 breaks.
	os.WriteFile(tgt, []byte("id,v\n1,a\n2,x\n3,z\n4,d\n"), 0o644)
	code, h = diff("--limit", "1")
	if code != exitDifferences || h.History.New != 1 || h.History.Ongoing != 1 || h.History.Healed != 1 || h.History.Previous == nil {
		t.Fatalf("second run: exit %d %+v", code, h.History)
	}
	if len(h.Differences) != 1 || h.Differences[0].Since == "" {
		t.Fatalf("second run lists %+v, want key 2 with its first sighting", h.Differences)
	}
	// A failed run records nothing.
	code, _, _ = runCLI(t, "diff", src, filepath.Join(dir, "missing.csv"), "--key", "id", "--history", store)
	if code != exitError {
		t.Fatalf("failed run: exit %d", code)
	}
	os.WriteFile(tgt, []byte("id,v\n1,a\n2,b\n3,c\n4,d\n"), 0o644)
	code, h = diff()
	if code != exitConsistent || h.History.Healed != 2 || h.History.New != 0 {
		t.Fatalf("healed run: exit %d %+v", code, h.History)
	}
	drifts, runs, err := snapshots.ReadHistory(t.Context(), store, h.History.Name, historyPair(t, src, tgt))
	if err != nil || len(runs) != 3 || len(drifts) != 3 {
		t.Fatalf("history on disk: %v runs %d drifts %+v", err, len(runs), drifts)
	}
}

func historyPair(t *testing.T, src, tgt string) string {
	t.Helper()
	return src + " (whole source) | " + tgt + " (whole source) | key id"
}
