package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// demoHash is the example config's hash of "reconcile-demo" (cost 12).
const demoHash = "$2a$12$izD5x0bocSZrDMzzX4ckWeGzH7seejYCHfaD0JqcgjgITz9jxbf.u"

// Secrets of the tests: none may show in a problem, a summary or a dump.
const (
	deployToken = "d3pl0y-7oken-0123456789abcdef"
	ciToken     = "c1-t0ken-fedcba9876543210"
	shortToken  = "sh0rt-s3cret"
	spaceToken  = "sp4ce-t0ken-0123456789abcdef\n"
	plainPW     = "hunter2-plain-pw"
)

var serveEnv = map[string]string{"DEPLOY_TOKEN": deployToken, "CI_TOKEN": ciToken, "SHORT_TOKEN": shortToken,
	"SPACE_TOKEN": spaceToken, "SAME_TOKEN": deployToken, "ALICE_HASH": demoHash}

const serveBase = `systems:
  a: {url: "postgres://u@h/db"}
  b: {url: "mysql://u@h/db"}
jobs:
  j:
    system_of_record: {system: a, table: t}
    replicas: [{system: b}]
    key: [id]
serve:
  public_read: true
  users:
    - {name: alice, password_hash: "HASH"}
    - {name: bob, password_hash: "$2y$12$izD5x0bocSZrDMzzX4ckWeGzH7seejYCHfaD0JqcgjgITz9jxbf.u"}
  tokens:
    - {name: deploy-bot, token_env: DEPLOY_TOKEN}
    - {name: ci, token_env: CI_TOKEN}
`

func serveDoc(replacements ...string) string {
	return strings.NewReplacer(append([]string{"HASH", demoHash}, replacements...)...).Replace(serveBase)
}

func TestServe(t *testing.T) {
	p, err := Parse("c.yaml", []byte(serveDoc()), Options{Lookup: env(serveEnv), KnownScheme: known})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Serve()
	want := Serve{PublicRead: true,
		Users:  []User{{Name: "alice", PasswordHash: demoHash}, {Name: "bob", PasswordHash: strings.Replace(demoHash, "$2a$", "$2y$", 1)}},
		Tokens: []Token{{Name: "deploy-bot", TokenEnv: "DEPLOY_TOKEN", Token: deployToken}, {Name: "ci", TokenEnv: "CI_TOKEN", Token: ciToken}}}
	if fmt.Sprint(s.Users) != fmt.Sprint(want.Users) || len(s.Tokens) != 2 || s.Tokens[0] != want.Tokens[0] || s.Tokens[1] != want.Tokens[1] ||
		!s.PublicRead || !s.AuthConfigured() {
		t.Errorf("serve %+v\nwant %+v", s, want)
	}
	// The hashes are usable as they are.
	for _, u := range s.Users {
		if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("reconcile-demo")); err != nil {
			t.Errorf("%s: %v", u.Name, err)
		}
	}
	// A changed copy changes nothing.
	s.Users[0].Name, s.Tokens[0].Token = "mallory", "x"
	if again := p.Serve(); again.Users[0].Name != "alice" || again.Tokens[0].Token != deployToken {
		t.Error("the plan changed through a copy")
	}
	// The token never shows: not in the summary, not through any verb,
	// not in JSON.
	js, _ := json.Marshal(p.Serve())
	tok := p.Serve().Tokens[0]
	shown := []string{p.String(), string(js), tok.String(), fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q %x %d", p.Serve(), p.Serve(), p.Serve(), tok, tok, tok, tok)}
	for _, out := range shown {
		if strings.Contains(out, deployToken) || strings.Contains(out, ciToken) || strings.Contains(out, fmt.Sprintf("%x", deployToken)) {
			t.Errorf("token in %s", out)
		}
	}
	if !strings.Contains(p.String(), "serve: public_read true, 2 user(s) [alice, bob], 2 token(s) [deploy-bot (token from $DEPLOY_TOKEN), ci (token from $CI_TOKEN)]") {
		t.Errorf("summary:\n%s", p)
	}
	if !strings.Contains(string(js), `{"name":"deploy-bot","token_env":"DEPLOY_TOKEN"}`) {
		t.Errorf("json %s", js)
	}

	// No serve section, or an empty one: nothing configured.
	for _, doc := range []string{serveBase[:strings.Index(serveBase, "serve:")], serveBase[:strings.Index(serveBase, "serve:")] + "serve:\n",
		serveBase[:strings.Index(serveBase, "serve:")] + "serve: {users: [], tokens: []}\n"} {
		p, err := Parse("c.yaml", []byte(doc), Options{KnownScheme: known})
		if err != nil {
			t.Fatal(err)
		}
		if s := p.Serve(); s.AuthConfigured() || s.PublicRead || s.Users != nil || s.Tokens != nil {
			t.Errorf("serve %+v for\n%s", s, doc)
		}
		if strings.Contains(p.String(), "serve:") {
			t.Errorf("summary:\n%s", p)
		}
	}
	// A hash may come from the environment; a token literal may not.
	p, err = Parse("c.yaml", []byte(serveDoc(`"`+demoHash+`"`, `"${ALICE_HASH}"`)), Options{Lookup: env(serveEnv)})
	if err != nil || p.Serve().Users[0].PasswordHash != demoHash {
		t.Errorf("hash from ${ALICE_HASH}: %v", err)
	}
	// Public read alone is no authentication.
	p, err = Parse("c.yaml", []byte(serveBase[:strings.Index(serveBase, "  users:")]), Options{})
	if err != nil || !p.Serve().PublicRead || p.Serve().AuthConfigured() {
		t.Errorf("public_read alone: %v %+v", err, p.Serve())
	}
}

