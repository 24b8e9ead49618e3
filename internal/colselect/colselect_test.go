package colselect

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/reconhq/reconcile/connectors"
)

var orders = Table{
	Name:    "orders",
	Columns: []string{"id", "note", "doc"},
	Unordered: func(i int) (string, string) {
		if i == 2 {
			return "json", "JSON has no order"
		}
		return "", ""
	},
}

func TestResolve(t *testing.T) {
	out, keys, err := Resolve(orders, nil, []string{"id"})
	if err != nil || !slices.Equal(out, []int{0, 1, 2}) || !slices.Equal(keys, []int{0}) {
		t.Errorf("all columns: %v %v %v", out, keys, err)
	}
	out, keys, err = Resolve(orders, []string{"note", "id"}, nil)
	if err != nil || !slices.Equal(out, []int{1, 0}) || keys != nil {
		t.Errorf("projection: %v %v %v", out, keys, err)
	}
	_, _, err = Resolve(orders, []string{"nope"}, []string{"id", "id", "doc", "gone"})
	if !errors.Is(err, connectors.ErrColumnNotFound) || !errors.Is(err, connectors.ErrUnsupported) {
		t.Fatalf("want both kinds of error: %v", err)
	}
	for _, want := range []string{`column "nope" not found (columns: id, note, doc)`, `"id" is listed twice`, `"doc" (json) cannot be read in key order: JSON has no order`, `key column "gone" not found`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
