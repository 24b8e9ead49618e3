package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
	"github.com/reconhq/reconcile/reports"
	"github.com/reconhq/reconcile/rules"
	"github.com/reconhq/reconcile/snapshots"
)

type diffOptions struct {
	key          []string
	maps         []string
	columns      []string
	ignore       []string
	format       string
	output       string
	limit        int64
	memoryLimit  string
	tempDir      string
	workers      int
	sourceFormat string
	targetFormat string
	delimiter    string
	types        []string
	nullValue    string
	nullValueSet bool // --null-value was given, possibly as ""
	progress     string
	table        string
	sourceTable  string
	targetTable  string
	sourceQuery  string
	targetQuery  string
	where        string
	sourceWhere  string
	targetWhere  string
	stmtTimeout  time.Duration
	lockTimeout  time.Duration
	cpuProfile   string
	memProfile   string
	command      string // the command line as reports show it
	algorithm    string
	bisectRows   int64
	bisectFactor int
	maxQuery     float64
	history      string
	historyName  string
	normalize    []string
	collation    bool
}

func newDiffCmd(e *env) *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff SOURCE TARGET",
		Short: "Compare two data sets by key and report every difference",
		Long: `Compare SOURCE (the system of record) with TARGET (a copy) by key.

Each key is classified once: missing (in source only), extra (in target only),
changed (a compared column differs; both values are shown), duplicate (the key
occurs more than once on a side) or matched. Rows with a NULL in the key are
reported as null_key. Columns are matched by name; columns on one side only are
reported as schema drift.

SOURCE and TARGET are files or database URLs. Formats of files come from the
extension: .csv .tsv .jsonl .ndjson .parquet .arrow .ipc .feather, and .gz
variants of the text formats. A database URL (postgres://user@host/db with
libpq's conventions: PGPASSWORD, ~/.pgpass, sslmode, ...; mysql://user@host/db
or mariadb://..., with MYSQL_PWD) needs --table or a query; its primary key is
the default key. Each database side is read in one read-only snapshot. --where
and the queries are the only SQL you pass; they run as given, inside that
read-only transaction.

Exit codes: 0 consistent, 1 differences found, 2 error.`,
		Example: `  reconcile diff billing.csv crm_export.csv --key id --map plan=tier
  reconcile diff orders.parquet orders_replica.csv --key order_id --format json --output diff.json
  reconcile diff postgres://app@primary/shop postgres://app@replica/shop --table public.orders
  reconcile diff postgres://app@primary/shop exports/orders.parquet --table public.orders --key order_id
  reconcile diff mysql://app@legacy/shop postgres://app@new/shop --table orders
  reconcile diff "$BILLING_DB" "$CRM_DB" --source-table billing.customers --target-table crm.accounts \
      --map plan=tier --where "created_at < now() - interval '1 day'"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("diff needs SOURCE and TARGET, got %d argument(s) (see 'reconcile diff --help')", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.nullValueSet = cmd.Flags().Changed("null-value")
			o.command = commandLine(cmd, args)
			return runDiff(cmd.Context(), e, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.key, "key", "k", nil, "key columns (source names), comma-separated")
	f.StringArrayVar(&o.maps, "map", nil, "pair a renamed column: SRC=TGT (repeatable)")
	f.StringSliceVar(&o.columns, "columns", nil, "compare only these columns (source names; the key is always compared)")
	f.StringSliceVar(&o.ignore, "ignore", nil, "leave these columns out of the comparison")
	f.StringArrayVar(&o.normalize, "normalize", nil, "normalise a column on both sides before comparing: COL=N1,N2 (trim, trim_end, lower, upper, fold, unaccent, collapse_spaces, nfc, null_if_empty, round(N), truncate(N)); repeatable")
	f.BoolVar(&o.collation, "collation-aware", false, "compare text as the database's collation does: for columns with a case- or accent-insensitive collation (MySQL/MariaDB _ci, _ai) or PAD SPACE, fold case, drop accents or trailing spaces on both sides (default: byte for byte, what is stored)")
	f.StringVarP(&o.format, "format", "f", "table", "report format: table, json, markdown, html")
	f.StringVarP(&o.output, "output", "o", "", "write the report to this file instead of stdout")
	f.Int64Var(&o.limit, "limit", -1, "list at most N differences, smallest keys first (counts stay complete); 0 lists all; default: all for json, 100 otherwise")
	f.StringVar(&o.memoryLimit, "memory-limit", "512MiB", "memory for unordered inputs before partitions spill to disk")
	f.StringVar(&o.tempDir, "temp-dir", "", "directory for spill files (default: the system temp dir)")
	f.IntVar(&o.workers, "workers", 0, "parallel partition diffs (default: number of CPUs)")
	f.StringVar(&o.algorithm, "algorithm", "auto", "auto (bisect two databases that checksum in SQL unless a sample shows most segments differ; else stream in key order where both sides can; else hash-partition), stream, hash, or bisect (segment checksums in the databases; only differing segments are read)")
	f.Int64Var(&o.bisectRows, "bisect-threshold", reconcile.DefaultBisectThreshold, "bisect: read a differing segment of at most this many rows instead of splitting it")
	f.IntVar(&o.bisectFactor, "bisect-factor", reconcile.DefaultBisectFactor, "bisect: split a larger differing segment into this many")
	f.Float64Var(&o.maxQuery, "max-query-seconds", 0, "bisect: aim each checksum statement at this many seconds, so no single statement loads a source for long (like pt-table-checksum's --chunk-time); 0: one statement per side for the first level")
	f.StringVar(&o.history, "history", "", "keep a drift history of this pair in this snapshot store: when each difference was first seen, last seen and healed (every difference is read; the listed ones are the first found)")
	f.StringVar(&o.historyName, "history-name", "", "name of the drift history (default: derived from the two sides)")
	f.StringVar(&o.sourceFormat, "source-format", "", "source format, overriding the extension: csv, tsv, jsonl, parquet, arrow (add .gz for gzip)")
	f.StringVar(&o.targetFormat, "target-format", "", "target format, overriding the extension")
	f.StringVar(&o.delimiter, "delimiter", "", "CSV field delimiter (one character; \\t for tab)")
	f.StringArrayVar(&o.types, "type", nil, "force a column type in text formats: COL=integer|decimal|float|boolean|timestamp|date|text|json (repeatable)")
	f.StringVar(&o.nullValue, "null-value", "", "text that stands for NULL in CSV/TSV (by default an empty field is the empty string)")
	f.StringVar(&o.table, "table", "", "table to read on both database sides (schema.table; quote mixed-case names as in SQL)")
	f.StringVar(&o.sourceTable, "source-table", "", "table to read on the source side (overrides --table)")
	f.StringVar(&o.targetTable, "target-table", "", "table to read on the target side (overrides --table)")
	f.StringVar(&o.sourceQuery, "source-query", "", "a SELECT to read on the source side instead of a table")
	f.StringVar(&o.targetQuery, "target-query", "", "a SELECT to read on the target side instead of a table")
	f.StringVar(&o.where, "where", "", "SQL filter applied on both database sides (raw SQL, run read-only)")
	f.StringVar(&o.sourceWhere, "source-where", "", "SQL filter for the source side only (overrides --where)")
	f.StringVar(&o.targetWhere, "target-where", "", "SQL filter for the target side only (overrides --where)")
	f.DurationVar(&o.stmtTimeout, "statement-timeout", 0, "longest a database statement may run, e.g. 30m (default 1h)")
	f.DurationVar(&o.lockTimeout, "lock-timeout", 0, "longest a database read may wait for a lock (default 10s)")
	f.StringVar(&o.progress, "progress", "auto", "progress line on stderr: auto (when stderr is a terminal), always, never")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile to this file")
	_ = f.MarkHidden("cpuprofile")
	f.StringVar(&o.memProfile, "memprofile", "", "write a Go heap profile to this file at the end")
	_ = f.MarkHidden("memprofile")
	return cmd
}

// validate checks the options and returns every problem at once.
func (o *diffOptions) validate() (reconcile.Options, connectors.Options, connectors.Options, error) {
	var problems []string
	opts := reconcile.Options{Key: o.key, Columns: o.columns, Ignore: o.ignore, TempDir: o.tempDir, Workers: o.workers}
	switch o.format {
	case "table", "json", "markdown", "md", "html":
	default:
		problems = append(problems, fmt.Sprintf("--format %q: want table, json, markdown or html", o.format))
	}
	switch o.progress {
	case "auto", "always", "never":
	default:
		problems = append(problems, fmt.Sprintf("--progress %q: want auto, always or never", o.progress))
	}
	if o.limit < -1 {
		problems = append(problems, fmt.Sprintf("--limit %d: must be 0 or more", o.limit))
	}
	switch o.algorithm {
	case "auto", "":
		opts.Algorithm = reconcile.Auto
	case "stream", "merge":
		opts.Algorithm = reconcile.Merge
	case "hash":
		opts.Algorithm = reconcile.Hash
	case "bisect":
		opts.Algorithm = reconcile.Bisect
	default:
		problems = append(problems, fmt.Sprintf("--algorithm %q: want auto, stream, hash or bisect", o.algorithm))
	}
	if o.bisectRows < 1 {
		problems = append(problems, fmt.Sprintf("--bisect-threshold %d: must be at least 1", o.bisectRows))
	}
	if o.bisectFactor < 2 || o.bisectFactor > 1024 {
		problems = append(problems, fmt.Sprintf("--bisect-factor %d: must be between 2 and 1024", o.bisectFactor))
	}
	opts.BisectThreshold, opts.BisectFactor = o.bisectRows, o.bisectFactor
	if !(o.maxQuery >= 0 && o.maxQuery <= 24*3600) { // also rejects NaN
		problems = append(problems, fmt.Sprintf("--max-query-seconds %v: must be between 0 (no target) and 86400", o.maxQuery))
	} else {
		opts.MaxQuerySeconds = o.maxQuery
	}
	if o.workers < 0 || o.workers > 1024 {
		problems = append(problems, fmt.Sprintf("--workers %d: must be between 0 (one per CPU) and 1024", o.workers))
	}
	if n, err := parseBytes(o.memoryLimit); err != nil {
		problems = append(problems, fmt.Sprintf("--memory-limit: %v", err))
	} else {
		opts.MemoryLimit = n
	}
	for _, m := range o.maps {
		s, t, ok := strings.Cut(m, "=")
		if !ok || s == "" || t == "" {
			problems = append(problems, fmt.Sprintf("--map %q: want SRC=TGT", m))
			continue
		}
		if opts.Map == nil {
			opts.Map = map[string]string{}
		}
		if _, dup := opts.Map[s]; dup {
			problems = append(problems, fmt.Sprintf("--map: source column %q is mapped twice", s))
		}
		opts.Map[s] = t
	}
	for _, n := range o.normalize {
		col, list, ok := strings.Cut(n, "=")
		col = strings.TrimSpace(col)
		if !ok || col == "" || strings.TrimSpace(list) == "" {
			problems = append(problems, fmt.Sprintf("--normalize %q: want COL=NORMALISER[,NORMALISER...], e.g. email=trim,lower", n))
			continue
		}
		var items []any
		for _, it := range strings.Split(list, ",") {
			items = append(items, strings.TrimSpace(it))
		}
		chain, err := rules.ParseChain(items)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--normalize %s: %v", col, err))
			continue
		}
		if opts.ColumnRules == nil {
			opts.ColumnRules = map[string]reconcile.ColumnRule{}
		}
		if _, dup := opts.ColumnRules[col]; dup {
			problems = append(problems, fmt.Sprintf("--normalize: column %q is given twice; list all its normalisers in one --normalize", col))
		}
		opts.ColumnRules[col] = reconcile.ColumnRule{Normalize: chain.Apply, Describe: col + ": " + chain.String()}
	}
	var src, tgt connectors.Options
	src.Format, tgt.Format = o.sourceFormat, o.targetFormat
	if o.stmtTimeout < 0 || o.lockTimeout < 0 {
		problems = append(problems, "--statement-timeout and --lock-timeout must not be negative")
	}
	src.StatementTimeout, tgt.StatementTimeout = o.stmtTimeout, o.stmtTimeout
	src.LockTimeout, tgt.LockTimeout = o.lockTimeout, o.lockTimeout
	if o.delimiter != "" {
		d := o.delimiter
		if d == `\t` || d == "tab" {
			d = "\t"
		}
		r, size := utf8.DecodeRuneInString(d)
		if size != len(d) || r == '"' || r == '\n' || r == '\r' {
			problems = append(problems, fmt.Sprintf("--delimiter %q: want a single character other than a quote or newline", o.delimiter))
		}
		src.Delimiter, tgt.Delimiter = r, r
	}
	if o.nullValueSet {
		nv := o.nullValue
		src.NullValue, tgt.NullValue = &nv, &nv
	}
	validTypes := map[string]bool{"integer": true, "decimal": true, "float": true, "boolean": true, "timestamp": true, "date": true, "text": true, "json": true}
	for _, t := range o.types {
		col, typ, ok := strings.Cut(t, "=")
		typ = strings.ToLower(typ)
		if !ok || col == "" || !validTypes[typ] {
			problems = append(problems, fmt.Sprintf("--type %q: want COL=TYPE with TYPE one of integer, decimal, float, boolean, timestamp, date, text, json", t))
			continue
		}
		if src.Types == nil {
			src.Types, tgt.Types = map[string]string{}, map[string]string{}
		}
		src.Types[col] = typ
		tcol := col
		if m, ok := opts.Map[col]; ok {
			tcol = m
		}
		tgt.Types[tcol] = typ
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return opts, src, tgt, errors.Join(errs...)
}

// refs builds the table references of the two sides from the flags. The
// shared --table names the table of the database sides; a file holds one.
func (o *diffOptions) refs(srcLoc, tgtLoc string) (src, tgt connectors.TableRef, err error) {
	side := func(name, loc, table, query, where string) (connectors.TableRef, error) {
		if connectors.SchemeOf(loc) == "file" {
			if table != "" {
				return connectors.TableRef{}, fmt.Errorf("--%s-table: the %s is a file, which holds one table", name, name)
			}
			return connectors.TableRef{Query: query, Where: where}, nil
		}
		ref := connectors.TableRef{Name: o.table, Where: o.where}
		if table != "" {
			ref.Name = table
		}
		if where != "" {
			ref.Where = where
		}
		if query != "" {
			if table != "" {
				return ref, fmt.Errorf("--%s-table and --%s-query: give one or the other", name, name)
			}
			ref.Name, ref.Query = "", query
		}
		return ref, nil
	}
	src, err1 := side("source", srcLoc, o.sourceTable, o.sourceQuery, o.sourceWhere)
	tgt, err2 := side("target", tgtLoc, o.targetTable, o.targetQuery, o.targetWhere)
	return src, tgt, errors.Join(err1, err2)
}

// checkFileSides rejects SQL options that would reach a file side: a file
// cannot be filtered, and comparing a filtered table with a whole file
// would report every filtered-out row as a difference.
func (o *diffOptions) checkFileSides(srcLoc, tgtLoc string) error {
	var problems []error
	for _, s := range []struct{ name, loc, query, where string }{
		{"source", srcLoc, o.sourceQuery, o.sourceWhere},
		{"target", tgtLoc, o.targetQuery, o.targetWhere},
	} {
		if connectors.SchemeOf(s.loc) != "file" {
			continue
		}
		switch {
		case s.query != "" || s.where != "":
			problems = append(problems, fmt.Errorf("--%s-query/--%s-where: the %s is a file, which cannot run SQL", s.name, s.name, s.name))
		case o.where != "":
			other := "target"
			if s.name == "target" {
				other = "source"
			}
			problems = append(problems, fmt.Errorf("--where applies to both sides, but the %s is a file; filter the database side only with --%s-where", s.name, other))
		}
	}
	return errors.Join(problems...)
}

// parseBytes reads sizes like 512MiB, 1GiB, 64MB, 1048576.
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			mult = u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a size (say 512MiB or 2GiB)", s)
	}
	if f*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("%q is more than 1 PiB", s)
	}
	if f*float64(mult) < 1<<20 {
		return 0, fmt.Errorf("%q is less than 1MiB", s)
	}
	return int64(f * float64(mult)), nil
}

// reportWriter is what diff needs of a report format.
type reportWriter interface {
	Change(reconcile.Change) error
	Finish(*reconcile.Result, error) error
}

func runDiff(ctx context.Context, e *env, o *diffOptions, srcLoc, tgtLoc string) (retErr error) {
	opts, srcOpts, tgtOpts, err := o.validate()
	srcRef, tgtRef, rerr := o.refs(srcLoc, tgtLoc)
	if err = errors.Join(err, rerr, o.checkFileSides(srcLoc, tgtLoc)); err != nil {
		return err
	}
	// Memory is part of the contract: collect garbage sooner than Go's
	// default (the live heap is mostly short-lived Arrow batches), and
	// harder once the process nears the budget the user gave. GOGC and
	// GOMEMLIMIT still win when set.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(opts.MemoryLimit + 64<<20)
	}
	if o.cpuProfile != "" {
		pf, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if o.memProfile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if pf, err := os.Create(o.memProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(pf, 0)
				pf.Close()
			}
		}()
	}
	src, err := e.registry.Open(ctx, srcLoc, srcOpts)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	tgt, err := e.registry.Open(ctx, tgtLoc, tgtOpts)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer tgt.Close()

	if o.collation {
		if err := collationRules(ctx, &opts, src, srcRef, tgt, tgtRef); err != nil {
			return err
		}
	}

	limit := o.limit
	if limit < 0 {
		limit = 100
		if o.format == "json" {
			limit = 0
		}
	}
	opts.Limit = limit

	out := e.stdout
	var outFile *os.File
	if o.output != "" {
		outFile, err = os.Create(o.output)
		if err != nil {
			return fmt.Errorf("create report: %w", err)
		}
		defer func() {
			// A report that could not be written is an error (exit 2),
			// whatever the verdict was.
			var ec *exitCodeError
			if cerr := outFile.Close(); cerr != nil && (retErr == nil || errors.As(retErr, &ec)) {
				retErr = fmt.Errorf("write report %s: %w", o.output, cerr)
			}
		}()
		out = outFile
	}
	meta := reports.Meta{
		Source:  connectors.Redact(displayName(srcLoc)),
		Target:  connectors.Redact(displayName(tgtLoc)),
		Key:     opts.Key,
		Limit:   limit,
		Command: o.command,
	}
	var w reportWriter

	var hist *snapshots.History
	sink := func(c reconcile.Change) error { return w.Change(c) }
	if o.history != "" {
		pair := fmt.Sprintf("%s %s | %s %s | key %s", connectors.Redact(srcLoc), srcRef, connectors.Redact(tgtLoc), tgtRef, strings.Join(opts.Key, ","))
		name := o.historyName
		if name == "" {
			name = snapshots.HistoryName(pair)
		}
		if hist, err = snapshots.OpenHistory(ctx, o.history, name, pair); err != nil {
			return err
		}
		meta.Since = hist.Since
		meta.History = &reports.History{Name: name}
		// The history needs every difference; the report lists the
		// first ones found, up to the limit.
		opts.Limit = 0
		var listed int64
		sink = func(c reconcile.Change) error {
			hist.Observe(&c)
			if limit > 0 && listed >= limit {
				return nil
			}
			listed++
			return w.Change(c)
		}
	}
	switch o.format {
	case "json":
		w = reports.NewJSON(out, meta)
	case "markdown", "md":
		w = reports.NewMarkdown(out, meta)
	case "html":
		w = reports.NewHTML(out, meta)
	default:
		w = reports.NewTable(out, meta)
	}

	showProgress := o.progress == "always" || (o.progress == "auto" && e.isTerminal(e.stderr))
	var prog *reconcile.Progress
	stopProgress := func() {}
	if showProgress {
		prog = &reconcile.Progress{}
		opts.Progress = prog
		stopProgress = startProgress(e.stderr, prog)
	}
	res, diffErr := reconcile.Diff(ctx,
		reconcile.Input{Source: src, Table: srcRef, Name: meta.Source},
		reconcile.Input{Source: tgt, Table: tgtRef, Name: meta.Target}, opts, sink)
	stopProgress()
	if hist != nil && diffErr == nil {
		// Only a complete run is recorded: keys a failed run did not
		// reach would otherwise count as healed.
		sum, err := hist.Commit(ctx, time.Now())
		if err != nil {
			diffErr = fmt.Errorf("drift history: %w", err)
		} else {
			*meta.History = reports.History{Name: meta.History.Name, Previous: sum.Previous, Now: sum.Now, New: sum.New, Ongoing: sum.Ongoing, Healed: sum.Healed, Oldest: sum.Oldest}
		}
	}
	if ferr := w.Finish(res, diffErr); ferr != nil && diffErr == nil {
		return fmt.Errorf("write report: %w", ferr)
	}
	if diffErr != nil {
		return diffErr
	}
	if !res.Consistent() {
		return &exitCodeError{code: exitDifferences}
	}
	return nil
}

// commandLine renders the command as given (arguments and the flags that
// were set), with passwords redacted, for report headers.
func commandLine(cmd *cobra.Command, args []string) string {
	parts := []string{cmd.CommandPath()}
	for _, a := range args {
		parts = append(parts, shellQuote(connectors.Redact(a)))
	}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		vals := []string{f.Value.String()}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
			if f.Value.Type() != "stringArray" {
				vals = []string{strings.Join(vals, ",")}
			}
		}
		for _, v := range vals {
			parts = append(parts, "--"+f.Name, shellQuote(connectors.Redact(v)))
		}
	})
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ',' || r == ':' || r == '@' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func displayName(loc string) string {
	if connectors.SchemeOf(loc) == "file" {
		return filepath.Base(strings.TrimPrefix(loc, "file://"))
	}
	return loc
}

// startProgress prints a progress line on w once a second, after the first
// second; the returned func stops it and clears the line.
func startProgress(w io.Writer, p *reconcile.Progress) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		printed := false
		for {
			select {
			case <-done:
				if printed {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case now := <-t.C:
				s, g := p.SourceRows.Load(), p.TargetRows.Load()
				secs := now.Sub(start).Seconds()
				fmt.Fprintf(w, "\r\033[Kread source %s rows, target %s rows (%s rows/s)", human(s), human(g), human(int64(float64(s+g)/secs)))
				printed = true
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func human(n int64) string {
	switch {
	case n >= 9_950_000:
		return fmt.Sprintf("%.0fM", float64(n)/1e6)
	case n >= 999_500:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}

// collationRules adds, for each non-key column that a side compares under
// a case- or accent-insensitive or PAD SPACE collation, the normalisers
// that make the comparison follow it (rules.CollationChain), unless the
// column has its own --normalize.
func collationRules(ctx context.Context, opts *reconcile.Options, src connectors.Source, srcRef connectors.TableRef, tgt connectors.Source, tgtRef connectors.TableRef) error {
	si, err := src.Describe(ctx, srcRef)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	ti, err := tgt.Describe(ctx, tgtRef)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	key := opts.Key
	if len(key) == 0 {
		key = si.PrimaryKey
	}
	collationOf := func(s *arrow.Schema, name string) string {
		for _, f := range s.Fields() {
			if f.Name == name {
				c, _ := f.Metadata.GetValue(connectors.MetaCollation)
				return c
			}
		}
		return ""
	}
	for _, f := range si.Schema.Fields() {
		if slices.Contains(key, f.Name) {
			continue // keys match exactly: a normalised key could pair two rows the database keeps apart
		}
		if _, own := opts.ColumnRules[f.Name]; own {
			continue
		}
		tname := f.Name
		if m, ok := opts.Map[f.Name]; ok {
			tname = m
		}
		sc, tc := collationOf(si.Schema, f.Name), collationOf(ti.Schema, tname)
		chain, ok := rules.CollationChain(sc, tc)
		if !ok {
			continue
		}
		if opts.ColumnRules == nil {
			opts.ColumnRules = map[string]reconcile.ColumnRule{}
		}
		by := strings.Trim(strings.Join([]string{sc, tc}, ", "), ", ")
		opts.ColumnRules[f.Name] = reconcile.ColumnRule{Normalize: chain.Apply, Describe: fmt.Sprintf("%s: %s (collation %s)", f.Name, chain, by)}
	}
	return nil
}
