package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

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
	// cancelGrace is how long a statement may take to stop after KILL QUERY
	// before the connector closes the socket under it.
	cancelGrace = 2 * time.Second
	// cleanupTimeout bounds housekeeping that runs after the caller's
	// context has ended (KILL QUERY from a side connection).
	cleanupTimeout = 5 * time.Second
)

// errClosed is the failure of every use of a closed Source.
var errClosed = errors.New("source is closed")

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

// Resume records a connection lost and replaced by a new one, which sees a
// new snapshot: MySQL cannot share or re-attach a snapshot.
type Resume struct {
	// Table is the table (or "query") being read when the connection was
	// lost; empty when no read was under way.
	Table string
	// After is the last key handed on before the loss, as "(id) = (42)";
	// the rows after it were read from Snapshot. Empty when the read had
	// handed on no row (the whole table was read from Snapshot) or no read
	// was under way.
	After string
	// Cause is the failure, with passwords hidden.
	Cause string
	// Snapshot is the new snapshot.
	Snapshot connectors.Consistency
}

// String renders the resume as a report note.
func (r Resume) String() string {
	at := r.Snapshot.Time.UTC().Format(time.RFC3339Nano)
	if r.Snapshot.Position != "" {
		at += " (position " + r.Snapshot.Position + ")"
	}
	switch {
	case r.Table != "" && r.After != "":
		return fmt.Sprintf("connection lost while reading %s after key %s (%s); the rows after it were read from a new snapshot taken at %s",
			r.Table, r.After, r.Cause, at)
	case r.Table != "":
		return fmt.Sprintf("connection lost (%s); %s was read from a new snapshot taken at %s", r.Cause, r.Table, at)
	}
	return fmt.Sprintf("connection lost (%s); reads after it see a new snapshot taken at %s", r.Cause, at)
}

// session is one connection inside its snapshot transaction.
type session struct {
	conn driver.Conn
	sock *bulkread.Conn // conn's socket; nil when the dial was not ours
	// ctx is passed to every statement; cancelling it makes the driver
	// close the socket, which is the last resort to stop a statement.
	ctx    context.Context
	cancel context.CancelFunc
	id     uint64
	snap   connectors.Consistency
}

// namedArgs numbers a statement's arguments for the driver.
func namedArgs(args []any) []driver.NamedValue {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return named
}

func (ss *session) query(ctx context.Context, sql string, args []any) (driver.Rows, error) {
	return ss.conn.(driver.QueryerContext).QueryContext(ctx, sql, namedArgs(args))
}

// prepared runs a query as a server-side prepared statement, whose rows
// come in MySQL's binary protocol: numbers as fixed-width binary rather
// than decimal text, which is cheaper for the server to write and for
// the reader to decode. Closing the rows closes the statement. A server
// or proxy that will not prepare the statement (or has no room for one
// more) gets it over the text protocol instead.
func (ss *session) prepared(ctx context.Context, sql string, args []any) (driver.Rows, error) {
	st, err := ss.conn.(driver.ConnPrepareContext).PrepareContext(ctx, sql)
	if serverError(err, erUnknownCom, erUnsupportedPS, erMaxPreparedStmtCount) {
		return ss.query(ctx, sql, args)
	}
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, namedArgs(args))
	if err != nil {
		st.Close()
		return nil, err
	}
	return &stmtRows{Rows: rows, st: st}, nil
}

// stmtRows closes its statement after its rows.
type stmtRows struct {
	driver.Rows
	st driver.Stmt
}

// Close closes the rows, then the statement. Once every row has been read
// and the rows closed, a statement that fails to close (its connection
// just died) loses nothing: the next statement on the connection finds out.
func (r *stmtRows) Close() error {
	err := r.Rows.Close()
	r.st.Close()
	return err
}

func (ss *session) exec(ctx context.Context, sql string) error {
	_, err := ss.conn.(driver.ExecerContext).ExecContext(ctx, sql, nil)
	return err
}

