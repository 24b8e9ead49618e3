package reports

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/reconhq/reconcile/reconcile"
)

// jsonVersion is the version of the JSON report contract
// (docs/report.schema.json).
const jsonVersion = 1

// JSON writes the machine-readable report. The object opens with the first
// call; each change is written as it arrives, one per line, and the totals
// follow in Finish, which closes the object. The output is valid JSON
// whenever Finish has run, whether or not the run succeeded.
type JSON struct {
	w        io.Writer
	m        Meta
	buf      []byte
	listed   int64
	started  bool
	finished bool
	err      error // first write error, sticky
}

// NewJSON returns a JSON report writing to w.
func NewJSON(w io.Writer, m Meta) *JSON { return &JSON{w: w, m: m} }

func (j *JSON) write(b []byte) error {
	if j.err == nil {
		_, j.err = j.w.Write(b)
	}
	return j.err
}

func (j *JSON) head(b []byte) []byte {
	if j.started {
		return b
	}
	j.started = true
	b = append(b, "{\n  \"version\": "...)
	b = strconv.AppendInt(b, jsonVersion, 10)
	b = append(b, ",\n  \"source_name\": "...)
	b = appendString(b, j.m.Source)
	b = append(b, ",\n  \"target_name\": "...)
	b = appendString(b, j.m.Target)
	b = append(b, ",\n  \"differences\": ["...)
	return b
}

// Change writes one difference.
func (j *JSON) Change(c reconcile.Change) error {
	if j.finished {
		return errFinished
	}
	if j.err != nil {
		return j.err
	}
	b := j.head(j.buf[:0])
	if j.listed > 0 {
		b = append(b, ',')
	}
	b = append(b, "\n    "...)
	b = appendChange(b, &c)
	if t, ok := j.since(&c); ok {
		b = append(b[:len(b)-1], `,"since":`...)
		b = appendString(b, t.UTC().Format(time.RFC3339))
		b = append(b, '}')
	}
	j.buf = b
	j.listed++
	return j.write(b)
}

// Finish writes the totals and the verdict and closes the object. runErr,
// when not nil, marks the run failed: the verdict is "error" and the counts
// are flagged as incomplete.
func (j *JSON) Finish(res *reconcile.Result, runErr error) error {
	if j.finished {
		return errFinished
	}
	j.finished = true
	if j.err != nil {
		return j.err
	}
	o := decide(res, runErr)
	r := o.res
	m := j.m
	if m.Source == "" || m.Target == "" {
		m.Source, m.Target = names(j.m, r)
	}

	b := j.head(j.buf[:0])
	if j.listed > 0 {
		b = append(b, "\n  "...)
	}
	b = append(b, "],\n"...)

	tail := object{
		{"source", sideObject(m.Source, r.Source)},
		{"target", sideObject(m.Target, r.Target)},
		{"key", list(keyColumns(m, r))},
		{"compared", list(r.Compared)},
		{"schema", schemaObject(r.Schema)},
		{"summary", r.Summary},
		{"columns", columnsObject(r.Columns)},
		{"listed", j.listed},
		{"limit", m.Limit},
		{"truncated", !o.failed && j.listed < listable(r)},
		{"plan", planObject(r.Plan)},
		{"complete", !o.failed},
		{"verdict", o.verdict},
		{"exit_code", o.exitCode},
		{"error", errorValue(o)},
	}
	if h := j.m.History; h != nil && !o.failed {
		tail = append(tail, member{"history", historyObject(h)})
	}
	t, err := json.MarshalIndent(tail, "", "  ")
	if err != nil {
		return err
	}
	// t is "{\n  ...\n}": drop the brace that opens it; the one that
	// closes it closes the report.
	b = append(b, bytes.TrimPrefix(t, []byte("{\n"))...)
	b = append(b, '\n')
	j.buf = b
	return j.write(b)
}

func (j *JSON) since(c *reconcile.Change) (time.Time, bool) {
	if j.m.Since == nil {
		return time.Time{}, false
	}
	return j.m.Since(c)
}

func historyObject(h *History) object {
	ts := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	}
	return object{
		{"name", h.Name},
		{"previous_run", ts(h.Previous)},
		{"run", ts(h.Now)},
		{"new", h.New},
		{"ongoing", h.Ongoing},
		{"healed", h.Healed},
		{"oldest_since", ts(h.Oldest)},
	}
}

func errorValue(o outcome) any {
	if o.failed {
		return o.errText
	}
	return nil
}

func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sideObject(name string, s reconcile.SideStats) object {
	cols := make(object, 0, len(s.Columns))
	for _, c := range s.Columns {
		cols = append(cols, member{c.Name, checksum(c.Checksum)})
	}
	o := object{{"name", name}}
	if s.Table != "" {
		o = append(o, member{"table", s.Table})
	}
	if c := s.Snapshot; c != nil {
		snap := object{}
		if !c.Time.IsZero() {
			snap = append(snap, member{"time", c.Time.UTC().Format(time.RFC3339Nano)})
		}
		if c.Position != "" {
			snap = append(snap, member{"position", c.Position})
		}
		if c.Snapshot != "" {
			snap = append(snap, member{"id", c.Snapshot})
		}
		o = append(o, member{"snapshot", snap})
	}
	if len(s.Notes) > 0 {
		o = append(o, member{"notes", s.Notes})
	}
	o = append(o, member{"rows", s.Rows}, member{"checksum", checksum(s.Checksum)})
	if s.ChecksumKind != "" {
		o = append(o, member{"checksum_kind", s.ChecksumKind})
	}
	return append(o, member{"columns", cols})
}

