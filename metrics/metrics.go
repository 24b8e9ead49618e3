package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
)

// The outcomes of a run, the values of the outcome label of
// reconcile_last_run_timestamp_seconds.
const (
	Consistent  = "consistent"  // every replica agrees (exit code 0)
	Differences = "differences" // the run completed and found differences (exit code 1)
	Error       = "error"       // the run failed (exit code 2)
	Cancelled   = "cancelled"   // the run was cut short (SIGTERM, timeout)
)

// Outcomes lists the run outcomes.
var Outcomes = []string{Consistent, Differences, Error, Cancelled}

// Kinds lists the values of the kind label: the difference kinds of
// package reconcile plus in_flight.
func Kinds() []string {
	ks := make([]string, 0, len(reconcile.Kinds)+1)
	for _, k := range reconcile.Kinds {
		ks = append(ks, k.String())
	}
	return append(ks, reconcile.InFlight.String())
}

// States lists the values of the state label: the batch states of
// package batches.
var States = []string{
	string(batches.Pending), string(batches.Approved), string(batches.Applying), string(batches.Applied),
	string(batches.Partial), string(batches.Failed), string(batches.Rejected), string(batches.Expired),
}

// FixOutcomes lists the values of the outcome label of
// reconcile_fix_operations_total: the statuses of an applied operation.
var FixOutcomes = []string{
	string(connectors.StatusApplied), string(connectors.StatusAlreadyApplied),
	string(connectors.StatusConflict), string(connectors.StatusError),
}

// maxLabelLen bounds a job, system or column label value.
const maxLabelLen = 256

// RunResult is what one run of a job did, as the metrics see it.
type RunResult struct {
	Job string
	// SystemOfRecord names the system of record; its row count is
	// SourceRows of the first completed replica. Empty: not reported.
	SystemOfRecord    string
	Outcome           string // one of Outcomes
	Started, Finished time.Time
	Replicas          []ReplicaResult
}

// ReplicaResult is what one replica's diff found.
type ReplicaResult struct {
	System                 string
	SourceRows, TargetRows int64
	// Counts maps a kind (Kinds) to its number of keys; kinds left out
	// are 0. CountsByKind converts a reconcile.Counts.
	Counts map[string]int64
	// Columns maps a column name to the number of changed rows in
	// which it differs; columns left out (or 0) do not differ.
	Columns map[string]int64
	// Failed says the replica's diff did not complete: its counts mean
	// nothing and its series keep the values of the last complete run.
	Failed bool
}

// CountsByKind returns the counts of c per kind name, in_flight
// included, for ReplicaResult.Counts.
func CountsByKind(c reconcile.Counts) map[string]int64 {
	m := make(map[string]int64, len(reconcile.Kinds)+1)
	for _, k := range append(slices.Clone(reconcile.Kinds), reconcile.InFlight) {
		m[k.String()] = c.Of(k)
	}
	return m
}

// Metrics holds reconcile's metrics in a registry of its own.
// Its methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	runtime *prometheus.Registry // Go and process collectors, for Handler only

	rows, differences, columnDifferences *prometheus.GaugeVec
	runDuration, lastRun, lastSuccess    *prometheus.GaugeVec
	batches                              *prometheus.GaugeVec
	fixOperations                        *prometheus.CounterVec

	kinds []string

	mu sync.Mutex
	// drift records, per job, the systems that have drift series
	// (rows, differences, column differences).
	drift map[string]map[string]bool
	// success holds each job's last success time, which only moves on.
	success map[string]time.Time
}

// New returns the metrics, registered on a new registry.
func New() *Metrics {
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		runtime: prometheus.NewRegistry(),
		kinds:   Kinds(),
		drift:   map[string]map[string]bool{},
		success: map[string]time.Time{},
		rows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reconcile_rows",
			Help: "Rows read from a system by the last complete diff of a job.",
		}, []string{"job", "system"}),
		differences: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reconcile_differences",
			Help: "Keys per difference kind found in a replica by the last complete diff of a job (in_flight keys are not differences).",
		}, []string{"job", "system", "kind"}),
		columnDifferences: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reconcile_column_differences",
			Help: "Changed rows in which a column differs, per replica, in the last complete diff of a job; columns that do not differ have no series.",
		}, []string{"job", "system", "column"}),
		runDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reconcile_run_duration_seconds",
			Help: "Wall-clock duration of the last run of a job, whatever its outcome.",
		}, []string{"job"}),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reconcile_last_run_timestamp_seconds",
			Help: "Unix time at which the last run of a job finished; outcome is that run's outcome (consistent, differences, error, cancelled).",
		}, []string{"job", "outcome"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reconcile_last_success_timestamp_seconds",
			Help: "Unix time at which the last run of a job that completed (consistent or differences) finished.",
		}, []string{"job"}),
		batches: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reconcile_batches",
			Help: "Fix-up batches of a job per state.",
		}, []string{"job", "state"}),
		fixOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reconcile_fix_operations_total",
			Help: "Fix-up operations applied to a system, per outcome (applied, already_applied, conflict, error).",
		}, []string{"job", "system", "outcome"}),
	}
	m.reg.MustRegister(m.rows, m.differences, m.columnDifferences, m.runDuration,
		m.lastRun, m.lastSuccess, m.batches, m.fixOperations)
	m.runtime.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry holding reconcile's metrics (not the