// all runs a query and returns its rows, text as strings.
func (ss *session) all(ctx context.Context, sql string, args ...any) ([][]any, error) {
	rows, err := ss.query(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	dest := make([]driver.Value, len(rows.Columns()))
	var out [][]any
	for {
		err := rows.Next(dest)
		if err == io.EOF {
			break
		}
		if err != nil {
			rows.Close()
			return nil, err
		}
		row := make([]any, len(dest))
		for i, v := range dest {
			if b, ok := v.([]byte); ok {
				row[i] = string(b)
			} else {
				row[i] = v
			}
		}
		out = append(out, row)
	}
	return out, rows.Close()
}

func (ss *session) close() {
	ss.conn.Close()
	ss.cancel()
}

// Source is a MySQL or MariaDB database read at one point in time, on one
// connection. It is safe for concurrent use; statements on the connection
// run one at a time (see the package documentation).
type Source struct {
	connector driver.Connector
	conf      Config
	opts      connectors.Options
	display   string   // the location with passwords hidden
	secrets   []string // passwords to scrub from error texts
	db        string   // the database of the location
	collation string   // the connection collation the location asks for, if any
	// text: scans may read their rows with textRows (the connection
	// carries the protocol as is; see textProtocolOK).
	text      bool
	textScans atomic.Int64 // statements read by textRows (for tests)
	// base outlives the caller's context, for the connections' own
	// contexts and for housekeeping after the caller's context has ended.
	base context.Context

	// slot is the one-slot lock of the connection: its holder runs
	// statements on sess. Readers hold it until they end.
	slot chan struct{}

	mu      sync.Mutex
	closed  bool
	sess    *session // nil after a lost connection, until the next use
	lost    error    // why sess was dropped
	first   connectors.Consistency
	notes   []string // about the server (settings it lacks)
	resumes []Resume
	plans   map[connectors.TableRef]*tablePlan

	received *atomic.Int64 // bytes read from the server's sockets (BytesReceived)
}

// Open is a connectors.Opener for "mysql://" and "mariadb://" locations;
// see Config.Open.
func Open(ctx context.Context, location string, opts connectors.Options) (*Source, error) {
	return Config{}.Open(ctx, location, opts)
}

// Open connects to the database at location and starts the consistent
// snapshot every read of the Source sees. location is
// mysql://user:password@host:port/database?param=value (mariadb:// too;
// the port defaults to 3306, the password to $MYSQL_PWD), or the
// go-sql-driver DSN after "mysql://" (mysql://user:password@tcp(host:port)/database).
// The caller must Close the Source.
func (c Config) Open(ctx context.Context, location string, opts connectors.Options) (*Source, error) {
	secrets := secretsOf(location)
	display := scrubText(connectors.Redact(location), secrets)
	cfg, err := parseLocation(location, os.Getenv("MYSQL_PWD"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", display, scrub(err, secrets))
	}
	secrets = append(secrets, cfg.Passwd)
	display = scrubText(display, secrets)
	received := new(atomic.Int64)
	cfg.DialFunc = meteredDial(received)
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", display, scrub(err, secrets))
	}
	s := &Source{
		connector: connector,
		conf:      c.withDefaults(),
		opts:      opts,
		display:   display,
		secrets:   secrets,
		db:        cfg.DBName,
		collation: cfg.Collation,
		text:      textProtocolOK(cfg),
		base:      context.WithoutCancel(ctx),
		slot:      make(chan struct{}, 1),
		plans:     map[connectors.TableRef]*tablePlan{},
		received:  received,
	}
	ss, err := s.connect(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", display, err)
	}
	s.sess = ss
	s.first = ss.snap
	return s, nil
}

func (s *Source) scrub(err error) error { return scrub(err, s.secrets) }

// maxSortLength is the session's max_sort_length: ORDER BY compares text
// and binary values on about this many bytes (MariaDB 10.11 on the first
// 65,532 of 65,536: the sort key ends with the value's length).
const maxSortLength = 65536

// sortedPrefix is how many bytes of a text or binary key the server is
// trusted to order by, with a margin for what engines keep for themselves.
// A read cannot resume after a key value longer than that (scan.longKey).
const sortedPrefix = maxSortLength - 64

// sessionVars returns the session settings every connection makes, as
// "name = value". The first one, the time zone, is required; a server that
// lacks one of the others (MySQL 5.6 has no max_execution_time) goes
// without it, with a note.
func sessionVars(mariadb bool, opts connectors.Options) []string {
	st := opts.StatementTimeout
	if st <= 0 {
		st = DefaultStatementTimeout
	}
	lt := opts.LockTimeout
	if lt <= 0 {
		lt = DefaultLockTimeout
	}
	secs := func(d time.Duration, lo, hi int64) int64 {
		return min(max(int64(math.Ceil(d.Seconds())), lo), hi)
	}
	vars := []string{"time_zone = '+00:00'"}
	if mariadb {
		vars = append(vars, fmt.Sprintf("max_statement_time = %.6f", min(st.Seconds(), 31536000)))
	} else {
		vars = append(vars, fmt.Sprintf("max_execution_time = %d", min(max(st.Milliseconds(), 1), math.MaxUint32)))
	}
	return append(vars,
		fmt.Sprintf("lock_wait_timeout = %d", secs(lt, 1, 31536000)),
		fmt.Sprintf("innodb_lock_wait_timeout = %d", secs(lt, 1, 1073741824)),
		// The server gives up on a client that does not read for this long;
		// the engine may pause a reader while the other side catches up.
		fmt.Sprintf("net_write_timeout = %d", secs(st, 60, 31536000)),
		// Sort text keys on up to 64 KiB of their value, not 1 KiB.
		fmt.Sprintf("max_sort_length = %d", maxSortLength),
		// Whatever the location's parameters (the driver sets them first)
		// or the server's defaults: text travels as UTF-8, and no
		// statement is cut short (DEFAULT would be the global value).
		"character_set_client = utf8mb4",
		"character_set_connection = utf8mb4",
		"character_set_results = utf8mb4",
		"sql_select_limit = 18446744073709551615")
}

// setup makes the session settings on a new connection.
func (s *Source) setup(ctx context.Context, ss *session, mariadb bool) error {
	vars := sessionVars(mariadb, s.opts)
	if s.collation != "" {
		// checkParams let only utf8mb4 collations through.
		vars = append(vars, "collation_connection = '"+strings.ReplaceAll(s.collation, "'", "")+"'")
	}
	err := ss.exec(ctx, "SET SESSION "+strings.Join(vars, ", SESSION "))
	if err == nil || !serverError(err, erUnknownSysVar) {
		return err
	}
	for i, v := range vars {
		if err := ss.exec(ctx, "SET SESSION "+v); err != nil {
			if i == 0 || !serverError(err, erUnknownSysVar) {
				return err
			}
			s.noteOnce(fmt.Sprintf("the server has no session variable %s: that setting does not apply",
				strings.TrimSpace(strings.SplitN(v, "=", 2)[0])))
		}
	}
	return nil
}

// noteOnce adds a note about the Source, once.
func (s *Source) noteOnce(note string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.notes, note) {
		s.notes = append(s.notes, note)
	}
}

