package runs

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkLocalFinish measures one durable write (temporary file, fsync,
// rename, fsync of the folder).
func BenchmarkLocalFinish(b *testing.B) {
	l, err := OpenLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if err := l.Finish(ctx, finished(sample("j", i))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkOpenLocal1000 measures a restart over 1000 stored runs.
func BenchmarkOpenLocal1000(b *testing.B) {
	dir := b.TempDir()
	l, err := OpenLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		r := finished(sample(fmt.Sprintf("job%d", i%10), i))
		r.Started = r.Started.Add(time.Duration(i) * time.Millisecond)
		if err := l.Finish(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := OpenLocal(dir); err != nil {
			b.Fatal(err)
		}
	}
}
