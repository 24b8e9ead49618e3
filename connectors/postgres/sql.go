package postgres

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/reconhq/reconcile/internal/sqlquote"
)

// dialect is PostgreSQL's way with identifiers: double quotes, and bare
// words folded to lower case (ASCII letters only, as PostgreSQL does for
// UTF-8 databases).
var dialect = sqlquote.Dialect{Quote: '"', Fold: foldIdent, Hint: "quote names holding spaces, dots or quotes"}

// quoteIdent returns name as a double-quoted SQL identifier. Every
// identifier the connector puts into SQL goes through it.
func quoteIdent(name string) string { return dialect.Ident(name) }

// quoteLiteral returns s as a SQL string literal. Quotes are doubled; a
// value holding a backslash is written as an escape string (E'...') with
// the backslashes doubled, so the literal means the same whatever
// standard_conforming_strings says.
func quoteLiteral(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 3)
	if strings.IndexByte(s, '\\') >= 0 {
		b.WriteByte('E')
	}
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// tableName is a parsed, possibly schema-qualified table name.
type tableName struct {
	schema string // "" resolves through search_path
	name   string
}

func (n tableName) quoted() string {
	if n.schema == "" {
		return quoteIdent(n.name)
	}
	return quoteIdent(n.schema) + "." + quoteIdent(n.name)
}

// parseTableName splits a table name the way PostgreSQL reads one: parts
// separated by dots, each either a double-quoted identifier ("" stands for
// a quote) kept as written, or a bare word folded to lower case (ASCII
// letters only, as PostgreSQL does for UTF-8 databases). Space around a
// part is ignored. One part is a table found through search_path; two are
// schema and table.
func parseTableName(s string) (tableName, error) {
	parts, err := dialect.Split(s)
	if err != nil {
		return tableName{}, err
	}
	switch len(parts) {
	case 1:
		return tableName{name: parts[0]}, nil
	case 2:
		return tableName{schema: parts[0], name: parts[1]}, nil
	}
	return tableName{}, fmt.Errorf("table name %q: want table or schema.table, got %d parts", s, len(parts))
}

// foldIdent lower-cases the ASCII letters of a bare identifier.
func foldIdent(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// userSQL prepares a user's Query or Where for embedding: trailing
// semicolons and space go, and a line break closes it, so a trailing
// "-- comment" cannot swallow the SQL the connector appends.
func userSQL(s string) string {
	s = strings.TrimRightFunc(s, func(r rune) bool { return r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	return s + "\n"
}

// shorten abbreviates SQL for an error message.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 60 {
		r := []rune(s)
		s = string(r[:57]) + "..."
	}
	return s
}
