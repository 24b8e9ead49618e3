package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/file"
)

const demoSrc, demoTgt = "../../testdata/demo/billing.csv", "../../testdata/demo/crm_export.csv"

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

type jsonReport struct {
	Version     int                                `json:"version"`
	Complete    bool                               `json:"complete"`
	Verdict     string                             `json:"verdict"`
	Error       *string                            `json:"error"`
	Summary     map[string]int64                   `json:"summary"`
	Columns     map[string]struct{ Changed int64 } `json:"columns"`
	Differences []map[string]any                   `json:"differences"`
	Source      struct {
		Name     string `json:"name"`
		Table    string `json:"table"`
		Snapshot *struct {
			Time     string `json:"time"`
			Position string `json:"position"`
		} `json:"snapshot"`
		Rows     int64             `json:"rows"`
		Checksum string            `json:"checksum"`
		Columns  map[string]string `json:"columns"`
	} `json:"source"`
	Target struct {
		Rows     int64  `json:"rows"`
		Checksum string `json:"checksum"`
	} `json:"target"`
	Schema struct {
		OnlyInSource []string `json:"only_in_source"`
		OnlyInTarget []string `json:"only_in_target"`
	} `json:"schema"`
}

func decodeReport(t *testing.T, s string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, s)
	}
	return r
}

func TestDemoDiff(t *testing.T) {
	code, out, errOut := runCLI(t, "diff", demoSrc, demoTgt, "--key", "id", "--map", "plan=tier", "--format", "json")
	if code != exitDifferences {
		t.Fatalf("exit %d, want 1; stderr: %s", code, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr is not a terminal, yet something was printed there: %q", errOut)
	}
	r := decodeReport(t, out)
	want := map[string]int64{"matched": 296, "missing": 4, "extra": 3, "changed": 11, "duplicate": 1, "null_key": 0}
	for k, v := range want {
		if r.Summary[k] != v {
			t.Errorf("summary.%s = %d, want %d (summary %v)", k, r.Summary[k], v, r.Summary)
		}
	}
	if r.Columns["email"].Changed != 6 || r.Columns["mrr"].Changed != 4 || r.Columns["plan"].Changed != 1 {
		t.Errorf("column drift = %v", r.Columns)
	}
	if strings.Join(r.Schema.OnlyInTarget, ",") != "owner" || len(r.Schema.OnlyInSource) != 0 {
		t.Errorf("schema drift = %+v", r.Schema)
	}
	if r.Source.Rows != 312 || r.Target.Rows != 312 || len(r.Source.Checksum) != 16 {
		t.Errorf("side stats = %+v / %+v", r.Source, r.Target)
	}
	if r.Verdict != "differences" || !r.Complete || r.Error != nil {
		t.Errorf("verdict %q complete %v error %v", r.Verdict, r.Complete, r.Error)
	}
	var sawNumericKey bool
	for _, d := range r.Differences {
		if key, ok := d["key"].(map[string]any); ok {
			if _, isNum := key["id"].(float64); isNum {
				sawNumericKey = true
			}
		}
	}
	if !sawNumericKey || len(r.Differences) != 19 {
		t.Errorf("differences: %d listed, numeric keys %v", len(r.Differences), sawNumericKey)
	}
}

func TestSameFileIsConsistent(t *testing.T) {
	code, out, errOut := runCLI(t, "diff", demoSrc, demoSrc, "--key", "id")
	if code != exitConsistent {
		t.Fatalf("exit %d, want 0; stderr %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "consistent") {
		t.Errorf("table output lacks the verdict:\n%s", out)
	}
}

func TestFormatsAndOutputFile(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"table", "json", "markdown", "html"} {
		path := filepath.Join(dir, "report."+f)
		code, out, errOut := runCLI(t, "diff", demoSrc, demoTgt, "--key", "id", "--map", "plan=tier", "--format", f, "--output", path)
		if code != exitDifferences || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %s", f, code, out, errOut)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil || len(b) == 0 {
			t.Errorf("%s: report file: %v", f, err)
		}
	}
}

func TestColumnsAndLimit(t *testing.T) {
	// Limit and columns restrict the listing and the comparison.
	code, out, _ := runCLI(t, "diff", demoSrc, demoTgt, "--key", "id", "--map", "plan=tier", "--columns", "email", "--format", "json", "--limit", "2")
	if code != exitDifferences {
		t.Fatalf("exit %d", code)
	}
	r := decodeReport(t, out)
	if len(r.Differences) != 2 || r.Summary["changed"] != 6 {
		t.Errorf("--columns email --limit 2: %d listed, summary %v", len(r.Differences), r.Summary)
	}
}

