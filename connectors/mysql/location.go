package mysql

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/reconhq/reconcile/connectors"
)

// DefaultPort is the port of a location that names none.
const DefaultPort = "3306"

// driverDSN matches the go-sql-driver form after the scheme:
// [user[:password]@]net(address)/db.
var driverDSN = regexp.MustCompile(`(?:^|@)(?:tcp|tcp4|tcp6|unix)\(`)

// parseLocation turns a location into the driver's configuration:
//
//	mysql://user:password@host:port/db?param=value   (a URL; percent-encode
//	                                                  special characters)
//	mysql://user:password@tcp(host:port)/db?param=value   (the driver's DSN)
//
// and "mariadb://" likewise. The password falls back to pwd (MYSQL_PWD).
// Settings the connector depends on are forced: no time parsing, client-side
// interpolation of its own parameters, the utf8mb4 character set.
func parseLocation(location, pwd string) (*mysql.Config, error) {
	scheme := connectors.SchemeOf(location)
	if scheme != "mysql" && scheme != "mariadb" {
		return nil, fmt.Errorf("not a mysql:// or mariadb:// location: %w", connectors.ErrUnsupported)
	}
	rest := location[len(scheme)+3:]
	// A password parameter is taken as written, up to the next '&' or
	// the end, so that a ';' or '#' in it neither ends it nor reaches
	// the driver or an error message.
	rest, ppass, hasPPass, err := takePasswordParam(rest)
	if err != nil {
		return nil, err
	}
	var cfg *mysql.Config
	if driverDSN.MatchString(rest) {
		cfg, err = parseDriverDSN(rest)
	} else {
		cfg, err = parseURL(scheme + "://" + rest)
	}
	if err != nil {
		return nil, err
	}
	if cfg.Passwd == "" && hasPPass {
		cfg.Passwd = ppass
	}
	if cfg.Passwd == "" && pwd != "" {
		cfg.Passwd = pwd
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	cfg.ParseTime = false
	cfg.InterpolateParams = true
	cfg.MultiStatements = false
	cfg.ColumnsWithAlias = false
	cfg.AllowAllFiles = false
	cfg.Loc = time.UTC
	cfg.Logger = &mysql.NopLogger{}
	return cfg, nil
}

// checkParams refuses parameters that would change what the connector
// reads or that the driver cannot take.
func checkParams(params url.Values) error {
	var errs []error
	for k, vs := range params {
		v := ""
		if len(vs) > 0 {
			v = vs[len(vs)-1]
		}
		switch k {
		case "strict":
			errs = append(errs, errors.New("parameter strict: removed from the driver"))
		case "charset":
			for _, cs := range strings.Split(v, ",") {
				if cs != "utf8mb4" {
					errs = append(errs, fmt.Errorf("parameter charset=%s: the connector reads text as utf8mb4 (the server converts every column); drop the parameter", v))
					break
				}
			}
		case "collation":
			if !strings.HasPrefix(v, "utf8mb4_") {
				errs = append(errs, fmt.Errorf("parameter collation=%s: the connection collation must be a utf8mb4 one", v))
			}
		case "parseTime", "multiStatements", "interpolateParams", "columnsWithAlias", "loc", "allowAllFiles":
			errs = append(errs, fmt.Errorf("parameter %s: set by the connector itself", k))
		}
	}
	return errors.Join(errs...)
}

// isPasswordParam reports whether a parameter name sets the password.
func isPasswordParam(k string) bool {
	k = strings.ToLower(k)
	return k == "password" || k == "pass"
}

// takePasswordParam removes the password parameters (password=, pass=,
// in any case) from the query of a location (after its scheme) and
// returns the value of the last one: everything up to the next '&' or
// the end, ';' and '#' included, percent-decoded.
func takePasswordParam(rest string) (string, string, bool, error) {
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		return rest, "", false, nil
	}
	var kept []string
	var pass string
	found := false
	for _, part := range strings.Split(rest[q+1:], "&") {
		k, v, _ := strings.Cut(part, "=")
		if !isPasswordParam(k) {
			kept = append(kept, part)
			continue
		}
		d, err := url.QueryUnescape(v)
		if err != nil {
			return "", "", false, fmt.Errorf("invalid location: parameter %s: bad percent-encoding (write '%%' as %%25)", k)
		}
		pass, found = d, true
	}
	rest = rest[:q]
	if len(kept) > 0 {
		rest += "?" + strings.Join(kept, "&")
	}
	return rest, pass, found, nil
}

func parseDriverDSN(dsn string) (*mysql.Config, error) {
	params := url.Values{}
	if q := strings.LastIndex(dsn, "?"); q >= 0 && q > strings.LastIndex(dsn, "/") {
		var err error
		if params, err = url.ParseQuery(dsn[q+1:]); err != nil {
			return nil, errors.New("invalid location: bad parameters (percent-encode their values)")
		}
	}
	if err := checkParams(params); err != nil {
		return nil, fmt.Errorf("invalid location: %w", err)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid location: %w", err)
	}
	return cfg, nil
}

func parseURL(location string) (*mysql.Config, error) {
	u, err := url.Parse(location)
	if err != nil {
		// url.Error quotes the location, and its reasons may quote part of
		// a password: say what to fix instead.
		return nil, errors.New("invalid location: not a URL mysql://user:password@host:port/database?param=value " +
			"(percent-encode '@', ':', '/', '?', '#' and '%' in the user name and password)")
	}
	if u.Opaque != "" {
		return nil, errors.New("invalid location: want mysql://user:password@host:port/database")
	}
	if u.Fragment != "" || strings.HasSuffix(location, "#") {
		return nil, errors.New("invalid location: a '#' outside the password parameter; percent-encode it (%23)")
	}
	params, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		// Its reason may quote a parameter: say what to fix instead.
		return nil, errors.New("invalid location: malformed parameters (separate them with '&'; percent-encode ';', '&', '#', '+' and '%' in values)")
	}
	if err := checkParams(params); err != nil {
		return nil, fmt.Errorf("invalid location: %w", err)
	}
	var pass string
	if u.User != nil {
		pass, _ = u.User.Password()
	}
	socket := params.Get("socket")
	params.Del("socket")
	db := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(db, "/") {
		return nil, errors.New("invalid location: the path must be a database name")
	}
	network, addr := "unix", socket
	if socket == "" {
		host := u.Hostname()
		if host == "" {
			host = "127.0.0.1"
		}
		port := u.Port()
		if port == "" {
			port = DefaultPort
		}
		network, addr = "tcp", net.JoinHostPort(host, port)
	}
	// The address and the parameters go through the driver's own parser
	// (which knows its settings, derives the TLS server name from the
	// address and passes other parameters on as session variables); the
	// user and password are set directly.
	var dsn strings.Builder
	dsn.WriteString("@" + network + "(" + addr + ")/" + url.PathEscape(db))
	first := true
	for k, vs := range params {
		for _, v := range vs {
			if first {
				dsn.WriteByte('?')
				first = false
			} else {
				dsn.WriteByte('&')
			}
			dsn.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v))
		}
	}
	cfg, err := mysql.ParseDSN(dsn.String())
	if err != nil {
		return nil, fmt.Errorf("invalid location: %w", err)
	}
	cfg.User = ""
	if u.User != nil {
		cfg.User = u.User.Username()
	}
	cfg.Passwd = pass
	return cfg, nil
}
