package reports

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reconhq/reconcile/reconcile"
)

// Meta is what a report knows before the run starts.
type Meta struct {
	// Source and Target are the display names of the two inputs, with any
	// password already redacted.
	Source, Target string
	// Key names the key columns.
	Key []string
	// Limit is the cap on listed differences the run used (0 = none).
	Limit int64
	// Command is the command line, shown in the Markdown and HTML headers.
	// Optional.
	Command string
	// Since, when set, says since when a listed difference has lasted: the
	// first time an earlier run of a drift history saw it. Optional.
	Since func(*reconcile.Change) (time.Time, bool)
	// History, when set (it may be set after the run, before Finish), is
	// what this run changed in its drift history. Optional.
	History *History
}

// History summarises a run's drift history: differences first seen now,
// still there since an earlier run, and healed since the previous run.
type History struct {
	Name     string
	Previous time.Time // the previous run; zero for the first
	Now      time.Time
	New      int64
	Ongoing  int64
	Healed   int64
	// Oldest is when the longest-lasting difference was first seen.
	Oldest time.Time
}

// historyText renders a history summary in one line.
func historyText(h *History) string {
	if h == nil || h.Now.IsZero() {
		return ""
	}
	if h.Previous.IsZero() {
		return fmt.Sprintf("%s: first run recorded, %s difference(s)", h.Name, Thousands(h.New))
	}
	parts := []string{fmt.Sprintf("%s new", Thousands(h.New))}
	if h.Ongoing > 0 {
		parts = append(parts, fmt.Sprintf("%s ongoing, the oldest for %s (since %s)", Thousands(h.Ongoing), age(h.Now.Sub(h.Oldest)), h.Oldest.UTC().Format("2006-01-02 15:04Z")))
	} else {
		parts = append(parts, "0 ongoing")
	}
	parts = append(parts, fmt.Sprintf("%s healed since the previous run (%s)", Thousands(h.Healed), h.Previous.UTC().Format("2006-01-02 15:04Z")))
	return h.Name + ": " + strings.Join(parts, " · ")
}

// sinceText says how long a difference has lasted, "" if not known.
func (m *Meta) sinceText(c *reconcile.Change) string {
	if m.Since == nil {
		return ""
	}
	t, ok := m.Since(c)
	if !ok {
		return ""
	}
	now := time.Now()
	if m.History != nil && !m.History.Now.IsZero() {
		now = m.History.Now
	}
	day := "2006-01-02"
	if now.Sub(t) < 48*time.Hour {
		day = "2006-01-02 15:04Z"
	}
	return fmt.Sprintf("diverged for %s (since %s)", age(now.Sub(t)), t.UTC().Format(day))
}

// age renders a duration in whole days, or hours under two days.
func age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	}
	return "under 2 minutes"
}

// Verdicts, as the JSON report spells them.
const (
	verdictConsistent  = "consistent"
	verdictDifferences = "differences"
	verdictError       = "error"
)

// errNoResult stands in for a missing Result on a run that reported no error:
// without counts there is no verdict to give.
var errNoResult = errors.New("reports: the run produced no result")

// errFinished is returned by Change and Finish after Finish.
var errFinished = errors.New("reports: report already finished")

// outcome is the verdict of a run, shared by every format.
type outcome struct {
	res      *reconcile.Result // never nil: a zero Result when the run gave none
	noResult bool              // the run gave no Result: there are no counts at all
	failed   bool
	errText  string
	verdict  string
	exitCode int
}

func decide(res *reconcile.Result, runErr error) outcome {
	if res == nil && runErr == nil {
		runErr = errNoResult
	}
	o := outcome{res: res}
	if o.res == nil {
		o.res, o.noResult = &reconcile.Result{}, true
	}
	switch {
	case runErr != nil:
		o.failed, o.errText, o.verdict, o.exitCode = true, runErr.Error(), verdictError, 2
	case o.res.Consistent():
		o.verdict, o.exitCode = verdictConsistent, 0
	default:
		o.verdict, o.exitCode = verdictDifferences, 1
	}
	return o
}