// connect opens a connection, configures it and, when snapshot is set,
// starts its snapshot. The setup runs with the caller's context: if that
// ends, the driver closes the socket and the half-made connection is
// dropped.
func (s *Source) connect(ctx context.Context, snapshot bool) (*session, error) {
	dctx, dialed := withDialed(ctx)
	conn, err := s.connector.Connect(dctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", s.scrub(err))
	}
	_, q := conn.(driver.QueryerContext)
	_, e := conn.(driver.ExecerContext)
	if !q || !e {
		conn.Close()
		return nil, errors.New("connect: the driver's connection cannot run queries with a context")
	}
	sctx, cancel := context.WithCancel(s.base)
	ss := &session{conn: conn, sock: *dialed, ctx: sctx, cancel: cancel}
	fail := func(what string, err error) (*session, error) {
		ss.close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("%s: %w", what, s.scrub(err))
	}
	rows, err := ss.all(ctx, "SELECT CONNECTION_ID(), VERSION()")
	if err != nil {
		return fail("identify the server", err)
	}
	id, _ := toInt(rows[0][0])
	ss.id = uint64(id)
	mariadb := strings.Contains(strings.ToLower(toString(rows[0][1])), "mariadb")
	if err := s.setup(ctx, ss, mariadb); err != nil {
		return fail("configure session", err)
	}
	if !snapshot {
		return ss, nil
	}
	if err := ss.exec(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return fail("configure session", err)
	}
	if err := ss.exec(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return fail("start snapshot", err)
	}
	snap, err := ss.snapshotInfo(ctx, mariadb)
	if err != nil {
		return fail("read the snapshot's time", err)
	}
	ss.snap = snap
	return ss, nil
}

