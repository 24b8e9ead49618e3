package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/reconhq/reconcile/internal/atomicfile"
)

// Local keeps the run history in a folder: one JSON file per run,
// dir/<job>/<run id>.json, each written atomically (temporary file, fsync,
// rename, fsync of the folder). The files are the index: OpenLocal reads
// them all into memory, so a restart keeps the history. Job names and run
// ids that are not plain file names are %-escaped in the path (the file
// holds the real ones).
//
// A Local is safe for concurrent use by one process; two processes must not
// share a folder (use Postgres to share a history between hosts).
//
// A file that cannot be read (truncated, not JSON, an invalid run) is never
// dropped: Get of that run and List over its job return an error naming its
// path, along with every run that could be read; Prune and MarkAbandoned
// leave it alone; Start or Finish of the same run replaces it.
type Local struct {
	dir string

	mu      sync.Mutex
	runs    map[string]map[string]Run   // job → id → run
	corrupt map[string]map[string]error // job (escaped folder) → path → error
}

// OpenLocal opens (creating it if needed) the run history in dir.
func OpenLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open run history: %w", err)
	}
	l := &Local{dir: dir, runs: map[string]map[string]Run{}, corrupt: map[string]map[string]error{}}
	jobs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open run history: %w", err)
	}
	for _, jd := range jobs {
		if !jd.IsDir() {
			continue
		}
		jdir := filepath.Join(dir, jd.Name())
		files, err := os.ReadDir(jdir)
		if err != nil {
			return nil, fmt.Errorf("open run history: %w", err)
		}
		for _, f := range files {
			name := f.Name()
			if f.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
				continue // temporary files start with a dot
			}
			path := filepath.Join(jdir, name)
			r, err := readRunFile(path)
			if err == nil && (escapeName(r.Job) != jd.Name() || escapeName(r.ID)+".json" != name) {
				err = fmt.Errorf("read run %s: holds run %q of job %q, which belongs elsewhere", path, r.ID, r.Job)
			}
			if err != nil {
				l.markCorrupt(jd.Name(), path, err)
				continue
			}
			l.put(r)
		}
	}
	return l, nil
}

func readRunFile(path string) (Run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Run{}, fmt.Errorf("read run %s: %w", path, err)
	}
	r, err := decodeRun(data)
	if err != nil {
		return Run{}, fmt.Errorf("read run %s: %w", path, err)
	}
	return r, nil
}

func (l *Local) markCorrupt(jobDir, path string, err error) {
	m := l.corrupt[jobDir]
	if m == nil {
		m = map[string]error{}
		l.corrupt[jobDir] = m
	}
	m[path] = err
}

func (l *Local) put(r Run) {
	m := l.runs[r.Job]
	if m == nil {
		m = map[string]Run{}
		l.runs[r.Job] = m
	}
	m[r.ID] = r
}

func (l *Local) path(job, id string) string {
	return filepath.Join(l.dir, escapeName(job), escapeName(id)+".json")
}

// Start records r as running, so that a crash leaves evidence. Its
// outcome must be Running; a run with the same job and id must not exist.
func (l *Local) Start(ctx context.Context, r Run) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	if err := r.validate(true); err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.runs[r.Job][r.ID]; ok {
		return fmt.Errorf("start run %q of job %q: already recorded", r.ID, r.Job)
	}
	return l.write("start run", r.clean())
}

// Finish records r's outcome, replacing its running record (or recording
// it whole when it was never started).
func (l *Local) Finish(ctx context.Context, r Run) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	if err := r.validate(false); err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.write("finish run", r.clean())
}

// write stores r atomically; l.mu is held.
func (l *Local) write(verb string, r Run) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("%s %q of job %q: %w", verb, r.ID, r.Job, err)
	}
	path := l.path(r.Job, r.ID)
	if err := writeAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("%s %q of job %q: %w", verb, r.ID, r.Job, err)
	}
	if m := l.corrupt[escapeName(r.Job)]; m != nil {
		delete(m, path)
	}
	l.put(r)
	return nil
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, data)
}

// Get returns the run id of job, ErrNotFound when it is not stored, or
// the error naming its file when that file cannot be read.
func (l *Local) Get(ctx context.Context, job, id string) (Run, error) {
	if err := ctx.Err(); err != nil {
		return Run{}, fmt.Errorf("get run: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.runs[job][id]; ok {
		return r, nil
	}
	if err, ok := l.corrupt[escapeName(job)][l.path(job, id)]; ok {
		return Run{}, fmt.Errorf("get run %q of job %q: %w", id, job, err)
	}
	return Run{}, fmt.Errorf("get run %q of job %q: %w", id, job, ErrNotFound)
}

// List returns the runs o selects, newest first. When a file of a listed
// job cannot be read, it returns the runs it could read and an error
// naming every such file.
func (l *Local) List(ctx context.Context, o ListOptions) ([]Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Run
	for job, m := range l.runs {
		if o.Job != "" && job != o.Job {
			continue
		}
		for _, r := range m {
			if !o.Before.IsZero() && !r.Started.Before(o.Before) {
				continue
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return newer(out[i], out[j]) })
	if o.Limit > 0 && len(out) > o.Limit {
		out = out[:o.Limit]
	}
	var problems []error
	for jobDir, m := range l.corrupt {
		if o.Job != "" && jobDir != escapeName(o.Job) {
			continue
		}
		for _, path := range sortedKeys(m) {
			problems = append(problems, m[path])
		}
	}
	if len(problems) > 0 {
		return out, fmt.Errorf("list runs: %w", errors.Join(problems...))
	}
	return out, nil
}

// Jobs returns the jobs that have runs, sorted.
func (l *Local) Jobs(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	jobs := make([]string, 0, len(l.runs))
	for job, m := range l.runs {
		if len(m) > 0 {
			jobs = append(jobs, job)
		}
	}
	slices.Sort(jobs)
	return jobs, nil
}

// MarkAbandoned turns the runs still running that started before the
// given time into errors with AbandonedMessage: at start-up, the runs a
// process that died left behind. It returns how many it changed.
func (l *Local) MarkAbandoned(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("mark abandoned runs: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.runs {
		for _, r := range m {
			if r.Outcome != Running || !r.Started.Before(before) {
				continue
			}
			r.Outcome, r.Error = Error, AbandonedMessage
			if err := l.write("mark abandoned run", r); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Prune keeps the newest keep runs of each job and deletes the others;
// running runs are never deleted (and count among the kept). It returns
// how many it deleted.
func (l *Local) Prune(ctx context.Context, keep int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	if keep < 0 {
		return 0, fmt.Errorf("prune runs: keep %d is negative", keep)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.runs {
		all := make([]Run, 0, len(m))
		for _, r := range m {
			all = append(all, r)
		}
		sort.Slice(all, func(i, j int) bool { return newer(all[i], all[j]) })
		for i, r := range all {
			if i < keep || r.Outcome == Running {
				continue
			}
			if err := os.Remove(l.path(r.Job, r.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return n, fmt.Errorf("prune runs: %w", err)
			}
			delete(m, r.ID)
			n++
		}
	}
	return n, nil
}

// escapeName makes a job name or run id a safe file name: letters,
// digits, '-', '_' and '.' stay (a leading '.' does not), everything else
// becomes %XX.
func escapeName(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' && i > 0 {
			sb.WriteByte(c)
			continue
		}
		fmt.Fprintf(&sb, "%%%02X", c)
	}
	return sb.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
