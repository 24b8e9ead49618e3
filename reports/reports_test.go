package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
)

var update = flag.Bool("update", false, "rewrite golden files")

func num(s string) reconcile.Value {
	b, ok := reconcile.NumberFromText(nil, s)
	if !ok {
		panic("bad number " + s)
	}
	return reconcile.Value(b)
}

func integer(n int64) reconcile.Value { return reconcile.Value(reconcile.AppendInt(nil, n)) }
func text(s string) reconcile.Value   { return reconcile.Value(reconcile.AppendText(nil, s)) }
func null() reconcile.Value           { return reconcile.Value(reconcile.AppendNull(nil)) }

func fields(kv ...any) []reconcile.Field {
	var out []reconcile.Field
	for i := 0; i < len(kv); i += 2 {
		out = append(out, reconcile.Field{Name: kv[i].(string), Value: kv[i+1].(reconcile.Value)})
	}
	return out
}

// run is one report scenario: the changes handed to the writer and how the
// run ended.
type run struct {
	meta    Meta
	changes []reconcile.Change
	res     *reconcile.Result
	err     error
}

var meta = Meta{
	Source:  "billing.csv",
	Target:  "postgres://app:xxxxx@db.internal/crm?table=customers",
	Key:     []string{"id"},
	Limit:   7,
	Command: "reconcile diff billing.csv 'postgres://app:xxxxx@db.internal/crm?table=customers' --key id --limit 7 --format json",
}

func fullRun() run {
	long := strings.Repeat("0123456789", 9) // 90 characters
	changes := []reconcile.Change{
		{Kind: reconcile.Missing, Key: fields("id", integer(17)),
			Source: fields("id", integer(17), "amount", num("10.50"), "email", text("x@y.com"), "name", text("Zoë Ångström"))},
		{Kind: reconcile.Extra, Key: fields("id", integer(1201)),
			Target: fields("id", integer(1201), "amount", null(), "email", text("new@x.com"), "name", text("Bob | Builder"))},
		{Kind: reconcile.Changed, Key: fields("id", integer(5)), Columns: []string{"email", "name"},
			Source: fields("email", text("a@x.com"), "name", text("<script>alert(1)</script>")),
			Target: fields("email", text("A@x.com"), "name", text("line one\nline two"))},
		{Kind: reconcile.Changed, Key: fields("id", integer(6)), Columns: []string{"amount"},
			Source: fields("amount", num("10.5")), Target: fields("amount", num("105"))},
		{Kind: reconcile.Duplicate, Key: fields("id", integer(9)), Side: reconcile.TargetSide, Count: 2,
			Target: fields("id", integer(9), "amount", num("1"), "email", text("dup@x.com"), "name", text("Dup"))},
		{Kind: reconcile.NullKey, Key: fields("id", null()), Side: reconcile.SourceSide,
			Source: fields("id", null(), "amount", num("3"), "email", text("ghost@x.com"), "name", text("Ghost"))},
		{Kind: reconcile.Missing, Key: fields("id", integer(18)),
			Source: fields("id", integer(18), "amount", num("0"), "email", text("long@x.com"), "name", text(long))},
	}
	res := &reconcile.Result{
		Source: reconcile.SideStats{Name: "billing.csv", Rows: 1200, Checksum: 0x9f1c0a5b3e2d4c10,
			Columns: []reconcile.ColumnChecksum{{Name: "amount", Checksum: 0x1111}, {Name: "email", Checksum: 0xabcdef0123456789}, {Name: "name", Checksum: 0x42}, {Name: "status", Checksum: 7}}},
		Target: reconcile.SideStats{Name: "crm", Rows: 1195, Checksum: 0x0badc0ffee,
			Columns: []reconcile.ColumnChecksum{{Name: "amount", Checksum: 0x2222}, {Name: "email", Checksum: 0xabcdef012345678a}, {Name: "name", Checksum: 0x43}, {Name: "status", Checksum: 7}}},
		Key:      []string{"id"},
		Compared: []string{"amount", "email", "name", "status"},
		Schema: reconcile.SchemaDiff{
			OnlyInSource: []string{"legacy_flag"},
			OnlyInTarget: []string{"owner"},
			TypeMismatch: []reconcile.TypeMismatch{
				{Column: "amount", SourceType: "decimal(38,2)", TargetType: "string", Compared: true},
				{Column: "created_at", SourceType: "timestamp", TargetType: "boolean", Compared: false},
			},
		},
		Summary: reconcile.Counts{Matched: 1155, Missing: 9, Extra: 4, Changed: 31, Duplicate: 1, NullKey: 1},
		Columns: []reconcile.ColumnDrift{{Name: "amount", Target: "amount_usd", Changed: 3}, {Name: "email", Changed: 12}, {Name: "name", Changed: 20}, {Name: "status"}},
		Listed:  int64(len(changes)),
		Plan:    reconcile.PlanStats{Algorithm: "hash", Partitions: 64, Elapsed: 123456789 * time.Nanosecond},
	}
	return run{meta: meta, changes: changes, res: res}
}