func TestServeProblems(t *testing.T) {
	lowCost, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	const alice = `{name: alice, password_hash: "HASH"}`
	const deploy = `{name: deploy-bot, token_env: DEPLOY_TOKEN}`
	for _, tc := range []struct {
		name string
		old  []string // replaced in serveBase, each by the next
		want []string
	}{
		{"name missing", []string{alice, `{password_hash: "HASH"}`}, []string{`bad.yaml:12:7: serve.users[0].name is required`}},
		{"name empty", []string{alice, `{name: "", password_hash: "HASH"}`}, []string{`bad.yaml:12:14: serve.users[0].name is required`}},
		{"name colon", []string{"name: alice", "name: 'al:ice'"}, []string{`bad.yaml:12:14: serve.users[0].name: "al:ice" holds a ':', which basic auth cannot carry in a name`}},
		{"name control", []string{"name: alice", `name: "al\tice"`}, []string{`bad.yaml:12:14: serve.users[0].name: "al\tice" holds a control character`}},
		{"token name colon", []string{"name: ci", "name: 'c:i'"}, []string{`bad.yaml:16:14: serve.tokens[1].name: "c:i" holds a ':'`}},
		{"token name missing", []string{"name: ci, ", ""}, []string{`bad.yaml:16:7: serve.tokens[1].name is required`}},
		{"duplicate user", []string{"name: bob", "name: alice"}, []string{`bad.yaml:13:14: serve.users[1].name: "alice" is already the name of serve.users[0]; users and tokens need names of their own`}},
		{"user and token", []string{"name: ci", "name: bob"}, []string{`bad.yaml:16:14: serve.tokens[1].name: "bob" is already the name of serve.users[1]`}},
		{"duplicate token", []string{"name: ci", "name: deploy-bot"}, []string{`bad.yaml:16:14: serve.tokens[1].name: "deploy-bot" is already the name of serve.tokens[0]`}},
		{"hash missing", []string{alice, "{name: alice}"}, []string{`bad.yaml:12:7: serve.users[0].password_hash: required: make one with 'reconcile hash-password'`}},
		{"plain password", []string{"HASH", plainPW}, []string{`bad.yaml:12:36: serve.users[0].password_hash: not a bcrypt hash; it looks like a plain password, and passwords are never stored in the config, only their bcrypt hash: make one with 'reconcile hash-password'`}},
		{"apr1", []string{"HASH", "$apr1$abcdefgh$0123456789abcdefghijkl"}, []string{`serve.users[0].password_hash: a $apr1$ hash, and only bcrypt is accepted: make one with 'reconcile hash-password'`}},
		{"sha", []string{"HASH", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="}, []string{`serve.users[0].password_hash: a {SHA} hash, and only bcrypt is accepted`}},
		{"truncated", []string{"HASH", demoHash[:50]}, []string{`bad.yaml:12:36: serve.users[0].password_hash: not a well-formed bcrypt hash (want $2a$, $2b$ or $2y$, a two-digit cost, and 53 characters of salt and hash: 60 in all, got 50; copied only in part?): make one with 'reconcile hash-password'`}},
		{"trailing junk", []string{"HASH", demoHash + " "}, []string{`serve.users[0].password_hash: not a well-formed bcrypt hash`}},
		{"2x", []string{"HASH", strings.Replace(demoHash, "$2a$", "$2x$", 1)}, []string{`serve.users[0].password_hash: not a well-formed bcrypt hash`}},
		{"low cost", []string{"HASH", string(lowCost)}, []string{`bad.yaml:12:36: serve.users[0].password_hash: bcrypt cost 4 is below 10, too cheap to guess against: make one with 'reconcile hash-password'`}},
		{"cost out of range", []string{"HASH", strings.Replace(demoHash, "$12$", "$32$", 1)}, []string{`serve.users[0].password_hash: not a valid bcrypt hash (cost 32 is outside allowed inclusive range 4..31): make one with 'reconcile hash-password'`}},
		{"password key", []string{alice, `{name: alice, password: ` + plainPW + `}`}, []string{
			`bad.yaml:12:21: unknown key "password" in serve.users[0] (accepted: name, password_hash): the config keeps no password, only its bcrypt hash, in password_hash (make one with 'reconcile hash-password')`,
			`serve.users[0].password_hash: required`}},
		{"hash from unset variable", []string{`"HASH"`, `"${NO_BCRYPT}"`}, []string{`bad.yaml:12:36: serve.users[0].password_hash: environment variable NO_BCRYPT is not set`}},
		{"token_env missing", []string{deploy, "{name: deploy-bot}"}, []string{`bad.yaml:15:7: serve.tokens[0].token_env is required: the environment variable that holds the token (a token is never written in the config)`}},
		{"token literal", []string{deploy, "{name: deploy-bot, token: " + deployToken + "}"}, []string{
			`bad.yaml:15:26: unknown key "token" in serve.tokens[0] (accepted: name, token_env): a token is never written in the config; put it in an environment variable and name that variable in token_env`,
			`serve.tokens[0].token_env is required`}},
		{"token in token_env", []string{"token_env: DEPLOY_TOKEN", "token_env: " + deployToken}, []string{
			`bad.yaml:15:37: serve.tokens[0].token_env: not a variable name (letters, digits and _, such as RECONCILE_DEPLOY_TOKEN); the token itself belongs in that variable, not in the config`}},
		{"token_env expanded", []string{"token_env: DEPLOY_TOKEN", `token_env: "${DEPLOY_TOKEN}"`}, []string{`bad.yaml:15:37: serve.tokens[0].token_env: names the variable itself: write NAME, not ${NAME}`}},
		{"token_env from unset variable", []string{"token_env: DEPLOY_TOKEN", `token_env: "${NO_TOKEN}"`}, []string{
			`bad.yaml:15:37: serve.tokens[0].token_env: environment variable NO_TOKEN is not set`, `bad.yaml:15:37: serve.tokens[0].token_env: names the variable itself: write NAME, not ${NAME}`}},
		{"token_env unset", []string{"DEPLOY_TOKEN", "NO_TOKEN"}, []string{`bad.yaml:15:37: serve.tokens[0].token_env: environment variable NO_TOKEN is not set`}},
		{"token short", []string{"DEPLOY_TOKEN", "SHORT_TOKEN"}, []string{`bad.yaml:15:37: serve.tokens[0].token_env: SHORT_TOKEN holds fewer than 16 characters: generate a token with 'openssl rand -hex 32'`}},
		{"token space", []string{"DEPLOY_TOKEN", "SPACE_TOKEN"}, []string{`serve.tokens[0].token_env: SPACE_TOKEN holds a space or a control character (a trailing newline?), which an Authorization header cannot carry: generate a token with 'openssl rand -hex 32'`}},
		{"same token", []string{"CI_TOKEN", "SAME_TOKEN"}, []string{`bad.yaml:16:29: serve.tokens[1].token_env: SAME_TOKEN holds the same token as serve.tokens[0]; give each token its own value`}},
		{"same variable", []string{"CI_TOKEN", "DEPLOY_TOKEN"}, []string{`serve.tokens[1].token_env: DEPLOY_TOKEN holds the same token as serve.tokens[0]`}},
		{"public_read", []string{"public_read: true", "public_read: sometimes"}, []string{`bad.yaml:10:16: serve.public_read: want a true or false, got "sometimes"`}},
		{"users shape", []string{"  users:\n", "  users: alice\n  user_list:\n"},
			[]string{`bad.yaml:11:10: serve.users: want a list, got "alice"`, `bad.yaml:12:3: unknown key "user_list" in serve`}},
		{"unknown serve key", []string{"  public_read: true", "  public: true"}, []string{`bad.yaml:10:3: unknown key "public" in serve (accepted: public_read, tokens, users)`}},
	} {
		old := append([]string{"HASH", demoHash}, tc.old...)
		doc := serveBase
		for i := 2; i+1 < len(old); i += 2 {
			if !strings.Contains(doc, old[i]) {
				t.Fatalf("%s: %q not in the base", tc.name, old[i])
			}
			doc = strings.Replace(doc, old[i], old[i+1], 1)
		}
		doc = strings.ReplaceAll(doc, "HASH", demoHash)
		got := problems(t, doc, serveEnv)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: want %q in\n%s", tc.name, w, got)
			}
		}
		if n, want := strings.Count(got, "bad.yaml:"), len(tc.want); n != want {
			t.Errorf("%s: want %d problem(s), got %d:\n%s", tc.name, want, n, got)
		}
		for _, secret := range []string{deployToken, ciToken, shortToken, strings.TrimSpace(spaceToken), plainPW} {
			if strings.Contains(got, secret) {
				t.Errorf("%s: a secret in\n%s", tc.name, got)
			}
		}
	}

	// Every problem at once, each at its line, and what else is wrong.
	doc := strings.NewReplacer("name: bob", "name: alice", "HASH", plainPW, "DEPLOY_TOKEN", "SHORT_TOKEN", "CI_TOKEN", "NO_TOKEN",
		"[{system: b}]", "[{system: c}]").Replace(serveBase)
	got := problems(t, doc, serveEnv)
	for _, w := range []string{`bad.yaml:7:25: jobs.j.replicas[0].system: unknown system "c"`, `bad.yaml:12:36: serve.users[0].password_hash: not a bcrypt hash`,
		`bad.yaml:13:14: serve.users[1].name: "alice" is already the name of serve.users[0]`, `bad.yaml:15:37: serve.tokens[0].token_env: SHORT_TOKEN holds fewer than 16`,
		`bad.yaml:16:29: serve.tokens[1].token_env: environment variable NO_TOKEN is not set`} {
		if !strings.Contains(got, w) {
			t.Errorf("want %q in\n%s", w, got)
		}
	}
	if n := strings.Count(got, "bad.yaml:"); n != 5 {
		t.Errorf("want 5 problems, got %d:\n%s", n, got)
	}
	for _, secret := range []string{shortToken, plainPW} {
		if strings.Contains(got, secret) {
			t.Errorf("a secret in\n%s", got)
		}
	}
}

// The example's demo user is what its comment says.
func TestServeExample(t *testing.T) {
	s := loadExample(t).Serve()
	if s.PublicRead || len(s.Users) != 1 || s.Users[0].Name != "alice" || len(s.Tokens) != 0 || !s.AuthConfigured() {
		t.Fatalf("serve %+v", s)
	}
	if s.Users[0].PasswordHash != demoHash {
		t.Errorf("hash %s", s.Users[0].PasswordHash)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(s.Users[0].PasswordHash), []byte("reconcile-demo")); err != nil {
		t.Error(err)
	}
}
