package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/cobra"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/config"
	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
)

// batchOptions are the flags every batch subcommand shares.
type batchOptions struct {
	config string
	store  string
	lookup func(string) (string, bool)
	now    func() time.Time
}

func (o *batchOptions) flags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.config, "config", "c", "reconcile.yaml", "the config file (its store, and the systems to apply to)")
	cmd.Flags().StringVar(&o.store, "store", "", "the store directory (default: the config's store)")
}

// dir returns the batches folder, and the plan when the config could be
// read (list and show work from a store alone).
func (o *batchOptions) dir(e *env, needPlan bool) (string, *config.Plan, error) {
	if o.store != "" && !needPlan {
		return filepath.Join(o.store, storeBatches), nil, nil
	}
	plan, store, err := loadPlanStore(e, o.config, o.store, o.lookup)
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(store, storeBatches), plan, nil
}

func newBatchCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "batch",
		Short: "List, show, approve, reject, apply and verify fix-up batches",
		Long: `A fix-up batch holds the guarded operations a run proposes for one replica:
inserts, updates of only the changed columns, and deletes, each carrying the
pre-image it expects. Nothing is written to a data system until a person
approves the batch (the approval is bound to the SHA-256 of its operations)
and applies it. Apply refuses a batch that is not approved, that changed
since it was approved, or that expired; a row changed since the diff is a
conflict, counted and left alone; applying twice changes nothing; an apply
writes an undo batch, pending approval too.

States: pending → approved → applying → applied | partial | failed, or
rejected | expired.`,
	}
	cmd.AddCommand(newBatchListCmd(e), newBatchShowCmd(e), newBatchApproveCmd(e), newBatchRejectCmd(e), newBatchApplyCmd(e), newBatchVerifyCmd(e))
	return cmd
}

func newBatchListCmd(e *env) *cobra.Command {
	o := &batchOptions{lookup: os.LookupEnv, now: time.Now}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the batches of the store, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, _, err := o.dir(e, false)
			if err != nil {
				return err
			}
			bs, err := batches.List(dir)
			if err != nil {
				return err
			}
			if len(bs) == 0 {
				fmt.Fprintf(e.stdout, "no batches in %s\n", dir)
				return nil
			}
			t := tablewriter.NewTable(e.stdout)
			t.Header("ID", "JOB", "TARGET", "STATE", "INSERT", "UPDATE", "DELETE", "CREATED", "EXPIRES")
			for _, b := range bs {
				m := b.Manifest
				_ = t.Append(m.ID, m.Job, m.Target.System+" "+m.Target.Table, stateOf(m, o.now()),
					fmt.Sprint(m.Counts.Insert), fmt.Sprint(m.Counts.Update), fmt.Sprint(m.Counts.Delete),
					m.Created.UTC().Format("2006-01-02 15:04Z"), m.Expires.UTC().Format("2006-01-02 15:04Z"))
			}
			return t.Render()
		},
	}
	o.flags(cmd)
	return cmd
}

// stateOf is the state to show: a pending or approved batch past its
// expiry shows as expired.
func stateOf(m batches.Manifest, now time.Time) string { return string(m.StateAt(now)) }

func newBatchShowCmd(e *env) *cobra.Command {
	o := &batchOptions{lookup: os.LookupEnv, now: time.Now}
	var offset, n int
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a batch: its state, counts, the rules behind its operations, and a page of operations",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if offset < 0 || n < 0 {
				return errors.New("--offset and --ops must be 0 or more")
			}
			dir, _, err := o.dir(e, false)
			if err != nil {
				return err
			}
			b, err := batches.Open(dir, args[0])
			if err != nil {
				return err
			}
			s, err := b.Summary(offset, n)
			if err != nil {
				return err
			}
			printBatch(e, s, o.now(), offset)
			return nil
		},
	}
	o.flags(cmd)
	cmd.Flags().IntVar(&offset, "offset", 0, "first operation to show (0-based)")
	cmd.Flags().IntVar(&n, "ops", 20, "operations to show")
	return cmd
}