// snapshotInfo reads the server's UTC time and log position right after
// the snapshot started: the GTID set (@@gtid_executed on MySQL,
// @@gtid_current_pos on MariaDB) when there is one, else the binary log
// position (MariaDB's binlog_snapshot_file/position, which belong to the
// snapshot exactly, or SHOW MASTER STATUS when permitted), else nothing.
func (ss *session) snapshotInfo(ctx context.Context, mariadb bool) (connectors.Consistency, error) {
	gtid := "@@GLOBAL.gtid_executed"
	if mariadb {
		gtid = "@@GLOBAL.gtid_current_pos"
	}
	rows, err := ss.all(ctx, "SELECT UTC_TIMESTAMP(6), "+gtid)
	if err != nil {
		if connectionLost(err) || ctx.Err() != nil {
			return connectors.Consistency{}, err
		}
		if rows, err = ss.all(ctx, "SELECT UTC_TIMESTAMP(6), ''"); err != nil {
			return connectors.Consistency{}, err
		}
	}
	us, ok, err := parseDatetime([]byte(toString(rows[0][0])))
	if err != nil || !ok {
		return connectors.Consistency{}, fmt.Errorf("unexpected UTC_TIMESTAMP %q", toString(rows[0][0]))
	}
	c := connectors.Consistency{Time: time.UnixMicro(us).UTC()}
	c.Position = strings.Join(strings.Fields(toString(rows[0][1])), "")
	if c.Position != "" {
		return c, nil
	}
	if mariadb {
		rows, err := ss.all(ctx, "SHOW SESSION STATUS LIKE 'binlog_snapshot_%'")
		if err != nil && (connectionLost(err) || ctx.Err() != nil) {
			return c, err
		}
		var file, pos string
		for _, r := range rows {
			switch strings.ToLower(toString(r[0])) {
			case "binlog_snapshot_file":
				file = toString(r[1])
			case "binlog_snapshot_position":
				pos = toString(r[1])
			}
		}
		if file != "" {
			c.Position = file + ":" + pos
			return c, nil
		}
	}
	for _, stmt := range []string{"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"} {
		rows, err := ss.all(ctx, stmt)
		if err != nil {
			if connectionLost(err) || ctx.Err() != nil {
				return c, err
			}
			continue // not permitted, or not this server's spelling
		}
		if len(rows) > 0 && len(rows[0]) >= 2 && toString(rows[0][0]) != "" {
			c.Position = toString(rows[0][0]) + ":" + toString(rows[0][1])
		}
		break
	}
	return c, nil
}

func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case string:
		n, err := parseInt([]byte(x))
		return n, err == nil
	case []byte:
		n, err := parseInt(x)
		return n, err == nil
	}
	return 0, false
}

// take waits for the connection.
func (s *Source) take(ctx context.Context) error {
	select {
	case s.slot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		<-s.slot
		return errClosed
	}
	return nil
}

// give lets go of the connection; after Close, it closes it.
func (s *Source) give() {
	s.mu.Lock()
	var ss *session
	if s.closed {
		ss, s.sess = s.sess, nil
	}
	s.mu.Unlock()
	if ss != nil {
		ss.close()
	}
	<-s.slot
}

