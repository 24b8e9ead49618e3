package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
)

// Options configure a Scheduler.
type Options struct {
	// Location is the time zone cron expressions are read in; nil is
	// time.Local.
	Location *time.Location
	// Clock tells the time and makes the timers; nil is the real clock.
	// Tests pass clockwork.NewFakeClock().
	Clock clockwork.Clock
	// Jitter, when positive, delays every run by a random duration in
	// [0, Jitter) after its scheduled time, so hosts or jobs sharing a
	// schedule do not all start at once. The delay is not part of the
	// run: it counts neither toward the timeout nor toward the run's start
	// time, and Stop or the job's removal cancels it (reported as
	// cancelled).
	Jitter time.Duration
	// Run runs one job; ctx is cancelled at the job's timeout, at Stop, and
	// when Set removes the job. Required.
	Run func(ctx context.Context, job string) error
	// OnResult, if set, is called after every run (never concurrently for
	// the same job) with its times and error. A run cut short has an error
	// that errors.Is context.Canceled (Stop, removal) or
	// context.DeadlineExceeded (timeout), even when Run returned nil.
	OnResult func(job string, started, finished time.Time, err error)
	// OnSkip, if set, is called when a scheduled run of a job is skipped
	// because its previous run is still going.
	OnSkip func(job string, at time.Time)
}

// JobSpec is one job to schedule.
type JobSpec struct {
	Name string
	// Schedule is a cron expression: five fields (minute hour
	// day-of-month month day-of-week), six with seconds first, or a
	// macro: @yearly, @annually, @monthly, @weekly, @daily, @midnight,
	// @hourly, @every DURATION.
	Schedule string
	Timeout  time.Duration // 0: none
}

// Scheduler runs jobs on their cron schedules. Its methods are safe for
// concurrent use.
type Scheduler struct {
	opts  Options
	clock clockwork.Clock
	gs    gocron.Scheduler
	check gocron.Scheduler // never started: validates definitions for Set
	randN func(int64) int64

	mu      sync.Mutex
	jobs    map[string]*entry
	running map[string]context.CancelFunc // job → cancels its current run
	base    context.Context               // set by Start
	cancel  context.CancelFunc
	started bool
	stopped bool
	wg      sync.WaitGroup
}

type entry struct {
	spec JobSpec
	job  gocron.Job
}

// New returns a Scheduler with no jobs; Set gives it jobs and Start
// starts it.
func New(opts Options) (*Scheduler, error) {
	var problems []error
	if opts.Run == nil {
		problems = append(problems, errors.New("Run is not set"))
	}
	if opts.Jitter < 0 {
		problems = append(problems, fmt.Errorf("jitter %s is negative", opts.Jitter))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("new scheduler: %w", errors.Join(problems...))
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	clock := opts.Clock
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	s := &Scheduler{opts: opts, clock: clock, randN: rand.Int64N,
		jobs: map[string]*entry{}, running: map[string]context.CancelFunc{}}
	var err error
	s.gs, err = gocron.NewScheduler(gocron.WithLocation(opts.Location), gocron.WithClock(clock),
		gocron.WithMonitor(skipMonitor{s}))
	if err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	s.check, err = gocron.NewScheduler(gocron.WithLocation(opts.Location), gocron.WithClock(clock))
	if err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	return s, nil
}

// definition translates a schedule into a gocron job definition.
func definition(schedule string) (gocron.JobDefinition, error) {
	expr := strings.TrimSpace(schedule)
	switch {
	case expr == "":
		return nil, errors.New("schedule is empty")
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return nil, fmt.Errorf("schedule %q: the time zone comes from the configuration, not the expression", schedule)
	case strings.HasPrefix(expr, "@every"):
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(expr, "@every")))
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("schedule %q: @every needs a duration of at least 1s such as 15m", schedule)
		}
		return gocron.CronJob(expr, false), nil
	case strings.HasPrefix(expr, "@"):
		return gocron.CronJob(expr, false), nil
	}
	switch n := len(strings.Fields(expr)); n {
	case 5:
		return gocron.CronJob(expr, false), nil
	case 6:
		return gocron.CronJob(expr, true), nil
	default:
		return nil, fmt.Errorf("schedule %q: want 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got %d", schedule, n)
	}
}

