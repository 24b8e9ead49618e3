package batches

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
)

var t0 = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

func testSpec() Spec {
	return Spec{
		Job: "customers", Dialect: "postgres",
		Target: Location{System: "crm", Table: "public.accounts", Location: "postgres://recon:s3cret@crm-db/crm"},
		Source: Location{System: "billing", Table: "public.customers", Location: "postgres://recon:hunter2@billing/billing"},
		Key:    []string{"id"}, RunID: "run-1", Snapshots: []string{"snap-a"}, ConfigHash: "abc",
		Now:    t0,
		Limits: Limits{TargetRows: 100, SourceRows: 100, PreviousSourceRows: 100},
	}
}

func i64(n int64) reconcile.Value   { return reconcile.AppendInt(nil, n) }
func text(s string) reconcile.Value { return reconcile.AppendText(nil, s) }

func testOps() []Op {
	return []Op{
		{Kind: connectors.OpUpdate, Key: []Cell{{"id", i64(1)}}, Set: []Cell{{"email", text("a@x")}}, Expect: []Cell{{"email", text("A@x")}}, Rule: "email: newest"},
		{Kind: connectors.OpInsert, Key: []Cell{{"id", i64(2)}}, Set: []Cell{{"id", i64(2)}, {"email", text("b'; DROP TABLE x; --")}}, Rule: "missing: insert"},
		{Kind: connectors.OpDelete, Key: []Cell{{"id", i64(3)}}, Expect: []Cell{{"id", i64(3)}, {"email", reconcile.Null}}, Rule: "extra: delete"},
	}
}

func TestCreateOpenList(t *testing.T) {
	dir := t.TempDir()
	b, err := Create(dir, testSpec(), testOps())
	if err != nil {
		t.Fatal(err)
	}
	if b.Manifest.ID != "2026-11-26T0200-customers-crm" {
		t.Errorf("id %q", b.Manifest.ID)
	}
	if c := b.Manifest.Counts; c != (Counts{Insert: 1, Update: 1, Delete: 1}) {
		t.Errorf("counts %+v", c)
	}
	man, _ := os.ReadFile(filepath.Join(b.Dir, ManifestFile))
	if bytes.Contains(man, []byte("s3cret")) || bytes.Contains(man, []byte("hunter2")) {
		t.Errorf("manifest holds a password:\n%s", man)
	}
	if !b.Manifest.Expires.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("expires %v", b.Manifest.Expires)
	}
	b2, err := Create(dir, testSpec(), testOps())
	if err != nil {
		t.Fatal(err)
	}
	if b2.Manifest.ID != "2026-11-26T0200-customers-crm-2" {
		t.Errorf("second id %q", b2.Manifest.ID)
	}
	list, err := List(dir)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %d, %v", len(list), err)
	}
	o, err := Open(dir, b.Manifest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Manifest.SHA256 != b.Manifest.SHA256 || o.Manifest.State != Pending {
		t.Errorf("opened %+v", o.Manifest)
	}
	ops, err := o.Ops()
	if err != nil || len(ops) != 3 || ops[2].Seq != 3 {
		t.Fatalf("ops %v %v", ops, err)
	}
	sum, err := o.Summary(1, 1)
	if err != nil || sum.Total != 3 || len(sum.Ops) != 1 || sum.Ops[0].Seq != 2 || len(sum.Rules) != 3 {
		t.Fatalf("summary %+v %v", sum, err)
	}
	sql, _ := os.ReadFile(filepath.Join(b.Dir, SQLFile))
	for _, want := range []string{
		`UPDATE "public"."accounts" SET "email" = 'a@x' WHERE "id" = 1 AND "email" IS NOT DISTINCT FROM 'A@x';`,
		`INSERT INTO "public"."accounts" ("id", "email") VALUES (2, 'b''; DROP TABLE x; --') ON CONFLICT DO NOTHING;`,
		`DELETE FROM "public"."accounts" WHERE "id" = 3 AND "id" IS NOT DISTINCT FROM 3 AND "email" IS NOT DISTINCT FROM NULL;`,
	} {
		if !strings.Contains(string(sql), want) {
			t.Errorf("batch.sql lacks %s:\n%s", want, sql)
		}
	}
	for _, bad := range []string{"../x", "", ".hidden", "a/b"} {
		if _, err := Open(dir, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("open %q: %v", bad, err)
		}
	}
}

func TestMySQLSQLText(t *testing.T) {
	spec := testSpec()
	spec.Dialect = "mysql"
	spec.Target.Table = "dim`customer"
	b, err := Create(t.TempDir(), spec, testOps())
	if err != nil {
		t.Fatal(err)
	}
	sql, _ := os.ReadFile(filepath.Join(b.Dir, SQLFile))
	for _, want := range []string{
		"UPDATE `dim``customer` SET `email` = 'a@x' WHERE `id` = 1 AND `email` <=> 'A@x';",
		"INSERT INTO `dim``customer` (`id`, `email`) SELECT 2, _utf8mb4 X'",
	} {
		if !strings.Contains(string(sql), want) {
			t.Errorf("batch.sql lacks %s:\n%s", want, sql)
		}
	}
}

