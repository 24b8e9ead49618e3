// Package reports renders the outcome of a diff: one writer per format over
// the same stream of changes and the final [reconcile.Result].
//
//   - [JSON] (--format json) is the machine contract, documented by
//     docs/report.schema.json. It streams: the object opens with the first
//     call, each change is written as it arrives, and the totals and the
//     verdict close it.
//   - [Table] (--format table) is the terminal report: summary tables,
//     column and schema drift, the listed differences with sigils
//     (- missing, + extra, * changed, ! duplicate, ? null key, ~ in flight)
//     and a verdict line that names the exit code.
//   - [Markdown] (--format markdown) is for pasting into an audit ticket.
//   - [HTML] (--format html) is one self-contained page (inline CSS and SVG
//     charts, no scripts, no external assets).
//
// Every writer has the same two methods, and no interface names them: the
// caller (cmd, or a library user) declares one if it needs it.
//
//	Change(c reconcile.Change) error              // once per listed change, in order, one goroutine
//	Finish(res *reconcile.Result, runErr error) error // once, at the end
//
// Contract:
//
//   - An error is never a clean verdict. When runErr is not nil, or res is
//     nil, every format says the run failed, shows the error, labels any
//     counts partial and gives no verdict (JSON: "verdict": "error",
//     "complete": false). Otherwise the verdict is "consistent" when
//     res.Consistent() and "differences" if not; exit codes 0, 1 and 2
//     match consistent, differences and error.
//   - The writers compute nothing about the data: counts, checksums and drift
//     come from the Result; they only format, order and escape.
//   - Declared rules show only when a run has them: a "rules" line (the
//     Result's Plan.Rules), "in flight" and "matched within tolerance"
//     counts, a per-column tolerated count, and each change in flight
//     listed like the kind it would be, marked in flight. Rows in flight
//     are listed but are not differences: a run whose only changes are in
//     flight is consistent. A run without rules renders exactly as before.
//   - Names in [Meta] are shown as given: the caller redacts passwords, in
//     runErr's message too.
//   - The text formats need the totals before the listed differences, so
//     they keep each change rendered as text until Finish; memory grows with
//     the number of listed changes, which the run's limit caps. JSON keeps
//     nothing. No writer keeps a reference to a Change after Change returns.
//   - Change and Finish return the first write error; after Finish every call
//     fails.
//
// Example:
//
//	rep := reports.NewTable(os.Stdout, reports.Meta{
//		Source: "billing.csv", Target: "crm.csv", Key: []string{"id"}, Limit: 100,
//	})
//	res, runErr := runDiff(ctx, func(c reconcile.Change) error { return rep.Change(c) })
//	if err := rep.Finish(res, runErr); err != nil {
//		return err
//	}
package reports
