package sqlquote

import (
	"slices"
	"strings"
	"testing"
)

func TestIdentAndSplitRoundTrip(t *testing.T) {
	for _, d := range []Dialect{{Quote: '"', Fold: strings.ToLower}, {Quote: '`'}} {
		for _, names := range [][]string{{"t"}, {"My Schema", `Or"der` + "`" + "s"}, {"a.b", " x "}} {
			var quoted []string
			for _, n := range names {
				quoted = append(quoted, d.Ident(n))
			}
			got, err := d.Split(" " + strings.Join(quoted, " . ") + " ")
			if err != nil || !slices.Equal(got, names) {
				t.Errorf("%c: Split(Ident(%q)) = %q, %v", d.Quote, names, got, err)
			}
		}
	}
	pg := Dialect{Quote: '"', Fold: strings.ToLower, Hint: "quote it"}
	if got, err := pg.Split(`Public."Orders"`); err != nil || !slices.Equal(got, []string{"public", "Orders"}) {
		t.Errorf("bare words fold, quoted ones keep their case: %q, %v", got, err)
	}
	for _, bad := range []string{`"open`, `""`, `a..b`, `a b`, ``} {
		if _, err := pg.Split(bad); err == nil {
			t.Errorf("Split(%q): no error", bad)
		}
	}
}
