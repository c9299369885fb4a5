package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// schema is one *hcl.BodySchema literal read from internal/config's source:
// the schemas are unexported, so docgen parses their declarations rather
// than importing them. A new attribute or block appears here as soon as it
// is in a schema, and HCL fails until hcldocs.go describes it.
type schema struct {
	Attrs  []schemaAttr
	Blocks []schemaBlock
}

type schemaAttr struct {
	Name     string
	Required bool
}

type schemaBlock struct {
	Type   string
	Labels []string
}

// readSchemas returns every package-level BodySchema of the Go package in
// dir by variable name; a map of schemas (stepBlockSchemas) becomes
// NAME[KEY] entries, KEY resolved through the package's string constants.
func readSchemas(dir string) (map[string]*schema, error) {
	fset := token.NewFileSet()
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var files []*ast.File
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") {
			continue
		}
		src, err := os.ReadFile(m)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", m, err)
		}
		f, err := parser.ParseFile(fset, m, src, 0)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", m, err)
		}
		files = append(files, f)
	}
	consts := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if bl, ok := vs.Values[i].(*ast.BasicLit); ok && bl.Kind == token.STRING {
							consts[n.Name], _ = strconv.Unquote(bl.Value)
						}
					}
				}
			}
		}
	}
	out := map[string]*schema{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					v := vs.Values[i]
					if u, ok := v.(*ast.UnaryExpr); ok {
						v = u.X
					}
					cl, ok := v.(*ast.CompositeLit)
					if !ok {
						continue
					}
					switch typeName(cl.Type) {
					case "hcl.BodySchema":
						out[n.Name] = parseSchema(cl)
					case "map[string]*hcl.BodySchema":
						for _, e := range cl.Elts {
							kv := e.(*ast.KeyValueExpr)
							key := exprString(kv.Key, consts)
							if s, ok := kv.Value.(*ast.CompositeLit); ok {
								out[n.Name+"["+key+"]"] = parseSchema(s)
							}
						}
					}
				}
			}
		}
	}
	return out, nil
}

func typeName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.SelectorExpr:
		return typeName(t.X) + "." + t.Sel.Name
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return "*" + typeName(t.X)
	case *ast.MapType:
		return "map[" + typeName(t.Key) + "]" + typeName(t.Value)
	}
	return ""
}

func exprString(e ast.Expr, consts map[string]string) string {
	switch x := e.(type) {
	case *ast.BasicLit:
		s, _ := strconv.Unquote(x.Value)
		return s
	case *ast.Ident:
		if v, ok := consts[x.Name]; ok {
			return v
		}
		return x.Name
	}
	return ""
}

func parseSchema(cl *ast.CompositeLit) *schema {
	s := &schema{}
	for _, e := range cl.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		list, ok := kv.Value.(*ast.CompositeLit)
		if !ok {
			continue
		}
		switch kv.Key.(*ast.Ident).Name {
		case "Attributes":
			for _, el := range list.Elts {
				a := schemaAttr{}
				for _, f := range el.(*ast.CompositeLit).Elts {
					fkv := f.(*ast.KeyValueExpr)
					switch fkv.Key.(*ast.Ident).Name {
					case "Name":
						a.Name = exprString(fkv.Value, nil)
					case "Required":
						a.Required = exprString(fkv.Value, nil) == "true"
					}
				}
				s.Attrs = append(s.Attrs, a)
			}
		case "Blocks":
			for _, el := range list.Elts {
				bl := schemaBlock{}
				for _, f := range el.(*ast.CompositeLit).Elts {
					fkv := f.(*ast.KeyValueExpr)
					switch fkv.Key.(*ast.Ident).Name {
					case "Type":
						bl.Type = exprString(fkv.Value, nil)
					case "LabelNames":
						for _, l := range fkv.Value.(*ast.CompositeLit).Elts {
							bl.Labels = append(bl.Labels, exprString(l, nil))
						}
					}
				}
				s.Blocks = append(s.Blocks, bl)
			}
		}
	}
	return s
}

