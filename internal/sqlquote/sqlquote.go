// Package sqlquote quotes SQL identifiers and splits qualified names for the
// database connectors. SQL dialects differ here only in their identifier
// quote and in whether bare words fold to lower case, which a Dialect says.
package sqlquote

import (
	"fmt"
	"strings"
)

// Dialect describes how one SQL dialect writes identifiers.
type Dialect struct {
	// Quote is the identifier quote: '"' (PostgreSQL) or '`' (MySQL).
	// Inside a quoted identifier it is doubled.
	Quote byte
	// Fold maps a bare (unquoted) word to the name it stands for; nil keeps
	// it as written.
	Fold func(string) string
	// Hint tells the user how to quote a name, for error messages.
	Hint string
}

// Ident returns name as a quoted identifier.
func (d Dialect) Ident(name string) string {
	q := string(d.Quote)
	return q + strings.ReplaceAll(name, q, q+q) + q
}

// Split splits a dotted name ("schema.table") into its parts: each either
// a quoted identifier, kept as written, or a bare word, passed through
// Fold. Space around a part is ignored.
func (d Dialect) Split(s string) ([]string, error) {
	var parts []string
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var part string
		if i < len(s) && s[i] == d.Quote {
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == d.Quote {
					if i+1 < len(s) && s[i+1] == d.Quote {
						b.WriteByte(d.Quote)
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("table name %q: unterminated quoted identifier", s)
			}
			part = b.String()
			if part == "" {
				return nil, fmt.Errorf("table name %q: empty quoted identifier", s)
			}
		} else {
			start := i
			for i < len(s) && s[i] != '.' && s[i] != d.Quote && !isSpace(s[i]) {
				i++
			}
			part = s[start:i]
			if d.Fold != nil {
				part = d.Fold(part)
			}
			if part == "" {
				return nil, fmt.Errorf("table name %q: empty name part", s)
			}
		}
		parts = append(parts, part)
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return parts, nil
		}
		if s[i] != '.' {
			return nil, fmt.Errorf("table name %q: unexpected %q at byte %d (%s)", s, s[i], i, d.Hint)
		}
		i++
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
