package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// report is the part of a stored JSON report (docs/report.schema.json)
// the run page shows, with one page of its differences.
type report struct {
	SourceName string `json:"source_name"`
	TargetName string `json:"target_name"`
	Source     side   `json:"source"`
	Target     side   `json:"target"`
	Key        []string
	Schema     struct {
		OnlyInSource []string `json:"only_in_source"`
		OnlyInTarget []string `json:"only_in_target"`
		TypeMismatch []struct {
			Column     string `json:"column"`
			SourceType string `json:"source_type"`
			TargetType string `json:"target_type"`
		} `json:"type_mismatch"`
	} `json:"schema"`
	Summary map[string]int64 `json:"summary"`
	Columns map[string]struct {
		Changed   int64  `json:"changed"`
		Target    string `json:"target"`
		Tolerated int64  `json:"tolerated"`
	} `json:"columns"`
	Plan struct {
		Algorithm string   `json:"algorithm"`
		Note      string   `json:"note"`
		Rules     []string `json:"rules"`
	} `json:"plan"`
	Verdict  string  `json:"verdict"`
	ExitCode int     `json:"exit_code"`
	Error    *string `json:"error"`
	Complete bool    `json:"complete"`

	// Differences is the page asked for; Listed is how many the report
	// lists in all.
	Differences []difference `json:"-"`
	Listed      int          `json:"-"`
}

