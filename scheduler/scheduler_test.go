package scheduler

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// t0 is a Thursday, midnight UTC.
var t0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

type result struct {
	job               string
	started, finished time.Time
	err               error
}

type harness struct {
	t       *testing.T
	clock   *clockwork.FakeClock
	s       *Scheduler
	calls   chan call // one per Run call
	results chan result
	skips   chan skip
}

type skip struct {
	job string
	at  time.Time
}

type call struct {
	job     string
	at      time.Time
	ctx     context.Context
	release chan error // the run returns what is sent here, or its ctx error when it ends
}

func newHarness(t *testing.T, loc *time.Location, jitter time.Duration) *harness {
	t.Helper()
	h := &harness{t: t, clock: clockwork.NewFakeClockAt(t0),
		calls: make(chan call, 16), results: make(chan result, 16), skips: make(chan skip, 64)}
	s, err := New(Options{
		Location: loc, Clock: h.clock, Jitter: jitter,
		Run: func(ctx context.Context, job string) error {
			c := call{job: job, at: h.clock.Now(), ctx: ctx, release: make(chan error, 1)}
			h.calls <- c
			select {
			case err := <-c.release:
				return err
			case <-ctx.Done():
				return nil // a run that ignores its error must still not look clean
			}
		},
		OnResult: func(job string, started, finished time.Time, err error) {
			h.results <- result{job, started, finished, err}
		},
		OnSkip: func(job string, at time.Time) { h.skips <- skip{job, at} },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return h
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(h.t.Context(), 10*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// waiters blocks until the fake clock has n timers.
func (h *harness) waiters(n int) {
	h.t.Helper()
	if err := h.clock.BlockUntilContext(h.ctx(), n); err != nil {
		h.t.Fatalf("waiting for %d timers: %v", n, err)
	}
}

// advanceTo moves the fake clock to at.
func (h *harness) advanceTo(at time.Time) { h.clock.Advance(at.Sub(h.clock.Now())) }

func (h *harness) nextCall() call {
	h.t.Helper()
	select {
	case c := <-h.calls:
		return c
	case <-h.ctx().Done():
		h.t.Fatal("no run started")
	}
	return call{}
}

func (h *harness) nextResult() result {
	h.t.Helper()
	select {
	case r := <-h.results:
		return r
	case <-h.ctx().Done():
		h.t.Fatal("no run reported")
	}
	return result{}
}

func TestFiresAtCronTimeInZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	h := newHarness(t, ny, 0)
	if err := h.s.Set([]JobSpec{{Name: "orders", Schedule: "30 2 * * *"}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start(t.Context())
	h.waiters(1)
	// 02:30 in New York (EST, UTC-5) on 26 November is 07:30 UTC.
	want := time.Date(2026, 11, 26, 7, 30, 0, 0, time.UTC)
	if got := h.s.Next("orders"); !got.Equal(want) {
		t.Fatalf("Next = %s, want %s", got.UTC(), want)
	}
	h.advanceTo(want.Add(-time.Second))
	h.waiters(1) // not fired: the timer is still pending
	h.advanceTo(want)
	c := h.nextCall()
	if c.job != "orders" || !c.at.Equal(want) {
		t.Fatalf("run of %q at %s, want orders at %s", c.job, c.at.UTC(), want)
	}
	if got := h.s.Running(); len(got) != 1 || got[0] != "orders" {
		t.Fatalf("Running = %v", got)
	}
	c.release <- nil
	r := h.nextResult()
	if r.err != nil || !r.started.Equal(want) || r.job != "orders" {
		t.Fatalf("result %+v", r)
	}
	h.waiters(1)
	if got, want := h.s.Next("orders"), want.Add(24*time.Hour); !got.Equal(want) {
		t.Fatalf("Next after the run = %s, want %s", got.UTC(), want)
	}
}

func TestSixFieldsAndMacros(t *testing.T) {
	h := newHarness(t, time.UTC, 0)
	if err := h.s.Set([]JobSpec{
		{Name: "secs", Schedule: "15 * * * * *"},
		{Name: "hourly", Schedule: "@hourly"},
		{Name: "every", Schedule: "@every 90m"},
	}); err != nil {
		t.Fatal(err)
	}
	h.s.Start(t.Context())
	h.waiters(3)
	for job, want := range map[string]time.Time{
		"secs":   t0.Add(15 * time.Second),
		"hourly": t0.Add(time.Hour),
		"every":  t0.Add(90 * time.Minute),
	} {
		if got := h.s.Next(job); !got.Equal(want) {
			t.Errorf("Next(%s) = %s, want %s", job, got.UTC(), want)
		}
	}
}

func TestSingleton(t *testing.T) {
	h := newHarness(t, time.UTC, 0)
	if err := h.s.Set([]JobSpec{{Name: "slow", Schedule: "* * * * *"}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start(t.Context())
	// The clock moves to a second past each minute, as a real one would
	// be when its timer fires (gocron re-fires a skipped run whose time is
	// exactly now until the clock moves).
	minute := func(m int) time.Time { return t0.Add(time.Duration(m)*time.Minute + time.Second) }
	h.waiters(1)
	h.advanceTo(minute(1))
	first := h.nextCall()
	h.waiters(1)
	// The next minute comes while the first run is still going: skipped.
	h.advanceTo(minute(2))
	if k := h.skipAt(minute(2)); k.job != "slow" {
		t.Fatalf("skipped %q", k.job)
	}
	if got := h.s.Running(); len(got) != 1 || got[0] != "slow" {
		t.Fatalf("Running = %v", got)
	}
	// Let the first run end, then run the clock on minute by minute: the
	// skipped run is not queued (it would start at once, at 00:02:31);
	// the next run starts at a later minute. (gocron frees its singleton
	// slot a moment after the run is reported, so that minute may be
	// skipped too.)
	h.advanceTo(minute(2).Add(30 * time.Second))
	first.release <- nil
	if r := h.nextResult(); r.err != nil {
		t.Fatal(r.err)
	}
	for m := 3; m < 1000; m++ {
		h.advanceTo(minute(m))
		select {
		case c := <-h.calls:
			if !c.at.After(minute(2).Add(30*time.Second)) || c.at.Second() != 1 {
				t.Fatalf("second run at %s, want a later minute (the skipped one must not be queued)", c.at)
			}
			c.release <- nil
			h.nextResult()
			return
		case <-h.skips:
		case <-time.After(50 * time.Millisecond): // let gocron's goroutines run
		}
	}
	t.Fatal("the job never ran again")
}

// skipAt waits for a skip at the given time, ignoring others.
func (h *harness) skipAt(at time.Time) skip {
	h.t.Helper()
	for {
		select {
		case k := <-h.skips:
			if k.at.Equal(at) {
				return k
			}
		case c := <-h.calls:
			h.t.Fatalf("run at %s overlapped the running one", c.at)
		case <-h.ctx().Done():
			h.t.Fatalf("no skip at %s", at)
		}
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, time.UTC, 0)
	if err := h.s.Set([]JobSpec{{Name: "t", Schedule: "@every 1h", Timeout: 10 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start(t.Context())
	h.waiters(1)
	h.advanceTo(t0.Add(time.Hour))
	c := h.nextCall()
	h.waiters(2) // the next run and the timeout
	h.advanceTo(t0.Add(time.Hour + 10*time.Minute))
	<-c.ctx.Done()
	r := h.nextResult()
	if !errors.Is(r.err, context.DeadlineExceeded) || errors.Is(r.err, context.Canceled) {
		t.Fatalf("timed-out run reported %v, want context.DeadlineExceeded", r.err)
	}
	if !strings.Contains(r.err.Error(), `"t"`) || !strings.Contains(r.err.Error(), "10m0s") {
		t.Fatalf("error does not name the job and timeout: %v", r.err)
	}
}

func TestRunErrorKept(t *testing.T) {
	h := newHarness(t, time.UTC, 0)
	if err := h.s.Set([]JobSpec{{Name: "e", Schedule: "@every 1h"}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start(t.Context())
	h.waiters(1)
	h.advanceTo(t0.Add(time.Hour))
	boom := errors.New("boom")
	h.nextCall().release <- boom
	if r := h.nextResult(); !errors.Is(r.err, boom) {
		t.Fatalf("reported %v, want boom", r.err)
	}
}

func TestStopCancelsRunning(t *testing.T) {
	h := newHarness(t, time.UTC, 0)
	if err := h.s.Set([]JobSpec{{Name: "long", Schedule: "@every 1h"}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start(t.Context())
	h.waiters(1)
	h.advanceTo(t0.Add(time.Hour))
	h.nextCall()
	if err := h.s.Stop(h.ctx()); err != nil {
		t.Fatal(err)
	}
	// Stop waited: the result is already there.
	select {
	case r := <-h.results:
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled run reported %v, want context.Canceled", r.err)
		}
	default:
		t.Fatal("Stop returned before the cancelled run was reported")
	}
	if got := h.s.Running(); len(got) != 0 {
		t.Fatalf("Running after Stop = %v", got)
	}
	if !h.s.Next("long").IsZero() {
		t.Fatalf("Next after Stop = %s, want zero", h.s.Next("long"))
	}
}

func TestSetReplacesJobs(t *testing.T) {
	h := newHarness(t, time.UTC, 0)
	if err := h.s.Set([]JobSpec{{Name: "old", Schedule: "@every 1h"}, {Name: "kept", Schedule: "0 */2 * * *"}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start(t.Context())
	h.waiters(2)
	h.advanceTo(t0.Add(time.Hour))
	running := h.nextCall()
	if running.job != "old" {
		t.Fatalf("ran %q, want old", running.job)
	}
	h.waiters(2)
	if err := h.s.Set([]JobSpec{{Name: "kept", Schedule: "0 */2 * * *"}, {Name: "new", Schedule: "30 * * * *"}}); err != nil {
		t.Fatal(err)
	}
	// The removed job's running run is cancelled and reported so.
	r := h.nextResult()
	if r.job != "old" || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("removed job's run reported %+v, want old cancelled", r)
	}
	if !h.s.Next("old").IsZero() {
		t.Fatal("removed job still has a next run")
	}
	if got, want := h.s.Next("new"), t0.Add(90*time.Minute); !got.Equal(want) {
		t.Fatalf("Next(new) = %s, want %s", got, want)
	}
	h.waiters(2)
	h.advanceTo(t0.Add(90 * time.Minute))
	c := h.nextCall()
	if c.job != "new" {
		t.Fatalf("ran %q at 01:30, want new", c.job)
	}
	c.release <- nil
	h.nextResult()
	h.waiters(2)
	h.advanceTo(t0.Add(2 * time.Hour))
	c = h.nextCall()
	if c.job != "kept" {
		t.Fatalf("ran %q at 02:00, want kept (old is gone)", c.job)
	}
	c.release <- nil
	h.nextResult()
}

func TestSetRejectsBadJobs(t *testing.T) {
	h := newHarness(t, time.UTC, 0)
	if err := h.s.Set([]JobSpec{{Name: "good", Schedule: "@daily"}}); err != nil {
		t.Fatal(err)
	}
	err := h.s.Set([]JobSpec{
		{Name: "good", Schedule: "@hourly"},
		{Name: "badcron", Schedule: "61 * * * *"},
		{Name: "fields", Schedule: "* * *"},
		{Name: "macro", Schedule: "@sometimes"},
		{Name: "every", Schedule: "@every soon"},
		{Name: "zone", Schedule: "CRON_TZ=Europe/Paris 0 2 * * *"},
		{Name: "neg", Schedule: "@daily", Timeout: -time.Second},
		{Name: "good", Schedule: "@daily"},
		{Name: "", Schedule: "@daily"},
	})
	if err == nil {
		t.Fatal("Set of bad jobs succeeded")
	}
	for _, want := range []string{`job "badcron"`, `job "fields"`, `job "macro"`, `job "every"`, `job "zone"`,
		`job "neg"`, `job "good": listed twice`, `job "": name is empty`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Nothing changed.
	h.s.Start(t.Context())
	h.waiters(1)
	if got := h.s.Next("good"); !got.Equal(t0.Add(24 * time.Hour)) {
		t.Fatalf("Next(good) = %s: a rejected Set changed the jobs", got)
	}
}

func TestJitter(t *testing.T) {
	h := newHarness(t, time.UTC, 10*time.Minute)
	h.s.randN = func(n int64) int64 {
		if n != int64(10*time.Minute) {
			t.Errorf("jitter drawn in [0, %d)", n)
		}
		return int64(3 * time.Minute)
	}
	if err := h.s.Set([]JobSpec{{Name: "j", Schedule: "@every 1h"}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start(t.Context())
	h.waiters(1)
	h.advanceTo(t0.Add(time.Hour))
	h.waiters(2) // the next run and the jitter delay
	h.advanceTo(t0.Add(time.Hour + 3*time.Minute))
	c := h.nextCall()
	if !c.at.Equal(t0.Add(time.Hour + 3*time.Minute)) {
		t.Fatalf("run at %s, want 3m after its time", c.at)
	}
	c.release <- nil
	h.nextResult()
}

func TestNewRejects(t *testing.T) {
	_, err := New(Options{Jitter: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "Run is not set") || !strings.Contains(err.Error(), "jitter") {
		t.Fatalf("New: %v", err)
	}
}

func TestConcurrentAPI(t *testing.T) {
	h := newHarness(t, time.UTC, 0)
	h.s.Start(t.Context())
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				_ = h.s.Set([]JobSpec{{Name: "a", Schedule: "@hourly", Timeout: time.Duration(i) * time.Second}})
				h.s.Next("a")
				h.s.Running()
			}
		}()
	}
	wg.Wait()
	if h.s.Next("a").IsZero() {
		t.Fatal("job a lost after concurrent Sets")
	}
}
