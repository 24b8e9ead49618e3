// Package colselect resolves the columns and the key of a read against a
// table's columns, for the database connectors, with the errors
// connectors.Source promises (connectors.ErrColumnNotFound for an unknown
// name, connectors.ErrUnsupported for a key that cannot be ordered),
// every problem reported at once.
package colselect

import (
	"errors"
	"fmt"
	"strings"

	"github.com/reconhq/reconcile/connectors"
)

// Table is what Resolve needs to know of a table.
type Table struct {
	// Name names the table in messages.
	Name string
	// Columns are the column names in table order.
	Columns []string
	// Unordered says why column i cannot be read in key order ("" when it
	// can), and names its type for the message.
	Unordered func(i int) (typeName, why string)
}

// Resolve returns the indexes of the columns to read (all of them when
// cols is nil) and of the key columns.
func Resolve(t Table, cols, key []string) (out, keys []int, err error) {
	index := func(name string) int {
		for i, c := range t.Columns {
			if c == name {
				return i
			}
		}
		return -1
	}
	var errs []error
	if cols == nil {
		for i := range t.Columns {
			out = append(out, i)
		}
	}
	for _, c := range cols {
		i := index(c)
		if i < 0 {
			errs = append(errs, fmt.Errorf("read %s: column %q not found (columns: %s): %w", t.Name, c, strings.Join(t.Columns, ", "), connectors.ErrColumnNotFound))
			continue
		}
		out = append(out, i)
	}
	seen := map[string]bool{}
	for _, k := range key {
		i := index(k)
		switch {
		case i < 0:
			errs = append(errs, fmt.Errorf("read %s: key column %q not found (columns: %s): %w", t.Name, k, strings.Join(t.Columns, ", "), connectors.ErrColumnNotFound))
		case seen[k]:
			errs = append(errs, fmt.Errorf("read %s: key column %q is listed twice: %w", t.Name, k, connectors.ErrUnsupported))
		default:
			if typ, why := t.Unordered(i); why != "" {
				errs = append(errs, fmt.Errorf("read %s: key column %q (%s) cannot be read in key order: %s: %w", t.Name, k, typ, why, connectors.ErrUnsupported))
			} else {
				keys = append(keys, i)
			}
		}
		seen[k] = true
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return out, keys, nil
}
