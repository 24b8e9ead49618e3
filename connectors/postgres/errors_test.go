package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reconhq/reconcile/connectors"
)

func TestRedactLocation(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h/db":                     "postgres://u:xxxxx@h/db",
		"postgresql://u@h/db?password=secret&x=1":      "postgresql://u@h/db?password=xxxxx&x=1",
		"host=h user=u password=secret dbname=d":       "host=h user=u password=xxxxx dbname=d",
		"host=h password='se cret' dbname=d":           "host=h password=xxxxx dbname=d",
		"host=h password = secret sslpassword=secret2": "host=h password = xxxxx sslpassword=xxxxx",
		"host=h user=u":                                "host=h user=u",
		`host=h password=TOP\ SECRET dbname=d`:         "host=h password=xxxxx dbname=d",
		`host=h password=TOP'SECRET dbname=d`:          "host=h password=xxxxx dbname=d",
		`host=h password='TOP\' SECRET' dbname=d`:      "host=h password=xxxxx dbname=d",
		`host=h password='TOP SECRET`:                  "host=h password=xxxxx",
	} {
		if got := redactLocation(in); got != want {
			t.Errorf("redactLocation(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	secrets := secretsOf("postgres://u:p%40ss%2Fword@h/db?sslpassword=other")
	err := scrub(fmt.Errorf("cannot use p@ss/word or other: %w", io.EOF), secrets)
	if strings.Contains(err.Error(), "p@ss/word") || strings.Contains(err.Error(), "other") || !errors.Is(err, io.EOF) {
		t.Errorf("scrub gave %q (wraps EOF: %v)", err, errors.Is(err, io.EOF))
	}
	secrets = secretsOf(`host=h password=TOP\ SE\\CRET`)
	err = scrub(errors.New(`password TOP SE\CRET refused`), secrets)
	if strings.Contains(err.Error(), "SE") {
		t.Errorf("scrub gave %q for an escaped password", err)
	}
	plain := errors.New("nothing secret")
	if scrub(plain, secrets) != plain {
		t.Error("scrub changed an error with no secret in it")
	}
}

func TestConnectionLost(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code}) }
	for _, c := range []struct {
		err  error
		lost bool
	}{
		{pg("08006"), true}, {pg("08P01"), true}, {pg("57P01"), true}, {pg("57P02"), true}, {pg("57P03"), true},
		{pg("57014"), false}, {pg("42P01"), false}, {pg("40001"), false}, {pg("22023"), false},
		{io.EOF, true}, {io.ErrUnexpectedEOF, true}, {&net.OpError{Op: "read", Err: errors.New("reset")}, true},
		{context.Canceled, false}, {fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{&decodeError{msg: "bad"}, false}, {errors.New("something else"), false},
		{fmt.Errorf("%w", connectors.ErrBadInput), false},
	} {
		if got := connectionLost(c.err); got != c.lost {
			t.Errorf("connectionLost(%v) = %v, want %v", c.err, got, c.lost)
		}
	}
	if !snapshotGone(&pgconn.PgError{Code: "22023", Message: `invalid snapshot identifier: "0000-1"`}) || snapshotGone(&pgconn.PgError{Code: "22023", Message: "other"}) {
		t.Error("snapshotGone misreads errors")
	}
}
