package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronMacros are the @ forms a schedule may take instead of fields.
var cronMacros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

var (
	fieldSecond = cronField{name: "second", min: 0, max: 59}
	fieldMinute = cronField{name: "minute", min: 0, max: 59}
	fieldHour   = cronField{name: "hour", min: 0, max: 23}
	fieldDom    = cronField{name: "day of month", min: 1, max: 31}
	fieldMonth  = cronField{name: "month", min: 1, max: 12,
		names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	fieldDow = cronField{name: "day of week", min: 0, max: 7,
		names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
)

// CheckCron checks the syntax of a cron expression: five fields (minute
// hour day-of-month month day-of-week), or six with a leading seconds
// field; each field *, ?, a value, a range a-b, a list a,b and a step
// (*/n, a-b/n, a/n); month and weekday names (JAN, MON); the macros
// @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly and
// @every DURATION.
func CheckCron(expr string) error {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "@") {
		if rest, ok := strings.CutPrefix(expr, "@every "); ok {
			d, err := time.ParseDuration(strings.TrimSpace(rest))
			if err != nil || d <= 0 {
				return fmt.Errorf("cron %q: @every needs a positive duration such as 15m", expr)
			}
			return nil
		}
		if _, ok := cronMacros[expr]; ok {
			return nil
		}
		return fmt.Errorf("cron %q: unknown macro (accepted: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every DURATION)", expr)
	}
	fields := strings.Fields(expr)
	var spec []cronField
	switch len(fields) {
	case 5:
		spec = []cronField{fieldMinute, fieldHour, fieldDom, fieldMonth, fieldDow}
	case 6:
		spec = []cronField{fieldSecond, fieldMinute, fieldHour, fieldDom, fieldMonth, fieldDow}
	default:
		return fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got %d", expr, len(fields))
	}
	var problems []error
	for i, f := range fields {
		if err := spec[i].check(f); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("cron %q: %w", expr, errors.Join(problems...))
	}
	return nil
}

func (c cronField) check(s string) error {
	for _, item := range strings.Split(s, ",") {
		rng, step, hasStep := strings.Cut(item, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 || n > c.max-c.min+1 {
				return fmt.Errorf("%s %q: step must be 1..%d", c.name, item, c.max-c.min+1)
			}
		}
		if rng == "*" || rng == "?" && (c.name == "day of month" || c.name == "day of week") {
			continue
		}
		lo, hi, isRange := strings.Cut(rng, "-")
		a, err := c.value(lo)
		if err != nil {
			return fmt.Errorf("%s %q: %w", c.name, item, err)
		}
		if isRange {
			b, err := c.value(hi)
			if err != nil {
				return fmt.Errorf("%s %q: %w", c.name, item, err)
			}
			if b < a {
				return fmt.Errorf("%s %q: range ends before it starts", c.name, item)
			}
		}
	}
	return nil
}

func (c cronField) value(s string) (int, error) {
	for i, n := range c.names {
		if strings.EqualFold(s, n) {
			return c.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < c.min || n > c.max {
		if len(c.names) > 0 {
			return 0, fmt.Errorf("want %d..%d or %s..%s", c.min, c.max, c.names[0], c.names[len(c.names)-1])
		}
		return 0, fmt.Errorf("want %d..%d", c.min, c.max)
	}
	return n, nil
}