func schemaObject(s reconcile.SchemaDiff) object {
	tm := make([]object, 0, len(s.TypeMismatch))
	for _, t := range s.TypeMismatch {
		tm = append(tm, object{
			{"column", t.Column},
			{"source_type", t.SourceType},
			{"target_type", t.TargetType},
			{"compared", t.Compared},
		})
	}
	return object{
		{"only_in_source", list(s.OnlyInSource)},
		{"only_in_target", list(s.OnlyInTarget)},
		{"type_mismatch", tm},
	}
}

func columnsObject(cols []reconcile.ColumnDrift) object {
	out := make(object, 0, len(cols))
	for _, c := range cols {
		o := object{{"changed", c.Changed}}
		if c.Target != "" && c.Target != c.Name {
			o = append(o, member{"target", c.Target})
		}
		if c.Tolerated > 0 {
			o = append(o, member{"tolerated", c.Tolerated})
		}
		out = append(out, member{c.Name, o})
	}
	return out
}

func planObject(p reconcile.PlanStats) object {
	o := object{
		{"algorithm", p.Algorithm},
		{"note", p.Note},
		{"partitions", p.Partitions},
		{"spilled_partitions", p.SpilledParts},
		{"spilled_bytes", p.SpilledBytes},
		{"elapsed_seconds", seconds(p.Elapsed)},
	}
	if len(p.Rules) > 0 {
		o = append(o, member{"rules", p.Rules})
	}
	if p.Algorithm == string(reconcile.Bisect) {
		o = append(o, member{"bisect", object{
			{"segments", p.Segments},
			{"segments_mismatched", p.SegmentsMismatched},
			{"rows_fetched", p.RowsFetched},
			{"queries", p.Queries},
			{"bytes_received", p.BytesReceived},
			{"source_db_seconds", seconds(p.SourceDBTime)},
			{"target_db_seconds", seconds(p.TargetDBTime)},
		}})
	}
	return o
}

func seconds(d time.Duration) json.Number {
	return json.Number(strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
}

// object is a JSON object that keeps its members in order.
type object []member

type member struct {
	k string
	v any
}

func (o object) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m.k)
		b = append(b, ':')
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// appendChange appends one difference as a compact JSON object.
func appendChange(b []byte, c *reconcile.Change) []byte {
	b = append(b, `{"kind":`...)
	b = appendString(b, c.Kind.String())
	b = append(b, `,"key":`...)
	b = appendFields(b, c.Key)
	if c.Side != 0 {
		b = append(b, `,"side":`...)
		b = appendString(b, c.Side.String())
	}
	if c.Kind == reconcile.Duplicate {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, c.Count, 10)
	}
	kind := c.Kind
	if kind == reconcile.InFlight {
		// Shaped like the kind it would have been.
		kind = c.InFlightAs
		b = append(b, `,"in_flight_as":`...)
		b = appendString(b, kind.String())
	}
	if kind == reconcile.Changed {
		b = append(b, `,"columns":[`...)
		for i, name := range c.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, name)
		}
		b = append(b, ']')
	}
	if kind == reconcile.Missing || kind == reconcile.Changed || len(c.Source) > 0 {
		b = append(b, `,"source":`...)
		b = appendFields(b, c.Source)
	}
	if kind == reconcile.Extra || kind == reconcile.Changed || len(c.Target) > 0 {
		b = append(b, `,"target":`...)
		b = appendFields(b, c.Target)
	}
	if len(c.SourceContext) > 0 {
		b = append(b, `,"source_context":`...)
		b = appendFields(b, c.SourceContext)
	}
	if len(c.TargetContext) > 0 {
		b = append(b, `,"target_context":`...)
		b = appendFields(b, c.TargetContext)
	}
	return append(b, '}')
}

// appendFields appends named values as a JSON object, in order.
func appendFields(b []byte, fs []reconcile.Field) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Name)
		b = append(b, ':')
		b = appendValue(b, f.Value)
	}
	return append(b, '}')
}

// appendValue appends a value with its JSON type. Anything the value cannot
// render as valid JSON (a corrupt embedded document, say) is written as its
// text, so the report stays valid.
func appendValue(b []byte, v reconcile.Value) []byte {
	j, err := v.MarshalJSON()
	if err != nil || !json.Valid(j) {
		return appendString(b, v.String())
	}
	if v.Kind() == "json" {
		// Embedded documents may be indented; keep the change on one line.
		var c bytes.Buffer
		if json.Compact(&c, j) == nil {
			return append(b, c.Bytes()...)
		}
	}
	return append(b, j...)
}

func appendString(b []byte, s string) []byte {
	j, _ := json.Marshal(s) // a string never fails to marshal
	return append(b, j...)
}
