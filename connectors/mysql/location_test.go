package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/connectors"
)

func TestParseLocation(t *testing.T) {
	for _, c := range []struct {
		loc, pwd                  string
		user, pass, net, addr, db string
		params                    map[string]string
	}{
		{loc: "mysql://app@legacy/shop", user: "app", net: "tcp", addr: "legacy:3306", db: "shop"},
		{loc: "mariadb://app:s%40cret%2F1@db.internal:3307/shop?sql_mode=ANSI&timeout=3s", user: "app", pass: "s@cret/1", net: "tcp", addr: "db.internal:3307", db: "shop",
			params: map[string]string{"sql_mode": "ANSI"}},
		{loc: "mysql://app@[::1]/shop", user: "app", net: "tcp", addr: "[::1]:3306", db: "shop"},
		{loc: "mysql://app@/shop?socket=/run/mysqld/mysqld.sock", user: "app", net: "unix", addr: "/run/mysqld/mysqld.sock", db: "shop"},
		{loc: "mysql://app@h/shop?password=fromparam", user: "app", pass: "fromparam", net: "tcp", addr: "h:3306", db: "shop"},
		{loc: "mysql://app@h/shop", pwd: "fromenv", user: "app", pass: "fromenv", net: "tcp", addr: "h:3306", db: "shop"},
		{loc: "mysql://app:given@h/shop", pwd: "fromenv", user: "app", pass: "given", net: "tcp", addr: "h:3306", db: "shop"},
		{loc: "mysql://root:p@ss:w/rd@tcp(127.0.0.1:3306)/shop?timeout=1s", user: "root", pass: "p@ss:w/rd", net: "tcp", addr: "127.0.0.1:3306", db: "shop"},
		{loc: "MySQL://root@unix(/tmp/my.sock)/", user: "root", net: "unix", addr: "/tmp/my.sock"},
		{loc: "mysql://h", net: "tcp", addr: "h:3306"},
	} {
		cfg, err := parseLocation(c.loc, c.pwd)
		if err != nil {
			t.Errorf("parseLocation(%q): %v", c.loc, err)
			continue
		}
		if cfg.User != c.user || cfg.Passwd != c.pass || cfg.Net != c.net || cfg.Addr != c.addr || cfg.DBName != c.db {
			t.Errorf("parseLocation(%q) = user %q pass %q net %q addr %q db %q", c.loc, cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName)
		}
		for k, v := range c.params {
			if cfg.Params[k] != v {
				t.Errorf("parseLocation(%q): param %s = %q, want %q", c.loc, k, cfg.Params[k], v)
			}
		}
		if !cfg.InterpolateParams || cfg.ParseTime {
			t.Errorf("parseLocation(%q): connector settings not forced", c.loc)
		}
	}
	for _, loc := range []string{
		"postgres://x@h/db",
		"mysql://u:pa/ss@h/db",
		"mysql://u@h/db?charset=latin1",
		"mysql://u@h/db?parseTime=true",
		"mysql://u@h/db?strict=true",
		"mysql://u:secret@tcp(h/db",
		"mysql://u@h/a/b",
	} {
		if _, err := parseLocation(loc, ""); err == nil {
			t.Errorf("parseLocation(%q): no error", loc)
		}
	}
}

// TestOpenHidesPasswords opens locations that fail before reaching any
// server, and checks that no error shows the password.
func TestOpenHidesPasswords(t *testing.T) {
	const secret = "Sup3rS3cret"
	for _, loc := range []string{
		"mysql://app:" + secret + "@127.0.0.1:1/shop",
		"mysql://app:" + secret + "@tcp(127.0.0.1:1)/shop",
		"mysql://app:" + secret + "/x@127.0.0.1:1/shop",
		"mysql://app:" + secret + "@127.0.0.1:1/shop?charset=latin1",
		"mysql://app@127.0.0.1:1/shop?password=" + secret,
		"mysql://app:" + secret + "@tcp(127.0.0.1:1/shop",
		"mysql://app:" + secret + "%zz@127.0.0.1:1/shop",
		"mysql://app@127.0.0.1:1/shop?password=Hunter2;" + secret,
		"mysql://app@127.0.0.1:1/shop?pass=Hunter2#" + secret,
		"mysql://app@tcp(127.0.0.1:1)/shop?Password=Hunter2;" + secret,
	} {
		_, err := Open(t.Context(), loc, connectors.Options{})
		if err == nil {
			t.Errorf("Open(%s): no error", connectors.Redact(loc))
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "S3cret") {
			t.Errorf("the error of Open shows the password: %v", err)
		}
	}
	t.Setenv("MYSQL_PWD", secret)
	_, err := Open(t.Context(), "mysql://app@127.0.0.1:1/shop", connectors.Options{})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Open with MYSQL_PWD: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Open(ctx, "mysql://app@127.0.0.1:1/shop", connectors.Options{}); !errors.Is(err, context.Canceled) && err == nil {
		t.Errorf("Open with a cancelled context: %v", err)
	}
}

// FuzzParseLocation checks that parsing never panics and that its errors
// never quote the password.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"mysql://u:secret@h:3306/db?x=y", "mysql://u:secret@tcp(h:1)/db", "mariadb://u:se/cret@h/db", "mysql://u:s%zz@h/db"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, loc string) {
		if !strings.HasPrefix(loc, "mysql://") {
			return
		}
		_, err := parseLocation(loc, "")
		if err == nil {
			return
		}
		for _, s := range secretsOf(loc) {
			if len(s) >= 4 && strings.Contains(err.Error(), s) && !strings.Contains(loc[:strings.Index(loc, s)], "?") {
				t.Fatalf("the error of parseLocation(%q) shows %q: %v", loc, s, err)
			}
		}
	})
}

// TestPasswordParameter takes a password parameter as written, up to the
// next '&' or the end, and refuses other malformed parameters without
// quoting them.
func TestPasswordParameter(t *testing.T) {
	for loc, want := range map[string]string{
		"mysql://u@h/db?password=Hunter2;Zebra9":           "Hunter2;Zebra9",
		"mysql://u@h/db?pass=Hunter2#Zebra9":               "Hunter2#Zebra9",
		"mysql://u@h/db?readTimeout=1s&PASSWORD=a%26b&x=1": "a&b",
		"mysql://u@tcp(h:1)/db?Pass=Hunter2;Zebra9":        "Hunter2;Zebra9",
	} {
		cfg, err := parseLocation(loc, "")
		if err != nil {
			t.Errorf("parseLocation(%s): %v", loc, err)
			continue
		}
		if cfg.Passwd != want {
			t.Errorf("parseLocation(%s): password %q, want %q", loc, cfg.Passwd, want)
		}
		for k := range cfg.Params {
			if isPasswordParam(k) {
				t.Errorf("parseLocation(%s): the password is passed on as session variable %s", loc, k)
			}
		}
	}
	for _, loc := range []string{"mysql://u@h/db?x=1;Zebra9", "mysql://u@h/db?x=1#Zebra9", "mysql://u@h/db?x=%zzZebra9"} {
		_, err := parseLocation(loc, "")
		if err == nil || strings.Contains(err.Error(), "Zebra9") {
			t.Errorf("parseLocation(%s) = %v, want an error without the parameter", loc, err)
		}
	}
}
