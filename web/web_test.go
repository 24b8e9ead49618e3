package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
	"github.com/reconhq/reconcile/runs"
)

var t0 = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

// fixture is a store with one run (its report on disk) and one pending
// batch, served by a handler.
type fixture struct {
	h       *Handler
	srv     *httptest.Server
	store   string
	batch   string
	run     runs.Run
	applied []string // "id by" of each call of Options.Apply
}

const (
	alicePW = "correct horse battery staple"
	botTok  = "0123456789abcdef0123456789abcdef"
)

func newFixture(t *testing.T, access Access, withApply bool) *fixture {
	t.Helper()
	f := &fixture{store: t.TempDir()}
	hist, err := runs.OpenLocal(filepath.Join(f.store, "history"))
	if err != nil {
		t.Fatal(err)
	}
	ops := []batches.Op{
		{Kind: connectors.OpUpdate, Key: []batches.Cell{{Column: "id", Value: reconcile.AppendInt(nil, 1)}},
			Set:    []batches.Cell{{Column: "email", Value: reconcile.AppendText(nil, "a@x")}},
			Expect: []batches.Cell{{Column: "email", Value: reconcile.AppendText(nil, "<script>alert(1)</script>")}}, Rule: "email: newest"},
		{Kind: connectors.OpInsert, Key: []batches.Cell{{Column: "id", Value: reconcile.AppendInt(nil, 2)}},
			Set: []batches.Cell{{Column: "id", Value: reconcile.AppendInt(nil, 2)}, {Column: "email", Value: reconcile.AppendText(nil, "b@x")}}, Rule: "missing: insert"},
	}
	b, err := batches.Create(filepath.Join(f.store, "batches"), batches.Spec{
		Job: "customers", Dialect: "postgres",
		Target: batches.Location{System: "crm", Table: "public.accounts"},
		Source: batches.Location{System: "billing", Table: "public.customers"},
		Key:    []string{"id"}, RunID: "run-1", Now: t0,
		Limits: batches.Limits{TargetRows: 100, SourceRows: 100},
	}, ops)
	if err != nil {
		t.Fatal(err)
	}
	f.batch = b.Manifest.ID

	report := filepath.Join(f.store, "runs", "customers", "run-1", "crm.json")
	os.MkdirAll(filepath.Dir(report), 0o755)
	var diffs []string
	for i := 1; i <= 120; i++ {
		diffs = append(diffs, fmt.Sprintf(`{"kind":"changed","key":{"id":%d},"columns":["email"],"source":{"email":"s%d"},"target":{"email":"t%d"}}`, i, i, i))
	}
	if err := os.WriteFile(report, []byte(`{"version":1,"source_name":"billing","target_name":"crm","differences":[`+strings.Join(diffs, ",")+
		`],"source":{"name":"billing","rows":100,"checksum":"00000000000000aa","columns":{}},"target":{"name":"crm","rows":100,"checksum":"00000000000000bb","columns":{}},`+
		`"key":["id"],"compared":["email","id"],"schema":{"only_in_source":[],"only_in_target":["owner"],"type_mismatch":[]},`+
		`"summary":{"matched":0,"missing":0,"extra":0,"changed":120,"duplicate":0,"null_key":0},"columns":{"email":{"changed":120}},`+
		`"plan":{"algorithm":"merge","elapsed_seconds":0.01},"complete":true,"verdict":"differences","exit_code":1,"error":null}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f.run = runs.Run{ID: "run-1", Job: "customers", Started: t0, Outcome: runs.Running}
	ctx := context.Background()
	if err := hist.Start(ctx, f.run); err != nil {
		t.Fatal(err)
	}
	f.run.Finished, f.run.Outcome = t0.Add(3*time.Second), runs.Differences
	f.run.Replicas = []runs.Replica{{System: "crm", Table: "public.accounts", SourceRows: 100, TargetRows: 100,
		Counts: runs.Counts{Changed: 120}, Report: report, Batch: f.batch, BatchState: "pending"}}
	if err := hist.Finish(ctx, f.run); err != nil {
		t.Fatal(err)
	}
	// A failed run, and one whose report path lies outside the store.
	failed := runs.Run{ID: "run-0", Job: "customers", Started: t0.Add(-24 * time.Hour), Outcome: runs.Running}
	hist.Start(ctx, failed)
	failed.Outcome, failed.Error, failed.Finished = runs.Error, "connect: refused", failed.Started.Add(time.Second)
	failed.Replicas = []runs.Replica{{System: "crm", Report: "/etc/passwd"}}
	hist.Finish(ctx, failed)

	o := Options{
		Jobs:    func() []Job { return []Job{{Name: "customers", Schedule: "0 2 * * *", Replicas: []string{"crm"}}} },
		History: hist, Batches: filepath.Join(f.store, "batches"), Reports: filepath.Join(f.store, "runs"),
		Access: access, Now: func() time.Time { return t0.Add(time.Hour) },
	}
	if withApply {
		o.Apply = func(ctx context.Context, id, by string) (*batches.Report, error) {
			f.applied = append(f.applied, id+" "+by)
			return &batches.Report{Outcome: batches.Outcome{Applied: 2}}, nil
		}
	}
	f.h, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.h)
	t.Cleanup(f.srv.Close)
	return f
}

func hashOf(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func usersAccess(t *testing.T) Access {
	return Access{Users: map[string]string{"alice": hashOf(t, alicePW)}, Tokens: map[string]string{"bot": botTok}}
}

// do sends a request; auth is "alice", "bot", "wrong" or "".
func (f *fixture) do(t *testing.T, method, path, auth string, form url.Values, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	switch auth {
	case "alice":
		req.SetBasicAuth("alice", alicePW)
	case "wrong":
		req.SetBasicAuth("alice", "not it")
	case "nobody":
		req.SetBasicAuth("mallory", alicePW)
	case "bot":
		req.Header.Set("Authorization", "Bearer "+botTok)
	case "badtoken":
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 32))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (f *fixture) state(t *testing.T) batches.Manifest {
	t.Helper()
	b, err := batches.Open(filepath.Join(f.store, "batches"), f.batch)
	if err != nil {
		t.Fatal(err)
	}
	return b.Manifest
}

func TestReadsNeedCredentialsWhenConfigured(t *testing.T) {
	f := newFixture(t, usersAccess(t), false)
	for _, path := range []string{"/", "/jobs/customers", "/runs/customers/run-1", "/batches", "/batches/" + f.batch, "/api/runs", "/api/batches", "/api/batches/" + f.batch, "/api/runs/customers/run-1"} {
		code, _, hdr := f.do(t, "GET", path, "", nil, nil)
		if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("GET %s without credentials: %d %q", path, code, hdr.Get("WWW-Authenticate"))
		}
		for _, who := range []string{"wrong", "nobody", "badtoken"} {
			if code, _, _ := f.do(t, "GET", path, who, nil, nil); code != http.StatusUnauthorized {
				t.Errorf("GET %s as %s: %d", path, who, code)
			}
		}
		for _, who := range []string{"alice", "bot"} {
			if code, body, _ := f.do(t, "GET", path, who, nil, nil); code != http.StatusOK {
				t.Errorf("GET %s as %s: %d\n%s", path, who, code, body)
			}
		}
	}
	// Static files need no credentials.
	if code, _, _ := f.do(t, "GET", "/static/style.css", "", nil, nil); code != http.StatusOK {
		t.Errorf("style.css: %d", code)
	}
}

func TestPublicReadStillGuardsDecisions(t *testing.T) {
	a := usersAccess(t)
	a.PublicRead = true
	f := newFixture(t, a, false)
	code, body, _ := f.do(t, "GET", "/batches/"+f.batch, "", nil, nil)
	if code != http.StatusOK || !strings.Contains(body, `id="sign-in-to-decide"`) || strings.Contains(body, `id="approve"`) {
		t.Errorf("public batch page: %d\n%s", code, body)
	}
	// Wrong credentials are refused even where none are needed.
	if code, _, _ := f.do(t, "GET", "/", "wrong", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("wrong credentials on a public page: %d", code)
	}
	for _, path := range []string{"/batches/" + f.batch + "/approve", "/batches/" + f.batch + "/reject", "/api/batches/" + f.batch + "/approve"} {
		if code, _, _ := f.do(t, "POST", path, "", url.Values{"csrf": {"x"}}, nil); code != http.StatusUnauthorized {
			t.Errorf("POST %s without credentials: %d", path, code)
		}
	}
	if m := f.state(t); m.State != batches.Pending || len(m.Approvals) != 0 {
		t.Errorf("the batch changed: %+v", m)
	}
}

func TestApproveWithFormNeedsCSRFToken(t *testing.T) {
	f := newFixture(t, usersAccess(t), false)
	approve := "/batches/" + f.batch + "/approve"
	// No credentials: 401 and nothing changes.
	if code, _, _ := f.do(t, "POST", approve, "", url.Values{}, nil); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d", code)
	}
	// Credentials without the form's token (a forged form): 403.
	if code, _, _ := f.do(t, "POST", approve, "alice", url.Values{}, nil); code != http.StatusForbidden {
		t.Errorf("no csrf token: %d", code)
	}
	if code, _, _ := f.do(t, "POST", approve, "alice", url.Values{"csrf": {f.h.csrf.token("bob")}}, nil); code != http.StatusForbidden {
		t.Errorf("another user's csrf token: %d", code)
	}
	// A cross-site request is refused even with a valid token.
	tok := f.h.csrf.token("alice")
	if code, _, _ := f.do(t, "POST", approve, "alice", url.Values{"csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
		t.Errorf("cross-site: %d", code)
	}
	if code, _, _ := f.do(t, "POST", approve, "alice", url.Values{"csrf": {tok}}, map[string]string{"Origin": "https://evil.example"}); code != http.StatusForbidden {
		t.Errorf("foreign origin: %d", code)
	}
	if m := f.state(t); m.State != batches.Pending {
		t.Fatalf("refused requests changed the batch: %s", m.State)
	}
	// The page's own form: the token it renders works.
	_, page, _ := f.do(t, "GET", "/batches/"+f.batch, "alice", nil, nil)
	if !strings.Contains(page, `value="`+tok+`"`) {
		t.Fatalf("the batch page lacks the csrf token")
	}
	code, _, hdr := f.do(t, "POST", approve, "alice", url.Values{"csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/batches/"+f.batch+"?done=approve" {
		t.Fatalf("approve: %d %s", code, hdr.Get("Location"))
	}
	m := f.state(t)
	if m.State != batches.Approved || len(m.Approvals) != 1 || m.Approvals[0].By != "alice" || m.Approvals[0].SHA256 != m.SHA256 {
		t.Errorf("after approve: %+v", m)
	}
	// Approving twice is a conflict, shown on the page.
	code, body, _ := f.do(t, "POST", approve, "alice", url.Values{"csrf": {tok}}, nil)
	if code != http.StatusConflict || !strings.Contains(body, "not pending") {
		t.Errorf("second approve: %d\n%s", code, body)
	}
	// Without Options.Apply the page says how to apply.
	_, page, _ = f.do(t, "GET", "/batches/"+f.batch, "alice", nil, nil)
	if strings.Contains(page, `id="apply"`) || !strings.Contains(page, `id="approved-by">by alice`) {
		t.Errorf("approved batch page:\n%s", page)
	}
	if code, _, _ := f.do(t, "POST", "/batches/"+f.batch+"/apply", "alice", url.Values{"csrf": {tok}}, nil); code != http.StatusNotImplemented {
		t.Errorf("apply without Options.Apply: %d", code)
	}
}

func TestAPIDecisionsWithBearerToken(t *testing.T) {
	f := newFixture(t, usersAccess(t), true)
	reject := "/api/batches/" + f.batch + "/reject"
	if code, _, _ := f.do(t, "POST", reject, "badtoken", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	// The API needs no form token but refuses cross-site requests.
	if code, _, _ := f.do(t, "POST", reject, "bot", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
		t.Errorf("cross-site API call: %d", code)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+reject, strings.NewReader(`{"reason":"wrong table"}`))
	req.Header.Set("Authorization", "Bearer "+botTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Message string
		Batch   batches.Manifest
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || out.Batch.State != batches.Rejected || out.Batch.Rejection == nil ||
		out.Batch.Rejection.By != "token:bot" || out.Batch.Rejection.Reason != "wrong table" {
		t.Errorf("reject: %d %+v", resp.StatusCode, out)
	}
	// A rejected batch can be neither approved nor applied.
	code, body, _ := f.do(t, "POST", "/api/batches/"+f.batch+"/approve", "bot", nil, nil)
	if code != http.StatusConflict || !strings.Contains(body, "not pending") {
		t.Errorf("approve after reject: %d %s", code, body)
	}
	if code, body, _ := f.do(t, "POST", "/api/batches/no-such-batch/approve", "bot", nil, nil); code != http.StatusNotFound {
		t.Errorf("unknown batch: %d %s", code, body)
	}
}

func TestApplyFromTheWeb(t *testing.T) {
	f := newFixture(t, usersAccess(t), true)
	b, _ := batches.Open(filepath.Join(f.store, "batches"), f.batch)
	if err := b.Approve("carol", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, page, _ := f.do(t, "GET", "/batches/"+f.batch, "alice", nil, nil)
	if !strings.Contains(page, `id="apply"`) || strings.Contains(page, `id="approve"`) {
		t.Errorf("approved batch page lacks the apply button:\n%s", page)
	}
	code, _, hdr := f.do(t, "POST", "/batches/"+f.batch+"/apply", "alice", url.Values{"csrf": {f.h.csrf.token("alice")}}, nil)
	if code != http.StatusSeeOther || !strings.HasSuffix(hdr.Get("Location"), "?done=apply") {
		t.Errorf("apply: %d %s", code, hdr.Get("Location"))
	}
	if len(f.applied) != 1 || f.applied[0] != f.batch+" alice" {
		t.Errorf("Apply calls: %q", f.applied)
	}
}

func TestNoAccessConfigured(t *testing.T) {
	f := newFixture(t, Access{}, true)
	if code, _, _ := f.do(t, "GET", "/", "", nil, nil); code != http.StatusOK {
		t.Errorf("open read: %d", code)
	}
	code, body, _ := f.do(t, "POST", "/batches/"+f.batch+"/approve", "", url.Values{}, nil)
	if code != http.StatusUnauthorized || !strings.Contains(body, "serve.users") {
		t.Errorf("approve with no users configured: %d %s", code, body)
	}
	_, page, _ := f.do(t, "GET", "/batches/"+f.batch, "", nil, nil)
	if !strings.Contains(page, "reconcile batch approve "+f.batch) {
		t.Errorf("the page does not say how to decide without users:\n%s", page)
	}
	if m := f.state(t); m.State != batches.Pending {
		t.Errorf("state %s", m.State)
	}
}

func TestPagesShowTheData(t *testing.T) {
	f := newFixture(t, usersAccess(t), false)
	_, jobs, _ := f.do(t, "GET", "/", "alice", nil, nil)
	for _, want := range []string{`id="job-customers"`, f.batch, "<svg", `class="differences"`, `class="error"`, "120 differences"} {
		if !strings.Contains(jobs, want) {
			t.Errorf("jobs page lacks %q", want)
		}
	}
	_, batch, _ := f.do(t, "GET", "/batches/"+f.batch, "alice", nil, nil)
	if strings.Contains(batch, "<script>alert") || !strings.Contains(batch, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("a value is not escaped on the batch page")
	}
	for _, want := range []string{"email: newest", "missing: insert", `id="approve"`} {
		if !strings.Contains(batch, want) {
			t.Errorf("batch page lacks %q", want)
		}
	}
	_, run, _ := f.do(t, "GET", "/runs/customers/run-1", "alice", nil, nil)
	for _, want := range []string{"120 listed", "page 1 of 3", "id=1<", "&#34;s50&#34;", "only in target: owner", "?replica=0&page=1"} {
		if !strings.Contains(run, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	if strings.Contains(run, "&#34;s51&#34;") {
		t.Errorf("run page lists more than a page")
	}
	_, run3, _ := f.do(t, "GET", "/runs/customers/run-1?page=2", "alice", nil, nil)
	if !strings.Contains(run3, "&#34;s120&#34;") || strings.Contains(run3, "&#34;s100&#34;") {
		t.Errorf("page 3 of the differences is wrong")
	}
	_, failed, _ := f.do(t, "GET", "/runs/customers/run-0", "alice", nil, nil)
	if !strings.Contains(failed, "lies outside the store") || strings.Contains(failed, "root:") {
		t.Errorf("a report outside the store was read or not flagged:\n%s", failed)
	}
	for path, want := range map[string]int{"/runs/customers/nope": 404, "/jobs/nope": 404, "/batches/nope": 404, "/batches/" + f.batch + "?page=x": 400, "/api/runs?limit=0": 400} {
		if code, _, _ := f.do(t, "GET", path, "alice", nil, nil); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
	var api struct {
		Total int
		Ops   []struct {
			Seq  int
			Kind string
			Set  []struct {
				Column string
				Value  any
			}
		}
	}
	_, body, _ := f.do(t, "GET", "/api/batches/"+f.batch+"?offset=1&limit=1", "alice", nil, nil)
	if err := json.Unmarshal([]byte(body), &api); err != nil || api.Total != 2 || len(api.Ops) != 1 || api.Ops[0].Seq != 2 || api.Ops[0].Kind != "insert" {
		t.Errorf("/api/batches/ID: %v %+v\n%s", err, api, body)
	}
}

func TestLoginRedirectsOnlyToThisSite(t *testing.T) {
	f := newFixture(t, usersAccess(t), false)
	if code, _, _ := f.do(t, "GET", "/login?next=/batches", "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("login without credentials: %d", code)
	}
	for next, want := range map[string]string{"/batches": "/batches", "/batches?state=pending": "/batches?state=pending",
		"//evil.example/": "/", "https://evil.example/": "/", `/\evil`: "/", "/\t/evil.example": "/", "/\n/evil.example": "/",
		"/\r\n/evil.example": "/", "javascript:alert(1)": "/", "": "/", "batches": "/"} {
		_, _, hdr := f.do(t, "GET", "/login?next="+url.QueryEscape(next), "alice", nil, nil)
		if got := hdr.Get("Location"); got != want {
			t.Errorf("login next=%s: Location %q, want %q", next, got, want)
		}
	}
}

func TestSetAccessTakesEffect(t *testing.T) {
	f := newFixture(t, usersAccess(t), false)
	f.h.SetAccess(Access{Users: map[string]string{"bob": hashOf(t, "pw-of-bob-123")}})
	if code, _, _ := f.do(t, "GET", "/", "alice", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("a removed user still reads: %d", code)
	}
}

func TestReadReportRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"array": `[1,2]`, "truncated": `{"differences":[{"kind":"changed"`, "diffs not array": `{"differences":3}`, "bad summary": `{"summary":"x"}`, "empty": ``} {
		p := filepath.Join(dir, "r.json")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := readReport(p, 0, 10); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzReadReport(f *testing.F) {
	f.Add([]byte(`{"differences":[{"kind":"missing","key":{"id":1},"source":{"id":1}}],"summary":{"matched":1}}`), 0, 5)
	f.Add([]byte(`{"differences":[]}`), 3, 1)
	f.Fuzz(func(t *testing.T, data []byte, offset, n int) {
		offset, n = max(offset, 0)%1000, max(n, 0)%1000
		rep, err := decodeReport(bytes.NewReader(data), "r.json", offset, n, nil)
		if err != nil {
			return
		}
		if len(rep.Differences) > n || rep.Listed < len(rep.Differences) {
			t.Fatalf("page of %d from %d: %d differences of %d listed", n, offset, len(rep.Differences), rep.Listed)
		}
		for _, d := range rep.Differences {
			_ = d.KeyText()
			_ = d.Fields()
		}
		_ = rep.drift()
	})
}

func TestChartMarksFailedRuns(t *testing.T) {
	rs := []runs.Run{
		{Started: t0.Add(2 * time.Hour), Outcome: runs.Error},
		{Started: t0.Add(time.Hour), Outcome: runs.Consistent},
		{Started: t0, Outcome: runs.Differences, Replicas: []runs.Replica{{Counts: runs.Counts{Changed: 10}}}},
	}
	c := drawChart(rs, 300, 100)
	if len(c.Bars) != 3 || c.Max != 10 {
		t.Fatalf("%+v", c)
	}
	// Oldest first: the differences run is the tallest ordinary bar, the
	// clean run a thin line, the failed run a full-height marker.
	if c.Bars[0].Class != "differences" || c.Bars[0].H != 98 || c.Bars[1].H != 2 || c.Bars[2].Class != "error" || c.Bars[2].H != 98 {
		t.Errorf("%+v", c.Bars)
	}
	if !drawChart(nil, 10, 10).Empty {
		t.Errorf("no runs is not empty")
	}
}

// An API call signed in with basic auth must be JSON: a forged
// cross-site form cannot send that type.
func TestAPIBasicAuthNeedsJSON(t *testing.T) {
	f := newFixture(t, usersAccess(t), false)
	approve := "/api/batches/" + f.batch + "/approve"
	code, body, _ := f.do(t, "POST", approve, "alice", url.Values{}, nil)
	if code != http.StatusUnsupportedMediaType || !strings.Contains(body, "application/json") {
		t.Errorf("form-encoded API call with basic auth: %d %s", code, body)
	}
	if m := f.state(t); m.State != batches.Pending {
		t.Fatalf("state %s", m.State)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+approve, strings.NewReader(`{}`))
	req.SetBasicAuth("alice", alicePW)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if m := f.state(t); resp.StatusCode != http.StatusOK || m.State != batches.Approved || m.Approvals[0].By != "alice" {
		t.Errorf("JSON API call with basic auth: %d, %+v", resp.StatusCode, m)
	}
	// A refused API call answers JSON.
	code, body, hdr := f.do(t, "POST", approve, "", nil, nil)
	if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") || !strings.Contains(body, `"error"`) {
		t.Errorf("API 401: %d %s %s", code, hdr.Get("Content-Type"), body)
	}
}

// A batch folder that cannot be read leaves the others listed, with a
// problem that names it.
func TestCorruptBatchDoesNotHideTheOthers(t *testing.T) {
	f := newFixture(t, usersAccess(t), false)
	bad := filepath.Join(f.store, "batches", "2026-11-27T0100-customers-crm")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, batches.ManifestFile), []byte("{not json"), 0o644)
	for _, path := range []string{"/", "/batches", "/jobs/customers"} {
		code, body, _ := f.do(t, "GET", path, "alice", nil, nil)
		if code != http.StatusOK || !strings.Contains(body, f.batch) || !strings.Contains(body, "2026-11-27T0100-customers-crm") || !strings.Contains(body, `id="problem"`) {
			t.Errorf("GET %s: %d\n%s", path, code, body)
		}
	}
	code, body, _ := f.do(t, "GET", "/api/batches", "alice", nil, nil)
	if code != http.StatusOK || !strings.Contains(body, f.batch) || !strings.Contains(body, `"error"`) {
		t.Errorf("/api/batches: %d %s", code, body)
	}
}

// States are shown as of now: a pending batch past its expiry is expired,
// not waiting for a decision; a failed one can be applied again.
func TestEffectiveStates(t *testing.T) {
	f := newFixture(t, usersAccess(t), true)
	f.h.o.Now = func() time.Time { return t0.Add(48 * time.Hour) }
	_, body, _ := f.do(t, "GET", "/", "alice", nil, nil)
	if strings.Contains(body, `<table id="pending">`) {
		t.Errorf("an expired batch is listed as waiting:\n%s", body)
	}
	_, body, _ = f.do(t, "GET", "/api/batches?state=expired", "alice", nil, nil)
	if !strings.Contains(body, f.batch) {
		t.Errorf("?state=expired misses the batch: %s", body)
	}
	f.h.o.Now = func() time.Time { return t0.Add(time.Hour) }
	b, _ := batches.Open(filepath.Join(f.store, "batches"), f.batch)
	if err := b.Approve("carol", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	b.Manifest.State = batches.Failed
	b.Manifest.Outcome = &batches.Outcome{NotRun: 2, Started: t0.Add(2 * time.Minute), Message: "connect: refused"}
	raw, _ := json.Marshal(b.Manifest)
	os.WriteFile(filepath.Join(b.Dir, batches.ManifestFile), raw, 0o644)
	_, body, _ = f.do(t, "GET", "/batches/"+f.batch, "alice", nil, nil)
	if !strings.Contains(body, `id="apply"`) {
		t.Errorf("a failed batch offers no apply:\n%s", body)
	}
}

// Links carry job names with spaces and other characters intact.
func TestJobNamesInLinks(t *testing.T) {
	f := newFixture(t, usersAccess(t), false)
	f.h.o.Jobs = func() []Job { return []Job{{Name: "my job/ü", Replicas: []string{"crm"}}} }
	_, body, _ := f.do(t, "GET", "/", "alice", nil, nil)
	if !strings.Contains(body, `href="/jobs/my%20job%2f%c3%bc"`) && !strings.Contains(body, `href="/jobs/my%20job%2F%C3%BC"`) {
		t.Errorf("job link:\n%s", body)
	}
	if code, _, _ := f.do(t, "GET", "/jobs/my%20job%2F%C3%BC", "alice", nil, nil); code != http.StatusOK {
		t.Errorf("job page of an odd name: %d", code)
	}
}

// With tokens only, the page offers no sign-in a browser could use.
func TestTokensOnly(t *testing.T) {
	f := newFixture(t, Access{PublicRead: true, Tokens: map[string]string{"bot": botTok}}, false)
	_, body, _ := f.do(t, "GET", "/batches/"+f.batch, "", nil, nil)
	if strings.Contains(body, "Sign in") {
		t.Errorf("tokens only, the page offers a sign-in")
	}
	if code, _, _ := f.do(t, "GET", "/login", "", nil, nil); code != http.StatusNotFound {
		t.Errorf("/login with tokens only: %d", code)
	}
	code, _, hdr := f.do(t, "POST", "/api/batches/"+f.batch+"/approve", "", nil, nil)
	if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 with tokens only: %d %q", code, hdr.Get("WWW-Authenticate"))
	}
}

// A password changed in the config takes effect on reload: the old one
// stops working even though it was remembered as verified.
func TestPasswordChangeOnReload(t *testing.T) {
	f := newFixture(t, usersAccess(t), false)
	if code, _, _ := f.do(t, "GET", "/", "alice", nil, nil); code != http.StatusOK {
		t.Fatalf("before: %d", code)
	}
	f.h.SetAccess(Access{Users: map[string]string{"alice": hashOf(t, "a brand new password")}})
	if code, _, _ := f.do(t, "GET", "/", "alice", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("the old password still works: %d", code)
	}
}

// The pages of a report after the first read come from its index, and
// say the same as a full read; a report rewritten since is read again.
func TestReportIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	write := func(n int, tag string) {
		var diffs []string
		for i := 1; i <= n; i++ {
			diffs = append(diffs, fmt.Sprintf(`{"kind":"changed","key":{"id":%d},"columns":["c"],"source":{"c":"%s%d"},"target":{"c":"t"}}`, i, tag, i))
		}
		if err := os.WriteFile(path, []byte("{\"differences\": [\n  "+strings.Join(diffs, ",\n  ")+"\n ],\n \"summary\": {\"changed\": "+fmt.Sprint(n)+"}}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(120, "s")
	first := func(r *report) string { return string(r.Differences[0].Source["c"]) }
	for _, round := range []string{"scan", "index"} {
		for page, want := range []string{`"s1"`, `"s51"`, `"s101"`} {
			r, err := readReport(path, page*50, 50)
			if err != nil {
				t.Fatalf("%s, page %d: %v", round, page, err)
			}
			if r.Listed != 120 || first(r) != want || r.Summary["changed"] != 120 || len(r.Differences) != min(50, 120-page*50) {
				t.Errorf("%s, page %d: listed %d, first %s, %d differences", round, page, r.Listed, first(r), len(r.Differences))
			}
		}
		if r, err := readReport(path, 150, 50); err != nil || len(r.Differences) != 0 || r.Listed != 120 {
			t.Errorf("%s, past the end: %v %+v", round, err, r)
		}
	}
	write(130, "x") // another size: the index is stale
	if r, err := readReport(path, 50, 50); err != nil || r.Listed != 130 || first(r) != `"x51"` {
		t.Errorf("after a rewrite: %v %+v", err, r)
	}
}
