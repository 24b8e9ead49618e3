package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reports"
	"github.com/reconhq/reconcile/runs"
)

// parse reads the embedded templates: each page is the layout plus its
// own file.
func (h *Handler) parse() error {
	funcs := template.FuncMap{
		"when":     when,
		"ago":      func(t time.Time) string { return ago(h.o.Now(), t) },
		"duration": duration,
		"num":      reports.Thousands,
		"total":    total,
		"diffs":    diffsOf,
		"path":     url.PathEscape,
		"join":     strings.Join,
		"raw":      func(b []byte) string { return string(b) },
		"sub":      func(a, b int) int { return a - b },
		"add":      func(a, b int) int { return a + b },
		"int64":    func(n int) int64 { return int64(n) },
		"state":    func(m batches.Manifest) batches.State { return m.StateAt(h.o.Now()) },
	}
	names, err := fs.Glob(assets, "templates/*.tmpl")
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasSuffix(n, "/layout.tmpl") || strings.HasSuffix(n, "/chart.tmpl") {
			continue
		}
		t, err := template.New("layout.tmpl").Funcs(funcs).ParseFS(assets, "templates/layout.tmpl", "templates/chart.tmpl", n)
		if err != nil {
			return fmt.Errorf("web: %w", err)
		}
		h.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".tmpl")] = t
	}
	return nil
}

// page is what every page's layout needs.
type page struct {
	Title   string
	Who     string
	CSRF    string
	SignIn  bool   // credentials are configured and no one signed in
	Here    string // the page's path, for the sign-in link
	Notice  string
	Problem string
	Data    any
}

