package mysql

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/reconhq/reconcile/internal/sqlquote"
)

// dialect is MySQL's way with identifiers: backticks, and bare words kept
// as written (whether case matters is the server's lower_case_table_names).
var dialect = sqlquote.Dialect{Quote: '`', Hint: "quote names holding spaces, dots or backticks with backticks"}

// quoteIdent returns name as a backtick-quoted identifier. Every
// identifier the connector puts into SQL goes through it.
func quoteIdent(name string) string { return dialect.Ident(name) }

// tableName is a parsed, possibly database-qualified table name.
type tableName struct {
	db   string // "" means the connection's current database
	name string
}

func (n tableName) quoted() string {
	if n.db == "" {
		return quoteIdent(n.name)
	}
	return quoteIdent(n.db) + "." + quoteIdent(n.name)
}

// parseTableName splits a table name the way MySQL reads one: parts
// separated by dots, each either a backtick-quoted identifier (two backticks stand
// for a backtick) or a bare word, both kept as written (whether case
// matters is the server's lower_case_table_names). Space around a part is
// ignored. One part is a table of the current database; two are database
// and table.
func parseTableName(s string) (tableName, error) {
	parts, err := dialect.Split(s)
	if err != nil {
		return tableName{}, err
	}
	switch len(parts) {
	case 1:
		return tableName{name: parts[0]}, nil
	case 2:
		return tableName{db: parts[0], name: parts[1]}, nil
	}
	return tableName{}, fmt.Errorf("table name %q: want table or database.table, got %d parts", s, len(parts))
}

// userSQL prepares a user's Query or Where for embedding: trailing
// semicolons and space go, and a line break closes it, so a trailing
// "-- comment" or "# comment" cannot swallow the SQL the connector appends.
func userSQL(s string) string {
	s = strings.TrimRightFunc(s, func(r rune) bool { return r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	return s + "\n"
}

// shorten abbreviates SQL or a value for an error message.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 60 {
		r := []rune(s)
		s = string(r[:57]) + "..."
	}
	return s
}

// sqlBuilder writes a statement and collects the values of its
// placeholders, in order.
type sqlBuilder struct {
	strings.Builder
	args []any
}

// param writes a placeholder for v, wrapped as wrap says ("?" when empty).
func (b *sqlBuilder) param(v any, wrap string) {
	if wrap == "" {
		wrap = "?"
	}
	b.WriteString(wrap)
	b.args = append(b.args, v)
}
