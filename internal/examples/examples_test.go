package examples_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// The example project lives at the repository root. These tests read it with
// hclsyntax only, so they hold whatever state internal/config is in.

type hclFile struct {
	rel  string // slash path relative to the repository root
	src  []byte
	body *hclsyntax.Body
}

type project struct {
	root string

	rootFiles   []*hclFile // *.hcl beside amibake.hcl
	layerFiles  []*hclFile
	recipeFiles map[string]*hclFile // recipe directory name → recipe.hcl
	fleetFiles  []*hclFile

	projects  []*hclsyntax.Block
	variables map[string]*hclsyntax.Block
	locals    map[string]bool
	baselines map[string]*hclsyntax.Block
	layers    map[string]*hclsyntax.Block
	recipes   map[string]*hclsyntax.Block // label → block
	fleets    map[string]*hclsyntax.Block
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func parseFile(t *testing.T, root, rel string) *hclFile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", rel, diags.Error())
	}
	return &hclFile{rel: rel, src: src, body: f.Body.(*hclsyntax.Body)}
}

func glob(t *testing.T, root, pattern string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
	if err != nil {
		t.Fatal(err)
	}
	rels := make([]string, 0, len(matches))
	for _, m := range matches {
		rel, err := filepath.Rel(root, m)
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, filepath.ToSlash(rel))
	}
	sort.Strings(rels)
	return rels
}

func loadProject(t *testing.T) *project {
	t.Helper()
	root := repoRoot(t)
	p := &project{
		root:        root,
		recipeFiles: map[string]*hclFile{},
		variables:   map[string]*hclsyntax.Block{},
		locals:      map[string]bool{},
		baselines:   map[string]*hclsyntax.Block{},
		layers:      map[string]*hclsyntax.Block{},
		recipes:     map[string]*hclsyntax.Block{},
		fleets:      map[string]*hclsyntax.Block{},
	}
	if _, err := os.Stat(filepath.Join(root, "amibake.hcl")); err != nil {
		t.Fatalf("the example project needs amibake.hcl at the repository root: %v", err)
	}

	for _, rel := range glob(t, root, "*.hcl") {
		f := parseFile(t, root, rel)
		p.rootFiles = append(p.rootFiles, f)
		for _, b := range f.body.Blocks {
			switch b.Type {
			case "project":
				p.projects = append(p.projects, b)
			case "variable":
				addUnique(t, f, b, p.variables)
			case "patch_baseline":
				addUnique(t, f, b, p.baselines)
			case "locals":
				for name := range b.Body.Attributes {
					if p.locals[name] {
						t.Errorf("%s: local %q declared twice", f.rel, name)
					}
					p.locals[name] = true
				}
			default:
				t.Errorf("%s:%d: block %q does not belong beside amibake.hcl (project, variable, locals, patch_baseline)",
					f.rel, b.TypeRange.Start.Line, b.Type)
			}
		}
	}

	for _, rel := range glob(t, root, "layers/*.hcl") {
		f := parseFile(t, root, rel)
		p.layerFiles = append(p.layerFiles, f)
		for _, b := range f.body.Blocks {
			if b.Type != "layer" {
				t.Errorf("%s:%d: only layer blocks belong in layers/, found %q", f.rel, b.TypeRange.Start.Line, b.Type)
				continue
			}
			addUnique(t, f, b, p.layers)
		}
	}

	entries, err := os.ReadDir(filepath.Join(root, "recipes"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		rel := "recipes/" + e.Name() + "/recipe.hcl"
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			t.Errorf("recipes/%s: no recipe.hcl", e.Name())
			continue
		}
		f := parseFile(t, root, rel)
		p.recipeFiles[e.Name()] = f
		for _, b := range f.body.Blocks {
			if b.Type != "recipe" {
				t.Errorf("%s:%d: only a recipe block belongs in recipe.hcl, found %q", f.rel, b.TypeRange.Start.Line, b.Type)
				continue
			}
			addUnique(t, f, b, p.recipes)
		}
	}

	for _, rel := range glob(t, root, "fleets/*.hcl") {
		f := parseFile(t, root, rel)
		p.fleetFiles = append(p.fleetFiles, f)
		for _, b := range f.body.Blocks {
			if b.Type != "fleet" {
				t.Errorf("%s:%d: only fleet blocks belong in fleets/, found %q", f.rel, b.TypeRange.Start.Line, b.Type)
				continue
			}
			addUnique(t, f, b, p.fleets)
		}
	}
	return p
}

