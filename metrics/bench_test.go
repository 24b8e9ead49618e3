package metrics

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// benchRun is a job with 10 replicas, each with 50 differing columns.
func benchRun() RunResult {
	r := RunResult{Job: "orders", SystemOfRecord: "erp", Outcome: Differences, Started: t0, Finished: t0.Add(time.Minute)}
	for i := range 10 {
		rep := ReplicaResult{System: fmt.Sprintf("replica%d", i), SourceRows: 1e6, TargetRows: 1e6,
			Counts: map[string]int64{"missing": 3, "changed": 50}, Columns: map[string]int64{}}
		for c := range 50 {
			rep.Columns[fmt.Sprintf("col%d", c)] = int64(c + 1)
		}
		r.Replicas = append(r.Replicas, rep)
	}
	return r
}

func BenchmarkObserveRun(b *testing.B) {
	m := New()
	r := benchRun()
	for b.Loop() {
		if err := m.ObserveRun(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteTextfile(b *testing.B) {
	m := New()
	if err := m.ObserveRun(benchRun()); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "reconcile.prom")
	for b.Loop() {
		if err := m.WriteTextfile(path); err != nil {
			b.Fatal(err)
		}
	}
}
