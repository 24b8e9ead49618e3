// Package scheduler runs reconcile's jobs on their cron schedules, on top
// of github.com/go-co-op/gocron/v2.
//
// Contract:
//
//   - A schedule is five cron fields (minute hour day-of-month month
//     day-of-week), six with seconds first, or a macro (@yearly,
//     @annually, @monthly, @weekly, @daily, @midnight, @hourly,
//     @every DURATION of at least 1s), read in Options.Location. A
//     TZ=/CRON_TZ= prefix is refused: the zone comes from the
//     configuration.
//   - Singleton: a job never overlaps itself. A scheduled time that comes
//     while the previous run is still going is skipped (Options.OnSkip),
//     not queued; the job runs again at its next scheduled time.
//   - Timeout: a job's run gets a context cancelled at JobSpec.Timeout;
//     the run is reported with an error that errors.Is
//     context.DeadlineExceeded.
//   - Stop cancels the running runs through their contexts, waits for
//     them and reports each with an error that errors.Is context.Canceled
//     — even when Run returned nil after the cancellation, since a run cut
//     short is never clean.
//   - Set replaces the jobs (a reload): invalid jobs change nothing and
//     every problem names its job; a removed job's running run is
//     cancelled (reported cancelled); a changed job's running run
//     finishes under its old timeout and the new schedule applies after.
//   - Jitter delays each run by a random duration in [0, Options.Jitter)
//     after its scheduled time; the delay is outside the run and its
//     timeout.
//   - Time comes from Options.Clock, so tests drive the scheduler with
//     clockwork's fake clock.
//
// Example:
//
//	s, err := scheduler.New(scheduler.Options{
//		Location: plan.Timezone(),
//		Jitter:   30 * time.Second,
//		Run:      func(ctx context.Context, job string) error { return runJob(ctx, job) },
//		OnResult: func(job string, started, finished time.Time, err error) { record(job, started, finished, err) },
//	})
//	if err != nil {
//		return err
//	}
//	if err := s.Set([]scheduler.JobSpec{{Name: "orders", Schedule: "0 2 * * *", Timeout: time.Hour}}); err != nil {
//		return err
//	}
//	s.Start(ctx)
//	<-ctx.Done()
//	return s.Stop(context.WithoutCancel(ctx))
package scheduler