// headline is the verdict in words, without the exit code.
func (o outcome) headline() string {
	if o.failed {
		return "error: " + o.errText + " — no verdict"
	}
	if o.verdict == verdictConsistent {
		return "consistent"
	}
	n := o.res.Summary.Differences()
	switch {
	case n == 0:
		return "schema drift"
	case o.res.Schema.Drifted():
		return plural(n, "difference") + ", schema drift"
	}
	return plural(n, "difference")
}

// names picks the display names: Meta's (redacted) first, the Result's as a
// fallback.
func names(m Meta, res *reconcile.Result) (src, dst string) {
	src, dst = m.Source, m.Target
	if src == "" {
		src = res.Source.Name
	}
	if dst == "" {
		dst = res.Target.Name
	}
	return src, dst
}

// snapshotText renders the point in time a side was read at, or "".
func snapshotText(s reconcile.SideStats) string {
	c := s.Snapshot
	if c == nil {
		return ""
	}
	var parts []string
	if !c.Time.IsZero() {
		parts = append(parts, c.Time.UTC().Format("2006-01-02T15:04:05.000000Z"))
	}
	if c.Position != "" {
		parts = append(parts, "log position "+c.Position)
	}
	if len(parts) == 0 && c.Snapshot != "" {
		parts = append(parts, c.Snapshot)
	}
	return strings.Join(parts, ", ")
}

// sideNotes lists both sides' notes, each prefixed with its side.
func sideNotes(r *reconcile.Result) []string {
	var out []string
	for _, n := range r.Source.Notes {
		out = append(out, "source: "+n)
	}
	for _, n := range r.Target.Notes {
		out = append(out, "target: "+n)
	}
	return out
}

func keyColumns(m Meta, res *reconcile.Result) []string {
	if len(res.Key) > 0 {
		return res.Key
	}
	return m.Key
}