// Set replaces the scheduled jobs with jobs (a configuration reload).
// It checks every job first and, if any is invalid, changes nothing and
// returns every problem, each naming its job. Otherwise: a job no longer
// listed stops being scheduled and its running run, if any, is cancelled
// (reported with context.Canceled); a job whose schedule or timeout
// changed keeps its running run, which finishes under the old timeout,
// and follows the new schedule; an unchanged job is left alone; a new job
// is scheduled.
func (s *Scheduler) Set(jobs []JobSpec) error {
	defs := make([]gocron.JobDefinition, len(jobs))
	seen := map[string]bool{}
	var problems []error
	for i, j := range jobs {
		var errs []error
		if j.Name == "" {
			errs = append(errs, errors.New("name is empty"))
		} else if seen[j.Name] {
			errs = append(errs, errors.New("listed twice"))
		}
		seen[j.Name] = true
		if j.Timeout < 0 {
			errs = append(errs, fmt.Errorf("timeout %s is negative", j.Timeout))
		}
		def, err := definition(j.Schedule)
		if err == nil {
			var cj gocron.Job
			if cj, err = s.check.NewJob(def, gocron.NewTask(func() {})); err == nil {
				err = s.check.RemoveJob(cj.ID())
			} else {
				err = fmt.Errorf("schedule %q: %w", j.Schedule, err)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			problems = append(problems, fmt.Errorf("job %q: %w", j.Name, errors.Join(errs...)))
		}
		defs[i] = def
	}
	if len(problems) > 0 {
		return fmt.Errorf("set jobs: %w", errors.Join(problems...))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("set jobs: scheduler stopped")
	}
	for name, e := range s.jobs {
		if seen[name] {
			continue
		}
		if err := s.gs.RemoveJob(e.job.ID()); err != nil {
			return fmt.Errorf("set jobs: remove job %q: %w", name, err)
		}
		delete(s.jobs, name)
		if cancel := s.running[name]; cancel != nil {
			cancel()
		}
	}
	for i, j := range jobs {
		old := s.jobs[j.Name]
		if old != nil && old.spec == j {
			continue
		}
		e := &entry{spec: j}
		opts := []gocron.JobOption{gocron.WithName(j.Name), gocron.WithSingletonMode(gocron.LimitModeReschedule)}
		task := gocron.NewTask(s.fire, e)
		var (
			cj  gocron.Job
			err error
		)
		if old != nil {
			cj, err = s.gs.Update(old.job.ID(), defs[i], task, opts...)
		} else {
			cj, err = s.gs.NewJob(defs[i], task, opts...)
		}
		if err != nil {
			return fmt.Errorf("set jobs: job %q: %w", j.Name, err)
		}
		e.job = cj
		s.jobs[j.Name] = e
	}
	return nil
}

// Start starts running the jobs on their schedules. Runs get contexts
// derived from ctx (its values reach Run; cancelling it cancels the
// runs, as Stop does, but only Stop stops the schedule).
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	s.base, s.cancel = context.WithCancel(ctx)
	s.gs.Start()
}

// Stop stops scheduling, cancels the running runs through their contexts
// and waits until they have returned and been reported to OnResult (as
// cancelled), or until ctx is done.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("stop scheduler: runs still going: %w", ctx.Err())
	}
	if err := s.gs.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("stop scheduler: %w", err)
	}
	if err := s.check.Shutdown(); err != nil {
		return fmt.Errorf("stop scheduler: %w", err)
	}
	return nil
}

// Next returns when job runs next, or the zero time if it is not
// scheduled (unknown job, scheduler not started or stopped).
func (s *Scheduler) Next(job string) time.Time {
	s.mu.Lock()
	e := s.jobs[job]
	s.mu.Unlock()
	if e == nil {
		return time.Time{}
	}
	t, err := e.job.NextRun()
	if err != nil {
		return time.Time{}
	}
	return t
}

// Running returns the jobs running now, sorted.
func (s *Scheduler) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.running))
	for n := range s.running {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// fire is the task gocron runs at each scheduled time of e's job.
func (s *Scheduler) fire(e *entry) {
	name := e.spec.Name
	s.mu.Lock()
	if s.stopped || s.jobs[name] != e || s.base == nil {
		s.mu.Unlock()
		return // removed, replaced or stopping
	}
	if _, busy := s.running[name]; busy {
		// gocron's singleton mode already skips an overlapping run; this
		// also covers a run that outlived a Set that updated its job.
		s.mu.Unlock()
		s.skipped(name)
		return
	}
	ctx, cancel := context.WithCancel(s.base)
	s.running[name] = cancel
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		cancel()
		s.mu.Lock()
		delete(s.running, name)
		s.mu.Unlock()
		s.wg.Done()
	}()

	if s.opts.Jitter > 0 {
		delay := time.Duration(s.randN(int64(s.opts.Jitter)))
		if delay > 0 {
			select {
			case <-s.clock.After(delay):
			case <-ctx.Done():
				now := s.clock.Now()
				s.report(name, now, now, fmt.Errorf("run job %q: cancelled before it started: %w", name, context.Cause(ctx)))
				return
			}
		}
	}
	runCtx := ctx
	if e.spec.Timeout > 0 {
		var stop context.CancelFunc
		runCtx, stop = clockwork.WithTimeout(ctx, s.clock, e.spec.Timeout)
		defer stop()
	}
	started := s.clock.Now()
	err := s.run(runCtx, name)
	finished := s.clock.Now()
	if cerr := runCtx.Err(); cerr != nil && !errors.Is(err, cerr) {
		if errors.Is(cerr, context.DeadlineExceeded) {
			cerr = fmt.Errorf("timeout %s: %w", e.spec.Timeout, cerr)
		}
		if err == nil {
			err = fmt.Errorf("run job %q: %w", name, cerr)
		} else {
			err = fmt.Errorf("run job %q: %w (%w)", name, err, cerr)
		}
	}
	s.report(name, started, finished, err)
}

// run calls Run, turning a panic into an error.
func (s *Scheduler) run(ctx context.Context, name string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("run job %q: panic: %v", name, p)
		}
	}()
	return s.opts.Run(ctx, name)
}

func (s *Scheduler) report(name string, started, finished time.Time, err error) {
	if s.opts.OnResult != nil {
		s.opts.OnResult(name, started, finished, err)
	}
}

func (s *Scheduler) skipped(name string) {
	if s.opts.OnSkip != nil {
		s.opts.OnSkip(name, s.clock.Now())
	}
}

// skipMonitor passes gocron's singleton skips to Options.OnSkip.
type skipMonitor struct{ s *Scheduler }

func (m skipMonitor) IncrementJob(_ uuid.UUID, name string, _ []string, status gocron.JobStatus) {
	if status == gocron.SingletonRescheduled {
		m.s.skipped(name)
	}
}

func (skipMonitor) RecordJobTiming(_, _ time.Time, _ uuid.UUID, _ string, _ []string) {}
