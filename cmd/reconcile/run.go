package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/spf13/cobra"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/config"
	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/metrics"
	"github.com/reconhq/reconcile/reconcile"
	"github.com/reconhq/reconcile/reports"
	"github.com/reconhq/reconcile/rules"
	"github.com/reconhq/reconcile/runs"
	"github.com/reconhq/reconcile/snapshots"
)

// The store of a config holds, besides drift histories:
//
//	snapshots/<job>-<system>/<time>/   the system of record as each run read it
//	batches/<id>/                      fix-up batches
//	runs/<job>/<run id>/               the reports of a run, one per replica,
//	                                   and the rows left for review
//	history/<job>/<run id>.json        the run history (package runs)
const (
	storeSnapshots = "snapshots"
	storeBatches   = "batches"
	storeRuns      = "runs"
	storeHistory   = "history"

	// shrinkWindow is how many recent runs of a system of record the
	// shrink check compares with (their largest row count).
	shrinkWindow = 7

	// inFlightSkew is how far in the future a row's in-flight time may be
	// (clocks differ) and still count as in flight; later is drift.
	inFlightSkew = time.Minute
)

type runOptions struct {
	config       string
	store        string
	format       string
	limit        int64
	noBatches    bool
	acceptShrink bool
	// metricsFile, when set, receives the runs' metrics for node_exporter.
	metricsFile string
	// lookup reads environment variables (os.LookupEnv; tests replace it).
	lookup func(string) (string, bool)
	// now is the clock (time.Now; tests replace it).
	now func() time.Time
}