// drifted returns the columns with at least one change, largest count first,
// then by name.
func drifted(cols []reconcile.ColumnDrift) []reconcile.ColumnDrift {
	var out []reconcile.ColumnDrift
	for _, c := range cols {
		if c.Changed > 0 || c.Tolerated > 0 {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b reconcile.ColumnDrift) int {
		if a.Changed != b.Changed {
			if a.Changed > b.Changed {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// columnLabel names a drifted column, with its target name when mapped.
func columnLabel(c reconcile.ColumnDrift) string {
	if c.Target != "" && c.Target != c.Name {
		return c.Name + " → " + c.Target
	}
	return c.Name
}

func checksum(v uint64) string { return fmt.Sprintf("%016x", v) }

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n-1 {
			return s[:k] + "…"
		}
		i++
	}
	return s
}

// oneLine replaces line breaks and tabs so that s fits on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}

// shown renders a value for people: numbers, booleans and NULL bare,
// everything else quoted, cut at max runes.
func shown(v reconcile.Value, max int) string {
	switch v.Kind() {
	case "null", "number", "boolean":
		return v.String()
	}
	return strconv.Quote(truncate(v.String(), max))
}

// field finds a named value.
func field(fs []reconcile.Field, name string) (reconcile.Value, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// nonKey returns the fields of a row that are not key columns.
func nonKey(c *reconcile.Change, row []reconcile.Field) []reconcile.Field {
	out := make([]reconcile.Field, 0, len(row))
	for _, f := range row {
		if _, isKey := field(c.Key, f.Name); !isKey {
			out = append(out, f)
		}
	}
	return out
}

// sideRow returns the row a change carries for the side it concerns.
func sideRow(c *reconcile.Change) []reconcile.Field {
	switch {
	case c.Kind == reconcile.Extra, c.Side == reconcile.TargetSide:
		return c.Target
	}
	return c.Source
}

// rowText renders row values as `a=1, b="x"`.
func rowText(fs []reconcile.Field, max int) string {
	var sb strings.Builder
	for i, f := range fs {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(f.Name)
		sb.WriteByte('=')
		sb.WriteString(shown(f.Value, max))
	}
	return sb.String()
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return Thousands(n) + " " + word + "s"
}

// checksumText is a side's checksum, with its kind when it is not the
// engine's own.
func checksumText(s reconcile.SideStats) string {
	if s.ChecksumKind == "" {
		return checksum(s.Checksum)
	}
	return checksum(s.Checksum) + " (" + s.ChecksumKind + ")"
}

func queries(n int64) string {
	if n == 1 {
		return "1 query"
	}
	return Thousands(n) + " queries"
}

// Thousands formats n with comma separators (1,234,567).
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			sb.WriteByte(',')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

func elapsed(d time.Duration) string {
	if d >= time.Second {
		d = d.Round(10 * time.Millisecond)
	} else {
		d = d.Round(time.Millisecond)
	}
	return d.String()
}

// planText describes how the diff ran, on one line.
func planText(p reconcile.PlanStats) string {
	if p.Algorithm == "" {
		return ""
	}
	parts := []string{p.Algorithm}
	if p.Partitions > 0 {
		parts = append(parts, plural(int64(p.Partitions), "partition"))
	}
	if p.SpilledParts > 0 || p.SpilledBytes > 0 {
		parts = append(parts, fmt.Sprintf("%d spilled (%s bytes)", p.SpilledParts, Thousands(p.SpilledBytes)))
	}
	if p.Algorithm == string(reconcile.Bisect) {
		parts = append(parts, fmt.Sprintf("%s checksummed, %s differing, %s read, %s, %s received, checksum time %s source / %s target",
			plural(p.Segments, "segment"), Thousands(p.SegmentsMismatched), plural(p.RowsFetched, "row"), queries(p.Queries),
			plural(p.BytesReceived, "byte"), elapsed(p.SourceDBTime), elapsed(p.TargetDBTime)))
	}
	parts = append(parts, elapsed(p.Elapsed))
	if p.Note != "" {
		parts = append(parts, p.Note)
	}
	return strings.Join(parts, " · ")
}

// listing describes how many differences were listed, for text formats.
func listing(o outcome, listed int64) string {
	total := listable(o.res)
	switch {
	case o.failed:
		return fmt.Sprintf("%s listed before the run stopped", plural(listed, "difference"))
	case listed < total:
		return fmt.Sprintf("first %s of %s, by key", Thousands(listed), Thousands(total))
	}
	return "all " + Thousands(listed) + ", by key"
}

// noCounts says why a failed run shows no totals.
const noCounts = "no counts: the run stopped before it produced any"

// unlisted is the number of differences found but not listed, or 0 on a
// failed run (whose totals are partial).
func unlisted(o outcome, listed int64) int64 {
	if o.failed {
		return 0
	}
	return max(listable(o.res)-listed, 0)
}

// listable is the number of changes a run may list: its differences and
// the rows in flight, which are listed but are not differences.
func listable(r *reconcile.Result) int64 { return r.Summary.Differences() + r.Summary.InFlight }

// rulesText lists the declared rules the run applied, on one line.
func rulesText(p reconcile.PlanStats) string { return strings.Join(p.Rules, "; ") }

// extraCounts are the summary rows a run with declared rules adds, each
// only when not zero: rows in flight (not differences) and matched rows
// matched within tolerances.
func extraCounts(c reconcile.Counts) [][2]string {
	var out [][2]string
	if c.InFlight > 0 {
		out = append(out, [2]string{"in flight (not drift)", Thousands(c.InFlight)})
	}
	if c.Tolerated > 0 {
		out = append(out, [2]string{"matched within tolerance", Thousands(c.Tolerated)})
	}
	return out
}

// inFlightAs is a change in flight as the kind it would have been, for
// rendering; ok is false for any other change.
func inFlightAs(c *reconcile.Change) (reconcile.Change, bool) {
	if c.Kind != reconcile.InFlight {
		return reconcile.Change{}, false
	}
	inner := *c
	inner.Kind = c.InFlightAs
	return inner, true
}

func moreText(n int64) string {
	word := "differences"
	if n == 1 {
		word = "difference"
	}
	return fmt.Sprintf("… %s more %s not listed (use --limit or --format json)", Thousands(n), word)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// anyTolerated reports whether a column had values within its tolerance.
func anyTolerated(cols []reconcile.ColumnDrift) bool {
	for _, c := range cols {
		if c.Tolerated > 0 {
			return true
		}
	}
	return false
}