func consistentRun() run {
	m := meta
	m.Limit = 0
	cols := []reconcile.ColumnChecksum{{Name: "amount", Checksum: 0x1111}, {Name: "email", Checksum: 0x2222}}
	return run{meta: m, res: &reconcile.Result{
		Source:   reconcile.SideStats{Name: "billing.csv", Rows: 1200, Checksum: 0x9f1c0a5b3e2d4c10, Columns: cols},
		Target:   reconcile.SideStats{Name: "crm", Rows: 1200, Checksum: 0x9f1c0a5b3e2d4c10, Columns: cols},
		Key:      []string{"id"},
		Compared: []string{"amount", "email"},
		Summary:  reconcile.Counts{Matched: 1200},
		Columns:  []reconcile.ColumnDrift{{Name: "amount"}, {Name: "email"}},
		Plan:     reconcile.PlanStats{Algorithm: "merge", Elapsed: 2500 * time.Millisecond},
	}}
}

func failedRun() run {
	full := fullRun()
	res := &reconcile.Result{
		Source:  reconcile.SideStats{Name: "billing.csv", Rows: 600, Checksum: 0x1234},
		Target:  reconcile.SideStats{Name: "crm", Rows: 598, Checksum: 0x5678},
		Key:     []string{"id"},
		Summary: reconcile.Counts{Matched: 596, Missing: 1, Changed: 1},
		Columns: []reconcile.ColumnDrift{{Name: "email", Changed: 1}, {Name: "name", Changed: 1}},
		Listed:  2,
		Plan:    reconcile.PlanStats{Algorithm: "merge", Elapsed: 42 * time.Millisecond},
	}
	return run{meta: meta, changes: full.changes[:3:3][1:], res: res,
		err: errors.New("read target postgres://app:xxxxx@db.internal/crm: connection reset by peer")}
}

// abortedRun is what reconcile.Diff gives on failure: some changes went to
// the sink, then the error and no Result.
func abortedRun() run {
	r := failedRun()
	r.res = nil
	r.err = errors.New("diff: context canceled")
	return r
}

// databaseRun is a consistent run between two database tables: each side
// says which table and snapshot it read, and notes how it read a column.
func databaseRun() run {
	r := consistentRun()
	r.meta.Source, r.meta.Target = "postgres://app:xxxxx@primary/shop", "postgres://app@replica/shop"
	r.res.Source.Table, r.res.Target.Table = "public.orders", "public.orders"
	r.res.Source.Snapshot = &connectors.Consistency{Time: time.Date(2026, 11, 26, 2, 0, 0, 123456000, time.UTC), Position: "0/16B3748", Snapshot: "00000003-0000001B-1"}
	r.res.Target.Snapshot = &connectors.Consistency{Time: time.Date(2026, 11, 26, 2, 0, 0, 98000, time.UTC), Position: "0/16B3740"}
	r.res.Target.Notes = []string{"column geo (point) is compared by its text output"}
	return r
}