func printBatch(e *env, s *batches.Summary, now time.Time, offset int) {
	m := s.Manifest
	w := e.stdout
	fmt.Fprintf(w, "batch    %s\n", m.ID)
	fmt.Fprintf(w, "job      %s (run %s, config %s)\n", m.Job, m.RunID, m.ConfigHash)
	fmt.Fprintf(w, "target   %s %s (%s)\n", m.Target.System, m.Target.Table, m.Target.Location)
	fmt.Fprintf(w, "source   %s %s (%s)\n", m.Source.System, m.Source.Table, strings.Join(m.Snapshots, ", "))
	fmt.Fprintf(w, "state    %s · created %s · expires %s\n", stateOf(m, now), m.Created.UTC().Format(time.RFC3339), m.Expires.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "ops      %d insert(s), %d update(s), %d delete(s) · sha256 %s\n", m.Counts.Insert, m.Counts.Update, m.Counts.Delete, m.SHA256)
	if m.DeletesWithheld != "" {
		fmt.Fprintf(w, "withheld %s\n", m.DeletesWithheld)
	}
	for _, a := range m.Approvals {
		fmt.Fprintf(w, "approved by %s at %s (sha256 %s)\n", a.By, a.At.UTC().Format(time.RFC3339), a.SHA256)
	}
	if m.Rejection != nil {
		fmt.Fprintf(w, "rejected by %s at %s: %s\n", m.Rejection.By, m.Rejection.At.UTC().Format(time.RFC3339), m.Rejection.Reason)
	}
	if oc := m.Outcome; oc != nil {
		fmt.Fprintf(w, "outcome  %d applied, %d already applied, %d conflict(s), %d error(s), %d not run\n",
			oc.Applied, oc.AlreadyApplied, oc.Conflict, oc.Error, oc.NotRun)
	}
	if m.Undo != "" {
		fmt.Fprintf(w, "undo     %s\n", m.Undo)
	}
	if m.UndoOf != "" {
		fmt.Fprintf(w, "undoes   %s\n", m.UndoOf)
	}
	if len(s.Rules) > 0 {
		fmt.Fprintln(w, "\nwhy")
		for _, r := range s.Rules {
			fmt.Fprintf(w, "  %6d %-6s %s\n", r.Count, r.Kind, r.Rule)
		}
	}
	if len(s.Ops) > 0 {
		fmt.Fprintf(w, "\noperations %d–%d of %d\n", offset+1, offset+len(s.Ops), s.Total)
		for _, op := range s.Ops {
			fmt.Fprintf(w, "  %s\n", describeOp(op))
		}
	}
}

// describeOp renders one operation for people.
func describeOp(op batches.Op) string {
	cells := func(cs []batches.Cell) string {
		parts := make([]string, len(cs))
		for i, c := range cs {
			parts[i] = c.Column + "=" + c.Value.String()
		}
		return strings.Join(parts, ", ")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "#%d %s %s", op.Seq, op.Kind, cells(op.Key))
	switch op.Kind {
	case connectors.OpInsert:
		fmt.Fprintf(&sb, "  (%s)", cells(op.Set))
	case connectors.OpUpdate:
		for i, c := range op.Set {
			was := "?"
			if x, ok := op.Expected(c.Column); ok {
				was = x.String()
			}
			sep := "  "
			if i > 0 {
				sep = ", "
			}
			fmt.Fprintf(&sb, "%s%s: %s → %s", sep, c.Column, was, c.Value.String())
		}
	}
	if op.Rule != "" {
		fmt.Fprintf(&sb, "  · %s", op.Rule)
	}
	return sb.String()
}

func newBatchApproveCmd(e *env) *cobra.Command {
	return newBatchDecisionCmd(e, "approve ID --by NAME", "Approve a pending batch, bound to the SHA-256 of its operations", "approves",
		func(b *batches.Batch, by, _ string, now time.Time) (string, error) {
			if err := b.Approve(by, now); err != nil {
				return "", err
			}
			return fmt.Sprintf("batch %s approved by %s (sha256 %s)", b.Manifest.ID, by, b.Manifest.SHA256), nil
		})
}

func newBatchRejectCmd(e *env) *cobra.Command {
	cmd := newBatchDecisionCmd(e, "reject ID --by NAME [--reason TEXT]", "Reject a pending or approved batch; it can no longer be applied", "rejects",
		func(b *batches.Batch, by, reason string, now time.Time) (string, error) {
			if err := b.Reject(by, reason, now); err != nil {
				return "", err
			}
			return fmt.Sprintf("batch %s rejected by %s", b.Manifest.ID, by), nil
		})
	return cmd
}

// newBatchDecisionCmd builds approve and reject: a person's decision on
// one batch, recorded with their name.
func newBatchDecisionCmd(e *env, use, short, verb string, decide func(b *batches.Batch, by, reason string, now time.Time) (string, error)) *cobra.Command {
	o := &batchOptions{lookup: os.LookupEnv, now: time.Now}
	var by, reason string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(by) == "" {
				return fmt.Errorf("--by: say who %s the batch", verb)
			}
			dir, _, err := o.dir(e, false)
			if err != nil {
				return err
			}
			b, err := batches.Open(dir, args[0])
			if err != nil {
				return err
			}
			msg, err := decide(b, by, reason, o.now())
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, msg)
			return nil
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&by, "by", "", "who "+verb+" (required)")
	if verb == "rejects" {
		cmd.Flags().StringVar(&reason, "reason", "", "why")
	}
	return cmd
}

