package file

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
)

var (
	benchRows = flag.Int("bench.rows", 200_000, "rows in the generated benchmark CSV")
	benchFile = flag.String("bench.file", "", "read this CSV (of -bench.rows rows) instead of generating one")
)

// writeBenchCSV writes the benchmark shape: int id, text name, text email,
// decimal amount, int qty, timestamp, date, boolean.
func writeBenchCSV(tb testing.TB, path string, rows int) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,name,email,amount,qty,created_at,day,active")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(w, "%d,Customer %d,customer%d@example.com,%d.%02d,%d,2024-%02d-%02dT%02d:%02d:%02dZ,2024-%02d-%02d,%t\n",
			i+1, i*7919%100000, i, i*37%100000, i%100, i%50,
			i%12+1, i%28+1, i%24, i%60, (i*7)%60,
			(i+5)%12+1, (i+3)%28+1, i%3 == 0)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	st, _ := f.Stat()
	f.Close()
	return st.Size()
}

func BenchmarkReadCSV(b *testing.B) {
	path := *benchFile
	var size int64
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.csv")
		size = writeBenchCSV(b, path, *benchRows)
	} else if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	ctx := context.Background()
	b.SetBytes(size)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, err := New(path, connectors.Options{})
		if err != nil {
			b.Fatal(err)
		}
		rr, err := src.Read(ctx, connectors.TableRef{}, connectors.ReadOptions{Allocator: memory.DefaultAllocator})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rr.Next() {
			n += int(rr.Record().NumRows())
		}
		if err := rr.Err(); err != nil {
			b.Fatal(err)
		}
		rr.Release()
		src.Close()
		if n != *benchRows {
			b.Fatalf("read %d rows, want %d", n, *benchRows)
		}
	}
	b.ReportMetric(float64(*benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// measures the work better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScanCSV measures the tokenizer alone.
func BenchmarkScanCSV(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.csv")
	writeBenchCSV(b, path, *benchRows)
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sc := newCSVScanner(context.Background(), bytes.NewReader(raw), "bench.csv", ',', initialBufSize)
		n := 0
		for rows := sc.nextChunk(chunkRows, -1); rows > 0; rows = sc.nextChunk(chunkRows, -1) {
			n += len(sc.spans)
		}
		if sc.err != nil || n != (*benchRows+1)*8 {
			b.Fatal(sc.err, n)
		}
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1e9/float64(b.N)/float64(*benchRows), "cpu-ns/row")
}

func BenchmarkReadJSONL(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	const rows = 100_000
	for i := 0; i < rows; i++ {
		fmt.Fprintf(w, `{"id":%d,"name":"Customer %d","amount":%d.%02d,"qty":%d,"ok":%t,"tags":["a","b"]}`+"\n", i, i, i%1000, i%100, i%50, i%3 == 0)
	}
	w.Flush()
	f.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, _ := New(path, connectors.Options{})
		rr, err := src.Read(context.Background(), connectors.TableRef{}, connectors.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rr.Next() {
			n += int(rr.Record().NumRows())
		}
		if rr.Err() != nil || n != rows {
			b.Fatal(rr.Err(), n)
		}
		rr.Release()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