// bisectRun is a database run whose segments were checksummed in the
// databases: the plan carries the bisect statistics.
func bisectRun() run {
	r := databaseRun()
	r.res.Source.ChecksumKind, r.res.Target.ChecksumKind = "database sums of MD5 row hashes", "database sums of MD5 row hashes"
	r.res.Plan = reconcile.PlanStats{Algorithm: "bisect",
		Elapsed: 1500 * time.Millisecond, Segments: 1230, Queries: 4, BytesReceived: 52310,
		SourceDBTime: 1200 * time.Millisecond, TargetDBTime: 1100 * time.Millisecond}
	r.res.Source.Columns, r.res.Target.Columns = nil, nil
	return r
}

// historyRun is the full run of a pair with a drift history: one listed
// difference has lasted since an earlier run.
func historyRun() run {
	r := fullRun()
	now := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	first := r.changes[0].KeyString()
	r.meta.Since = func(c *reconcile.Change) (time.Time, bool) {
		if c.KeyString() == first {
			return now.Add(-9 * 24 * time.Hour), true
		}
		return time.Time{}, false
	}
	r.meta.History = &History{Name: "billing-crm", Previous: now.Add(-24 * time.Hour), Now: now, New: 3, Ongoing: 1, Healed: 12, Oldest: now.Add(-9 * 24 * time.Hour)}
	return r
}

// rulesRun is a run with declared rules: normalisers and a tolerance
// (described in the plan), context columns handed with each change, and
// rows in flight, listed like the kind they would be.
func rulesRun() run {
	ts := func(s string) reconcile.Value {
		t, _ := time.Parse(time.RFC3339, s)
		return reconcile.Value(reconcile.AppendTimestamp(nil, t.UnixMicro()))
	}
	old, recent := ts("2026-11-25T10:00:00Z"), ts("2026-11-26T01:58:00Z")
	changes := []reconcile.Change{
		{Kind: reconcile.Changed, Key: fields("id", integer(3)), Columns: []string{"amount"},
			Source: fields("amount", num("10")), Target: fields("amount", num("11")),
			SourceContext: fields("updated_at", old), TargetContext: fields("updated_at", old)},
		{Kind: reconcile.InFlight, InFlightAs: reconcile.Missing, Key: fields("id", integer(5)),
			Source: fields("id", integer(5), "amount", num("1"), "email", text("e@x.com")), SourceContext: fields("updated_at", recent)},
		{Kind: reconcile.InFlight, InFlightAs: reconcile.Extra, Key: fields("id", integer(7)),
			Target: fields("id", integer(7), "amount", num("1"), "email", text("g@x.com")), TargetContext: fields("updated_at", recent)},
		{Kind: reconcile.InFlight, InFlightAs: reconcile.Changed, Key: fields("id", integer(8)), Columns: []string{"email"},
			Source: fields("email", text("h@x.com")), Target: fields("email", text("h2@x.com")),
			SourceContext: fields("updated_at", old), TargetContext: fields("updated_at", recent)},
	}
	cols := []reconcile.ColumnChecksum{{Name: "amount", Checksum: 0x1111}, {Name: "email", Checksum: 0x2222}}
	m := meta
	m.Limit = 0
	return run{meta: m, changes: changes, res: &reconcile.Result{
		Source:   reconcile.SideStats{Name: "billing.csv", Rows: 1200, Checksum: 0x9f1c0a5b3e2d4c10, Columns: cols},
		Target:   reconcile.SideStats{Name: "crm", Rows: 1200, Checksum: 0x9f1c0a5b3e2d4c11, Columns: cols},
		Key:      []string{"id"},
		Compared: []string{"amount", "email", "id"},
		Summary:  reconcile.Counts{Matched: 1196, Changed: 1, InFlight: 3, Tolerated: 14},
		Columns:  []reconcile.ColumnDrift{{Name: "amount", Changed: 1, Tolerated: 14}, {Name: "email"}},
		Listed:   int64(len(changes)),
		Plan: reconcile.PlanStats{Algorithm: "merge", Elapsed: 2500 * time.Millisecond,
			Note:  "segment checksums in the databases were not possible, so the table was streamed: normalisers and tolerances force the comparison after fetching (column(s) amount, email)",
			Rules: []string{"amount: abs 0.01", "email: trim, lower", "in flight: updated_at after 2026-11-26T01:50:00Z"}},
	}}
}

