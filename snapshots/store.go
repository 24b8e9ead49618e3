package snapshots

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reconhq/reconcile/connectors"
)

// Scheme is the location prefix of a snapshot given as a diff source:
// snap:<store>/<name>@latest.
const Scheme = "snap"

// historyDir holds the drift histories inside a store. A series name
// cannot start with '_', so it never collides with one.
const historyDir = "_history"

// Entry is one snapshot folder of a series.
type Entry struct {
	ID  string
	Dir string
	// Manifest is nil for an incomplete snapshot (no manifest: a write
	// that was interrupted or is still running) or a corrupt one (Err).
	Manifest *Manifest
	Err      error
	// ModTime is the folder's last modification.
	ModTime time.Time
}

// Complete reports whether the snapshot has a readable manifest.
func (e *Entry) Complete() bool { return e.Manifest != nil }

// Series is the snapshots of one name, oldest first.
type Series struct {
	Name    string
	Dir     string
	Entries []Entry
}

// complete returns the complete snapshots, oldest first.
func (s *Series) complete() []Entry {
	var out []Entry
	for _, e := range s.Entries {
		if e.Complete() {
			out = append(out, e)
		}
	}
	return out
}

// ReadSeries lists the snapshots of the series in dir.
func ReadSeries(dir string) (*Series, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("snapshot series %s does not exist: %w", dir, connectors.ErrTableNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot series %s: %w", dir, err)
	}
	s := &Series{Name: filepath.Base(dir), Dir: dir}
	for _, de := range ents {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		if _, err := time.Parse(idLayout, de.Name()); err != nil {
			continue // not a snapshot folder
		}
		e := Entry{ID: de.Name(), Dir: filepath.Join(dir, de.Name())}
		if fi, err := de.Info(); err == nil {
			e.ModTime = fi.ModTime()
		}
		if _, err := os.Stat(filepath.Join(e.Dir, ManifestFile)); err == nil {
			e.Manifest, e.Err = ReadManifest(e.Dir)
			if e.Err != nil {
				e.Manifest = nil
			}
		}
		s.Entries = append(s.Entries, e)
	}
	sort.Slice(s.Entries, func(i, j int) bool { return s.Entries[i].ID < s.Entries[j].ID })
	return s, nil
}

// List lists every series of a store, by name.
func List(store string) ([]*Series, error) {
	ents, err := os.ReadDir(store)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("snapshot store %s does not exist: %w", store, connectors.ErrTableNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot store %s: %w", store, err)
	}
	var out []*Series
	for _, de := range ents {
		if !de.IsDir() || CheckName(de.Name()) != nil {
			continue
		}
		s, err := ReadSeries(filepath.Join(store, de.Name()))
		if err != nil {
			return nil, err
		}
		if len(s.Entries) > 0 {
			out = append(out, s)
		}
	}
	return out, nil
}

// Ref is a parsed snapshot reference: a folder and a selector.
type Ref struct {
	Path     string // a series folder, or a snapshot folder when Selector is ""
	Selector string // "latest", "-N", or a time stamp prefix
}

func (r Ref) String() string {
	if r.Selector == "" {
		return r.Path
	}
	return r.Path + "@" + r.Selector
}