func (h *Handler) render(w http.ResponseWriter, r *request, status int, name, title string, data any, notice, problem string) {
	p := page{Title: title, Who: r.Who, CSRF: r.CSRF, Here: r.URL.RequestURI(), Notice: notice, Problem: problem, Data: data}
	p.SignIn = r.Who == "" && len(h.auth.Load().access.Users) > 0
	var buf bytes.Buffer
	if err := h.pages[name].Execute(&buf, p); err != nil {
		h.o.Logf("web: render %s: %v", name, err)
		http.Error(w, "500 internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) fail(w http.ResponseWriter, r *request, status int, err error) {
	h.render(w, r, status, "error", http.StatusText(status), nil, "", err.Error())
}

// jobSummary is one job on the jobs page.
type jobSummary struct {
	Job
	Last    *runs.Run
	Pending int
	Chart   chart
}

func (h *Handler) jobsPage(w http.ResponseWriter, r *request) {
	all, err := h.jobBatches("")
	var problems []string
	if err != nil {
		problems = append(problems, err.Error())
	}
	var pending []batches.Manifest
	perJob := map[string]int{}
	now := h.o.Now()
	for _, b := range all {
		if st := b.StateAt(now); st == batches.Pending || st == batches.Approved || st == batches.Partial || st == batches.Failed {
			pending = append(pending, b)
			perJob[b.Job]++
		}
	}
	var jobs []jobSummary
	for _, j := range h.o.Jobs() {
		rs, err := h.o.History.List(r.Context(), runs.ListOptions{Job: j.Name, Limit: chartRuns})
		if err != nil {
			problems = append(problems, err.Error())
		}
		js := jobSummary{Job: j, Pending: perJob[j.Name], Chart: drawChart(rs, 280, 60)}
		if len(rs) > 0 {
			js.Last = &rs[0]
		}
		jobs = append(jobs, js)
	}
	h.render(w, r, http.StatusOK, "jobs", "Jobs", struct {
		Jobs    []jobSummary
		Pending []batches.Manifest
	}{jobs, pending}, "", strings.Join(problems, "; "))
}

func (h *Handler) findJob(name string) (Job, bool) {
	for _, j := range h.o.Jobs() {
		if j.Name == name {
			return j, true
		}
	}
	return Job{}, false
}

func (h *Handler) jobPage(w http.ResponseWriter, r *request) {
	name := r.PathValue("job")
	job, ok := h.findJob(name)
	if !ok {
		h.fail(w, r, http.StatusNotFound, fmt.Errorf("no job %q in the config", name))
		return
	}
	o := runs.ListOptions{Job: name, Limit: runsPerPage}
	if b := r.URL.Query().Get("before"); b != "" {
		t, err := time.Parse(time.RFC3339Nano, b)
		if err != nil {
			h.fail(w, r, http.StatusBadRequest, fmt.Errorf("before: want an RFC 3339 time: %w", err))
			return
		}
		o.Before = t
	}
	o.Limit = runsPerPage + 1 // one more tells whether there is an older page
	rs, err := h.o.History.List(r.Context(), o)
	var problems []string
	if err != nil {
		problems = append(problems, err.Error())
	}
	var next string
	if len(rs) > runsPerPage {
		rs = rs[:runsPerPage]
		next = rs[len(rs)-1].Started.UTC().Format(time.RFC3339Nano)
	}
	chartRs := rs
	if !o.Before.IsZero() || len(rs) > chartRuns {
		chartRs, _ = h.o.History.List(r.Context(), runs.ListOptions{Job: name, Limit: chartRuns})
	}
	bs, err := h.jobBatches(name)
	if err != nil {
		problems = append(problems, err.Error())
	}
	problem := strings.Join(problems, "; ")
	h.render(w, r, http.StatusOK, "job", "Job "+name, struct {
		Job     Job
		Runs    []runs.Run
		Chart   chart
		Batches []batches.Manifest
		Next    string
	}{job, rs, drawChart(chartRs, 720, 160), bs, next}, "", problem)
}

// replicaView is one replica of a run with its report's page.
type replicaView struct {
	runs.Replica
	Index   int
	Report  *report
	Problem string
	Drift   []columnDrift
	Page    int
	Pages   int
}

func (h *Handler) runPage(w http.ResponseWriter, r *request) {
	job, id := r.PathValue("job"), r.PathValue("id")
	run, err := h.o.History.Get(r.Context(), job, id)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, runs.ErrNotFound) {
			status = http.StatusNotFound
		}
		h.fail(w, r, status, err)
		return
	}
	pageNo, err := intParam(r.Request, "page", 0, 1<<30)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err)
		return
	}
	which, err := intParam(r.Request, "replica", 0, 1<<20)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err)
		return
	}
	var views []replicaView
	for i, rr := range run.Replicas {
		v := replicaView{Replica: rr, Index: i}
		p, ok := h.reportPath(rr.Report)
		switch {
		case rr.Report == "":
		case !ok:
			v.Problem = fmt.Sprintf("the report %s lies outside the store; open it there", rr.Report)
		default:
			pg := 0
			if i == which {
				pg = pageNo
			}
			rep, err := readReport(p, pg*diffsPerPage, diffsPerPage)
			if err != nil {
				v.Problem = err.Error()
				break
			}
			v.Report, v.Drift, v.Page = rep, rep.drift(), pg
			v.Pages = (rep.Listed + diffsPerPage - 1) / diffsPerPage
		}
		views = append(views, v)
	}
	h.render(w, r, http.StatusOK, "run", "Run "+run.ID, struct {
		Run      runs.Run
		Replicas []replicaView
	}{run, views}, "", "")
}

func (h *Handler) batchesPage(w http.ResponseWriter, r *request) {
	all, err := h.jobBatches(r.URL.Query().Get("job"))
	problem := ""
	if err != nil {
		problem = err.Error()
	}
	state := r.URL.Query().Get("state")
	var out []batches.Manifest
	now := h.o.Now()
	for _, b := range all {
		if state == "" || string(b.StateAt(now)) == state {
			out = append(out, b)
		}
	}
	h.render(w, r, http.StatusOK, "batches", "Batches", struct {
		Batches []batches.Manifest
		State   string
	}{out, state}, "", problem)
}

