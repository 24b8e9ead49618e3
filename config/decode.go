package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a config file, at a position.
type Problem struct {
	File         string
	Line, Column int
	Msg          string
}

func (p *Problem) Error() string {
	if p.Line == 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Msg)
}

// decoder walks the YAML tree against the spec types: it reports unknown
// and duplicate keys and mistyped values with their positions, expands
// ${ENV} in scalars, and records the node of every path for validation.
type decoder struct {
	file     string
	lookup   func(string) (string, bool)
	problems []error
	nodes    map[string]*yaml.Node
	// expanded holds the paths whose value had a ${NAME} replaced.
	expanded map[string]bool
	visited  int
	// fatal is set by a problem after which the decoded values cannot be
	// trusted (a wrong shape, a variable not set); unknown and duplicate
	// keys are not fatal, so validation still reports what else is wrong.
	fatal bool
}

// keyHints explain unknown keys that are likely mistakes. Like every
// unknown-key problem, they never quote the key's value (here, a secret).
var keyHints = map[reflect.Type]map[string]string{
	reflect.TypeFor[tokenSpec](): {"token": "a token is never written in the config; put it in an environment variable and name that variable in token_env"},
	reflect.TypeFor[userSpec]():  {"password": "the config keeps no password, only its bcrypt hash, in password_hash (make one with 'reconcile hash-password')"},
}

// maxNodes bounds the walk: aliases can make a small file a huge tree.
const maxNodes = 200_000

// budget counts a node and reports whether the walk may go on.
func (d *decoder) budget(n *yaml.Node) bool {
	d.visited++
	if d.visited == maxNodes+1 {
		d.fatalProblem(n, "the document expands to more than %d values (aliases nested too deep?)", maxNodes)
	}
	return d.visited <= maxNodes
}

func (d *decoder) fatalProblem(n *yaml.Node, format string, args ...any) {
	d.fatal = true
	d.problem(n, format, args...)
}

func (d *decoder) problem(n *yaml.Node, format string, args ...any) {
	p := &Problem{File: d.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

// at returns the node of a path, or nil.
func (d *decoder) at(path string) *yaml.Node { return d.nodes[path] }

func yamlKeys(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			out[tag] = i
		}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) walk(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if !d.budget(n) {
		return
	}
	d.nodes[path] = n
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value: the field keeps its zero value
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fatalProblem(n, "%s: want a mapping, got %s", path, kindName(n))
			return
		}
		keys := yamlKeys(t)
		d.eachKey(n, path, func(k string, kn, vn *yaml.Node) {
			i, ok := keys[k]
			if !ok {
				names := make([]string, 0, len(keys))
				for name := range keys {
					names = append(names, name)
				}
				sort.Strings(names)
				msg := fmt.Sprintf("unknown key %q in %s (accepted: %s)", k, orRoot(path), strings.Join(names, ", "))
				if hint, ok := keyHints[t][k]; ok {
					msg += ": " + hint
				}
				d.problem(kn, "%s", msg)
				return
			}
			d.walk(vn, t.Field(i).Type, join(path, k))
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fatalProblem(n, "%s: want a mapping, got %s", path, kindName(n))
			return
		}
		d.eachKey(n, path, func(k string, _, vn *yaml.Node) {
			d.walk(vn, t.Elem(), join(path, k))
		})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fatalProblem(n, "%s: want a list, got %s", path, kindName(n))
			return
		}
		for i, c := range n.Content {
			d.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Interface:
		d.walkAny(n, path)
	default:
		if n.Kind != yaml.ScalarNode {
			d.fatalProblem(n, "%s: want a %s, got %s", path, scalarName(t), kindName(n))
			return
		}
		if !d.expand(n, path) {
			return // reported; the value is not what the file means
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			d.fatalProblem(n, "%s: want a %s, got %q", path, scalarName(t), n.Value)
		}
	}
}

// walkAny checks an untyped subtree: duplicate keys, ${ENV} in scalars.
func (d *decoder) walkAny(n *yaml.Node, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if !d.budget(n) {
		return
	}
	d.nodes[path] = n
	switch n.Kind {
	case yaml.MappingNode:
		d.eachKey(n, path, func(k string, _, vn *yaml.Node) { d.walkAny(vn, join(path, k)) })
	case yaml.SequenceNode:
		for i, c := range n.Content {
			d.walkAny(c, fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.ScalarNode:
		d.expand(n, path)
	}
}

func (d *decoder) eachKey(n *yaml.Node, path string, f func(k string, kn, vn *yaml.Node)) {
	seen := map[string]*yaml.Node{}
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			d.fatalProblem(kn, "%s: keys must be plain names", orRoot(path))
			continue
		}
		if prev, dup := seen[kn.Value]; dup {
			// Reported and dropped, so that decoding keeps the first.
			d.problem(kn, "duplicate key %q in %s (first at line %d)", kn.Value, orRoot(path), prev.Line)
			continue
		}
		seen[kn.Value] = kn
		kept = append(kept, kn, vn)
		f(kn.Value, kn, vn)
	}
	n.Content = kept
}

func orRoot(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func scalarName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "whole number"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "true or false"
	}
	return "string"
}

// expand replaces ${NAME} in a scalar with the variable's value; $$ is a
// literal $. A variable that is not set is a problem at the scalar, and
// expand reports false. Such a problem does not stop validation (a URL
// with ${HOST} in it still has its scheme checked), so that every unset
// variable is reported at once.
func (d *decoder) expand(n *yaml.Node, path string) bool {
	if !strings.Contains(n.Value, "$") {
		return true
	}
	var sb strings.Builder
	s := n.Value
	changed := false
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			sb.WriteString(s)
			break
		}
		sb.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "$$"):
			sb.WriteByte('$')
			s = s[2:]
			changed = true
		case strings.HasPrefix(s, "${"):
			end := strings.IndexByte(s, '}')
			if end < 0 {
				d.fatalProblem(n, "%s: unclosed ${ in %q", path, n.Value)
				return false
			}
			name := s[2:end]
			if !validEnvName(name) {
				d.fatalProblem(n, "%s: bad variable name %q in ${...}", path, name)
				return false
			}
			v, ok := d.lookup(name)
			if !ok {
				d.problem(n, "%s: environment variable %s is not set", path, name)
				return false
			}
			sb.WriteString(v)
			s = s[end+1:]
			changed = true
		default:
			sb.WriteByte('$')
			s = s[1:]
		}
	}
	if changed {
		// Re-resolve, as if the value had been written plainly: "${MAX}"
		// reads as a number where a number is wanted.
		n.Value, n.Tag, n.Style = sb.String(), "", 0
		if d.expanded == nil {
			d.expanded = map[string]bool{}
		}
		d.expanded[path] = true
	}
	return true
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
