package runs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/reconhq/reconcile/connectors"
)

// Outcome is how a run ended, or "running" while it has not.
type Outcome string

// The outcomes of a run.
const (
	Running     Outcome = "running"     // started, not finished (or abandoned: see MarkAbandoned)
	Consistent  Outcome = "consistent"  // every replica agrees (exit code 0)
	Differences Outcome = "differences" // differences found (exit code 1)
	Error       Outcome = "error"       // the run failed (exit code 2)
	Cancelled   Outcome = "cancelled"   // the run was cancelled (stop, reload); never a clean verdict
)

// Valid reports whether o is one of the outcomes above.
func (o Outcome) Valid() bool {
	switch o {
	case Running, Consistent, Differences, Error, Cancelled:
		return true
	}
	return false
}

// ErrNotFound is returned by Get for a run that is not stored.
var ErrNotFound = errors.New("run not found")

// AbandonedMessage is the error message MarkAbandoned gives the runs it
// closes.
const AbandonedMessage = "abandoned: the process running it stopped before it finished"

// Run is one run of a job: what the run history keeps.
type Run struct {
	ID       string    `json:"id"`
	Job      string    `json:"job"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"` // zero while running, and for abandoned runs
	Outcome  Outcome   `json:"outcome"`
	// Error is the run's error message (empty unless the outcome is error
	// or cancelled). Stores pass it through connectors.Redact piecewise,
	// so a URL's password never reaches the history.
	Error    string    `json:"error,omitempty"`
	Replicas []Replica `json:"replicas,omitempty"`
}

// Replica is what one replica's diff found and produced.
type Replica struct {
	System     string `json:"system"`
	Table      string `json:"table,omitempty"`
	SourceRows int64  `json:"source_rows"`
	TargetRows int64  `json:"target_rows"`
	Counts     Counts `json:"counts"`
	// Columns holds the columns that drift most: changed rows per column.
	Columns    map[string]int64 `json:"columns,omitempty"`
	Report     string           `json:"report,omitempty"`      // the JSON report's path
	Batch      string           `json:"batch,omitempty"`       // the fix-up batch id, if one was written
	BatchState string           `json:"batch_state,omitempty"` // the batch's state when the run was recorded
	Error      string           `json:"error,omitempty"`       // this replica's error, redacted like Run.Error
}

// Counts are the rows of a replica per kind of difference.
type Counts struct {
	Missing   int64 `json:"missing"`
	Extra     int64 `json:"extra"`
	Changed   int64 `json:"changed"`
	Duplicate int64 `json:"duplicate"`
	NullKey   int64 `json:"null_key"`
	InFlight  int64 `json:"in_flight"`
}

// ListOptions selects runs for List.
type ListOptions struct {
	Job    string    // "" for every job
	Limit  int       // <= 0 for no limit
	Before time.Time // only runs started strictly before it (paging); zero for no bound
}

// Validate returns every problem of r, joined; running says whether r is
// being started (outcome running) or finished (any other outcome).
func (r Run) validate(running bool) error {
	var problems []error
	if r.Job == "" {
		problems = append(problems, errors.New("job is empty"))
	}
	if r.ID == "" {
		problems = append(problems, errors.New("id is empty"))
	}
	if r.Started.IsZero() {
		problems = append(problems, errors.New("started is not set"))
	}
	switch {
	case !r.Outcome.Valid():
		problems = append(problems, fmt.Errorf("outcome %q is not one of running, consistent, differences, error, cancelled", r.Outcome))
	case running && r.Outcome != Running:
		problems = append(problems, fmt.Errorf("outcome %q: a started run is running", r.Outcome))
	case !running && r.Outcome == Running:
		problems = append(problems, errors.New("outcome running: a finished run needs its outcome"))
	}
	if !r.Finished.IsZero() && r.Finished.Before(r.Started) {
		problems = append(problems, errors.New("finished before it started"))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid run %q of job %q: %w", r.ID, r.Job, errors.Join(problems...))
	}
	return nil
}

// clean returns r ready to store: times in UTC, messages redacted.
func (r Run) clean() Run {
	r.Started = r.Started.UTC()
	if !r.Finished.IsZero() {
		r.Finished = r.Finished.UTC()
	}
	r.Error = redactText(r.Error)
	if r.Replicas != nil {
		reps := make([]Replica, len(r.Replicas))
		copy(reps, r.Replicas)
		for i := range reps {
			reps[i].Error = redactText(reps[i].Error)
		}
		r.Replicas = reps
	}
	return r
}

var urlToken = regexp.MustCompile(`\S*://\S*`)

// redactText hides the passwords in a free-text message: each URL-like
// word goes through connectors.Redact on its own, and so does the text
// between them (which catches password=... settings).
func redactText(s string) string {
	if s == "" {
		return s
	}
	var sb strings.Builder
	last := 0
	for _, m := range urlToken.FindAllStringIndex(s, -1) {
		sb.WriteString(connectors.Redact(s[last:m[0]]))
		sb.WriteString(connectors.Redact(s[m[0]:m[1]]))
		last = m[1]
	}
	sb.WriteString(connectors.Redact(s[last:]))
	return sb.String()
}

// decodeRun reads one stored run strictly: unknown fields, trailing data
// and invalid runs are errors.
func decodeRun(data []byte) (Run, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Run
	if err := dec.Decode(&r); err != nil {
		return Run{}, fmt.Errorf("decode run: %w", err)
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return Run{}, errors.New("decode run: trailing data after the run")
	}
	if err := r.validate(r.Outcome == Running); err != nil {
		return Run{}, fmt.Errorf("decode run: %w", err)
	}
	return r, nil
}

// newer reports whether a sorts before b in List order: newest first, then
// by job and id descending so the order is total.
func newer(a, b Run) bool {
	if !a.Started.Equal(b.Started) {
		return a.Started.After(b.Started)
	}
	if a.Job != b.Job {
		return a.Job > b.Job
	}
	return a.ID > b.ID
}