func (h *Handler) batchPage(w http.ResponseWriter, r *request) {
	notice := ""
	switch r.URL.Query().Get("done") {
	case "approve":
		notice = "Approved."
	case "reject":
		notice = "Rejected."
	case "apply":
		notice = "Applied: the outcome is below."
	}
	h.batchView(w, r, r.PathValue("id"), http.StatusOK, notice)
}

// opView is one operation as the batch page shows it.
type opView struct {
	Seq     int
	Kind    connectors.OpKind
	Key     string
	Changes []change
	Rule    string
}

type change struct{ Column, Was, Now string }

func viewOp(op batches.Op) opView {
	v := opView{Seq: op.Seq, Kind: op.Kind, Rule: op.Rule}
	var key []string
	for _, c := range op.Key {
		key = append(key, c.Column+"="+c.Value.String())
	}
	v.Key = strings.Join(key, ", ")
	switch op.Kind {
	case connectors.OpInsert:
		for _, c := range op.Set {
			v.Changes = append(v.Changes, change{Column: c.Column, Was: "", Now: c.Value.String()})
		}
	case connectors.OpUpdate:
		for _, c := range op.Set {
			was := "?"
			if x, ok := op.Expected(c.Column); ok {
				was = x.String()
			}
			v.Changes = append(v.Changes, change{Column: c.Column, Was: was, Now: c.Value.String()})
		}
	case connectors.OpDelete:
		for _, c := range op.Expect {
			v.Changes = append(v.Changes, change{Column: c.Column, Was: c.Value.String(), Now: ""})
		}
	}
	return v
}

// batchView renders a batch's page with a notice, or a problem when
// status is not 200.
func (h *Handler) batchView(w http.ResponseWriter, r *request, id string, status int, msg string) {
	pageNo, err := intParam(r.Request, "page", 0, 1<<30)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err)
		return
	}
	b, err := batches.Open(h.o.Batches, id)
	if err != nil {
		st := http.StatusInternalServerError
		if errors.Is(err, batches.ErrNotFound) {
			st = http.StatusNotFound
		}
		h.fail(w, r, st, err)
		return
	}
	s, err := b.Summary(pageNo*opsPerPage, opsPerPage)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	ops := make([]opView, len(s.Ops))
	for i := range s.Ops {
		ops[i] = viewOp(s.Ops[i])
	}
	m := s.Manifest
	pages := (s.Total + opsPerPage - 1) / opsPerPage
	if pageNo > 0 && pageNo >= pages {
		h.fail(w, r, http.StatusNotFound, fmt.Errorf("batch %s has %d page(s) of operations", m.ID, pages))
		return
	}
	expired := !m.Expires.IsZero() && !h.o.Now().Before(m.Expires)
	notice, problem := msg, ""
	if status != http.StatusOK {
		notice, problem = "", msg
	}
	h.render(w, r, status, "batch", "Batch "+m.ID, struct {
		M          batches.Manifest
		Rules      []batches.RuleCount
		Ops        []opView
		Total      int
		Page       int
		Pages      int
		Expired    bool
		CanApprove bool
		CanReject  bool
		CanApply   bool
		ApplyHere  bool
	}{m, s.Rules, ops, s.Total, pageNo, pages, expired,
		m.State == batches.Pending && !expired,
		m.State == batches.Pending || m.State == batches.Approved,
		h.o.Apply != nil && (m.State == batches.Approved || m.State == batches.Partial || m.State == batches.Failed) && !expired,
		h.o.Apply != nil,
	}, notice, problem)
}

