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

// enclosed reports whether s keeps to the parentheses it is wrapped in:
// outside string literals, quoted identifiers, dollar quotes and comments,
// no ")" closes more than was opened and every "(" is closed. A filter such
// as "a = 1) OR (b = 2" would otherwise escape its wrapping and the
// predicates ANDed with it (key ranges, the resume point of a lost read).
func enclosed(s string) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth < 0 {
				return false
			}
		case c == '\'' || c == '"':
			// E'...' strings take backslash escapes; a doubled quote is
			// one quote in all of them.
			escapes := c == '\'' && i > 0 && (s[i-1] == 'E' || s[i-1] == 'e')
			j := i + 1
			for ; j < len(s); j++ {
				if escapes && s[j] == '\\' {
					j++
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						j++
						continue
					}
					break
				}
			}
			if j >= len(s) {
				return false
			}
			i = j
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			nest := 0
			for ; i+1 < len(s); i++ {
				if s[i] == '/' && s[i+1] == '*' {
					nest++
					i++
				} else if s[i] == '*' && s[i+1] == '/' {
					nest--
					i++
					if nest == 0 {
						break
					}
				}
			}
			if nest != 0 {
				return false
			}
		case c == '$' && (i == 0 || !identByte(s[i-1])):
			// $tag$ ... $tag$ (a $1 parameter has no closing $).
			end := strings.IndexByte(s[i+1:], '$')
			if end < 0 || !validTag(s[i+1:i+1+end]) {
				continue
			}
			tag := s[i : i+end+2]
			close := strings.Index(s[i+len(tag):], tag)
			if close < 0 {
				return false
			}
			i += len(tag) + close + len(tag) - 1
		}
	}
	return depth == 0
}

func identByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func validTag(t string) bool {
	for i := 0; i < len(t); i++ {
		if !identByte(t[i]) || i == 0 && t[i] >= '0' && t[i] <= '9' {
			return false
		}
	}
	return true
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
