package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reconhq/reconcile/batches"
	"github.com/reconhq/reconcile/runs"
)

//go:embed templates/*.tmpl static/*
var assets embed.FS

// Job is a job of the config as the pages list it.
type Job struct {
	Name     string
	Schedule string // "" for a job run only by hand
	Replicas []string
}

// History is the run history the pages read.
type History interface {
	List(ctx context.Context, o runs.ListOptions) ([]runs.Run, error)
	Get(ctx context.Context, job, id string) (runs.Run, error)
}

// Options configure the handler.
type Options struct {
	// Jobs returns the jobs of the config in effect (it may change on
	// reload).
	Jobs func() []Job
	// History is the run history.
	History History
	// Batches is the folder of the fix-up batches.
	Batches string
	// Reports is the folder the runs' reports lie under; a report path
	// in the history outside it is not read.
	Reports string
	// Access is who may read and decide; SetAccess changes it.
	Access Access
	// Now is the clock decisions are recorded with (default time.Now).
	Now func() time.Time
	// Apply applies an approved batch for by and returns what it did; nil
	// leaves applying to `reconcile batch apply` and hides the button.
	Apply func(ctx context.Context, id, by string) (*batches.Report, error)
	// Logf logs decisions and failures (default: nothing).
	Logf func(format string, args ...any)
}

// Handler serves the pages and the JSON API.
type Handler struct {
	o     Options
	mux   *http.ServeMux
	auth  atomic.Pointer[authenticator]
	csrf  csrf
	cop   *http.CrossOriginProtection
	pages map[string]*template.Template
}

// Page sizes.
const (
	opsPerPage   = 100
	diffsPerPage = 50
	chartRuns    = 30
	runsPerPage  = 50
)

// New returns the handler for o.
func New(o Options) (*Handler, error) {
	if o.Jobs == nil || o.History == nil || o.Batches == "" {
		return nil, errors.New("web: Jobs, History and Batches are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	h := &Handler{o: o, mux: http.NewServeMux(), csrf: newCSRF(), cop: http.NewCrossOriginProtection(), pages: map[string]*template.Template{}}
	h.SetAccess(o.Access)
	if err := h.parse(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(assets, "static")
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	h.mux.HandleFunc("GET /{$}", h.read(h.jobsPage))
	h.mux.HandleFunc("GET /jobs/{job}", h.read(h.jobPage))
	h.mux.HandleFunc("GET /runs/{job}/{id}", h.read(h.runPage))
	h.mux.HandleFunc("GET /batches", h.read(h.batchesPage))
	h.mux.HandleFunc("GET /batches/{id}", h.read(h.batchPage))
	h.mux.HandleFunc("GET /login", h.login)
	for _, action := range []string{"approve", "reject", "apply"} {
		h.mux.HandleFunc("POST /batches/{id}/"+action, h.write(action, false))
		h.mux.HandleFunc("POST /api/batches/{id}/"+action, h.write(action, true))
	}
	h.mux.HandleFunc("GET /api/runs", h.read(h.apiRuns))
	h.mux.HandleFunc("GET /api/runs/{job}/{id}", h.read(h.apiRun))
	h.mux.HandleFunc("GET /api/batches", h.read(h.apiBatches))
	h.mux.HandleFunc("GET /api/batches/{id}", h.read(h.apiBatch))
	return h, nil
}

// SetAccess replaces who may read and decide (a config reload).
func (h *Handler) SetAccess(a Access) { h.auth.Store(newAuthenticator(a, h.o.Now)) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

// request is what a handler knows of the request: who sent it (empty
// when no one signed in) and the token its forms must carry.
type request struct {
	*http.Request
	Who  string
	CSRF string
}

// challenge answers 401, asking for basic auth (JSON under /api/).
func (h *Handler) challenge(w http.ResponseWriter, r *http.Request, msg string) {
	if len(h.auth.Load().access.Users) > 0 {
		w.Header().Set("WWW-Authenticate", `Basic realm="reconcile", charset="UTF-8"`)
	} else {
		w.Header().Set("WWW-Authenticate", `Bearer realm="reconcile"`)
	}
	h.refuse(w, r, http.StatusUnauthorized, msg)
}

// refuse answers an error: JSON under /api/, text elsewhere.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSONError(w, status, msg)
		return
	}
	http.Error(w, fmt.Sprintf("%d %s: %s", status, strings.ToLower(http.StatusText(status)), msg), status)
}

// who identifies r, answering the request itself (and returning ok
// false) when its credentials are wrong or cannot be checked now.
func (h *Handler) who(w http.ResponseWriter, r *http.Request) (string, bool) {
	who, bad, err := h.auth.Load().identify(r)
	switch {
	case errors.Is(err, errBusy):
		w.Header().Set("Retry-After", "5")
		h.refuse(w, r, http.StatusServiceUnavailable, "too many sign-ins are being checked at once; try again in a few seconds")
		return "", false
	case err != nil:
		h.refuse(w, r, http.StatusServiceUnavailable, err.Error())
		return "", false
	case bad:
		h.challenge(w, r, "wrong user name, password or token")
		return "", false
	}
	return who, true
}

// signInHint says how to authenticate, by what is configured.
func (h *Handler) signInHint() string {
	switch a := h.auth.Load().access; {
	case len(a.Users) > 0 && len(a.Tokens) > 0:
		return "sign in (basic auth), or send Authorization: Bearer TOKEN"
	case len(a.Users) > 0:
		return "sign in (basic auth)"
	}
	return "send Authorization: Bearer TOKEN"
}

// read wraps a page or API read: it needs credentials unless the access
// is public or none is configured.
func (h *Handler) read(fn func(w http.ResponseWriter, r *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, ok := h.who(w, r)
		if !ok {
			return
		}
		if a := h.auth.Load().access; who == "" && a.configured() && !a.PublicRead {
			h.challenge(w, r, h.signInHint())
			return
		}
		req := &request{Request: r, Who: who}
		if who != "" {
			req.CSRF = h.csrf.token(who)
		}
		fn(w, req)
	}
}

// login asks the browser for credentials, then goes back to the page.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if len(h.auth.Load().access.Users) == 0 {
		http.Error(w, "404 not found: no users are configured for this page: add serve.users to the config (see reconcile hash-password)", http.StatusNotFound)
		return
	}
	who, ok := h.who(w, r)
	if !ok {
		return
	}
	if who == "" {
		h.challenge(w, r, "sign in (basic auth)")
		return
	}
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// localPath returns next if it is a path on this site, else "/". Browsers
// drop tabs and newlines from a URL and read a backslash as a slash, so
// "/\t/evil.example" would lead elsewhere: only a path that parses,
// names no scheme or host, and starts with one slash is kept.
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") ||
		strings.ContainsAny(next, "\\\t\r\n") {
		return "/"
	}
	return u.RequestURI()
}

