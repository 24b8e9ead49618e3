package web

import (
	"fmt"

	"github.com/reconhq/reconcile/reports"
	"github.com/reconhq/reconcile/runs"
)

// chart is a drift-trend bar chart drawn as inline SVG: one bar per run,
// oldest on the left, its height the run's differences.
type chart struct {
	Width, Height int
	Bars          []bar
	Max           int64
	Empty         bool
}

type bar struct {
	X, Y, W, H float64
	Class      string // the run's outcome
	Title      string
}

// drawChart lays out runs (newest first, as the history lists them) in a
// w×h box.
func drawChart(rs []runs.Run, w, h int) chart {
	c := chart{Width: w, Height: h, Empty: len(rs) == 0}
	for _, r := range rs {
		c.Max = max(c.Max, total(r))
	}
	if len(rs) == 0 {
		return c
	}
	slot := float64(w) / float64(max(len(rs), 10))
	inner := float64(h - 2)
	for i := range rs {
		r := rs[len(rs)-1-i]
		n := total(r)
		bh := 0.0
		if c.Max > 0 {
			bh = inner * float64(n) / float64(c.Max)
		}
		// Every run shows: a clean run as a thin line, a failed one as a
		// full-height marker, so a gap is never mistaken for a clean night.
		switch r.Outcome {
		case runs.Error, runs.Cancelled, runs.Running:
			bh = inner
		default:
			bh = max(bh, 2)
		}
		title := fmt.Sprintf("%s · %s · %s differences", when(r.Started), r.Outcome, reports.Thousands(n))
		if r.Outcome == runs.Error || r.Outcome == runs.Cancelled {
			title = fmt.Sprintf("%s · %s", when(r.Started), r.Outcome)
		}
		c.Bars = append(c.Bars, bar{X: float64(i)*slot + 1, Y: float64(h) - bh - 1, W: max(slot-2, 1), H: bh, Class: string(r.Outcome), Title: title})
	}
	return c
}
