package snapshots

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
)

// Verify recomputes every figure of a snapshot's manifest from its parts:
// each part's size, SHA-256 and row count, the table and column checksums,
// the key order and the NULL-key count. It returns nil when all match, and
// otherwise an error wrapping ErrCorrupt that names every mismatch.
func Verify(ctx context.Context, dir string) (*Manifest, error) {
	src, err := OpenDir(dir)
	if err != nil {
		return nil, err
	}
	m := src.m
	var problems []string
	// Files in the folder that the manifest does not name are reported:
	// a part added after the fact is tampering too.
	named := map[string]bool{ManifestFile: true}
	for _, p := range m.Parts {
		named[p.File] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return m, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	for _, de := range ents {
		if !named[de.Name()] {
			problems = append(problems, fmt.Sprintf("%s is not part of the snapshot", de.Name()))
		}
	}
	// Parts first: a bad part is reported by name, and the checksums are
	// only recomputed when every part is intact.
	for _, p := range m.Parts {
		why, err := src.partProblem(p)
		if err != nil {
			return m, err
		}
		if why != "" {
			problems = append(problems, p.File+": "+why)
		}
	}
	if len(problems) == 0 {
		if err := src.verifyDigests(ctx, &problems); err != nil {
			return m, err
		}
	}
	if len(problems) > 0 {
		return m, fmt.Errorf("snapshot %s does not match its manifest:\n  %s\n%w", dir, strings.Join(problems, "\n  "), ErrCorrupt)
	}
	return m, nil
}

func (s *Source) verifyDigests(ctx context.Context, problems *[]string) error {
	m := s.m
	dig, err := reconcile.NewDigester(m.Schema.Arrow(), m.Key)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", s.dir, err)
	}
	rr, err := s.read(ctx, connectors.ReadOptions{})
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
		if err := dig.Add(rr.Record()); err != nil {
			return fmt.Errorf("snapshot %s: %w", s.dir, err)
		}
	}
	if err := rr.Err(); err != nil {
		if errors.Is(err, ErrCorrupt) {
			*problems = append(*problems, err.Error())
			return nil
		}
		return err
	}
	st := dig.Stats()
	if st.Rows != m.Rows {
		*problems = append(*problems, fmt.Sprintf("%d rows, the manifest says %d", st.Rows, m.Rows))
	}
	if Hex64(st.Checksum) != m.Checksum {
		*problems = append(*problems, fmt.Sprintf("table checksum %016x, the manifest says %016x", st.Checksum, uint64(m.Checksum)))
	}
	want := map[string]Hex64{}
	for _, c := range m.Columns {
		want[c.Name] = c.Checksum
	}
	if len(st.Columns) != len(m.Columns) {
		*problems = append(*problems, fmt.Sprintf("%d column checksums, the manifest has %d", len(st.Columns), len(m.Columns)))
	}
	for _, c := range st.Columns {
		if w, ok := want[c.Name]; !ok || w != Hex64(c.Checksum) {
			*problems = append(*problems, fmt.Sprintf("column %s: checksum %016x, the manifest says %016x", c.Name, c.Checksum, uint64(w)))
		}
	}
	if m.Sorted && !dig.Sorted() {
		*problems = append(*problems, "the rows are not in key order, the manifest says they are")
	}
	if dig.NullKeys() != m.NullKeys {
		*problems = append(*problems, fmt.Sprintf("%d rows with a NULL key, the manifest says %d", dig.NullKeys(), m.NullKeys))
	}
	return nil
}

// Path joins a store and a series name.
func Path(store, name string) string { return filepath.Join(store, name) }
