package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/rules"
)

// DefaultBatchExpiry is how long a fix-up batch may wait for its apply.
const DefaultBatchExpiry = 24 * time.Hour

// Options is what validation takes from its caller (only cmd reads the
// environment and builds the connector registry).
type Options struct {
	// Lookup reads an environment variable, for ${NAME} and *_env. nil
	// means no variable is set.
	Lookup func(string) (string, bool)
	// KnownScheme reports whether a connector serves a URL scheme
	// (connectors.Registry has one per scheme). nil accepts every scheme.
	KnownScheme func(scheme string) bool
}

// Load reads and validates a config file.
func Load(path string, o Options) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, o)
}

// Parse validates a config held in memory; name is the file name that
// problems are reported against. The error is an errors.Join of every
// *Problem found.
func Parse(name string, data []byte, o Options) (*Plan, error) {
	if o.Lookup == nil {
		o.Lookup = func(string) (string, bool) { return "", false }
	}
	d := &decoder{file: name, lookup: o.Lookup, nodes: map[string]*yaml.Node{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		p := &Problem{File: name, Msg: msg}
		var line int
		if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
			p.Line, p.Column = line, 1
			p.Msg = strings.TrimSpace(msg[strings.IndexByte(msg, ':')+1:])
		}
		return nil, errors.Join(p)
	}
	var extra yaml.Node
	if dec.Decode(&extra) == nil {
		d.problem(&extra, "more than one YAML document in the file")
	}
	if len(doc.Content) == 0 {
		d.problem(nil, "empty config")
		return nil, errors.Join(d.problems...)
	}
	root := doc.Content[0]
	d.walk(root, typeOfFileSpec, "")
	if d.fatal {
		// Shapes are wrong: validating what decodes would only add noise.
		return nil, errors.Join(d.problems...)
	}
	var fs fileSpec
	if err := root.Decode(&fs); err != nil {
		d.problem(root, "decode: %v", err)
		return nil, errors.Join(d.problems...)
	}
	p := d.validate(&fs, o)
	if len(d.problems) > 0 {
		return nil, errors.Join(d.problems...)
	}
	return p, nil
}

// Plan is a validated config. It is immutable: accessors return copies.
type Plan struct {
	file     string
	store    string
	state    string
	timezone *time.Location
	systems  map[string]System
	jobs     map[string]Job
	serve    Serve
}

// File is the path the plan was read from.
func (p *Plan) File() string { return p.file }

// Store is the directory of snapshots, batches and run history ("" when
// not configured).
func (p *Plan) Store() string { return p.store }

// StateSystem is the PostgreSQL system that keeps the run history, so
// that several hosts share it ("" when it is kept in the store).
func (p *Plan) StateSystem() string { return p.state }

// Timezone is the zone schedules are read in.
func (p *Plan) Timezone() *time.Location { return p.timezone }

// Systems lists the system names, sorted.
func (p *Plan) Systems() []string { return slices.Sorted(maps.Keys(p.systems)) }

// System returns a system by name.
func (p *Plan) System(name string) (System, bool) {
	s, ok := p.systems[name]
	return s, ok
}

// Jobs lists the job names, sorted.
func (p *Plan) Jobs() []string { return slices.Sorted(maps.Keys(p.jobs)) }

// Job returns a copy of a job by name.
func (p *Plan) Job(name string) (Job, bool) {
	j, ok := p.jobs[name]
	if !ok {
		return Job{}, false
	}
	return j.clone(), true
}

// String summarises the plan with secrets redacted.
func (p *Plan) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %d system(s), %d job(s)\n", p.file, len(p.systems), len(p.jobs))
	for _, n := range p.Systems() {
		fmt.Fprintf(&sb, "  system %s: %s\n", n, p.systems[n])
	}
	for _, n := range p.Jobs() {
		j := p.jobs[n]
		sched := j.Schedule
		if sched == "" {
			sched = "on demand"
		} else {
			sched += " (" + p.timezone.String() + ")"
		}
		fmt.Fprintf(&sb, "  job %s: %s %s → %d replica(s), key %s, schedule %s, %s\n", n, j.SystemOfRecord.System,
			j.SystemOfRecord.what(), len(j.Replicas), strings.Join(j.Key, ","), sched, j.ConfigHash())
		for _, r := range j.Replicas {
			fmt.Fprintf(&sb, "    replica %s %s\n", r.System, r.what())
		}
	}
	if s := p.serve; s.AuthConfigured() || s.PublicRead {
		var users, tokens []string
		for _, u := range s.Users {
			users = append(users, u.Name)
		}
		for _, t := range s.Tokens {
			tokens = append(tokens, t.String())
		}
		fmt.Fprintf(&sb, "  serve: public_read %t, %d user(s) [%s], %d token(s) [%s]\n", s.PublicRead,
			len(users), strings.Join(users, ", "), len(tokens), strings.Join(tokens, ", "))
	}
	return sb.String()
}