// inFlightRun is a run whose only differences are in flight: consistent.
func inFlightRun() run {
	r := rulesRun()
	r.changes = r.changes[1:]
	r.res.Summary = reconcile.Counts{Matched: 1197, InFlight: 3}
	r.res.Columns = []reconcile.ColumnDrift{{Name: "amount"}, {Name: "email"}}
	r.res.Plan.Rules = r.res.Plan.Rules[2:]
	r.res.Plan.Note = ""
	r.res.Listed = int64(len(r.changes))
	return r
}

var runs = map[string]func() run{"history": historyRun, "full": fullRun, "consistent": consistentRun, "failed": failedRun, "aborted": abortedRun, "database": databaseRun, "bisect": bisectRun,
	"rules": rulesRun, "inflight": inFlightRun}

// writer is what every format provides.
type writer interface {
	Change(reconcile.Change) error
	Finish(*reconcile.Result, error) error
}

var formats = map[string]func(*bytes.Buffer, Meta) writer{
	"json": func(b *bytes.Buffer, m Meta) writer { return NewJSON(b, m) },
	"txt":  func(b *bytes.Buffer, m Meta) writer { return NewTable(b, m) },
	"md":   func(b *bytes.Buffer, m Meta) writer { return NewMarkdown(b, m) },
	"html": func(b *bytes.Buffer, m Meta) writer { return NewHTML(b, m) },
}

func render(t *testing.T, format string, r run) []byte {
	t.Helper()
	var b bytes.Buffer
	w := formats[format](&b, r.meta)
	for _, c := range r.changes {
		if err := w.Change(c); err != nil {
			t.Fatalf("Change: %v", err)
		}
	}
	if err := w.Finish(r.res, r.err); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if err := w.Finish(r.res, r.err); err == nil {
		t.Errorf("second Finish: want an error")
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for name, mk := range runs {
		for format := range formats {
			t.Run(name+"."+format, func(t *testing.T) {
				got := render(t, format, mk())
				path := filepath.Join("testdata", name+"."+format+".golden")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("output differs from %s (rerun with -update to accept):\n%s", path, got)
				}
			})
		}
	}
}

type sideReport struct {
	Name     string            `json:"name"`
	Rows     int64             `json:"rows"`
	Checksum string            `json:"checksum"`
	Columns  map[string]string `json:"columns"`
}

// report mirrors the JSON contract for structural checks.
type report struct {
	Version     int    `json:"version"`
	SourceName  string `json:"source_name"`
	TargetName  string `json:"target_name"`
	Differences []struct {
		Kind    string                     `json:"kind"`
		Key     json.RawMessage            `json:"key"`
		Side    string                     `json:"side"`
		Count   int64                      `json:"count"`
		Columns []string                   `json:"columns"`
		Source  map[string]json.RawMessage `json:"source"`
		Target  map[string]json.RawMessage `json:"target"`
	} `json:"differences"`
	Source   sideReport       `json:"source"`
	Target   sideReport       `json:"target"`
	Key      []string         `json:"key"`
	Compared []string         `json:"compared"`
	Summary  reconcile.Counts `json:"summary"`
	Columns  map[string]struct {
		Changed int64  `json:"changed"`
		Target  string `json:"target"`
	} `json:"columns"`
	Schema struct {
		OnlyInSource []string `json:"only_in_source"`
		OnlyInTarget []string `json:"only_in_target"`
		TypeMismatch []struct {
			Column   string `json:"column"`
			Compared bool   `json:"compared"`
		} `json:"type_mismatch"`
	} `json:"schema"`
	Listed    int64 `json:"listed"`
	Limit     int64 `json:"limit"`
	Truncated bool  `json:"truncated"`
	Plan      struct {
		Algorithm string  `json:"algorithm"`
		Elapsed   float64 `json:"elapsed_seconds"`
	} `json:"plan"`
	Complete bool    `json:"complete"`
	Verdict  string  `json:"verdict"`
	ExitCode int     `json:"exit_code"`
	Error    *string `json:"error"`
}

