// Command reconcile proves that copies of the same data agree, and says
// exactly where they do not.
//
// Exit codes: 0 consistent, 1 differences found, 2 error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/file"
	"github.com/reconhq/reconcile/connectors/mysql"
	"github.com/reconhq/reconcile/connectors/postgres"
	"github.com/reconhq/reconcile/snapshots"
)

// Exit codes are API.
const (
	exitConsistent  = 0
	exitDifferences = 1
	exitError       = 2
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit code out of a command.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// env is what commands get from main: I/O and the connector registry.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	registry       *connectors.Registry
	// isTerminal reports whether w is an interactive terminal.
	isTerminal func(w io.Writer) bool
}

func newRegistry() *connectors.Registry {
	reg := connectors.NewRegistry()
	reg.Register("file", file.Open)
	// The drivers return their concrete types; a nil one must not become
	// a non-nil connectors.Source.
	openPostgres := func(ctx context.Context, location string, opts connectors.Options) (connectors.Source, error) {
		s, err := postgres.Open(ctx, location, opts)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	reg.Register("postgres", openPostgres)
	reg.Register("postgresql", openPostgres)
	openMySQL := func(ctx context.Context, location string, opts connectors.Options) (connectors.Source, error) {
		s, err := mysql.Open(ctx, location, opts)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	reg.Register("mysql", openMySQL)
	reg.Register("mariadb", openMySQL)
	reg.Register(snapshots.Scheme, func(ctx context.Context, location string, opts connectors.Options) (connectors.Source, error) {
		s, err := snapshots.Open(ctx, location, opts)
		if err != nil {
			return nil, err
		}
		return s, nil
	})
	return reg
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdin: os.Stdin, stdout: stdout, stderr: stderr, registry: newRegistry(), isTerminal: isTerminal}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var ec *exitCodeError
	switch {
	case err == nil:
		return exitConsistent
	case errors.As(err, &ec):
		return ec.code
	}
	printError(stderr, err)
	return exitError
}

func printError(w io.Writer, err error) {
	problems := flatten(err)
	if len(problems) == 1 {
		fmt.Fprintf(w, "reconcile: %s\n", indentRest(problems[0].Error(), "  "))
		return
	}
	fmt.Fprintf(w, "reconcile: %d problems:\n", len(problems))
	for _, p := range problems {
		fmt.Fprintf(w, "  - %s\n", indentRest(p.Error(), "    "))
	}
}

// flatten lists the problems of an errors.Join tree.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			if e != nil {
				out = append(out, flatten(e)...)
			}
		}
		return out
	}
	return []error{err}
}

// indentRest indents every line of a message but the first.
func indentRest(msg, indent string) string {
	return strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", "\n"+indent)
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "reconcile",
		Short: "Prove that copies of the same data agree, and say exactly where they do not",
		Long: `reconcile compares a system of record with its copies (PostgreSQL, MySQL and
MariaDB tables; CSV, TSV, JSON Lines, Parquet and Arrow files; snapshots) by
key and reports missing, extra, changed and duplicated records, schema drift,
and row counts and checksums of both sides. 'reconcile snapshot' keeps
point-in-time copies to diff against later.

Exit codes: 0 consistent, 1 differences found, 2 error.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())
	})
	root.AddCommand(newDiffCmd(e), newSnapshotCmd(e), newValidateCmd(e), newRunCmd(e), newBatchCmd(e), newServeCmd(e), newHashPasswordCmd(e))
	return root
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
