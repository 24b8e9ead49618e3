package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/rules"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

var exampleEnv = map[string]string{"BILLING_PW": "s3cr3t/pw", "DW_HOST": "dw.internal"}

func known(s string) bool {
	switch s {
	case "postgres", "postgresql", "mysql", "mariadb", "file", "snap":
		return true
	}
	return false
}

func loadExample(t *testing.T) *Plan {
	t.Helper()
	p, err := Load(filepath.Join("..", "testdata", "reconcile.example.yaml"), Options{Lookup: env(exampleEnv), KnownScheme: known})
	if err != nil {
		t.Fatalf("example: %v", err)
	}
	return p
}

func TestExample(t *testing.T) {
	p := loadExample(t)
	if got := strings.Join(p.Jobs(), ","); got != "customers,invoices" {
		t.Fatalf("jobs %s", got)
	}
	j, _ := p.Job("customers")
	if j.Schedule != "0 2 * * *" || len(j.Replicas) != 2 || j.Replicas[0].Map["plan"] != "tier" || j.InFlight.Minutes() != 10 ||
		j.Limits.MaxChanges != 5000 || j.Limits.MaxFraction != 0.05 || j.Limits.MaxShrink != 0.2 || j.BatchExpiry.Hours() != 24 ||
		j.Rules.Strategy("email") != rules.Newest || j.Rules.Strategy("mrr") != rules.SourceOfTruth || j.Normalize["email"].String() != "trim, lower" ||
		j.Replicas[1].Where != "is_current = 1" || j.Replicas[0].Where != "deleted_at IS NULL" || j.SystemOfRecord.Where != "deleted_at IS NULL" {
		t.Errorf("customers: %+v", j)
	}
	inv, _ := p.Job("invoices")
	if inv.Limits.MaxShrink != DefaultMaxShrink || inv.BatchExpiry != DefaultBatchExpiry || inv.SystemOfRecord.Query == "" {
		t.Errorf("invoices defaults: %+v", inv)
	}
	billing, _ := p.System("billing")
	if billing.URL() != "postgres://recon:s3cr3t%2Fpw@billing-db/billing?sslmode=require" {
		t.Errorf("billing URL %s", billing.URL())
	}
	dw, _ := p.System("warehouse")
	if dw.URL() != "mysql://recon@dw.internal/analytics" {
		t.Errorf("warehouse URL %s", dw.URL())
	}
	// Secrets never show.
	js, _ := json.Marshal(billing)
	for _, s := range []string{p.String(), billing.String(), string(js)} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("secret in %s", s)
		}
	}
	if !strings.Contains(p.String(), "job customers: billing public.customers where deleted_at IS NULL → 2 replica(s)") {
		t.Errorf("summary:\n%s", p)
	}
	// Plans are immutable: a changed copy changes nothing.
	j.Key[0] = "x"
	j.Replicas[0].Map["plan"] = "x"
	if again, _ := p.Job("customers"); again.Key[0] != "id" || again.Replicas[0].Map["plan"] != "tier" {
		t.Error("the plan changed through a copy")
	}
}

func TestConfigHash(t *testing.T) {
	base := `
systems:
  a: {url: "postgres://u@h/db", password_env: PW}
  b: {url: "postgres://u@h2/db"}
jobs:
  j:
    system_of_record: {system: a, table: t}
    replicas: [{system: b}]
    key: [id]
    normalize: {email: [trim, lower]}
    rules: {default: newest, columns: {x: manual, y: max}}
`
	reordered := `# a comment
jobs:
  j:
    rules: {columns: {y: max, x: manual}, default: newest}   # keys in another order
    key: [id]
    normalize: {email: ["trim", "lower"]}
    replicas:
      - system: b
    system_of_record: {table: t, system: a}
systems:
  b: {url: "postgres://u@h2/db"}
  a: {password_env: PW, url: "postgres://u@h/db"}
`
	hash := func(doc string, pw string) string {
		t.Helper()
		p, err := Parse("c.yaml", []byte(doc), Options{Lookup: env(map[string]string{"PW": pw})})
		if err != nil {
			t.Fatal(err)
		}
		j, _ := p.Job("j")
		return j.ConfigHash()
	}
	h := hash(base, "one")
	if !strings.HasPrefix(h, "sha256:") || h != hash(reordered, "one") {
		t.Errorf("hash depends on layout: %s vs %s", h, hash(reordered, "one"))
	}
	if h != hash(base, "another secret") {
		t.Error("hash depends on the secret")
	}
	if h == hash(strings.Replace(base, "[trim, lower]", "[trim]", 1), "one") {
		t.Error("hash ignores the normalisers")
	}
	if h == hash(strings.Replace(base, "x: manual", "x: ignore", 1), "one") {
		t.Error("hash ignores the rules")
	}
	// The example's hash is stable across loads.
	a, _ := loadExample(t).Job("customers")
	b, _ := loadExample(t).Job("customers")
	if a.ConfigHash() != b.ConfigHash() {
		t.Error("unstable")
	}
}