// write wraps a decision on a batch: credentials always, then the
// cross-origin check, then (for forms) the CSRF token.
func (h *Handler) write(action string, api bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.auth.Load().access.configured() {
			h.challenge(w, r, "no users or tokens are configured, so nothing can be decided here: add serve.users or serve.tokens to the config")
			return
		}
		who, ok := h.who(w, r)
		if !ok {
			return
		}
		if who == "" {
			h.challenge(w, r, action+" needs credentials: "+h.signInHint())
			return
		}
		if err := h.cop.Check(r); err != nil {
			h.refuse(w, r, http.StatusForbidden, "a cross-origin request cannot "+action+" a batch (behind a reverse proxy, keep the Host header the browser sent)")
			return
		}
		// A browser sends basic-auth credentials along with any request,
		// a forged one too: an API call signed in that way must be JSON,
		// which no cross-site form can send without a preflight this
		// server never answers.
		if api && !strings.HasPrefix(who, "token:") {
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				h.refuse(w, r, http.StatusUnsupportedMediaType, "an API call with basic auth must send Content-Type: application/json (a bearer token needs none)")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if !api {
			if err := r.ParseForm(); err != nil {
				http.Error(w, "400 bad request: "+err.Error(), http.StatusBadRequest)
				return
			}
			if !h.csrf.valid(who, r.PostForm.Get("csrf")) {
				http.Error(w, "403 forbidden: the form's CSRF token is missing or stale: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		id := r.PathValue("id")
		reason := ""
		if api {
			var body struct {
				Reason string `json:"reason"`
			}
			if r.ContentLength != 0 {
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
					writeJSONError(w, http.StatusBadRequest, "the body must be a JSON object such as {\"reason\": \"...\"}: "+err.Error())
					return
				}
			}
			reason = body.Reason
		} else {
			reason = strings.TrimSpace(r.PostForm.Get("reason"))
		}
		status, msg, err := h.decide(r.Context(), action, id, who, reason)
		if err != nil {
			h.o.Logf("web: %s batch %q by %q: %v", action, id, who, err)
			if api {
				writeJSONError(w, status, err.Error())
				return
			}
			h.batchView(w, &request{Request: r, Who: who, CSRF: h.csrf.token(who)}, id, status, err.Error())
			return
		}
		h.o.Logf("web: %s", msg)
		if api {
			b, err := batches.Open(h.o.Batches, id)
			if err != nil {
				writeJSONError(w, http.StatusInternalServerError, err.Error())
				return
			}
			writeJSON(w, struct {
				Message string           `json:"message"`
				Batch   batches.Manifest `json:"batch"`
			}{msg, b.Manifest})
			return
		}
		http.Redirect(w, r, "/batches/"+url.PathEscape(id)+"?done="+action, http.StatusSeeOther)
	}
}

// decide carries out one decision and says what happened, or the HTTP
// status and error of a refusal.
func (h *Handler) decide(ctx context.Context, action, id, who, reason string) (int, string, error) {
	if !batches.ValidID(id) {
		return http.StatusNotFound, "", fmt.Errorf("no batch %q", id)
	}
	b, err := batches.Open(h.o.Batches, id)
	if err != nil {
		if errors.Is(err, batches.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return http.StatusNotFound, "", err
		}
		return http.StatusInternalServerError, "", err
	}
	now := h.o.Now()
	switch action {
	case "approve":
		if err := b.Approve(who, now); err != nil {
			return statusOf(err, http.StatusInternalServerError), "", err
		}
		return 0, fmt.Sprintf("batch %s approved by %s (sha256 %s)", id, who, b.Manifest.SHA256), nil
	case "reject":
		if err := b.Reject(who, reason, now); err != nil {
			return statusOf(err, http.StatusInternalServerError), "", err
		}
		return 0, fmt.Sprintf("batch %s rejected by %s", id, who), nil
	default: // apply
		if h.o.Apply == nil {
			return http.StatusNotImplemented, "", errors.New("applying from the web page is not enabled: run reconcile batch apply " + id)
		}
		// An apply runs to its end even if the browser goes away: the
		// journal makes a retry safe, but a half-done batch helps no one.
		rep, err := h.o.Apply(context.WithoutCancel(ctx), id, who)
		if err != nil {
			// Besides the batch's own refusals, an apply fails on the
			// target database or its configuration: a bad gateway.
			return statusOf(err, http.StatusBadGateway), "", err
		}
		oc := rep.Outcome
		return 0, fmt.Sprintf("batch %s applied by %s: %d applied, %d already applied, %d conflict(s), %d error(s), %d not run",
			id, who, oc.Applied, oc.AlreadyApplied, oc.Conflict, oc.Error, oc.NotRun), nil
	}
}

// statusOf is the HTTP status of a refused decision: 404 or 409 for the
// batch's own refusals, def for anything else.
func statusOf(err error, def int) int {
	switch {
	case errors.Is(err, batches.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, batches.ErrNotPending), errors.Is(err, batches.ErrNotApproved), errors.Is(err, batches.ErrExpired),
		errors.Is(err, batches.ErrTampered), errors.Is(err, batches.ErrLocked), errors.Is(err, batches.ErrCorrupt):
		return http.StatusConflict
	}
	return def
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// intParam reads a non-negative integer query parameter.
func intParam(r *http.Request, name string, def, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("%s: want a number from 0 to %d", name, max)
	}
	return n, nil
}

// reportPath returns a run's report path if it lies under the reports
// folder.
func (h *Handler) reportPath(p string) (string, bool) {
	if p == "" || h.o.Reports == "" {
		return "", false
	}
	root, err := filepath.Abs(h.o.Reports)
	if err != nil {
		return "", false
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return abs, true
}

// jobBatches lists the batches, newest first, of one job or (job "") all.
// A batch that cannot be read is left out and named in err, with the rest
// listed.
func (h *Handler) jobBatches(job string) ([]batches.Manifest, error) {
	all, err := batches.List(h.o.Batches)
	if err != nil {
		err = fmt.Errorf("%w (move the batch's folder aside, or see reconcile batch show ID)", err)
	}
	out := []batches.Manifest{}
	for _, b := range all {
		if job == "" || b.Manifest.Job == job {
			out = append(out, b.Manifest)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, err
}
