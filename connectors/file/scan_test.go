package file

import (
	"bytes"
	"context"
	"encoding/csv"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// scanAll tokenizes data with a read buffer of bufSize bytes, one record
// at a time.
func scanAll(t *testing.T, data string, bufSize int) [][]string {
	t.Helper()
	sc := newCSVScanner(context.Background(), strings.NewReader(data), "x.csv", ',', bufSize)
	sc.skipBOM()
	var out [][]string
	for sc.nextChunk(1, -1) > 0 {
		rec := make([]string, len(sc.spans))
		for i, sp := range sc.spans {
			rec[i] = string(sc.text(sp))
		}
		out = append(out, rec)
	}
	if sc.err != nil {
		t.Fatalf("scan: %v\ninput %q", sc.err, data)
	}
	return out
}

// TestScannerMatchesEncodingCSV compares the tokenizer with encoding/csv
// on random valid CSV, with read buffers small enough to cut records at
// every position.
func TestScannerMatchesEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "b", "1", " ", ",", `"`, "\n", "é", "日本", "-", "."}
	for iter := 0; iter < 300; iter++ {
		var b strings.Builder
		nrec := 1 + rng.Intn(20)
		for r := 0; r < nrec; r++ {
			nf := 2 + rng.Intn(5)
			for f := 0; f < nf; f++ {
				if f > 0 {
					b.WriteByte(',')
				}
				var v strings.Builder
				for n := rng.Intn(12); n > 0; n-- {
					v.WriteString(alphabet[rng.Intn(len(alphabet))])
				}
				s := v.String()
				if strings.ContainsAny(s, ",\"\n") || rng.Intn(4) == 0 {
					b.WriteString(`"` + strings.ReplaceAll(s, `"`, `""`) + `"`)
				} else {
					b.WriteString(s)
				}
			}
			if r < nrec-1 || rng.Intn(2) == 0 {
				if rng.Intn(3) == 0 {
					b.WriteString("\r\n")
				} else {
					b.WriteString("\n")
				}
			}
		}
		data := b.String()
		cr := csv.NewReader(strings.NewReader(data))
		cr.FieldsPerRecord = -1
		want, err := cr.ReadAll()
		if err != nil {
			t.Fatalf("encoding/csv: %v on %q", err, data)
		}
		for _, size := range []int{1, 7, 16, 64, 1 << 20} {
			got := scanAll(t, data, size)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("buffer %d: input %q\ngot  %q\nwant %q", size, data, got, want)
			}
		}
	}
}

// TestScannerLongRecords crosses buffer growth and the fast path's word
// loads near the end of the buffer.
func TestScannerLongRecords(t *testing.T) {
	long := strings.Repeat("x", 5000)
	data := "a,b\n" + long + ",1\n2," + long + "\n\"" + long + "\",3\n"
	got := scanAll(t, data, 64)
	want := [][]string{{"a", "b"}, {long, "1"}, {"2", long}, {long, "3"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("long records differ")
	}
}

func TestScannerLineNumbers(t *testing.T) {
	data := "h1,h2\n\"a\nb\",1\n\"c\r\nd\ne\",2\nx,3\n"
	sc := newCSVScanner(context.Background(), strings.NewReader(data), "x.csv", ',', 16)
	var lines []int32
	for n := sc.nextChunk(chunkRows, 2); n > 0; n = sc.nextChunk(chunkRows, 2) {
		lines = append(lines, sc.lines...)
	}
	if want := []int32{1, 2, 4, 7}; !reflect.DeepEqual(lines, want) {
		t.Errorf("lines %v, want %v", lines, want)
	}
}

func TestZeroBytes(t *testing.T) {
	for _, tc := range []string{",,,,,,,,", "a,b,c,d,", "\x01,\x01,\xff,\x2d,", "--------", ",\x2d,\x2d,\x2d--", "\x00,\x00\x01,,\x2c\x2d"} {
		if len(tc) != 8 {
			t.Fatalf("%q is not 8 bytes", tc)
		}
		w := uint64(0)
		for i := 7; i >= 0; i-- {
			w = w<<8 | uint64(tc[i])
		}
		m := zeroBytes(w^uint64(',')*ones) & highs
		for i := 0; i < 8; i++ {
			got := m>>(8*i+7)&1 == 1
			if got != (tc[i] == ',') {
				t.Errorf("%q byte %d: flagged=%v", tc, i, got)
			}
		}
	}
}

func TestScannerBOMOnly(t *testing.T) {
	got := scanAll(t, "\xEF\xBB\xBFa\n", 2)
	if !reflect.DeepEqual(got, [][]string{{"a"}}) {
		t.Errorf("got %q", got)
	}
	if !bytes.Equal([]byte("\xEF\xBB\xBF"), []byte{0xEF, 0xBB, 0xBF}) {
		t.Fatal("bad BOM literal")
	}
}