// ParseRef parses "snap:<path>[@selector]" or "<path>[@selector]".
func ParseRef(loc string) Ref {
	loc = strings.TrimPrefix(loc, Scheme+":")
	loc = strings.TrimPrefix(loc, "//") // snap://path is accepted too
	if i := strings.LastIndexByte(loc, '@'); i >= 0 && !strings.ContainsAny(loc[i:], `/\`) {
		return Ref{Path: loc[:i], Selector: loc[i+1:]}
	}
	return Ref{Path: loc}
}

// Resolve finds the snapshot a reference names and reads its manifest.
// A series folder without a selector means its latest snapshot.
func Resolve(loc string) (dir string, m *Manifest, err error) {
	ref := ParseRef(loc)
	if ref.Path == "" {
		return "", nil, fmt.Errorf("snapshot reference %q: no path (want snap:<store>/<name>@latest)", loc)
	}
	if ref.Selector == "" {
		// A snapshot folder itself, or a series (its latest).
		if _, err := os.Stat(filepath.Join(ref.Path, ManifestFile)); err == nil {
			m, err := ReadManifest(ref.Path)
			return ref.Path, m, err
		}
		if _, err := time.Parse(idLayout, filepath.Base(ref.Path)); err == nil {
			m, err := ReadManifest(ref.Path) // explains the incomplete folder
			return ref.Path, m, err
		}
		ref.Selector = "latest"
	}
	s, err := ReadSeries(ref.Path)
	if err != nil {
		return "", nil, err
	}
	done := s.complete()
	if len(done) == 0 {
		return "", nil, fmt.Errorf("snapshot series %s holds no complete snapshot: %w", ref.Path, connectors.ErrTableNotFound)
	}
	var pick *Entry
	switch sel := ref.Selector; {
	case sel == "latest":
		pick = &done[len(done)-1]
	case strings.HasPrefix(sel, "-"):
		n, err := strconv.Atoi(sel[1:])
		if err != nil || n < 0 {
			return "", nil, fmt.Errorf("snapshot reference %s: @%s: want @latest, @-N (N snapshots before the latest) or a time stamp prefix such as @2026-11-26", loc, sel)
		}
		if n >= len(done) {
			return "", nil, fmt.Errorf("snapshot reference %s: the series holds %d complete snapshot(s), so @-%d does not exist: %w", loc, len(done), n, connectors.ErrTableNotFound)
		}
		pick = &done[len(done)-1-n]
	default:
		prefix := strings.NewReplacer(":", "", " ", "T").Replace(sel)
		var matches []*Entry
		for i := range done {
			if strings.HasPrefix(done[i].ID, prefix) {
				matches = append(matches, &done[i])
			}
		}
		switch len(matches) {
		case 0:
			return "", nil, fmt.Errorf("snapshot reference %s: no complete snapshot's time stamp starts with %q (have %s): %w", loc, prefix, ids(done), connectors.ErrTableNotFound)
		case 1:
			pick = matches[0]
		default:
			var names []string
			for _, e := range matches {
				names = append(names, e.ID)
			}
			return "", nil, fmt.Errorf("snapshot reference %s: %d snapshots match %q (%s); give more of the time stamp", loc, len(matches), prefix, strings.Join(names, ", "))
		}
	}
	return pick.Dir, pick.Manifest, nil
}

func ids(es []Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	if len(out) > 6 {
		out = append(out[:3], append([]string{"…"}, out[len(out)-3:]...)...)
	}
	return strings.Join(out, ", ")
}

// PruneOptions say which snapshots of a series to keep.
type PruneOptions struct {
	// Keep is how many of the newest complete snapshots to keep.
	Keep int
	// KeepWithin keeps every complete snapshot taken within this long of
	// Now, whatever Keep says; 0 keeps none for their age.
	KeepWithin time.Duration
	// Grace is how long an incomplete folder must have been left alone
	// before it is removed (a write may still be running); 0 means 1h.
	Grace time.Duration
	Now   time.Time
	// DryRun lists what would be removed and removes nothing.
	DryRun bool
}

// Pruned is one folder Prune removed (or would remove).
type Pruned struct {
	Dir    string
	Reason string
}

// Prune removes the snapshots of a series that the options do not keep,
// and incomplete folders older than the grace period. The newest complete
// snapshot is always kept.
func Prune(seriesDir string, o PruneOptions) ([]Pruned, error) {
	if o.Keep < 1 {
		return nil, fmt.Errorf("prune: keep must be at least 1 (the newest snapshot is always kept)")
	}
	if o.Grace <= 0 {
		o.Grace = time.Hour
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	s, err := ReadSeries(seriesDir)
	if err != nil {
		return nil, err
	}
	var out []Pruned
	kept := 0
	for i := len(s.Entries) - 1; i >= 0; i-- {
		e := s.Entries[i]
		switch {
		case e.Complete():
			taken := e.Manifest.TakenAt
			if kept < o.Keep || o.KeepWithin > 0 && o.Now.Sub(taken) <= o.KeepWithin {
				kept++
				continue
			}
			out = append(out, Pruned{Dir: e.Dir, Reason: fmt.Sprintf("older than the newest %d and taken %s ago", o.Keep, o.Now.Sub(taken).Round(time.Second))})
		case e.Err != nil:
			continue // a corrupt manifest is evidence: never removed silently
		default:
			if age := o.Now.Sub(newest(e.Dir, e.ModTime)); age > o.Grace {
				out = append(out, Pruned{Dir: e.Dir, Reason: fmt.Sprintf("incomplete (no manifest), untouched for %s", age.Round(time.Second))})
			}
		}
	}
	if o.DryRun {
		return out, nil
	}
	for _, p := range out {
		if err := os.RemoveAll(p.Dir); err != nil {
			return out, fmt.Errorf("prune %s: %w", p.Dir, err)
		}
	}
	return out, nil
}

// newest is the latest modification time of a folder and its files.
func newest(dir string, t time.Time) time.Time {
	ents, _ := os.ReadDir(dir)
	for _, de := range ents {
		if fi, err := de.Info(); err == nil && fi.ModTime().After(t) {
			t = fi.ModTime()
		}
	}
	return t
}
