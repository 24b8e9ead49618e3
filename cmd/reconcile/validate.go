package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reconhq/reconcile/config"
)

type validateOptions struct {
	quiet bool
	// lookup reads environment variables (os.LookupEnv).
	lookup func(string) (string, bool)
}

func newValidateCmd(e *env) *cobra.Command {
	o := &validateOptions{lookup: os.LookupEnv}
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check reconcile.yaml files: keys, systems, schedules, rules, and the environment they need",
		Long: `Read each FILE strictly and validate it into a plan without connecting to
anything: unknown or duplicate keys, values of the wrong shape, systems that
are not declared, URL schemes without a connector, cron syntax, durations,
normalisers, tolerances, rules and limits, and the environment variables
that ${NAME} and password_env need. Every problem is listed as
file:line:column: message. A valid file prints a short summary of its plan
(systems with passwords redacted, jobs, replicas, schedules, config hashes).

Exit codes: 0 every file valid, 2 a problem in any file.`,
		Example: `  reconcile validate reconcile.yaml
  reconcile validate --quiet deploy/*.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("validate needs at least one FILE (see 'reconcile validate --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(e, o, args)
		},
	}
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print problems only, no summary of a valid plan")
	return cmd
}

func runValidate(e *env, o *validateOptions, files []string) error {
	schemes := e.registry.Schemes()
	opts := config.Options{Lookup: o.lookup, KnownScheme: func(s string) bool { return slices.Contains(schemes, s) }}
	bad := 0
	for _, f := range files {
		plan, err := config.Load(f, opts)
		if err != nil {
			bad++
			for _, p := range flatten(err) {
				var pr *config.Problem
				if errors.As(p, &pr) {
					fmt.Fprintln(e.stderr, pr.Error())
					continue
				}
				fmt.Fprintf(e.stderr, "%s: %s\n", f, strings.TrimPrefix(p.Error(), "read config: "))
			}
			continue
		}
		if !o.quiet {
			io.WriteString(e.stdout, plan.String())
		}
	}
	if bad > 0 {
		fmt.Fprintf(e.stderr, "reconcile validate: %d of %d file(s) invalid\n", bad, len(files))
		return &exitCodeError{code: exitError}
	}
	return nil
}
