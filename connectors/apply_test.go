package connectors

import (
	"testing"
	"time"
)

func TestNeutralTypesFormat(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{Date(0).String(), "1970-01-01"},
		{Date(20418).String(), "2025-11-26"},
		{Date(-1).String(), "1969-12-31"},
		{TimeOfDay(0).String(), "00:00:00"},
		{TimeOfDay(12*time.Hour + 34*time.Minute + 56*time.Second + 789*time.Millisecond).String(), "12:34:56.789"},
		{TimeOfDay(time.Microsecond).String(), "00:00:00.000001"},
		{TimeOfDay(24 * time.Hour).String(), "24:00:00"},
		{TimeOfDay(-(838*time.Hour + 59*time.Minute + 59*time.Second + 500*time.Millisecond)).String(), "-838:59:59.5"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	if !Date(1).Time().Equal(time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Error("Date.Time")
	}
}
