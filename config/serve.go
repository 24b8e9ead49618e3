package config

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

// MinBcryptCost is the lowest bcrypt cost a password_hash may have.
const MinBcryptCost = 10

// MinTokenLength is the fewest characters a bearer token may have.
const MinTokenLength = 16

// Serve is the web page's access control for `reconcile serve`.
type Serve struct {
	// PublicRead lets the pages and the /api GETs be read without
	// credentials; approve, reject and apply always need them.
	PublicRead bool
	// Users sign in with HTTP basic auth.
	Users []User
	// Tokens are bearer tokens for automation (Authorization: Bearer ...).
	Tokens []Token
}

// AuthConfigured reports whether any user or token is declared.
func (s Serve) AuthConfigured() bool { return len(s.Users) > 0 || len(s.Tokens) > 0 }

func (s Serve) clone() Serve {
	s.Users = slices.Clone(s.Users)
	s.Tokens = slices.Clone(s.Tokens)
	return s
}

// User is a basic-auth user.
type User struct {
	// Name is non-empty, holds no ':' and no control character, and is
	// unique among users and tokens.
	Name string
	// PasswordHash is a bcrypt hash ($2a$, $2b$ or $2y$) of cost at least
	// MinBcryptCost, for bcrypt.CompareHashAndPassword([]byte(PasswordHash), ...).
	PasswordHash string
}

// Token is a bearer token. Its secret is only in the Token field: String,
// every fmt verb and MarshalJSON show the name and the variable, never
// the value.
type Token struct {
	// Name follows the rules of User.Name (unique among both).
	Name string
	// TokenEnv is the environment variable the token was read from.
	TokenEnv string
	// Token is the secret, read from TokenEnv when the config was loaded:
	// at least MinTokenLength characters, no space or control character.
	Token string
}

// String is the token's name and variable, without the secret.
func (t Token) String() string { return fmt.Sprintf("%s (token from $%s)", t.Name, t.TokenEnv) }

// Format prints String for every verb, so that no verb prints the secret.
func (t Token) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// MarshalJSON writes the name and the variable, without the secret.
func (t Token) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name     string `json:"name"`
		TokenEnv string `json:"token_env"`
	}{t.Name, t.TokenEnv})
}

// Serve returns a copy of the web page's access control.
func (p *Plan) Serve() Serve { return p.serve.clone() }

const hashHowTo = "make one with 'reconcile hash-password' (it reads the password on stdin) or 'htpasswd -nB NAME' (the part after the ':')"

var bcryptForm = regexp.MustCompile(`^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$`)

// otherHashScheme matches the prefix of a hash of another kind ($apr1$,
// $6$, $argon2id$, {SHA}...), which is safe to quote.
var otherHashScheme = regexp.MustCompile(`^(\$[A-Za-z0-9-]{1,12}\$|\{[A-Za-z0-9-]{1,12}\})`)

