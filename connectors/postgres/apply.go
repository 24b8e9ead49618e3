package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
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
	a := &applier{conn: conn, table: name.quoted(), sqls: map[string]*shape{}, sets: map[string]string{}}
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
	sqls  map[string]*shape // by kind and column names
	sets  map[string]string // set-based statements by shape
	types map[string]string // column → its type without modifier, as format_type writes it
}

// loadTypes reads the types of the table's columns, for the casts of
// the set-based statements. The casts leave the type modifier out
// (varchar, not varchar(5)): an explicit cast to varchar(5) truncates,
// while the assignment to the column then fails on a value too long, as
// an insert's bound parameter does.
func (a *applier) loadTypes(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a
		WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped`, a.table)
	if err != nil {
		return err
	}
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return err
		}
		types[name] = typ
	}
	if err := rows.Err(); err != nil {
		return err
	}
	a.types = types
	return nil
}

func shapeOf(op *connectors.WriteOp) string {
	var b strings.Builder
	b.WriteString(string(op.Kind))
	for _, part := range [][]connectors.Col{op.Key, op.Set, op.Expect} {
		b.WriteByte(0)
		for _, c := range part {
			b.WriteString(c.Name)
			b.WriteByte(1)
		}
	}
	return b.String()
}

func keyText(op *connectors.WriteOp) string {
	var b strings.Builder
	for _, c := range op.Key {
		t := pgText(c.Value)
		if t != nil {
			b.WriteString(*t)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// setSQL returns the set-based statement of op's shape: the operations'
// values travel as text arrays, one per column, cast to the column's
// type, and the statement returns the ordinal of every operation it
// wrote.
//
//	UPDATE t AS r SET c = v.c1::T FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS v(c0, c1, c2, ord)
//	WHERE r.k = v.c0::K AND r.c IS NOT DISTINCT FROM v.c2::T RETURNING v.ord
func (a *applier) setSQL(op *connectors.WriteOp, shapeKey string) (string, error) {
	if sql, ok := a.sets[shapeKey]; ok {
		return sql, nil
	}
	var params, names, sets, where, jsonCols []string
	n := 0
	var missing []string
	add := func(cols []connectors.Col, fn func(col, val string)) {
		for _, c := range cols {
			typ, ok := a.types[c.Name]
			if !ok {
				missing = append(missing, c.Name)
				typ = "text"
			}
			name := "c" + strconv.Itoa(n)
			n++
			params = append(params, "$"+strconv.Itoa(n)+"::text[]")
			names = append(names, name)
			fn(quoteIdent(c.Name), "v."+name+"::"+typ)
		}
	}
	add(op.Key, func(col, val string) { where = append(where, "r."+col+" = "+val) })
	add(op.Set, func(col, val string) { sets = append(sets, col+" = "+val) })
	for _, c := range op.Expect {
		if a.types[c.Name] == "json" {
			jsonCols = append(jsonCols, quoteIdent(c.Name))
		}
	}
	add(op.Expect, func(col, val string) {
		if slices.Contains(jsonCols, col) { // json has no equality: compare as jsonb
			where = append(where, "r."+col+"::jsonb IS NOT DISTINCT FROM "+val+"::jsonb")
			return
		}
		where = append(where, "r."+col+" IS NOT DISTINCT FROM "+val)
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: %s", connectors.ErrColumnNotFound, strings.Join(missing, ", "))
	}
	from := "unnest(" + strings.Join(params, ", ") + ") WITH ORDINALITY AS v(" + strings.Join(names, ", ") + ", ord)"
	var sql string
	if op.Kind == connectors.OpUpdate {
		sql = "UPDATE " + a.table + " AS r SET " + strings.Join(sets, ", ") + " FROM " + from + " WHERE " + strings.Join(where, " AND ") + " RETURNING v.ord"
	} else {
		sql = "DELETE FROM " + a.table + " AS r USING " + from + " WHERE " + strings.Join(where, " AND ") + " RETURNING v.ord"
	}
	a.sets[shapeKey] = sql
	return sql, nil
}

// setArgs returns one text array per column of the operations' shape.
func setArgs(ops []connectors.WriteOp) []any {
	first := &ops[0]
	ncol := len(first.Key) + len(first.Set) + len(first.Expect)
	cols := make([][]*string, ncol)
	for c := range cols {
		cols[c] = make([]*string, len(ops))
	}
	for i := range ops {
		c := 0
		for _, part := range [][]connectors.Col{ops[i].Key, ops[i].Set, ops[i].Expect} {
			for _, col := range part {
				cols[c][i] = pgText(col.Value)
				c++
			}
		}
	}
	args := make([]any, ncol)
	for c := range cols {
		args[c] = cols[c]
	}
	return args
}

// pgText renders a neutral value as PostgreSQL input text; nil for NULL.
func pgText(v any) *string {
	var s string
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		s = strconv.FormatBool(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case uint64:
		s = strconv.FormatUint(x, 10)
	case float64:
		switch {
		case math.IsInf(x, 1):
			s = "Infinity"
		case math.IsInf(x, -1):
			s = "-Infinity"
		default:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		}
	case connectors.Decimal:
		s = string(x)
	case string:
		s = x
	case []byte:
		s = `\x` + hex.EncodeToString(x)
	case time.Time:
		s = pgTime(x.UTC()) + "+00"
	case connectors.Date:
		s = pgDate(x.Time())
	case connectors.TimeOfDay:
		s = x.String()
	case json.RawMessage:
		s = string(x)
	default:
		s = fmt.Sprint(x)
	}
	return &s
}

func pgDate(t time.Time) string {
	if y := t.Year(); y <= 0 {
		return fmt.Sprintf("%04d-%02d-%02d BC", 1-y, t.Month(), t.Day())
	}
	return t.Format("2006-01-02")
}

func pgTime(t time.Time) string {
	if y := t.Year(); y <= 0 {
		return fmt.Sprintf("%04d-%s BC", 1-y, t.Format("01-02 15:04:05.999999"))
	}
	return t.Format("2006-01-02 15:04:05.999999")
}

// shape holds the statements of one kind of operation on one set of
// columns: the guarded write, and the check of an operation that wrote
// nothing (post-image there already; row there at all).
type shape struct {
	write, check string
}

// run applies ops in one transaction (rolled back when dryRun).
func (a *applier) run(ctx context.Context, ops []connectors.WriteOp, dryRun bool) ([]connectors.Outcome, error) {
	tx, err := a.conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	if a.types == nil {
		if err := a.loadTypes(ctx, tx); err != nil {
			return nil, err
		}
	}
	// Updates and deletes go in set-based statements, one per run of
	// consecutive operations of one shape with distinct keys (so that
	// the order of operations on one row is kept); inserts one by one.
	type group struct {
		first, n int
		set      bool
	}
	var groups []group
	b := &pgx.Batch{}
	var keys map[string]bool
	var prevShape string
	for i := 0; i < len(ops); {
		op := &ops[i]
		if op.Kind == connectors.OpInsert {
			sh, args := a.statement(op)
			b.Queue(sh.write, args[len(op.Key):]...)
			groups = append(groups, group{first: i, n: 1})
			i++
			continue
		}
		shapeKey := shapeOf(op)
		keys = map[string]bool{}
		j := i
		for ; j < len(ops) && ops[j].Kind != connectors.OpInsert; j++ {
			if j > i && shapeOf(&ops[j]) != shapeKey {
				break
			}
			k := keyText(&ops[j])
			if keys[k] {
				break
			}
			keys[k] = true
		}
		prevShape = shapeKey
		sql, err := a.setSQL(op, prevShape)
		if err != nil {
			return nil, err
		}
		b.Queue(sql, setArgs(ops[i:j])...)
		groups = append(groups, group{first: i, n: j - i, set: true})
		i = j
	}
	br := tx.SendBatch(ctx, b)
	out := make([]connectors.Outcome, len(ops))
	wrote := make([]bool, len(ops))
	for _, g := range groups {
		if !g.set {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return nil, err
			}
			wrote[g.first] = tag.RowsAffected() > 0
			continue
		}
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return nil, err
		}
		for rows.Next() {
			var ord int64
			if err := rows.Scan(&ord); err != nil {
				rows.Close()
				br.Close()
				return nil, err
			}
			if ord >= 1 && ord <= int64(g.n) {
				wrote[g.first+int(ord)-1] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			br.Close()
			return nil, err
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	var missed []int
	for i := range ops {
		if wrote[i] {
			out[i] = connectors.Outcome{Status: connectors.StatusApplied}
		} else {
			missed = append(missed, i)
		}
	}
	if len(missed) > 0 {
		// Not written: is the post-image there already, or did the row
		// change? Asked in the same transaction, which wrote nothing to
		// these rows.
		b = &pgx.Batch{}
		for _, i := range missed {
			sh, args := a.statement(&ops[i])
			b.Queue(sh.check, args[:len(ops[i].Key)+len(ops[i].Set)]...)
		}
		br = tx.SendBatch(ctx, b)
		for _, i := range missed {
			var post, exists int64
			if err := br.QueryRow().Scan(&post, &exists); err != nil {
				br.Close()
				return nil, err
			}
			out[i] = classify(ops[i].Kind, 0, post, exists)
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
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
func (a *applier) statement(op *connectors.WriteOp) (*shape, []any) {
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
	if sh, ok := a.sqls[key]; ok {
		return sh, args
	}
	sh := a.build(op)
	a.sqls[key] = sh
	return sh, args
}

func (a *applier) build(op *connectors.WriteOp) *shape {
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
			if eq != " = " && a.types[c.Name] == "json" { // json has no equality: compare as jsonb
				out[i] = quoteIdent(c.Name) + "::jsonb" + eq + ps[i] + "::jsonb"
			}
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
		// The insert takes the set's parameters only (writeArgs), as $1...
		ins := make([]string, len(op.Set))
		for i := range ins {
			ins[i] = "$" + strconv.Itoa(i+1)
		}
		w = "INSERT INTO " + a.table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ins, ", ") + ") ON CONFLICT DO NOTHING"
		post = "(SELECT count(*) FROM " + a.table + " WHERE " + keyWhere + " AND " + strings.Join(conds(op.Set, setP, " IS NOT DISTINCT FROM "), " AND ") + ")"
	}
	// The check takes the first parameters only: the key's and the set's.
	return &shape{
		write: w,
		check: "SELECT " + post + ", (SELECT count(*) FROM " + a.table + " WHERE " + keyWhere + ")",
	}
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
