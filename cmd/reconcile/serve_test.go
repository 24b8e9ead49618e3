package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/reconhq/reconcile/internal/testdb"
	"github.com/reconhq/reconcile/runs"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs runServe with o in the background and returns its base
// URL and stop, which cancels it and returns its error.
func startServe(t *testing.T, e *env, o *serveOptions, stderr *syncBuffer) (base string, stop func() error) {
	t.Helper()
	addr := make(chan string, 1)
	o.listen = "127.0.0.1:0"
	o.onListen = func(a string) { addr <- a }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, e, o) }()
	select {
	case a := <-addr:
		return "http://" + a, func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatalf("serve stopped: %v\n%s", err, stderr)
	}
	return "", nil
}

// reconcile serve on the real PostgreSQL, driven by a fake clock: the job
// runs at its cron time, the run history, the batches and the metrics
// show it over HTTP, a reload that does not validate keeps the running
// config, and stopping cancels nothing that is not running.
func TestServePostgres(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.Exec(t, db,
		`create table a (id int primary key, v text)`, `create table b (id int primary key, v text)`,
		`insert into a select g, 'v' || g from generate_series(1, 100) g`, `insert into b select * from a`,
		`update b set v = 'x' where id = 7`)
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	config := fmt.Sprintf(`store: %s
systems:
  s: {url: %q}
jobs:
  nightly:
    schedule: "0 2 * * *"
    system_of_record: {system: s, table: public.a}
    replicas: [{system: s, table: public.b}]
    key: [id]
`, store, db)
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	fc := clockwork.NewFakeClockAt(time.Date(2026, 11, 27, 1, 58, 30, 0, time.UTC))
	reload := make(chan os.Signal, 1)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	e := &env{stdout: stdout, stderr: stderr, registry: newRegistry(), isTerminal: func(io.Writer) bool { return false }}
	o := &serveOptions{config: cfg, lookup: os.LookupEnv, now: fc.Now, clock: fc, reload: reload}
	base, stop := startServe(t, e, o, stderr)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	// Ready once the jobs are scheduled.
	deadline := time.Now().Add(30 * time.Second)
	for code, _ := get("/readyz"); code != http.StatusOK; code, _ = get("/readyz") {
		if time.Now().After(deadline) {
			t.Fatalf("never ready\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The clock passes 02:00: the job runs once.
	var list struct{ Runs []runs.Run }
	for {
		fc.Advance(30 * time.Second)
		_, body := get("/api/runs?job=nightly")
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("/api/runs: %v\n%s", err, body)
		}
		if len(list.Runs) > 0 && list.Runs[0].Outcome != runs.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job never ran\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := list.Runs[0]
	if r.Outcome != runs.Differences || len(r.Replicas) != 1 || r.Replicas[0].Counts.Changed != 1 || r.Replicas[0].Batch == "" {
		t.Errorf("the run: %+v\n%s", r, stderr)
	}
	// The metrics and the log line follow the history by a moment.
	for !strings.Contains(stderr.String(), "job nightly run") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line for the run:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, metricsText := get("/metrics")
	for _, want := range []string{
		`reconcile_differences{job="nightly",kind="changed",system="s"} 1`,
		`reconcile_batches{job="nightly",state="pending"} 1`,
		`reconcile_last_run_timestamp_seconds{job="nightly",outcome="differences"}`,
	} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, body := get("/api/batches?job=nightly"); !strings.Contains(body, r.Replicas[0].Batch) || !strings.Contains(body, `"state": "pending"`) {
		t.Errorf("/api/batches:\n%s", body)
	}
	if code, _ := get("/api/runs?limit=x"); code != http.StatusBadRequest {
		t.Errorf("/api/runs?limit=x: %d", code)
	}

	// A reload that does not validate keeps the running config.
	if err := os.WriteFile(cfg, []byte(config+"    bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reload <- os.Interrupt
	for !strings.Contains(stderr.String(), "kept the running config") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload message:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Errorf("not ready after a failed reload")
	}

	if err := stop(); err != nil {
		t.Errorf("serve: %v\n%s", err, stderr)
	}
}

// Stopping the server (SIGTERM) while a job runs cancels the job through
// its context, and the history records it as cancelled, never clean.
func TestServeStopCancelsRunningJob(t *testing.T) {
	db := testdb.Postgres(t)
	testdb.Exec(t, db, `create table a (id int primary key, v text)`, `insert into a values (1, 'x')`)
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store: %s
systems:
  s1: {url: %q}
  s2: {url: %q}
jobs:
  slow:
    schedule: "@hourly"
    system_of_record: {system: s1, query: "SELECT a.* FROM a, (SELECT pg_sleep(60)) s"}
    replicas: [{system: s2, table: public.a}]
    key: [id]
`, store, db, db)), 0o644)
	fc := clockwork.NewFakeClockAt(time.Date(2026, 11, 27, 1, 59, 50, 0, time.UTC))
	stderr := &syncBuffer{}
	e := &env{stdout: io.Discard, stderr: stderr, registry: newRegistry(), isTerminal: func(io.Writer) bool { return false }}
	o := &serveOptions{config: cfg, lookup: os.LookupEnv, now: fc.Now, clock: fc, reload: make(chan os.Signal)}
	_, stop := startServe(t, e, o, stderr)
	hist := filepath.Join(store, "history")
	deadline := time.Now().Add(30 * time.Second)
	for {
		fc.Advance(5 * time.Second)
		h, err := runs.OpenLocal(hist)
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := h.List(context.Background(), runs.ListOptions{Job: "slow"})
		if len(rs) > 0 && rs[0].Outcome == runs.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job never started\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Errorf("serve: %v", err)
	}
	h, err := runs.OpenLocal(hist)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := h.List(context.Background(), runs.ListOptions{Job: "slow"})
	if err != nil || len(rs) != 1 || rs[0].Outcome != runs.Cancelled {
		t.Errorf("history after stop: %v %+v\n%s", err, rs, stderr)
	}
}
