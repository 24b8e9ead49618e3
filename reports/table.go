package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/reconhq/reconcile/reconcile"
)

// Widths of the terminal report: values are cut at valueWidth runes and a
// listed difference at lineWidth.
const (
	valueWidth      = 60
	lineWidth       = 100
	headerNameWidth = 45
)

// Table writes the terminal report. The header and totals need the Result,
// so changes are rendered to lines as they arrive (the engine may reuse
// their buffers) and printed after the totals by Finish; memory grows with
// the number of listed changes, which the run's limit bounds.
type Table struct {
	w        io.Writer
	m        Meta
	lines    []string
	listed   int64
	finished bool
}

// NewTable returns a terminal report writing to w.
func NewTable(w io.Writer, m Meta) *Table { return &Table{w: w, m: m} }

// Change renders one difference.
func (t *Table) Change(c reconcile.Change) error {
	if t.finished {
		return errFinished
	}
	t.listed++
	lines := changeLines(&c)
	if s := t.m.sinceText(&c); s != "" && len(lines) > 0 {
		lines[0] += "  · " + s
	}
	t.lines = append(t.lines, lines...)
	return nil
}

// changeLines renders a difference as sigil lines.
func changeLines(c *reconcile.Change) []string {
	if inner, ok := inFlightAs(c); ok {
		// In flight: shown as the kind it would be, marked "~".
		lines := changeLines(&inner)
		for i, l := range lines {
			lines[i] = "~" + strings.TrimPrefix(l, sigil(inner.Kind))
		}
		if len(lines) > 0 {
			lines[0] += "  · in flight (" + inner.Kind.String() + ")"
		}
		return lines
	}
	key := truncate(oneLine(c.KeyString()), valueWidth)
	switch c.Kind {
	case reconcile.Changed:
		out := make([]string, 0, len(c.Columns))
		for _, col := range c.Columns {
			s, d := "?", "?"
			if v, ok := field(c.Source, col); ok {
				s = shown(v, valueWidth)
			}
			if v, ok := field(c.Target, col); ok {
				d = shown(v, valueWidth)
			}
			out = append(out, fmt.Sprintf("* %s  %s: %s → %s", key, col, s, d))
		}
		if len(out) == 0 {
			out = append(out, "* "+key)
		}
		return out
	case reconcile.Duplicate:
		return []string{fmt.Sprintf("! %s appears %d× in %s", key, c.Count, c.Side)}
	}
	line := sigil(c.Kind) + " " + key
	if c.Kind == reconcile.NullKey {
		line += "  null key in " + c.Side.String()
	}
	if rest := nonKey(c, sideRow(c)); len(rest) > 0 {
		line += "  " + rowText(rest, valueWidth)
	}
	return []string{truncate(line, lineWidth)}
}

