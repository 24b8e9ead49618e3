// Package config reads reconcile.yaml into an immutable, validated Plan:
// the systems (named data locations), and the jobs (a system of record,
// its replicas, the key, normalisers, tolerances, resolution rules,
// limits, schedule).
//
// Decoding is strict: an unknown key, a duplicate key or a value of the
// wrong shape is a problem at its file:line:column, and every problem is
// reported at once (an errors.Join of *Problem). ${NAME} in a string value
// is replaced by an environment variable and password_env puts one into a
// system's URL; the environment comes in through Options.Lookup, so only
// the command reads it. A variable that is not set is a problem naming it
// and its position. Secrets never leave through String, MarshalJSON or
// ConfigHash.
//
// Validation checks what can be checked without connecting: systems named
// by jobs exist, URL schemes have a connector (Options.KnownScheme), cron
// syntax (CheckCron), durations, keys, normalisers, tolerances and rules
// (through the rules package parsers), source_of_truth naming a system of
// the job, limits in range, replica column maps one to one. Column names
// and types are checked by the engine at run time.
//
// The serve section is the access control of the web page of `reconcile
// serve` (Plan.Serve): basic-auth users with bcrypt password hashes (cost
// MinBcryptCost or more; 'reconcile hash-password' makes one) and bearer
// tokens read from the variables that token_env names (there is no key for
// a token itself). Names are unique among users and tokens and hold no ':'.
// No problem message, String or MarshalJSON shows a token.
//
// Job.ConfigHash is a stable SHA-256 of a job's semantic plan (its
// systems' redacted locations, sides, key, columns, normalisers,
// tolerances, rules, limits, in-flight window, batch expiry and timeout;
// not its schedule): comments, key order and formatting do not change it,
// secrets are not in it. Snapshot and batch manifests record it.
//
// Job.ColumnRules and Job.ContextColumns give the engine its per-column
// normalisers and tolerances and the context columns the rules read
// (reconcile.Options.ColumnRules and Context); Job.Rules resolves each
// change.
//
// docs/config.schema.json describes the same keys for editors (a test
// keeps the two in step) and testdata/reconcile.example.yaml shows every
// option, commented.
//
// Example:
//
//	plan, err := config.Load("reconcile.yaml", config.Options{
//		Lookup:      os.LookupEnv,
//		KnownScheme: func(s string) bool { return slices.Contains(registry.Schemes(), s) },
//	})
//	if err != nil { ... } // every problem, as file:line:col: message
//	job, _ := plan.Job("customers")
//	src, _ := plan.System(job.SystemOfRecord.System)
//	// src.URL() to connect, src.Redacted() to print, job.ConfigHash() for manifests
package config
