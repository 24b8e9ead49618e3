package batches

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/reconhq/reconcile/connectors"
)

// ApplyOptions shape Batch.Apply.
type ApplyOptions struct {
	// Now is the time the expiry is checked against and recorded.
	Now time.Time
	// TxOps is the number of operations per transaction; 0 lets the
	// connector choose (1,000).
	TxOps int
	// DryRun runs the guards in transactions that are rolled back and
	// reports what would happen; nothing is journaled and the state stays.
	// A pending batch may be dry-run.
	DryRun bool
	// By names who applied, recorded in the outcome ("" for no one named).
	By string
}

// OpResult is the outcome of one operation.
type OpResult struct {
	Seq     int               `json:"seq"`
	Status  connectors.Status `json:"status"`
	Message string            `json:"message,omitempty"`
}

// Report is what an Apply did.
type Report struct {
	DryRun bool
	// Outcome counts the last outcome of every operation of the batch
	// (this apply and earlier ones); in a dry run, of this run only.
	Outcome Outcome
	// Ran counts the operations this apply sent; operations journaled as
	// applied or already applied by an earlier apply are not sent again.
	Ran int
	// Conflicts and Errors list the operations left alone, in order.
	Conflicts []OpResult
	Errors    []OpResult
	// Undo is the undo batch written by this apply (pending approval), nil
	// when nothing was applied or in a dry run.
	Undo *Batch
}

type lockInfo struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
}

// lockWriteGrace is how long an unreadable lock file counts as held: its
// writer creates it, then writes it.
const lockWriteGrace = 10 * time.Second

// lockHeld reports whether folder's apply lock is held by a live process.
// A lock of a process of this host that is gone, or an unreadable lock,
// is stale.
func lockHeld(folder string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(folder, LockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return true, err
	}
	var li lockInfo
	if json.Unmarshal(data, &li) != nil || li.PID <= 0 {
		// Empty or half-written: its writer may be writing it now.
		if fi, err := os.Stat(filepath.Join(folder, LockFile)); err == nil && time.Since(fi.ModTime()) < lockWriteGrace {
			return true, nil
		}
		return false, nil
	}
	host, _ := os.Hostname()
	if li.Host != host {
		return true, nil // cannot tell; another host's process may be alive
	}
	if err := syscall.Kill(li.PID, 0); errors.Is(err, syscall.ESRCH) {
		return false, nil
	}
	return true, nil
}

func (b *Batch) lock(now time.Time) (unlock func(), err error) {
	path := filepath.Join(b.Dir, LockFile)
	host, _ := os.Hostname()
	data, _ := json.Marshal(lockInfo{PID: os.Getpid(), Host: host, Started: now.UTC()})
	for try := 0; try < 2; try++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			held, herr := lockHeld(b.Dir)
			if held || herr != nil {
				return nil, fmt.Errorf("%w (%s): an apply or a decision on it may be running; if no process named in that file runs (check its host and pid), remove the file and try again", ErrLocked, path)
			}
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(path)
			return nil, err
		}
		return func() { _ = os.Remove(path) }, nil
	}
	return nil, fmt.Errorf("%w (%s)", ErrLocked, path)
}

