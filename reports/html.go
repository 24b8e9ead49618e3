package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/reconhq/reconcile/reconcile"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// HTML writes one self-contained page: inline CSS and SVG, no scripts, no
// external assets. Every value from the data is escaped by html/template.
// Like Table, it renders changes as they arrive and prints them after the
// totals.
type HTML struct {
	w        io.Writer
	m        Meta
	rows     []diffRow
	listed   int64
	finished bool
}

// NewHTML returns an HTML report writing to w.
func NewHTML(w io.Writer, m Meta) *HTML { return &HTML{w: w, m: m} }

// Change renders one difference as table rows.
func (h *HTML) Change(c reconcile.Change) error {
	if h.finished {
		return errFinished
	}
	h.listed++
	h.rows = append(h.rows, diffRows(&c)...)
	return nil
}

// Chart geometry, in SVG user units.
const (
	chartLabelW = 150 // label column, right-aligned text
	chartBarW   = 420 // the longest bar
	chartCountW = 90  // room for the count after a bar
	chartRowH   = 24
	chartBarH   = 16
	chartMaxBar = 25 // columns shown in the column chart
)

type htmlPage struct {
	Title, Source, Target, Command string
	Failed, NoResult               bool
	Error, Headline, Class         string
	Exit                           int
	Sides                          []htmlSide
	Notes                          []string
	Key, Plan, Rules, History      string
	Summary                        []htmlCount
	Total                          string
	KindChart, ColumnChart         htmlChart
	Drift                          []htmlCount
	Schema                         reconcile.SchemaDiff
	SchemaDrifted                  bool
	Checksums                      []htmlChecksum
	Rows                           []diffRow
	Listing, More                  string
	NoCounts                       string
}

type htmlSide struct{ Label, Name, Rows, Checksum, Table, Snapshot string }

type htmlCount struct{ Label, Count string }

type htmlChecksum struct {
	Column, Source, Target string
	Differs                bool
}

type htmlChart struct {
	Bars               []htmlBar
	Width, Height      int
	LabelX, BarX, BarH int
	Omitted            string // "… and N more columns"
}

type htmlBar struct {
	Label, Title, Count string
	Y, TextY, W, CountX int
}

// chart lays out horizontal bars scaled to the largest count. It returns
// no bars when every count is zero.
func chart(labels []string, counts []int64) htmlChart {
	var top int64
	for _, n := range counts {
		top = max(top, n)
	}
	c := htmlChart{Width: chartLabelW + chartBarW + chartCountW, LabelX: chartLabelW - 6, BarX: chartLabelW, BarH: chartBarH}
	if top == 0 {
		return c
	}
	for i, n := range counts {
		w := int(float64(n) / float64(top) * chartBarW)
		if n > 0 && w < 2 {
			w = 2 // a non-zero count stays visible
		}
		y := i * chartRowH
		c.Bars = append(c.Bars, htmlBar{
			Label: truncate(labels[i], 22), Title: labels[i], Count: Thousands(n),
			Y: y + (chartRowH-chartBarH)/2, TextY: y + chartRowH/2 + 5, W: w, CountX: chartLabelW + w + 6,
		})
	}
	c.Height = len(counts) * chartRowH
	return c
}

// Finish writes the page.
func (h *HTML) Finish(res *reconcile.Result, runErr error) error {
	if h.finished {
		return errFinished
	}
	h.finished = true
	o := decide(res, runErr)
	r := o.res
	src, dst := names(h.m, r)
	p := htmlPage{
		Title:    fmt.Sprintf("Reconciliation: %s → %s", src, dst),
		Source:   src,
		Target:   dst,
		Command:  h.m.Command,
		Failed:   o.failed,
		NoResult: o.noResult,
		Error:    o.errText,
		Exit:     o.exitCode,
		Class:    o.verdict,
		Sides: []htmlSide{
			{"source", src, Thousands(r.Source.Rows), checksumText(r.Source), r.Source.Table, snapshotText(r.Source)},
			{"target", dst, Thousands(r.Target.Rows), checksumText(r.Target), r.Target.Table, snapshotText(r.Target)},
		},
		Notes:         sideNotes(r),
		Key:           strings.Join(keyColumns(h.m, r), ", "),
		Plan:          planText(r.Plan),
		Rules:         rulesText(r.Plan),
		History:       historyText(h.m.History),
		Total:         Thousands(r.Summary.Differences()),
		Schema:        r.Schema,
		SchemaDrifted: !r.Schema.Empty(),
		Rows:          h.rows,
		NoCounts:      noCounts,
	}
	if !o.failed {
		p.Headline = o.headline()
	}
	p.Summary = append(p.Summary, htmlCount{"matched", Thousands(r.Summary.Matched)})
	var labels []string
	var counts []int64
	for _, k := range reconcile.Kinds {
		p.Summary = append(p.Summary, htmlCount{k.String(), Thousands(r.Summary.Of(k))})
		labels = append(labels, k.String())
		counts = append(counts, r.Summary.Of(k))
	}
	for _, x := range extraCounts(r.Summary) {
		p.Summary = append(p.Summary, htmlCount{x[0], x[1]})
	}
	p.KindChart = chart(labels, counts)

	d := drifted(r.Columns)
	labels, counts = labels[:0], counts[:0]
	for i, c := range d {
		n := Thousands(c.Changed)
		if c.Tolerated > 0 {
			n += " (" + Thousands(c.Tolerated) + " within tolerance)"
		}
		p.Drift = append(p.Drift, htmlCount{columnLabel(c), n})
		if i < chartMaxBar {
			labels = append(labels, c.Name)
			counts = append(counts, c.Changed)
		}
	}
	p.ColumnChart = chart(labels, counts)
	if len(d) > chartMaxBar {
		p.ColumnChart.Omitted = fmt.Sprintf("… and %s more columns", Thousands(int64(len(d)-chartMaxBar)))
	}

	for _, c := range r.Source.Columns {
		row := htmlChecksum{Column: c.Name, Source: checksum(c.Checksum)}
		for _, t := range r.Target.Columns {
			if t.Name == c.Name {
				row.Target = checksum(t.Checksum)
				row.Differs = t.Checksum != c.Checksum
			}
		}
		p.Checksums = append(p.Checksums, row)
	}

	if h.listed > 0 {
		p.Listing = listing(o, h.listed)
	}
	if n := unlisted(o, h.listed); n > 0 {
		p.More = moreText(n)
	}

	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, p); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	h.rows = nil
	_, err := h.w.Write(b.Bytes())
	return err
}
