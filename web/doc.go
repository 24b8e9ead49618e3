// Package web is the review page of `reconcile serve`: server-rendered
// HTML (html/template, templates and CSS embedded with go:embed, no script
// and no CDN) and a JSON API over the run history and the fix-up batches.
//
// Pages:
//
//	/                      jobs: the batches waiting for a decision, and per
//	                       job its last run and a drift-trend chart (inline SVG)
//	/jobs/{job}            a job's runs (paged) and batches
//	/runs/{job}/{id}       a run's divergence report per replica, read from
//	                       its stored JSON report, 50 differences per page
//	/batches               every batch (?job=, ?state=)
//	/batches/{id}          a batch: its operations (paged), the rule behind
//	                       each, the counts, and approve / reject / apply
//	/login?next=PATH       asks the browser for credentials, then goes back
//
// JSON API: GET /api/runs (?job=, ?limit=), /api/runs/{job}/{id},
// /api/batches (?job=, ?state=), /api/batches/{id} (?offset=, ?limit=);
// POST /api/batches/{id}/approve|reject|apply (body {"reason": "..."} for
// reject).
//
// # Access
//
// Access holds basic-auth users (bcrypt password hashes) and named bearer
// tokens. Once any is configured every page and API read needs
// credentials, unless PublicRead. Decisions always need them: a request
// without credentials gets 401 and changes nothing; with no user or token
// configured, nothing can be decided here at all. The approval records the
// user's name, or "token:NAME" for a token.
//
// Decisions are protected against cross-site request forgery twice: every
// POST goes through net/http's CrossOriginProtection (Sec-Fetch-Site and
// Origin), and a form must also carry a token that is an HMAC of the
// signed-in name under a key made at start-up (a page from another site
// cannot read it). API calls need no form token.
//
// Apply runs through Options.Apply, with the same guards as `reconcile
// batch apply`; without it the page tells the user to apply from the CLI.
//
// Example:
//
//	h, err := web.New(web.Options{
//		Jobs:    func() []web.Job { return []web.Job{{Name: "customers"}} },
//		History: hist, // a *runs.Local or *runs.Postgres
//		Batches: "/var/lib/reconcile/batches",
//		Reports: "/var/lib/reconcile/runs",
//		Access:  web.Access{Users: map[string]string{"alice": bcryptHash}},
//	})
//	if err != nil { ... }
//	http.ListenAndServe("127.0.0.1:8080", h)
package web
