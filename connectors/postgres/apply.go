package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/reconhq/reconcile/connectors"
)

// DefaultTxOps is the number of operations per transaction of Apply.
const DefaultTxOps = 1000

// Apply applies guarded write operations to table on a connection of its
// own (read-write, outside the Source's snapshot), in transactions of
// opts.TxOps operations sent in one pipeline each. Every operation is one
// statement that makes the change only if the row still holds the
// expected pre-image, and that reports in the same snapshot whether the
// row holds the post-image already:
//
//	WITH w AS (UPDATE t SET c = $1 WHERE k = $2 AND c IS NOT DISTINCT FROM $3 RETURNING 1)
//	SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM t WHERE k = $2 AND c IS NOT DISTINCT FROM $1), (SELECT count(*) FROM t WHERE k = $2)
//
// An insert is INSERT ... ON CONFLICT DO NOTHING (a row that appeared
// since is never overwritten: it is already applied when equal to the
// insert, a conflict otherwise). A statement error aborts its
// transaction, which is then run again one operation per transaction so
// that only the failing operations end as StatusError.
func (s *Source) Apply(ctx context.Context, table string, ops []connectors.WriteOp, opts connectors.ApplyOptions) ([]connectors.Outcome, error) {
	name, err := parseTableName(table)
	if err != nil {
		return nil, fmt.Errorf("apply to %s: %w", table, err)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("apply to %s: source is closed", table)
	}
	cfg := s.cfg.Copy()
	cfg.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	cfg.RuntimeParams["application_name"] = "reconcile apply"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("apply to %s: connect: %w", table, scrub(err, s.secrets))
	}
	defer conn.Close(s.base)
	if s.opts.StatementTimeout > 0 || s.opts.LockTimeout > 0 {
		set := ""
		if d := s.opts.StatementTimeout; d > 0 {
			set += "SET statement_timeout = " + quoteLiteral(strconv.FormatInt(max(d.Milliseconds(), 1), 10)+"ms") + "; "
		}
		if d := s.opts.LockTimeout; d > 0 {
			set += "SET lock_timeout = " + quoteLiteral(strconv.FormatInt(max(d.Milliseconds(), 1), 10)+"ms") + "; "
		}
		if _, err := conn.PgConn().Exec(ctx, set).ReadAll(); err != nil {
			return nil, fmt.Errorf("apply to %s: %w", table, scrub(err, s.secrets))
		}
	}
	a := &applier{conn: conn, table: name.quoted(), sqls: map[string]string{}}
	txOps := opts.TxOps
	if txOps <= 0 {
		txOps = DefaultTxOps
	}
	out := make([]connectors.Outcome, 0, len(ops))
	for first := 0; first < len(ops); first += txOps {
		chunk := ops[first:min(first+txOps, len(ops))]
		res, err := a.run(ctx, chunk, opts.DryRun)
		if err != nil && ctx.Err() == nil && !conn.IsClosed() {
			// A statement failed and took its transaction with it: run
			// the operations again one per transaction.
			res = make([]connectors.Outcome, len(chunk))
			err = nil
			for i := range chunk {
				r, oerr := a.run(ctx, chunk[i:i+1], opts.DryRun)
				if oerr != nil {
					if ctx.Err() != nil || conn.IsClosed() {
						err = oerr
						break
					}
					res[i] = connectors.Outcome{Status: connectors.StatusError, Message: scrub(oerr, s.secrets).Error()}
					continue
				}
				res[i] = r[0]
			}
		}
		if err != nil {
			return out, fmt.Errorf("apply to %s: %w", table, scrub(err, s.secrets))
		}
		out = append(out, res...)
		if opts.Committed != nil {
			if err := opts.Committed(first, res); err != nil {
				return out, fmt.Errorf("apply to %s: %w", table, err)
			}
		}
	}
	return out, nil
}

type applier struct {
	conn  *pgx.Conn
	table string
	sqls  map[string]string // shape → statement
}