// Journal reads journal.jsonl: the outcomes of the committed
// transactions of every apply so far, in the order they were written. A
// torn last line (a crash while appending) is ignored.
func (b *Batch) Journal() ([]OpResult, error) {
	data, err := os.ReadFile(filepath.Join(b.Dir, JournalFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", b.Manifest.ID, err)
	}
	return parseJournal(data)
}

func parseJournal(data []byte) ([]OpResult, error) {
	var out []OpResult
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		var r OpResult
		err := json.Unmarshal(line, &r)
		if err == nil && (r.Seq <= 0 || !validStatus(r.Status)) {
			err = errors.New("bad seq or status")
		}
		if err != nil {
			if !bytes.HasSuffix(data, []byte("\n")) && len(data) >= len(line) && bytes.Equal(data[len(data)-len(line):], line) {
				break // torn last line
			}
			return nil, fmt.Errorf("read journal: line %d: %w: %w", n, ErrCorrupt, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read journal: %w: %w", ErrCorrupt, err)
	}
	return out, nil
}

func validStatus(s connectors.Status) bool {
	switch s {
	case connectors.StatusApplied, connectors.StatusAlreadyApplied, connectors.StatusConflict, connectors.StatusError:
		return true
	}
	return false
}

func done(s connectors.Status) bool {
	return s == connectors.StatusApplied || s == connectors.StatusAlreadyApplied
}

// count tallies the last outcome of each of n operations.
func count(n int, last map[int]OpResult, o *Outcome, rep *Report) {
	*o = Outcome{Started: o.Started, Finished: o.Finished, Message: o.Message, By: o.By}
	for seq := 1; seq <= n; seq++ {
		r, ok := last[seq]
		if !ok {
			o.NotRun++
			continue
		}
		switch r.Status {
		case connectors.StatusApplied:
			o.Applied++
		case connectors.StatusAlreadyApplied:
			o.AlreadyApplied++
		case connectors.StatusConflict:
			o.Conflict++
			if rep != nil {
				rep.Conflicts = append(rep.Conflicts, r)
			}
		case connectors.StatusError:
			o.Error++
			if rep != nil {
				rep.Errors = append(rep.Errors, r)
			}
		}
	}
}

// markInterrupted moves a batch whose apply process is gone from
// applying to partial, with the counts of its journal.
func (b *Batch) markInterrupted() error {
	journal, err := b.Journal()
	if err != nil {
		return err
	}
	last := map[int]OpResult{}
	for _, r := range journal {
		last[r.Seq] = r
	}
	o := Outcome{}
	if b.Manifest.Outcome != nil {
		o.Started, o.By = b.Manifest.Outcome.Started, b.Manifest.Outcome.By
	}
	count(b.Manifest.Counts.Total(), last, &o, nil)
	o.Message = "the apply was interrupted (its process is gone); apply again to finish"
	b.Manifest.Outcome = &o
	b.Manifest.State = Partial
	_ = os.Remove(filepath.Join(b.Dir, LockFile))
	return b.save()
}

// Apply applies the batch to table Manifest.Target.Table through a.
//
// It refuses a batch that is not approved (ErrNotApproved), whose
// ops.jsonl no longer hashes to the approved sha256 (ErrTampered), that
// has expired (ErrExpired) or that another process is applying
// (ErrLocked). A partial, failed or applied batch may be applied again:
// operations the journal records as applied or already applied are not
// sent again, the rest are, and their guards make a repeated write
// impossible. After each committed transaction the outcomes are appended
// to journal.jsonl (synced); the manifest ends applied (every operation
// ran, conflicts included), partial (errors, or the apply stopped after
// some operations) or failed (it stopped before any). An apply that wrote
// anything writes an undo batch from the pre-images of what was applied.
func (b *Batch) Apply(ctx context.Context, a connectors.Applier, opts ApplyOptions) (*Report, error) {
	id := b.Manifest.ID
	if opts.Now.IsZero() {
		return nil, fmt.Errorf("apply batch %s: no time given", id)
	}
	if !opts.DryRun {
		unlock, err := b.lock(opts.Now)
		if err != nil {
			return nil, fmt.Errorf("apply batch %s: %w", id, err)
		}
		defer unlock()
		// Re-read the manifest under the lock: another process may have
		// applied it meanwhile.
		nb, err := Open(filepath.Dir(b.Dir), id)
		if err != nil {
			return nil, fmt.Errorf("apply batch %s: %w", id, err)
		}
		b.Manifest = nb.Manifest
		if b.Manifest.State == Applying { // ours is the live lock now
			b.Manifest.State = Partial
		}
	}
	if err := b.expire(opts.Now); err != nil {
		return nil, fmt.Errorf("apply batch %s: %w", id, err)
	}
	switch s := b.Manifest.State; {
	case s == Pending && opts.DryRun:
	case s == Approved, s == Partial, s == Failed, s == Applied:
	default:
		return nil, fmt.Errorf("apply batch %s: %w (state %s)", id, ErrNotApproved, s)
	}
	ops, err := b.Ops()
	if err != nil {
		return nil, fmt.Errorf("apply batch %s: %w", id, err)
	}
	if len(b.Manifest.Approvals) > 0 || !opts.DryRun {
		if len(b.Manifest.Approvals) == 0 {
			return nil, fmt.Errorf("apply batch %s: %w", id, ErrNotApproved)
		}
		if ap := b.Manifest.Approvals[len(b.Manifest.Approvals)-1]; ap.SHA256 != b.Manifest.SHA256 {
			return nil, fmt.Errorf("apply batch %s: %w", id, ErrTampered)
		} else if ap.Binding == "" || ap.Binding != b.Manifest.binding() {
			return nil, fmt.Errorf("apply batch %s: %w: its manifest (target, source, key, config or expiry) changed since %s approved it", id, ErrTampered, ap.By)
		}
	}
	if len(ops) != b.Manifest.Counts.Total() {
		return nil, fmt.Errorf("apply batch %s: %w: %d operations, the manifest counts %d", id, ErrCorrupt, len(ops), b.Manifest.Counts.Total())
	}

	last := map[int]OpResult{}
	if !opts.DryRun {
		journal, err := b.Journal()
		if err != nil {
			return nil, fmt.Errorf("apply batch %s: %w", id, err)
		}
		for _, r := range journal {
			if r.Seq > len(ops) {
				return nil, fmt.Errorf("apply batch %s: %w: journal names operation %d of %d", id, ErrCorrupt, r.Seq, len(ops))
			}
			last[r.Seq] = r
		}
	}
	var send []connectors.WriteOp
	var seqs []int
	for i := range ops {
		if r, ok := last[ops[i].Seq]; ok && done(r.Status) {
			continue
		}
		w, err := writeOp(&ops[i])
		if err != nil {
			last[ops[i].Seq] = OpResult{Seq: ops[i].Seq, Status: connectors.StatusError, Message: err.Error()}
			continue
		}
		send = append(send, w)
		seqs = append(seqs, ops[i].Seq)
	}

	rep := &Report{DryRun: opts.DryRun, Ran: len(send)}
	started := opts.Now.UTC()
	var jf *os.File
	if !opts.DryRun {
		prev := b.Manifest.Outcome
		b.Manifest.State = Applying
		b.Manifest.Outcome = &Outcome{Started: started, By: opts.By}
		if prev != nil && !prev.Started.IsZero() {
			b.Manifest.Outcome.Started = prev.Started
		}
		if err := b.save(); err != nil {
			return nil, fmt.Errorf("apply batch %s: %w", id, err)
		}
		jf, err = os.OpenFile(filepath.Join(b.Dir, JournalFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("apply batch %s: %w", id, err)
		}
		defer jf.Close()
	}
	var buf []byte
	wrote := 0 // operations this apply wrote
	committed := func(first int, outs []connectors.Outcome) error {
		buf = buf[:0]
		for i, o := range outs {
			r := OpResult{Seq: seqs[first+i], Status: o.Status, Message: o.Message}
			last[r.Seq] = r
			if o.Status == connectors.StatusApplied {
				wrote++
			}
			if jf != nil {
				line, _ := json.Marshal(r)
				buf = append(append(buf, line...), '\n')
			}
		}
		if jf == nil {
			return nil
		}
		if _, err := jf.Write(buf); err != nil {
			return fmt.Errorf("write journal: %w", err)
		}
		if err := jf.Sync(); err != nil {
			return fmt.Errorf("sync journal: %w", err)
		}
		return nil
	}
	var applyErr error
	if len(send) > 0 {
		_, applyErr = a.Apply(ctx, b.Manifest.Target.Table, send, connectors.ApplyOptions{
			TxOps: opts.TxOps, DryRun: opts.DryRun, Committed: committed,
		})
	}
	if opts.DryRun {
		count(len(ops), last, &rep.Outcome, rep)
		rep.Outcome.Started = started
		return rep, applyErr
	}

	o := b.Manifest.Outcome
	count(len(ops), last, o, rep)
	o.Finished = time.Now().UTC()
	switch {
	case applyErr != nil && o.Applied+o.AlreadyApplied == 0:
		b.Manifest.State = Failed
		o.Message = applyErr.Error()
	case applyErr != nil:
		b.Manifest.State = Partial
		o.Message = applyErr.Error()
	case o.Error > 0 || o.NotRun > 0:
		b.Manifest.State = Partial
		o.Message = ""
	default:
		b.Manifest.State = Applied
		o.Message = ""
	}
	rep.Outcome = *o
	// An undo batch when this apply wrote something: a re-apply that
	// found everything done writes none (one undo per apply that changed
	// rows). It covers every operation done so far, already applied ones
	// included: after a crash between a commit and its journal line, the
	// operations of that transaction come back as already applied.
	if applyErr == nil && wrote > 0 {
		undo, err := b.writeUndo(ops, last, opts.Now)
		if err != nil {
			applyErr = err
		} else if undo != nil {
			rep.Undo = undo
			b.Manifest.Undo = undo.Manifest.ID
		}
	}
	if err := b.save(); err != nil {
		return rep, fmt.Errorf("apply batch %s: %w", id, errors.Join(applyErr, err))
	}
	if applyErr != nil {
		return rep, fmt.Errorf("apply batch %s: %w", id, applyErr)
	}
	return rep, nil
}

// writeUndo writes the undo batch: for every operation applied (or found
// already applied), the operation that restores the pre-image, guarded
// by the post-image, in reverse order.
func (b *Batch) writeUndo(ops []Op, last map[int]OpResult, now time.Time) (*Batch, error) {
	var undo []Op
	for i := len(ops) - 1; i >= 0; i-- {
		op := &ops[i]
		if r, ok := last[op.Seq]; !ok || !done(r.Status) {
			continue
		}
		u := Op{Key: op.Key, Rule: fmt.Sprintf("undo of %s #%d", b.Manifest.ID, op.Seq)}
		switch op.Kind {
		case connectors.OpInsert:
			u.Kind, u.Expect = connectors.OpDelete, op.Set
		case connectors.OpDelete:
			if len(op.Expect) == 0 {
				continue // no pre-image to restore
			}
			u.Kind, u.Set = connectors.OpInsert, withKey(op.Key, op.Expect)
		case connectors.OpUpdate:
			pre := map[string]Cell{}
			for _, c := range op.Expect {
				pre[c.Column] = c
			}
			u.Kind, u.Expect = connectors.OpUpdate, op.Set
			for _, c := range op.Set {
				p, ok := pre[c.Column]
				if !ok {
					u.Set = nil
					break
				}
				u.Set = append(u.Set, p)
			}
			if u.Set == nil {
				continue // a changed column without a pre-image
			}
		}
		undo = append(undo, u)
	}
	if len(undo) == 0 {
		return nil, nil
	}
	m := &b.Manifest
	ub, err := Create(filepath.Dir(b.Dir), Spec{
		Job: m.Job, Dialect: m.Dialect, Target: m.Target, Source: m.Source, Key: m.Key,
		RunID: m.RunID, Snapshots: m.Snapshots, ConfigHash: m.ConfigHash,
		Now: now, Limits: Limits{NoSourceCheck: true}, UndoOf: m.ID,
	}, undo)
	if err != nil {
		return nil, fmt.Errorf("write undo batch: %w", err)
	}
	return ub, nil
}

// withKey returns row with the key columns it lacks put first.
func withKey(key, row []Cell) []Cell {
	have := map[string]bool{}
	for _, c := range row {
		have[c.Column] = true
	}
	var out []Cell
	for _, k := range key {
		if !have[k.Column] {
			out = append(out, k)
		}
	}
	return append(out, row...)
}
