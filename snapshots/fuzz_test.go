package snapshots

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
)

// FuzzReadManifest: any manifest.json is read without a panic, and is
// either accepted whole or refused as corrupt, unsupported or incomplete.
func FuzzReadManifest(f *testing.F) {
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, matrixSchema, strings.NewReader(matrixRows))
	if err != nil {
		f.Fatal(err)
	}
	defer rec.Release()
	rr, err := array.NewRecordReader(matrixSchema, []arrow.Record{rec})
	if err != nil {
		f.Fatal(err)
	}
	defer rr.Release()
	_, sdir, err := Write(context.Background(), f.TempDir(), rr, WriteOptions{Name: "fuzz", Key: []string{"id"}})
	if err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(sdir, ManifestFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"reconcile-snapshot","format_version":1}`))
	f.Add([]byte(`{"format":"reconcile-snapshot","format_version":1,"schema":{"arrow_ipc":"AAAA","fields":[]},"key":["id"]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, ManifestFile), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(d)
		if err != nil {
			if !errors.Is(err, connectors.ErrBadInput) && !errors.Is(err, connectors.ErrUnsupported) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if m.Schema.Arrow() == nil || len(m.Key) == 0 {
			t.Fatalf("accepted a manifest without schema or key: %+v", m)
		}
	})
}
