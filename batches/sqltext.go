package batches

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/sqlquote"
	"github.com/reconhq/reconcile/reconcile"
)

// batch.sql is for people: the statements apply would run, in the
// target's dialect, with every value as a safely quoted literal. apply
// never executes it; it binds the values of ops.jsonl as parameters.

var dialects = map[string]sqlquote.Dialect{
	"postgres": {Quote: '"', Fold: asciiLower},
	"mysql":    {Quote: '`'},
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func quoteTable(d sqlquote.Dialect, table string) string {
	parts, err := d.Split(table)
	if err != nil {
		return d.Ident(table)
	}
	for i, p := range parts {
		parts[i] = d.Ident(p)
	}
	return strings.Join(parts, ".")
}

// literal renders v as a SQL literal of the dialect.
func literal(dialect string, v reconcile.Value) string {
	pg := dialect == "postgres"
	str := func(s string) string {
		if pg {
			return pgString(s)
		}
		return myString(s)
	}
	switch v.Kind() {
	case "null":
		return "NULL"
	case "boolean":
		x, _ := v.Bool()
		if x {
			return "TRUE"
		}
		return "FALSE"
	case "number":
		t, _ := v.NumberText()
		switch t {
		case "NaN", "Infinity", "-Infinity":
			if pg {
				return "'" + t + "'::numeric"
			}
			return "NULL /* " + t + " */"
		}
		return t
	case "text":
		t, _ := v.Text()
		return str(t)
	case "binary":
		x, _ := v.Binary()
		if pg {
			return `'\x` + hex.EncodeToString(x) + "'::bytea"
		}
		return "X'" + hex.EncodeToString(x) + "'"
	case "timestamp":
		t, _ := v.Timestamp()
		s := t.Format("2006-01-02 15:04:05.999999")
		if pg {
			return "'" + s + "+00'::timestamptz"
		}
		return "TIMESTAMP '" + s + "'"
	case "date":
		t, _ := v.Date()
		return "DATE '" + t.Format("2006-01-02") + "'"
	case "time":
		d, _ := v.TimeOfDay()
		if pg {
			return "TIME '" + connectors.TimeOfDay(d).String() + "'"
		}
		return "'" + connectors.TimeOfDay(d).String() + "'"
	case "json":
		doc, _ := v.JSON()
		if pg {
			return pgString(string(doc)) + "::jsonb"
		}
		return "CAST(" + myString(string(doc)) + " AS JSON)"
	}
	return "NULL /* invalid value */"
}

// pgString is a PostgreSQL string literal that means the same whatever
// standard_conforming_strings says: an escape string when it holds a
// backslash or a control character.
func pgString(s string) string {
	var b strings.Builder
	esc := strings.ContainsFunc(s, func(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f })
	if esc {
		b.WriteByte('E')
	}
	b.WriteByte('\'')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\'':
			b.WriteString("''")
		case esc && r == '\\':
			b.WriteString(`\\`)
		case esc && (r < 0x20 || r == 0x7f):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// myString is a MySQL string literal, safe whatever NO_BACKSLASH_ESCAPES
// says: a hex literal when the text holds a backslash, a quote or a
// control character.
func myString(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r == '\\' || r == '\'' || r < 0x20 || r == 0x7f }) || !utf8Valid(s) {
		return "_utf8mb4 X'" + hex.EncodeToString([]byte(s)) + "'"
	}
	return "'" + s + "'"
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// writeSQL writes batch.sql.
func writeSQL(w io.Writer, m *Manifest, ops []Op) error {
	d := dialects[m.Dialect]
	table := quoteTable(d, m.Target.Table)
	nd := " IS NOT DISTINCT FROM "
	if m.Dialect == "mysql" {
		nd = " <=> "
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, "-- reconcile fix-up batch %s (job %s, target %s %s)\n", oneLine(m.ID), oneLine(m.Job), oneLine(m.Target.System), oneLine(m.Target.Table))
	fmt.Fprintf(bw, "-- for reading only: apply binds the values of ops.jsonl as parameters and never runs this file.\n")
	if m.DeletesWithheld != "" {
		fmt.Fprintf(bw, "-- %s\n", oneLine(m.DeletesWithheld))
	}
	cond := func(cells []Cell, op string) string {
		parts := make([]string, len(cells))
		for i, c := range cells {
			parts[i] = d.Ident(c.Column) + op + literal(m.Dialect, c.Value)
		}
		return strings.Join(parts, " AND ")
	}
	for i := range ops {
		op := &ops[i]
		fmt.Fprintf(bw, "-- %d %s", op.Seq, op.Kind)
		if op.Rule != "" {
			fmt.Fprintf(bw, " (rule: %s)", oneLine(op.Rule))
		}
		bw.WriteByte('\n')
		switch op.Kind {
		case connectors.OpUpdate:
			sets := make([]string, len(op.Set))
			for j, c := range op.Set {
				sets[j] = d.Ident(c.Column) + " = " + literal(m.Dialect, c.Value)
			}
			where := cond(op.Key, " = ")
			if len(op.Expect) > 0 {
				where += " AND " + cond(op.Expect, nd)
			}
			fmt.Fprintf(bw, "UPDATE %s SET %s WHERE %s;\n", table, strings.Join(sets, ", "), where)
		case connectors.OpDelete:
			where := cond(op.Key, " = ")
			if len(op.Expect) > 0 {
				where += " AND " + cond(op.Expect, nd)
			}
			fmt.Fprintf(bw, "DELETE FROM %s WHERE %s;\n", table, where)
		case connectors.OpInsert:
			cols := make([]string, len(op.Set))
			vals := make([]string, len(op.Set))
			for j, c := range op.Set {
				cols[j] = d.Ident(c.Column)
				vals[j] = literal(m.Dialect, c.Value)
			}
			if m.Dialect == "postgres" {
				fmt.Fprintf(bw, "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING;\n", table, strings.Join(cols, ", "), strings.Join(vals, ", "))
			} else {
				fmt.Fprintf(bw, "INSERT INTO %s (%s) SELECT %s FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM %s WHERE %s);\n",
					table, strings.Join(cols, ", "), strings.Join(vals, ", "), table, cond(op.Key, " = "))
			}
		}
	}
	return bw.Flush()
}

// oneLine keeps a name on its comment line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
}
