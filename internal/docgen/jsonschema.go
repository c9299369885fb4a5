package main

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/cmdutil"
)

// JSONDir holds one JSON Schema per command's --output json document;
// JSONIndex (docs/reference/json.md) lists them between markers.
const (
	JSONDir   = "docs/reference/json"
	JSONIndex = "docs/reference/json.md"
)

const (
	beginJSONIndex = "<!-- BEGIN GENERATED: JSON documents (make generate) -->"
	endJSONIndex   = "<!-- END GENERATED -->"
)

// JSONSchemaFile is where the schema of d is written.
func JSONSchemaFile(d root.JSONDocument) string {
	return fmt.Sprintf("%s/%s.v%d.json", JSONDir, strings.ReplaceAll(d.Command, " ", "-"), d.Version)
}

// JSONSchemas returns every command's schema file by path, and the index
// table for docs/reference/json.md.
func JSONSchemas() (map[string][]byte, string, error) {
	files := map[string][]byte{}
	var index strings.Builder
	index.WriteString("| command | schema id | schema |\n|---|---|---|\n")
	for _, d := range root.JSONDocuments() {
		data, err := JSONSchema(d)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", d.Command, err)
		}
		name := JSONSchemaFile(d)
		files[name] = data
		id := "`" + d.ID() + "`"
		if k := d.Type.Kind(); k == reflect.Slice || k == reflect.Array {
			id = "(array: no id field)"
		}
		fmt.Fprintf(&index, "| `amibake %s` | %s | [%s](json/%s) |\n", d.Command, id, strings.TrimPrefix(name, JSONDir+"/"), strings.TrimPrefix(name, JSONDir+"/"))
	}
	return files, index.String(), nil
}

// JSONSchema is the JSON Schema (draft 2020-12) of d's document, derived
// from its Go type the way encoding/json encodes it. Objects are closed
// (additionalProperties false) so that a field added to a report type
// without regenerating fails the staleness test and the output validation.
func JSONSchema(d root.JSONDocument) ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}, names: map[reflect.Type]string{}}
	top := g.inline(d.Type)
	doc := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       "amibake " + d.Command + " --output json",
		"description": "Generated from the Go report type " + d.Type.String() + " by go run ./internal/docgen; see docs/reference/json.md for the versioning rules.",
	}
	if obj, ok := top["properties"].(map[string]any); ok {
		obj[cmdutil.SchemaField] = map[string]any{"const": d.ID(), "description": "the schema id of this document"}
		top["required"] = append([]string{cmdutil.SchemaField}, top["required"].([]string)...)
	}
	for k, v := range top {
		doc[k] = v
	}
	if len(g.defs) > 0 {
		doc["$defs"] = g.defs
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type schemaGen struct {
	defs  map[string]any
	names map[reflect.Type]string
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	jsonMarshaler     = reflect.TypeFor[json.Marshaler]()
	textMarshaler     = reflect.TypeFor[encoding.TextMarshaler]()
	emptyObjectSchema = func() map[string]any { return map[string]any{} }
)

// inline is the schema of t without a $ref at the top (the document).
func (g *schemaGen) inline(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Struct && !custom(t) {
		return g.object(t)
	}
	return g.schema(t)
}

func custom(t reflect.Type) bool {
	return t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) ||
		t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() != reflect.Pointer && custom(t):
		if t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) {
			return map[string]any{"description": "custom encoding (" + t.String() + ")"}
		}
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Pointer:
		return nullable(g.schema(t.Elem()))
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": []string{"string", "null"}, "contentEncoding": "base64"}
		}
		return map[string]any{"type": []string{"array", "null"}, "items": g.schema(t.Elem())}
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		return map[string]any{"$ref": "#/$defs/" + g.define(t)}
	}
	return emptyObjectSchema() // interfaces: anything
}

// define registers the named struct t under $defs (once; recursion-safe).
func (g *schemaGen) define(t reflect.Type) string {
	if name, ok := g.names[t]; ok {
		return name
	}
	base := t.PkgPath()
	if i := strings.LastIndex(base, "/"); i >= 0 {
		base = base[i+1:]
	}
	name := base + "." + t.Name()
	for n := 2; g.defs[name] != nil; n++ {
		name = fmt.Sprintf("%s.%s%d", base, t.Name(), n)
	}
	g.names[t] = name
	g.defs[name] = true // placeholder while its fields refer back to it
	g.defs[name] = g.object(t)
	return name
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	required := []string{}
	g.fields(t, props, &required, map[string]bool{})
	sort.Strings(required)
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// fields adds t's encoded fields the way encoding/json walks them:
// embedded structs without a name tag are flattened (outer fields win),
// "-" and unexported fields are skipped, omitempty fields are optional.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string, optional map[string]bool) {
	var embedded []reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !custom(ft) {
				embedded = append(embedded, f)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := props[name]; dup {
			continue
		}
		s := g.schema(f.Type)
		if strings.Contains(opts, "string") {
			s = map[string]any{"type": "string"}
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
	for _, f := range embedded {
		ft := f.Type
		inner := []string{}
		if ft.Kind() == reflect.Pointer {
			// A nil embedded pointer leaves its fields out.
			g.fields(ft.Elem(), props, &inner, optional)
			continue
		}
		g.fields(ft, props, &inner, optional)
		*required = append(*required, inner...)
	}
}

// nullable lets s also be null (a nil pointer).
func nullable(s map[string]any) map[string]any {
	switch typ := s["type"].(type) {
	case string:
		s["type"] = []string{typ, "null"}
		return s
	case []string:
		for _, v := range typ {
			if v == "null" {
				return s
			}
		}
		s["type"] = append(typ, "null")
		return s
	}
	if len(s) == 0 || (len(s) == 1 && s["description"] != nil) {
		return s
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}