func addUnique(t *testing.T, f *hclFile, b *hclsyntax.Block, m map[string]*hclsyntax.Block) {
	t.Helper()
	if len(b.Labels) != 1 {
		t.Errorf("%s:%d: %s block needs exactly one label", f.rel, b.TypeRange.Start.Line, b.Type)
		return
	}
	name := b.Labels[0]
	if prev, ok := m[name]; ok {
		t.Errorf("%s:%d: %s %q already declared at %s", f.rel, b.TypeRange.Start.Line, b.Type, name, prev.TypeRange)
		return
	}
	m[name] = b
}

func (p *project) allFiles() []*hclFile {
	var all []*hclFile
	all = append(all, p.rootFiles...)
	all = append(all, p.layerFiles...)
	for _, name := range sortedKeys(p.recipeFiles) {
		all = append(all, p.recipeFiles[name])
	}
	return append(all, p.fleetFiles...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// literalString returns the value of an expression that needs no context.
func literalString(expr hcl.Expression) (string, bool) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// refName returns X for an expression that is exactly `kind.X`.
func refName(expr hcl.Expression, kind string) (string, bool) {
	trav, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(trav) != 2 || trav.RootName() != kind {
		return "", false
	}
	attr, ok := trav[1].(hcl.TraverseAttr)
	if !ok {
		return "", false
	}
	return attr.Name, true
}

func traversalName(trav hcl.Traversal) string {
	if len(trav) < 2 {
		return ""
	}
	if attr, ok := trav[1].(hcl.TraverseAttr); ok {
		return attr.Name
	}
	return ""
}

func blocksOf(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

func pos(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

func TestFilesParseAndAreFormatted(t *testing.T) {
	p := loadProject(t)
	if len(p.allFiles()) == 0 {
		t.Fatal("no HCL files found")
	}
	for _, f := range p.allFiles() {
		if want := hclwrite.Format(f.src); !bytes.Equal(want, f.src) {
			t.Errorf("%s is not in canonical HCL format (hclwrite.Format / terraform fmt style)", f.rel)
		}
	}
}

func TestProject(t *testing.T) {
	p := loadProject(t)
	if len(p.projects) != 1 {
		t.Fatalf("want exactly one project block beside amibake.hcl, found %d", len(p.projects))
	}
	proj := p.projects[0]
	for _, attr := range []string{"regions", "ami_name"} {
		if _, ok := proj.Body.Attributes[attr]; !ok {
			t.Errorf("project %q: %s is missing", proj.Labels[0], attr)
		}
	}
	for name, v := range p.variables {
		for _, val := range blocksOf(v.Body, "validation") {
			cond, ok := val.Body.Attributes["condition"]
			if !ok {
				t.Errorf("%s: validation of variable %q has no condition", pos(val.TypeRange), name)
				continue
			}
			// A validation may only look at its own variable.
			for _, trav := range cond.Expr.Variables() {
				if trav.RootName() != "var" || traversalName(trav) != name {
					t.Errorf("%s: validation of variable %q refers to %s", pos(trav.SourceRange()), name, trav.RootName())
				}
			}
		}
	}
}

func TestLayers(t *testing.T) {
	p := loadProject(t)
	if len(p.layers) == 0 {
		t.Fatal("no layers")
	}
	for _, f := range p.layerFiles {
		stem := strings.TrimSuffix(filepath.Base(f.rel), ".hcl")
		if len(f.body.Blocks) != 1 || len(f.body.Blocks[0].Labels) != 1 || f.body.Blocks[0].Labels[0] != stem {
			t.Errorf("%s: want exactly one block `layer %q`", f.rel, stem)
		}
	}

	for _, name := range sortedKeys(p.layers) {
		b := p.layers[name]
		attrs := b.Body.Attributes
		parentAttr, hasParent := attrs["parent"]
		hasSource := len(blocksOf(b.Body, "source")) > 0
		if hasParent == hasSource {
			t.Errorf("%s: layer %q needs exactly one of parent and a source block", pos(b.TypeRange), name)
		}
		if hasParent {
			if _, ok := refName(parentAttr.Expr, "layer"); !ok {
				t.Errorf("%s: layer %q: parent must be layer.NAME", pos(parentAttr.SrcRange), name)
			}
		}

		// recipes = [recipe.A, recipe.B]
		listed := map[string]bool{}
		if ra, ok := attrs["recipes"]; !ok {
			t.Errorf("%s: layer %q has no recipes attribute (use recipes = [] for none)", pos(b.TypeRange), name)
		} else if tuple, ok := ra.Expr.(*hclsyntax.TupleConsExpr); !ok {
			t.Errorf("%s: layer %q: recipes must be a list of recipe.NAME", pos(ra.SrcRange), name)
		} else {
			for _, e := range tuple.Exprs {
				r, ok := refName(e, "recipe")
				if !ok {
					t.Errorf("%s: layer %q: recipes entries must be recipe.NAME", pos(e.Range()), name)
					continue
				}
				if listed[r] {
					t.Errorf("%s: layer %q lists recipe %q twice", pos(e.Range()), name, r)
				}
				listed[r] = true
			}
		}

		// inputs = { recipe = { input = value } }: only for listed recipes,
		// only declared inputs, every required input given.
		given := map[string]map[string]bool{}
		if ia, ok := attrs["inputs"]; ok {
			obj, ok := ia.Expr.(*hclsyntax.ObjectConsExpr)
			if !ok {
				t.Errorf("%s: layer %q: inputs must be an object of objects", pos(ia.SrcRange), name)
			} else {
				for _, item := range obj.Items {
					r := hcl.ExprAsKeyword(item.KeyExpr)
					if !listed[r] {
						t.Errorf("%s: layer %q passes inputs to %q, which is not in its recipes", pos(item.KeyExpr.Range()), name, r)
					}
					inner, ok := item.ValueExpr.(*hclsyntax.ObjectConsExpr)
					if !ok {
						t.Errorf("%s: layer %q: inputs.%s must be an object", pos(item.ValueExpr.Range()), name, r)
						continue
					}
					given[r] = map[string]bool{}
					for _, in := range inner.Items {
						inName := hcl.ExprAsKeyword(in.KeyExpr)
						given[r][inName] = true
						rb, ok := p.recipes[r]
						if !ok {
							continue // reported by the recipe reference check
						}
						if !recipeHasInput(rb, inName) {
							t.Errorf("%s: layer %q sets input %q that recipe %q does not declare", pos(in.KeyExpr.Range()), name, inName, r)
						}
					}
				}
			}
		}
		for r := range listed {
			rb, ok := p.recipes[r]
			if !ok {
				continue
			}
			for _, in := range blocksOf(rb.Body, "input") {
				if _, hasDefault := in.Body.Attributes["default"]; !hasDefault && !given[r][in.Labels[0]] {
					t.Errorf("%s: layer %q does not set the required input %q of recipe %q", pos(b.TypeRange), name, in.Labels[0], r)
				}
			}
		}
	}

	// Every parent chain ends at a root layer, without cycles.
	for _, name := range sortedKeys(p.layers) {
		seen := map[string]bool{}
		cur := name
		for {
			if seen[cur] {
				t.Errorf("layer %q: parent chain loops at %q", name, cur)
				break
			}
			seen[cur] = true
			b, ok := p.layers[cur]
			if !ok {
				break // unknown parent: reported by TestReferences
			}
			pa, ok := b.Body.Attributes["parent"]
			if !ok {
				break
			}
			cur, _ = refName(pa.Expr, "layer")
		}
	}
}

func recipeHasInput(rb *hclsyntax.Block, name string) bool {
	for _, in := range blocksOf(rb.Body, "input") {
		if in.Labels[0] == name {
			return true
		}
	}
	return false
}

var (
	semver     = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	octalMode  = regexp.MustCompile(`^0[0-7]{3}$`)
	inputTypes = []string{"string", "number", "bool"}
)

func TestRecipes(t *testing.T) {
	p := loadProject(t)
	if len(p.recipes) == 0 {
		t.Fatal("no recipes")
	}
	for _, dir := range sortedKeys(p.recipeFiles) {
		f := p.recipeFiles[dir]
		if len(f.body.Blocks) != 1 || len(f.body.Blocks[0].Labels) != 1 || f.body.Blocks[0].Labels[0] != dir {
			t.Errorf("%s: want exactly one block `recipe %q` (label == directory name)", f.rel, dir)
			continue
		}
		b := f.body.Blocks[0]
		recipeDir := filepath.Join(p.root, "recipes", dir)

		if v, ok := b.Body.Attributes["version"]; !ok {
			t.Errorf("%s: recipe %q has no version", f.rel, dir)
		} else if s, ok := literalString(v.Expr); !ok || !semver.MatchString(s) {
			t.Errorf("%s: recipe %q: version must be a literal MAJOR.MINOR.PATCH", pos(v.SrcRange), dir)
		}
		if _, ok := b.Body.Attributes["description"]; !ok {
			t.Errorf("%s: recipe %q has no description", f.rel, dir)
		}

		for _, in := range blocksOf(b.Body, "input") {
			ta, ok := in.Body.Attributes["type"]
			if !ok || !slices.Contains(inputTypes, hcl.ExprAsKeyword(ta.Expr)) {
				t.Errorf("%s: input %q needs type = string, number or bool", pos(in.TypeRange), in.Labels[0])
			}
		}

		referenced := map[string]bool{"recipe.hcl": true}
		steps := blocksOf(b.Body, "step")
		if len(steps) == 0 {
			t.Errorf("%s: recipe %q has no steps", f.rel, dir)
		}
		for i, s := range steps {
			where := fmt.Sprintf("%s: recipe %q step %d (%s)", pos(s.TypeRange), dir, i, strings.Join(s.Labels, ""))
			if len(s.Labels) != 1 {
				t.Errorf("%s: a step needs one label: script, inline or file", where)
				continue
			}
			a := s.Body.Attributes
			var pathAttrs []string
			var allowed []string
			switch s.Labels[0] {
			case "script":
				pathAttrs, allowed = []string{"path"}, []string{"name", "path", "env"}
			case "inline":
				allowed = []string{"name", "commands", "env"}
				if _, ok := a["commands"]; !ok {
					t.Errorf("%s: inline step has no commands", where)
				}
			case "file":
				pathAttrs, allowed = []string{"source"}, []string{"name", "source", "destination", "mode"}
				if d, ok := a["destination"]; !ok {
					t.Errorf("%s: file step has no destination", where)
				} else if s, ok := literalString(d.Expr); !ok || !strings.HasPrefix(s, "/") {
					t.Errorf("%s: file step destination must be a literal absolute path", where)
				}
				if m, ok := a["mode"]; ok {
					if s, ok := literalString(m.Expr); !ok || !octalMode.MatchString(s) {
						t.Errorf("%s: file step mode must be a string like \"0644\"", where)
					}
				}
			default:
				t.Errorf("%s: unknown step kind %q", where, s.Labels[0])
				continue
			}
			for attr := range a {
				if !slices.Contains(allowed, attr) {
					t.Errorf("%s: attribute %q does not belong in a %s step", where, attr, s.Labels[0])
				}
			}
			for _, pa := range pathAttrs {
				attr, ok := a[pa]
				if !ok {
					t.Errorf("%s: %s step has no %s", where, s.Labels[0], pa)
					continue
				}
				rel, ok := literalString(attr.Expr)
				if !ok || rel == "" || filepath.IsAbs(rel) || strings.Contains(rel, "..") {
					t.Errorf("%s: %s must be a literal path inside the recipe directory", where, pa)
					continue
				}
				st, err := os.Stat(filepath.Join(recipeDir, filepath.FromSlash(rel)))
				if err != nil || st.IsDir() {
					t.Errorf("%s: %s %q: no such file in recipes/%s", where, pa, rel, dir)
					continue
				}
				referenced[filepath.ToSlash(filepath.Clean(rel))] = true
				if s.Labels[0] == "script" && !strings.HasSuffix(rel, ".sh") {
					t.Errorf("%s: script %q should end in .sh", where, rel)
				}
			}
		}

		// Fingerprints hash the files steps reference; a file no step
		// references is dead weight or a forgotten step.
		err := filepath.WalkDir(recipeDir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(recipeDir, path)
			if !referenced[filepath.ToSlash(rel)] {
				t.Errorf("recipes/%s/%s is not referenced by any step", dir, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReferences checks every traversal in every expression: var.X, local.X,
// layer.X, recipe.X, patch_baseline.X and input.X must name something that
// exists, and each kind may appear only where it makes sense.
func TestReferences(t *testing.T) {
	p := loadProject(t)
	usedRecipes := map[string]bool{}

	// allowed: root name → check. nil context kinds are rejected.
	check := func(t *testing.T, where string, trav hcl.Traversal, allowed map[string]func(string) bool) {
		t.Helper()
		root := trav.RootName()
		ok, known := allowed[root]
		if !known {
			t.Errorf("%s: %s: %q references are not allowed here", where, pos(trav.SourceRange()), root)
			return
		}
		if ok == nil { // a bare name such as ${project} in ami_name
			return
		}
		name := traversalName(trav)
		if name == "" || !ok(name) {
			t.Errorf("%s: %s: %s.%s does not exist", where, pos(trav.SourceRange()), root, name)
		}
		if root == "recipe" {
			usedRecipes[name] = true
		}
	}
	exists := func(m map[string]*hclsyntax.Block) func(string) bool {
		return func(n string) bool { _, ok := m[n]; return ok }
	}
	common := map[string]func(string) bool{
		"var":   exists(p.variables),
		"local": func(n string) bool { return p.locals[n] },
	}
	with := func(extra map[string]func(string) bool) map[string]func(string) bool {
		out := map[string]func(string) bool{}
		for k, v := range common {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}

	// Root files: var and local; ami_name also sees its late-bound names.
	amiName := map[string]func(string) bool{
		"project": nil, "layer": nil, "fingerprint": nil, "fingerprint_short": nil, "timestamp": nil,
	}
	for _, f := range p.rootFiles {
		walkBody(f.body, nil, func(path []string, attr string, expr hclsyntax.Expression) {
			allowed := common
			if len(path) == 1 && path[0] == "project" && attr == "ami_name" {
				allowed = amiName
			}
			for _, trav := range expr.Variables() {
				check(t, f.rel, trav, allowed)
			}
		})
	}

	layerCtx := with(map[string]func(string) bool{
		"layer":          exists(p.layers),
		"recipe":         exists(p.recipes),
		"patch_baseline": exists(p.baselines),
	})
	for _, f := range append(append([]*hclFile{}, p.layerFiles...), p.fleetFiles...) {
		walkBody(f.body, nil, func(_ []string, _ string, expr hclsyntax.Expression) {
			for _, trav := range expr.Variables() {
				check(t, f.rel, trav, layerCtx)
			}
		})
	}

	// Recipes see only their own inputs: a recipe is reusable across
	// projects, so project variables reach it through a layer's inputs.
	for _, dir := range sortedKeys(p.recipeFiles) {
		f := p.recipeFiles[dir]
		rb, ok := p.recipes[dir]
		if !ok {
			continue
		}
		ctx := map[string]func(string) bool{
			"input": func(n string) bool { return recipeHasInput(rb, n) },
		}
		walkBody(f.body, nil, func(_ []string, _ string, expr hclsyntax.Expression) {
			for _, trav := range expr.Variables() {
				check(t, f.rel, trav, ctx)
			}
		})
	}

	for _, name := range sortedKeys(p.recipes) {
		if !usedRecipes[name] {
			t.Errorf("recipe %q is not used by any layer", name)
		}
	}
}

// walkBody calls fn for every attribute expression, with the block types on
// the way down. Type constraints (`type = string` in variable and input
// blocks) are keywords, not references, and are skipped.
func walkBody(body *hclsyntax.Body, path []string, fn func(path []string, attr string, expr hclsyntax.Expression)) {
	for _, name := range sortedKeys(body.Attributes) {
		if name == "type" && len(path) > 0 && (path[len(path)-1] == "variable" || path[len(path)-1] == "input") {
			continue
		}
		fn(path, name, body.Attributes[name].Expr)
	}
	for _, b := range body.Blocks {
		walkBody(b.Body, append(slices.Clip(path), b.Type), fn)
	}
}

// TestSensitiveVariables: a sensitive variable may only feed recipe inputs
// that are themselves sensitive, so it never ends up in a tag, a name or a
// non-sensitive input that amibake would print.
func TestSensitiveVariables(t *testing.T) {
	p := loadProject(t)
	sensitive := map[string]bool{}
	for name, v := range p.variables {
		if a, ok := v.Body.Attributes["sensitive"]; ok {
			if val, diags := a.Expr.Value(nil); !diags.HasErrors() && val.Type() == cty.Bool && val.True() {
				sensitive[name] = true
			}
		}
	}
	isSensitiveRef := func(expr hcl.Expression) (string, bool) {
		for _, trav := range expr.Variables() {
			if trav.RootName() == "var" && sensitive[traversalName(trav)] {
				return traversalName(trav), true
			}
		}
		return "", false
	}

	for _, f := range append(append([]*hclFile{}, p.rootFiles...), p.fleetFiles...) {
		walkBody(f.body, nil, func(_ []string, attr string, expr hclsyntax.Expression) {
			if v, ok := isSensitiveRef(expr); ok {
				t.Errorf("%s: sensitive variable %q used in %s; only layer inputs to sensitive recipe inputs may use it", f.rel, v, attr)
			}
		})
	}
	for _, f := range p.layerFiles {
		for _, b := range f.body.Blocks {
			for attrName, attr := range b.Body.Attributes {
				if attrName != "inputs" {
					if v, ok := isSensitiveRef(attr.Expr); ok {
						t.Errorf("%s: sensitive variable %q used in %s", pos(attr.SrcRange), v, attrName)
					}
					continue
				}
				obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr)
				if !ok {
					continue
				}
				for _, item := range obj.Items {
					r := hcl.ExprAsKeyword(item.KeyExpr)
					inner, ok := item.ValueExpr.(*hclsyntax.ObjectConsExpr)
					if !ok {
						continue
					}
					for _, in := range inner.Items {
						v, ok := isSensitiveRef(in.ValueExpr)
						if !ok {
							continue
						}
						inName := hcl.ExprAsKeyword(in.KeyExpr)
						if !recipeInputSensitive(p.recipes[r], inName) {
							t.Errorf("%s: sensitive variable %q feeds %s.%s, which is not a sensitive input", pos(in.ValueExpr.Range()), v, r, inName)
						}
					}
				}
			}
			for _, nested := range b.Body.Blocks {
				walkBody(nested.Body, nil, func(_ []string, attr string, expr hclsyntax.Expression) {
					if v, ok := isSensitiveRef(expr); ok {
						t.Errorf("%s: sensitive variable %q used in %s.%s", f.rel, v, nested.Type, attr)
					}
				})
			}
		}
	}
}

func recipeInputSensitive(rb *hclsyntax.Block, name string) bool {
	if rb == nil {
		return false
	}
	for _, in := range blocksOf(rb.Body, "input") {
		if in.Labels[0] != name {
			continue
		}
		a, ok := in.Body.Attributes["sensitive"]
		if !ok {
			return false
		}
		v, diags := a.Expr.Value(nil)
		return !diags.HasErrors() && v.Type() == cty.Bool && v.True()
	}
	return false
}

func TestFleets(t *testing.T) {
	p := loadProject(t)
	for _, name := range sortedKeys(p.fleets) {
		b := p.fleets[name]
		a := b.Body.Attributes
		if la, ok := a["layer"]; !ok {
			t.Errorf("%s: fleet %q has no layer", pos(b.TypeRange), name)
		} else if _, ok := refName(la.Expr, "layer"); !ok {
			t.Errorf("%s: fleet %q: layer must be layer.NAME", pos(la.SrcRange), name)
		}
		strategy := ""
		if sa, ok := a["strategy"]; ok {
			strategy, _ = literalString(sa.Expr)
		}
		_, hasASG := a["asg"]
		hasTargets := len(blocksOf(b.Body, "targets")) > 0
		switch strategy {
		case "replace":
			if !hasASG || hasTargets {
				t.Errorf("%s: replace fleet %q needs asg and no targets block", pos(b.TypeRange), name)
			}
		case "in-place":
			if hasASG || !hasTargets {
				t.Errorf("%s: in-place fleet %q needs a targets block and no asg", pos(b.TypeRange), name)
			}
		default:
			t.Errorf("%s: fleet %q: strategy must be \"replace\" or \"in-place\", got %q", pos(b.TypeRange), name, strategy)
		}
		if len(blocksOf(b.Body, "retire")) != 1 {
			t.Errorf("%s: fleet %q needs one retire block", pos(b.TypeRange), name)
		}
	}
}

// dnfLine is the one shape of package command the sandbox understands:
// one command per line, literal package names, NAME or NAME-VERSION.
var (
	dnfCommand = regexp.MustCompile(`^\s*dnf\s`)
	dnfLine    = regexp.MustCompile(`^dnf (install|remove|upgrade) -y( --security)?( [A-Za-z0-9][A-Za-z0-9._+-]*)*$`)
)

func TestScripts(t *testing.T) {
	root := repoRoot(t)
	scripts := glob(t, root, "recipes/*/*.sh")
	if len(scripts) == 0 {
		t.Fatal("no recipe scripts")
	}
	for _, rel := range scripts {
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(src, []byte("#!/usr/bin/env bash\n")) {
			t.Errorf("%s: first line must be #!/usr/bin/env bash", rel)
		}
		if bytes.Contains(src, []byte("\r")) {
			t.Errorf("%s: CRLF line endings", rel)
		}
		sc := bufio.NewScanner(bytes.NewReader(src))
		line, strict := 0, false
		for sc.Scan() {
			line++
			text := sc.Text()
			trimmed := strings.TrimSpace(text)
			if trimmed == "set -euo pipefail" {
				strict = true
			}
			if strings.HasPrefix(trimmed, "#") {
				continue
			}
			if trimmed == "set -x" || strings.HasPrefix(trimmed, "set -x ") || strings.Contains(trimmed, "set -o xtrace") {
				t.Errorf("%s:%d: no tracing in recipe scripts: it would print inputs, sensitive ones too", rel, line)
			}
			if dnfCommand.MatchString(text) && !dnfLine.MatchString(trimmed) {
				t.Errorf("%s:%d: %q: package commands must be one literal line: dnf install|remove|upgrade -y [--security] NAME[-VERSION]...", rel, line, trimmed)
			}
		}
		if !strict {
			t.Errorf("%s: no `set -euo pipefail` line", rel)
		}
	}

	if bash, err := exec.LookPath("bash"); err == nil {
		for _, rel := range scripts {
			out, err := exec.Command(bash, "-n", filepath.Join(root, filepath.FromSlash(rel))).CombinedOutput()
			if err != nil {
				t.Errorf("bash -n %s: %v\n%s", rel, err, out)
			}
		}
	} else {
		t.Log("bash not found; syntax check skipped")
	}

	if sc, err := exec.LookPath("shellcheck"); err == nil {
		args := []string{"--shell=bash", "--severity=style", "--external-sources"}
		for _, rel := range scripts {
			args = append(args, filepath.Join(root, filepath.FromSlash(rel)))
		}
		if out, err := exec.Command(sc, args...).CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s", err, out)
		}
	} else {
		t.Log("shellcheck not found; lint skipped (apt-get install -y shellcheck)")
	}
}