type side struct {
	Name     string `json:"name"`
	Table    string `json:"table"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
	Snapshot *struct {
		Time     string `json:"time"`
		Position string `json:"position"`
	} `json:"snapshot"`
}

type difference struct {
	Kind    string                     `json:"kind"`
	Key     map[string]json.RawMessage `json:"key"`
	Columns []string                   `json:"columns"`
	Source  map[string]json.RawMessage `json:"source"`
	Target  map[string]json.RawMessage `json:"target"`
	Count   int64                      `json:"count"`
	Since   string                     `json:"since"`
}

// maxReportScan bounds how much of a report is read for one page.
const maxReportScan = 1 << 30

// readReport reads the report at path, keeping the differences from
// offset to offset+n. The differences are decoded one at a time, so a
// report listing millions costs memory for one page only. The first read
// of a report indexes it (where every page of n differences starts), and
// later pages of the same file, unchanged, read just their bytes.
func readReport(path string, offset, n int) (*report, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if idx := reportIndexes.get(path, fi); idx != nil && n == idx.page && offset%n == 0 {
		return idx.read(path, offset/n)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lr := &io.LimitedReader{R: f, N: maxReportScan}
	idx := &reportIndex{page: n}
	rep, err := decodeReport(bufio.NewReaderSize(lr, 1<<16), path, offset, n, idx)
	if err != nil && lr.N == 0 {
		return nil, fmt.Errorf("report %s is larger than the %d GiB this page reads: open the file itself (jq reads it as a stream)", path, maxReportScan>>30)
	}
	if err == nil && n > 0 {
		head := *rep
		head.Differences = nil
		idx.head = &head
		reportIndexes.put(path, fi, idx)
	}
	return rep, err
}

// reportIndex is where each page of a report's differences lies.
type reportIndex struct {
	size   int64
	mod    time.Time
	page   int     // differences per page
	head   *report // the report without its differences
	starts []int64 // the offset each page's bytes start at (after the previous difference)
	end    int64   // the offset after the last difference
}

// read returns page p of the report from its bytes.
func (x *reportIndex) read(path string, p int) (*report, error) {
	rep := *x.head
	if p >= len(x.starts) {
		return &rep, nil
	}
	to := x.end
	if p+1 < len(x.starts) {
		to = x.starts[p+1]
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, to-x.starts[p])
	if _, err := f.ReadAt(buf, x.starts[p]); err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	// The page's bytes are its differences, each after a comma but the
	// report's first.
	buf = bytes.TrimLeft(bytes.TrimSpace(buf), ",")
	if err := json.Unmarshal(append(append([]byte{'['}, buf...), ']'), &rep.Differences); err != nil {
		return nil, fmt.Errorf("report %s changed while it was read (%v): reload the page", path, err)
	}
	return &rep, nil
}

// reportIndexes keeps the indexes of the reports read last.
var reportIndexes = &indexCache{m: map[string]*reportIndex{}}

type indexCache struct {
	mu    sync.Mutex
	m     map[string]*reportIndex
	order []string
}

// maxIndexes bounds the reports whose indexes are kept.
const maxIndexes = 32

func (c *indexCache) get(path string, fi os.FileInfo) *reportIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.m[path]
	if x == nil || x.size != fi.Size() || !x.mod.Equal(fi.ModTime()) {
		return nil
	}
	return x
}

func (c *indexCache) put(path string, fi os.FileInfo, x *reportIndex) {
	x.size, x.mod = fi.Size(), fi.ModTime()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[path]; !ok {
		c.order = append(c.order, path)
		if len(c.order) > maxIndexes {
			delete(c.m, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.m[path] = x
}

// decodeReport is readReport's reading of r; path names it in errors. idx,
// when not nil, is given where each page of n differences starts.
func decodeReport(r io.Reader, path string, offset, n int, idx *reportIndex) (*report, error) {
	dec := json.NewDecoder(r)
	rep := &report{}
	bad := func(err error) error { return fmt.Errorf("report %s is not a reconcile JSON report: %w", path, err) }
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, bad(errors.New("it does not hold an object"))
	}
	// The top-level members other than differences are gathered into one
	// object and decoded together.
	rest := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		name, _ := t.(string)
		if name != "differences" {
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, bad(err)
			}
			rest[name] = v
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil, bad(errors.New("differences is not an array"))
		}
		for i := 0; dec.More(); i++ {
			if idx != nil && n > 0 && i%n == 0 {
				idx.starts = append(idx.starts, dec.InputOffset())
			}
			if i < offset || i >= offset+n {
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return nil, bad(err)
				}
			} else {
				var d difference
				if err := dec.Decode(&d); err != nil {
					return nil, bad(err)
				}
				rep.Differences = append(rep.Differences, d)
			}
			rep.Listed++
		}
		if idx != nil {
			idx.end = dec.InputOffset()
		}
		if _, err := dec.Token(); err != nil {
			return nil, bad(err)
		}
	}
	raw, _ := json.Marshal(rest)
	if err := json.Unmarshal(raw, rep); err != nil {
		return nil, bad(err)
	}
	return rep, nil
}

// columnDrift is one column's changed count, for display.
type columnDrift struct {
	Name, Target       string
	Changed, Tolerated int64
}

func (r *report) drift() []columnDrift {
	var out []columnDrift
	for name, c := range r.Columns {
		if c.Changed > 0 || c.Tolerated > 0 {
			out = append(out, columnDrift{name, c.Target, c.Changed, c.Tolerated})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Changed != out[j].Changed {
			return out[i].Changed > out[j].Changed
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// KeyText is the difference's key as col=value pairs.
func (d difference) KeyText() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(d.Key)) {
		parts = append(parts, k+"="+string(d.Key[k]))
	}
	return strings.Join(parts, ", ")
}

// Fields are the values the difference shows: both sides of each changed
// column, or the row present on one side only.
func (d difference) Fields() []change {
	var out []change
	switch d.Kind {
	case "changed":
		for _, c := range d.Columns {
			out = append(out, change{Column: c, Was: text(d.Source[c]), Now: text(d.Target[c])})
		}
	default:
		row, target := d.Source, false
		if len(row) == 0 {
			row, target = d.Target, true
		}
		for _, c := range slices.Sorted(maps.Keys(row)) {
			if target {
				out = append(out, change{Column: c, Now: text(row[c])})
			} else {
				out = append(out, change{Column: c, Was: text(row[c])})
			}
		}
	}
	return out
}

func text(v json.RawMessage) string {
	if v == nil {
		return ""
	}
	return string(v)
}