func TestErrorsExitTwo(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"diff", "nope.csv", demoTgt, "--key", "id"}, "nope.csv"},
		{"unknown key", []string{"diff", demoSrc, demoTgt, "--key", "idx"}, "id, name, email"},
		{"no key", []string{"diff", demoSrc, demoTgt}, "--key"},
		{"unknown flag", []string{"diff", demoSrc, demoTgt, "--kee", "id"}, "unknown flag"},
		{"bad format", []string{"diff", demoSrc, demoTgt, "--key", "id", "--format", "xml"}, "--format"},
		{"one argument", []string{"diff", demoSrc}, "SOURCE and TARGET"},
		{"unknown extension", []string{"diff", "../../go.mod", demoTgt, "--key", "id"}, "format"},
		{"bad memory limit", []string{"diff", demoSrc, demoTgt, "--key", "id", "--memory-limit", "lots"}, "memory-limit"},
		{"NaN memory limit", []string{"diff", demoSrc, demoTgt, "--key", "id", "--memory-limit", "NaNMiB"}, "memory-limit"},
		{"negative query time", []string{"diff", demoSrc, demoTgt, "--key", "id", "--max-query-seconds", "-1"}, "--max-query-seconds -1: must be between 0"},
		{"NaN query time", []string{"diff", demoSrc, demoTgt, "--key", "id", "--max-query-seconds", "NaN"}, "--max-query-seconds NaN"},
		{"table of a file", []string{"diff", demoSrc, demoTgt, "--key", "id", "--source-table", "t"}, "--source-table: the source is a file"},
		{"filter on a file", []string{"diff", demoSrc, demoTgt, "--key", "id", "--where", "id > 1"}, "--where applies to both sides"},
		{"query on a file", []string{"diff", demoSrc, demoTgt, "--key", "id", "--target-query", "select 1"}, "the target is a file"},
		{"table and query", []string{"diff", "postgres://u@127.0.0.1:1/db", demoTgt, "--key", "id", "--source-table", "t", "--source-query", "select 1"}, "give one or the other"},
		{"several problems", []string{"diff", demoSrc, demoTgt, "--key", "id", "--format", "xml", "--limit", "-3"}, "2 problems:\n  - --format"},
		{"unknown scheme", []string{"diff", "oracle://u@h/db", demoTgt, "--key", "id"}, `no connector for scheme "oracle"`},
		{"password redacted", []string{"diff", "postgres://u:hunter2@127.0.0.1:1/db", demoTgt, "--table", "t"}, "u:xxxxx@127.0.0.1:1"},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, c.args...)
		if code != exitError {
			t.Errorf("%s: exit %d, want 2", c.name, code)
		}
		if !strings.Contains(errOut, c.want) {
			t.Errorf("%s: stderr %q does not mention %q", c.name, errOut, c.want)
		}
		if strings.Contains(out+errOut, "hunter2") {
			t.Errorf("%s: a password leaked:\n%s%s", c.name, out, errOut)
		}
		if strings.Contains(out, "consistent") || strings.Contains(out, "verdict: ") {
			t.Errorf("%s: printed a verdict on error:\n%s", c.name, out)
		}
	}
}

func TestMalformedInputNeverGivesVerdict(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("id,email\n1,a@x\n2,\"unterminated\n3,c@x\n"), 0o644)
	code, out, errOut := runCLI(t, "diff", demoSrc, bad, "--key", "id", "--format", "json")
	if code != exitError {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut, "bad.csv:") {
		t.Errorf("error lacks file:line: %s", errOut)
	}
	if out != "" {
		r := decodeReport(t, out)
		if r.Verdict != "error" || r.Complete {
			t.Errorf("failed run reported verdict %q complete %v", r.Verdict, r.Complete)
		}
	}
}

