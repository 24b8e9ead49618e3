package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/reconhq/reconcile/connectors"
)

// DefaultTxOps is the number of operations per transaction of Apply.
const DefaultTxOps = 1000

// Apply applies guarded write operations to table on a connection of its
// own (read-write, outside the Source's snapshot, time_zone '+00:00'), in
// transactions of opts.TxOps operations, one prepared statement per
// operation with its values bound:
//
//	UPDATE t SET c = ? WHERE k = ? AND c <=> ?
//	DELETE FROM t WHERE k = ? AND c <=> ?
//
// (text columns compared byte for byte, as BINARY CONVERT(c USING utf8mb4)
// <=> BINARY ?, whatever their collation; JSON documents as JSON, with
// JSON_EQUALS on MariaDB 10.7+ or a cast to JSON on MySQL 8), in a strict
// sql_mode.
//
//	INSERT INTO t (k, c) SELECT ?, ? FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM t WHERE k = ?)
//
// The insert is guarded by NOT EXISTS rather than INSERT IGNORE, which
// would also swallow errors such as a value too long. An operation that
// wrote nothing is classified in the same transaction: already applied
// when the row holds the post-image (or, for a delete, is gone), a
// conflict otherwise. A statement error rolls its transaction back, which
// is then run again one operation per transaction so that only the
// failing operations end as StatusError.
func (s *Source) Apply(ctx context.Context, table string, ops []connectors.WriteOp, opts connectors.ApplyOptions) ([]connectors.Outcome, error) {
	name, err := parseTableName(table)
	if err != nil {
		return nil, fmt.Errorf("apply to %s: %w", table, err)
	}
	db := sql.OpenDB(s.connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply to %s: connect: %w", table, s.scrub(err))
	}
	defer conn.Close()
	// Strict: a value too long or out of range is an error, never
	// written truncated or clipped.
	if _, err := conn.ExecContext(ctx, "SET SESSION time_zone = '+00:00', SESSION character_set_client = utf8mb4, SESSION character_set_connection = utf8mb4, "+
		"SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"); err != nil {
		return nil, fmt.Errorf("apply to %s: %w", table, s.scrub(err))
	}
	a := &myApplier{conn: conn, table: name.quoted()}
	var version string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return nil, fmt.Errorf("apply to %s: %w", table, s.scrub(err))
	}
	a.jsonGuard = jsonGuardOf(version)
	txOps := opts.TxOps
	if txOps <= 0 {
		txOps = DefaultTxOps
	}
	out := make([]connectors.Outcome, 0, len(ops))
	for first := 0; first < len(ops); first += txOps {
		chunk := ops[first:min(first+txOps, len(ops))]
		res, err := a.run(ctx, chunk, opts.DryRun)
		if err != nil && ctx.Err() == nil && !errors.Is(err, sql.ErrConnDone) {
			res = make([]connectors.Outcome, len(chunk))
			err = nil
			for i := range chunk {
				r, oerr := a.run(ctx, chunk[i:i+1], opts.DryRun)
				if oerr != nil {
					if ctx.Err() != nil || errors.Is(oerr, sql.ErrConnDone) {
						err = oerr
						break
					}
					res[i] = connectors.Outcome{Status: connectors.StatusError, Message: s.scrub(oerr).Error()}
					continue
				}
				res[i] = r[0]
			}
		}
		if err != nil {
			return out, fmt.Errorf("apply to %s: %w", table, s.scrub(err))
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

type myApplier struct {
	conn  *sql.Conn
	table string
	// jsonGuard compares a JSON column with a bound JSON document as
	// JSON (key order and spacing aside): "%s" is the column, "?" the
	// document. Empty where the server has no such comparison.
	jsonGuard string
}

// jsonGuardOf returns the JSON comparison of a server by its VERSION():
// JSON_EQUALS on MariaDB 10.7 and later (its JSON is longtext, compared
// as text by <=>), a comparison with a cast on MySQL 8 (whose JSON type
// compares as JSON), none on older servers, whose guards then compare the
// stored text, so a document spelled differently from its canonical form
// is a conflict, never overwritten.
func jsonGuardOf(version string) string {
	mariadb := strings.Contains(version, "MariaDB")
	if mariadb {
		// Older MariaDB put a 5.5.5- in front of its version for old clients.
		version = strings.TrimPrefix(version, "5.5.5-")
	}
	v, _, _ := strings.Cut(version, "-")
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return ""
	}
	switch {
	case mariadb && (major > 10 || major == 10 && minor >= 7):
		return "JSON_EQUALS(%s, ?) <=> 1"
	case !mariadb && major >= 8:
		return "%s <=> CAST(? AS JSON)"
	}
	return ""
}

func (a *myApplier) run(ctx context.Context, ops []connectors.WriteOp, dryRun bool) ([]connectors.Outcome, error) {
	tx, err := a.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	out := make([]connectors.Outcome, len(ops))
	// Statements are prepared on the transaction, once per shape: a
	// statement prepared on the connection would be prepared again by
	// Tx.StmtContext for every operation (database/sql re-prepares a
	// connection's statement in a transaction), a round trip each.
	stmts := map[string]*sql.Stmt{}
	prepare := func(q string) (*sql.Stmt, error) {
		if st, ok := stmts[q]; ok {
			return st, nil
		}
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return nil, err
		}
		stmts[q] = st
		return st, nil
	}
	for i := range ops {
		op := &ops[i]
		write, wargs, check, cargs := a.statements(op)
		st, err := prepare(write)
		if err != nil {
			return nil, err
		}
		res, err := st.ExecContext(ctx, wargs...)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out[i] = connectors.Outcome{Status: connectors.StatusApplied}
			continue
		}
		cst, err := prepare(check)
		if err != nil {
			return nil, err
		}
		var post, exists int64
		if err := cst.QueryRowContext(ctx, cargs...).Scan(&post, &exists); err != nil {
			return nil, err
		}
		out[i] = classify(op.Kind, post, exists)
	}
	if dryRun {
		return out, tx.Rollback()
	}
	return out, tx.Commit()
}

