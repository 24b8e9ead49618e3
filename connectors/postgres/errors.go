package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reconhq/reconcile/connectors"
)

// ErrSnapshotLost: the connection holding the source's snapshot is gone, so
// no further read can see the same point in time. Start over with a new
// Source.
var ErrSnapshotLost = errors.New("snapshot lost")

// keywordPassword matches password settings of a keyword/value connection
// string: password=secret, password = 'se cret', sslpassword=... As libpq
// and pgx read them, a value is quoted ('...' with \' and \\ escapes; an
// unterminated one runs to the end) or runs to the next space that no
// backslash escapes (password=se\ cret); a quote inside an unquoted value
// is data (password=se'cret).
var keywordPassword = regexp.MustCompile(`(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)*\\?)`)

// redactLocation hides the passwords of a connection string, URL or
// keyword/value, so it can be printed.
func redactLocation(location string) string {
	if strings.Contains(location, "://") {
		return connectors.Redact(location)
	}
	return keywordPassword.ReplaceAllString(location, "${1}xxxxx")
}

// secretsOf lists the strings of a connection string that may be a
// password (as written and percent-decoded), for scrubbing error texts
// that quote it. In doubt it lists more.
func secretsOf(location string) []string {
	var out []string
	add := func(s string) {
		s = strings.Trim(s, "'")
		if s != "" {
			out = append(out, s)
			if d, err := url.QueryUnescape(s); err == nil && d != s {
				out = append(out, d)
			}
		}
	}
	for _, m := range keywordPassword.FindAllStringSubmatch(location, -1) {
		add(m[2])
		// As the server and pgx see it: escapes resolved.
		if u := unescapeKeyword(m[2]); u != strings.Trim(m[2], "'") {
			add(u)
		}
	}
	if i := strings.Index(location, "://"); i >= 0 {
		rest := location[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				add(rest[c+1 : at])
			}
		}
		for _, p := range strings.FieldsFunc(rest, func(r rune) bool { return r == '?' || r == '&' }) {
			if k, v, ok := strings.Cut(p, "="); ok && strings.Contains(strings.ToLower(k), "pass") {
				add(v)
			}
		}
	}
	return out
}

// unescapeKeyword returns a keyword/value setting's value as libpq reads
// it: without its quotes, each backslash escaping the next character.
func unescapeKeyword(v string) string {
	if strings.HasPrefix(v, "'") {
		v = strings.TrimSuffix(v[1:], "'")
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// redactedError replaces the text of an error that quoted a secret; errors.Is
// and errors.As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// scrub returns err with every secret in its text replaced by "xxxxx".
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// connectionLost reports whether err means the connection itself failed
// (so a fresh one may succeed): a network error, the server closing the
// session (SQLSTATE class 08, 57P01 admin shutdown as from
// pg_terminate_backend, 57P02 crash shutdown, 57P03 cannot connect now),
// or a failed connection attempt. Errors of the query itself are not.
func connectionLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03"
	}
	var de *decodeError
	if errors.As(err, &de) {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err)
}

// snapshotGone reports whether a SET TRANSACTION SNAPSHOT failed because
// the exporting transaction has ended.
func snapshotGone(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "22023" && strings.Contains(pgErr.Message, "snapshot")
}
