package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reconhq/reconcile/connectors"
)

// Schema is the table Postgres keeps the runs in. OpenPostgres runs it
// under an advisory lock, so it is idempotent and safe when several hosts
// open the same database at once.
const Schema = `
CREATE TABLE IF NOT EXISTS reconcile_runs (
	job      text        COLLATE "C" NOT NULL,
	id       text        COLLATE "C" NOT NULL,
	started  timestamptz NOT NULL,
	finished timestamptz,
	outcome  text        NOT NULL CHECK (outcome IN ('running', 'consistent', 'differences', 'error', 'cancelled')),
	error    text        NOT NULL DEFAULT '',
	replicas jsonb       NOT NULL DEFAULT '[]',
	updated  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (job, id)
);
CREATE INDEX IF NOT EXISTS reconcile_runs_job_started ON reconcile_runs (job, started DESC, id DESC);
CREATE INDEX IF NOT EXISTS reconcile_runs_started ON reconcile_runs (started DESC, job DESC, id DESC);
CREATE INDEX IF NOT EXISTS reconcile_runs_running ON reconcile_runs (started) WHERE outcome = 'running';
`

// schemaLock is the advisory lock key held while the schema is applied.
const schemaLock = 0x7265636f6e72756e // "reconrun"

// Postgres keeps the run history in the reconcile_runs table (see
// Schema) of a PostgreSQL database, so several hosts can share it. It is
// safe for concurrent use; Close releases its connections.
type Postgres struct {
	pool *pgxpool.Pool
}

// OpenPostgres connects to the database at url and creates the
// reconcile_runs table if it is missing. Errors never show the URL's
// password.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx errors may quote the connection string.
		return nil, fmt.Errorf("open run history %s: invalid connection string", connectors.Redact(url))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open run history %s: %s", connectors.Redact(url), redactText(err.Error()))
	}
	p := &Postgres{pool: pool}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open run history %s: %w", connectors.Redact(url), err)
	}
	return p, nil
}

func (p *Postgres) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, Schema)
		return err
	})
}

// Close releases the connections.
func (p *Postgres) Close() { p.pool.Close() }

// Start records r as running, so that a crash leaves evidence. Its
// outcome must be Running; a run with the same job and id must not exist.
func (p *Postgres) Start(ctx context.Context, r Run) error {
	if err := r.validate(true); err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	r = r.clean()
	reps, err := json.Marshal(replicasOrEmpty(r.Replicas))
	if err != nil {
		return fmt.Errorf("start run %q of job %q: %w", r.ID, r.Job, err)
	}
	tag, err := p.pool.Exec(ctx, `INSERT INTO reconcile_runs (job, id, started, finished, outcome, error, replicas)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (job, id) DO NOTHING`,
		r.Job, r.ID, r.Started, nullTime(r.Finished), string(r.Outcome), r.Error, reps)
	if err != nil {
		return fmt.Errorf("start run %q of job %q: %w", r.ID, r.Job, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("start run %q of job %q: already recorded", r.ID, r.Job)
	}
	return nil
}

// Finish records r's outcome, replacing its running record (or recording
// it whole when it was never started).
func (p *Postgres) Finish(ctx context.Context, r Run) error {
	if err := r.validate(false); err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	r = r.clean()
	reps, err := json.Marshal(replicasOrEmpty(r.Replicas))
	if err != nil {
		return fmt.Errorf("finish run %q of job %q: %w", r.ID, r.Job, err)
	}
	_, err = p.pool.Exec(ctx, `INSERT INTO reconcile_runs (job, id, started, finished, outcome, error, replicas)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (job, id) DO UPDATE SET started = EXCLUDED.started, finished = EXCLUDED.finished,
			outcome = EXCLUDED.outcome, error = EXCLUDED.error, replicas = EXCLUDED.replicas, updated = now()`,
		r.Job, r.ID, r.Started, nullTime(r.Finished), string(r.Outcome), r.Error, reps)
	if err != nil {
		return fmt.Errorf("finish run %q of job %q: %w", r.ID, r.Job, err)
	}
	return nil
}

const selectRun = `SELECT job, id, started, finished, outcome, error, replicas FROM reconcile_runs`

func scanRun(row pgx.Row) (Run, error) {
	var (
		r        Run
		finished *time.Time
		outcome  string
		reps     []byte
	)
	if err := row.Scan(&r.Job, &r.ID, &r.Started, &finished, &outcome, &r.Error, &reps); err != nil {
		return Run{}, err
	}
	r.Started = r.Started.UTC()
	if finished != nil {
		r.Finished = finished.UTC()
	}
	r.Outcome = Outcome(outcome)
	if err := json.Unmarshal(reps, &r.Replicas); err != nil {
		return Run{}, fmt.Errorf("decode replicas of run %q of job %q: %w", r.ID, r.Job, err)
	}
	if len(r.Replicas) == 0 {
		r.Replicas = nil
	}
	return r, nil
}

// Get returns the run id of job, or ErrNotFound.
func (p *Postgres) Get(ctx context.Context, job, id string) (Run, error) {
	r, err := scanRun(p.pool.QueryRow(ctx, selectRun+` WHERE job = $1 AND id = $2`, job, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("get run %q of job %q: %w", id, job, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("get run %q of job %q: %w", id, job, err)
	}
	return r, nil
}

// List returns the runs o selects, newest first.
func (p *Postgres) List(ctx context.Context, o ListOptions) ([]Run, error) {
	var before *time.Time
	if !o.Before.IsZero() {
		before = &o.Before
	}
	var limit *int
	if o.Limit > 0 {
		limit = &o.Limit
	}
	rows, err := p.pool.Query(ctx, selectRun+`
		WHERE ($1 = '' OR job = $1) AND ($2::timestamptz IS NULL OR started < $2)
		ORDER BY started DESC, job DESC, id DESC LIMIT $3`, o.Job, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// Jobs returns the jobs that have runs, sorted.
func (p *Postgres) Jobs(ctx context.Context) ([]string, error) {
	rows, err := p.pool.Query(ctx, `SELECT job FROM reconcile_runs GROUP BY job ORDER BY job`)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return jobs, nil
}

// MarkAbandoned turns the runs still running that started before the
// given time into errors with AbandonedMessage: at start-up, the runs a
// process that died left behind. With several hosts sharing the
// history, pass a time no later than the start of the oldest process
// still running. It returns how many it changed.
func (p *Postgres) MarkAbandoned(ctx context.Context, before time.Time) (int, error) {
	tag, err := p.pool.Exec(ctx, `UPDATE reconcile_runs SET outcome = 'error', error = $2, updated = now()
		WHERE outcome = 'running' AND started < $1`, before, AbandonedMessage)
	if err != nil {
		return 0, fmt.Errorf("mark abandoned runs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Prune keeps the newest keep runs of each job and deletes the others;
// running runs are never deleted (and count among the kept). It returns
// how many it deleted.
func (p *Postgres) Prune(ctx context.Context, keep int) (int, error) {
	if keep < 0 {
		return 0, fmt.Errorf("prune runs: keep %d is negative", keep)
	}
	tag, err := p.pool.Exec(ctx, `DELETE FROM reconcile_runs r USING (
			SELECT job, id, row_number() OVER (PARTITION BY job ORDER BY started DESC, id DESC) AS n
			FROM reconcile_runs) old
		WHERE r.job = old.job AND r.id = old.id AND old.n > $1 AND r.outcome <> 'running'`, keep)
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func replicasOrEmpty(r []Replica) []Replica {
	if r == nil {
		return []Replica{}
	}
	return r
}
