package batches

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/atomicfile"
)

// Sentinel errors name the kind of a refusal; test them with errors.Is.
var (
	ErrNotPending  = errors.New("batch is not pending")
	ErrNotApproved = errors.New("batch is not approved")
	ErrTampered    = errors.New("operations no longer match the approved sha256")
	ErrExpired     = errors.New("batch has expired")
	ErrLocked      = errors.New("batch is being applied or decided by another process")
	ErrCorrupt     = errors.New("batch file is corrupt")
	ErrLimit       = errors.New("batch exceeds a safety limit")
	ErrUnwritable  = errors.New("value cannot be written to a target")
	ErrNotFound    = errors.New("batch not found")
)

// FormatVersion is the manifest format this package writes and reads.
const FormatVersion = 1

// DefaultTTL is how long a batch may wait for approval and apply.
const DefaultTTL = 24 * time.Hour

// State is where a batch is in its lifecycle.
type State string

// The states: pending → approved → applying → applied | partial | failed,
// or pending → rejected | expired. A partial batch may be applied again.
const (
	Pending  State = "pending"
	Approved State = "approved"
	Applying State = "applying"
	Applied  State = "applied"
	Partial  State = "partial"
	Failed   State = "failed"
	Rejected State = "rejected"
	Expired  State = "expired"
)

// Files of a batch folder.
const (
	OpsFile      = "ops.jsonl"
	SQLFile      = "batch.sql"
	ManifestFile = "manifest.json"
	JournalFile  = "journal.jsonl"
	LockFile     = "apply.lock"
)

// Location names one side of the batch: a system from the config, a
// table, and the location with passwords redacted.
type Location struct {
	System   string `json:"system"`
	Table    string `json:"table"`
	Location string `json:"location,omitempty"`
}

// Counts are the number of operations per kind.
type Counts struct {
	Insert int `json:"insert"`
	Update int `json:"update"`
	Delete int `json:"delete"`
}

// Total is the number of operations.
func (c Counts) Total() int { return c.Insert + c.Update + c.Delete }

// Approval binds a person's approval to the content it approved.
type Approval struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	SHA256 string    `json:"sha256"`
	// Binding is the SHA-256 of what else the approval is for: the
	// batch's id, job, dialect, target, source, key, config hash and
	// expiry (see binding). Apply refuses a batch whose manifest no
	// longer matches it, so an approved batch cannot be pointed at
	// another table by editing its manifest.
	Binding string `json:"binding,omitempty"`
}

