package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/reconhq/reconcile/reconcile"
)

var t0 = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

// firstRun finds differences in two replicas.
func firstRun() RunResult {
	return RunResult{
		Job: "orders", SystemOfRecord: "erp", Outcome: Differences,
		Started: t0, Finished: t0.Add(90 * time.Second),
		Replicas: []ReplicaResult{
			{System: "warehouse", SourceRows: 1000, TargetRows: 998,
				Counts:  CountsByKind(reconcile.Counts{Matched: 990, Missing: 3, Extra: 1, Changed: 6, InFlight: 2}),
				Columns: map[string]int64{"amount": 5, "status": 2, "note": 0}},
			{System: "mirror", SourceRows: 1000, TargetRows: 1000,
				Counts: map[string]int64{"changed": 1}, Columns: map[string]int64{"status": 1}},
		},
	}
}

const firstExposition = `
# HELP reconcile_column_differences Changed rows in which a column differs, per replica, in the last complete diff of a job; columns that do not differ have no series.
# TYPE reconcile_column_differences gauge
reconcile_column_differences{column="amount",job="orders",system="warehouse"} 5
reconcile_column_differences{column="status",job="orders",system="mirror"} 1
reconcile_column_differences{column="status",job="orders",system="warehouse"} 2
# HELP reconcile_differences Keys per difference kind found in a replica by the last complete diff of a job (in_flight keys are not differences).
# TYPE reconcile_differences gauge
reconcile_differences{job="orders",kind="changed",system="mirror"} 1
reconcile_differences{job="orders",kind="changed",system="warehouse"} 6
reconcile_differences{job="orders",kind="duplicate",system="mirror"} 0
reconcile_differences{job="orders",kind="duplicate",system="warehouse"} 0
reconcile_differences{job="orders",kind="extra",system="mirror"} 0
reconcile_differences{job="orders",kind="extra",system="warehouse"} 1
reconcile_differences{job="orders",kind="in_flight",system="mirror"} 0
reconcile_differences{job="orders",kind="in_flight",system="warehouse"} 2
reconcile_differences{job="orders",kind="missing",system="mirror"} 0
reconcile_differences{job="orders",kind="missing",system="warehouse"} 3
reconcile_differences{job="orders",kind="null_key",system="mirror"} 0
reconcile_differences{job="orders",kind="null_key",system="warehouse"} 0
# HELP reconcile_last_run_timestamp_seconds Unix time at which the last run of a job finished; outcome is that run's outcome (consistent, differences, error, cancelled).
# TYPE reconcile_last_run_timestamp_seconds gauge
reconcile_last_run_timestamp_seconds{job="orders",outcome="differences"} 1.79574489e+09
# HELP reconcile_last_success_timestamp_seconds Unix time at which the last run of a job that completed (consistent or differences) finished.
# TYPE reconcile_last_success_timestamp_seconds gauge
reconcile_last_success_timestamp_seconds{job="orders"} 1.79574489e+09
# HELP reconcile_rows Rows read from a system by the last complete diff of a job.
# TYPE reconcile_rows gauge
reconcile_rows{job="orders",system="erp"} 1000
reconcile_rows{job="orders",system="mirror"} 1000
reconcile_rows{job="orders",system="warehouse"} 998
# HELP reconcile_run_duration_seconds Wall-clock duration of the last run of a job, whatever its outcome.
# TYPE reconcile_run_duration_seconds gauge
reconcile_run_duration_seconds{job="orders"} 90
`

func TestObserveRun(t *testing.T) {
	m := New()
	if err := m.ObserveRun(firstRun()); err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(firstExposition)); err != nil {
		t.Fatal(err)
	}
}

// gather returns the exposition text of m's registry.
func gather(t *testing.T, m *Metrics) string {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&sb, mf); err != nil {
			t.Fatal(err)
		}
	}
	return sb.String()
}

