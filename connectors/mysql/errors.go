package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

// Server error numbers the connector tells apart.
const (
	erConCount             = 1040 // too many connections
	erUnknownCom           = 1047 // unknown command (a proxy without COM_STMT_PREPARE)
	erServerShutdown       = 1053 // server shutdown in progress
	erNoSuchThread         = 1094 // KILL of a thread that is gone
	erAbortingConn         = 1152
	erNetPacketTooLarge    = 1153
	erNetReadError         = 1158
	erNetReadInterrupt     = 1159
	erNetErrorOnWrite      = 1160
	erNetWriteInterrupt    = 1161
	erQueryInterrupted     = 1317 // KILL QUERY
	erUnknownSysVar        = 1193
	erSpecificAccess       = 1227 // access denied; you need the ... privilege
	erUnsupportedPS        = 1295 // statement not supported in the prepared statement protocol
	erMaxPreparedStmtCount = 1461 // max_prepared_stmt_count reached
	erConnectionKilled     = 1927 // MariaDB: KILL (the connection)
	erStatementTimeout     = 1969 // MariaDB: max_statement_time exceeded
	erServerGone           = 2006
	erServerLost           = 2013
	erQueryTimeout         = 3024 // MySQL: max_execution_time exceeded
)

// redactedError replaces the text of an error that quoted a secret;
// errors.Is and errors.As still see the original.
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
	if scrubbed := scrubText(msg, secrets); scrubbed != msg {
		return &redactedError{msg: scrubbed, err: err}
	}
	return err
}

// scrubText replaces the secrets in s.
func scrubText(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}

// secretsOf lists the strings of a location that may be a password, as
// written and percent-decoded, for scrubbing error texts that quote it. In
// doubt it lists more.
func secretsOf(location string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
			if d, err := url.PathUnescape(s); err == nil && d != s && d != "" {
				out = append(out, d)
			}
			if d, err := url.QueryUnescape(s); err == nil && d != s && d != "" {
				out = append(out, d)
			}
		}
	}
	rest := location
	if i := strings.Index(location, "://"); i >= 0 {
		rest = location[i+3:]
	}
	// The password sits between the first ':' and the last '@' of the user
	// info; with a '@' or '/' in the password itself the boundaries are
	// ambiguous, so both readings are listed.
	for _, at := range []int{strings.LastIndex(rest, "@"), strings.Index(rest, "@")} {
		if at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				add(rest[c+1 : at])
			}
		}
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		for _, p := range strings.Split(rest[q+1:], "&") {
			if k, v, ok := strings.Cut(p, "="); ok && strings.Contains(strings.ToLower(k), "pass") {
				add(v)
			}
		}
	}
	return out
}

// connectionLost reports whether err means the connection itself failed
// or was killed (so a fresh one may succeed): a network error, the driver's
// invalid or bad connection, the server shutting down or killing the
// connection (1053, 1927), a lost server (2006, 2013), network errors the
// server reports (1152, 1158–1161), too many connections (1040), or a KILL
// QUERY the connector did not send (1317). Errors of the query itself are not.
func connectionLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erConCount, erServerShutdown, erAbortingConn, erNetReadError, erNetReadInterrupt,
			erNetErrorOnWrite, erNetWriteInterrupt, erQueryInterrupted, erConnectionKilled,
			erServerGone, erServerLost:
			return true
		}
		return false
	}
	var de *decodeError
	if errors.As(err, &de) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED)
}

// sessionGone reports whether err leaves the connection unusable, so that
// the next statement needs a new connection (and a new snapshot). A killed
// query (1317) leaves the connection and its transaction intact.
func sessionGone(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == erQueryInterrupted {
		return false
	}
	return connectionLost(err)
}

// isTimeout reports whether err is the server's statement timeout.
func isTimeout(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == erStatementTimeout || me.Number == erQueryTimeout)
}

// serverError reports whether err is the server refusing a statement with
// one of the given numbers.
func serverError(err error, numbers ...uint16) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	for _, n := range numbers {
		if me.Number == n {
			return true
		}
	}
	return false
}

// decodeError is a value the connector could not read; never retried.
type decodeError struct {
	column string
	value  string
	err    error
}

func (e *decodeError) Error() string {
	return "decode column " + e.column + ": value " + e.value + ": " + e.err.Error()
}

func (e *decodeError) Unwrap() error { return e.err }