func decodeReport(t *testing.T, b []byte) report {
	t.Helper()
	var r report
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decode report: %v\n%s", err, b)
	}
	return r
}

func TestJSONFull(t *testing.T) {
	r := decodeReport(t, render(t, "json", fullRun()))
	if r.Version != 1 || r.SourceName != "billing.csv" || r.Source.Name != "billing.csv" {
		t.Errorf("header: %+v", r)
	}
	if r.Verdict != "differences" || r.ExitCode != 1 || r.Error != nil || !r.Complete {
		t.Errorf("verdict: %q exit %d error %v complete %v", r.Verdict, r.ExitCode, r.Error, r.Complete)
	}
	if r.Listed != 7 || len(r.Differences) != 7 || !r.Truncated || r.Limit != 7 {
		t.Errorf("listed %d, %d differences, truncated %v, limit %d", r.Listed, len(r.Differences), r.Truncated, r.Limit)
	}
	if want := (reconcile.Counts{Matched: 1155, Missing: 9, Extra: 4, Changed: 31, Duplicate: 1, NullKey: 1}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}
	if r.Source.Checksum != "9f1c0a5b3e2d4c10" || r.Source.Columns["status"] != "0000000000000007" {
		t.Errorf("checksums: %+v", r.Source)
	}
	if c := r.Columns["amount"]; c.Changed != 3 || c.Target != "amount_usd" {
		t.Errorf("columns[amount] = %+v", c)
	}
	if len(r.Schema.TypeMismatch) != 2 || r.Schema.TypeMismatch[1].Compared || r.Schema.OnlyInTarget[0] != "owner" {
		t.Errorf("schema: %+v", r.Schema)
	}
	if r.Plan.Algorithm != "hash" || r.Plan.Elapsed != 0.123456789 {
		t.Errorf("plan: %+v", r.Plan)
	}

	d := r.Differences
	if d[0].Kind != "missing" || string(d[0].Key) != `{"id":17}` || string(d[0].Source["amount"]) != "10.5" {
		t.Errorf("missing: %s %v", d[0].Key, d[0].Source)
	}
	if d[1].Kind != "extra" || string(d[1].Target["amount"]) != "null" || string(d[1].Target["name"]) != `"Bob | Builder"` {
		t.Errorf("extra: %v", d[1].Target)
	}
	if d[2].Kind != "changed" || strings.Join(d[2].Columns, ",") != "email,name" || len(d[2].Source) != 2 {
		t.Errorf("changed: %+v", d[2])
	}
	var name string
	if err := json.Unmarshal(d[2].Target["name"], &name); err != nil || name != "line one\nline two" {
		t.Errorf("changed target name = %q (%v)", name, err)
	}
	if d[4].Kind != "duplicate" || d[4].Side != "target" || d[4].Count != 2 {
		t.Errorf("duplicate: %+v", d[4])
	}
	if d[5].Kind != "null_key" || string(d[5].Key) != `{"id":null}` || d[5].Side != "source" {
		t.Errorf("null_key: %+v", d[5])
	}
}