func problems(t *testing.T, doc string, e map[string]string) string {
	t.Helper()
	_, err := Parse("bad.yaml", []byte(doc), Options{Lookup: env(e), KnownScheme: known})
	if err == nil {
		t.Fatalf("no error for:\n%s", doc)
	}
	return err.Error()
}

func TestProblems(t *testing.T) {
	const ok = `
systems:
  a: {url: "postgres://u@h/db"}
  b: {url: "mysql://u@h/db"}
jobs:
  j:
    system_of_record: {system: a, table: t}
    replicas: [{system: b}]
    key: [id]
`
	if _, err := Parse("ok.yaml", []byte(ok), Options{KnownScheme: known}); err != nil {
		t.Fatalf("ok: %v", err)
	}
	for _, tc := range []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown key", strings.Replace(ok, "    key: [id]", "    key: [id]\n    keys: [id]", 1),
			[]string{`bad.yaml:10:5: unknown key "keys" in jobs.j (accepted: batch, columns,`}},
		{"unknown nested key", strings.Replace(ok, "{system: a, table: t}", "{system: a, tabel: t}", 1),
			[]string{`bad.yaml:7:35: unknown key "tabel" in jobs.j.system_of_record`}},
		{"duplicate key", strings.Replace(ok, "    key: [id]", "    key: [id]\n    key: [id2]", 1),
			[]string{`bad.yaml:10:5: duplicate key "key" in jobs.j (first at line 9)`}},
		{"missing env", strings.Replace(ok, "u@h/db\"}\n  b", "u@${DB_HOST}/db\"}\n  b", 1),
			[]string{`bad.yaml:3:12: systems.a.url: environment variable DB_HOST is not set`}},
		{"missing password env", strings.Replace(ok, `a: {url: "postgres://u@h/db"}`, `a: {url: "postgres://u@h/db", password_env: PW}`, 1),
			[]string{`bad.yaml:3:47: systems.a.password_env: environment variable PW is not set`}},
		{"unknown system", strings.Replace(ok, "[{system: b}]", "[{system: c}]", 1),
			[]string{`bad.yaml:8:25: jobs.j.replicas[0].system: unknown system "c" (declared: a, b)`}},
		{"unknown scheme", strings.Replace(ok, "mysql://", "oracle://", 1),
			[]string{`bad.yaml:4:12: systems.b.url: no connector for scheme "oracle"`}},
		{"bad cron", strings.Replace(ok, "    key: [id]", "    key: [id]\n    schedule: \"61 2 * * *\"", 1),
			[]string{`bad.yaml:10:15: jobs.j.schedule: cron "61 2 * * *": minute "61": want 0..59`}},
		{"bad normaliser", strings.Replace(ok, "    key: [id]", "    key: [id]\n    normalize: {email: [trim, shout]}", 1),
			[]string{`bad.yaml:10:31: jobs.j.normalize.email: normaliser 1: unknown normaliser "shout"`}},
		{"state on mysql", ok + "state: {system: b}\n", []string{`state.system: b is a mysql system; the run history is kept in PostgreSQL`}},
		{"state unknown", ok + "state: {system: z}\n", []string{`state.system: unknown system "z" (declared: a, b)`}},
		{"normalised key", strings.Replace(ok, "    key: [id]", "    key: [id]\n    normalize: {id: [trim]}\n    tolerance: {id: {abs: 1}}", 1),
			[]string{`jobs.j.normalize.id: id is a key column, and keys match exactly`, `jobs.j.tolerance.id: id is a key column`}},
		{"bad strategy", strings.Replace(ok, "    key: [id]", "    key: [id]\n    rules: {columns: {email: latest}}", 1),
			[]string{`bad.yaml:10:30: jobs.j.rules.columns.email: unknown strategy "latest"`}},
		{"bad tolerance", strings.Replace(ok, "    key: [id]", "    key: [id]\n    tolerance: {mrr: {abs: -1}}", 1),
			[]string{`bad.yaml:10:22: jobs.j.tolerance.mrr: parse tolerance: abs: want a finite number >= 0`}},
		{"limits", strings.Replace(ok, "    key: [id]", "    key: [id]\n    limits: {max_changes: 0, max_fraction: 1.5}", 1),
			[]string{`jobs.j.limits.max_changes: want at least 1, got 0`, `jobs.j.limits.max_fraction: want a fraction in (0, 1], got 1.5`}},
		{"mistyped", strings.Replace(ok, "    key: [id]", "    key: id\n    limits: {max_changes: many}", 1),
			[]string{`bad.yaml:9:10: jobs.j.key: want a list, got "id"`, `bad.yaml:10:27: jobs.j.limits.max_changes: want a whole number, got "many"`}},
		{"durations", strings.Replace(ok, "    key: [id]", "    key: [id]\n    in_flight: ten minutes\n    batch: {expiry: 1s}", 1),
			[]string{`jobs.j.in_flight: want a duration`, `jobs.j.batch.expiry: want a duration such as 90s, 10m or 24h (at least 1m0s), got "1s"`}},
		{"source of truth", strings.Replace(ok, "    key: [id]", "    key: [id]\n    rules: {source_of_truth: nobody}", 1),
			[]string{`jobs.j.rules.source_of_truth: unknown system "nobody"`}},
		{"map targets", strings.Replace(ok, "[{system: b}]", "[{system: b, map: {x: z, y: z}}]", 1),
			[]string{`jobs.j.replicas[0].map: x and y both map to "z"`}},
		{"replica is the source", strings.Replace(ok, "[{system: b}]", "[{system: a}]", 1),
			[]string{`jobs.j.replicas[0]: the replica is the system of record itself`}},
		{"no key, no replicas", strings.Replace(strings.Replace(ok, "    key: [id]\n", "", 1), "    replicas: [{system: b}]\n", "", 1),
			[]string{`jobs.j.key: name the key column(s)`, `jobs.j.replicas: list at least one replica`}},
		{"syntax", "jobs: [\n", []string{"bad.yaml:"}},
		{"alias bomb", strings.Replace(ok, "    key: [id]", "    key: [id]\n    normalize: {a: [&a [x, x, x, x, x, x, x, x, x, x], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a], &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c], &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d], [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]]}", 1),
			[]string{"more than 200000 values"}},
		{"timezone", "timezone: Mars/Base\n" + ok, []string{`bad.yaml:1:11: timezone: unknown zone "Mars/Base"`}},
	} {
		got := problems(t, tc.doc, nil)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: want %q in\n%s", tc.name, w, got)
			}
		}
	}
	// An unknown key does not hide what validation finds.
	got := problems(t, strings.Replace(strings.Replace(ok, "[{system: b}]", "[{system: c}]", 1), "    key: [id]", "    key: [id]\n    kee: 1\n    key: [x]", 1), nil)
	for _, w := range []string{`bad.yaml:10:5: unknown key "kee"`, `bad.yaml:11:5: duplicate key "key"`, `bad.yaml:8:25: jobs.j.replicas[0].system: unknown system "c"`} {
		if !strings.Contains(got, w) {
			t.Errorf("want %q in\n%s", w, got)
		}
	}
	// Every unset variable at once, and what else is wrong.
	got = problems(t, strings.NewReplacer(`"postgres://u@h/db"`, `"postgres://u@${H1}/db", password_env: PW`, `"mysql://u@h/db"`, `"mysql://u@${H2}/db"`,
		"[{system: b}]", "[{system: c}]").Replace(ok), nil)
	for _, w := range []string{"environment variable H1 is not set", "environment variable H2 is not set", "environment variable PW is not set", `unknown system "c"`} {
		if !strings.Contains(got, w) {
			t.Errorf("want %q in\n%s", w, got)
		}
	}
	// Several problems at once, each with its position.
	doc := strings.Replace(strings.Replace(ok, "[{system: b}]", "[{system: c}]", 1), "    key: [id]", "    key: [id]\n    schedule: \"* * *\"\n    normalize: {e: [nope]}", 1)
	got = problems(t, doc, nil)
	if n := strings.Count(got, "bad.yaml:"); n != 3 {
		t.Errorf("want 3 problems, got %d:\n%s", n, got)
	}
}

