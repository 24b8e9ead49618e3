package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/bulkread"
)

// Defaults of Config and of the session settings.
const (
	DefaultBatchRows        = 64 * 1024
	DefaultAttempts         = connectors.DefaultRetryAttempts
	DefaultBackoff          = connectors.DefaultRetryBackoff
	DefaultMaxBackoff       = connectors.DefaultRetryMaxBackoff
	DefaultStatementTimeout = time.Hour
	DefaultLockTimeout      = 10 * time.Second
)

const (
	// maxIdle bounds the reading connections a Source keeps, each idle in
	// its snapshot transaction, for the next Describe or Read.
	maxIdle = 4
	// cancelGrace is how long a cancelled statement may take to stop after
	// the cancel request before the socket is closed under it.
	cancelGrace = 2 * time.Second
	// cleanupTimeout bounds closing connections and similar housekeeping
	// that runs after the caller's context has ended.
	cleanupTimeout = 5 * time.Second
	// savepoint guards each use of the control connection in serial mode.
	savepoint = "reconcile_read"
)

// Config tunes how a Source recovers from lost connections. The zero value
// uses the defaults.
type Config struct {
	// Attempts bounds the tries of a read or describe in a row that fail
	// with a lost connection without handing on any row in between (the
	// first try included); 0 means DefaultAttempts, 1 never retries.
	Attempts int
	// Backoff is the wait before the first retry, doubled before each next
	// one up to MaxBackoff; 0 means DefaultBackoff and DefaultMaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

func (c Config) withDefaults() Config { return Config(connectors.Retry(c).WithDefaults()) }

// backoff returns the wait before retry n (1 for the first retry).
func (c Config) backoff(n int) time.Duration { return connectors.Retry(c).Delay(n) }

// Source is a PostgreSQL database read at one point in time. It is safe for
// concurrent use. See the package documentation.
type Source struct {
	received *atomic.Int64 // bytes read from the server's sockets
	cfg      *pgx.ConnConfig
	conf     Config
	opts     connectors.Options
	display  string   // the location with passwords hidden
	secrets  []string // passwords to scrub from error texts
	setup    string   // the session settings, run on every connection
	local    string   // the decoding and planning settings, as SET LOCAL, run after every BEGIN
	// nonUTF8: the server encoding is neither UTF8 nor SQL_ASCII, so text
	// keys order by convert_to(..., 'UTF8').
	nonUTF8 bool
	// encoding is the server encoding, as the server reports it.
	encoding string
	// major is the server's major version (15 for 15.4), 0 when unknown.
	major int
	// base outlives the caller's context, for closing connections once
	// it has ended; it carries no deadline or cancellation of its own.
	base context.Context

	control     *pgx.Conn
	controlMu   sync.Mutex    // shared mode: serialises pings of control
	serial      chan struct{} // serial mode: the one-slot lock of control; nil when the snapshot is shared
	snapshot    string
	consistency connectors.Consistency
	notes       []string

	// onRetry, when set (by tests), is told of each lost connection a read
	// recovers from.
	onRetry func(error)

	mu     sync.Mutex
	closed bool
	lost   error // the snapshot is gone; every further use fails with it
	idle   []*pgx.Conn
	plans  map[connectors.TableRef]*tablePlan
}

// Open is a connectors.Opener for "postgres://" and "postgresql://" URLs and
// keyword/value connection strings; see Config.Open.
func Open(ctx context.Context, location string, opts connectors.Options) (*Source, error) {
	return Config{}.Open(ctx, location, opts)
}

// Open connects to the database at location and takes the snapshot every
// read of the Source will see. location is anything pgx.ParseConfig takes,
// so PGHOST, PGPASSWORD, ~/.pgpass, sslmode and the rest work as with
// libpq. The caller must Close the Source.
func (c Config) Open(ctx context.Context, location string, opts connectors.Options) (*Source, error) {
	display := redactLocation(location)
	secrets := secretsOf(location)
	cfg, err := pgx.ParseConfig(location)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", display, scrub(parseError(err), secrets))
	}
	secrets = append(secrets, cfg.Password)
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		// Cancelling a context cancels the statement on the server, not
		// only the socket: a long COPY must not run on after Ctrl-C.
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: cancelGrace}
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	if cfg.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement {
		// Catalog queries run once per connection: no statement cache.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	received := new(atomic.Int64)
	if dial := cfg.DialFunc; dial != nil {
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return bulkread.Wrap(c, received), nil
		}
	}
	s := &Source{
		received: received,
		cfg:      cfg,
		conf:     c.withDefaults(),
		opts:     opts,
		display:  display,
		secrets:  secrets,
		setup:    sessionSetup(cfg.RuntimeParams, opts),
		base:     context.WithoutCancel(ctx),
		plans:    map[connectors.TableRef]*tablePlan{},
	}
	if err := s.start(ctx); err != nil {
		return nil, fmt.Errorf("open %s: %w", display, err)
	}
	return s, nil
}