// Finish prints the header, totals, drift, the listed differences and the
// verdict line.
func (t *Table) Finish(res *reconcile.Result, runErr error) error {
	if t.finished {
		return errFinished
	}
	t.finished = true
	o := decide(res, runErr)
	r := o.res
	src, dst := names(t.m, r)
	var b bytes.Buffer

	// Header: one aligned line per side when the names are short; else the name on
	// a line of its own.
	src, dst = truncate(oneLine(src), lineWidth-8), truncate(oneLine(dst), lineWidth-8)
	nameW := max(utf8.RuneCountInString(src), utf8.RuneCountInString(dst))
	rowsW := max(len(Thousands(r.Source.Rows)), len(Thousands(r.Target.Rows)))
	side := func(label, name string, s reconcile.SideStats) {
		if o.noResult {
			fmt.Fprintf(&b, "%s  %s\n", label, name)
			return
		}
		if nameW > headerNameWidth {
			fmt.Fprintf(&b, "%s  %s\n        ", label, name)
		} else {
			fmt.Fprintf(&b, "%s  %s  ", label, name+strings.Repeat(" ", nameW-utf8.RuneCountInString(name)))
		}
		fmt.Fprintf(&b, "%*s rows  checksum %s\n", rowsW, Thousands(s.Rows), checksumText(s))
		var facts []string
		if s.Table != "" {
			facts = append(facts, "table "+oneLine(s.Table))
		}
		if snap := snapshotText(s); snap != "" {
			facts = append(facts, "snapshot "+snap)
		}
		if len(facts) > 0 {
			fmt.Fprintf(&b, "        %s\n", strings.Join(facts, " · "))
		}
	}
	side("source", src, r.Source)
	side("target", dst, r.Target)
	fmt.Fprintf(&b, "key     %s\n", strings.Join(keyColumns(t.m, r), ", "))
	if p := planText(r.Plan); p != "" {
		fmt.Fprintf(&b, "plan    %s\n", p)
	}
	if rs := rulesText(r.Plan); rs != "" {
		fmt.Fprintf(&b, "rules   %s\n", oneLine(rs))
	}
	if h := historyText(t.m.History); h != "" && !o.failed {
		fmt.Fprintf(&b, "history %s\n", oneLine(h))
	}
	if !o.noResult {
		for _, n := range sideNotes(r) {
			fmt.Fprintf(&b, "note    %s\n", oneLine(n))
		}
	}

	if o.noResult {
		b.WriteString("\n" + noCounts + "\n")
	} else if err := tableTotals(&b, o); err != nil {
		return err
	}

	// Differences.
	if t.listed > 0 {
		fmt.Fprintf(&b, "\ndifferences (%s)\n", listing(o, t.listed))
		for _, l := range t.lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	if n := unlisted(o, t.listed); n > 0 {
		if t.listed == 0 {
			b.WriteByte('\n')
		}
		b.WriteString(moreText(n))
		b.WriteByte('\n')
	}

	// Verdict.
	b.WriteByte('\n')
	if o.failed {
		fmt.Fprintf(&b, "%s (exit %d)\n", o.headline(), o.exitCode)
	} else {
		fmt.Fprintf(&b, "verdict: %s (exit %d)\n", o.headline(), o.exitCode)
	}
	t.lines = nil
	_, err := t.w.Write(b.Bytes())
	return err
}

// tableTotals writes the summary, column drift and schema drift.
func tableTotals(b *bytes.Buffer, o outcome) error {
	r := o.res
	b.WriteByte('\n')
	if o.failed {
		b.WriteString("summary (partial: the run did not finish)\n")
	} else {
		b.WriteString("summary\n")
	}
	rows := [][]string{{"matched", Thousands(r.Summary.Matched)}}
	for _, k := range reconcile.Kinds {
		rows = append(rows, []string{k.String(), Thousands(r.Summary.Of(k))})
	}
	for _, x := range extraCounts(r.Summary) {
		rows = append(rows, x[:])
	}
	if err := renderTable(b, []string{"kind", "count"}, rows, []string{"differences", Thousands(r.Summary.Differences())}, 1); err != nil {
		return err
	}

	// Column drift.
	if d := drifted(r.Columns); len(d) > 0 {
		b.WriteString("\ncolumn drift\n")
		rows = rows[:0]
		tol := anyTolerated(d)
		for _, c := range d {
			row := []string{truncate(columnLabel(c), valueWidth), Thousands(c.Changed)}
			if tol {
				row = append(row, Thousands(c.Tolerated))
			}
			rows = append(rows, row)
		}
		header, right := []string{"column", "changed"}, []int{1}
		if tol {
			header, right = append(header, "within tolerance"), append(right, 2)
		}
		if err := renderTable(b, header, rows, nil, right...); err != nil {
			return err
		}
	}

	// Schema drift.
	if s := r.Schema; !s.Empty() {
		b.WriteString("\nschema drift\n")
		if len(s.OnlyInSource) > 0 {
			fmt.Fprintf(b, "  only in source: %s\n", strings.Join(s.OnlyInSource, ", "))
		}
		if len(s.OnlyInTarget) > 0 {
			fmt.Fprintf(b, "  only in target: %s\n", strings.Join(s.OnlyInTarget, ", "))
		}
		if len(s.TypeMismatch) > 0 {
			rows = rows[:0]
			for _, m := range s.TypeMismatch {
				rows = append(rows, []string{m.Column, m.SourceType, m.TargetType, yesNo(m.Compared)})
			}
			if err := renderTable(b, []string{"column", "source type", "target type", "compared"}, rows, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// renderTable draws a boxed table; the columns listed in right are right
// aligned (counts).
func renderTable(w io.Writer, header []string, rows [][]string, footer []string, right ...int) error {
	align := make([]tw.Align, len(header))
	for i := range align {
		align[i] = tw.AlignLeft
	}
	for _, i := range right {
		align[i] = tw.AlignRight
	}
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithFooterAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithFooterAlignmentConfig(tw.CellAlignment{PerColumn: align}),
	}
	t := tablewriter.NewTable(w, opts...)
	t.Header(header)
	if err := t.Bulk(rows); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if footer != nil {
		t.Footer(footer)
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	return nil
}
