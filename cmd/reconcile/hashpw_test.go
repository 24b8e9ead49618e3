package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/reconhq/reconcile/config"
)

// runHashCLI runs reconcile hash-password through main's run, with stdin
// holding input.
func runHashCLI(t *testing.T, input string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(in, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()
	return runCLI(t, append([]string{"hash-password"}, args...)...)
}

func TestHashPassword(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		args        []string
		password    string
		cost        int
	}{
		{"newline", "correct horse\n", nil, "correct horse", 12},
		{"crlf", "correct horse\r\n", []string{"--cost", "10"}, "correct horse", 10},
		{"no newline", "  spaces kept  ", []string{"--cost=10"}, "  spaces kept  ", 10},
		{"first line only", "first\nsecond\n", []string{"--cost", "10"}, "first", 10},
		{"72 bytes", strings.Repeat("é", 36) + "\n", []string{"--cost", "10"}, strings.Repeat("é", 36), 10},
	} {
		code, out, errOut := runHashCLI(t, tc.input, tc.args...)
		if code != exitConsistent || errOut != "" || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", tc.name, code, out, errOut)
			continue
		}
		hash := []byte(strings.TrimSuffix(out, "\n"))
		if err := bcrypt.CompareHashAndPassword(hash, []byte(tc.password)); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err := bcrypt.CompareHashAndPassword(hash, []byte("x"+tc.password)); err == nil {
			t.Errorf("%s: another password matches", tc.name)
		}
		if cost, err := bcrypt.Cost(hash); err != nil || cost != tc.cost {
			t.Errorf("%s: cost %d, %v", tc.name, cost, err)
		}
		// The config takes it as it is.
		doc := validConfig + "serve:\n  users:\n    - {name: alice, password_hash: \"" + string(hash) + "\"}\n"
		p, err := config.Parse("c.yaml", []byte(doc), config.Options{})
		if err != nil || p.Serve().Users[0].PasswordHash != string(hash) {
			t.Errorf("%s: config: %v", tc.name, err)
		}
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		args        []string
		want        string
	}{
		{"empty", "", nil, "reconcile: hash password: empty password on stdin\n"},
		{"empty line", "\n", nil, "reconcile: hash password: empty password on stdin\n"},
		{"empty crlf line", "\r\n", nil, "reconcile: hash password: empty password on stdin\n"},
		{"too long", strings.Repeat("x", 73) + "\n", nil, "reconcile: hash password: the password is longer than 72 bytes, and bcrypt would ignore the rest: use a shorter one\n"},
		{"too long in bytes", strings.Repeat("é", 37), nil, "longer than 72 bytes"},
		{"very long", strings.Repeat("x", 100_000), nil, "longer than 72 bytes"},
		{"cost too low", "pw\n", []string{"--cost", "9"}, "reconcile: hash password: --cost 9: want 10 to 15\n"},
		{"cost too high", "pw\n", []string{"--cost", "16"}, "--cost 16: want 10 to 15"},
		{"cost not a number", "pw\n", []string{"--cost", "high"}, `invalid argument "high" for "--cost"`},
		{"password as an argument", "", []string{"s3cret"}, "reconcile: hash-password reads the password on stdin, not as an argument"},
	} {
		code, out, errOut := runHashCLI(t, tc.input, tc.args...)
		if code != exitError || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", tc.name, code, out, errOut)
		}
		if strings.Contains(errOut, "s3cret") {
			t.Errorf("%s: the password in %q", tc.name, errOut)
		}
	}
}