func TestJSONKeyOrder(t *testing.T) {
	var b bytes.Buffer
	j := NewJSON(&b, Meta{Key: []string{"z", "a"}})
	c := reconcile.Change{Kind: reconcile.Missing, Key: fields("z", text("k"), "a", integer(1)),
		Source: fields("z", text("k"), "a", integer(1), "m", num("1e3"))}
	if err := j.Change(c); err != nil {
		t.Fatal(err)
	}
	if err := j.Finish(&reconcile.Result{Key: []string{"z", "a"}, Summary: reconcile.Counts{Missing: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	if want := `{"kind":"missing","key":{"z":"k","a":1},"source":{"z":"k","a":1,"m":1000}}`; !strings.Contains(b.String(), want) {
		t.Errorf("want %s in\n%s", want, b.String())
	}
}

func TestJSONConsistent(t *testing.T) {
	out := render(t, "json", consistentRun())
	r := decodeReport(t, out)
	if r.Verdict != "consistent" || r.ExitCode != 0 || !r.Complete || r.Truncated || r.Error != nil {
		t.Errorf("verdict: %+v", r)
	}
	if r.Differences == nil || len(r.Differences) != 0 {
		t.Errorf("differences = %v, want []", r.Differences)
	}
	for _, empty := range []string{`"differences": []`, `"only_in_source": []`, `"type_mismatch": []`} {
		if !bytes.Contains(out, []byte(empty)) {
			t.Errorf("want %s in\n%s", empty, out)
		}
	}
	if bytes.Contains(out, []byte("null,")) {
		t.Errorf("a null list in\n%s", out)
	}
}

func TestJSONFailed(t *testing.T) {
	r := decodeReport(t, render(t, "json", failedRun()))
	if r.Verdict != "error" || r.ExitCode != 2 || r.Complete || r.Error == nil || !strings.Contains(*r.Error, "connection reset") {
		t.Errorf("failed run: verdict %q exit %d complete %v error %v", r.Verdict, r.ExitCode, r.Complete, r.Error)
	}
	if len(r.Differences) != 2 || r.Listed != 2 || r.Truncated {
		t.Errorf("listed %d, %d differences, truncated %v", r.Listed, len(r.Differences), r.Truncated)
	}
	if r.Summary.Matched != 596 {
		t.Errorf("partial summary not kept: %+v", r.Summary)
	}
}

// A run that fails before producing anything still yields a valid,
// schema-conforming report with no verdict; so does a missing Result with
// no error, which must never pass for a clean run.
func TestJSONNoResult(t *testing.T) {
	for _, runErr := range []error{errors.New("open source: no such file"), nil} {
		out := render(t, "json", run{meta: meta, err: runErr})
		r := decodeReport(t, out)
		if r.Verdict != "error" || r.Complete || r.Error == nil || r.ExitCode != 2 {
			t.Errorf("err %v: verdict %q complete %v error %v", runErr, r.Verdict, r.Complete, r.Error)
		}
		if r.SourceName != "billing.csv" || r.Key[0] != "id" {
			t.Errorf("meta not used: %+v", r)
		}
		checkSchema(t, out)
	}
}

func TestJSONSchemaDriftOnly(t *testing.T) {
	res := consistentRun().res
	res.Schema.OnlyInTarget = []string{"owner"}
	out := render(t, "json", run{meta: meta, res: res})
	if r := decodeReport(t, out); r.Verdict != "differences" || r.ExitCode != 1 {
		t.Errorf("schema drift only: verdict %q exit %d", r.Verdict, r.ExitCode)
	}
	checkSchema(t, out)
	txt := string(render(t, "txt", run{meta: meta, res: res}))
	if !strings.Contains(txt, "verdict: schema drift (exit 1)") {
		t.Errorf("table verdict:\n%s", txt)
	}
}

// sinkWriter records what has been written so far.
type sinkWriter struct{ bytes.Buffer }

func TestJSONStreams(t *testing.T) {
	var w sinkWriter
	j := NewJSON(&w, meta)
	r := fullRun()
	for i, c := range r.changes {
		if err := j.Change(c); err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(w.String(), `{"kind":`); got != i+1 {
			t.Fatalf("after %d changes, %d written: the report is buffering", i+1, got)
		}
	}
	if err := j.Finish(r.res, nil); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(w.Bytes()) {
		t.Errorf("invalid JSON:\n%s", w.String())
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	j := NewJSON(&failingWriter{n: 1}, meta)
	r := fullRun()
	if err := j.Change(r.changes[0]); err != nil {
		t.Fatal(err)
	}
	if err := j.Change(r.changes[1]); err == nil {
		t.Error("Change: want the write error")
	}
	if err := j.Finish(r.res, nil); err == nil {
		t.Error("Finish: want the write error")
	}
	for name, mk := range map[string]func(*failingWriter) writer{
		"table":    func(w *failingWriter) writer { return NewTable(w, meta) },
		"markdown": func(w *failingWriter) writer { return NewMarkdown(w, meta) },
		"html":     func(w *failingWriter) writer { return NewHTML(w, meta) },
	} {
		if err := mk(&failingWriter{}).Finish(r.res, nil); err == nil {
			t.Errorf("%s: Finish: want the write error", name)
		}
	}
}

func TestTable(t *testing.T) {
	out := string(render(t, "txt", fullRun()))
	for _, want := range []string{
		`- id=17  amount=10.5, email="x@y.com", name="Zoë Ångström"`,
		`+ id=1201  amount=NULL, email="new@x.com", name="Bob | Builder"`,
		`* id=5  email: "a@x.com" → "A@x.com"`,
		`* id=5  name: "<script>alert(1)</script>" → "line one\nline two"`,
		`* id=6  amount: 10.5 → 105`,
		`! id=9 appears 2× in target`,
		`? id=NULL  null key in source  amount=3, email="ghost@x.com", name="Ghost"`,
		`differences (first 7 of 46, by key)`,
		`… 39 more differences not listed (use --limit or --format json)`,
		"verdict: 46 differences, schema drift (exit 1)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	for i, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("line %d is %d runes wide: %s", i+1, n, line)
		}
	}
	if strings.Contains(out, strings.Repeat("0123456789", 7)) {
		t.Error("a long value was not truncated")
	}
	// Column drift: largest first, unchanged columns left out.
	if n, e, a := strings.Index(out, "│ name "), strings.Index(out, "│ email "), strings.Index(out, "│ amount → amount_usd "); !(n >= 0 && n < e && e < a) {
		t.Errorf("column drift order name, email, amount not found in\n%s", out)
	}
	if strings.Contains(out, "status") {
		t.Errorf("unchanged column listed:\n%s", out)
	}

	out = string(render(t, "txt", consistentRun()))
	if !strings.HasSuffix(out, "\nverdict: consistent (exit 0)\n") || strings.Contains(out, "more differences") {
		t.Errorf("consistent:\n%s", out)
	}
}

// An error is never a clean verdict, in any format.
func TestFailedHasNoVerdict(t *testing.T) {
	for name, mk := range map[string]func() run{"failed": failedRun, "aborted": abortedRun} {
		r := mk()
		for format := range formats {
			out := string(render(t, format, r))
			if _, body, ok := strings.Cut(out, "</style>"); ok {
				out = body // the stylesheet names every verdict's class
			}
			if !strings.Contains(out, r.err.Error()) {
				t.Errorf("%s.%s: error message missing:\n%s", name, format, out)
			}
			marker := "partial"
			if r.res == nil {
				marker = noCounts
			}
			if format != "json" && !strings.Contains(out, marker) {
				t.Errorf("%s.%s: counts not marked %q:\n%s", name, format, marker, out)
			}
			if r.res == nil && format != "json" && strings.Contains(out, "0000000000000000") {
				t.Errorf("%s.%s: shows checksums it does not have:\n%s", name, format, out)
			}
			for _, bad := range []string{"consistent", "verdict: ", "Verdict: ", `verdict": "differences"`, "verdict differences", "more differences not listed"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s.%s: failed run says %q:\n%s", name, format, bad, out)
				}
			}
		}
		txt := string(render(t, "txt", r))
		if want := "\nerror: " + r.err.Error() + " — no verdict (exit 2)\n"; !strings.HasSuffix(txt, want) {
			t.Errorf("%s: table verdict line:\n%s", name, txt)
		}
	}
}

func TestMarkdownEscapes(t *testing.T) {
	out := string(render(t, "md", fullRun()))
	for _, want := range []string{
		`Bob \| Builder`,
		`\<script\>alert(1)\</script\>`,
		`"line one\\nline two"`,
		"Command: `reconcile diff billing.csv 'postgres://app:xxxxx@db.internal/crm?table=customers' --key id --limit 7 --format json`",
		"**Verdict: 46 differences, schema drift** (exit 1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "<script>") {
		t.Error("unescaped HTML in markdown")
	}
	// Every row of the differences table has exactly six unescaped pipes.
	inDiffs := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "## Differences") {
			inDiffs = true
			continue
		}
		if inDiffs && strings.HasPrefix(line, "|") {
			if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != 6 {
				t.Errorf("row with %d cell boundaries: %s", n, line)
			}
		} else if inDiffs && line != "" {
			inDiffs = false
		}
	}
	if got := mdEscape("a|b\r\nc\nd"); got != `a\|b<br>c<br>d` {
		t.Errorf("mdEscape = %q", got)
	}
	if got := codeSpan("echo `x` | y"); got != "`` echo `x` \\| y ``" {
		t.Errorf("codeSpan = %q", got)
	}
}