// System is a named data system. Its URL holds the secret it was given
// (password_env) only through URL(); String, Redacted and MarshalJSON
// hide it.
type System struct {
	Name string
	// PasswordEnv names the variable that held the password, if any.
	PasswordEnv string
	url         string // with the password, for connecting
	redacted    string
}

// URL is the location to connect to, with its password.
func (s System) URL() string { return s.url }

// Redacted is the location with every password hidden.
func (s System) Redacted() string { return s.redacted }

// Scheme is the URL scheme (connectors.SchemeOf).
func (s System) Scheme() string { return connectors.SchemeOf(s.url) }

func (s System) String() string { return s.redacted }

// MarshalJSON writes the redacted form.
func (s System) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name        string `json:"name"`
		URL         string `json:"url"`
		PasswordEnv string `json:"password_env,omitempty"`
	}{s.Name, s.redacted, s.PasswordEnv})
}

// Side is what is read from one system: a table (optionally filtered) or
// a query.
type Side struct {
	System string `json:"system"`
	Table  string `json:"table,omitempty"`
	Where  string `json:"where,omitempty"`
	Query  string `json:"query,omitempty"`
}

func (s Side) what() string {
	w := s.Table
	if s.Query != "" {
		w = "query"
	}
	if s.Where != "" {
		w += " where " + s.Where
	}
	return w
}

// Replica is a copy compared with the system of record.
type Replica struct {
	Side
	// Map pairs source column names with the replica's names.
	Map map[string]string `json:"map,omitempty"`
}

// Limits bound what one batch may do.
type Limits struct {
	// MaxChanges is the most operations per batch (0: no limit).
	MaxChanges int64 `json:"max_changes"`
	// MaxFraction is the most operations as a fraction of the target's
	// rows (0: no limit).
	MaxFraction float64 `json:"max_fraction"`
	// MaxShrink is the largest fraction the system of record may shrink
	// by since its previous run and still produce deletes (default
	// DefaultMaxShrink); a system of record that returns zero rows never
	// produces deletes.
	MaxShrink float64 `json:"max_shrink"`
}

// DefaultMaxShrink is Limits.MaxShrink when not given.
const DefaultMaxShrink = 0.5

// Job is one validated job.
type Job struct {
	Name           string
	Schedule       string        // cron expression or macro; "" runs on demand only
	Timeout        time.Duration // 0: none
	SystemOfRecord Side
	Replicas       []Replica
	Key            []string
	Columns        []string // compared columns ("": all)
	Ignore         []string
	InFlight       time.Duration // 0: none
	InFlightColumn string
	Normalize      map[string]rules.Chain
	Tolerance      map[string]rules.Tolerance
	Rules          *rules.Rules
	Limits         Limits
	BatchExpiry    time.Duration
	hash           string
}

// ConfigHash is a stable hash of the job's semantic plan, for snapshot
// and batch manifests: comments, key order and formatting do not change
// it, secrets are not in it ("sha256:…").
func (j Job) ConfigHash() string { return j.hash }

func (j Job) clone() Job {
	j.Replicas = slices.Clone(j.Replicas)
	for i := range j.Replicas {
		j.Replicas[i].Map = maps.Clone(j.Replicas[i].Map)
	}
	j.Key = slices.Clone(j.Key)
	j.Columns = slices.Clone(j.Columns)
	j.Ignore = slices.Clone(j.Ignore)
	j.Normalize = maps.Clone(j.Normalize)
	for k, c := range j.Normalize {
		j.Normalize[k] = slices.Clone(c)
	}
	j.Tolerance = maps.Clone(j.Tolerance)
	return j
}