// run applies ops in one transaction (rolled back when dryRun).
func (a *applier) run(ctx context.Context, ops []connectors.WriteOp, dryRun bool) ([]connectors.Outcome, error) {
	tx, err := a.conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	b := &pgx.Batch{}
	for i := range ops {
		sql, args := a.statement(&ops[i])
		b.Queue(sql, args...)
	}
	br := tx.SendBatch(ctx, b)
	out := make([]connectors.Outcome, len(ops))
	for i := range ops {
		var wrote, post, exists int64
		if err := br.QueryRow().Scan(&wrote, &post, &exists); err != nil {
			br.Close()
			return nil, err
		}
		out[i] = classify(ops[i].Kind, wrote, post, exists)
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	if dryRun {
		return out, tx.Rollback(ctx)
	}
	return out, tx.Commit(ctx)
}

func classify(kind connectors.OpKind, wrote, post, exists int64) connectors.Outcome {
	switch {
	case wrote > 0:
		return connectors.Outcome{Status: connectors.StatusApplied}
	case kind == connectors.OpDelete && exists == 0, kind != connectors.OpDelete && post > 0:
		return connectors.Outcome{Status: connectors.StatusAlreadyApplied}
	case kind == connectors.OpUpdate && exists == 0:
		return connectors.Outcome{Status: connectors.StatusConflict, Message: "the row is gone"}
	case kind == connectors.OpInsert && exists == 0:
		return connectors.Outcome{Status: connectors.StatusConflict, Message: "not inserted: another unique constraint holds a conflicting row"}
	case kind == connectors.OpInsert:
		return connectors.Outcome{Status: connectors.StatusConflict, Message: "a different row with this key exists"}
	}
	return connectors.Outcome{Status: connectors.StatusConflict, Message: "the row changed since the diff"}
}

// statement returns the guarded statement of op and its arguments. The
// text depends only on the op's shape (kind and column names), so
// prepared statements are reused.
func (a *applier) statement(op *connectors.WriteOp) (string, []any) {
	var shape strings.Builder
	shape.WriteString(string(op.Kind))
	var args []any
	for _, part := range [][]connectors.Col{op.Key, op.Set, op.Expect} {
		shape.WriteByte(0)
		for _, c := range part {
			shape.WriteString(c.Name)
			shape.WriteByte(1)
			args = append(args, pgArg(c.Value))
		}
	}
	key := shape.String()
	if sql, ok := a.sqls[key]; ok {
		return sql, args
	}
	sql := a.build(op)
	a.sqls[key] = sql
	return sql, args
}

func (a *applier) build(op *connectors.WriteOp) string {
	n := 0
	param := func() string { n++; return "$" + strconv.Itoa(n) }
	keyP := make([]string, len(op.Key))
	for i := range op.Key {
		keyP[i] = param()
	}
	setP := make([]string, len(op.Set))
	for i := range op.Set {
		setP[i] = param()
	}
	expP := make([]string, len(op.Expect))
	for i := range op.Expect {
		expP[i] = param()
	}
	conds := func(cols []connectors.Col, ps []string, eq string) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = quoteIdent(c.Name) + eq + ps[i]
		}
		return out
	}
	keyWhere := strings.Join(conds(op.Key, keyP, " = "), " AND ")
	guard := keyWhere
	if len(op.Expect) > 0 {
		guard += " AND " + strings.Join(conds(op.Expect, expP, " IS NOT DISTINCT FROM "), " AND ")
	}
	post := "0"
	var w string
	switch op.Kind {
	case connectors.OpUpdate:
		w = "UPDATE " + a.table + " SET " + strings.Join(conds(op.Set, setP, " = "), ", ") + " WHERE " + guard
		post = "(SELECT count(*) FROM " + a.table + " WHERE " + keyWhere + " AND " + strings.Join(conds(op.Set, setP, " IS NOT DISTINCT FROM "), " AND ") + ")"
	case connectors.OpDelete:
		w = "DELETE FROM " + a.table + " WHERE " + guard
	case connectors.OpInsert:
		cols := make([]string, len(op.Set))
		for i, c := range op.Set {
			cols[i] = quoteIdent(c.Name)
		}
		// The key columns are bound twice (key and set); the insert uses
		// the set's.
		w = "INSERT INTO " + a.table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(setP, ", ") + ") ON CONFLICT DO NOTHING"
		post = "(SELECT count(*) FROM " + a.table + " WHERE " + keyWhere + " AND " + strings.Join(conds(op.Set, setP, " IS NOT DISTINCT FROM "), " AND ") + ")"
	}
	return "WITH w AS (" + w + " RETURNING 1) SELECT (SELECT count(*) FROM w), " + post + ", (SELECT count(*) FROM " + a.table + " WHERE " + keyWhere + ")"
}

// pgArg converts a neutral value to what pgx binds.
func pgArg(v any) any {
	switch x := v.(type) {
	case connectors.Decimal:
		return string(x) // sent as text; the server parses it exactly
	case connectors.Date:
		return pgtype.Date{Time: x.Time(), Valid: true}
	case connectors.TimeOfDay:
		return pgtype.Time{Microseconds: time.Duration(x).Microseconds(), Valid: true}
	case json.RawMessage:
		return string(x)
	}
	return v
}

var _ connectors.Applier = (*Source)(nil)
