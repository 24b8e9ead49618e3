package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/spf13/cobra"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/config"
	"github.com/reconhq/reconcile/metrics"
	"github.com/reconhq/reconcile/runs"
	"github.com/reconhq/reconcile/scheduler"
)

type serveOptions struct {
	config string
	store  string
	listen string
	jitter time.Duration
	lookup func(string) (string, bool)
	now    func() time.Time
	// Tests inject these: the clock of the scheduler, SIGHUP, and a hook
	// told the address the server listens on.
	clock    clockwork.Clock
	reload   <-chan os.Signal
	onListen func(addr string)
}

func newServeCmd(e *env) *cobra.Command {
	o := &serveOptions{lookup: os.LookupEnv, now: time.Now}
	cmd := &cobra.Command{
		Use:   "serve --config FILE [--listen ADDR]",
		Short: "Run the config's jobs on their schedules, and serve metrics, health and the run history over HTTP",
		Long: `Run every job of the config that has a schedule, on its cron expression in
the config's time zone: a job never overlaps itself (a run still going when
the next is due makes that one skip), a run past the job's timeout is
cancelled. Every run is recorded in the run history (STORE/history) and in
the metrics.

HTTP (--listen, default 127.0.0.1:8080):
  /metrics       Prometheus metrics (see 'reconcile run --help' for the list)
  /healthz       200 while the process runs
  /readyz        200 once the jobs are scheduled, 503 while stopping
  /api/runs      the run history, newest first (?job=NAME, ?limit=N)
  /api/batches   the fix-up batches, newest first (?job=NAME)

SIGHUP reloads the config: a config that does not validate is reported and
the running one kept; removed jobs stop (a running run is cancelled),
changed ones take effect after their current run. SIGTERM or Ctrl-C cancels
running jobs through their context, records them as cancelled, and exits.`,
		Example: `  reconcile serve --config /etc/reconcile/reconcile.yaml --listen 127.0.0.1:8080`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), e, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.config, "config", "c", "reconcile.yaml", "the config file")
	f.StringVar(&o.store, "store", "", "the store directory (default: the config's store)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "the address to serve HTTP on")
	f.DurationVar(&o.jitter, "jitter", 0, "delay each run by a random duration up to this, so jobs sharing a schedule do not start at once")
	return cmd
}

// server is the state of 'reconcile serve'.
type server struct {
	e       *env
	o       *serveOptions
	plan    atomic.Pointer[config.Plan]
	store   string
	hist    historyStore
	metrics *metrics.Metrics
	sched   *scheduler.Scheduler
	ready   atomic.Bool
	mu      sync.Mutex // one run's bookkeeping at a time
}

func runServe(ctx context.Context, e *env, o *serveOptions) error {
	if o.jitter < 0 {
		return fmt.Errorf("--jitter %s: must be 0 or more", o.jitter)
	}
	plan, err := loadPlan(e, o.config, o.lookup)
	if err != nil {
		return err
	}
	store, err := storeOf(o.store, plan)
	if err != nil {
		return err
	}
	hist, closeHist, err := openHistory(ctx, plan, store)
	if err != nil {
		return err
	}
	defer closeHist()
	// Runs a process that died left running are errors, never clean. A
	// history shared by hosts is left alone: another host's runs may be
	// running now.
	if plan.StateSystem() == "" {
		if n, err := hist.MarkAbandoned(ctx, o.now()); err != nil {
			return err
		} else if n > 0 {
			fmt.Fprintf(e.stderr, "reconcile serve: %d run(s) left running by a stopped process recorded as errors\n", n)
		}
	}
	s := &server{e: e, o: o, store: store, hist: hist, metrics: metrics.New()}
	s.plan.Store(plan)
	for _, j := range plan.Jobs() {
		if last, ok := lastSuccess(ctx, hist, j); ok {
			_ = s.metrics.SetLastSuccess(j, last)
		}
	}
	s.sched, err = scheduler.New(scheduler.Options{
		Location: plan.Timezone(), Clock: o.clock, Jitter: o.jitter,
		Run: s.runJob,
		OnSkip: func(job string, at time.Time) {
			fmt.Fprintf(e.stderr, "reconcile serve: job %s: skipped the run due at %s, the previous one is still going\n", job, at.UTC().Format(time.RFC3339))
		},
	})
	if err != nil {
		return err
	}
	if err := s.sched.Set(jobSpecs(plan)); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", o.listen, err)
	}
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	fmt.Fprintf(e.stderr, "reconcile serve: %d scheduled job(s), listening on http://%s\n", len(jobSpecs(plan)), ln.Addr())
	if o.onListen != nil {
		o.onListen(ln.Addr().String())
	}

	reload := o.reload
	if reload == nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		reload = hup
	}
	s.sched.Start(ctx)
	s.ready.Store(true)
	for {
		select {
		case <-reload:
			s.reload(ctx)
			continue
		case err := <-srvErr:
			s.ready.Store(false)
			_ = s.sched.Stop(context.WithoutCancel(ctx))
			return fmt.Errorf("serve http: %w", err)
		case <-ctx.Done():
		}
		break
	}
	// Stopping: not ready any more; running jobs are cancelled and
	// recorded as cancelled; then the HTTP server stops.
	s.ready.Store(false)
	fmt.Fprintln(e.stderr, "reconcile serve: stopping")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err = s.sched.Stop(stopCtx)
	if herr := srv.Shutdown(stopCtx); herr != nil && err == nil {
		err = fmt.Errorf("stop http: %w", herr)
	}
	return err
}