func TestLifecycleRefusals(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := Create(dir, testSpec(), testOps())
	if err != nil {
		t.Fatal(err)
	}
	var never neverApplier
	if _, err := b.Apply(ctx, never, ApplyOptions{Now: t0}); !errors.Is(err, ErrNotApproved) {
		t.Errorf("unapproved apply: %v", err)
	}
	if err := b.Approve("", t0); err == nil {
		t.Error("approval without a name accepted")
	}
	if err := b.Approve("alice", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := b.Approve("bob", t0.Add(time.Minute)); !errors.Is(err, ErrNotPending) {
		t.Errorf("second approval: %v", err)
	}
	o, _ := Open(dir, b.Manifest.ID)
	if o.Manifest.State != Approved || o.Manifest.Approvals[0].By != "alice" || o.Manifest.Approvals[0].SHA256 != o.Manifest.SHA256 {
		t.Errorf("after approval %+v", o.Manifest)
	}

	// One byte of ops.jsonl changed after approval.
	path := filepath.Join(b.Dir, OpsFile)
	data, _ := os.ReadFile(path)
	orig := bytes.Clone(data)
	data[bytes.Index(data, []byte("a@x"))] = 'c'
	os.WriteFile(path, data, 0o644)
	if _, err := o.Apply(ctx, never, ApplyOptions{Now: t0.Add(time.Hour)}); !errors.Is(err, ErrTampered) {
		t.Errorf("tampered apply: %v", err)
	}
	os.WriteFile(path, orig, 0o644)

	// Expired.
	if _, err := o.Apply(ctx, never, ApplyOptions{Now: t0.Add(25 * time.Hour)}); !errors.Is(err, ErrExpired) {
		t.Errorf("expired apply: %v", err)
	}
	o, _ = Open(dir, b.Manifest.ID)
	if o.Manifest.State != Expired {
		t.Errorf("state %s after expiry", o.Manifest.State)
	}
	if _, err := o.Apply(ctx, never, ApplyOptions{Now: t0.Add(time.Hour)}); !errors.Is(err, ErrExpired) {
		t.Errorf("expired batch applied later: %v", err)
	}

	// Tampered before approval; rejected.
	b2, _ := Create(dir, testSpec(), testOps())
	p2 := filepath.Join(b2.Dir, OpsFile)
	d2, _ := os.ReadFile(p2)
	d2[len(d2)-3] ^= 1
	os.WriteFile(p2, d2, 0o644)
	if err := b2.Approve("alice", t0); !errors.Is(err, ErrTampered) {
		t.Errorf("approving tampered: %v", err)
	}
	if err := b2.Reject("bob", "wrong", t0); err != nil {
		t.Fatal(err)
	}
	if err := b2.Approve("alice", t0); !errors.Is(err, ErrNotPending) {
		t.Errorf("approving rejected: %v", err)
	}
}

type neverApplier struct{}

func (neverApplier) Apply(context.Context, string, []connectors.WriteOp, connectors.ApplyOptions) ([]connectors.Outcome, error) {
	return nil, errors.New("must not be called")
}

func TestLimits(t *testing.T) {
	deletes := 0
	check := func(name string, l Limits, wantDeletes bool) {
		t.Helper()
		spec := testSpec()
		spec.Limits = l
		b, err := Create(t.TempDir(), spec, testOps())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		deletes = b.Manifest.Counts.Delete
		if wantDeletes != (deletes == 1) || wantDeletes != (b.Manifest.DeletesWithheld == "") {
			t.Errorf("%s: %d deletes, withheld %q", name, deletes, b.Manifest.DeletesWithheld)
		}
		ops, _ := b.Ops()
		for _, op := range ops {
			if op.Kind == connectors.OpDelete && !wantDeletes {
				t.Errorf("%s: a delete in ops.jsonl", name)
			}
		}
	}
	check("normal", Limits{TargetRows: 100, SourceRows: 100, PreviousSourceRows: 100}, true)
	check("zero rows", Limits{TargetRows: 100, SourceRows: 0, PreviousSourceRows: 100}, false)
	check("shrank", Limits{TargetRows: 100, SourceRows: 40, PreviousSourceRows: 100}, false)
	check("shrank less than allowed", Limits{TargetRows: 100, SourceRows: 60, PreviousSourceRows: 100}, true)
	check("shrank, tighter", Limits{TargetRows: 100, SourceRows: 89, PreviousSourceRows: 100, MaxShrink: 0.1}, false)
	check("no previous run", Limits{TargetRows: 100, SourceRows: 5}, true)

	spec := testSpec()
	spec.Limits.MaxChanges = 2
	if _, err := Create(t.TempDir(), spec, testOps()); !errors.Is(err, ErrLimit) {
		t.Errorf("max_changes: %v", err)
	}
	spec = testSpec()
	spec.Limits.MaxFraction = 0.02
	if _, err := Create(t.TempDir(), spec, testOps()); !errors.Is(err, ErrLimit) {
		t.Errorf("max_fraction: %v", err)
	}
	spec.Limits.MaxFraction = 0.03
	if _, err := Create(t.TempDir(), spec, testOps()); err != nil {
		t.Errorf("max_fraction at the limit: %v", err)
	}
}

func TestStaleLock(t *testing.T) {
	dir := t.TempDir()
	b, _ := Create(dir, testSpec(), testOps())
	if err := b.Approve("alice", t0); err != nil {
		t.Fatal(err)
	}
	b.Manifest.State = Applying
	if err := b.save(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	// A pid that is not running: the lock is stale.
	os.WriteFile(filepath.Join(b.Dir, LockFile), []byte(`{"pid":2147483000,"host":"`+host+`"}`), 0o644)
	o, err := Open(dir, b.Manifest.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Manifest.State != Partial || o.Manifest.Outcome == nil || o.Manifest.Outcome.NotRun != 3 {
		t.Errorf("stale lock: state %s, outcome %+v", o.Manifest.State, o.Manifest.Outcome)
	}
	// A live lock (this process) is respected.
	unlock, err := o.lock(t0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := o.Apply(context.Background(), neverApplier{}, ApplyOptions{Now: t0}); !errors.Is(err, ErrLocked) {
		t.Errorf("apply under a live lock: %v", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	b, err := Create(f.TempDir(), testSpec(), testOps())
	if err != nil {
		f.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(b.Dir, ManifestFile))
	f.Add(data)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		if !ValidID(m.ID) || len(m.SHA256) != 64 || len(m.Key) == 0 {
			t.Fatalf("accepted a bad manifest: %+v", m)
		}
	})
}

func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(`{"seq":1,"status":"applied"}` + "\n" + `{"seq":2,"status":"conflict","message":"x"}` + "\n" + `{"seq":3,"st`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := parseJournal(data)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.Seq <= 0 || !validStatus(r.Status) {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}

// Decisions on one batch never overwrite each other: of an approval and a
// rejection sent at once, one wins and the other is refused, and the
// manifest says what the winner did.
func TestConcurrentDecisionsDoNotOverwrite(t *testing.T) {
	for range 20 {
		dir := t.TempDir()
		b, err := Create(dir, testSpec(), testOps())
		if err != nil {
			t.Fatal(err)
		}
		a, _ := Open(dir, b.Manifest.ID)
		r, _ := Open(dir, b.Manifest.ID)
		errs := make(chan error, 2)
		go func() { errs <- a.Approve("alice", t0.Add(time.Minute)) }()
		go func() { errs <- r.Reject("bob", "no", t0.Add(time.Minute)) }()
		e1, e2 := <-errs, <-errs
		final, err := Open(dir, b.Manifest.ID)
		if err != nil {
			t.Fatal(err)
		}
		m := final.Manifest
		switch {
		case e1 == nil && e2 == nil:
			// Both ran, one after the other: the approval came first and
			// the rejection overrode it, which the manifest must show.
			if m.State != Rejected || m.Rejection == nil || len(m.Approvals) != 1 {
				t.Fatalf("both succeeded but the manifest lost one: %+v", m)
			}
		case e1 != nil && e2 != nil:
			t.Fatalf("both refused: %v; %v", e1, e2)
		default:
			refused := e1
			if refused == nil {
				refused = e2
			}
			if !errors.Is(refused, ErrLocked) && !errors.Is(refused, ErrNotPending) {
				t.Fatalf("refused with %v", refused)
			}
			if (m.State == Approved) == (m.Rejection != nil) {
				t.Fatalf("state %s, rejection %+v, approvals %+v", m.State, m.Rejection, m.Approvals)
			}
		}
	}
}

// A decision while an apply holds the batch's lock is refused, never
// saved over the apply's manifest.
func TestDecisionDuringApplyIsRefused(t *testing.T) {
	dir := t.TempDir()
	b, err := Create(dir, testSpec(), testOps())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Approve("alice", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	unlock, err := b.lock(t0.Add(2 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Open(dir, b.Manifest.ID)
	if err := other.Reject("bob", "stop", t0.Add(3*time.Minute)); !errors.Is(err, ErrLocked) {
		t.Errorf("reject during apply: %v", err)
	}
	unlock()
	if err := other.Reject("bob", "stop", t0.Add(3*time.Minute)); err != nil {
		t.Errorf("reject after apply: %v", err)
	}
}