func TestObserveRunReplacesStaleSeries(t *testing.T) {
	m := New()
	if err := m.ObserveRun(firstRun()); err != nil {
		t.Fatal(err)
	}
	// Second run: warehouse is gone from the config, mirror agrees now.
	second := RunResult{
		Job: "orders", SystemOfRecord: "erp", Outcome: Consistent,
		Started: t0.Add(24 * time.Hour), Finished: t0.Add(24*time.Hour + 30*time.Second),
		Replicas: []ReplicaResult{{System: "mirror", SourceRows: 1001, TargetRows: 1001, Counts: CountsByKind(reconcile.Counts{Matched: 1001})}},
	}
	if err := m.ObserveRun(second); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP reconcile_differences Keys per difference kind found in a replica by the last complete diff of a job (in_flight keys are not differences).
# TYPE reconcile_differences gauge
reconcile_differences{job="orders",kind="changed",system="mirror"} 0
reconcile_differences{job="orders",kind="duplicate",system="mirror"} 0
reconcile_differences{job="orders",kind="extra",system="mirror"} 0
reconcile_differences{job="orders",kind="in_flight",system="mirror"} 0
reconcile_differences{job="orders",kind="missing",system="mirror"} 0
reconcile_differences{job="orders",kind="null_key",system="mirror"} 0
# HELP reconcile_last_run_timestamp_seconds Unix time at which the last run of a job finished; outcome is that run's outcome (consistent, differences, error, cancelled).
# TYPE reconcile_last_run_timestamp_seconds gauge
reconcile_last_run_timestamp_seconds{job="orders",outcome="consistent"} 1.79583123e+09
# HELP reconcile_last_success_timestamp_seconds Unix time at which the last run of a job that completed (consistent or differences) finished.
# TYPE reconcile_last_success_timestamp_seconds gauge
reconcile_last_success_timestamp_seconds{job="orders"} 1.79583123e+09
# HELP reconcile_rows Rows read from a system by the last complete diff of a job.
# TYPE reconcile_rows gauge
reconcile_rows{job="orders",system="erp"} 1001
reconcile_rows{job="orders",system="mirror"} 1001
# HELP reconcile_run_duration_seconds Wall-clock duration of the last run of a job, whatever its outcome.
# TYPE reconcile_run_duration_seconds gauge
reconcile_run_duration_seconds{job="orders"} 30
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if n, _ := testutil.GatherAndCount(m.Registry(), "reconcile_column_differences"); n != 0 {
		t.Fatalf("column differences left behind: %d series\n%s", n, gather(t, m))
	}
}

func TestObserveRunFailedKeepsLastCompleteValues(t *testing.T) {
	m := New()
	if err := m.ObserveRun(firstRun()); err != nil {
		t.Fatal(err)
	}
	// The third run fails on mirror after warehouse completed with
	// fewer differences; mirror's series must not turn into zeros,
	// the last success stays at the first run.
	third := RunResult{
		Job: "orders", SystemOfRecord: "erp", Outcome: Error,
		Started: t0.Add(48 * time.Hour), Finished: t0.Add(48*time.Hour + 5*time.Second),
		Replicas: []ReplicaResult{
			{System: "warehouse", SourceRows: 1002, TargetRows: 1002, Counts: map[string]int64{"changed": 1}, Columns: map[string]int64{"amount": 1}},
			{System: "mirror", Failed: true},
		},
	}
	if err := m.ObserveRun(third); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP reconcile_column_differences Changed rows in which a column differs, per replica, in the last complete diff of a job; columns that do not differ have no series.
# TYPE reconcile_column_differences gauge
reconcile_column_differences{column="amount",job="orders",system="warehouse"} 1
reconcile_column_differences{column="status",job="orders",system="mirror"} 1
# HELP reconcile_last_run_timestamp_seconds Unix time at which the last run of a job finished; outcome is that run's outcome (consistent, differences, error, cancelled).
# TYPE reconcile_last_run_timestamp_seconds gauge
reconcile_last_run_timestamp_seconds{job="orders",outcome="error"} 1.795917605e+09
# HELP reconcile_last_success_timestamp_seconds Unix time at which the last run of a job that completed (consistent or differences) finished.
# TYPE reconcile_last_success_timestamp_seconds gauge
reconcile_last_success_timestamp_seconds{job="orders"} 1.79574489e+09
# HELP reconcile_rows Rows read from a system by the last complete diff of a job.
# TYPE reconcile_rows gauge
reconcile_rows{job="orders",system="erp"} 1002
reconcile_rows{job="orders",system="mirror"} 1000
reconcile_rows{job="orders",system="warehouse"} 1002
# HELP reconcile_run_duration_seconds Wall-clock duration of the last run of a job, whatever its outcome.
# TYPE reconcile_run_duration_seconds gauge
reconcile_run_duration_seconds{job="orders"} 5
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"reconcile_column_differences", "reconcile_last_run_timestamp_seconds", "reconcile_last_success_timestamp_seconds",
		"reconcile_rows", "reconcile_run_duration_seconds"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.differences.WithLabelValues("orders", "mirror", "changed")); got != 1 {
		t.Fatalf("mirror changed = %v after a failed run, want the last complete value 1", got)
	}

	// A run cancelled before any replica keeps every drift series.
	before := gather(t, m)
	cancelled := RunResult{Job: "orders", SystemOfRecord: "erp", Outcome: Cancelled, Started: t0.Add(72 * time.Hour), Finished: t0.Add(72*time.Hour + time.Second)}
	if err := m.ObserveRun(cancelled); err != nil {
		t.Fatal(err)
	}
	after := gather(t, m)
	if family(before, "reconcile_differences") == "" {
		t.Fatal("no differences gathered")
	}
	for _, name := range []string{"reconcile_rows", "reconcile_differences", "reconcile_column_differences"} {
		if a, b := family(before, name), family(after, name); a != b {
			t.Fatalf("%s changed by a cancelled run:\n%s\n---\n%s", name, a, b)
		}
	}
	if !strings.Contains(after, `reconcile_last_run_timestamp_seconds{job="orders",outcome="cancelled"}`) ||
		strings.Contains(after, `outcome="error"`) {
		t.Fatalf("last run not replaced by the cancelled one:\n%s", after)
	}
}

