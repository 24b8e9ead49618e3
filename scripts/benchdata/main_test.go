package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

func readCSV(t *testing.T, path string) (header []string, byID map[string][]string, order []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	byID = make(map[string][]string, len(recs))
	for _, r := range recs[1:] {
		if _, dup := byID[r[0]]; dup {
			t.Fatalf("%s: duplicate id %s", path, r[0])
		}
		byID[r[0]] = r
		order = append(order, r[0])
	}
	return recs[0], byID, order
}

func TestGenerateMatchesExpected(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		dir := t.TempDir()
		cfg := Config{Rows: 6000, Drift: 0.03, Seed: 7, Out: dir, Format: "both", ShuffleTarget: shuffle,
			Compression: "snappy", RowGroup: 1000}
		exp, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if exp.Missing != 60 || exp.Extra != 60 || exp.Changed != 60 || exp.ChangedEmail+exp.ChangedAmount != 60 {
			t.Fatalf("expected counts %+v", exp)
		}
		hdr, src, srcOrder := readCSV(t, filepath.Join(dir, "source.csv"))
		wantHdr := []string{"id", "name", "email", "amount", "qty", "created_at", "signup_date", "active"}
		if !slices.Equal(hdr, wantHdr) {
			t.Fatalf("header %q", hdr)
		}
		_, tgt, tgtOrder := readCSV(t, filepath.Join(dir, "target.csv"))
		if len(src) != exp.Rows || len(tgt) != exp.TargetRows {
			t.Fatalf("rows: source %d target %d, expected %+v", len(src), len(tgt), exp)
		}
		var missing, extra, changed, quoted, micros int
		for id, s := range src {
			tr, ok := tgt[id]
			if !ok {
				missing++
				continue
			}
			var diff []int
			for c := 1; c < len(s); c++ {
				if s[c] != tr[c] {
					diff = append(diff, c)
				}
			}
			if len(diff) > 0 {
				changed++
				if len(diff) != 1 || (diff[0] != 2 && diff[0] != 3) {
					t.Fatalf("id %s: changed columns %v, want only email or amount", id, diff)
				}
			}
		}
		for id := range tgt {
			if _, ok := src[id]; !ok {
				extra++
			}
		}
		for _, s := range src {
			if bytes.ContainsAny([]byte(s[1]), `,"`) {
				quoted++
			}
			if len(s[5]) > len("2026-01-02T03:04:05Z") {
				micros++
			}
		}
		if missing != exp.Missing || extra != exp.Extra || changed != exp.Changed {
			t.Fatalf("shuffle=%v: got missing=%d extra=%d changed=%d, expected %+v", shuffle, missing, extra, changed, exp)
		}
		if quoted == 0 || micros == 0 {
			t.Fatalf("no names needing CSV quotes (%d) or no timestamps with microseconds (%d)", quoted, micros)
		}
		if !slices.IsSortedFunc(srcOrder, cmpNumeric) {
			t.Fatal("source not in id order")
		}
		if got := slices.IsSortedFunc(tgtOrder, cmpNumeric); got == shuffle {
			t.Fatalf("shuffle=%v but target sorted=%v", shuffle, got)
		}

		// Parquet: the same rows, with the declared types.
		for _, side := range []struct {
			name string
			rows map[string][]string
		}{{"source", src}, {"target", tgt}} {
			checkParquet(t, filepath.Join(dir, side.name+".parquet"), side.rows)
		}
	}
}

func cmpNumeric(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func checkParquet(t *testing.T, path string, want map[string][]string) {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	if rdr.NumRowGroups() < 2 {
		t.Fatalf("%s: %d row groups, want several", path, rdr.NumRowGroups())
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var fields, wantFields []string
	for _, f := range tbl.Schema().Fields() {
		fields = append(fields, f.Name+" "+f.Type.String())
	}
	for _, f := range Schema.Fields() {
		wantFields = append(wantFields, f.Name+" "+f.Type.String())
	}
	if !slices.Equal(fields, wantFields) {
		t.Fatalf("%s: schema\n%s\nwant\n%s", path, tbl.Schema(), Schema)
	}
	if int(tbl.NumRows()) != len(want) {
		t.Fatalf("%s: %d rows, want %d", path, tbl.NumRows(), len(want))
	}
	tr := array.NewTableReader(tbl, 4096)
	defer tr.Release()
	for tr.Next() {
		rec := tr.Record()
		ids := rec.Column(0).(*array.Int64)
		names := rec.Column(1).(*array.String)
		emails := rec.Column(2).(*array.String)
		amounts := rec.Column(3).(*array.Decimal128)
		created := rec.Column(5).(*array.Timestamp)
		dates := rec.Column(6).(*array.Date32)
		for i := 0; i < int(rec.NumRows()); i++ {
			// Within int64, a decimal128's low 64 bits are the two's complement value.
			x := row{id: ids.Value(i), cents: int64(amounts.Value(i).LowBits()), created: int64(created.Value(i)),
				signup: int32(dates.Value(i))}
			w, ok := want[strconv.FormatInt(x.id, 10)]
			if !ok {
				t.Fatalf("%s: id %d not in the CSV", path, x.id)
			}
			got := []string{names.Value(i), emails.Value(i), string(appendAmount(nil, x.cents)),
				string(appendTimestamp(nil, x.created)), string(appendDate(nil, int64(x.signup)))}
			if wantv := []string{w[1], w[2], w[3], w[5], w[6]}; !slices.Equal(got, wantv) {
				t.Fatalf("%s: id %d: parquet %q, csv %q", path, x.id, got, wantv)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if _, err := Generate(Config{Rows: 3000, Drift: 0.01, Seed: 1, Out: dir, Format: "csv"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"source.csv", "target.csv", "expected.json"} {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Fatalf("%s differs between two runs with the same seed", name)
		}
	}
	// Another drift or a shuffled target leaves the source as it was.
	c := t.TempDir()
	if _, err := Generate(Config{Rows: 3000, Drift: 0.2, Seed: 1, Out: c, Format: "csv", ShuffleTarget: true}); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(filepath.Join(a, "source.csv"))
	y, _ := os.ReadFile(filepath.Join(c, "source.csv"))
	if !bytes.Equal(x, y) {
		t.Fatal("source depends on -drift or -shuffle-target")
	}
}

func TestCivil(t *testing.T) {
	for _, tc := range []struct {
		days int64
		y    int64
		m, d int
	}{{0, 1970, 1, 1}, {epoch2015, 2015, 1, 1}, {epoch2026, 2026, 1, 1}, {11016, 2000, 2, 29}, {19782, 2024, 2, 29}, {20453, 2025, 12, 31}} {
		if y, m, d := civil(tc.days); y != tc.y || m != tc.m || d != tc.d {
			t.Errorf("civil(%d) = %d-%d-%d, want %d-%d-%d", tc.days, y, m, d, tc.y, tc.m, tc.d)
		}
	}
	if got := string(appendTimestamp(nil, 1767323045*1_000_000+120)); got != "2026-01-02T03:04:05.000120Z" {
		t.Errorf("appendTimestamp = %s", got)
	}
}