// toParquet converts a file to Parquet with the file connector and pqarrow,
// keeping the types the connector inferred.
func toParquet(t *testing.T, in, out string, shuffle bool) {
	t.Helper()
	ctx := context.Background()
	src, err := file.Open(ctx, in, connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r, err := src.Read(ctx, connectors.TableRef{}, connectors.ReadOptions{BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var recs []arrow.Record
	for r.Next() {
		rec := r.Record()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if shuffle {
		for i := range recs {
			j := (i * 7) % len(recs)
			recs[i], recs[j] = recs[j], recs[i]
		}
	}
	tbl := array.NewTableFromRecords(r.Schema(), recs)
	defer tbl.Release()
	for _, rec := range recs {
		rec.Release()
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pqarrow.WriteTable(tbl, f, 64, nil, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
}

func TestCSVToParquetChangesNothing(t *testing.T) {
	dir := t.TempDir()
	pq := filepath.Join(dir, "billing.parquet")
	toParquet(t, demoSrc, pq, true)
	code, out, errOut := runCLI(t, "diff", demoSrc, pq, "--key", "id", "--format", "json")
	if code != exitConsistent {
		t.Fatalf("CSV vs its Parquet copy: exit %d, stderr %s\n%s", code, errOut, out)
	}
	r := decodeReport(t, out)
	if r.Source.Checksum != r.Target.Checksum || r.Source.Rows != r.Target.Rows {
		t.Errorf("checksums %s vs %s, rows %d vs %d", r.Source.Checksum, r.Target.Checksum, r.Source.Rows, r.Target.Rows)
	}
	// The demo diff gives the same report whether the target is CSV or Parquet.
	tq := filepath.Join(dir, "crm.parquet")
	toParquet(t, demoTgt, tq, false)
	_, csvOut, _ := runCLI(t, "diff", demoSrc, demoTgt, "--key", "id", "--map", "plan=tier", "--format", "json")
	code, pqOut, errOut := runCLI(t, "diff", pq, tq, "--key", "id", "--map", "plan=tier", "--format", "json")
	if code != exitDifferences {
		t.Fatalf("Parquet demo: exit %d, stderr %s", code, errOut)
	}
	a, b := decodeReport(t, csvOut), decodeReport(t, pqOut)
	if fmt.Sprint(a.Summary) != fmt.Sprint(b.Summary) || a.Source.Checksum != b.Source.Checksum || a.Target.Checksum != b.Target.Checksum ||
		fmt.Sprint(a.Differences) != fmt.Sprint(b.Differences) {
		t.Errorf("CSV and Parquet reports differ:\n%v %s %s\n%v %s %s", a.Summary, a.Source.Checksum, a.Target.Checksum,
			b.Summary, b.Source.Checksum, b.Target.Checksum)
	}
}

// writeCSV writes n generated rows; every 97th row differs when changed is set.
func writeCSV(t *testing.T, path string, n int, changed bool, reverse bool) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,name,amount,at\n")
	for k := 0; k < n; k++ {
		i := k
		if reverse {
			i = n - 1 - k
		}
		amount := fmt.Sprintf("%d.%02d", i%1000, i%100)
		if changed && i%97 == 0 {
			amount = "0.01"
		}
		if changed && i%89 == 0 {
			continue
		}
		fmt.Fprintf(&b, "%d,\"Name, %d\",%s,2026-01-%02dT10:00:00Z\n", i, i, amount, 1+i%28)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSpillingChangesNothing(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	writeCSV(t, a, 40000, false, false)
	writeCSV(t, b, 40000, true, true) // reversed: the hash algorithm runs
	_, def, _ := runCLI(t, "diff", a, b, "--key", "id", "--format", "json")
	code, small, errOut := runCLI(t, "diff", a, b, "--key", "id", "--format", "json", "--memory-limit", "1MiB", "--temp-dir", dir)
	if code != exitDifferences {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var pd, ps struct {
		Plan struct {
			Algorithm         string `json:"algorithm"`
			SpilledPartitions int    `json:"spilled_partitions"`
		} `json:"plan"`
	}
	json.Unmarshal([]byte(def), &pd)
	json.Unmarshal([]byte(small), &ps)
	if pd.Plan.Algorithm != "hash" || pd.Plan.SpilledPartitions != 0 || ps.Plan.SpilledPartitions == 0 {
		t.Fatalf("plans: default %+v, 1MiB %+v", pd.Plan, ps.Plan)
	}
	rd, rs := decodeReport(t, def), decodeReport(t, small)
	if fmt.Sprint(rd.Summary) != fmt.Sprint(rs.Summary) || fmt.Sprint(rd.Differences) != fmt.Sprint(rs.Differences) ||
		rd.Source.Checksum != rs.Source.Checksum || rd.Target.Checksum != rs.Target.Checksum {
		t.Errorf("spilling changed the report: %v vs %v", rd.Summary, rs.Summary)
	}
	if rd.Summary["changed"] == 0 || rd.Summary["missing"] == 0 {
		t.Errorf("generated drift not found: %v", rd.Summary)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "reconcile-spill-") {
			t.Errorf("spill directory %s left behind", e.Name())
		}
	}
}

func TestHuman(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 9999: "9999", 10_000: "10k", 999_499: "999k", 999_999: "1.0M", 1_250_000: "1.2M", 9_999_999: "10M", 25_000_000: "25M"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMarkdownShowsTheCommand(t *testing.T) {
	code, out, _ := runCLI(t, "diff", demoSrc, demoTgt, "--key", "id", "--map", "plan=tier", "--format", "markdown", "--limit", "3")
	if code != exitDifferences {
		t.Fatalf("exit %d", code)
	}
	if want := "reconcile diff " + demoSrc + " " + demoTgt + " --format markdown --key id --limit 3 --map plan=tier"; !strings.Contains(out, want) {
		t.Errorf("markdown report lacks the command line %q:\n%s", want, out)
	}
}

// TestFormatFlags checks that every format flag reaches the connector: the
// same three customers in six spellings all agree with the CSV.
func TestFormatFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gz := func(name, content string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(content))
		zw.Close()
		return write(name, b.String())
	}
	base := write("base.csv", "id,name,amount,joined\n1,\"Lee, Ann\",10.50,2026-01-01\n2,Bo,,2026-02-01\n3,Cy,7,2026-03-01\n")
	cases := []struct {
		name   string
		target string
		flags  []string
	}{
		{"semicolons", write("semi.txt", "id;name;amount;joined\n1;Lee, Ann;10.5;2026-01-01\n2;Bo;;2026-02-01\n3;Cy;7.00;2026-03-01\n"),
			[]string{"--target-format", "csv", "--delimiter", ";"}},
		{"tsv", write("t.tsv", "id\tname\tamount\tjoined\n1\tLee, Ann\t10.5\t2026-01-01\n2\tBo\t\t2026-02-01\n3\tCy\t7\t2026-03-01\n"), nil},
		{"gzip", gz("g.csv.gz", "id,name,amount,joined\n3,Cy,7,2026-03-01\n2,Bo,,2026-02-01\n1,\"Lee, Ann\",10.5,2026-01-01\n"), nil},
		{"jsonl", write("j.jsonl", `{"id":1,"name":"Lee, Ann","amount":10.5,"joined":"2026-01-01"}`+"\n"+
			`{"id":2,"name":"Bo","amount":null,"joined":"2026-02-01"}`+"\n"+`{"id":3,"name":"Cy","amount":7,"joined":"2026-03-01"}`+"\n"),
			nil},
		{"ignore", write("i.csv", "id,name,amount,joined,extra\n1,\"Lee, Ann\",10.5,2026-01-01,x\n2,Bo,,2026-02-01,y\n3,Cy,7,2026-03-01,z\n"),
			[]string{"--ignore", "extra"}},
		{"type", write("ty.csv", "id,name,amount,joined\n001,\"Lee, Ann\",10.5,2026-01-01\n002,Bo,,2026-02-01\n003,Cy,7,2026-03-01\n"),
			[]string{"--type", "id=integer"}},
	}
	semiBase := write("base.ssv", strings.ReplaceAll(strings.ReplaceAll(
		"id,name,amount,joined\n1,Lee Ann,10.50,2026-01-01\n2,Bo,,2026-02-01\n3,Cy,7,2026-03-01\n", ",", ";"), "Lee Ann", "Lee, Ann"))
	for _, c := range cases {
		src, srcFlags := base, []string{}
		if c.name == "semicolons" { // --delimiter applies to both sides
			src, srcFlags = semiBase, []string{"--source-format", "csv"}
		}
		// A blank amount is NULL on every side, so NULL = NULL.
		args := append([]string{"diff", src, c.target, "--key", "id", "--null-value", "", "--format", "json"}, append(srcFlags, c.flags...)...)
		code, out, errOut := runCLI(t, args...)
		if code != exitConsistent {
			t.Errorf("%s: exit %d, stderr %s\n%s", c.name, code, errOut, out)
		}
	}
	// Without --null-value the blank is the empty string, which differs
	// from the JSON null.
	code, _, errOut := runCLI(t, "diff", base, cases[3].target, "--key", "id", "--format", "json")
	if code != exitDifferences {
		t.Errorf("blank vs null without --null-value: exit %d (%s), want 1", code, errOut)
	}
}

// --normalize applies declared normalisers on both sides before comparing;
// bad ones are refused with the accepted list.
func TestDiffNormalize(t *testing.T) {
	code, out, errOut := runCLI(t, "diff", demoSrc, demoTgt, "--key", "id", "--map", "plan=tier", "--format", "json", "--normalize", "email=trim, lower")
	if code != exitDifferences {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r := decodeReport(t, out)
	// Of the 6 email differences, 5 are case only; id 150 lost a letter.
	if r.Columns["email"].Changed != 1 || r.Columns["mrr"].Changed != 4 || !strings.Contains(out, `"email: trim, lower"`) {
		t.Errorf("email changed %d, mrr %d; want 1 and 4\n%s", r.Columns["email"].Changed, r.Columns["mrr"].Changed, out)
	}
	for _, bad := range []string{"email", "email=", "email=shout", "nosuch=lower"} {
		code, _, errOut := runCLI(t, "diff", demoSrc, demoTgt, "--key", "id", "--normalize", bad)
		if code != exitError || !strings.Contains(errOut, "normali") && !strings.Contains(errOut, "nosuch") {
			t.Errorf("--normalize %q: exit %d, %s", bad, code, errOut)
		}
	}
}