func newBatchApplyCmd(e *env) *cobra.Command {
	o := &batchOptions{lookup: os.LookupEnv, now: time.Now}
	var dryRun bool
	var txOps int
	var by string
	cmd := &cobra.Command{
		Use:   "apply ID [--dry-run]",
		Short: "Apply an approved batch to its target, guarded and in transactions",
		Long: `Apply an approved, unexpired, unchanged batch to its target system (its
URL and password come from the config). Operations run with bound
parameters in transactions of --tx-ops operations; each one's outcome
(applied, already applied, conflict, error) is journaled after its
transaction commits, so an interrupted apply is finished by applying again.
--dry-run runs every guard in transactions that are rolled back and reports
what would happen.

Exit codes: 0 every operation applied (or already applied), 1 conflicts
(rows changed since the diff, left alone), 2 errors or a refused batch.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if txOps < 0 {
				return fmt.Errorf("--tx-ops %d: must be 0 (the connector's default) or more", txOps)
			}
			return runBatchApply(cmd.Context(), e, o, args[0], dryRun, txOps, by)
		},
	}
	o.flags(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "run the guards in rolled-back transactions and report; change nothing")
	cmd.Flags().IntVar(&txOps, "tx-ops", 0, "operations per transaction (default 1000)")
	cmd.Flags().StringVar(&by, "by", "", "who applies, recorded in the batch's outcome")
	return cmd
}

// applyBatch applies batch id of folder dir to its target system as the
// plan declares it; b is the batch as the apply left it.
func applyBatch(ctx context.Context, e *env, plan *config.Plan, dir, id string, opts batches.ApplyOptions) (rep *batches.Report, b *batches.Batch, err error) {
	b, err = batches.Open(dir, id)
	if err != nil {
		return nil, nil, err
	}
	sys, err := checkBatchTarget(plan, b.Manifest)
	if err != nil {
		return nil, b, err
	}
	tgt, err := openSystem(ctx, e, sys)
	if err != nil {
		return nil, b, err
	}
	defer tgt.Close()
	a, ok := tgt.(connectors.Applier)
	if !ok {
		return nil, b, fmt.Errorf("system %s (%s) cannot apply fixes", sys.Name, sys.Redacted())
	}
	rep, err = b.Apply(ctx, a, opts)
	return rep, b, err
}

func runBatchApply(ctx context.Context, e *env, o *batchOptions, id string, dryRun bool, txOps int, by string) error {
	dir, plan, err := o.dir(e, true)
	if err != nil {
		return err
	}
	rep, b, err := applyBatch(ctx, e, plan, dir, id, batches.ApplyOptions{Now: o.now(), TxOps: txOps, DryRun: dryRun, By: by})
	if err != nil {
		return err
	}
	oc := rep.Outcome
	verb := "applied"
	if rep.DryRun {
		verb = "dry run (nothing written)"
	}
	fmt.Fprintf(e.stdout, "batch %s %s: %d operation(s) sent · %d applied, %d already applied, %d conflict(s), %d error(s), %d not run\n",
		id, verb, rep.Ran, oc.Applied, oc.AlreadyApplied, oc.Conflict, oc.Error, oc.NotRun)
	list := func(what string, rs []batches.OpResult) {
		for i, r := range rs {
			if i == 20 {
				fmt.Fprintf(e.stdout, "  … %d more %s\n", len(rs)-i, what)
				break
			}
			fmt.Fprintf(e.stdout, "  %s #%d: %s\n", what, r.Seq, r.Message)
		}
	}
	list("conflict", rep.Conflicts)
	list("error", rep.Errors)
	if rep.Undo != nil {
		fmt.Fprintf(e.stdout, "undo batch %s written, pending approval\n", rep.Undo.Manifest.ID)
	}
	if !rep.DryRun {
		fmt.Fprintf(e.stdout, "state %s\n", b.Manifest.State)
	}
	switch {
	case oc.Error > 0 || oc.NotRun > 0 && !rep.DryRun:
		return &exitCodeError{code: exitError}
	case oc.Conflict > 0:
		return &exitCodeError{code: exitDifferences}
	}
	return nil
}

func newBatchVerifyCmd(e *env) *cobra.Command {
	o := &batchOptions{lookup: os.LookupEnv, now: time.Now}
	cmd := &cobra.Command{
		Use:   "verify ID",
		Short: "Re-diff the rows a batch touched, between the system of record and the replica, as they are now",
		Long: `Re-read, from the live system of record and the replica, the rows whose
keys the batch touched, and diff them with the job's key, column map,
normalisers and tolerances: what still differs after an apply (a conflict
left alone, a row changed since) is reported. Rows the batch did not touch
are not read.

Exit codes: 0 the touched rows agree, 1 some still differ, 2 error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBatchVerify(cmd.Context(), e, o, args[0])
		},
	}
	o.flags(cmd)
	return cmd
}