// parseError rewords a connection string parse error without quoting the
// string (the caller prints it redacted).
func parseError(err error) error {
	msg := err.Error()
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		if i := strings.Index(msg, "`: "); i >= 0 {
			msg = msg[i+3:]
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			msg = strings.ReplaceAll(msg, ue.Error(), ue.Err.Error())
		}
	}
	return &redactedError{msg: "invalid connection string: " + msg, err: err}
}

// sessionSetup returns the SET statements every connection runs. The
// settings the decoding depends on are forced; application_name and the
// timeouts given in the connection string stand unless opts sets them.
func sessionSetup(dsn map[string]string, opts connectors.Options) string {
	var b strings.Builder
	set := func(name, value string) {
		fmt.Fprintf(&b, "SET %s = %s; ", name, value)
	}
	ms := func(d time.Duration) string {
		// At least 1ms: 0 would turn the timeout off.
		return quoteLiteral(strconv.FormatInt(max(d.Milliseconds(), 1), 10) + "ms")
	}
	if opts.StatementTimeout > 0 {
		set("statement_timeout", ms(opts.StatementTimeout))
	} else if _, ok := dsn["statement_timeout"]; !ok {
		set("statement_timeout", ms(DefaultStatementTimeout))
	}
	if opts.LockTimeout > 0 {
		set("lock_timeout", ms(opts.LockTimeout))
	} else if _, ok := dsn["lock_timeout"]; !ok {
		set("lock_timeout", ms(DefaultLockTimeout))
	}
	if _, ok := dsn["application_name"]; !ok {
		set("application_name", "'reconcile'")
	}
	set("idle_in_transaction_session_timeout", "0")
	set("default_transaction_read_only", "on")
	for _, kv := range decodingSettings {
		set(kv[0], kv[1])
	}
	return b.String()
}

// decodingSettings are the settings the decoding depends on: text output
// of dates, intervals, floats, bytea (inside JSON arrays), money and
// object names (regclass and the like), and how literals and text
// travel. The native row hash (NativeHash) hashes the text output of
// rows, which these fix as well.
var decodingSettings = [][2]string{
	{"client_encoding", "'UTF8'"},
	{"standard_conforming_strings", "on"},
	{"TimeZone", "'UTC'"},
	{"DateStyle", "'ISO, YMD'"},
	{"IntervalStyle", "'iso_8601'"},
	{"extra_float_digits", "3"},
	{"bytea_output", "'hex'"},
	{"lc_monetary", "'C'"},
	{"quote_all_identifiers", "off"},
}

// localSetup returns the decoding settings as SET LOCAL statements, run
// right after every BEGIN: a pooler in transaction mode may hand the
// transaction a server session that never ran the session setup. On a
// server of the given major version that has JIT compilation (11 on), it
// turns that off for the transaction: the connector's statements are
// scans, which JIT does not speed up, and checksum statements, whose
// generated expressions (a CASE over thousands of key bounds) LLVM takes
// up to minutes to compile.
func localSetup(major int) string {
	var b strings.Builder
	for _, kv := range decodingSettings {
		fmt.Fprintf(&b, "SET LOCAL %s = %s; ", kv[0], kv[1])
	}
	if major >= 11 {
		b.WriteString("SET LOCAL jit = off; ")
	}
	return b.String()
}