func newRunCmd(e *env) *cobra.Command {
	o := &runOptions{lookup: os.LookupEnv, now: time.Now}
	cmd := &cobra.Command{
		Use:   "run JOB... --config FILE",
		Short: "Run jobs of a config: diff every replica, resolve differences by the rules, write reports and fix-up batches",
		Long: `Run each JOB of the config: read its system of record once, into a
snapshot in the store, and diff every replica against that snapshot (so all
replicas are compared with the same point in time, and the system of record
is read once), with the job's key, column map, normalisers, tolerances and
in-flight window. Every difference is resolved by the job's rules into a
guarded fix-up batch per replica (pending approval: see 'reconcile batch'),
or listed for review. A fix writes and guards on the values each side
stores, not the normalised form the diff compared. Reports go to stdout
and, as JSON, to STORE/runs/JOB/RUN/; rows left for review to
review-SYSTEM.jsonl there.

Nothing is ever written to a data system by 'run': a batch is applied only
by 'reconcile batch apply' after approval.

Exit codes: 0 every replica consistent (rows in flight aside), 1 differences
found, 2 error (a failed job, a batch over the safety limits).`,
		Example: `  reconcile run customers --config reconcile.yaml
  reconcile run customers invoices --config reconcile.yaml --format json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("run needs at least one JOB (see 'reconcile validate FILE' for the jobs of a config)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJobs(cmd.Context(), e, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.config, "config", "c", "reconcile.yaml", "the config file")
	f.StringVar(&o.store, "store", "", "the store directory (default: the config's store)")
	f.StringVar(&o.format, "format", "table", "report format on stdout: table, json, markdown or html")
	f.Int64Var(&o.limit, "limit", 20, "list at most N differences per replica on stdout (0: all); the stored JSON report lists all")
	f.BoolVar(&o.noBatches, "no-batches", false, "diff and report only: write no fix-up batch")
	f.BoolVar(&o.acceptShrink, "accept-shrink", false, "the system of record shrank on purpose: measure the shrink against the previous run only, not the largest of the last 7, so its deletes are no longer withheld")
	f.StringVar(&o.metricsFile, "metrics-file", "", "write the runs' Prometheus metrics to this file, atomically, for node_exporter's textfile collector (e.g. /var/lib/node_exporter/textfile_collector/reconcile.prom)")
	return cmd
}

// loadPlan reads and validates a config.
func loadPlan(e *env, path string, lookup func(string) (string, bool)) (*config.Plan, error) {
	schemes := e.registry.Schemes()
	return config.Load(path, config.Options{Lookup: lookup, KnownScheme: func(s string) bool { return slices.Contains(schemes, s) }})
}

// storeOf returns the store directory: the flag, else the config's.
// loadPlanStore loads the config and finds its store (see storeOf).
func loadPlanStore(e *env, file, storeFlag string, lookup func(string) (string, bool)) (*config.Plan, string, error) {
	plan, err := loadPlan(e, file, lookup)
	if err != nil {
		return nil, "", err
	}
	store, err := storeOf(storeFlag, plan)
	if err != nil {
		return nil, "", err
	}
	return plan, store, nil
}

func storeOf(flag string, plan *config.Plan) (string, error) {
	s := flag
	if s == "" {
		s = plan.Store()
	}
	if s == "" {
		return "", fmt.Errorf("%s: no store: set 'store:' in the config or give --store", plan.File())
	}
	// Absolute, so that the paths the run history records (reports,
	// batches) mean the same to a process started elsewhere.
	abs, err := filepath.Abs(s)
	if err != nil {
		return "", fmt.Errorf("store %s: %w", s, err)
	}
	return abs, nil
}

func runJobs(ctx context.Context, e *env, o *runOptions, names []string) error {
	switch o.format {
	case "table", "json", "markdown", "md", "html":
	default:
		return fmt.Errorf("--format %q: want table, json, markdown or html", o.format)
	}
	if o.limit < 0 {
		return fmt.Errorf("--limit %d: must be 0 or more", o.limit)
	}
	plan, store, err := loadPlanStore(e, o.config, o.store, o.lookup)
	if err != nil {
		return err
	}
	var jobs []config.Job
	var problems []error
	for _, n := range names {
		j, ok := plan.Job(n)
		if !ok {
			problems = append(problems, fmt.Errorf("job %q is not in %s (its jobs: %s)", n, plan.File(), strings.Join(plan.Jobs(), ", ")))
			continue
		}
		jobs = append(jobs, j)
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	hist, closeHist, err := openHistory(ctx, plan, store)
	if err != nil {
		return err
	}
	defer closeHist()
	code := exitConsistent
	var done []*jobRun
	for _, j := range jobs {
		jr := runJob(ctx, e, o, plan, store, j, hist)
		done = append(done, jr)
		if jr.Err != nil {
			// A failed job does not stop the others; it makes the run fail.
			printError(e.stderr, fmt.Errorf("job %s: %w", j.Name, jr.Err))
		}
		code = max(code, jr.Code)
		if ctx.Err() != nil {
			break
		}
	}
	if o.metricsFile != "" {
		m := metrics.New()
		if err := observeRuns(m, plan, store, done); err != nil {
			return err
		}
		if err := addFixTotals(m, plan, store); err != nil {
			return err
		}
		// The last success of each job from the history, so that a run
		// that failed still reports how old the last good one is.
		for _, jr := range done {
			if last, ok := lastSuccess(ctx, hist, jr.Job); ok {
				if err := m.SetLastSuccess(jr.Job, last); err != nil {
					return fmt.Errorf("metrics: %w", err)
				}
			}
		}
		if err := m.WriteTextfile(o.metricsFile); err != nil {
			return fmt.Errorf("metrics file: %w", err)
		}
	}
	if code != exitConsistent {
		return &exitCodeError{code: code}
	}
	return nil
}

// jobRun is what one run of a job did.
type jobRun struct {
	Job               string
	ID                string
	Started, Finished time.Time
	// Code is the exit code of the job alone: 0 consistent, 1
	// differences, 2 error (Err says which).
	Code     int
	Err      error
	Replicas []replicaRun
}

// replicaRun is what one replica's diff found and produced.
type replicaRun struct {
	System, Table          string
	SourceRows, TargetRows int64
	Counts                 reconcile.Counts
	Columns                map[string]int64 // changed rows per column (source names)
	Report                 string           // the JSON report's path
	Batch                  string           // the batch id, if one was written
	Err                    error
}

// runRecorder keeps the run history (runs.Local, runs.Postgres).
type runRecorder interface {
	Start(ctx context.Context, r runs.Run) error
	Finish(ctx context.Context, r runs.Run) error
}

// historyStore is the run history as run and serve use it.
type historyStore interface {
	runRecorder
	List(ctx context.Context, o runs.ListOptions) ([]runs.Run, error)
	Get(ctx context.Context, job, id string) (runs.Run, error)
	MarkAbandoned(ctx context.Context, before time.Time) (int, error)
}

// openHistory opens the run history: in the config's state system when it
// names one (shared by hosts), else in the store.
func openHistory(ctx context.Context, plan *config.Plan, store string) (historyStore, func(), error) {
	if st := plan.StateSystem(); st != "" {
		sys, _ := plan.System(st)
		pg, err := runs.OpenPostgres(ctx, sys.URL())
		if err != nil {
			return nil, nil, fmt.Errorf("run history in %s: %w", st, err)
		}
		return pg, pg.Close, nil
	}
	l, err := runs.OpenLocal(filepath.Join(store, storeHistory))
	if err != nil {
		return nil, nil, err
	}
	return l, func() {}, nil
}

// runJob runs one job, recorded in the history: as running first, so
// that a crash leaves evidence, then with its outcome.
func runJob(ctx context.Context, e *env, o *runOptions, plan *config.Plan, store string, job config.Job, hist runRecorder) *jobRun {
	now := o.now().UTC()
	jr := &jobRun{Job: job.Name, ID: now.Format("2006-01-02T150405.000Z"), Started: now}
	err := hist.Start(ctx, runs.Run{ID: jr.ID, Job: jr.Job, Started: jr.Started, Outcome: runs.Running})
	code := exitError
	if err != nil {
		err = fmt.Errorf("run history: %w", err)
	} else {
		code, err = runJobReplicas(ctx, e, o, plan, store, job, jr)
	}
	jr.Finished = o.now().UTC()
	jr.Code, jr.Err = code, err
	if err != nil {
		jr.Code = exitError
	}
	if ferr := hist.Finish(context.WithoutCancel(ctx), historyRecord(jr)); ferr != nil && jr.Err == nil {
		jr.Err, jr.Code = fmt.Errorf("run history: %w", ferr), exitError
	}
	return jr
}

// historyRecord is a finished run as the history keeps it.
func historyRecord(jr *jobRun) runs.Run {
	r := runs.Run{ID: jr.ID, Job: jr.Job, Started: jr.Started, Finished: jr.Finished, Outcome: runs.Outcome(outcomeOf(jr))}
	if jr.Err != nil {
		r.Error = jr.Err.Error()
	}
	for _, rr := range jr.Replicas {
		c := rr.Counts
		hr := runs.Replica{System: rr.System, Table: rr.Table, SourceRows: rr.SourceRows, TargetRows: rr.TargetRows,
			Counts:  runs.Counts{Missing: c.Missing, Extra: c.Extra, Changed: c.Changed, Duplicate: c.Duplicate, NullKey: c.NullKey, InFlight: c.InFlight},
			Columns: rr.Columns, Report: rr.Report, Batch: rr.Batch}
		if rr.Batch != "" {
			hr.BatchState = string(batches.Pending)
		}
		if rr.Err != nil {
			hr.Error = rr.Err.Error()
		}
		r.Replicas = append(r.Replicas, hr)
	}
	return r
}

// lastSuccess is when a job's last completed run (consistent or with
// differences) finished, from the history.
func lastSuccess(ctx context.Context, hist historyStore, job string) (time.Time, bool) {
	rs, _ := hist.List(ctx, runs.ListOptions{Job: job, Limit: 100})
	for _, r := range rs {
		if r.Outcome == runs.Consistent || r.Outcome == runs.Differences {
			return r.Finished, true
		}
	}
	return time.Time{}, false
}

func runJobReplicas(ctx context.Context, e *env, o *runOptions, plan *config.Plan, store string, job config.Job, jr *jobRun) (int, error) {
	if job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, job.Timeout)
		defer cancel()
	}
	now, runID := jr.Started, jr.ID
	runDir := filepath.Join(store, storeRuns, job.Name, runID)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return 0, fmt.Errorf("create run folder: %w", err)
	}
	sor := job.SystemOfRecord
	sorSys, _ := plan.System(sor.System)

	// The system of record is read once, into a snapshot that every
	// replica is diffed against.
	snap, prevRows, err := snapshotSystemOfRecord(ctx, e, o, store, job, sorSys)
	if err != nil {
		return 0, fmt.Errorf("read system of record %s: %w", sor.System, err)
	}
	fmt.Fprintf(e.stdout, "job %s · run %s · system of record %s %s: %d rows (snapshot %s@%s)\n",
		job.Name, runID, sor.System, sideName(sor), snap.Rows, snap.Name, snap.ID)
	snapLoc := fmt.Sprintf("%s:%s@%s", snapshots.Scheme, filepath.Join(store, storeSnapshots, snap.Name), snap.ID)

	code := exitConsistent
	var problems []error
	for _, rep := range job.Replicas {
		rr := replicaRun{System: rep.System, Table: sideName(rep.Side)}
		c, err := runReplica(ctx, e, o, plan, store, job, rep, snap, snapLoc, prevRows, runID, runDir, now, &rr)
		rr.Err = err
		jr.Replicas = append(jr.Replicas, rr)
		if err != nil {
			problems = append(problems, fmt.Errorf("replica %s: %w", rep.System, err))
			continue
		}
		code = max(code, c)
	}
	return code, errors.Join(problems...)
}

func sideName(s config.Side) string {
	switch {
	case s.Table != "":
		return s.Table
	case s.Query != "":
		return "(query)"
	}
	return ""
}

// snapshotSystemOfRecord writes this run's snapshot of the system of
// record and returns its manifest and the row count of the previous one
// (-1 when there is none).
func snapshotSystemOfRecord(ctx context.Context, e *env, o *runOptions, store string, job config.Job, sys config.System) (*snapshots.Manifest, int64, error) {
	sor := job.SystemOfRecord
	name := job.Name + "-" + sor.System
	if err := snapshots.CheckName(name); err != nil {
		return nil, 0, err
	}
	snapStore := filepath.Join(store, storeSnapshots)
	// The baseline a shrink is measured against: the largest of the
	// recent runs, so that a system of record that lost its rows does
	// not become the new normal after one run whose deletes were
	// withheld; --accept-shrink takes the previous run only.
	prevRows := int64(-1)
	if series, err := snapshots.ReadSeries(filepath.Join(snapStore, name)); err == nil {
		seen := 0
		for i := len(series.Entries) - 1; i >= 0 && seen < shrinkWindow; i-- {
			if en := series.Entries[i]; en.Complete() {
				prevRows = max(prevRows, en.Manifest.Rows)
				seen++
				if o.acceptShrink {
					break
				}
			}
		}
	}
	src, err := openSystem(ctx, e, sys)
	if err != nil {
		return nil, 0, err
	}
	defer src.Close()
	ref := connectors.TableRef{Name: sor.Table, Query: sor.Query, Where: sor.Where}
	info, err := src.Describe(ctx, ref)
	if err != nil {
		return nil, 0, err
	}
	var rr array.RecordReader
	if or, ok := src.(connectors.OrderedReader); ok {
		rr, err = or.ReadOrdered(ctx, ref, job.Key, connectors.ReadOptions{})
		if errors.Is(err, connectors.ErrUnsupported) {
			rr, err = nil, nil
		}
	}
	if rr == nil && err == nil {
		rr, err = src.Read(ctx, ref, connectors.ReadOptions{})
	}
	if err != nil {
		return nil, 0, err
	}
	defer rr.Release()
	m, _, err := snapshots.Write(ctx, snapStore, rr, snapshots.WriteOptions{
		Name: name, Source: sys.URL(), Table: sor.Table, Query: sor.Query, Where: sor.Where, Key: job.Key,
		Consistency: info.Consistency, Notes: info.Notes, ToolVersion: version, ConfigHash: job.ConfigHash(),
		Now: o.now,
	})
	if err != nil {
		return nil, 0, err
	}
	return m, prevRows, nil
}

func openSystem(ctx context.Context, e *env, sys config.System) (connectors.Source, error) {
	s, err := e.registry.Open(ctx, sys.URL(), connectors.Options{})
	if err != nil {
		return nil, fmt.Errorf("open %s (%s): %w", sys.Name, sys.Redacted(), err)
	}
	return s, nil
}

// runReplica diffs one replica against the snapshot of the system of
// record, resolves the differences and writes the reports and the batch.
func runReplica(ctx context.Context, e *env, o *runOptions, plan *config.Plan, store string, job config.Job, rep config.Replica,
	snap *snapshots.Manifest, snapLoc string, prevRows int64, runID, runDir string, now time.Time, out *replicaRun) (int, error) {
	sorName := job.SystemOfRecord.System
	sys, _ := plan.System(rep.System)
	snapSrc, err := e.registry.Open(ctx, snapLoc, connectors.Options{})
	if err != nil {
		return 0, err
	}
	defer snapSrc.Close()
	tgt, err := openSystem(ctx, e, sys)
	if err != nil {
		return 0, err
	}
	defer tgt.Close()
	tref := connectors.TableRef{Name: rep.Table, Query: rep.Query, Where: rep.Where}

	r := job.Rules
	if r == nil {
		if r, err = rules.New(rules.Spec{}); err != nil {
			return 0, err
		}
	}
	opts := reconcile.Options{Key: job.Key, Columns: job.Columns, Ignore: job.Ignore, Map: rep.Map,
		ColumnRules: job.ColumnRules(), Context: job.ContextColumns()}
	if job.InFlight > 0 {
		opts.InFlight = &reconcile.InFlightRule{Column: job.InFlightColumn, After: now.Add(-job.InFlight), Until: now.Add(inFlightSkew)}
	}
	// Context: besides what the rules read, every column both sides have
	// that is not compared (ignored, or left out of columns), so that an
	// insert writes the whole row.
	res2t := mapper(rep.Map)
	extra, targetOnly, err := uncompared(ctx, snapSrc, tgt, tref, job, res2t)
	if err != nil {
		return 0, err
	}
	for _, c := range extra {
		if !slices.Contains(opts.Context, c) {
			opts.Context = append(opts.Context, c)
		}
	}

	// Reports: the chosen format on stdout (capped), JSON in the run
	// folder (everything).
	meta := reports.Meta{
		Source:  fmt.Sprintf("%s (snapshot %s@%s)", sorName, snap.Name, snap.ID),
		Target:  fmt.Sprintf("%s %s", rep.System, sideName(rep.Side)),
		Key:     job.Key,
		Limit:   o.limit,
		Command: fmt.Sprintf("reconcile run %s --config %s", job.Name, o.config),
	}
	base := replicaFileName(job, rep)
	jsonPath := filepath.Join(runDir, base+".json")
	jf, err := os.Create(jsonPath)
	if err != nil {
		return 0, fmt.Errorf("create report: %w", err)
	}
	defer jf.Close()
	jmeta := meta
	jmeta.Limit = 0
	jw := reports.NewJSON(jf, jmeta)
	var w reportWriter
	switch o.format {
	case "json":
		w = reports.NewJSON(e.stdout, meta)
	case "markdown", "md":
		w = reports.NewMarkdown(e.stdout, meta)
	case "html":
		w = reports.NewHTML(e.stdout, meta)
	default:
		w = reports.NewTable(e.stdout, meta)
	}

	var ops []batches.Op
	var review []reviewItem
	var listed int64
	sink := func(c reconcile.Change) error {
		if err := jw.Change(c); err != nil {
			return err
		}
		if o.limit == 0 || listed < o.limit {
			listed++
			if err := w.Change(c); err != nil {
				return err
			}
		}
		switch c.Kind {
		case reconcile.Missing, reconcile.Extra, reconcile.Changed:
		default:
			return nil // duplicates, NULL keys, rows in flight: reported, not fixed
		}
		d := r.Resolve(c, rules.Context{SourceSystem: sorName, TargetSystem: rep.System, Source: c.SourceContext, Target: c.TargetContext})
		var why []string
		srcContext, tgtContext, held := storedForm(&d, c, job.Normalize)
		if len(held) > 0 {
			why = append(why, "normalised column(s) "+strings.Join(held, ", ")+": not fixed automatically (time_zone or truncate_time bridge two storage forms, or the diff did not hand over the stored value)")
		}
		if d.Op == rules.OpDelete && len(targetOnly) > 0 {
			// The undo of a delete re-inserts the row the diff saw; it
			// never saw these columns, so it could not restore them.
			d.Op = rules.OpReview
			held = append(held, targetOnly...)
			why = append(why, "column(s) "+strings.Join(targetOnly, ", ")+" only in the replica: a delete is not made automatically, its undo could not restore them")
		}
		if op, ok := toOp(d, srcContext, tgtContext, res2t); ok {
			ops = append(ops, op)
		}
		if d.Op == rules.OpReview || len(d.Review()) > 0 || len(held) > 0 {
			reasons := append(d.Reasons(), why...)
			review = append(review, reviewItem{Kind: c.Kind.String(), Key: fieldsJSON(c.Key), Columns: append(d.Review(), held...), Reasons: reasons})
		}
		return nil
	}
	opts.Limit = 0
	res, diffErr := reconcile.Diff(ctx,
		reconcile.Input{Source: snapSrc, Name: meta.Source},
		reconcile.Input{Source: tgt, Table: tref, Name: meta.Target}, opts, sink)
	if err := errors.Join(jw.Finish(res, diffErr), w.Finish(res, diffErr)); err != nil && diffErr == nil {
		return 0, fmt.Errorf("write report: %w", err)
	}
	if diffErr != nil {
		return 0, diffErr
	}
	out.SourceRows, out.TargetRows, out.Counts, out.Report = res.Source.Rows, res.Target.Rows, res.Summary, jsonPath
	out.Columns = map[string]int64{}
	for _, c := range res.Columns {
		if c.Changed > 0 {
			out.Columns[c.Name] = c.Changed
		}
	}
	if err := writeReview(filepath.Join(runDir, "review-"+base+".jsonl"), review); err != nil {
		return 0, err
	}
	code := exitConsistent
	if !res.Consistent() {
		code = exitDifferences
	}
	fmt.Fprintf(e.stdout, "report  %s\n", jsonPath)
	if len(review) > 0 {
		fmt.Fprintf(e.stdout, "review  %d row(s) left for a person: %s\n", len(review), filepath.Join(runDir, "review-"+base+".jsonl"))
	}
	if o.noBatches || res.Consistent() {
		fmt.Fprintln(e.stdout)
		return code, nil
	}
	dialect := dialectOf(sys.Scheme())
	_, canApply := tgt.(connectors.Applier)
	switch {
	case dialect == "" || !canApply:
		fmt.Fprintf(e.stdout, "batch   none: %s cannot apply fixes (not a database with a write capability)\n\n", rep.System)
		return code, nil
	case rep.Table == "":
		fmt.Fprintf(e.stdout, "batch   none: the replica is read through a query, which cannot be written to\n\n")
		return code, nil
	case len(ops) == 0:
		fmt.Fprintf(e.stdout, "batch   none: no difference is to be fixed automatically\n\n")
		return code, nil
	}
	key := make([]string, len(job.Key))
	for i, k := range job.Key {
		key[i] = res2t(k)
	}
	b, err := batches.Create(filepath.Join(store, storeBatches), batches.Spec{
		Job: job.Name, Dialect: dialect,
		Target:     batches.Location{System: rep.System, Table: rep.Table, Location: sys.Redacted()},
		Source:     batches.Location{System: sorName, Table: job.SystemOfRecord.Table, Location: snapLoc},
		Key:        key,
		RunID:      runID,
		Snapshots:  []string{snap.Name + "@" + snap.ID},
		ConfigHash: job.ConfigHash(),
		Now:        now,
		TTL:        job.BatchExpiry,
		Limits: batches.Limits{
			MaxChanges: int(job.Limits.MaxChanges), MaxFraction: job.Limits.MaxFraction, MaxShrink: job.Limits.MaxShrink,
			TargetRows: res.Target.Rows, SourceRows: snap.Rows, PreviousSourceRows: prevRows,
		},
	}, ops)
	if err != nil {
		return 0, fmt.Errorf("fix-up batch: %w", err)
	}
	m := b.Manifest
	out.Batch = m.ID
	fmt.Fprintf(e.stdout, "batch   %s: %d insert(s), %d update(s), %d delete(s), pending approval (expires %s)\n",
		m.ID, m.Counts.Insert, m.Counts.Update, m.Counts.Delete, m.Expires.UTC().Format(time.RFC3339))
	if m.DeletesWithheld != "" {
		fmt.Fprintf(e.stdout, "        %s\n", m.DeletesWithheld)
	}
	fmt.Fprintf(e.stdout, "        reconcile batch show %s --config %s\n\n", m.ID, o.config)
	return code, nil
}

// mapper returns the function from source column names to the replica's.
func mapper(m map[string]string) func(string) string {
	return func(c string) string {
		if t, ok := m[c]; ok {
			return t
		}
		return c
	}
}

// toOp turns a decision into a batch operation on the replica's columns;
// false when the decision writes nothing.
func toOp(d rules.Decision, srcContext, tgtContext []reconcile.Field, col func(string) string) (batches.Op, bool) {
	cells := func(fs []reconcile.Field) []batches.Cell {
		out := make([]batches.Cell, len(fs))
		for i, f := range fs {
			out[i] = batches.Cell{Column: col(f.Name), Value: f.Value}
		}
		return out
	}
	op := batches.Op{Key: cells(d.Key), Set: cells(d.Set), Expect: cells(d.Expect), Rule: strings.Join(d.Reasons(), "; ")}
	switch d.Op {
	case rules.OpInsert:
		// The whole source row: the compared columns and the others.
		op.Set = withContext(op.Set, srcContext, col)
		op.Kind = connectors.OpInsert
	case rules.OpUpdate:
		if len(d.Set) == 0 {
			return op, false
		}
		op.Kind = connectors.OpUpdate
	case rules.OpDelete:
		// The whole replica row as the guard, and as the undo's insert.
		op.Expect = withContext(op.Expect, tgtContext, col)
		op.Kind = connectors.OpDelete
	default:
		return op, false
	}
	return op, true
}

// withContext adds the context columns a row's cells lack.
func withContext(cells []batches.Cell, context []reconcile.Field, col func(string) string) []batches.Cell {
	for _, f := range context {
		if !slices.ContainsFunc(cells, func(c batches.Cell) bool { return c.Column == col(f.Name) }) {
			cells = append(cells, batches.Cell{Column: col(f.Name), Value: f.Value})
		}
	}
	return cells
}

func dialectOf(scheme string) string {
	switch scheme {
	case "postgres", "postgresql":
		return "postgres"
	case "mysql", "mariadb":
		return "mysql"
	}
	return ""
}

// reviewItem is one row left for a person, as review-SYSTEM.jsonl holds it.
type reviewItem struct {
	Kind    string         `json:"kind"`
	Key     map[string]any `json:"key"`
	Columns []string       `json:"columns,omitempty"`
	Reasons []string       `json:"reasons"`
}

func fieldsJSON(fs []reconcile.Field) map[string]any {
	m := make(map[string]any, len(fs))
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

// writeReview writes the review list (nothing when it is empty).
func writeReview(path string, items []reviewItem) error {
	if len(items) == 0 {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write review list: %w", err)
	}
	if err := writeJSONLines(f, items); err != nil {
		f.Close()
		return fmt.Errorf("write review list: %w", err)
	}
	return f.Close()
}

func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

// uncompared lists the columns (source names) both sides have that the
// job does not compare (ignored, or left out of its columns), and the
// replica's columns the system of record does not have.
func uncompared(ctx context.Context, src, tgt connectors.Source, tref connectors.TableRef, job config.Job, col func(string) string) (shared, targetOnly []string, err error) {
	si, err := src.Describe(ctx, connectors.TableRef{})
	if err != nil {
		return nil, nil, err
	}
	ti, err := tgt.Describe(ctx, tref)
	if err != nil {
		return nil, nil, err
	}
	mapped := map[string]bool{}
	for _, f := range si.Schema.Fields() {
		mapped[col(f.Name)] = true
		compared := (len(job.Columns) == 0 || slices.Contains(job.Columns, f.Name)) && !slices.Contains(job.Ignore, f.Name)
		if compared || slices.Contains(job.Key, f.Name) || ti.Column(col(f.Name)) < 0 {
			continue
		}
		shared = append(shared, f.Name)
	}
	for _, f := range ti.Schema.Fields() {
		if !mapped[f.Name] {
			targetOnly = append(targetOnly, f.Name)
		}
	}
	return shared, targetOnly, nil
}

// outcomeOf names a run's outcome for the metrics and the run history.
func outcomeOf(jr *jobRun) string {
	switch {
	case errors.Is(jr.Err, context.Canceled) || errors.Is(jr.Err, context.DeadlineExceeded):
		return metrics.Cancelled
	case jr.Err != nil || jr.Code == exitError:
		return metrics.Error
	case jr.Code == exitDifferences:
		return metrics.Differences
	}
	return metrics.Consistent
}

// observeRuns records finished runs, and the batches of their jobs per
// state, in m.
func observeRuns(m *metrics.Metrics, plan *config.Plan, store string, runs []*jobRun) error {
	all, err := batches.List(filepath.Join(store, storeBatches))
	if err != nil {
		return err
	}
	var problems []error
	for _, jr := range runs {
		rr := metrics.RunResult{Job: jr.Job, Outcome: outcomeOf(jr), Started: jr.Started, Finished: jr.Finished}
		if j, ok := plan.Job(jr.Job); ok {
			// The system of record's rows have a series of their own,
			// unless a replica is on the same system (another table):
			// one system label cannot hold both.
			rr.SystemOfRecord = j.SystemOfRecord.System
			for _, r := range j.Replicas {
				if r.System == rr.SystemOfRecord {
					rr.SystemOfRecord = ""
				}
			}
		}
		for _, r := range jr.Replicas {
			rr.Replicas = append(rr.Replicas, metrics.ReplicaResult{System: r.System, SourceRows: r.SourceRows, TargetRows: r.TargetRows,
				Counts: metrics.CountsByKind(r.Counts), Columns: r.Columns, Failed: r.Err != nil})
		}
		problems = append(problems, m.ObserveRun(rr))
		problems = append(problems, m.SetBatches(jr.Job, batchStates(all, jr.Job, jr.Finished)))
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// batchStates counts a job's batches per state as of now.
func batchStates(all []*batches.Batch, job string, now time.Time) map[string]int {
	states := map[string]int{}
	for _, b := range all {
		if b.Manifest.Job == job {
			states[stateOf(b.Manifest, now)]++
		}
	}
	return states
}

// addFixTotals counts in m the fix operations every batch in the store
// has run (its journal lines), by job, target system and outcome, for
// the jobs of plan: cumulative, so that the textfile a run writes, or a
// serve that restarts, keeps reconcile_fix_operations_total rising
// (pruning batches resets it, which Prometheus takes as a counter reset).
func addFixTotals(m *metrics.Metrics, plan *config.Plan, store string) error {
	all, err := batches.List(filepath.Join(store, storeBatches))
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	type k struct{ job, system, outcome string }
	totals := map[k]int{}
	for _, b := range all {
		if _, ok := plan.Job(b.Manifest.Job); !ok {
			continue
		}
		journal, err := b.Journal()
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		for _, r := range journal {
			totals[k{b.Manifest.Job, b.Manifest.Target.System, string(r.Status)}]++
		}
	}
	var problems []error
	for key, n := range totals {
		problems = append(problems, m.AddFixOperations(key.job, key.system, key.outcome, n))
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// replicaFileName names a replica's files in a run folder: its system,
// and its position when the job has several replicas on one system.
func replicaFileName(job config.Job, rep config.Replica) string {
	n, pos := 0, 0
	for i, r := range job.Replicas {
		if r.System == rep.System {
			n++
			if r.Side == rep.Side {
				pos = i + 1
			}
		}
	}
	if n > 1 {
		return fmt.Sprintf("%s-%d", rep.System, pos)
	}
	return rep.System
}

// storedForm puts into a fix the values each side stores of its
// normalised columns (Change.SourceRaw, TargetRaw) in place of the
// normalised ones the diff compared and the rules decided on, which
// neither side need store (trimmed, lower-cased, rounded…): an insert
// writes the source's stored values; an update writes the source's and
// finds and guards on the row by the target's (key and pre-image); a
// delete's key and pre-image, which its undo re-inserts, are the
// target's. It returns the context rows to complete an insert or a
// delete with, stored values too. The row is held for review, and the
// columns returned, where a value cannot be written faithfully: a
// normalised column the change holds no stored value of, and a column
// written whose normalisers bridge two storage forms (time_zone,
// truncate_time: the source's stored wall-clock time or precision is
// not what the replica would store).
func storedForm(d *rules.Decision, c reconcile.Change, norm map[string]rules.Chain) (srcContext, tgtContext []reconcile.Field, held []string) {
	srcContext, tgtContext = c.SourceContext, c.TargetContext
	if len(norm) == 0 {
		return srcContext, tgtContext, nil
	}
	hold := func(name string) {
		if !slices.Contains(held, name) {
			held = append(held, name)
		}
	}
	// stored swaps in the stored values; write says the values are
	// written to the replica (rather than guarded on there).
	stored := func(fs, raw []reconcile.Field, write bool) []reconcile.Field {
		out := slices.Clone(fs) // fs may be the change's own
		for i, f := range out {
			chain := norm[f.Name]
			if len(chain) == 0 {
				continue
			}
			j := slices.IndexFunc(raw, func(r reconcile.Field) bool { return r.Name == f.Name })
			if j < 0 || write && chain.Reshapes() {
				hold(f.Name)
				continue
			}
			out[i].Value = raw[j].Value
		}
		return out
	}
	switch d.Op {
	case rules.OpInsert:
		d.Key, d.Set = stored(d.Key, c.SourceRaw, true), stored(d.Set, c.SourceRaw, true)
		srcContext = stored(srcContext, c.SourceRaw, true)
	case rules.OpUpdate:
		d.Key, d.Set, d.Expect = stored(d.Key, c.TargetRaw, false), stored(d.Set, c.SourceRaw, true), stored(d.Expect, c.TargetRaw, false)
	case rules.OpDelete:
		d.Key, d.Expect = stored(d.Key, c.TargetRaw, false), stored(d.Expect, c.TargetRaw, false)
		tgtContext = stored(tgtContext, c.TargetRaw, false)
	}
	if len(held) > 0 {
		d.Op = rules.OpReview
	}
	return srcContext, tgtContext, held
}