func runBatchVerify(ctx context.Context, e *env, o *batchOptions, id string) error {
	dir, plan, err := o.dir(e, true)
	if err != nil {
		return err
	}
	b, err := batches.Open(dir, id)
	if err != nil {
		return err
	}
	m := b.Manifest
	if m.UndoOf != "" {
		return fmt.Errorf("batch %s undoes %s: verify the batch it undoes after applying it, or diff the tables", id, m.UndoOf)
	}
	job, ok := plan.Job(m.Job)
	if !ok {
		return fmt.Errorf("batch %s belongs to job %q, which %s does not declare", id, m.Job, plan.File())
	}
	var rep *config.Replica
	for i := range job.Replicas {
		if job.Replicas[i].System == m.Target.System && job.Replicas[i].Table == m.Target.Table {
			rep = &job.Replicas[i]
		}
	}
	if rep == nil {
		return fmt.Errorf("batch %s targets %s %s, which is not a replica of job %s in %s", id, m.Target.System, m.Target.Table, m.Job, plan.File())
	}
	sor := job.SystemOfRecord
	if sor.Table == "" {
		return fmt.Errorf("job %s reads its system of record through a query: verify needs a table to read keys from", m.Job)
	}
	srcSys, _ := plan.System(sor.System)
	tgtSys, _ := plan.System(rep.System)
	src, err := openSystem(ctx, e, srcSys)
	if err != nil {
		return err
	}
	defer src.Close()
	tgt, err := openSystem(ctx, e, tgtSys)
	if err != nil {
		return err
	}
	defer tgt.Close()
	res, err := batches.Verify(ctx, b, src, tgt, batches.VerifyOptions{
		SourceDialect: dialectOf(srcSys.Scheme()),
		SourceTable:   sor.Table,
		SourceWhere:   sor.Where,
		TargetWhere:   rep.Where,
		Diff: reconcile.Options{Key: job.Key, Columns: job.Columns, Ignore: job.Ignore, Map: rep.Map,
			ColumnRules: job.ColumnRules()},
	})
	if err != nil {
		return err
	}
	s := res.Summary
	fmt.Fprintf(e.stdout, "batch %s verified: of the rows it touched, %d agree and %d still differ (%d missing, %d extra, %d changed)\n",
		id, s.Matched, s.Differences(), s.Missing, s.Extra, s.Changed)
	if !res.Consistent() {
		return &exitCodeError{code: exitDifferences}
	}
	return nil
}

// checkBatchTarget makes sure a batch still goes where its job says: the
// job's config is the one the batch was made with, the target is one of
// its replicas, and the target system is at the location the batch
// names. A batch made under another config is refused rather than sent
// to wherever a system name now points.
func checkBatchTarget(plan *config.Plan, m batches.Manifest) (config.System, error) {
	job, ok := plan.Job(m.Job)
	if !ok {
		return config.System{}, fmt.Errorf("batch %s belongs to job %q, which %s does not declare", m.ID, m.Job, plan.File())
	}
	if m.ConfigHash != "" && job.ConfigHash() != m.ConfigHash {
		return config.System{}, fmt.Errorf("batch %s was made under another configuration of job %s (config %s, now %s): re-run the job for a batch of the current configuration", m.ID, m.Job, m.ConfigHash, job.ConfigHash())
	}
	replica := false
	for _, r := range job.Replicas {
		replica = replica || r.System == m.Target.System && r.Table == m.Target.Table
	}
	if !replica {
		return config.System{}, fmt.Errorf("batch %s targets %s %s, which is not a replica of job %s in %s", m.ID, m.Target.System, m.Target.Table, m.Job, plan.File())
	}
	sys, ok := plan.System(m.Target.System)
	if !ok {
		return config.System{}, fmt.Errorf("batch %s targets system %q, which %s does not declare", m.ID, m.Target.System, plan.File())
	}
	if m.Target.Location != "" && sys.Redacted() != m.Target.Location {
		return config.System{}, fmt.Errorf("batch %s was made for %s at %s, but the config now puts it at %s: re-run the job", m.ID, sys.Name, m.Target.Location, sys.Redacted())
	}
	return sys, nil
}
