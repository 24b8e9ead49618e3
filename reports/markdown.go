package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/reconhq/reconcile/reconcile"
)

// cellWidth is where the Markdown and HTML reports cut a value.
const cellWidth = 200

// Markdown writes a report to paste into an audit ticket (GitHub-flavoured
// Markdown). Like Table, it renders changes as they arrive and prints them
// after the totals.
type Markdown struct {
	w        io.Writer
	m        Meta
	rows     []string
	listed   int64
	finished bool
}

// NewMarkdown returns a Markdown report writing to w.
func NewMarkdown(w io.Writer, m Meta) *Markdown { return &Markdown{w: w, m: m} }

// Change renders one difference as table rows.
func (md *Markdown) Change(c reconcile.Change) error {
	if md.finished {
		return errFinished
	}
	md.listed++
	for _, r := range diffRows(&c) {
		md.rows = append(md.rows, "| "+strings.Join([]string{
			mdEscape(r.Kind), mdEscape(r.Key), mdEscape(r.Column), mdEscape(r.Source), mdEscape(r.Target),
		}, " | ")+" |")
	}
	return nil
}

// Finish writes the report.
func (md *Markdown) Finish(res *reconcile.Result, runErr error) error {
	if md.finished {
		return errFinished
	}
	md.finished = true
	o := decide(res, runErr)
	r := o.res
	src, dst := names(md.m, r)
	var b bytes.Buffer

	fmt.Fprintf(&b, "# Reconciliation: %s → %s\n\n", mdEscape(src), mdEscape(dst))
	if md.m.Command != "" {
		fmt.Fprintf(&b, "Command: %s\n\n", codeSpan(md.m.Command))
	}
	if o.failed {
		fmt.Fprintf(&b, "**Error: the run failed — no verdict** (exit %d)\n\n", o.exitCode)
		fmt.Fprintf(&b, "> %s\n\n", mdEscape(o.errText))
	} else {
		fmt.Fprintf(&b, "**Verdict: %s** (exit %d)\n\n", mdEscape(o.headline()), o.exitCode)
	}

	b.WriteString("| | source | target |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| name | %s | %s |\n", mdEscape(src), mdEscape(dst))
	if !o.noResult {
		fmt.Fprintf(&b, "| rows | %s | %s |\n", Thousands(r.Source.Rows), Thousands(r.Target.Rows))
		fmt.Fprintf(&b, "| checksum | %s | %s |\n", mdChecksum(r.Source), mdChecksum(r.Target))
		if r.Source.Table != "" || r.Target.Table != "" {
			fmt.Fprintf(&b, "| table | %s | %s |\n", mdEscape(r.Source.Table), mdEscape(r.Target.Table))
		}
		if ss, ts := snapshotText(r.Source), snapshotText(r.Target); ss != "" || ts != "" {
			fmt.Fprintf(&b, "| snapshot | %s | %s |\n", mdEscape(ss), mdEscape(ts))
		}
	}
	b.WriteByte('\n')
	if !o.noResult {
		if notes := sideNotes(r); len(notes) > 0 {
			for _, n := range notes {
				fmt.Fprintf(&b, "- Note: %s\n", mdEscape(n))
			}
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "Key: %s", codeList(keyColumns(md.m, r)))
	if p := planText(r.Plan); p != "" {
		fmt.Fprintf(&b, " · Plan: %s", p)
	}
	if rs := rulesText(r.Plan); rs != "" {
		fmt.Fprintf(&b, "\n\nRules: %s", mdEscape(rs))
	}
	if h := historyText(md.m.History); h != "" && !o.failed {
		fmt.Fprintf(&b, "\n\nHistory: %s", mdEscape(h))
	}
	b.WriteString("\n\n")

	if o.noResult {
		b.WriteString("## Summary\n\n" + noCounts + ".\n\n")
	} else {
		mdTotals(&b, o)
	}

	if md.listed > 0 {
		fmt.Fprintf(&b, "## Differences (%s)\n\n", listing(o, md.listed))
		b.WriteString("| kind | key | column | source | target |\n|---|---|---|---|---|\n")
		for _, row := range md.rows {
			b.WriteString(row)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	if n := unlisted(o, md.listed); n > 0 {
		fmt.Fprintf(&b, "%s\n\n", mdEscape(moreText(n)))
	}

	b.WriteString("## Verdict\n\n")
	if o.failed {
		fmt.Fprintf(&b, "**Error — no verdict** (exit %d): %s\n", o.exitCode, mdEscape(o.errText))
	} else {
		fmt.Fprintf(&b, "**%s** (exit %d)\n", mdEscape(o.headline()), o.exitCode)
	}
	md.rows = nil
	_, err := md.w.Write(b.Bytes())
	return err
}

// totals writes the summary, column drift and schema drift.
func mdTotals(b *bytes.Buffer, o outcome) {
	r := o.res
	if o.failed {
		b.WriteString("## Summary (partial: the run did not finish)\n\n")
	} else {
		b.WriteString("## Summary\n\n")
	}
	b.WriteString("| kind | count |\n|---|---:|\n")
	fmt.Fprintf(b, "| matched | %s |\n", Thousands(r.Summary.Matched))
	for _, k := range reconcile.Kinds {
		fmt.Fprintf(b, "| %s | %s |\n", k, Thousands(r.Summary.Of(k)))
	}
	for _, x := range extraCounts(r.Summary) {
		fmt.Fprintf(b, "| %s | %s |\n", x[0], x[1])
	}
	fmt.Fprintf(b, "| **differences** | **%s** |\n\n", Thousands(r.Summary.Differences()))

	if d := drifted(r.Columns); len(d) > 0 && anyTolerated(d) {
		b.WriteString("## Column drift\n\n| column | changed | within tolerance |\n|---|---:|---:|\n")
		for _, c := range d {
			fmt.Fprintf(b, "| %s | %s | %s |\n", mdEscape(columnLabel(c)), Thousands(c.Changed), Thousands(c.Tolerated))
		}
		b.WriteByte('\n')
	} else if len(d) > 0 {
		b.WriteString("## Column drift\n\n| column | changed |\n|---|---:|\n")
		for _, c := range d {
			fmt.Fprintf(b, "| %s | %s |\n", mdEscape(columnLabel(c)), Thousands(c.Changed))
		}
		b.WriteByte('\n')
	}

	if s := r.Schema; !s.Empty() {
		b.WriteString("## Schema drift\n\n")
		if len(s.OnlyInSource) > 0 {
			fmt.Fprintf(b, "- Only in source: %s\n", codeList(s.OnlyInSource))
		}
		if len(s.OnlyInTarget) > 0 {
			fmt.Fprintf(b, "- Only in target: %s\n", codeList(s.OnlyInTarget))
		}
		if len(s.TypeMismatch) > 0 {
			b.WriteString("\n| column | source type | target type | compared |\n|---|---|---|---|\n")
			for _, m := range s.TypeMismatch {
				fmt.Fprintf(b, "| %s | %s | %s | %s |\n", mdEscape(m.Column), mdEscape(m.SourceType), mdEscape(m.TargetType), yesNo(m.Compared))
			}
		}
		b.WriteByte('\n')
	}
}

// mdEscape makes s safe as inline Markdown text in a table cell: the
// characters that would start markup, HTML or a cell boundary are
// backslash-escaped and line breaks become <br>.
func mdEscape(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '&', '~', '#':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			sb.WriteString("<br>")
		case '\n':
			sb.WriteString("<br>")
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// codeSpan wraps s in a code span with a fence longer than any run of
// backticks in it. A pipe is escaped so the span may sit in a table.
func codeSpan(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", `\|`).Replace(s)
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

func codeList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = codeSpan(n)
	}
	return strings.Join(out, ", ")
}

// diffRow is one row of a differences table (Markdown and HTML): a changed
// key gives one row per column.
type diffRow struct {
	Sigil, Kind, Key, Column, Source, Target string
	Class                                    string // the kind, as a CSS class
}

func diffRows(c *reconcile.Change) []diffRow {
	if inner, ok := inFlightAs(c); ok {
		// In flight: the rows of the kind it would be, marked as in flight.
		rows := diffRows(&inner)
		for i := range rows {
			rows[i].Sigil, rows[i].Class = sigil(c.Kind), c.Kind.String()
			rows[i].Kind = c.Kind.String() + " (" + inner.Kind.String() + ")"
		}
		return rows
	}
	key := truncate(c.KeyString(), cellWidth)
	base := diffRow{Sigil: sigil(c.Kind), Kind: c.Kind.String(), Key: key, Class: c.Kind.String()}
	switch c.Kind {
	case reconcile.Changed:
		out := make([]diffRow, 0, len(c.Columns))
		for _, col := range c.Columns {
			r := base
			r.Column = col
			if v, ok := field(c.Source, col); ok {
				r.Source = shown(v, cellWidth)
			}
			if v, ok := field(c.Target, col); ok {
				r.Target = shown(v, cellWidth)
			}
			out = append(out, r)
		}
		if len(out) == 0 {
			out = append(out, base)
		}
		return out
	case reconcile.Duplicate:
		text := fmt.Sprintf("appears %d× in %s", c.Count, c.Side)
		if c.Side == reconcile.TargetSide {
			base.Target = text
		} else {
			base.Source = text
		}
		return []diffRow{base}
	}
	text := truncate(rowText(nonKey(c, sideRow(c)), cellWidth), 2*cellWidth)
	if c.Kind == reconcile.Extra || c.Side == reconcile.TargetSide {
		base.Target = text
	} else {
		base.Source = text
	}
	return []diffRow{base}
}

func sigil(k reconcile.Kind) string {
	switch k {
	case reconcile.Missing:
		return "-"
	case reconcile.Extra:
		return "+"
	case reconcile.Changed:
		return "*"
	case reconcile.Duplicate:
		return "!"
	case reconcile.NullKey:
		return "?"
	}
	return "~"
}

func mdChecksum(s reconcile.SideStats) string {
	if s.ChecksumKind == "" {
		return "`" + checksum(s.Checksum) + "`"
	}
	return "`" + checksum(s.Checksum) + "` (" + mdEscape(s.ChecksumKind) + ")"
}