func TestEnvExpansion(t *testing.T) {
	doc := `
store: "${HOME_DIR}/store"
systems:
  a: {url: "postgres://u@${HOST}/db?application_name=$$x"}
  c: {url: "${NUM}"}
  b: {url: "file://x.csv"}
jobs:
  j:
    system_of_record: {system: a, table: t}
    replicas: [{system: b}]
    key: [id]
    limits: {max_changes: "${MAX}"}
`
	p, err := Parse("c.yaml", []byte(doc), Options{Lookup: env(map[string]string{"HOME_DIR": "/srv", "HOST": "db1", "MAX": "10", "NUM": "123"})})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.System("a")
	j, _ := p.Job("j")
	if p.Store() != "/srv/store" || a.URL() != "postgres://u@db1/db?application_name=$x" || j.Limits.MaxChanges != 10 {
		t.Errorf("store %s url %s max %d", p.Store(), a.URL(), j.Limits.MaxChanges)
	}
}

func TestCron(t *testing.T) {
	for _, ok := range []string{"0 2 * * *", "*/15 * * * *", "0 0 1 1 *", "0 9-17/2 * * MON-FRI", "30 0 2 * * sun", "0 0 1,15 * ?",
		"@daily", "@hourly", "@every 90s", "0 0 * JAN,jul *", "0 0 * * 7"} {
		if err := CheckCron(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8",
		"*/0 * * * *", "5-1 * * * *", "@weekdays", "@every -1s", "@every", "* * * FOO *", "1,,2 * * * *", "? * * * *"} {
		if err := CheckCron(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzCron(f *testing.F) {
	for _, s := range []string{"0 2 * * *", "*/15 1-5 * JAN MON", "@every 1m", "61 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { _ = CheckCron(s) })
}

// Bad input never panics and never yields a plan with a problem.
func FuzzParse(f *testing.F) {
	example, _ := os.ReadFile(filepath.Join("..", "testdata", "reconcile.example.yaml"))
	f.Add(string(example))
	f.Add("systems: {a: {url: x}}\njobs: {j: {system_of_record: {system: a}, replicas: [{system: a, table: u}], key: [k]}}")
	f.Add("jobs: &a {x: *a}")
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := Parse("f.yaml", []byte(doc), Options{Lookup: env(exampleEnv)})
		if (p == nil) == (err == nil) {
			t.Fatalf("plan %v and error %v", p, err)
		}
		if p != nil {
			_ = p.String()
			for _, n := range p.Jobs() {
				if j, _ := p.Job(n); j.ConfigHash() == "" || j.Rules == nil {
					t.Fatal("incomplete job")
				}
			}
		}
	})
}

func TestEngineRules(t *testing.T) {
	j, _ := loadExample(t).Job("customers")
	cr := j.ColumnRules()
	var desc []string
	for _, c := range []string{"country", "email", "mrr", "notes", "signed_up_at", "updated_at"} {
		r, ok := cr[c]
		if !ok {
			t.Fatalf("no rule for %s", c)
		}
		desc = append(desc, r.Describe)
	}
	want := "country: trim, upper, alias{GB: [UK], US: [USA, UNITED STATES]}|email: trim, lower|mrr: abs 0.01|notes: truncate(60)|" +
		"signed_up_at: time_zone(Europe/Paris), truncate_time(second)|updated_at: skew 2s"
	if got := strings.Join(desc, "|"); got != want {
		t.Errorf("descriptions:\n%s\nwant\n%s", got, want)
	}
	if cr["mrr"].Normalize != nil || cr["mrr"].Equal == nil || cr["email"].Normalize == nil || cr["email"].Equal != nil || len(cr) != 6 {
		t.Errorf("rules %+v", cr)
	}
	if got := j.ContextColumns(); len(got) != 1 || got[0] != "updated_at" {
		t.Errorf("context %v", got)
	}
	inv, _ := loadExample(t).Job("invoices")
	if inv.ContextColumns() != nil {
		t.Error("invoices need no context")
	}
}

// A relative store is relative to the config file, not to the directory
// the process runs in.
func TestRelativeStoreIsRelativeToTheConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reconcile.yaml")
	if err := os.WriteFile(path, []byte("store: data/reconcile\nsystems:\n  s: {url: \"postgres://u@db/x\"}\njobs:\n  j:\n    system_of_record: {system: s, table: a}\n    replicas: [{system: s, table: b}]\n    key: [id]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "data", "reconcile"); p.Store() != want {
		t.Errorf("store %q, want %q", p.Store(), want)
	}
	if err := os.WriteFile(path, []byte("store: /var/lib/reconcile\nsystems:\n  s: {url: \"postgres://u@db/x\"}\njobs:\n  j:\n    system_of_record: {system: s, table: a}\n    replicas: [{system: s, table: b}]\n    key: [id]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := Load(path, Options{}); err != nil || p.Store() != "/var/lib/reconcile" {
		t.Errorf("absolute store: %v %q", err, p.Store())
	}
}
