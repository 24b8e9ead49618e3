package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"runtime"
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
// verified user and password are remembered for a while, keyed by an HMAC
// of both under a key of its own (the password itself is never kept), and
// at most GOMAXPROCS comparisons run at once.
type authenticator struct {
	access Access
	tokens map[[32]byte]string // sha256 of a token → its name
	key    []byte              // of the verified-credentials cache

	dummyOnce sync.Once
	dummy     []byte // a hash to compare unknown users against

	mu       sync.Mutex
	verified map[[32]byte]time.Time // hmac(user, password) → until
	now      func() time.Time
}

// verifiedFor is how long a checked password is remembered.
const verifiedFor = 5 * time.Minute

// bcryptSlots bounds the bcrypt comparisons running at once, so requests
// with made-up credentials cannot take every core.
var bcryptSlots = make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))

// bcryptWait is how long a request waits for a slot before 503.
const bcryptWait = 5 * time.Second

// errBusy is identify's answer when no bcrypt slot came free in time.
var errBusy = errors.New("too many sign-ins at once")

func newAuthenticator(a Access, now func() time.Time) *authenticator {
	au := &authenticator{access: Access{PublicRead: a.PublicRead, Users: maps.Clone(a.Users), Tokens: maps.Clone(a.Tokens)},
		tokens: map[[32]byte]string{}, verified: map[[32]byte]time.Time{}, now: now, key: make([]byte, 32)}
	_, _ = rand.Read(au.key)
	for name, tok := range a.Tokens {
		au.tokens[sha256.Sum256([]byte(tok))] = name
	}
	return au
}

// dummyHash is compared against when the user is unknown, at the highest
// cost of the configured hashes, so the answer takes as long as for a
// known user with a wrong password.
func (au *authenticator) dummyHash() []byte {
	au.dummyOnce.Do(func() {
		cost := bcrypt.DefaultCost
		for _, h := range au.access.Users {
			if c, err := bcrypt.Cost([]byte(h)); err == nil && c > cost {
				cost = c
			}
		}
		au.dummy, _ = bcrypt.GenerateFromPassword([]byte("reconcile: no such user"), cost)
	})
	return au.dummy
}

// compare runs one bcrypt comparison in a slot.
func (au *authenticator) compare(ctx context.Context, hash []byte, pass string) (bool, error) {
	t := time.NewTimer(bcryptWait)
	defer t.Stop()
	select {
	case bcryptSlots <- struct{}{}:
	case <-t.C:
		return false, errBusy
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-bcryptSlots }()
	return bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil, nil
}

// identify returns who sent r: a user name, "token:NAME", or "" when r
// carries no credentials. bad is true when r carries credentials that are
// wrong (or of a kind not configured); err is errBusy or the request's
// end when the check could not run.
func (au *authenticator) identify(r *http.Request) (who string, bad bool, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, nil
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
			return "", true, nil
		}
		return "token:" + found, false, nil
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", true, nil
	}
	m := hmac.New(sha256.New, au.key)
	m.Write([]byte(user + "\x00" + pass))
	var key [32]byte
	copy(key[:], m.Sum(nil))
	hash, known := au.access.Users[user]
	au.mu.Lock()
	until, seen := au.verified[key]
	au.mu.Unlock()
	if known && seen && au.now().Before(until) {
		return user, false, nil
	}
	if !known {
		if _, err := au.compare(r.Context(), au.dummyHash(), pass); err != nil {
			return "", false, err
		}
		return "", true, nil
	}
	match, err := au.compare(r.Context(), []byte(hash), pass)
	if err != nil {
		return "", false, err
	}
	if !match {
		return "", true, nil
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
	return user, false, nil
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
