package connectors

import "time"

// Defaults of Retry.
const (
	DefaultRetryAttempts   = 5
	DefaultRetryBackoff    = 200 * time.Millisecond
	DefaultRetryMaxBackoff = 5 * time.Second
)

// Retry is how a database connector retries after a lost connection: at
// most Attempts tries in a row (the first included), waiting Backoff before
// the first retry and doubling the wait up to MaxBackoff. Zero fields take
// the defaults.
type Retry struct {
	Attempts   int
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// WithDefaults fills the zero fields.
func (r Retry) WithDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = DefaultRetryAttempts
	}
	if r.Backoff <= 0 {
		r.Backoff = DefaultRetryBackoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = DefaultRetryMaxBackoff
	}
	if r.MaxBackoff < r.Backoff {
		r.MaxBackoff = r.Backoff
	}
	return r
}

// Delay is the wait before retry n (1 for the first retry).
func (r Retry) Delay(n int) time.Duration {
	d := r.Backoff
	for i := 1; i < n && d < r.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}