func (d *decoder) serve(ss serveSpec, o Options) Serve {
	s := Serve{PublicRead: ss.PublicRead}
	before := len(d.problems)
	names := map[string]string{} // name → path of its first holder
	name := func(path, n string) {
		at := d.first(path+".name", path)
		switch {
		case n == "":
			d.problem(at, "%s.name is required", path)
		case strings.ContainsRune(n, ':'):
			d.problem(at, "%s.name: %q holds a ':', which basic auth cannot carry in a name", path, n)
		case strings.ContainsFunc(n, unicode.IsControl):
			d.problem(at, "%s.name: %q holds a control character", path, n)
		default:
			if prev, dup := names[n]; dup {
				d.problem(at, "%s.name: %q is already the name of %s; users and tokens need names of their own", path, n, prev)
				return
			}
			names[n] = path
		}
	}
	for i, u := range ss.Users {
		path := fmt.Sprintf("serve.users[%d]", i)
		name(path, u.Name)
		if strings.Contains(u.PasswordHash, "${") {
			continue // a variable that is not set: reported where it is
		}
		if msg := checkPasswordHash(u.PasswordHash); msg != "" {
			d.problem(d.first(path+".password_hash", path), "%s.password_hash: %s", path, msg)
		}
		s.Users = append(s.Users, User{Name: u.Name, PasswordHash: u.PasswordHash})
	}
	values := map[string]string{} // token → path of its first holder
	for i, t := range ss.Tokens {
		path := fmt.Sprintf("serve.tokens[%d]", i)
		name(path, t.Name)
		at := d.first(path+".token_env", path)
		// No message below quotes the token: only its variable's name.
		switch {
		case t.TokenEnv == "":
			d.problem(at, "%s.token_env is required: the environment variable that holds the token (a token is never written in the config)", path)
			continue
		case d.expanded[path+".token_env"] || strings.Contains(t.TokenEnv, "${"):
			// ${NAME} put the value of NAME, likely the token, here.
			d.problem(at, "%s.token_env: names the variable itself: write NAME, not ${NAME}", path)
			continue
		case !validEnvName(t.TokenEnv):
			d.problem(at, "%s.token_env: not a variable name (letters, digits and _, such as RECONCILE_DEPLOY_TOKEN); the token itself belongs in that variable, not in the config", path)
			continue
		}
		v, ok := o.Lookup(t.TokenEnv)
		switch {
		case !ok:
			d.problem(at, "%s.token_env: environment variable %s is not set", path, t.TokenEnv)
			continue
		case utf8.RuneCountInString(v) < MinTokenLength:
			d.problem(at, "%s.token_env: %s holds fewer than %d characters: generate a token with 'openssl rand -hex 32'", path, t.TokenEnv, MinTokenLength)
			continue
		case strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
			d.problem(at, "%s.token_env: %s holds a space or a control character (a trailing newline?), which an Authorization header cannot carry: generate a token with 'openssl rand -hex 32'", path, t.TokenEnv)
			continue
		}
		if prev, dup := values[v]; dup {
			d.problem(at, "%s.token_env: %s holds the same token as %s; give each token its own value", path, t.TokenEnv, prev)
			continue
		}
		values[v] = path
		s.Tokens = append(s.Tokens, Token{Name: t.Name, TokenEnv: t.TokenEnv, Token: v})
	}
	if len(d.problems) > before {
		return Serve{}
	}
	return s
}

// checkPasswordHash says what is wrong with a password_hash ("" if
// nothing). It never quotes the value, which may be a password.
func checkPasswordHash(h string) string {
	switch {
	case h == "":
		return "required: " + hashHowTo
	case strings.HasPrefix(h, "$2") && !bcryptForm.MatchString(h):
		return fmt.Sprintf("not a well-formed bcrypt hash (want $2a$, $2b$ or $2y$, a two-digit cost, and 53 characters of salt and hash: 60 in all, got %d; copied only in part?): %s", len(h), hashHowTo)
	case !strings.HasPrefix(h, "$2"):
		if m := otherHashScheme.FindString(h); m != "" {
			return fmt.Sprintf("a %s hash, and only bcrypt is accepted: %s", m, hashHowTo)
		}
		return "not a bcrypt hash; it looks like a plain password, and passwords are never stored in the config, only their bcrypt hash: " + hashHowTo
	}
	cost, err := bcrypt.Cost([]byte(h))
	if err != nil {
		return fmt.Sprintf("not a valid bcrypt hash (%s): %s", strings.TrimPrefix(err.Error(), "crypto/bcrypt: "), hashHowTo)
	}
	if cost < MinBcryptCost {
		return fmt.Sprintf("bcrypt cost %d is below %d, too cheap to guess against: %s (cost 12 by default)", cost, MinBcryptCost, hashHowTo)
	}
	return ""
}

// first returns the node of the first path that has one, or nil.
func (d *decoder) first(paths ...string) *yaml.Node {
	for _, p := range paths {
		if n := d.at(p); n != nil {
			return n
		}
	}
	return nil
}