// start opens the control connection and takes the snapshot: it exports
// it for the reading connections when the server allows, and otherwise
// keeps it for reading on the control connection itself, one read at a time.
func (s *Source) start(ctx context.Context) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	var now time.Time
	var recovery bool
	fail := func(what string, err error) error {
		s.closeConn(conn)
		return fmt.Errorf("take snapshot: %s: %w", what, orCtx(ctx, err))
	}
	s.major = majorVersion(conn.PgConn().ParameterStatus("server_version"))
	s.local = localSetup(s.major)
	if _, err := conn.PgConn().Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "+s.local).ReadAll(); err != nil {
		return fail("begin", err)
	}
	err = conn.QueryRow(ctx, "SELECT pg_catalog.pg_export_snapshot(), now(), pg_catalog.pg_is_in_recovery()").Scan(&s.snapshot, &now, &recovery)
	if err != nil {
		if ctx.Err() != nil || connectionLost(err) {
			return fail("export", err)
		}
		s.snapshot = ""
		s.serial = make(chan struct{}, 1)
		s.notes = append(s.notes, fmt.Sprintf("the server refused to export the snapshot (%v): reads share one connection and run one at a time", err))
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			return fail("rollback", err)
		}
		if _, err := conn.PgConn().Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "+s.local).ReadAll(); err != nil {
			return fail("begin", err)
		}
		if err := conn.QueryRow(ctx, "SELECT now(), pg_catalog.pg_is_in_recovery()").Scan(&now, &recovery); err != nil {
			return fail("read the server time", err)
		}
	}
	// The log position, if this role may see it: in a savepoint, since a
	// refusal would abort the snapshot's transaction.
	fn := "pg_current_wal_lsn"
	if recovery {
		fn = "pg_last_wal_replay_lsn"
	}
	var lsn *string
	if _, err := conn.Exec(ctx, "SAVEPOINT reconcile_lsn"); err != nil {
		return fail("savepoint", err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_catalog."+fn+"()::text").Scan(&lsn); err != nil {
		if ctx.Err() != nil || connectionLost(err) {
			return fail("read the WAL position", err)
		}
		lsn = nil
		if _, err := conn.Exec(ctx, "ROLLBACK TO SAVEPOINT reconcile_lsn"); err != nil {
			return fail("rollback to savepoint", err)
		}
	}
	if _, err := conn.Exec(ctx, "RELEASE SAVEPOINT reconcile_lsn"); err != nil {
		return fail("release savepoint", err)
	}
	s.control = conn
	s.encoding = conn.PgConn().ParameterStatus("server_encoding")
	switch s.encoding {
	case "UTF8", "SQL_ASCII", "":
	default:
		s.nonUTF8 = true
	}
	s.consistency = connectors.Consistency{Time: now.UTC(), Snapshot: s.snapshot}
	if lsn != nil {
		s.consistency.Position = *lsn
	}
	return nil
}

// connect opens a connection with the session settings applied.
func (s *Source) connect(ctx context.Context) (*pgx.Conn, error) {
	// A cancellation ends the statement with the server's "canceling
	// statement due to user request": orCtx reports it as the
	// cancellation it is, which callers tell from a failure.
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", orCtx(ctx, scrub(err, s.secrets)))
	}
	if _, err := conn.PgConn().Exec(ctx, s.setup).ReadAll(); err != nil {
		s.closeConn(conn)
		return nil, fmt.Errorf("configure session: %w", orCtx(ctx, scrub(err, s.secrets)))
	}
	return conn, nil
}

// closeConn closes a connection, even after the caller's context ended.
func (s *Source) closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(s.base, cleanupTimeout)
	defer cancel()
	conn.Close(ctx)
}

// lease is a connection inside the snapshot, lent to one Describe or one
// attempt of a read.
type lease struct {
	s         *Source
	conn      *pgx.Conn
	onControl bool // serial mode: the control connection, inside a savepoint
}

// usable returns the error that stops every use of a closed Source or a
// lost snapshot.
func (s *Source) usable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("source is closed")
	}
	return s.lost
}

// markLost records that the snapshot is gone and returns the error every
// further use reports.
func (s *Source) markLost(cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost == nil {
		s.lost = fmt.Errorf("%w: the connection holding the source's snapshot failed (%v), so nothing more can be read at the same point in time",
			ErrSnapshotLost, scrub(cause, s.secrets))
	}
	return s.lost
}

