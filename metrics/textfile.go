package metrics

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/common/expfmt"
)

// WriteTextfile writes reconcile's metrics (not the Go runtime and
// process metrics, which node_exporter reports for itself) to path in
// the text exposition format read by node_exporter's textfile
// collector. The file is replaced atomically: the metrics go to a
// temporary file in the same folder, whose name does not end in
// ".prom" so the collector skips it, which is synced, made readable
// (0644) and renamed over path; the folder is synced last. A reader
// sees the old file or the new one, never part of one.
func (m *Metrics) WriteTextfile(path string) (err error) {
	if path == "" {
		return errors.New("write metrics: empty path")
	}
	mfs, err := m.reg.Gather()
	if err != nil {
		return fmt.Errorf("write metrics: gather: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+strings.TrimSuffix(base, ".prom")+".*.tmp")
	if err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriter(f)
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return fmt.Errorf("write metrics %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write metrics %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write metrics %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write metrics %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write metrics %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	// The rename is durable once the folder is synced; a folder that
	// cannot be opened or synced (some file systems) does not undo it.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