func (d *decoder) validate(fs *fileSpec, o Options) *Plan {
	p := &Plan{file: d.file, store: fs.Store, timezone: time.UTC, systems: map[string]System{}, jobs: map[string]Job{}}
	if p.store != "" && !filepath.IsAbs(p.store) && d.file != "" {
		// A relative store is relative to the config file, wherever the
		// process runs from (a service's working directory is rarely
		// the config's).
		p.store = filepath.Join(filepath.Dir(d.file), p.store)
	}
	if fs.Timezone != "" {
		loc, err := time.LoadLocation(fs.Timezone)
		if err != nil || strings.EqualFold(fs.Timezone, "local") {
			d.problem(d.at("timezone"), "timezone: unknown zone %q (want an IANA name such as Europe/Paris)", fs.Timezone)
		} else {
			p.timezone = loc
		}
	}
	if len(fs.Systems) == 0 {
		d.problem(d.at(""), "no systems: declare at least one under systems")
	}
	for _, name := range slices.Sorted(maps.Keys(fs.Systems)) {
		s := fs.Systems[name]
		path := "systems." + name
		if s.URL == "" {
			d.problem(d.at(path), "%s: url is required", path)
			continue
		}
		sys := System{Name: name, PasswordEnv: s.PasswordEnv, url: s.URL, redacted: connectors.Redact(s.URL)}
		scheme := connectors.SchemeOf(s.URL)
		if o.KnownScheme != nil && !o.KnownScheme(scheme) {
			d.problem(d.at(path+".url"), "%s.url: no connector for scheme %q", path, scheme)
		}
		if s.PasswordEnv != "" {
			pw, ok := o.Lookup(s.PasswordEnv)
			u, err := url.Parse(s.URL)
			switch {
			case !ok:
				d.problem(d.at(path+".password_env"), "%s.password_env: environment variable %s is not set", path, s.PasswordEnv)
			case err != nil || u.Host == "" && u.Opaque != "":
				d.problem(d.at(path+".url"), "%s.url: password_env needs a URL of the form scheme://user@host/...", path)
			case u.User == nil || u.User.Username() == "":
				d.problem(d.at(path+".url"), "%s.url: password_env needs a user in the URL (scheme://user@host/...)", path)
			default:
				if _, has := u.User.Password(); has {
					d.problem(d.at(path+".url"), "%s.url: holds a password and password_env names another: give one", path)
				}
				u.User = url.UserPassword(u.User.Username(), pw)
				sys.url = u.String()
			}
		}
		p.systems[name] = sys
	}
	if st := fs.State.System; st != "" {
		switch sys, ok := p.systems[st]; {
		case !ok:
			d.problem(d.at("state.system"), "state.system: unknown system %q (declared: %s)", st, strings.Join(slices.Sorted(maps.Keys(p.systems)), ", "))
		case sys.Scheme() != "postgres" && sys.Scheme() != "postgresql":
			d.problem(d.at("state.system"), "state.system: %s is a %s system; the run history is kept in PostgreSQL", st, sys.Scheme())
		default:
			p.state = st
		}
	}
	p.serve = d.serve(fs.Serve, o)
	if len(fs.Jobs) == 0 {
		d.problem(d.at(""), "no jobs: declare at least one under jobs")
	}
	for _, name := range slices.Sorted(maps.Keys(fs.Jobs)) {
		if j, ok := d.job(name, fs.Jobs[name], p); ok {
			p.jobs[name] = j
		}
	}
	return p
}