// jobSpecs are the plan's scheduled jobs.
func jobSpecs(plan *config.Plan) []scheduler.JobSpec {
	var specs []scheduler.JobSpec
	for _, name := range plan.Jobs() {
		j, _ := plan.Job(name)
		if j.Schedule != "" {
			specs = append(specs, scheduler.JobSpec{Name: name, Schedule: j.Schedule, Timeout: j.Timeout})
		}
	}
	return specs
}

// runJob runs one scheduled job like 'reconcile run', with its report
// in the store rather than on stdout, and records it in the metrics.
func (s *server) runJob(ctx context.Context, name string) error {
	plan := s.plan.Load()
	job, ok := plan.Job(name)
	if !ok {
		return fmt.Errorf("job %s is no longer in the config", name)
	}
	quiet := *s.e
	quiet.stdout = io.Discard
	ro := &runOptions{config: s.o.config, format: "json", limit: 0, lookup: s.o.lookup, now: s.o.now}
	jr := runJob(ctx, &quiet, ro, plan, s.store, job, s.hist)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := observeRuns(s.metrics, plan, s.store, []*jobRun{jr}); err != nil {
		fmt.Fprintf(s.e.stderr, "reconcile serve: job %s: %v\n", name, err)
	}
	msg := fmt.Sprintf("reconcile serve: job %s run %s: %s in %s", name, jr.ID, outcomeOf(jr), jr.Finished.Sub(jr.Started).Round(time.Millisecond))
	if jr.Err != nil {
		msg += ": " + jr.Err.Error()
	}
	fmt.Fprintln(s.e.stderr, msg)
	return jr.Err
}

// reload reads the config again and applies it, or keeps the running one.
func (s *server) reload(ctx context.Context) {
	plan, err := loadPlan(s.e, s.o.config, s.o.lookup)
	if err == nil {
		if store, serr := storeOf(s.o.store, plan); serr != nil || store != s.store {
			err = errors.Join(serr, fmt.Errorf("the store moved to %s: restart to change it", store))
		}
	}
	if err == nil {
		err = s.sched.Set(jobSpecs(plan))
	}
	if err != nil {
		fmt.Fprintf(s.e.stderr, "reconcile serve: reload %s: kept the running config:\n", s.o.config)
		printError(s.e.stderr, err)
		return
	}
	old := s.plan.Swap(plan)
	for _, j := range old.Jobs() {
		if _, ok := plan.Job(j); !ok {
			s.metrics.Forget(j)
		}
	}
	fmt.Fprintf(s.e.stderr, "reconcile serve: reloaded %s: %d scheduled job(s)\n", s.o.config, len(jobSpecs(plan)))
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /api/runs", func(w http.ResponseWriter, r *http.Request) {
		limit := 100
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 10000 {
				http.Error(w, "limit: want a number from 1 to 10000", http.StatusBadRequest)
				return
			}
			limit = n
		}
		rs, err := s.hist.List(r.Context(), runs.ListOptions{Job: r.URL.Query().Get("job"), Limit: limit})
		if err != nil && len(rs) == 0 {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, struct {
			Runs  []runs.Run `json:"runs"`
			Error string     `json:"error,omitempty"`
		}{rs, errString(err)})
	})
	mux.HandleFunc("GET /api/batches", func(w http.ResponseWriter, r *http.Request) {
		all, err := batches.List(filepath.Join(s.store, storeBatches))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		job := r.URL.Query().Get("job")
		out := []batches.Manifest{}
		for _, b := range all {
			if job == "" || b.Manifest.Job == job {
				out = append(out, b.Manifest)
			}
		}
		writeJSON(w, struct {
			Batches []batches.Manifest `json:"batches"`
		}{out})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