// HCL renders the HCL reference from the schemas in dir.
func HCL(dir string) (string, error) {
	schemas, err := readSchemas(dir)
	if err != nil {
		return "", err
	}
	top := schemas["fileSchema"]
	if top == nil {
		return "", fmt.Errorf("no fileSchema in %s", dir)
	}
	var b strings.Builder
	b.WriteString("# HCL reference\n\n")
	b.WriteString("Every block and argument amibake accepts, generated from the decoder's\n")
	b.WriteString("schemas (internal/config) and the descriptions in internal/docgen/hcldocs.go.\n")
	b.WriteString("Examples and the rules between arguments: [language.md](../language.md).\n\n")
	b.WriteString("| block | where |\n|---|---|\n")
	for _, bl := range top.Blocks {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", header(bl.Type, bl.Labels), bl.Type, blockWhere[bl.Type])
	}
	b.WriteString("\n")
	var missing []string
	used := map[string]bool{}
	var walk func(path string, bl schemaBlock, level int)
	walk = func(path string, bl schemaBlock, level int) {
		fmt.Fprintf(&b, "%s %s\n\n", strings.Repeat("#", level), "`"+headerPath(path, bl)+"`")
		used[path] = true
		doc, ok := blockDocs[path]
		if !ok {
			missing = append(missing, "block "+path)
		}
		if doc != "" {
			b.WriteString(doc + "\n\n")
		}
		if path == "recipe.step" {
			for _, kind := range []string{"script", "inline", "file"} {
				walkSchema(&b, path+"."+kind, schemas["stepBlockSchemas["+kind+"]"], &missing, used, func(string, schemaBlock) {})
			}
			return
		}
		varName, ok := blockSchemas[path]
		if !ok {
			missing = append(missing, "schema of block "+path)
			return
		}
		if varName == "" {
			return // free-form (locals)
		}
		s := schemas[varName]
		if s == nil {
			missing = append(missing, "schema variable "+varName)
			return
		}
		walkSchema(&b, path, s, &missing, used, func(p string, nb schemaBlock) { walk(p, nb, min(level+1, 4)) })
	}
	for _, bl := range top.Blocks {
		walk(bl.Type, bl, 2)
	}
	for key := range attrDocs {
		if !used[key] {
			missing = append(missing, "described but not in any schema: "+key)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("internal/docgen/hcldocs.go is out of step with the schemas:\n  %s", strings.Join(sortStrings(missing), "\n  "))
	}
	return b.String(), nil
}

func walkSchema(b *strings.Builder, path string, s *schema, missing *[]string, used map[string]bool, nested func(string, schemaBlock)) {
	if s == nil {
		*missing = append(*missing, "schema of "+path)
		return
	}
	if strings.HasPrefix(path, "recipe.step.") {
		fmt.Fprintf(b, "`step \"%s\"`:\n\n", strings.TrimPrefix(path, "recipe.step."))
	}
	if len(s.Attrs) > 0 {
		b.WriteString("| argument | type | default | description |\n|---|---|---|---|\n")
		for _, a := range s.Attrs {
			key := path + "." + a.Name
			used[key] = true
			d, ok := attrDocs[key]
			if !ok {
				*missing = append(*missing, "argument "+key)
			}
			def := d.Default
			if a.Required {
				def = "required"
			} else if def == "" {
				def = "—"
			}
			fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", a.Name, d.Type, def, escapeCell(d.Desc))
		}
		b.WriteString("\n")
	}
	var blocks []string
	for _, nb := range s.Blocks {
		blocks = append(blocks, "`"+header(nb.Type, nb.Labels)+"`")
	}
	if len(blocks) > 0 {
		fmt.Fprintf(b, "Blocks: %s.\n\n", strings.Join(blocks, ", "))
	}
	for _, nb := range s.Blocks {
		nested(path+"."+nb.Type, nb)
	}
}

func header(typ string, labels []string) string {
	out := typ
	for _, l := range labels {
		out += fmt.Sprintf(" %q", strings.ToUpper(l))
	}
	return out
}

func headerPath(path string, bl schemaBlock) string {
	parts := strings.Split(path, ".")
	parts[len(parts)-1] = header(bl.Type, bl.Labels)
	return strings.Join(parts, " › ")
}

func sortStrings(in []string) []string {
	m := map[string]bool{}
	for _, s := range in {
		m[s] = true
	}
	return sortedKeys(m)
}