// acquire lends a connection inside the snapshot. fresh skips the idle
// connections (after a connection was lost, they may be gone too).
func (s *Source) acquire(ctx context.Context, fresh bool) (*lease, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	if s.serial != nil {
		select {
		case s.serial <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if err := s.usable(); err != nil {
			<-s.serial
			return nil, err
		}
		if err := s.controlExec("SAVEPOINT " + savepoint); err != nil {
			<-s.serial
			return nil, s.markLost(err)
		}
		return &lease{s: s, conn: s.control, onControl: true}, nil
	}
	if err := s.ping(); err != nil {
		return nil, err
	}
	if !fresh {
		s.mu.Lock()
		if n := len(s.idle); n > 0 {
			conn := s.idle[n-1]
			s.idle = s.idle[:n-1]
			s.mu.Unlock()
			return &lease{s: s, conn: conn}, nil
		}
		s.mu.Unlock()
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	_, err = conn.PgConn().Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT "+quoteLiteral(s.snapshot)+"; "+s.local).ReadAll()
	if err != nil {
		s.closeConn(conn)
		if snapshotGone(err) {
			return nil, s.markLost(err)
		}
		return nil, fmt.Errorf("import snapshot: %w", orCtx(ctx, err))
	}
	return &lease{s: s, conn: conn}, nil
}

// ping checks that the control connection, and so the snapshot, is alive.
// It runs with the Source's own context: a cancelled statement would abort
// the snapshot's transaction.
func (s *Source) ping() error {
	s.controlMu.Lock()
	defer s.controlMu.Unlock()
	ctx, cancel := context.WithTimeout(s.base, s.conf.MaxBackoff+cleanupTimeout)
	defer cancel()
	if _, err := s.control.PgConn().Exec(ctx, "SELECT 1").ReadAll(); err != nil {
		return s.markLost(err)
	}
	return nil
}

// controlExec runs sql on the control connection, with the Source's own
// context (see ping).
func (s *Source) controlExec(sql string) error {
	ctx, cancel := context.WithTimeout(s.base, s.conf.MaxBackoff+cleanupTimeout)
	defer cancel()
	_, err := s.control.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

// release returns the connection. A connection whose transaction failed
// (an error, a cancelled statement) is closed rather than kept; in serial
// mode the savepoint undoes the failure instead.
func (l *lease) release(healthy bool) {
	s := l.s
	if l.onControl {
		stmt := "RELEASE SAVEPOINT " + savepoint
		if !healthy {
			stmt = "ROLLBACK TO SAVEPOINT " + savepoint + "; RELEASE SAVEPOINT " + savepoint
		}
		if err := s.controlExec(stmt); err != nil {
			s.markLost(err)
		}
		<-s.serial
		return
	}
	if healthy && !l.conn.PgConn().IsClosed() && l.conn.PgConn().TxStatus() == 'T' {
		s.mu.Lock()
		if !s.closed && len(s.idle) < maxIdle {
			s.idle = append(s.idle, l.conn)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
	s.closeConn(l.conn)
}

// retry runs fn until it succeeds, fails for another reason than a lost
// connection, or has failed Config.Attempts times; fn gets fresh
// connections after the first failure.
func (s *Source) retry(ctx context.Context, fn func(fresh bool) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(attempt > 1)
		if err == nil || ctx.Err() != nil || !connectionLost(err) || errors.Is(err, ErrSnapshotLost) || attempt >= s.conf.Attempts {
			if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if err := sleep(ctx, s.conf.backoff(attempt)); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the snapshot and closes every idle connection. Readers still
// open keep their connections until they are released. Close is
// idempotent.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	idle := s.idle
	s.idle = nil
	s.plans = nil
	s.mu.Unlock()
	for _, c := range idle {
		s.closeConn(c)
	}
	if s.serial != nil {
		// Wait for the read on the control connection, if any, to end.
		t := time.NewTimer(cleanupTimeout)
		defer t.Stop()
		select {
		case s.serial <- struct{}{}:
			defer func() { <-s.serial }()
		case <-t.C:
			// A reader nobody released still uses the connection: cut its
			// socket, which ends the transaction, and leave the rest to
			// the reader.
			s.control.PgConn().Conn().Close()
			return nil
		}
	}
	s.controlMu.Lock()
	defer s.controlMu.Unlock()
	s.closeConn(s.control)
	return nil
}

// majorVersion reads the major version off a server_version ("15.4
// (Debian 15.4-1)", "9.6.24"): 0 when it does not start with a number.
func majorVersion(v string) int {
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, _ := strconv.Atoi(v[:i])
	return n
}

var _ connectors.Source = (*Source)(nil)
var _ connectors.OrderedReader = (*Source)(nil)
var _ connectors.Checksummer = (*Source)(nil)

// BytesReceived is what the Source's connections have read from the
// server so far.
func (s *Source) BytesReceived() int64 { return s.received.Load() }

var _ connectors.Meter = (*Source)(nil)
