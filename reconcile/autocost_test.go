package reconcile

import (
	"testing"
	"time"
)

// Auto with the canonical hash streams when checksumming a window of rows
// costs more than reading them, allowing for the fraction it would read
// anyway; the slower side sets the pace.
func TestStreamCheaper(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	for _, tc := range []struct {
		name        string
		check, read sides[time.Duration]
		f           float64
		stream      bool
	}{
		{"same host: MD5 in SQL costs more than sending rows", sides[time.Duration]{ms(12), ms(11)}, sides[time.Duration]{ms(2), ms(3)}, 0.1, true},
		{"far network: reading is slow", sides[time.Duration]{ms(21), ms(20)}, sides[time.Duration]{ms(60), ms(61)}, 0.1, false},
		{"far, but most of it would be read anyway", sides[time.Duration]{ms(21), ms(20)}, sides[time.Duration]{ms(25), ms(24)}, 0.2, true},
		{"one slow side", sides[time.Duration]{ms(2), ms(30)}, sides[time.Duration]{ms(10), ms(12)}, 0, true},
	} {
		if got := streamCheaper(tc.check, tc.read, tc.f); got != tc.stream {
			t.Errorf("%s: stream %v, want %v", tc.name, got, tc.stream)
		}
	}
}