// family returns the lines of one metric family in exposition text.
func family(text, name string) string {
	var sb strings.Builder
	for l := range strings.Lines(text) {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			sb.WriteString(l)
		}
	}
	return sb.String()
}

func TestBatchesAndFixOperations(t *testing.T) {
	m := New()
	if err := m.SetBatches("orders", map[string]int{"pending": 1, "applied": 4}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetBatches("orders", map[string]int{"pending": 0, "applied": 5}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		outcome string
		n       int
	}{{"applied", 3}, {"conflict", 1}, {"applied", 2}} {
		if err := m.AddFixOperations("orders", "warehouse", c.outcome, c.n); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP reconcile_batches Fix-up batches of a job per state.
# TYPE reconcile_batches gauge
reconcile_batches{job="orders",state="applied"} 5
reconcile_batches{job="orders",state="applying"} 0
reconcile_batches{job="orders",state="approved"} 0
reconcile_batches{job="orders",state="expired"} 0
reconcile_batches{job="orders",state="failed"} 0
reconcile_batches{job="orders",state="partial"} 0
reconcile_batches{job="orders",state="pending"} 0
reconcile_batches{job="orders",state="rejected"} 0
# HELP reconcile_fix_operations_total Fix-up operations applied to a system, per outcome (applied, already_applied, conflict, error).
# TYPE reconcile_fix_operations_total counter
reconcile_fix_operations_total{job="orders",outcome="applied",system="warehouse"} 5
reconcile_fix_operations_total{job="orders",outcome="conflict",system="warehouse"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	m.Forget("orders")
	if n, _ := testutil.GatherAndCount(m.Registry()); n != 0 {
		t.Fatalf("Forget left %d series:\n%s", n, gather(t, m))
	}
}

// populated returns metrics with every family holding series.
func populated(t *testing.T) *Metrics {
	t.Helper()
	m := New()
	if err := m.ObserveRun(firstRun()); err != nil {
		t.Fatal(err)
	}
	if err := m.SetBatches("orders", map[string]int{"pending": 1}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddFixOperations("orders", "warehouse", "applied", 7); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLint(t *testing.T) {
	m := populated(t)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
	// The handler's gatherers (with the Go runtime) must lint too.
	if n, _ := testutil.GatherAndCount(m.Registry()); n == 0 {
		t.Fatal("nothing gathered")
	}
}

func TestHandler(t *testing.T) {
	m := populated(t)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	for _, name := range []string{"reconcile_rows", "reconcile_fix_operations_total", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(firstExposition), "reconcile_rows", "reconcile_differences", "reconcile_column_differences"); err != nil {
		t.Fatal(err)
	}
}

func TestWriteTextfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reconcile-orders.prom")
	if err := os.WriteFile(path, []byte("# an older file\nold_metric 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := populated(t)
	if err := m.WriteTextfile(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("parse textfile: %v", err)
	}
	if fams["old_metric"] != nil {
		t.Fatal("old file not replaced")
	}
	if fams["go_goroutines"] != nil {
		t.Fatal("textfile holds Go runtime metrics, which collide with node_exporter's own")
	}
	want, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != len(want) {
		t.Fatalf("textfile has %d families, registry %d", len(fams), len(want))
	}
	for _, mf := range want {
		got := fams[mf.GetName()]
		if got == nil || got.GetType() != mf.GetType() || got.GetHelp() != mf.GetHelp() || len(got.GetMetric()) != len(mf.GetMetric()) {
			t.Fatalf("family %s read back as %v", mf.GetName(), got)
		}
	}
	if v := fams["reconcile_rows"].GetMetric()[0].GetGauge().GetValue(); v != 1000 {
		t.Fatalf("first reconcile_rows = %v, want 1000 (erp)", v)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644 so node_exporter can read it", st.Mode().Perm())
	}
	// A second write replaces the first; no temporary file is left.
	if err := m.ObserveRun(RunResult{Job: "orders", Outcome: Error, Started: t0, Finished: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteTextfile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `outcome="error"`) {
		t.Fatalf("second write not visible:\n%s", b)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "reconcile-orders.prom" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("folder holds %v, want only reconcile-orders.prom", names)
	}
}

func TestWriteTextfileFailureLeavesTarget(t *testing.T) {
	dir := t.TempDir()
	m := populated(t)
	// The target is a folder: the rename fails, the temporary file is
	// removed and the folder is untouched.
	target := filepath.Join(dir, "reconcile.prom")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteTextfile(target); err == nil {
		t.Fatal("writing over a non-empty folder succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: %d entries", len(entries))
	}
	if err := m.WriteTextfile(filepath.Join(dir, "missing", "reconcile.prom")); err == nil {
		t.Fatal("writing into a missing folder succeeded")
	}
	if err := m.WriteTextfile(""); err == nil {
		t.Fatal("empty path accepted")
	}
}

func TestInvalidInputChangesNothing(t *testing.T) {
	m := New()
	bad := []RunResult{
		{Job: "postgres://app:s3cret@db.internal/orders", Outcome: Consistent, Started: t0, Finished: t0},
		{Job: "orders", Outcome: Consistent, Started: t0, Finished: t0,
			Replicas: []ReplicaResult{{System: "app:s3cret@db"}}},
		{Job: "orders", Outcome: Differences, Started: t0, Finished: t0,
			Replicas: []ReplicaResult{{System: "w", Columns: map[string]int64{"a\x00b": 1}}}},
		{Job: "orders", SystemOfRecord: "root:s3cret@erp", Outcome: Differences, Started: t0, Finished: t0},
		{Job: "orders", Outcome: Differences, Started: t0, Finished: t0,
			Replicas: []ReplicaResult{{System: "w", Columns: map[string]int64{"": 1}}}},
		{Job: "orders", Outcome: "clean", Started: t0, Finished: t0},
		{Job: "orders", Outcome: Differences, Started: t0.Add(time.Second), Finished: t0},
		{Job: "orders", Outcome: Differences},
		{Job: "", Outcome: Differences, Started: t0, Finished: t0},
		{Job: "orders", Outcome: Differences, Started: t0, Finished: t0,
			Replicas: []ReplicaResult{{System: "w", Counts: map[string]int64{"matched": 5}}}},
		{Job: "orders", Outcome: Differences, Started: t0, Finished: t0,
			Replicas: []ReplicaResult{{System: "w", TargetRows: -1, Counts: map[string]int64{"missing": -2}}}},
		{Job: "orders", Outcome: Consistent, Started: t0, Finished: t0,
			Replicas: []ReplicaResult{{System: "w", Counts: map[string]int64{"missing": 2}}}},
		{Job: "orders", Outcome: Consistent, Started: t0, Finished: t0,
			Replicas: []ReplicaResult{{System: "w", Failed: true}}},
		{Job: "orders", SystemOfRecord: "w", Outcome: Differences, Started: t0, Finished: t0,
			Replicas: []ReplicaResult{{System: "w"}, {System: "x"}, {System: "x"}}},
		{Job: "a\nb", Outcome: Differences, Started: t0, Finished: t0},
		{Job: strings.Repeat("j", 300), Outcome: Differences, Started: t0, Finished: t0},
	}
	for i, r := range bad {
		err := m.ObserveRun(r)
		if err == nil {
			t.Errorf("%d: %+v accepted", i, r)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%d: error echoes a password: %v", i, err)
		}
	}
	if err := m.SetBatches("orders", map[string]int{"done": 1, "pending": -1}); err == nil || !strings.Contains(err.Error(), "done") || !strings.Contains(err.Error(), "negative") {
		t.Errorf("SetBatches: %v, want both problems", err)
	}
	if err := m.AddFixOperations("orders", "http://x", "skipped", -1); err == nil || strings.Count(err.Error(), "\n") < 2 {
		t.Errorf("AddFixOperations: %v, want three problems", err)
	}
	if err := m.SetLastSuccess("orders", time.Time{}); err == nil {
		t.Error("zero last success accepted")
	}
	if n, _ := testutil.GatherAndCount(m.Registry()); n != 0 {
		t.Fatalf("invalid input changed the metrics:\n%s", gather(t, m))
	}
}

// checkLabels fails if any gathered label value could hold a location.
func checkLabels(t *testing.T, m *Metrics) {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				v := lp.GetValue()
				if lp.GetName() == "column" {
					if checkColumn("column", v) != nil {
						t.Fatalf("%s{column=%q}: not a plain name", mf.GetName(), v)
					}
					continue
				}
				if strings.Contains(v, "://") || strings.Contains(v, "@") || checkName(lp.GetName(), v) != nil {
					t.Fatalf("%s{%s=%q}: not a plain name", mf.GetName(), lp.GetName(), v)
				}
			}
		}
	}
}

func FuzzObserveRun(f *testing.F) {
	f.Add("orders", "erp", "warehouse", "amount", "differences", int64(3))
	f.Add("postgres://u:pw@h/db", "erp", "user@host", "a://b", "consistent", int64(0))
	f.Add("", "", "", "", "error", int64(-1))
	f.Fuzz(func(t *testing.T, job, sor, system, column, outcome string, n int64) {
		m := New()
		r := RunResult{Job: job, SystemOfRecord: sor, Outcome: outcome, Started: t0, Finished: t0.Add(time.Minute),
			Replicas: []ReplicaResult{{System: system, SourceRows: n, TargetRows: n,
				Counts: map[string]int64{"changed": n}, Columns: map[string]int64{column: n}}}}
		if err := m.ObserveRun(r); err != nil {
			if c, _ := testutil.GatherAndCount(m.Registry()); c != 0 {
				t.Fatalf("rejected run left %d series", c)
			}
			return
		}
		if outcome == Consistent && n > 0 {
			t.Fatalf("consistent run with %d changed accepted", n)
		}
		checkLabels(t, m)
		if v := testutil.ToFloat64(m.differences.WithLabelValues(job, system, "changed")); v != float64(n) {
			t.Fatalf("changed = %v, want %d", v, n)
		}
	})
}

func TestSetLastSuccess(t *testing.T) {
	m := New()
	if err := m.SetLastSuccess("orders", t0); err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveRun(RunResult{Job: "orders", Outcome: Error, Started: t0.Add(time.Hour), Finished: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(m.lastSuccess.WithLabelValues("orders")); v != float64(t0.Unix()) {
		t.Fatalf("last success %v, want %d", v, t0.Unix())
	}
	// A completed run moves it on; an older seed does not move it back.
	if err := m.ObserveRun(RunResult{Job: "orders", Outcome: Consistent, Started: t0.Add(2 * time.Hour), Finished: t0.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetLastSuccess("orders", t0); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(m.lastSuccess.WithLabelValues("orders")); v != float64(t0.Add(3*time.Hour).Unix()) {
		t.Fatalf("last success %v, want %d", v, t0.Add(3*time.Hour).Unix())
	}
	checkLabels(t, m)
}

func TestCountsByKind(t *testing.T) {
	c := reconcile.Counts{Matched: 9, Missing: 1, Extra: 2, Changed: 3, Duplicate: 4, NullKey: 5, InFlight: 6, Tolerated: 7}
	got := CountsByKind(c)
	want := map[string]int64{"missing": 1, "extra": 2, "changed": 3, "duplicate": 4, "null_key": 5, "in_flight": 6}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestColumnNamesMayHoldAt(t *testing.T) {
	m := New()
	r := RunResult{Job: "orders", Outcome: Differences, Started: t0, Finished: t0,
		Replicas: []ReplicaResult{{System: "w", Counts: map[string]int64{"changed": 1}, Columns: map[string]int64{"e@mail": 1}}}}
	if err := m.ObserveRun(r); err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(m.columnDifferences.WithLabelValues("orders", "w", "e@mail")); v != 1 {
		t.Fatalf("column e@mail = %v, want 1", v)
	}
	checkLabels(t, m)
}

func TestConcurrentUse(t *testing.T) {
	m := New()
	done := make(chan error)
	for i := range 4 {
		go func() {
			var err error
			for j := range 50 {
				r := firstRun()
				r.Job = fmt.Sprintf("job%d", i%2)
				r.Finished = r.Finished.Add(time.Duration(j) * time.Second)
				if err == nil {
					err = m.ObserveRun(r)
				}
				if err == nil {
					err = m.SetBatches(r.Job, map[string]int{"pending": j})
				}
				if err == nil {
					err = m.AddFixOperations(r.Job, "warehouse", "applied", 1)
				}
				if err == nil {
					_, err = m.Registry().Gather()
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(m.fixOperations.WithLabelValues("job0", "warehouse", "applied")); got != 100 {
		t.Fatalf("job0 applied = %v, want 100", got)
	}
	checkLabels(t, m)
}
