package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// validator checks a document against the parts of JSON Schema (draft
// 2020-12) that docs/report.schema.json uses: type, required, properties,
// additionalProperties, items, enum, const, pattern, minimum, allOf,
// if/then and local $ref. Anything else in the schema is an error, so the
// schema cannot silently outgrow the check.
type validator struct {
	root map[string]any
	errs []string
}

var schemaKeywords = map[string]bool{
	"$schema": true, "$id": true, "$defs": true, "$ref": true, "title": true, "description": true,
	"type": true, "required": true, "properties": true, "additionalProperties": true, "items": true,
	"enum": true, "const": true, "pattern": true, "minimum": true, "minItems": true, "allOf": true, "if": true, "then": true,
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, path+": "+fmt.Sprintf(format, args...))
}

// valid reports whether doc matches s, recording errors when record is set.
func (v *validator) check(s map[string]any, doc any, path string) {
	for k := range s {
		if !schemaKeywords[k] {
			v.errorf(path, "schema keyword %q is not supported by the test validator", k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		def, found := v.root["$defs"].(map[string]any)[name].(map[string]any)
		if !ok || !found {
			v.errorf(path, "unresolvable $ref %q", ref)
			return
		}
		v.check(def, doc, path)
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(t string) bool { return hasType(doc, t) }) {
			v.errorf(path, "want type %v, got %s", types, describe(doc))
			return
		}
	}
	if c, ok := s["const"]; ok && !equal(c, doc) {
		v.errorf(path, "want %v, got %v", c, doc)
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return equal(x, doc) }) {
		v.errorf(path, "%v is not one of %v", doc, e)
	}
	if p, ok := s["pattern"].(string); ok {
		if str, isStr := doc.(string); isStr && !regexp.MustCompile(p).MatchString(str) {
			v.errorf(path, "%q does not match %s", str, p)
		}
	}
	if m, ok := s["minimum"].(json.Number); ok {
		if n, isNum := doc.(json.Number); isNum {
			a, _ := n.Float64()
			b, _ := m.Float64()
			if a < b {
				v.errorf(path, "%v is below the minimum %v", n, m)
			}
		}
	}
	if obj, ok := doc.(map[string]any); ok {
		for _, r := range asList(s["required"]) {
			if _, present := obj[r.(string)]; !present {
				v.errorf(path, "missing required member %q", r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, val := range obj {
			switch ps, named := props[k].(map[string]any); {
			case named:
				v.check(ps, val, path+"."+k)
			case s["additionalProperties"] == false:
				v.errorf(path, "unexpected member %q", k)
			default:
				if as, ok := s["additionalProperties"].(map[string]any); ok {
					v.check(as, val, path+"."+k)
				}
			}
		}
	}
	if arr, ok := doc.([]any); ok {
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range arr {
				v.check(items, x, fmt.Sprintf("%s[%d]", path, i))
			}
		}
		if m, ok := s["minItems"].(json.Number); ok {
			if n, _ := m.Int64(); int64(len(arr)) < n {
				v.errorf(path, "%d items, want at least %d", len(arr), n)
			}
		}
	}
	for _, sub := range asList(s["allOf"]) {
		v.check(sub.(map[string]any), doc, path)
	}
	if cond, ok := s["if"].(map[string]any); ok {
		probe := validator{root: v.root}
		probe.check(cond, doc, path)
		if then, ok := s["then"].(map[string]any); ok && len(probe.errs) == 0 {
			v.check(then, doc, path)
		}
	}
}

func asList(x any) []any { l, _ := x.([]any); return l }

func hasType(doc any, t string) bool {
	switch t {
	case "object":
		_, ok := doc.(map[string]any)
		return ok
	case "array":
		_, ok := doc.([]any)
		return ok
	case "string":
		_, ok := doc.(string)
		return ok
	case "boolean":
		_, ok := doc.(bool)
		return ok
	case "null":
		return doc == nil
	case "number":
		_, ok := doc.(json.Number)
		return ok
	case "integer":
		n, ok := doc.(json.Number)
		return ok && !strings.ContainsAny(n.String(), ".eE")
	}
	return false
}

func describe(doc any) string {
	if doc == nil {
		return "null"
	}
	return reflect.TypeOf(doc).String()
}

func equal(a, b any) bool {
	na, okA := a.(json.Number)
	nb, okB := b.(json.Number)
	if okA && okB {
		fa, _ := na.Float64()
		fb, _ := nb.Float64()
		return fa == fb
	}
	return reflect.DeepEqual(a, b)
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
	return v
}

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return decodeNumbers(t, b).(map[string]any)
}

// checkSchema fails the test when out does not match the documented contract.
func checkSchema(t *testing.T, out []byte) {
	t.Helper()
	v := validator{root: loadSchema(t)}
	v.check(v.root, decodeNumbers(t, out), "$")
	for _, e := range v.errs {
		t.Error(e)
	}
}

func TestJSONMatchesSchema(t *testing.T) {
	for name, mk := range runs {
		t.Run(name, func(t *testing.T) { checkSchema(t, render(t, "json", mk())) })
	}
}

// The validator must catch what it claims to check.
func TestSchemaCheckerRejects(t *testing.T) {
	good := render(t, "json", fullRun())
	for name, edit := range map[string]func(m map[string]any){
		"missing member":    func(m map[string]any) { delete(m, "summary") },
		"extra member":      func(m map[string]any) { m["surprise"] = true },
		"bad checksum":      func(m map[string]any) { m["source"].(map[string]any)["checksum"] = "9F1C" },
		"bad verdict":       func(m map[string]any) { m["verdict"] = "fine" },
		"null list":         func(m map[string]any) { m["key"] = nil },
		"negative count":    func(m map[string]any) { m["summary"].(map[string]any)["missing"] = json.Number("-1") },
		"error, no error":   func(m map[string]any) { m["complete"] = false },
		"changed sans cols": func(m map[string]any) { delete(m["differences"].([]any)[2].(map[string]any), "columns") },
		"bad kind":          func(m map[string]any) { m["differences"].([]any)[0].(map[string]any)["kind"] = "gone" },
	} {
		doc := decodeNumbers(t, good).(map[string]any)
		edit(doc)
		v := validator{root: loadSchema(t)}
		v.check(v.root, doc, "$")
		if len(v.errs) == 0 {
			t.Errorf("%s: not rejected", name)
		}
	}
}
