package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Access is who may use the page: basic-auth users with bcrypt password
// hashes, and named bearer tokens for automation. With neither, the pages
// are readable by anyone who reaches the address and nothing can be
// approved, rejected or applied.
type Access struct {
	// PublicRead lets requests without credentials read the pages and the
	// JSON API; decisions always need credentials.
	PublicRead bool
	// Users maps a user name to the bcrypt hash of its password.
	Users map[string]string
	// Tokens maps a token's name (recorded as "token:NAME" when it
	// approves) to the token itself.
	Tokens map[string]string
}

func (a Access) configured() bool { return len(a.Users) > 0 || len(a.Tokens) > 0 }

// authenticator checks credentials. bcrypt is slow on purpose, so a
// verified user and password are remembered for a while, keyed by a
// SHA-256 of both (the password itself is never kept).
type authenticator struct {
	access Access
	tokens map[[32]byte]string // sha256 of a token → its name

	mu       sync.Mutex
	verified map[[32]byte]time.Time // sha256(user, password) → until
	now      func() time.Time
}

// verifiedFor is how long a checked password is remembered.
const verifiedFor = 5 * time.Minute

// dummyHash is compared against when the user is unknown, so the answer
// takes as long as for a known user with a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("reconcile: no such user"), bcrypt.DefaultCost)

func newAuthenticator(a Access, now func() time.Time) *authenticator {
	au := &authenticator{access: a, tokens: map[[32]byte]string{}, verified: map[[32]byte]time.Time{}, now: now}
	for name, tok := range a.Tokens {
		au.tokens[sha256.Sum256([]byte(tok))] = name
	}
	return au
}

// identify returns who sent r: a user name, "token:NAME", or "" when r
// carries no credentials. bad is true when r carries credentials that are
// wrong (or of a kind not configured).
func (au *authenticator) identify(r *http.Request) (who string, bad bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		found := ""
		for k, name := range au.tokens {
			if subtle.ConstantTimeCompare(k[:], sum[:]) == 1 {
				found = name
			}
		}
		if found == "" {
			return "", true
		}
		return "token:" + found, false
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", true
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	hash, known := au.access.Users[user]
	au.mu.Lock()
	until, seen := au.verified[key]
	au.mu.Unlock()
	if known && seen && au.now().Before(until) {
		return user, false
	}
	if !known {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pass))
		return "", true
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) != nil {
		return "", true
	}
	au.mu.Lock()
	now := au.now()
	for k, t := range au.verified {
		if !now.Before(t) {
			delete(au.verified, k)
		}
	}
	au.verified[key] = now.Add(verifiedFor)
	au.mu.Unlock()
	return user, false
}

// csrf makes and checks the token each form carries: an HMAC of the
// signed-in name under a key made at start-up. A page on another site
// cannot read it, so it cannot forge a decision even when the browser
// would send the user's basic-auth credentials along.
type csrf struct{ key []byte }

func newCSRF() csrf {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return csrf{key: key}
}

func (c csrf) token(who string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("reconcile csrf\x00" + who))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c csrf) valid(who, tok string) bool {
	want := c.token(who)
	return who != "" && subtle.ConstantTimeCompare([]byte(want), []byte(tok)) == 1
}