// Go runtime and process metrics), for callers that add their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves reconcile's metrics plus the Go runtime and process
// metrics in the Prometheus exposition formats, for /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{m.reg, m.runtime}, promhttp.HandlerOpts{
		ErrorHandling: promhttp.HTTPErrorOnError,
	})
}

// ObserveRun records a finished run of a job. A completed run
// (consistent or differences) replaces all the job's drift series
// (rows, differences, column differences): a replica gone from the
// config or a column that no longer differs leaves no series behind.
// A run that failed or was cancelled replaces only the series of the
// replicas it completed and keeps the others, so it never turns into a
// clean verdict. Invalid input changes nothing and returns every
// problem.
func (m *Metrics) ObserveRun(r RunResult) error {
	if err := m.validateRun(r); err != nil {
		return fmt.Errorf("observe run: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	completed := r.Outcome == Consistent || r.Outcome == Differences
	keep := map[string]bool{} // systems whose series stay as they are
	if !completed {
		for sys := range m.drift[r.Job] {
			keep[sys] = true
		}
	}
	for _, rep := range r.Replicas {
		keep[rep.System] = rep.Failed
	}
	sorRows := int64(-1)
	for _, rep := range r.Replicas {
		if !rep.Failed && sorRows < 0 {
			sorRows = rep.SourceRows
		}
	}
	if r.SystemOfRecord != "" {
		// The system of record is refreshed when a replica completed.
		keep[r.SystemOfRecord] = sorRows < 0 && (keep[r.SystemOfRecord] || !completed)
	}
	systems := map[string]bool{}
	for sys := range m.drift[r.Job] {
		if keep[sys] {
			systems[sys] = true
			continue
		}
		m.deleteSystem(r.Job, sys)
	}
	if r.SystemOfRecord != "" && sorRows >= 0 {
		m.rows.WithLabelValues(r.Job, r.SystemOfRecord).Set(float64(sorRows))
		systems[r.SystemOfRecord] = true
	}
	for _, rep := range r.Replicas {
		if rep.Failed {
			continue
		}
		m.rows.WithLabelValues(r.Job, rep.System).Set(float64(rep.TargetRows))
		for _, k := range m.kinds {
			m.differences.WithLabelValues(r.Job, rep.System, k).Set(float64(rep.Counts[k]))
		}
		for col, n := range rep.Columns {
			if n > 0 {
				m.columnDifferences.WithLabelValues(r.Job, rep.System, col).Set(float64(n))
			}
		}
		systems[rep.System] = true
	}
	if len(systems) > 0 {
		m.drift[r.Job] = systems
	} else {
		delete(m.drift, r.Job)
	}

	m.runDuration.WithLabelValues(r.Job).Set(r.Finished.Sub(r.Started).Seconds())
	m.lastRun.DeletePartialMatch(prometheus.Labels{"job": r.Job})
	m.lastRun.WithLabelValues(r.Job, r.Outcome).Set(unixSeconds(r.Finished))
	if completed {
		m.setSuccess(r.Job, r.Finished)
	}
	return nil
}

// deleteSystem removes the drift series of one system of a job.
func (m *Metrics) deleteSystem(job, system string) {
	l := prometheus.Labels{"job": job, "system": system}
	m.rows.DeletePartialMatch(l)
	m.differences.DeletePartialMatch(l)
	m.columnDifferences.DeletePartialMatch(l)
}

// SetLastSuccess sets the time of a job's last completed run, e.g.
// from the run history when a process starts, so that a process whose
// only run failed still reports it. An earlier time than the one
// already held changes nothing.
func (m *Metrics) SetLastSuccess(job string, t time.Time) error {
	if err := checkName("job", job); err != nil {
		return fmt.Errorf("set last success: %w", err)
	}
	if t.IsZero() {
		return fmt.Errorf("set last success: job %s: zero time", job)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setSuccess(job, t)
	return nil
}

// setSuccess moves a job's last success to t if t is later; m.mu held.
func (m *Metrics) setSuccess(job string, t time.Time) {
	if prev, ok := m.success[job]; ok && !t.After(prev) {
		return
	}
	m.success[job] = t
	m.lastSuccess.WithLabelValues(job).Set(unixSeconds(t))
}

// SetBatches sets the number of a job's fix-up batches per state
// (States); states left out are 0.
func (m *Metrics) SetBatches(job string, counts map[string]int) error {
	var errs []error
	if err := checkName("job", job); err != nil {
		errs = append(errs, err)
	}
	for st, n := range counts {
		if !slices.Contains(States, st) {
			errs = append(errs, fmt.Errorf("unknown batch state %q", st))
		}
		if n < 0 {
			errs = append(errs, fmt.Errorf("batch state %s: negative count %d", st, n))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("set batches: %w", err)
	}
	for _, st := range States {
		m.batches.WithLabelValues(job, st).Set(float64(counts[st]))
	}
	return nil
}

// AddFixOperations counts n operations of a job applied to a system
// with an outcome (FixOutcomes).
func (m *Metrics) AddFixOperations(job, system, outcome string, n int) error {
	errs := []error{checkName("job", job), checkName("system", system)}
	if !slices.Contains(FixOutcomes, outcome) {
		errs = append(errs, fmt.Errorf("unknown fix outcome %q", outcome))
	}
	if n < 0 {
		errs = append(errs, fmt.Errorf("negative operation count %d", n))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("add fix operations: %w", err)
	}
	m.fixOperations.WithLabelValues(job, system, outcome).Add(float64(n))
	return nil
}

// Forget removes every series of a job, e.g. one removed from the
// config.
func (m *Metrics) Forget(job string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := prometheus.Labels{"job": job}
	for _, v := range []*prometheus.GaugeVec{m.rows, m.differences, m.columnDifferences, m.runDuration, m.lastRun, m.lastSuccess, m.batches} {
		v.DeletePartialMatch(l)
	}
	m.fixOperations.DeletePartialMatch(l)
	delete(m.drift, job)
	delete(m.success, job)
}

func (m *Metrics) validateRun(r RunResult) error {
	var errs []error
	if err := checkName("job", r.Job); err != nil {
		errs = append(errs, err)
	}
	if r.SystemOfRecord != "" {
		if err := checkName("system", r.SystemOfRecord); err != nil {
			errs = append(errs, err)
		}
	}
	if !slices.Contains(Outcomes, r.Outcome) {
		errs = append(errs, fmt.Errorf("unknown outcome %q", r.Outcome))
	}
	if r.Started.IsZero() || r.Finished.IsZero() {
		errs = append(errs, errors.New("start or finish time missing"))
	} else if r.Finished.Before(r.Started) {
		errs = append(errs, fmt.Errorf("finished %s before it started %s", r.Finished.Format(time.RFC3339Nano), r.Started.Format(time.RFC3339Nano)))
	}
	seen := map[string]bool{}
	for _, rep := range r.Replicas {
		if err := checkName("system", rep.System); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[rep.System] {
			errs = append(errs, fmt.Errorf("system %s: listed twice", rep.System))
		}
		seen[rep.System] = true
		if rep.System == r.SystemOfRecord {
			errs = append(errs, fmt.Errorf("system %s: both system of record and replica", rep.System))
		}
		if rep.SourceRows < 0 || rep.TargetRows < 0 {
			errs = append(errs, fmt.Errorf("system %s: negative row count", rep.System))
		}
		for k, n := range rep.Counts {
			if !slices.Contains(m.kinds, k) {
				errs = append(errs, fmt.Errorf("system %s: unknown kind %q", rep.System, k))
			}
			if n < 0 {
				errs = append(errs, fmt.Errorf("system %s: kind %s: negative count %d", rep.System, k, n))
			}
		}
		for c, n := range rep.Columns {
			if err := checkColumn("column", c); err != nil {
				errs = append(errs, fmt.Errorf("system %s: %w", rep.System, err))
			}
			if n < 0 {
				errs = append(errs, fmt.Errorf("system %s: column %q: negative count %d", rep.System, c, n))
			}
		}
	}
	if r.Outcome == Consistent {
		for _, rep := range r.Replicas {
			for k, n := range rep.Counts {
				if n > 0 && k != reconcile.InFlight.String() {
					errs = append(errs, fmt.Errorf("system %s: outcome consistent with %d %s", rep.System, n, k))
				}
			}
			if rep.Failed {
				errs = append(errs, fmt.Errorf("system %s: outcome consistent with a failed replica", rep.System))
			}
		}
	}
	return errors.Join(errs...)
}

// checkName rejects a job or system name that is not a plain name
// (checkColumn) or that looks like a URL or carries user information
// ("://", "@"), so no DSN or password can end up in a label.
func checkName(what, v string) error {
	if err := checkColumn(what, v); err != nil {
		return err
	}
	if strings.Contains(v, "://") || strings.Contains(v, "@") {
		// Do not echo it: it may be a DSN with a password.
		return fmt.Errorf("%s name refused: it looks like a URL or holds user information", what)
	}
	return nil
}

// checkColumn rejects a label value that is empty, too long, not
// UTF-8 or holds control characters. Column names pass "@" and "://":
// they come from table schemas, never from a location, and refusing
// one would lose the run's metrics.
func checkColumn(what, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("empty %s name", what)
	case len(v) > maxLabelLen:
		return fmt.Errorf("%s name longer than %d bytes", what, maxLabelLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s name %q: not UTF-8", what, v)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fmt.Errorf("%s name %q: control character", what, v)
	}
	return nil
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