// binding digests the parts of the manifest an approval covers besides
// the operations.
func (m *Manifest) binding() string {
	raw, _ := json.Marshal(struct {
		ID, Job, Dialect string
		Target, Source   Location
		Key              []string
		ConfigHash       string
		Expires          time.Time
		UndoOf           string
	}{m.ID, m.Job, m.Dialect, m.Target, m.Source, m.Key, m.ConfigHash, m.Expires.UTC(), m.UndoOf})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// Decision records a rejection.
type Decision struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Outcome counts what applying did, per status, over the whole batch
// (the last outcome of each operation).
type Outcome struct {
	Applied        int       `json:"applied"`
	AlreadyApplied int       `json:"already_applied"`
	Conflict       int       `json:"conflict"`
	Error          int       `json:"error"`
	NotRun         int       `json:"not_run"`
	Started        time.Time `json:"started"`
	Finished       time.Time `json:"finished,omitzero"`
	Message        string    `json:"message,omitempty"`
	// By names who ran the last apply, when they were named.
	By string `json:"by,omitempty"`
}

// Manifest describes a batch; manifest.json holds it.
type Manifest struct {
	Format     int       `json:"format"`
	ID         string    `json:"id"`
	Job        string    `json:"job"`
	Dialect    string    `json:"dialect"` // "postgres" or "mysql": the dialect of batch.sql
	Target     Location  `json:"target"`
	Source     Location  `json:"source"`
	Key        []string  `json:"key"`
	RunID      string    `json:"run_id,omitempty"`
	Snapshots  []string  `json:"snapshots,omitempty"`
	ConfigHash string    `json:"config_hash,omitempty"`
	Counts     Counts    `json:"counts"`
	SHA256     string    `json:"sha256"` // of ops.jsonl
	State      State     `json:"state"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	// DeletesWithheld says why the deletes the diff asked for were left
	// out of the batch (a system of record that returned no rows or
	// shrank), with how many there were.
	DeletesWithheld string     `json:"deletes_withheld,omitempty"`
	Approvals       []Approval `json:"approvals,omitempty"`
	Rejection       *Decision  `json:"rejection,omitempty"`
	Outcome         *Outcome   `json:"outcome,omitempty"`
	UndoOf          string     `json:"undo_of,omitempty"`
	Undo            string     `json:"undo,omitempty"` // the id of the undo batch written by apply
}

// StateAt is the batch's state as of now: a pending or approved batch past
// its expiry is expired even before an apply or a decision records it.
func (m *Manifest) StateAt(now time.Time) State {
	if (m.State == Pending || m.State == Approved) && !m.Expires.IsZero() && !now.Before(m.Expires) {
		return Expired
	}
	return m.State
}

// Batch is an open batch folder.
type Batch struct {
	Dir      string // the batch's folder
	Manifest Manifest
}

// Spec is what Create needs besides the operations.
type Spec struct {
	Job        string
	Dialect    string
	Target     Location // Location is redacted by Create
	Source     Location // Location is redacted by Create
	Key        []string
	RunID      string
	Snapshots  []string
	ConfigHash string
	Now        time.Time     // creation time; the ID's time, in UTC
	TTL        time.Duration // 0 means DefaultTTL
	Limits     Limits
	UndoOf     string
}

// Limits are the safety limits checked at creation.
type Limits struct {
	// MaxChanges refuses a batch of more operations; 0 means no limit.
	MaxChanges int
	// MaxFraction refuses a batch of more operations than this fraction
	// of TargetRows; 0 means no limit.
	MaxFraction float64
	// TargetRows is the number of rows of the target table the diff read.
	TargetRows int64
	// SourceRows is the number of rows the system of record returned in
	// this run; PreviousSourceRows in its previous run (-1 or 0: unknown).
	SourceRows         int64
	PreviousSourceRows int64
	// MaxShrink is the fraction the system of record may shrink by since
	// its previous run before deletes are withheld; 0 means 0.5.
	MaxShrink float64
	// NoSourceCheck turns the zero-row and shrink checks off (an undo
	// batch, whose deletes remove rows the apply inserted).
	NoSourceCheck bool
}

func (s *Spec) validate() error {
	var errs []error
	if s.Job == "" {
		errs = append(errs, errors.New("no job"))
	}
	if s.Target.System == "" || s.Target.Table == "" {
		errs = append(errs, errors.New("no target system or table"))
	}
	if s.Dialect != "postgres" && s.Dialect != "mysql" {
		errs = append(errs, fmt.Errorf("dialect %q: want postgres or mysql", s.Dialect))
	}
	if len(s.Key) == 0 {
		errs = append(errs, errors.New("no key columns"))
	}
	if s.Now.IsZero() {
		errs = append(errs, errors.New("no creation time"))
	}
	if s.TTL < 0 {
		errs = append(errs, errors.New("negative ttl"))
	}
	l := s.Limits
	if l.MaxChanges < 0 || l.MaxFraction < 0 || math.IsNaN(l.MaxFraction) || l.MaxShrink < 0 || l.MaxShrink > 1 || math.IsNaN(l.MaxShrink) {
		errs = append(errs, errors.New("limits: negative or out of range"))
	}
	return errors.Join(errs...)
}

// withheld reports why deletes must not be produced, or "".
func (l Limits) withheld() string {
	if l.NoSourceCheck {
		return ""
	}
	if l.SourceRows <= 0 {
		return "the system of record returned no rows"
	}
	shrink := l.MaxShrink
	if shrink == 0 {
		shrink = 0.5
	}
	if l.PreviousSourceRows > 0 && float64(l.SourceRows) < float64(l.PreviousSourceRows)*(1-shrink) {
		return fmt.Sprintf("the system of record shrank from %d to %d rows since its previous run (more than %g%%)",
			l.PreviousSourceRows, l.SourceRows, shrink*100)
	}
	return ""
}

// Create writes a new batch folder under dir: ops.jsonl, batch.sql, and
// manifest.json last, each written to a temporary file, synced and
// renamed. It numbers the operations (Seq) in order. It withholds every
// delete when the system of record returned no rows or shrank by more
// than Limits.MaxShrink, saying why in the manifest, and refuses
// (ErrLimit) a batch over MaxChanges or MaxFraction. A batch of no
// operations is written too: it records that nothing needed fixing.
func Create(dir string, spec Spec, ops []Op) (*Batch, error) {
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("create batch: %w", err)
	}
	var counts Counts
	withheld := spec.Limits.withheld()
	kept := ops[:0:0]
	nDeletes := 0
	for i := range ops {
		if ops[i].Kind == connectors.OpDelete && withheld != "" {
			nDeletes++
			continue
		}
		kept = append(kept, ops[i])
	}
	var errs []error
	for i := range kept {
		kept[i].Seq = i + 1
		if err := kept[i].validate(); err != nil {
			errs = append(errs, fmt.Errorf("operation %d: %w", i+1, err))
		}
		switch kept[i].Kind {
		case connectors.OpInsert:
			counts.Insert++
		case connectors.OpUpdate:
			counts.Update++
		case connectors.OpDelete:
			counts.Delete++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("create batch: %w", err)
	}
	l := spec.Limits
	if l.MaxChanges > 0 && len(kept) > l.MaxChanges {
		return nil, fmt.Errorf("create batch: %w: %d changes, max_changes is %d", ErrLimit, len(kept), l.MaxChanges)
	}
	if l.MaxFraction > 0 && float64(len(kept)) > l.MaxFraction*float64(max(l.TargetRows, 0)) {
		return nil, fmt.Errorf("create batch: %w: %d changes of %d target rows, max_fraction is %g", ErrLimit, len(kept), l.TargetRows, l.MaxFraction)
	}
	if nDeletes > 0 {
		withheld = fmt.Sprintf("%d deletes withheld: %s", nDeletes, withheld)
	} else {
		withheld = ""
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create batch: %w", err)
	}
	id, folder, err := makeFolder(dir, spec)
	if err != nil {
		return nil, fmt.Errorf("create batch: %w", err)
	}
	ttl := spec.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	m := Manifest{
		Format:          FormatVersion,
		ID:              id,
		Job:             spec.Job,
		Dialect:         spec.Dialect,
		Target:          redacted(spec.Target),
		Source:          redacted(spec.Source),
		Key:             spec.Key,
		RunID:           spec.RunID,
		Snapshots:       spec.Snapshots,
		ConfigHash:      spec.ConfigHash,
		Counts:          counts,
		State:           Pending,
		Created:         spec.Now.UTC(),
		Expires:         spec.Now.UTC().Add(ttl),
		DeletesWithheld: withheld,
		UndoOf:          spec.UndoOf,
	}
	fail := func(err error) (*Batch, error) {
		_ = os.RemoveAll(folder)
		return nil, fmt.Errorf("create batch %s: %w", id, err)
	}
	sum, err := writeOpsFile(filepath.Join(folder, OpsFile), kept)
	if err != nil {
		return fail(err)
	}
	m.SHA256 = sum
	if err := atomicfile.Write(filepath.Join(folder, SQLFile), func(w io.Writer) error {
		return writeSQL(w, &m, kept)
	}); err != nil {
		return fail(err)
	}
	b := &Batch{Dir: folder, Manifest: m}
	if err := b.save(); err != nil {
		return fail(err)
	}
	return b, nil
}

func redacted(l Location) Location {
	if l.Location != "" {
		l.Location = connectors.Redact(l.Location)
	}
	return l
}

// makeFolder creates the batch's folder under a new id: the creation
// time, the job and the target system, with -2, -3, ... on collision.
func makeFolder(dir string, spec Spec) (string, string, error) {
	base := spec.Now.UTC().Format("2006-01-02T1504") + "-" + idPart(spec.Job) + "-" + idPart(spec.Target.System)
	if spec.UndoOf != "" {
		base += "-undo"
	}
	for n := 1; n < 10000; n++ {
		id := base
		if n > 1 {
			id += "-" + strconv.Itoa(n)
		}
		folder := filepath.Join(dir, id)
		err := os.Mkdir(folder, 0o755)
		if err == nil {
			return id, folder, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", "", err
		}
	}
	return "", "", fmt.Errorf("no free batch id for %s", base)
}

// idPart keeps letters, digits, '_' and '.' of a name, other bytes as '_'.
func idPart(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		b = append([]byte{'_'}, b...)
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// ValidID reports whether id can name a batch folder: letters, digits,
// '_', '.', '-', not starting with '.', at most 200 bytes.
func ValidID(id string) bool {
	if id == "" || len(id) > 200 || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func writeOpsFile(path string, ops []Op) (string, error) {
	h := sha256.New()
	err := atomicfile.Write(path, func(w io.Writer) error {
		mw := io.MultiWriter(w, h)
		buf := make([]byte, 0, 1<<16)
		for i := range ops {
			var err error
			if buf, err = appendOp(buf, &ops[i]); err != nil {
				return fmt.Errorf("operation %d: %w", ops[i].Seq, err)
			}
			if len(buf) > 1<<15 {
				if _, err := mw.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		_, err := mw.Write(buf)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func (b *Batch) save() error {
	data, err := json.MarshalIndent(&b.Manifest, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(b.Dir, ManifestFile), func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

// ParseManifest reads manifest.json and checks it.
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("read manifest: %w: %w", ErrCorrupt, err)
	}
	if dec.More() {
		return m, fmt.Errorf("read manifest: %w: trailing data", ErrCorrupt)
	}
	var errs []error
	if m.Format != FormatVersion {
		errs = append(errs, fmt.Errorf("format %d: want %d", m.Format, FormatVersion))
	}
	if !ValidID(m.ID) {
		errs = append(errs, fmt.Errorf("bad id %q", m.ID))
	}
	if len(m.SHA256) != 64 {
		errs = append(errs, errors.New("bad sha256"))
	} else if _, err := hex.DecodeString(m.SHA256); err != nil {
		errs = append(errs, errors.New("bad sha256"))
	}
	switch m.State {
	case Pending, Approved, Applying, Applied, Partial, Failed, Rejected, Expired:
	default:
		errs = append(errs, fmt.Errorf("unknown state %q", m.State))
	}
	if m.Dialect != "postgres" && m.Dialect != "mysql" {
		errs = append(errs, fmt.Errorf("unknown dialect %q", m.Dialect))
	}
	if m.Counts.Insert < 0 || m.Counts.Update < 0 || m.Counts.Delete < 0 {
		errs = append(errs, errors.New("negative counts"))
	}
	if len(m.Key) == 0 {
		errs = append(errs, errors.New("no key columns"))
	}
	if m.State != Pending && m.State != Rejected && m.State != Expired && len(m.Approvals) == 0 {
		errs = append(errs, fmt.Errorf("state %s without an approval", m.State))
	}
	if err := errors.Join(errs...); err != nil {
		return m, fmt.Errorf("read manifest: %w: %w", ErrCorrupt, err)
	}
	return m, nil
}

// Open opens the batch id under dir. A batch left in state applying by a
// process that is gone (a stale lock, or none) is marked partial.
func Open(dir, id string) (*Batch, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("open batch %q: %w", id, ErrNotFound)
	}
	folder := filepath.Join(dir, id)
	data, err := os.ReadFile(filepath.Join(folder, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open batch %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open batch %s: %w", id, err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("open batch %s: %w", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("open batch %s: %w: manifest names %q", id, ErrCorrupt, m.ID)
	}
	b := &Batch{Dir: folder, Manifest: m}
	if m.State == Applying {
		if held, _ := lockHeld(folder); !held {
			if err := b.markInterrupted(); err != nil {
				return nil, fmt.Errorf("open batch %s: %w", id, err)
			}
		}
	}
	return b, nil
}

// List returns the batches under dir, newest first. Folders that are not
// batches (no manifest) are skipped; a corrupt manifest is an error.
func List(dir string) ([]*Batch, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	var out []*Batch
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !ValidID(e.Name()) {
			continue
		}
		b, err := Open(dir, e.Name())
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Manifest.Created.Equal(out[j].Manifest.Created) {
			return out[i].Manifest.Created.After(out[j].Manifest.Created)
		}
		return out[i].Manifest.ID > out[j].Manifest.ID
	})
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("list batches: %w", err)
	}
	return out, nil
}

// opsSHA256 hashes ops.jsonl as it is now.
func (b *Batch) opsSHA256() (string, error) {
	f, err := os.Open(filepath.Join(b.Dir, OpsFile))
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// expire moves a pending or approved batch past its expiry to expired.
func (b *Batch) expire(now time.Time) error {
	if (b.Manifest.State == Pending || b.Manifest.State == Approved) && !now.Before(b.Manifest.Expires) {
		b.Manifest.State = Expired
		if err := b.save(); err != nil {
			return err
		}
	}
	if b.Manifest.State == Expired {
		return fmt.Errorf("%w at %s", ErrExpired, b.Manifest.Expires.Format(time.RFC3339))
	}
	// A batch that was partly applied is not resumed after its expiry
	// either: its inserts expect only "no row", which a stale batch
	// cannot tell from a row the source has deleted since.
	switch s := b.Manifest.State; {
	case (s == Partial || s == Failed || s == Applied || s == Applying) && !now.Before(b.Manifest.Expires):
		return fmt.Errorf("%w at %s (state %s): re-run the job for a batch of the data as it is now", ErrExpired, b.Manifest.Expires.Format(time.RFC3339), s)
	}
	return nil
}

// Approve records by's approval, bound to the sha256 of ops.jsonl as it
// is now, which must still be the one written at creation. Only a
// pending, unexpired batch can be approved.
func (b *Batch) Approve(by string, now time.Time) error {
	if strings.TrimSpace(by) == "" {
		return fmt.Errorf("approve batch %s: no approver", b.Manifest.ID)
	}
	return b.decide("approve", now, func() error { return b.approve(by, now) })
}

// decide runs a decision under the batch's lock on the manifest as it is
// on disk, so that two decisions (or a decision and an apply, in this
// process or another) never overwrite each other: the later one sees the
// earlier's outcome, or ErrLocked while an apply runs.
func (b *Batch) decide(verb string, now time.Time, fn func() error) error {
	unlock, err := b.lock(now)
	if err != nil {
		return fmt.Errorf("%s batch %s: %w", verb, b.Manifest.ID, err)
	}
	defer unlock()
	nb, err := Open(filepath.Dir(b.Dir), b.Manifest.ID)
	if err != nil {
		return fmt.Errorf("%s batch %s: %w", verb, b.Manifest.ID, err)
	}
	b.Manifest = nb.Manifest
	return fn()
}

func (b *Batch) approve(by string, now time.Time) error {
	if err := b.expire(now); err != nil {
		return fmt.Errorf("approve batch %s: %w", b.Manifest.ID, err)
	}
	if b.Manifest.State != Pending {
		return fmt.Errorf("approve batch %s: %w (state %s)", b.Manifest.ID, ErrNotPending, b.Manifest.State)
	}
	sum, err := b.opsSHA256()
	if err != nil {
		return fmt.Errorf("approve batch %s: %w", b.Manifest.ID, err)
	}
	if sum != b.Manifest.SHA256 {
		return fmt.Errorf("approve batch %s: %w: ops.jsonl changed since the batch was written", b.Manifest.ID, ErrTampered)
	}
	b.Manifest.Approvals = append(b.Manifest.Approvals, Approval{By: by, At: now.UTC(), SHA256: sum, Binding: b.Manifest.binding()})
	b.Manifest.State = Approved
	if err := b.save(); err != nil {
		return fmt.Errorf("approve batch %s: %w", b.Manifest.ID, err)
	}
	return nil
}

// Reject records by's rejection of a pending or approved batch.
func (b *Batch) Reject(by, reason string, now time.Time) error {
	if strings.TrimSpace(by) == "" {
		return fmt.Errorf("reject batch %s: no name", b.Manifest.ID)
	}
	return b.decide("reject", now, func() error { return b.reject(by, reason, now) })
}

func (b *Batch) reject(by, reason string, now time.Time) error {
	if s := b.Manifest.State; s != Pending && s != Approved {
		return fmt.Errorf("reject batch %s: %w (state %s)", b.Manifest.ID, ErrNotPending, s)
	}
	b.Manifest.State = Rejected
	b.Manifest.Rejection = &Decision{By: by, At: now.UTC(), Reason: reason}
	if err := b.save(); err != nil {
		return fmt.Errorf("reject batch %s: %w", b.Manifest.ID, err)
	}
	return nil
}

// Ops reads the batch's operations, checking them against the sha256 in
// the manifest.
func (b *Batch) Ops() ([]Op, error) {
	data, err := os.ReadFile(filepath.Join(b.Dir, OpsFile))
	if err != nil {
		return nil, fmt.Errorf("read batch %s: %w", b.Manifest.ID, err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != b.Manifest.SHA256 {
		return nil, fmt.Errorf("read batch %s: %w: ops.jsonl does not match the manifest", b.Manifest.ID, ErrTampered)
	}
	ops, err := ReadOps(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read batch %s: %w", b.Manifest.ID, err)
	}
	return ops, nil
}

// Summary is what `batch show` prints.
type Summary struct {
	Manifest Manifest
	// Rules counts the operations per rule and kind, rule names sorted.
	Rules []RuleCount
	// Ops is the page of operations asked for; Total is how many there are.
	Ops   []Op
	Total int
}

// RuleCount is the number of operations of one kind one rule made.
type RuleCount struct {
	Rule  string
	Kind  connectors.OpKind
	Count int
}

// Summary reads the batch for display: the manifest, the rules behind
// the operations, and n operations from offset (0-based).
func (b *Batch) Summary(offset, n int) (*Summary, error) {
	ops, err := b.Ops()
	if err != nil {
		return nil, err
	}
	type rk struct {
		rule string
		kind connectors.OpKind
	}
	counts := map[rk]int{}
	for i := range ops {
		counts[rk{ops[i].Rule, ops[i].Kind}]++
	}
	s := &Summary{Manifest: b.Manifest, Total: len(ops)}
	for k, c := range counts {
		s.Rules = append(s.Rules, RuleCount{Rule: k.rule, Kind: k.kind, Count: c})
	}
	sort.Slice(s.Rules, func(i, j int) bool {
		if s.Rules[i].Rule != s.Rules[j].Rule {
			return s.Rules[i].Rule < s.Rules[j].Rule
		}
		return s.Rules[i].Kind < s.Rules[j].Kind
	})
	offset = min(max(offset, 0), len(ops))
	end := min(offset+max(n, 0), len(ops))
	s.Ops = ops[offset:end]
	return s, nil
}
