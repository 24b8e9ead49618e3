package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/reconhq/reconcile/internal/testdb"
)

// chromium finds a Chromium to drive. Without one the browser test skips,
// unless RECONCILE_TEST_CHROMIUM is set (CI sets it after installing
// Debian's chromium), when a missing browser fails it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("RECONCILE_TEST_CHROMIUM") != "" {
		t.Fatal("RECONCILE_TEST_CHROMIUM is set but no chromium is on PATH: apt-get install chromium")
	}
	t.Skip("no chromium on PATH (set RECONCILE_TEST_CHROMIUM=1 to make this a failure)")
	return ""
}

// The review page end to end, in a real headless Chromium: reconcile serve
// shows last night's pending batch; an on-call person signed in with
// basic auth opens it, approves it, applies it, and sees its state change;
// the replica then agrees with the system of record and the fix
// operations are counted in /metrics. A screenshot of the batch page is
// kept in $RECONCILE_TEST_ARTIFACTS (or the test's temp folder).
func TestBrowserApprovesAndAppliesBatch(t *testing.T) {
	browser := chromium(t)
	db := testdb.Postgres(t)
	testdb.Exec(t, db,
		`create table a (id int primary key, email text)`, `create table b (id int primary key, email text)`,
		`insert into a select g, 'user' || g || '@example.com' from generate_series(1, 50) g`, `insert into b select * from a`,
		`update b set email = upper(email) where id in (7, 21)`, `delete from b where id = 30`)
	hash, err := bcrypt.GenerateFromPassword([]byte("on-call-password"), 10)
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "reconcile.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store: %s
systems:
  billing: {url: %q}
  crm: {url: %q}
serve:
  users:
    - {name: alice, password_hash: %q}
jobs:
  nightly:
    schedule: "0 2 * * *"
    system_of_record: {system: billing, table: public.a}
    replicas: [{system: crm, table: public.b}]
    key: [id]
`, store, db, db, hash)), 0o644)
	if code, out, errs := runCLI(t, "run", "nightly", "--config", cfg); code != exitDifferences {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errs)
	}

	stderr := &syncBuffer{}
	e := &env{stdout: io.Discard, stderr: stderr, registry: newRegistry(), isTerminal: func(io.Writer) bool { return false }}
	o := &serveOptions{config: cfg, lookup: os.LookupEnv, now: time.Now, reload: make(chan os.Signal)}
	base, stop := startServe(t, e, o, stderr)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	// Without credentials the page asks for them, and a decision is refused.
	if resp, err := http.Get(base + "/"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET / without credentials: %v %v", err, resp)
	}

	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1400))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), allocOpts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	defer cancelTimeout()

	creds := base64.StdEncoding.EncodeToString([]byte("alice:on-call-password"))
	// The browser sends the credentials on every request, as it would
	// after its sign-in prompt.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Authorization": "Basic " + creds}}); err != nil {
		t.Fatal(err)
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v\n%s", sel, err, stderr)
		}
		return strings.TrimSpace(v)
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			t.Fatalf("browser: %s: %v\n%s", what, err, stderr)
		}
	}
	step("open the jobs page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#pending a")))
	batchID, who := text("#pending a"), text("#who")
	step("open the pending batch", chromedp.Click(chromedp.CSS("#pending a")), chromedp.WaitVisible(chromedp.CSS("#approve")))
	step("approve it", chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#approved-by")))
	if state, by := text("#state"), text("#approved-by"); who != "alice" || state != "approved" || !strings.HasPrefix(by, "by alice") {
		t.Errorf("after approving: signed in as %q, state %q, %q", who, state, by)
	}
	step("apply it", chromedp.Click(chromedp.CSS("#apply")), chromedp.WaitVisible(chromedp.CSS("#outcome")))
	if state, outcome := text("#state"), text("#outcome"); state != "applied" ||
		!strings.HasPrefix(outcome, "3 applied, 0 already applied, 0 conflict(s), 0 error(s), 0 not run · by alice") {
		t.Errorf("after applying: state %q, outcome %q", state, outcome)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("RECONCILE_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, "batch-page-applied.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of batch %s: %s", batchID, png)

	// The replica agrees now, and the metrics count what the page applied.
	if code, out, errs := runCLI(t, "diff", db, db, "--source-table", "public.a", "--target-table", "public.b"); code != 0 {
		t.Errorf("diff after apply: exit %d\n%s%s", code, out, errs)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`reconcile_fix_operations_total{job="nightly",outcome="applied",system="crm"} 3`,
		`reconcile_batches{job="nightly",state="applied"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
