package snapshots

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/ipc"

	"github.com/reconhq/reconcile/connectors"
)

// FormatVersion is the snapshot format this package writes. It reads
// snapshots of this version and older, and refuses newer ones.
const FormatVersion = 1

// formatName marks a manifest as a reconcile snapshot's.
const formatName = "reconcile-snapshot"

// ManifestFile is the name of the manifest in a snapshot folder. A folder
// without one is an incomplete snapshot: never read, removed by Prune.
const ManifestFile = "manifest.json"

// ErrCorrupt marks a snapshot whose files do not match its manifest, or
// whose manifest is unreadable. It wraps connectors.ErrBadInput.
var ErrCorrupt = fmt.Errorf("snapshot is corrupt: %w", connectors.ErrBadInput)

// Manifest describes a complete snapshot. It is written last, atomically;
// every figure in it can be recomputed from the parts (Verify).
type Manifest struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	// Name is the snapshot series (the folder under the store); ID is
	// this snapshot's folder, its UTC time stamp.
	Name string `json:"name"`
	ID   string `json:"id"`
	// Source is where the rows came from, passwords redacted; Table,
	// Query and Where say what was read.
	Source string `json:"source"`
	Table  string `json:"table,omitempty"`
	Query  string `json:"query,omitempty"`
	Where  string `json:"where,omitempty"`
	// Key names the key columns; Sorted says the rows are stored in the
	// canonical key order, so that a diff can merge them as they stream.
	Key    []string `json:"key"`
	Sorted bool     `json:"sorted"`
	Schema Schema   `json:"schema"`
	Rows   int64    `json:"rows"`
	// NullKeys counts the rows with a NULL in the key (kept, and reported
	// by every diff that reads the snapshot).
	NullKeys int64 `json:"null_keys"`
	// Checksum and Columns are the engine's digests of the rows (see
	// reconcile.Digester): equal to a diff's checksums for a side whose
	// every column is compared.
	Checksum Hex64            `json:"checksum"`
	Columns  []ColumnChecksum `json:"columns"`
	Parts    []Part           `json:"parts"`
	// TakenAt is when the read began; Consistency is the source's own
	// marker of the point in time it read (a PostgreSQL snapshot time and
	// WAL position), when it has one.
	TakenAt     time.Time               `json:"taken_at"`
	FinishedAt  time.Time               `json:"finished_at"`
	Consistency *connectors.Consistency `json:"consistency,omitempty"`
	Notes       []string                `json:"notes,omitempty"`
	ToolVersion string                  `json:"tool_version"`
	// ConfigHash identifies the settings the snapshot was taken with.
	ConfigHash string `json:"config_hash"`
}

// ColumnChecksum is the engine's checksum of one column.
type ColumnChecksum struct {
	Name     string `json:"name"`
	Checksum Hex64  `json:"checksum"`
}

// Part is one Parquet file of a snapshot.
type Part struct {
	File   string `json:"file"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Schema is the Arrow schema of a snapshot: IPC holds it exactly (base64
// of an Arrow IPC stream with no batches), Fields describe it for people
// and tools that do not read Arrow IPC.
type Schema struct {
	IPC    string        `json:"arrow_ipc"`
	Fields []FieldSchema `json:"fields"`
	schema *arrow.Schema
}

// FieldSchema describes one column.
type FieldSchema struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Nullable bool              `json:"nullable"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Hex64 is a 64-bit checksum, written as 16 hex digits.
type Hex64 uint64

func (h Hex64) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`"%016x"`, uint64(h))), nil
}

func (h *Hex64) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil || len(s) != 16 {
		return fmt.Errorf("checksum %q: want 16 hex digits", s)
	}
	*h = Hex64(v)
	return nil
}

// newSchema records an Arrow schema.
func newSchema(s *arrow.Schema) (Schema, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	if err := w.Close(); err != nil {
		return Schema{}, fmt.Errorf("encode schema: %w", err)
	}
	out := Schema{IPC: base64.StdEncoding.EncodeToString(buf.Bytes()), schema: s}
	for _, f := range s.Fields() {
		fs := FieldSchema{Name: f.Name, Type: f.Type.String(), Nullable: f.Nullable}
		if n := f.Metadata.Len(); n > 0 {
			fs.Metadata = make(map[string]string, n)
			for i, k := range f.Metadata.Keys() {
				fs.Metadata[k] = f.Metadata.Values()[i]
			}
		}
		out.Fields = append(out.Fields, fs)
	}
	return out, nil
}

// Arrow returns the Arrow schema.
func (s *Schema) Arrow() *arrow.Schema { return s.schema }

func (s *Schema) decode() error {
	raw, err := base64.StdEncoding.DecodeString(s.IPC)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	r, err := ipc.NewReader(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	defer r.Release()
	s.schema = r.Schema()
	if len(s.Fields) != s.schema.NumFields() {
		return fmt.Errorf("schema: %d fields described, %d in the Arrow schema", len(s.Fields), s.schema.NumFields())
	}
	for i, f := range s.schema.Fields() {
		if d := s.Fields[i]; d.Name != f.Name || d.Type != f.Type.String() || d.Nullable != f.Nullable {
			return fmt.Errorf("schema: field %d is described as %s %s but the Arrow schema has %s %s", i, d.Name, d.Type, f.Name, f.Type)
		}
	}
	return nil
}

// ReadManifest reads and checks the manifest of the snapshot in dir.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return nil, fmt.Errorf("snapshot %s: %w", dir, connectors.ErrTableNotFound)
		}
		return nil, fmt.Errorf("snapshot %s has no %s: it is incomplete (a write was interrupted) and is never read; 'reconcile snapshot prune' removes it: %w", dir, ManifestFile, connectors.ErrBadInput)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	// Newer formats may add fields: check the version before being strict.
	var head struct {
		Format        string `json:"format"`
		FormatVersion int    `json:"format_version"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", path, err, ErrCorrupt)
	}
	if head.Format != formatName {
		return nil, fmt.Errorf("%s: not a reconcile snapshot manifest (format %q): %w", path, head.Format, ErrCorrupt)
	}
	if head.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("%s: written in snapshot format %d by a newer reconcile; this one reads formats up to %d (upgrade reconcile): %w", path, head.FormatVersion, FormatVersion, connectors.ErrUnsupported)
	}
	if head.FormatVersion < 1 {
		return nil, fmt.Errorf("%s: format_version %d: %w", path, head.FormatVersion, ErrCorrupt)
	}
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", path, err, ErrCorrupt)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", path, err, ErrCorrupt)
	}
	return &m, nil
}

// check validates a decoded manifest's internal consistency.
func (m *Manifest) check() error {
	if err := m.Schema.decode(); err != nil {
		return err
	}
	if len(m.Key) == 0 {
		return errors.New("no key columns")
	}
	for _, k := range m.Key {
		if m.Schema.schema.FieldIndices(k) == nil {
			return fmt.Errorf("key column %q is not in the schema", k)
		}
	}
	var rows int64
	for i, p := range m.Parts {
		if p.File != filepath.Base(p.File) || p.File == "." || p.File == ".." || p.File == ManifestFile {
			return fmt.Errorf("part %d: bad file name %q", i, p.File)
		}
		if p.Rows < 0 || p.Bytes < 0 || len(p.SHA256) != 64 {
			return fmt.Errorf("part %s: bad figures", p.File)
		}
		rows += p.Rows
	}
	if rows != m.Rows {
		return fmt.Errorf("parts hold %d rows, the manifest says %d", rows, m.Rows)
	}
	return nil
}
