package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/spf13/cobra"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/config"
	"github.com/reconhq/reconcile/metrics"
	"github.com/reconhq/reconcile/scheduler"
	"github.com/reconhq/reconcile/web"
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
		Short: "Run the config's jobs on their schedules, and serve the review page, its JSON API, metrics and health over HTTP",
		Long: `Run every job of the config that has a schedule, on its cron expression in
the config's time zone: a job never overlaps itself (a run still going when
the next is due makes that one skip), a run past the job's timeout is
cancelled. Every run is recorded in the run history (STORE/history) and in
the metrics.

HTTP (--listen, default 127.0.0.1:8080):
  /              the review page: pending batches, jobs with their last
                 run and a drift-trend chart; run pages with the divergence
                 report; batch pages with the operations, the rule behind
                 each, and approve / reject / apply buttons
  /api/...       the same as JSON: /api/runs (?job=NAME, ?limit=N),
                 /api/runs/JOB/ID, /api/batches (?job=, ?state=),
                 /api/batches/ID (?offset=, ?limit=), and
                 POST /api/batches/ID/approve|reject|apply
  /metrics       Prometheus metrics (see 'reconcile run --help' for the list)
  /healthz       200 while the process runs
  /readyz        200 once the jobs are scheduled, 503 while stopping

Who may read and decide comes from the config's serve section: basic-auth
users with bcrypt hashes (make one with 'reconcile hash-password') and
bearer tokens read from the environment. Once any is declared, every page
needs credentials unless serve.public_read is true; approve, reject and
apply always need them (401 without), are refused from other sites
(CSRF), and record who decided. Apply from the page runs the same guards
as 'reconcile batch apply' and counts its operations in
reconcile_fix_operations_total.

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
	web     *web.Handler
	ready   atomic.Bool
	// applying counts the applies the page has started and not finished.
	applying atomic.Int64
	mu       sync.Mutex // one run's bookkeeping at a time
}

func runServe(ctx context.Context, e *env, o *serveOptions) error {
	if o.jitter < 0 {
		return fmt.Errorf("--jitter %s: must be 0 or more", o.jitter)
	}
	plan, store, err := loadPlanStore(e, o.config, o.store, o.lookup)
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
	s.web, err = web.New(web.Options{
		Jobs: s.webJobs, History: hist, Batches: filepath.Join(store, storeBatches), Reports: filepath.Join(store, storeRuns),
		Access: webAccess(plan.Serve()), Now: o.now, Apply: s.applyFromWeb,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(e.stderr, "reconcile serve: "+format+"\n", args...)
		},
	})
	if err != nil {
		return err
	}
	for _, j := range plan.Jobs() {
		if last, ok := lastSuccess(ctx, hist, j); ok {
			_ = s.metrics.SetLastSuccess(j, last)
		}
	}
	// The fix operations counter goes on from what the store's batches
	// have run, across restarts.
	if err := addFixTotals(s.metrics, plan, store); err != nil {
		fmt.Fprintf(e.stderr, "reconcile serve: %v\n", err)
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
	// recorded as cancelled; then the HTTP server stops, after the
	// applies the page started have finished (for as long as the stop
	// allows).
	s.ready.Store(false)
	fmt.Fprintln(e.stderr, "reconcile serve: stopping")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err = s.sched.Stop(stopCtx)
	if n := s.applying.Load(); n > 0 {
		fmt.Fprintf(e.stderr, "reconcile serve: waiting for %d apply(s) started from the page\n", n)
	}
	if herr := srv.Shutdown(stopCtx); herr != nil && err == nil {
		err = fmt.Errorf("stop http: %w", herr)
	}
	if n := s.applying.Load(); n > 0 {
		fmt.Fprintf(e.stderr, "reconcile serve: stopped with %d apply(s) still running: their batches are left partial; apply them again (reconcile batch apply ID) to finish\n", n)
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
	s.web.SetAccess(webAccess(plan.Serve()))
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
	mux.Handle("/", s.web)
	return mux
}

// webJobs lists the jobs of the config in effect for the web page.
func (s *server) webJobs() []web.Job {
	plan := s.plan.Load()
	var out []web.Job
	for _, name := range plan.Jobs() {
		j, _ := plan.Job(name)
		wj := web.Job{Name: name, Schedule: j.Schedule}
		for _, r := range j.Replicas {
			wj.Replicas = append(wj.Replicas, r.System)
		}
		out = append(out, wj)
	}
	return out
}

// webAccess turns the config's serve section into the page's access.
func webAccess(sv config.Serve) web.Access {
	a := web.Access{PublicRead: sv.PublicRead, Users: map[string]string{}, Tokens: map[string]string{}}
	for _, u := range sv.Users {
		a.Users[u.Name] = u.PasswordHash
	}
	for _, t := range sv.Tokens {
		a.Tokens[t.Name] = t.Token
	}
	return a
}

// applyFromWeb applies an approved batch for a signed-in person, and
// counts the operations this apply ran in reconcile_fix_operations_total.
func (s *server) applyFromWeb(ctx context.Context, id, by string) (*batches.Report, error) {
	s.applying.Add(1)
	defer s.applying.Add(-1)
	plan := s.plan.Load()
	dir := filepath.Join(s.store, storeBatches)
	before := 0
	if b, err := batches.Open(dir, id); err == nil {
		if j, err := b.Journal(); err == nil {
			before = len(j)
		}
	}
	rep, b, err := applyBatch(ctx, s.e, plan, dir, id, batches.ApplyOptions{Now: s.o.now(), By: by})
	if b != nil {
		s.countApplied(b, before)
		s.refreshBatches(plan, b.Manifest.Job)
	}
	if err != nil {
		return rep, err
	}
	fmt.Fprintf(s.e.stderr, "reconcile serve: batch %s applied by %s: state %s\n", id, by, b.Manifest.State)
	return rep, nil
}

// countApplied adds the journal lines an apply wrote after the first
// `before` to the fix-operation counter.
func (s *server) countApplied(b *batches.Batch, before int) {
	journal, err := b.Journal()
	if err != nil || len(journal) < before {
		return
	}
	n := map[string]int{}
	for _, r := range journal[before:] {
		n[string(r.Status)]++
	}
	for outcome, c := range n {
		if err := s.metrics.AddFixOperations(b.Manifest.Job, b.Manifest.Target.System, outcome, c); err != nil {
			fmt.Fprintf(s.e.stderr, "reconcile serve: %v\n", err)
		}
	}
}

// refreshBatches recounts a job's batches per state after a decision.
func (s *server) refreshBatches(plan *config.Plan, job string) {
	if _, ok := plan.Job(job); !ok {
		return
	}
	all, err := batches.List(filepath.Join(s.store, storeBatches))
	if err != nil {
		return
	}
	states := batchStates(all, job, s.o.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.metrics.SetBatches(job, states)
}