func (d *decoder) duration(path, s string, min time.Duration) time.Duration {
	if s == "" {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < min {
		d.problem(d.at(path), "%s: want a duration such as 90s, 10m or 24h (at least %s), got %q", path, min, s)
		return 0
	}
	return v
}

func (d *decoder) side(path string, s Side, p *Plan) {
	if s.System == "" {
		d.problem(d.at(path), "%s.system is required", path)
	} else if _, ok := p.systems[s.System]; !ok {
		d.problem(d.at(path+".system"), "%s.system: unknown system %q (declared: %s)", path, s.System, strings.Join(p.Systems(), ", "))
	}
	if s.Table != "" && s.Query != "" {
		d.problem(d.at(path+".query"), "%s: give table or query, not both", path)
	}
	if s.Query != "" && s.Where != "" {
		d.problem(d.at(path+".where"), "%s: where applies to a table; put the filter in the query", path)
	}
}

func (d *decoder) job(name string, js jobSpec, p *Plan) (Job, bool) {
	before := len(d.problems)
	path := "jobs." + name
	j := Job{Name: name, Schedule: strings.TrimSpace(js.Schedule), Key: js.Key, Columns: js.Columns, Ignore: js.Ignore,
		InFlightColumn: js.InFlightColumn, Normalize: map[string]rules.Chain{}, Tolerance: map[string]rules.Tolerance{}}
	if j.Schedule != "" {
		if err := CheckCron(j.Schedule); err != nil {
			d.problem(d.at(path+".schedule"), "%s.schedule: %v", path, err)
		}
	}
	j.Timeout = d.duration(path+".timeout", js.Timeout, time.Second)
	j.InFlight = d.duration(path+".in_flight", js.InFlight, 0)
	if j.InFlight > 0 && j.InFlightColumn == "" {
		j.InFlightColumn = "updated_at"
	}
	if js.InFlightColumn != "" && js.InFlight == "" {
		d.problem(d.at(path+".in_flight_column"), "%s.in_flight_column without in_flight", path)
	}
	j.BatchExpiry = DefaultBatchExpiry
	if js.Batch.Expiry != "" {
		j.BatchExpiry = d.duration(path+".batch.expiry", js.Batch.Expiry, time.Minute)
	}

	sor := Side(js.SystemOfRecord)
	if js.Where != "" && sor.Where == "" && sor.Query == "" {
		sor.Where = js.Where
	}
	d.side(path+".system_of_record", sor, p)
	j.SystemOfRecord = sor
	if len(js.Replicas) == 0 {
		d.problem(d.at(path), "%s.replicas: list at least one replica", path)
	}
	seen := map[string]int{}
	for i, r := range js.Replicas {
		rp := fmt.Sprintf("%s.replicas[%d]", path, i)
		rep := Replica{Side: Side{System: r.System, Table: r.Table, Where: r.Where, Query: r.Query}, Map: r.Map}
		if js.Where != "" && rep.Where == "" && rep.Query == "" {
			rep.Where = js.Where
		}
		if rep.Table == "" && rep.Query == "" {
			rep.Table = sor.Table // a replica's table defaults to the system of record's
		}
		d.side(rp, rep.Side, p)
		target := rep.System + "\x00" + rep.Table + "\x00" + rep.Query
		if prev, dup := seen[target]; dup {
			d.problem(d.at(rp), "%s: the same target as replicas[%d]", rp, prev)
		}
		seen[target] = i
		if rep.System == sor.System && rep.Table == sor.Table && rep.Query == sor.Query {
			d.problem(d.at(rp), "%s: the replica is the system of record itself", rp)
		}
		targets := map[string]string{}
		for _, src := range slices.Sorted(maps.Keys(r.Map)) {
			tgt := r.Map[src]
			if tgt == "" {
				d.problem(d.at(rp+".map."+src), "%s.map.%s: empty target column", rp, src)
			}
			if other, dup := targets[tgt]; dup {
				d.problem(d.at(rp+".map."+src), "%s.map: %s and %s both map to %q", rp, other, src, tgt)
			}
			targets[tgt] = src
		}
		j.Replicas = append(j.Replicas, rep)
	}
	if len(j.Key) == 0 {
		d.problem(d.at(path), "%s.key: name the key column(s)", path)
	}
	for i, k := range j.Key {
		if k == "" {
			d.problem(d.at(fmt.Sprintf("%s.key[%d]", path, i)), "%s.key[%d]: empty column name", path, i)
		}
		if slices.Contains(j.Ignore, k) {
			d.problem(d.at(path+".ignore"), "%s.ignore: %s is a key column", path, k)
		}
	}
	for _, col := range slices.Sorted(maps.Keys(js.Normalize)) {
		if slices.Contains(j.Key, col) {
			// Keys match exactly: a normalised key could pair rows the
			// databases keep apart, and batch verify looks rows up by
			// the key the fix carries (the replica's stored one).
			d.problem(d.at(path+".normalize."+col), "%s.normalize.%s: %s is a key column, and keys match exactly: normalise it in a query (system_of_record.query) instead", path, col, col)
			continue
		}
		c, err := rules.ParseChain(js.Normalize[col])
		if err != nil {
			for _, e := range flatten(err) {
				at := d.at(path + ".normalize." + col)
				var i int
				if _, e2 := fmt.Sscanf(e.Error(), "normaliser %d:", &i); e2 == nil && d.at(fmt.Sprintf("%s.normalize.%s[%d]", path, col, i)) != nil {
					at = d.at(fmt.Sprintf("%s.normalize.%s[%d]", path, col, i))
				}
				d.problem(at, "%s.normalize.%s: %v", path, col, e)
			}
			continue
		}
		j.Normalize[col] = c
	}
	for _, col := range slices.Sorted(maps.Keys(js.Tolerance)) {
		if slices.Contains(j.Key, col) {
			d.problem(d.at(path+".tolerance."+col), "%s.tolerance.%s: %s is a key column, and keys match exactly", path, col, col)
			continue
		}
		t, err := rules.ParseTolerance(js.Tolerance[col])
		if err != nil {
			d.problem(d.at(path+".tolerance."+col), "%s.tolerance.%s: %v", path, col, strings.ReplaceAll(err.Error(), "\n", "; "))
			continue
		}
		j.Tolerance[col] = t
	}
	rs := js.Rules
	if rs.SourceOfTruth != "" {
		if _, ok := p.systems[rs.SourceOfTruth]; !ok {
			d.problem(d.at(path+".rules.source_of_truth"), "%s.rules.source_of_truth: unknown system %q", path, rs.SourceOfTruth)
		} else if rs.SourceOfTruth != sor.System && !slices.ContainsFunc(j.Replicas, func(r Replica) bool { return r.System == rs.SourceOfTruth }) {
			d.problem(d.at(path+".rules.source_of_truth"), "%s.rules.source_of_truth: %s is neither the system of record nor a replica of this job", path, rs.SourceOfTruth)
		}
	}
	r, err := rules.New(rules.Spec{Default: rs.Default, Columns: rs.Columns, SourceOfTruth: rs.SourceOfTruth,
		NewestColumn: rs.NewestColumn, Actions: rs.Actions})
	if err != nil {
		for _, e := range flatten(errors.Unwrap(err)) {
			at := d.at(path + ".rules")
			if where, _, ok := strings.Cut(e.Error(), ":"); ok && d.at(path+".rules."+where) != nil {
				at = d.at(path + ".rules." + where)
			}
			d.problem(at, "%s.rules.%v", path, e)
		}
	}
	j.Rules = r
	lim := js.Limits
	if lim.MaxChanges != nil {
		if *lim.MaxChanges < 1 {
			d.problem(d.at(path+".limits.max_changes"), "%s.limits.max_changes: want at least 1, got %d", path, *lim.MaxChanges)
		}
		j.Limits.MaxChanges = *lim.MaxChanges
	}
	fraction := func(key string, v *float64, dst *float64) {
		if v == nil {
			return
		}
		if math.IsNaN(*v) || *v <= 0 || *v > 1 {
			d.problem(d.at(path+".limits."+key), "%s.limits.%s: want a fraction in (0, 1], got %v", path, key, *v)
		}
		*dst = *v
	}
	fraction("max_fraction", lim.MaxFraction, &j.Limits.MaxFraction)
	j.Limits.MaxShrink = DefaultMaxShrink
	fraction("max_shrink", lim.MaxShrink, &j.Limits.MaxShrink)
	if len(d.problems) > before {
		return Job{}, false
	}
	j.hash = j.computeHash(p)
	return j, true
}

// flatten lists the problems of an errors.Join tree.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// computeHash hashes the semantic plan of the job: its systems' redacted
// locations, sides, key, columns, rules and limits, in a canonical JSON
// (maps sorted by key).
func (j Job) computeHash(p *Plan) string {
	type sysHash struct{ Scheme, Location string }
	systems := map[string]sysHash{}
	add := func(name string) {
		s := p.systems[name]
		u := s.redacted
		if s.PasswordEnv != "" {
			u = connectors.Redact(s.url)
		}
		systems[name] = sysHash{s.Scheme(), u}
	}
	add(j.SystemOfRecord.System)
	for _, r := range j.Replicas {
		add(r.System)
	}
	norm := map[string]string{}
	for k, c := range j.Normalize {
		norm[k] = c.String()
	}
	tol := map[string]string{}
	for k, t := range j.Tolerance {
		tol[k] = t.String()
	}
	plan := struct {
		Version        int
		Systems        map[string]sysHash
		SystemOfRecord Side
		Replicas       []Replica
		Key, Columns   []string
		Ignore         []string
		InFlight       string
		InFlightColumn string
		Normalize      map[string]string
		Tolerance      map[string]string
		Rules          string
		Limits         Limits
		BatchExpiry    string
		Timeout        string
	}{1, systems, j.SystemOfRecord, j.Replicas, j.Key, j.Columns, sortedCopy(j.Ignore), j.InFlight.String(), j.InFlightColumn,
		norm, tol, j.Rules.String(), j.Limits, j.BatchExpiry.String(), j.Timeout.String()}
	b, _ := json.Marshal(plan)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

var typeOfFileSpec = reflect.TypeFor[fileSpec]()
