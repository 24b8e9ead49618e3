package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// docs/config.schema.json names exactly the keys the decoder accepts.
func TestSchemaMatchesDecoder(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "config.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	if root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema %v", root["$schema"])
	}
	defs, _ := root["$defs"].(map[string]any)
	resolve := func(s map[string]any) map[string]any {
		for {
			ref, ok := s["$ref"].(string)
			if !ok {
				return s
			}
			name, ok := strings.CutPrefix(ref, "#/$defs/")
			def, ok2 := defs[name].(map[string]any)
			if !ok || !ok2 {
				t.Fatalf("bad $ref %s", ref)
			}
			s = def
		}
	}
	var walk func(typ reflect.Type, s map[string]any, path string)
	walk = func(typ reflect.Type, s map[string]any, path string) {
		s = resolve(s)
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		switch typ.Kind() {
		case reflect.Struct:
			props, _ := s["properties"].(map[string]any)
			if s["additionalProperties"] != false {
				t.Errorf("%s: the schema must set additionalProperties: false", path)
			}
			keys := yamlKeys(typ)
			var goKeys, schemaKeys []string
			for k := range keys {
				goKeys = append(goKeys, k)
			}
			for k := range props {
				schemaKeys = append(schemaKeys, k)
			}
			sort.Strings(goKeys)
			sort.Strings(schemaKeys)
			if !slices.Equal(goKeys, schemaKeys) {
				t.Errorf("%s: decoder keys %v, schema keys %v", orRoot(path), goKeys, schemaKeys)
			}
			for k, i := range keys {
				if p, ok := props[k].(map[string]any); ok {
					walk(typ.Field(i).Type, p, join(path, k))
				}
			}
		case reflect.Map:
			if _, keyed := s["properties"]; keyed {
				return // a map the rules package validates key by key (actions, tolerance)
			}
			ap, ok := s["additionalProperties"].(map[string]any)
			if !ok {
				t.Errorf("%s: the schema lacks additionalProperties for a map", path)
				return
			}
			walk(typ.Elem(), ap, path+".*")
		case reflect.Slice:
			items, ok := s["items"].(map[string]any)
			if !ok {
				t.Errorf("%s: the schema lacks items for a list", path)
				return
			}
			walk(typ.Elem(), items, path+"[]")
		}
	}
	walk(typeOfFileSpec, root, "")
}