func classify(kind connectors.OpKind, post, exists int64) connectors.Outcome {
	switch {
	case kind == connectors.OpDelete && exists == 0, kind != connectors.OpDelete && post > 0:
		return connectors.Outcome{Status: connectors.StatusAlreadyApplied}
	case kind == connectors.OpUpdate && exists == 0:
		return connectors.Outcome{Status: connectors.StatusConflict, Message: "the row is gone"}
	case kind == connectors.OpInsert:
		return connectors.Outcome{Status: connectors.StatusConflict, Message: "a different row with this key exists"}
	}
	return connectors.Outcome{Status: connectors.StatusConflict, Message: "the row changed since the diff"}
}

// statements returns the guarded write of op and the check of an op that
// wrote nothing, each with its arguments.
func (a *myApplier) statements(op *connectors.WriteOp) (write string, wargs []any, check string, cargs []any) {
	conds := func(cols []connectors.Col, eq string, args *[]any) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = quoteIdent(c.Name) + eq + "?"
			if _, doc := c.Value.(json.RawMessage); doc && eq == " <=> " && a.jsonGuard != "" {
				// A JSON document compares as JSON: the stored text of
				// {"b": 2, "a": 1} is the canonical {"a":1,"b":2}.
				out[i] = fmt.Sprintf(a.jsonGuard, quoteIdent(c.Name))
			}
			if _, text := c.Value.(string); text && eq == " <=> " {
				// Text compares byte for byte, whatever the column's
				// collation: under a case-insensitive or PAD SPACE one,
				// 'Old' <=> 'OLD' and 'abc' <=> 'abc  ' hold, and a
				// change since the diff would pass the guard.
				out[i] = "BINARY CONVERT(" + quoteIdent(c.Name) + " USING utf8mb4) <=> BINARY ?"
			}
			*args = append(*args, myArg(c.Value))
		}
		return out
	}
	var keyArgs []any
	keyWhere := strings.Join(conds(op.Key, " = ", &keyArgs), " AND ")
	post := "0"
	switch op.Kind {
	case connectors.OpUpdate:
		sets := conds(op.Set, " = ", &wargs)
		wargs = append(wargs, keyArgs...)
		where := keyWhere + " AND " + strings.Join(conds(op.Expect, " <=> ", &wargs), " AND ")
		write = "UPDATE " + a.table + " SET " + strings.Join(sets, ", ") + " WHERE " + where
	case connectors.OpDelete:
		wargs = append(wargs, keyArgs...)
		where := keyWhere
		if len(op.Expect) > 0 {
			where += " AND " + strings.Join(conds(op.Expect, " <=> ", &wargs), " AND ")
		}
		write = "DELETE FROM " + a.table + " WHERE " + where
	case connectors.OpInsert:
		cols := make([]string, len(op.Set))
		marks := make([]string, len(op.Set))
		for i, c := range op.Set {
			cols[i] = quoteIdent(c.Name)
			marks[i] = "?"
			wargs = append(wargs, myArg(c.Value))
		}
		wargs = append(wargs, keyArgs...)
		write = "INSERT INTO " + a.table + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(marks, ", ") +
			" FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM " + a.table + " WHERE " + keyWhere + ")"
	}
	if op.Kind != connectors.OpDelete {
		cargs = append(cargs, keyArgs...)
		post = "(SELECT count(*) FROM " + a.table + " WHERE " + keyWhere + " AND " + strings.Join(conds(op.Set, " <=> ", &cargs), " AND ") + ")"
	}
	cargs = append(cargs, keyArgs...)
	check = "SELECT " + post + ", (SELECT count(*) FROM " + a.table + " WHERE " + keyWhere + ")"
	return write, wargs, check, cargs
}

// myArg converts a neutral value to what the driver binds.
func myArg(v any) any {
	switch x := v.(type) {
	case connectors.Decimal:
		return string(x)
	case connectors.Date:
		return x.String()
	case connectors.TimeOfDay:
		return x.String()
	case json.RawMessage:
		return string(x)
	case time.Time:
		return x.UTC()
	}
	return v
}

var _ connectors.Applier = (*Source)(nil)
