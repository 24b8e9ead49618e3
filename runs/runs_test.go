package runs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reconhq/reconcile/internal/testdb"
)

// store is the method set both stores share, as a consumer declares it.
type store interface {
	Start(context.Context, Run) error
	Finish(context.Context, Run) error
	Get(ctx context.Context, job, id string) (Run, error)
	List(context.Context, ListOptions) ([]Run, error)
	Jobs(context.Context) ([]string, error)
	MarkAbandoned(context.Context, time.Time) (int, error)
	Prune(context.Context, int) (int, error)
}

var (
	_ store = (*Local)(nil)
	_ store = (*Postgres)(nil)
)

var t0 = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

func sample(job string, i int) Run {
	start := t0.Add(time.Duration(i) * time.Hour)
	return Run{ID: start.Format("2006-01-02T150405Z"), Job: job, Started: start, Outcome: Running}
}

func finished(r Run) Run {
	r.Finished = r.Started.Add(90 * time.Second)
	r.Outcome = Differences
	r.Replicas = []Replica{{System: "replica", Table: "public.orders", SourceRows: 1000, TargetRows: 998,
		Counts:  Counts{Missing: 2, Changed: 3, InFlight: 1},
		Columns: map[string]int64{"amount": 3}, Report: "/var/lib/reconcile/runs/x/report.json",
		Batch: "b-1", BatchState: "pending"}}
	return r
}

func ids(rs []Run) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Job+"/"+r.ID)
	}
	return out
}