// ensure returns the connection (the slot must be held), opening a new one,
// with a new snapshot, when the last one was lost. fresh reports a new
// one, and cause why the old one went.
func (s *Source) ensure(ctx context.Context) (ss *session, fresh bool, cause error, err error) {
	s.mu.Lock()
	ss, closed := s.sess, s.closed
	s.mu.Unlock()
	if closed {
		return nil, false, nil, errClosed
	}
	if ss != nil {
		return ss, false, nil, nil
	}
	ss, err = s.connect(ctx, true)
	if err != nil {
		return nil, false, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		ss.close()
		return nil, false, nil, errClosed
	}
	s.sess = ss
	return ss, true, s.lost, nil
}

// drop closes a connection found broken; the next use opens a new one.
func (s *Source) drop(ss *session, cause error) {
	s.mu.Lock()
	if s.sess == ss {
		s.sess = nil
		s.lost = cause
	}
	s.mu.Unlock()
	ss.close()
}

// addResume records a new snapshot in use.
func (s *Source) addResume(r Resume) {
	s.mu.Lock()
	s.resumes = append(s.resumes, r)
	s.mu.Unlock()
}

// Resumes lists the connections lost and replaced so far, each with the
// new snapshot the reads after it saw. A report should show them (Notes
// gives them as text): the data read after a resume is from a later point
// in time than TableInfo.Consistency.
func (s *Source) Resumes() []Resume {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Resume(nil), s.resumes...)
}

// Notes returns the Source's remarks on how it read so far: settings the
// server lacks, and the resumes as text. Describe includes them in
// TableInfo.Notes.
func (s *Source) Notes() []string {
	s.mu.Lock()
	out := append([]string(nil), s.notes...)
	s.mu.Unlock()
	for _, r := range s.Resumes() {
		out = append(out, r.String())
	}
	return out
}

// watch arranges for the statement running on ss to be stopped when ctx
// ends: KILL QUERY from a side connection, which keeps the connection and
// its snapshot, and if the statement has not stopped cancelGrace later (or
// the KILL could not be sent), the socket is closed. stop ends the watch;
// it returns only once no KILL can still reach the connection.
func (s *Source) watch(ctx context.Context, ss *session) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		if err := s.killQuery(ss.id); err != nil {
			ss.cancel()
			return
		}
		t := time.NewTimer(cancelGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			ss.cancel()
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// killQuery stops the statement running on connection id.
func (s *Source) killQuery(id uint64) error {
	ctx, cancel := context.WithTimeout(s.base, cleanupTimeout)
	defer cancel()
	conn, err := s.connector.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		return errors.New("the driver's connection cannot run statements")
	}
	_, err = ex.ExecContext(ctx, fmt.Sprintf("KILL QUERY %d", id), nil)
	if serverError(err, erNoSuchThread) {
		return nil
	}
	return err
}

// retry runs fn until it succeeds, fails for another reason than a lost
// connection, or has failed Config.Attempts times.
func (s *Source) retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || ctx.Err() != nil || !connectionLost(err) || errors.Is(err, errClosed) || attempt >= s.conf.Attempts {
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

// Close ends the snapshot and closes the connection. A reader still open
// has its statement cut and ends with an error. Close is idempotent.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.plans = nil
	s.mu.Unlock()
	select {
	case s.slot <- struct{}{}:
		s.mu.Lock()
		ss := s.sess
		s.sess = nil
		s.mu.Unlock()
		if ss != nil {
			ss.close()
		}
		<-s.slot
	default:
		// A reader or a describe holds the connection: cut its statement.
		// It closes the connection when it lets go (give).
		s.mu.Lock()
		ss := s.sess
		s.mu.Unlock()
		if ss != nil {
			ss.cancel()
		}
	}
	return nil
}

var (
	_ connectors.Source        = (*Source)(nil)
	_ connectors.OrderedReader = (*Source)(nil)
)
