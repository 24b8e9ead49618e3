package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "reconcile.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The commented example validates, and its summary shows no secret.
func TestValidateExample(t *testing.T) {
	t.Setenv("BILLING_PW", "hunter2")
	t.Setenv("DW_HOST", "dw.internal")
	code, out, errOut := runCLI(t, "validate", filepath.Join("..", "..", "testdata", "reconcile.example.yaml"))
	if code != exitConsistent || errOut != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"3 system(s), 2 job(s)", "system billing: postgres://recon@billing-db/billing?sslmode=require",
		"system warehouse: mysql://recon@dw.internal/analytics", "job customers: billing public.customers where deleted_at IS NULL → 2 replica(s), key id, schedule 0 2 * * * (Europe/Paris), sha256:",
		"replica crm public.accounts", "job invoices: billing query → 1 replica(s), key id, schedule @hourly"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("secret in the summary:\n%s", out)
	}
	if code, out, _ := runCLI(t, "validate", "-q", filepath.Join("..", "..", "testdata", "reconcile.example.yaml")); code != 0 || out != "" {
		t.Errorf("--quiet: exit %d, %q", code, out)
	}
}

const validConfig = `systems:
  billing: {url: "postgres://recon@billing-db/billing"}
  crm: {url: "postgres://recon@crm-db/crm"}
jobs:
  customers:
    schedule: "0 2 * * *"
    system_of_record: {system: billing, table: public.customers}
    replicas:
      - {system: crm, table: public.accounts}
    key: [id]
    normalize:
      email: [trim, lower]
`

func TestValidateProblems(t *testing.T) {
	t.Setenv("RECONCILE_TEST_UNSET_PW", "")
	os.Unsetenv("RECONCILE_TEST_UNSET_PW")
	for _, tc := range []struct {
		name string
		old  string
		new  string
		want []string
	}{
		{"unknown key", "    key: [id]", "    key: [id]\n    kee: [id]", []string{`:11:5: unknown key "kee" in jobs.customers`}},
		{"missing env var", `crm: {url: "postgres://recon@crm-db/crm"}`, `crm: {url: "postgres://recon@crm-db/crm", password_env: RECONCILE_TEST_UNSET_PW}`,
			[]string{`:3:59: systems.crm.password_env: environment variable RECONCILE_TEST_UNSET_PW is not set`}},
		{"unknown system", "{system: crm, table: public.accounts}", "{system: cmr, table: public.accounts}",
			[]string{`:9:18: jobs.customers.replicas[0].system: unknown system "cmr" (declared: billing, crm)`}},
		{"bad cron", `"0 2 * * *"`, `"0 25 * * *"`, []string{`:6:15: jobs.customers.schedule: cron "0 25 * * *": hour "25": want 0..23`}},
		{"bad normaliser", "[trim, lower]", "[trim, lowercase]", []string{`:12:21: jobs.customers.normalize.email: normaliser 1: unknown normaliser "lowercase"`}},
		{"unknown scheme", "postgres://recon@crm-db/crm", "oracle://recon@crm-db/crm", []string{`:3:14: systems.crm.url: no connector for scheme "oracle"`}},
	} {
		path := writeConfig(t, strings.Replace(validConfig, tc.old, tc.new, 1))
		code, out, errOut := runCLI(t, "validate", path)
		if code != exitError || out != "" {
			t.Errorf("%s: exit %d, stdout %q", tc.name, code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, path+w) {
				t.Errorf("%s: want %q in\n%s", tc.name, path+w, errOut)
			}
		}
		if !strings.Contains(errOut, "reconcile validate: 1 of 1 file(s) invalid") {
			t.Errorf("%s: no verdict line in\n%s", tc.name, errOut)
		}
	}

	// Every problem at once, each on its own line with its position; a
	// valid file next to it still counts.
	good := writeConfig(t, validConfig)
	bad := writeConfig(t, strings.NewReplacer("kee", "", `"0 2 * * *"`, `"0 2 * *"`, "{system: crm,", "{system: cmr,", "[trim, lower]", "[trim, round(x)]").Replace(validConfig))
	code, _, errOut := runCLI(t, "validate", good, bad)
	if code != exitError {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], bad+":6:15: ") || !strings.HasPrefix(lines[1], bad+":9:18: ") ||
		!strings.HasPrefix(lines[2], bad+":12:21: ") || lines[3] != "reconcile validate: 1 of 2 file(s) invalid" {
		t.Errorf("problems:\n%s", errOut)
	}

	// A file that cannot be read, and no file at all.
	if code, _, errOut := runCLI(t, "validate", filepath.Join(t.TempDir(), "nope.yaml")); code != exitError || !strings.Contains(errOut, "nope.yaml: open") {
		t.Errorf("missing file: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "validate"); code != exitError || !strings.Contains(errOut, "at least one FILE") {
		t.Errorf("no file: exit %d\n%s", code, errOut)
	}
}