func TestHTML(t *testing.T) {
	out := string(render(t, "html", fullRun()))
	for _, bad := range []string{"<script", "<link", "src=", "@import", "url("} {
		if strings.Contains(out, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"Zoë Ångström",
		"Bob | Builder",
		`<div class="verdict differences">Verdict: 46 differences, schema drift (exit 1)</div>`,
		"<svg", "<rect",
		"9f1c0a5b3e2d4c10",
		"… 39 more differences not listed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	// The column chart: name (20) gets the full bar, email (12) 12/20 of it.
	if !strings.Contains(out, `width="420"`) || !strings.Contains(out, `width="252"`) {
		t.Errorf("bar widths not scaled:\n%s", out)
	}

	out = string(render(t, "html", consistentRun()))
	if strings.Contains(out, "<rect") || !strings.Contains(out, "No differences.") {
		t.Errorf("consistent page should draw no bars")
	}
}

func TestChart(t *testing.T) {
	c := chart([]string{"a", "b", "c"}, []int64{0, 1, 1000000})
	if len(c.Bars) != 3 || c.Bars[0].W != 0 || c.Bars[1].W != 2 || c.Bars[2].W != chartBarW {
		t.Errorf("bars: %+v", c.Bars)
	}
	if c := chart([]string{"a"}, []int64{0}); len(c.Bars) != 0 {
		t.Errorf("zero counts: %+v", c.Bars)
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := Thousands(in); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", in, got, want)
		}
	}
	if got := truncate("Ångström", 5); got != "Ångs…" {
		t.Errorf("truncate = %q", got)
	}
	if got := truncate("abc", 3); got != "abc" {
		t.Errorf("truncate = %q", got)
	}
	if got := checksum(0xabc); got != "0000000000000abc" {
		t.Errorf("checksum = %q", got)
	}
}

// Whatever the values hold, the report stays valid JSON and every format
// renders it.
func TestOddValues(t *testing.T) {
	doc, err := reconcile.AppendJSON(nil, []byte("{\n  \"b\": [1, 2],\n  \"a\": \"x\"\n}"))
	if err != nil {
		t.Fatal(err)
	}
	row := fields(
		"id", integer(1),
		"bad_utf8", reconcile.Value(reconcile.AppendText(nil, "a\xffb")),
		"doc", reconcile.Value(doc),
		"bin", reconcile.Value(reconcile.AppendBinary(nil, []byte{0, 1, 0xfe})),
		"nan", reconcile.Value(reconcile.AppendFloat(nil, math.NaN(), 64)),
		"ts", reconcile.Value(reconcile.AppendTimestamp(nil, 1700000000123456)),
		"invalid", reconcile.Value(reconcile.AppendInvalid(nil, "overflow")),
		"empty", reconcile.Value(nil),
		"big", num("123456789012345678901234567890.000000001"),
	)
	r := run{meta: meta, changes: []reconcile.Change{{Kind: reconcile.Missing, Key: row[:1], Source: row}},
		res: &reconcile.Result{Key: []string{"id"}, Summary: reconcile.Counts{Missing: 1}}}
	out := render(t, "json", r)
	checkSchema(t, out)
	if !bytes.Contains(out, []byte(`"doc":{"a":"x","b":[1,2]}`)) || !bytes.Contains(out, []byte(`"big":123456789012345678901234567890.000000001`)) {
		t.Errorf("values not kept:\n%s", out)
	}
	for format := range formats {
		render(t, format, r)
	}
}
