package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"

	"github.com/reconhq/reconcile/config"
)

const (
	defaultHashCost = 12
	maxHashCost     = 15
	// maxPasswordBytes is what bcrypt reads of a password; it would
	// silently ignore the rest.
	maxPasswordBytes = 72
)

type hashPasswordOptions struct {
	cost int
}

func newHashPasswordCmd(e *env) *cobra.Command {
	o := &hashPasswordOptions{}
	cmd := &cobra.Command{
		Use:   "hash-password",
		Short: "Print the bcrypt hash of a password read on stdin, for serve.users[].password_hash",
		Long: fmt.Sprintf(`Read one password line on stdin (a trailing newline is not part of it) and
print its bcrypt hash, to put in the config as serve.users[].password_hash.
The config keeps only the hash; the password is never stored.

The password may not be empty nor longer than %d bytes (bcrypt would ignore
the rest). Typed at a terminal, it is shown as typed: pipe it in instead.

Exit codes: 0 the hash was printed, 2 an error.`, maxPasswordBytes),
		Example: `  read -rs PW && printf '%s\n' "$PW" | reconcile hash-password; unset PW
  reconcile hash-password --cost 13 < password.txt`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return errors.New("hash-password reads the password on stdin, not as an argument (an argument stays in the shell history)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHashPassword(e, o)
		},
	}
	cmd.Flags().IntVar(&o.cost, "cost", defaultHashCost, fmt.Sprintf("bcrypt cost, %d to %d (each step doubles the work of every sign-in and every guess)", config.MinBcryptCost, maxHashCost))
	return cmd
}

func runHashPassword(e *env, o *hashPasswordOptions) error {
	if o.cost < config.MinBcryptCost || o.cost > maxHashCost {
		return fmt.Errorf("hash password: --cost %d: want %d to %d", o.cost, config.MinBcryptCost, maxHashCost)
	}
	// A line longer than this is refused anyway: read no more of it.
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("hash password: read stdin: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	switch {
	case pw == "":
		return errors.New("hash password: empty password on stdin")
	case len(pw) > maxPasswordBytes:
		return fmt.Errorf("hash password: the password is longer than %d bytes, and bcrypt would ignore the rest: use a shorter one", maxPasswordBytes)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), o.cost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", hash)
	return err
}
