package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/spf13/cobra"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/snapshots"
)

type snapshotOptions struct {
	store        string
	name         string
	key          []string
	columns      []string
	table        string
	query        string
	where        string
	format       string
	delimiter    string
	types        []string
	nullValue    string
	nullValueSet bool
	stmtTimeout  time.Duration
	lockTimeout  time.Duration
}

func newSnapshotCmd(e *env) *cobra.Command {
	o := &snapshotOptions{}
	cmd := &cobra.Command{
		Use:   "snapshot SOURCE --store DIR [--name NAME]",
		Short: "Keep a point-in-time columnar copy of a table, to diff against later",
		Long: `Read SOURCE (a database table or query, or a file) in one consistent snapshot
and store it under DIR/NAME/<UTC time>/ as Parquet parts (zstd) and a
manifest.json written last: the source (password redacted), the key, the
schema, the row count, the table and column checksums, the SHA-256 of every
part, the source's snapshot time and WAL position, the tool version and a
config hash. A write that fails or is interrupted leaves no manifest; such a
folder is never read and 'snapshot prune' removes it.

Rows are stored in key order when the source reads in key order (databases
do), so a diff merges the snapshot as it streams. Diff against a snapshot
with snap:DIR/NAME@latest, @-1 (the one before), or a time stamp prefix
(@2026-11-26).

Exit codes: 0 written, 2 error.`,
		Example: `  reconcile snapshot postgres://app@replica/shop --table public.orders --store /var/lib/reconcile --name shop-replica-orders
  reconcile diff snap:/var/lib/reconcile/shop-replica-orders@latest postgres://app@primary/shop --table public.orders
  reconcile diff snap:/var/lib/reconcile/shop-replica-orders@-1 snap:/var/lib/reconcile/shop-replica-orders@latest
  reconcile snapshot list /var/lib/reconcile
  reconcile snapshot verify /var/lib/reconcile/shop-replica-orders@latest
  reconcile snapshot prune /var/lib/reconcile --keep 7 --keep-within 30d`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("snapshot needs one SOURCE, got %d argument(s) (see 'reconcile snapshot --help')", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.nullValueSet = cmd.Flags().Changed("null-value")
			return runSnapshot(cmd.Context(), e, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.store, "store", "", "snapshot store directory (required)")
	f.StringVar(&o.name, "name", "", "snapshot series name (default: the table or file name)")
	f.StringSliceVarP(&o.key, "key", "k", nil, "key columns (default: the table's primary key)")
	f.StringSliceVar(&o.columns, "columns", nil, "keep only these columns (the key is always kept)")
	f.StringVar(&o.table, "table", "", "table to read from a database source (schema.table)")
	f.StringVar(&o.query, "query", "", "a SELECT to read from a database source instead of a table")
	f.StringVar(&o.where, "where", "", "SQL filter for a database source (raw SQL, run read-only)")
	f.StringVar(&o.format, "source-format", "", "file format, overriding the extension: csv, tsv, jsonl, parquet, arrow")
	f.StringVar(&o.delimiter, "delimiter", "", "CSV field delimiter (one character; \\t for tab)")
	f.StringArrayVar(&o.types, "type", nil, "force a column type in text formats: COL=TYPE (repeatable)")
	f.StringVar(&o.nullValue, "null-value", "", "text that stands for NULL in CSV/TSV")
	f.DurationVar(&o.stmtTimeout, "statement-timeout", 0, "longest a database statement may run (default 1h)")
	f.DurationVar(&o.lockTimeout, "lock-timeout", 0, "longest a database read may wait for a lock (default 10s)")
	cmd.AddCommand(newSnapshotListCmd(e), newSnapshotVerifyCmd(e), newSnapshotPruneCmd(e))
	return cmd
}

// sourceOptions reuses diff's validation of the file and database options.
func (o *snapshotOptions) sourceOptions() (connectors.Options, error) {
	d := &diffOptions{format: "table", progress: "never", algorithm: "auto", bisectRows: 1, bisectFactor: 2, memoryLimit: "512MiB",
		sourceFormat: o.format, delimiter: o.delimiter, types: o.types, nullValue: o.nullValue, nullValueSet: o.nullValueSet,
		stmtTimeout: o.stmtTimeout, lockTimeout: o.lockTimeout}
	_, src, _, err := d.validate()
	return src, err
}

// defaultName derives a series name from the table or file.
func defaultName(loc, table string) string {
	base := table
	if base == "" {
		base = filepath.Base(strings.TrimPrefix(loc, "file://"))
		for ext := filepath.Ext(base); ext != ""; ext = filepath.Ext(base) {
			base = strings.TrimSuffix(base, ext)
		}
	}
	base = regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(strings.ReplaceAll(base, `"`, ""), "-")
	return strings.TrimLeft(base, "._-")
}

func runSnapshot(ctx context.Context, e *env, o *snapshotOptions, loc string) error {
	var problems []error
	if o.store == "" {
		problems = append(problems, errors.New("--store: give the snapshot store directory"))
	}
	isFile := connectors.SchemeOf(loc) == "file"
	if connectors.SchemeOf(loc) == snapshots.Scheme {
		problems = append(problems, errors.New("the source is a snapshot already; copy its folder instead"))
	}
	if isFile && (o.table != "" || o.query != "" || o.where != "") {
		problems = append(problems, errors.New("--table/--query/--where: the source is a file, which holds one table and cannot run SQL"))
	}
	if !isFile && (o.table == "") == (o.query == "") {
		problems = append(problems, errors.New("--table or --query: give one for a database source"))
	}
	name := o.name
	if name == "" {
		name = defaultName(loc, o.table)
	}
	if o.query != "" && o.name == "" {
		problems = append(problems, errors.New("--name: a query's snapshot needs a name"))
	} else if err := snapshots.CheckName(name); err != nil {
		problems = append(problems, fmt.Errorf("--name: %w", err))
	}
	srcOpts, err := o.sourceOptions()
	problems = append(problems, err)
	if err := errors.Join(problems...); err != nil {
		return err
	}
	src, err := e.registry.Open(ctx, loc, srcOpts)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	ref := connectors.TableRef{Name: o.table, Query: o.query, Where: o.where}
	info, err := src.Describe(ctx, ref)
	if err != nil {
		return fmt.Errorf("describe source: %w", err)
	}
	key := o.key
	if len(key) == 0 {
		key = info.PrimaryKey
	}
	if len(key) == 0 {
		return fmt.Errorf("source %s has no primary key: give --key", info.Name)
	}
	var cols []string
	if len(o.columns) > 0 {
		cols = append(cols, key...)
		for _, c := range o.columns {
			if !contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	ropts := connectors.ReadOptions{Columns: cols}
	var rr array.RecordReader
	if or, ok := src.(connectors.OrderedReader); ok {
		rr, err = or.ReadOrdered(ctx, ref, key, ropts)
		if errors.Is(err, connectors.ErrUnsupported) {
			rr, err = nil, nil // stored as read; the manifest says unsorted
		}
	}
	if rr == nil && err == nil {
		rr, err = src.Read(ctx, ref, ropts)
	}
	if err != nil {
		return fmt.Errorf("read source: %w", err)
	}
	defer rr.Release()
	config := map[string]any{"source": connectors.Redact(loc), "table": o.table, "query": o.query, "where": o.where,
		"key": key, "columns": o.columns, "format": o.format, "delimiter": o.delimiter, "types": o.types}
	if o.nullValueSet {
		config["null_value"] = o.nullValue
	}
	raw, _ := json.Marshal(config)
	sum := sha256.Sum256(raw)
	m, dir, err := snapshots.Write(ctx, o.store, rr, snapshots.WriteOptions{
		Name: name, Source: loc, Table: o.table, Query: o.query, Where: o.where, Key: key,
		Consistency: info.Consistency, Notes: info.Notes, ToolVersion: version,
		ConfigHash: "sha256:" + hex.EncodeToString(sum[:]),
	})
	if err != nil {
		return err
	}
	if n, ok := src.(connectors.Noter); ok && len(n.Notes()) > 0 {
		// The source read part of the rows from a later snapshot (a
		// resumed connection): the snapshot is still complete, but not of
		// one point in time. Say so loudly.
		for _, note := range n.Notes() {
			fmt.Fprintf(e.stderr, "reconcile: note: %s\n", note)
		}
	}
	var bytes int64
	for _, p := range m.Parts {
		bytes += p.Bytes
	}
	order := "in key order"
	if !m.Sorted {
		order = "not in key order (diffs will hash-partition it)"
	}
	fmt.Fprintf(e.stdout, "snapshot %s@%s: %d rows, %d part(s), %s, %s\n", m.Name, m.ID, m.Rows, len(m.Parts), humanBytes(bytes), order)
	fmt.Fprintf(e.stdout, "  checksum %016x   path %s\n", uint64(m.Checksum), dir)
	if m.Consistency != nil {
		fmt.Fprintf(e.stdout, "  source snapshot at %s", m.Consistency.Time.UTC().Format(time.RFC3339Nano))
		if m.Consistency.Position != "" {
			fmt.Fprintf(e.stdout, ", position %s", m.Consistency.Position)
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func newSnapshotListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list STORE[/NAME]",
		Short: "List the snapshots of a store (or of one series), oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := strings.TrimPrefix(args[0], snapshots.Scheme+":")
			var all []*snapshots.Series
			if s, err := snapshots.ReadSeries(dir); err == nil && len(s.Entries) > 0 {
				all = []*snapshots.Series{s}
			} else {
				list, err := snapshots.List(dir)
				if err != nil {
					return err
				}
				all = list
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSNAPSHOT\tROWS\tSIZE\tSOURCE\tSTATUS")
			for _, s := range all {
				for _, en := range s.Entries {
					if en.Manifest == nil {
						status := "incomplete (no manifest)"
						if en.Err != nil {
							status = "unreadable manifest: " + en.Err.Error()
						}
						fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t%s\n", s.Name, en.ID, status)
						continue
					}
					m := en.Manifest
					var size int64
					for _, p := range m.Parts {
						size += p.Bytes
					}
					what := m.Source
					if m.Table != "" {
						what += " " + m.Table
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\tcomplete\n", s.Name, en.ID, m.Rows, humanBytes(size), what)
				}
			}
			return tw.Flush()
		},
	}
}

func newSnapshotVerifyCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "verify SNAPSHOT...",
		Short: "Recompute every digest of snapshots and compare them with their manifests",
		Long: `Recompute each part's size and SHA-256, the row count, the table and column
checksums, the key order and the NULL-key count of each snapshot, and compare
them with its manifest. SNAPSHOT is a snapshot folder or a reference such as
STORE/NAME@latest.

Exit codes: 0 every snapshot matches its manifest, 2 one does not (or cannot be read).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var errs []error
			for _, a := range args {
				dir, _, err := snapshots.Resolve(a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				m, err := snapshots.Verify(cmd.Context(), dir)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(e.stdout, "ok %s@%s: %d rows, %d part(s), checksum %016x\n", m.Name, m.ID, m.Rows, len(m.Parts), uint64(m.Checksum))
			}
			return errors.Join(errs...)
		},
	}
}

func newSnapshotPruneCmd(e *env) *cobra.Command {
	var keep int
	var within, grace string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune STORE[/NAME] --keep N [--keep-within 30d]",
		Short: "Remove old snapshots and interrupted writes",
		Long: `Keep the newest N complete snapshots of each series (and any taken within
--keep-within), and remove the rest, with folders left without a manifest
by interrupted writes once they have been untouched for --grace. The newest
complete snapshot is always kept; a snapshot whose manifest cannot be read
is never removed (it is evidence: look at it, or remove it yourself).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var problems []error
			if keep < 1 {
				problems = append(problems, fmt.Errorf("--keep %d: must be at least 1", keep))
			}
			w, err := parseAge(within)
			if err != nil {
				problems = append(problems, fmt.Errorf("--keep-within: %w", err))
			}
			g, err := parseAge(grace)
			if err != nil {
				problems = append(problems, fmt.Errorf("--grace: %w", err))
			}
			if err := errors.Join(problems...); err != nil {
				return err
			}
			dir := strings.TrimPrefix(args[0], snapshots.Scheme+":")
			var series []*snapshots.Series
			if s, err := snapshots.ReadSeries(dir); err == nil && len(s.Entries) > 0 {
				series = []*snapshots.Series{s}
			} else if series, err = snapshots.List(dir); err != nil {
				return err
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			for _, s := range series {
				pruned, err := snapshots.Prune(s.Dir, snapshots.PruneOptions{Keep: keep, KeepWithin: w, Grace: g, DryRun: dryRun})
				for _, p := range pruned {
					fmt.Fprintf(e.stdout, "%s %s (%s)\n", verb, p.Dir, p.Reason)
				}
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&keep, "keep", 0, "keep the newest N complete snapshots of each series (required, at least 1)")
	f.StringVar(&within, "keep-within", "", "also keep every snapshot taken within this age, e.g. 30d or 12h")
	f.StringVar(&grace, "grace", "1h", "remove a folder without a manifest once untouched this long (a write may still be running)")
	f.BoolVar(&dryRun, "dry-run", false, "list what would be removed, remove nothing")
	return cmd
}

// parseAge reads 30d, 12h, 90m; "" is zero.
func parseAge(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != d {
			return 0, fmt.Errorf("%q: want an age such as 30d, 12h or 90m", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want an age such as 30d, 12h or 90m", s)
	}
	return d, nil
}
