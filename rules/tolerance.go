package rules

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reconhq/reconcile/reconcile"
)

// Tolerance says how far apart two values of one column may be and still
// count as equal: numbers by an absolute difference (abs), a relative one
// (rel, of the larger magnitude), or either (both given: either suffices);
// timestamps, dates and times by a skew. The zero Tolerance tolerates
// nothing beyond equality.
type Tolerance struct {
	abs, rel *big.Rat
	skew     time.Duration
	hasSkew  bool
}

// ParseTolerance reads a tolerance from a YAML-decoded map: {abs: 0.01},
// {rel: 0.001}, {abs: 0.01, rel: 0.001} or {skew: 2s}. Numbers are read
// as exact decimals (0.01 is one hundredth, not the nearest float).
func ParseTolerance(m map[string]any) (Tolerance, error) {
	var t Tolerance
	var problems []error
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		switch k {
		case "abs", "rel":
			r, err := exactNumber(v)
			if err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", k, err))
				continue
			}
			if k == "abs" {
				t.abs = r
			} else {
				t.rel = r
			}
		case "skew":
			s, ok := v.(string)
			d, err := time.ParseDuration(s)
			if !ok || err != nil || d < 0 {
				problems = append(problems, fmt.Errorf("skew: want a duration >= 0 such as 2s or 1m30s, got %v", v))
				continue
			}
			t.skew, t.hasSkew = d, true
		default:
			problems = append(problems, fmt.Errorf("unknown tolerance %q (accepted: abs, rel, skew)", k))
		}
	}
	if len(m) == 0 {
		problems = append(problems, errors.New("empty tolerance (give abs, rel or skew)"))
	}
	if t.hasSkew && (t.abs != nil || t.rel != nil) {
		problems = append(problems, errors.New("skew is for times, abs and rel for numbers: give one or the other"))
	}
	if len(problems) > 0 {
		return Tolerance{}, fmt.Errorf("parse tolerance: %w", errors.Join(problems...))
	}
	return t, nil
}

func exactNumber(v any) (*big.Rat, error) {
	var s string
	switch x := v.(type) {
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case uint64:
		s = strconv.FormatUint(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("want a finite number >= 0, got %v", x)
		}
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		s = strings.TrimSpace(x)
	default:
		return nil, fmt.Errorf("want a finite number >= 0, got %v", v)
	}
	// Through the canonical number: its Rat refuses exponents no column
	// holds, where big.Rat.SetString would build 10^1000000000.
	enc, ok := reconcile.NumberFromText(nil, s)
	if !ok {
		return nil, fmt.Errorf("want a finite number >= 0, got %v", v)
	}
	r, ok := reconcile.Value(enc).Rat()
	if !ok || r.Sign() < 0 {
		return nil, fmt.Errorf("want a finite number >= 0, got %v", v)
	}
	return r, nil
}

// String renders the tolerance as it is written in a config.
func (t Tolerance) String() string {
	var parts []string
	if t.abs != nil {
		parts = append(parts, "abs "+t.abs.FloatString(precision(t.abs)))
	}
	if t.rel != nil {
		parts = append(parts, "rel "+t.rel.FloatString(precision(t.rel)))
	}
	if t.hasSkew {
		parts = append(parts, "skew "+t.skew.String())
	}
	if len(parts) == 0 {
		return "exact"
	}
	return strings.Join(parts, " or ")
}

// precision is the number of decimal places that render r exactly (r came
// from decimal text, so its denominator divides a power of ten), at most 30.
func precision(r *big.Rat) int {
	d := new(big.Int).Set(r.Denom())
	ten := big.NewInt(10)
	n := 0
	for d.Cmp(big.NewInt(1)) > 0 && n < 30 {
		g := new(big.Int).GCD(nil, nil, d, ten)
		if g.Cmp(big.NewInt(1)) == 0 {
			break
		}
		d.Quo(d, g)
		n++
	}
	return n
}

// Equal reports whether two values are equal within the tolerance. NULL
// equals only NULL; NaN equals only NaN; an infinity only itself; values
// of different kinds, JSON, text and binary are equal only when identical.
// Numbers are compared exactly (reconcile.Value.Rat), never as floats.
func (t Tolerance) Equal(src, tgt reconcile.Value) bool {
	if src.Equal(tgt) {
		return true
	}
	if src.IsNull() || tgt.IsNull() || src.Kind() != tgt.Kind() {
		return false
	}
	switch src.Kind() {
	case "number":
		if t.abs == nil && t.rel == nil {
			return false
		}
		a, oka := src.Rat()
		b, okb := tgt.Rat()
		if !oka || !okb {
			return false // NaN, infinities, or out of range: only equal if identical
		}
		diff := new(big.Rat).Sub(a, b)
		diff.Abs(diff)
		if t.abs != nil && diff.Cmp(t.abs) <= 0 {
			return true
		}
		if t.rel != nil {
			m := new(big.Rat).Abs(a)
			if mb := new(big.Rat).Abs(b); mb.Cmp(m) > 0 {
				m = mb
			}
			return diff.Cmp(m.Mul(m, t.rel)) <= 0
		}
		return false
	case "timestamp", "date":
		if !t.hasSkew {
			return false
		}
		var x, y time.Time
		if src.Kind() == "timestamp" {
			x, _ = src.Timestamp()
			y, _ = tgt.Timestamp()
		} else {
			x, _ = src.Date()
			y, _ = tgt.Date()
		}
		return within(x.Sub(y), t.skew) && within(y.Sub(x), t.skew)
	case "time":
		if !t.hasSkew {
			return false
		}
		x, okx := src.TimeOfDay()
		y, oky := tgt.TimeOfDay()
		return okx && oky && within(x-y, t.skew) && within(y-x, t.skew)
	}
	return false
}

// within reports |d| <= skew, where d may have saturated (time.Time.Sub
// clamps to the Duration range).
func within(d, skew time.Duration) bool {
	if d == math.MinInt64 {
		return false
	}
	if d < 0 {
		d = -d
	}
	return d <= skew
}