func (h *Handler) apiRuns(w http.ResponseWriter, r *request) {
	limit, err := intParam(r.Request, "limit", 100, 10000)
	if err != nil || limit == 0 {
		writeJSONError(w, http.StatusBadRequest, "limit: want a number from 1 to 10000")
		return
	}
	rs, err := h.o.History.List(r.Context(), runs.ListOptions{Job: r.URL.Query().Get("job"), Limit: limit})
	if err != nil && len(rs) == 0 {
		writeJSONError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if rs == nil {
		rs = []runs.Run{}
	}
	writeJSON(w, struct {
		Runs  []runs.Run `json:"runs"`
		Error string     `json:"error,omitempty"`
	}{rs, errText(err)})
}

func (h *Handler) apiRun(w http.ResponseWriter, r *request) {
	run, err := h.o.History.Get(r.Context(), r.PathValue("job"), r.PathValue("id"))
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, runs.ErrNotFound) {
			status = http.StatusNotFound
		}
		writeJSONError(w, status, err.Error())
		return
	}
	writeJSON(w, run)
}

func (h *Handler) apiBatches(w http.ResponseWriter, r *request) {
	all, err := h.jobBatches(r.URL.Query().Get("job"))
	state := r.URL.Query().Get("state")
	out := []batches.Manifest{}
	now := h.o.Now()
	for _, b := range all {
		if state == "" || string(b.StateAt(now)) == state {
			out = append(out, b)
		}
	}
	writeJSON(w, struct {
		Batches []batches.Manifest `json:"batches"`
		Error   string             `json:"error,omitempty"`
	}{out, errText(err)})
}

// apiCell is a column and its value in the API's operations.
type apiCell struct {
	Column string `json:"column"`
	Value  any    `json:"value"`
}

type apiOp struct {
	Seq    int               `json:"seq"`
	Kind   connectors.OpKind `json:"kind"`
	Key    []apiCell         `json:"key"`
	Set    []apiCell         `json:"set,omitempty"`
	Expect []apiCell         `json:"expect,omitempty"`
	Rule   string            `json:"rule,omitempty"`
}

func apiCells(cs []batches.Cell) []apiCell {
	out := make([]apiCell, len(cs))
	for i, c := range cs {
		out[i] = apiCell{Column: c.Column, Value: c.Value}
	}
	return out
}

func (h *Handler) apiBatch(w http.ResponseWriter, r *request) {
	offset, err := intParam(r.Request, "offset", 0, 1<<30)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, err := intParam(r.Request, "limit", opsPerPage, 10000)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	b, err := batches.Open(h.o.Batches, r.PathValue("id"))
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, batches.ErrNotFound) {
			status = http.StatusNotFound
		}
		writeJSONError(w, status, err.Error())
		return
	}
	s, err := b.Summary(offset, limit)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, err.Error())
		return
	}
	type rule struct {
		Rule  string            `json:"rule"`
		Kind  connectors.OpKind `json:"kind"`
		Count int               `json:"count"`
	}
	out := struct {
		Batch  batches.Manifest `json:"batch"`
		Rules  []rule           `json:"rules"`
		Total  int              `json:"total"`
		Offset int              `json:"offset"`
		Ops    []apiOp          `json:"ops"`
	}{Batch: s.Manifest, Total: s.Total, Offset: offset, Rules: []rule{}, Ops: []apiOp{}}
	for _, rc := range s.Rules {
		out.Rules = append(out.Rules, rule{rc.Rule, rc.Kind, rc.Count})
	}
	for _, op := range s.Ops {
		out.Ops = append(out.Ops, apiOp{Seq: op.Seq, Kind: op.Kind, Key: apiCells(op.Key), Set: apiCells(op.Set), Expect: apiCells(op.Expect), Rule: op.Rule})
	}
	writeJSON(w, out)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Formatting helpers for the templates.

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + duration(-d)
	case d < time.Minute:
		return "just now"
	}
	return duration(d) + " ago"
}

func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// diffsOf is the differences a replica's counts add up to (rows in
// flight are not differences yet).
func diffsOf(c runs.Counts) int64 { return c.Missing + c.Extra + c.Changed + c.Duplicate + c.NullKey }

// total is the differences of a run over its replicas.
func total(r runs.Run) int64 {
	var n int64
	for _, rr := range r.Replicas {
		n += diffsOf(rr.Counts)
	}
	return n
}