// testStore runs the behaviour both stores share; reopen returns a new
// store over the same history.
func testStore(t *testing.T, open func(t *testing.T) store) {
	ctx := t.Context()

	t.Run("RoundTrip", func(t *testing.T) {
		s := open(t)
		r := sample("orders", 0)
		r.Started = r.Started.In(time.FixedZone("CET", 3600))
		if err := s.Start(ctx, r); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "orders", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Outcome != Running || !got.Started.Equal(r.Started) || got.Started.Location() != time.UTC || !got.Finished.IsZero() {
			t.Fatalf("running run read back as %+v", got)
		}
		if err := s.Start(ctx, r); err == nil || !strings.Contains(err.Error(), "already recorded") {
			t.Fatalf("second Start: %v, want already recorded", err)
		}
		f := finished(sample("orders", 0))
		f.Error = "connect postgres://app:s3cret@db:5432/x failed; password=hunter2 rejected"
		f.Replicas[0].Error = "open mysql://root:topsecret@tcp(h:3306)/db: refused"
		if err := s.Finish(ctx, f); err != nil {
			t.Fatal(err)
		}
		got, err = s.Get(ctx, "orders", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Outcome != Differences || !got.Finished.Equal(f.Finished) || len(got.Replicas) != 1 {
			t.Fatalf("finished run read back as %+v", got)
		}
		rep := got.Replicas[0]
		if rep.Counts != f.Replicas[0].Counts || rep.Columns["amount"] != 3 || rep.Batch != "b-1" || rep.BatchState != "pending" ||
			rep.SourceRows != 1000 || rep.TargetRows != 998 || rep.Report != f.Replicas[0].Report || rep.Table != "public.orders" {
			t.Fatalf("replica read back as %+v", rep)
		}
		for _, secret := range []string{"s3cret", "hunter2", "topsecret"} {
			if strings.Contains(got.Error+rep.Error, secret) {
				t.Fatalf("stored message leaks %q: %q / %q", secret, got.Error, rep.Error)
			}
		}
		if !strings.Contains(got.Error, "postgres://app:xxxxx@db:5432/x failed") {
			t.Fatalf("message mangled: %q", got.Error)
		}
		if _, err := s.Get(ctx, "orders", "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get missing: %v, want ErrNotFound", err)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		s := open(t)
		if err := s.Start(ctx, Run{Outcome: Consistent}); err == nil ||
			!strings.Contains(err.Error(), "job is empty") || !strings.Contains(err.Error(), "id is empty") ||
			!strings.Contains(err.Error(), "started is not set") || !strings.Contains(err.Error(), "a started run is running") {
			t.Fatalf("Start of an invalid run: %v", err)
		}
		if err := s.Finish(ctx, sample("j", 0)); err == nil {
			t.Fatal("Finish with outcome running succeeded")
		}
		bad := finished(sample("j", 0))
		bad.Outcome = "fine"
		if err := s.Finish(ctx, bad); err == nil {
			t.Fatal("Finish with an unknown outcome succeeded")
		}
		jobs, err := s.Jobs(ctx)
		if err != nil || len(jobs) != 0 {
			t.Fatalf("invalid runs were stored: %v %v", jobs, err)
		}
	})

	t.Run("ListOrderLimitsJobs", func(t *testing.T) {
		s := open(t)
		for i := range 5 {
			for _, job := range []string{"a", "b"} {
				r := sample(job, i)
				if err := s.Start(ctx, r); err != nil {
					t.Fatal(err)
				}
				if i%2 == 0 {
					if err := s.Finish(ctx, finished(r)); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		all, err := s.List(ctx, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 10 {
			t.Fatalf("List: %d runs, want 10", len(all))
		}
		for i := 1; i < len(all); i++ {
			if !newer(all[i-1], all[i]) {
				t.Fatalf("List not newest first: %v", ids(all))
			}
		}
		a, err := s.List(ctx, ListOptions{Job: "a", Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"a/" + sample("a", 4).ID, "a/" + sample("a", 3).ID}
		if !slices.Equal(ids(a), want) {
			t.Fatalf("List a limit 2: %v, want %v", ids(a), want)
		}
		page, err := s.List(ctx, ListOptions{Job: "a", Limit: 2, Before: a[1].Started})
		if err != nil {
			t.Fatal(err)
		}
		want = []string{"a/" + sample("a", 2).ID, "a/" + sample("a", 1).ID}
		if !slices.Equal(ids(page), want) {
			t.Fatalf("List a before: %v, want %v", ids(page), want)
		}
		jobs, err := s.Jobs(ctx)
		if err != nil || !slices.Equal(jobs, []string{"a", "b"}) {
			t.Fatalf("Jobs: %v %v", jobs, err)
		}
	})

	t.Run("AbandonedAndPrune", func(t *testing.T) {
		s := open(t)
		for i := range 4 {
			r := sample("j", i)
			if err := s.Start(ctx, r); err != nil {
				t.Fatal(err)
			}
			if i != 0 && i != 3 {
				if err := s.Finish(ctx, finished(r)); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Run 0 was left running by a dead process; run 3 is running now.
		n, err := s.MarkAbandoned(ctx, sample("j", 3).Started)
		if err != nil || n != 1 {
			t.Fatalf("MarkAbandoned: %d %v, want 1", n, err)
		}
		r0, err := s.Get(ctx, "j", sample("j", 0).ID)
		if err != nil || r0.Outcome != Error || r0.Error != AbandonedMessage {
			t.Fatalf("abandoned run: %+v %v", r0, err)
		}
		r3, err := s.Get(ctx, "j", sample("j", 3).ID)
		if err != nil || r3.Outcome != Running {
			t.Fatalf("current run: %+v %v", r3, err)
		}
		if n, err := s.MarkAbandoned(ctx, sample("j", 3).Started); err != nil || n != 0 {
			t.Fatalf("MarkAbandoned again: %d %v, want 0", n, err)
		}
		if err := s.Start(ctx, sample("k", 0)); err != nil {
			t.Fatal(err)
		}
		if err := s.Finish(ctx, finished(sample("k", 0))); err != nil {
			t.Fatal(err)
		}
		// keep 1: run 3 (running) stays, as do k's only run; 2, 1, 0 go.
		n, err = s.Prune(ctx, 1)
		if err != nil || n != 3 {
			t.Fatalf("Prune: %d %v, want 3", n, err)
		}
		left, err := s.List(ctx, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"j/" + sample("j", 3).ID, "k/" + sample("k", 0).ID}
		if !slices.Equal(ids(left), want) {
			t.Fatalf("after Prune: %v, want %v", ids(left), want)
		}
		if _, err := s.Prune(ctx, -1); err == nil {
			t.Fatal("Prune(-1) succeeded")
		}
	})
}

func TestLocal(t *testing.T) {
	testStore(t, func(t *testing.T) store {
		l, err := OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestPostgres(t *testing.T) {
	testStore(t, func(t *testing.T) store {
		p, err := OpenPostgres(t.Context(), testdb.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	})
}

func TestLocalReopenKeepsHistory(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	odd := "nightly/orders ..x"
	for i := range 3 {
		r := sample(odd, i)
		if err := l.Start(ctx, r); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if err := l.Finish(ctx, finished(r)); err != nil {
				t.Fatal(err)
			}
		}
	}
	before, _ := l.List(ctx, ListOptions{})
	l2, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	after, err := l2.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(before), ids(after)) || len(after) != 3 || after[0].Outcome != Running || after[1].Replicas[0].Counts.Changed != 3 {
		t.Fatalf("after reopen: %v (%+v), want %v", ids(after), after, ids(before))
	}
	// Every file is inside dir/<escaped job>/.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "nightly%2Forders%20..x" {
		t.Fatalf("job folders: %v", entries)
	}
}

func TestLocalCorruptFiles(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := l.Finish(ctx, finished(sample("j", i))); err != nil {
			t.Fatal(err)
		}
	}
	bad := l.path("j", sample("j", 0).ID)
	if err := os.WriteFile(bad, []byte(`{"id": "2026-11-26T020000Z", "job": "j", "start`), 0o644); err != nil {
		t.Fatal(err)
	}
	wrongPlace := filepath.Join(dir, "j", "elsewhere.json")
	data, _ := os.ReadFile(l.path("j", sample("j", 1).ID))
	if err := os.WriteFile(wrongPlace, data, 0o644); err != nil {
		t.Fatal(err)
	}
	l2, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := l2.List(ctx, ListOptions{Job: "j"})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), wrongPlace) {
		t.Fatalf("List over corrupt files: %v, want errors naming %s and %s", err, bad, wrongPlace)
	}
	if len(got) != 1 || got[0].ID != sample("j", 1).ID {
		t.Fatalf("List over corrupt files returned %v, want the readable run", ids(got))
	}
	if _, err := l2.Get(ctx, "j", sample("j", 0).ID); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Get of a corrupt run: %v", err)
	}
	if n, err := l2.Prune(ctx, 0); err != nil || n != 1 {
		t.Fatalf("Prune: %d %v", n, err)
	}
	if _, err := os.Stat(bad); err != nil {
		t.Fatalf("Prune removed the corrupt file: %v", err)
	}
	// Finishing the run again replaces the corrupt file.
	if err := l2.Finish(ctx, finished(sample("j", 0))); err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Get(ctx, "j", sample("j", 0).ID); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresConcurrentWriters(t *testing.T) {
	ctx := t.Context()
	url := testdb.Postgres(t)
	var stores [2]*Postgres
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range stores {
		wg.Add(1)
		go func() { // both migrate at once
			defer wg.Done()
			p, err := OpenPostgres(ctx, url)
			stores[i] = p
			errs <- err
		}()
	}
	wg.Wait()
	for range stores {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range stores {
		t.Cleanup(p.Close)
	}
	for i, p := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 20 {
				r := sample(fmt.Sprintf("host%d", i), k)
				if err := p.Start(ctx, r); err != nil {
					errs <- err
					return
				}
				if err := p.Finish(ctx, finished(r)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Both try to start the same run: exactly one wins.
	shared := sample("shared", 0)
	results := make(chan error, 2)
	for _, p := range stores {
		go func() { results <- p.Start(ctx, shared) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e1, e2 := <-results, <-results
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("two Starts of one run: %v, %v; want exactly one error", e1, e2)
	}
	for _, p := range stores {
		all, err := p.List(ctx, ListOptions{})
		if err != nil || len(all) != 41 {
			t.Fatalf("List: %d runs %v, want 41", len(all), err)
		}
	}
}

func TestOpenPostgresRedactsPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := OpenPostgres(ctx, "postgres://app:s3cret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("OpenPostgres of an unreachable database: %v", err)
	}
}

func FuzzDecodeRun(f *testing.F) {
	good, _ := os.ReadFile("testdata/run.json")
	f.Add(good)
	f.Add([]byte(`{"id":"x","job":"j","started":"2026-11-26T02:00:00Z","outcome":"running"}`))
	f.Add([]byte(`{"id":"x","job":"j","started":"2026-11-26T02:00:00Z","outcome":"running"}}`))
	f.Add([]byte(`{"id":"x","job":"j","started":"2026-11-26T02:00:00Z","outcome":"ok","extra":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRun(data)
		if err != nil {
			return
		}
		if r.Job == "" || r.ID == "" || r.Started.IsZero() || !r.Outcome.Valid() {
			t.Fatalf("decodeRun accepted an invalid run: %+v", r)
		}
	})
}

func TestDecodeRunRejects(t *testing.T) {
	for _, in := range []string{
		``, `null`, `{}`, `[]`,
		`{"id":"x","job":"j","started":"2026-11-26T02:00:00Z","outcome":"running"}}`,
		`{"id":"x","job":"j","started":"2026-11-26T02:00:00Z","outcome":"running"} x`,
		`{"id":"x","job":"j","started":"2026-11-26T02:00:00Z","outcome":"ok"}`,
		`{"id":"x","job":"j","started":"2026-11-26T02:00:00Z","outcome":"running","surprise":1}`,
		`{"id":"x","job":"j","started":"2026-11-26T02:00:00Z","finished":"2026-11-26T01:00:00Z","outcome":"error"}`,
	} {
		if _, err := decodeRun([]byte(in)); err == nil {
			t.Errorf("decodeRun(%q) succeeded", in)
		}
	}
	good, err := os.ReadFile("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeRun(good); err != nil {
		t.Fatalf("testdata/run.json: %v", err)
	}
}
