package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// LoadOptions are the inputs of a load besides the files themselves.
type LoadOptions struct {
	// Vars are -var NAME=VALUE settings in string form: the raw text for
	// string-typed (or untyped) variables, an HCL expression otherwise.
	Vars map[string]string
	// VarFiles are -var-file paths (files of NAME = value attributes),
	// applied in order. Relative paths are relative to the project dir.
	VarFiles []string
	// Env is the environment in os.Environ() form, read for
	// AMIBAKE_VAR_NAME values and by the env() function.
	Env []string
	// Now is what timestamp() returns; the zero value means time.Now().
	Now time.Time
}

// RootFile is the conventional name of the file holding the project block.
const RootFile = "amibake.hcl"

// fileKind says which blocks a file may hold, by where it is.
type fileKind int

const (
	rootFile   fileKind = iota // amibake.hcl and other *.hcl beside it
	layerFile                  // layers/*.hcl
	recipeFile                 // recipes/NAME/recipe.hcl
	fleetFile                  // fleets/*.hcl
)

type projectFile struct {
	name      string // relative to the project dir, forward slashes
	kind      fileKind
	recipeDir string // recipes/NAME, for recipe files
}

// fileSchema lists every top-level block so that a block in the wrong
// file gets "belongs in …" rather than "Unsupported block type".
var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "project", LabelNames: []string{"name"}},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "patch_baseline", LabelNames: []string{"name"}},
		{Type: "layer", LabelNames: []string{"name"}},
		{Type: "recipe", LabelNames: []string{"name"}},
		{Type: "fleet", LabelNames: []string{"name"}},
	},
}

// blockPlaces is where each top-level block type may appear.
var blockPlaces = map[string]fileKind{
	"project":        rootFile,
	"variable":       rootFile,
	"locals":         rootFile,
	"patch_baseline": rootFile,
	"layer":          layerFile,
	"recipe":         recipeFile,
	"fleet":          fleetFile,
}

var placeHints = map[fileKind]string{
	rootFile:   "%s blocks belong in amibake.hcl (or another .hcl file beside it).",
	layerFile:  "%s blocks belong in layers/*.hcl: move this block to layers/%s.hcl.",
	recipeFile: "%s blocks belong in recipes/<name>/recipe.hcl, one per directory: move this block to recipes/%s/recipe.hcl.",
	fleetFile:  "%s blocks belong in fleets/*.hcl: move this block to fleets/%s.hcl.",
}

// located is a block with the file it came from.
type located struct {
	block *hcl.Block
	file  projectFile
}

type loader struct {
	dir    string
	opts   LoadOptions
	parser *Parser
	cfg    *Config
	env    map[string]string
	vars   map[string]*variableDecl
	blocks map[string][]located // by block type, in file order
	files  []projectFile
}

// Load reads the project in dir: amibake.hcl and any other *.hcl beside it,
// layers/*.hcl, recipes/NAME/recipe.hcl and fleets/*.hcl, in sorted order.
// It decodes everything it can and returns every problem it finds; the
// Config is never nil and, with errors, is partial but usable for careful
// static analysis. Layer cycles and reachability are internal/graph's job.
func Load(dir string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	ld := &loader{
		dir:    dir,
		opts:   opts,
		parser: NewParser(dir),
		cfg: &Config{
			Dir:            dir,
			Variables:      map[string]*Variable{},
			Locals:         map[string]*Local{},
			Layers:         map[string]*Layer{},
			Recipes:        map[string]*Recipe{},
			Fleets:         map[string]*Fleet{},
			PatchBaselines: map[string]*PatchBaseline{},
		},
		env:    envMap(opts.Env),
		vars:   map[string]*variableDecl{},
		blocks: map[string][]located{},
	}
	diags := ld.load()
	ld.cfg.Sources = ld.parser.Sources()
	return ld.cfg, diags
}

func (ld *loader) load() hcl.Diagnostics {
	files, diags := discoverFiles(ld.dir)
	if diags.HasErrors() {
		return diags
	}
	ld.files = files
	// Syntax errors stop the load after every file is parsed: decoding
	// half a file mostly produces noise about what is missing.
	parseDiags := ld.parseFiles()
	diags = append(diags, parseDiags...)
	if parseDiags.HasErrors() {
		return diags
	}

	diags = append(diags, ld.decodeVariables()...)
	diags = append(diags, ld.setVariableValues()...)

	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{},
		Functions: functions(functionEnv{dir: ld.dir, env: ld.env, now: ld.opts.Now}),
	}
	varVals := map[string]cty.Value{}
	for name, v := range ld.vars {
		varVals[name] = v.Value
	}
	ctx.Variables["var"] = cty.ObjectVal(varVals)

	diags = append(diags, ld.decodeLocals()...)
	sc := &scope{ctx: ctx, vars: namesOf(ld.cfg.Variables), locals: namesOf(ld.cfg.Locals)}
	tainted, d := ld.evaluateLocals(sc)
	diags = append(diags, d...)
	localVals := map[string]cty.Value{}
	for name, l := range ld.cfg.Locals {
		localVals[name] = l.Value
	}
	ctx.Variables["local"] = cty.ObjectVal(localVals)
	ld.cfg.evalCtx = ctx

	diags = append(diags, ld.checkVariableValidations(sc)...)
	diags = append(diags, ld.decodeProject(sc)...)
	diags = append(diags, ld.decodeNamedBlocks(sc)...)
	diags = append(diags, ld.crossCheck()...)
	diags = append(diags, ld.timestampWarnings(tainted)...)
	return diags
}

// discoverFiles lists the project's HCL files in a stable order.
func discoverFiles(dir string) ([]projectFile, hcl.Diagnostics) {
	var files []projectFile
	var diags hcl.Diagnostics
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read project directory",
			Detail:   fmt.Sprintf("The project directory %s could not be read: %s.", dir, unwrapPathError(err)),
		}}
	}
	for _, e := range entries {
		if isConfigFile(e) && !strings.HasSuffix(e.Name(), VarFileSuffix) {
			files = append(files, projectFile{name: e.Name(), kind: rootFile})
		}
	}
	for _, sub := range []struct {
		dir  string
		kind fileKind
	}{{"layers", layerFile}, {"fleets", fleetFile}} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub.dir))
		for _, e := range entries {
			if isConfigFile(e) {
				files = append(files, projectFile{name: sub.dir + "/" + e.Name(), kind: sub.kind})
			}
		}
	}
	recipeEntries, _ := os.ReadDir(filepath.Join(dir, "recipes"))
	for _, e := range recipeEntries {
		name := e.Name()
		switch {
		case isConfigFile(e):
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Misplaced recipe file",
				Detail:   fmt.Sprintf("recipes/%s is not read: each recipe lives in its own directory, as recipes/%s/recipe.hcl.", name, strings.TrimSuffix(name, ".hcl")),
			})
		case e.IsDir() && !isIgnoredName(name):
			rel := "recipes/" + name
			if st, err := os.Stat(filepath.Join(dir, "recipes", name, "recipe.hcl")); err != nil || st.IsDir() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "Recipe directory without recipe.hcl",
					Detail:   fmt.Sprintf("%s/ has no recipe.hcl, so it declares no recipe.", rel),
				})
				continue
			}
			files = append(files, projectFile{name: rel + "/recipe.hcl", kind: recipeFile, recipeDir: rel})
		}
	}
	return files, diags
}

// VarFileSuffix marks variable files (-var-file) beside amibake.hcl: the
// loader skips them, since they hold values, not configuration.
const VarFileSuffix = ".vars.hcl"

func isConfigFile(e os.DirEntry) bool {
	return !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") && !isIgnoredName(e.Name())
}

// isIgnoredName skips hidden files and editor leftovers, as Terraform does.
func isIgnoredName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"))
}

// parseFiles parses every file and sorts its top-level blocks by type,
// reporting blocks that are in the wrong kind of file.
func (ld *loader) parseFiles() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, pf := range ld.files {
		f, d := ld.parser.LoadHCLFile(pf.name)
		diags = append(diags, d...)
		if f == nil || d.HasErrors() {
			continue
		}
		content, d := f.Body.Content(fileSchema)
		diags = append(diags, d...)
		var recipes []*hcl.Block
		for _, b := range content.Blocks {
			if want := blockPlaces[b.Type]; want != pf.kind {
				name := "NAME"
				if len(b.Labels) > 0 {
					name = b.Labels[0]
				}
				hint := placeHints[want]
				if want == rootFile {
					hint = fmt.Sprintf(hint, b.Type)
				} else {
					hint = fmt.Sprintf(hint, b.Type, name)
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Misplaced %s block", b.Type),
					Detail:   hint,
					Subject:  b.DefRange.Ptr(),
				})
				continue
			}
			if b.Type == "recipe" {
				recipes = append(recipes, b)
			}
			ld.blocks[b.Type] = append(ld.blocks[b.Type], located{block: b, file: pf})
		}
		if pf.kind == recipeFile {
			diags = append(diags, checkRecipeFile(pf, recipes, f)...)
		}
	}
	return diags
}

// checkRecipeFile enforces one recipe block per recipe.hcl, named after
// its directory.
func checkRecipeFile(pf projectFile, recipes []*hcl.Block, f *hcl.File) hcl.Diagnostics {
	dirName := strings.TrimPrefix(pf.recipeDir, "recipes/")
	switch {
	case len(recipes) == 0:
		start := hcl.Range{Filename: pf.name, Start: hcl.InitialPos, End: hcl.InitialPos}
		if body, ok := f.Body.(*hclsyntax.Body); ok {
			start = body.SrcRange
			start.End = start.Start
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing recipe block",
			Detail:   fmt.Sprintf("%s must declare the recipe: recipe %q { version = \"1.0.0\" ... }.", pf.name, dirName),
			Subject:  start.Ptr(),
		}}
	case len(recipes) > 1:
		var diags hcl.Diagnostics
		for _, b := range recipes[1:] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "More than one recipe in a file",
				Detail:   fmt.Sprintf("Each recipe lives in its own directory: move recipe %q to recipes/%s/recipe.hcl.", b.Labels[0], b.Labels[0]),
				Subject:  b.DefRange.Ptr(),
			})
		}
		return diags
	}
	if label := recipes[0].Labels[0]; label != dirName {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Recipe name does not match its directory",
			Detail: fmt.Sprintf("The recipe in %s must be named %q, after its directory; or move it to recipes/%s/recipe.hcl.",
				pf.name, dirName, label),
			Subject: recipes[0].LabelRanges[0].Ptr(),
		}}
	}
	return nil
}

func (ld *loader) decodeVariables() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, lb := range ld.blocks["variable"] {
		v, d := decodeVariableBlock(lb.block)
		diags = append(diags, d...)
		if first, dup := ld.vars[v.Name]; dup {
			diags = append(diags, duplicate("variable", v.Name, first.DeclRange, v.DeclRange))
			continue
		}
		ld.vars[v.Name] = v
		ld.cfg.Variables[v.Name] = v.Variable
	}
	return diags
}

func (ld *loader) decodeLocals() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, lb := range ld.blocks["locals"] {
		locals, d := decodeLocalsBlock(lb.block)
		diags = append(diags, d...)
		for _, l := range locals {
			if first, dup := ld.cfg.Locals[l.Name]; dup {
				diags = append(diags, duplicate("local value", l.Name, first.DeclRange, l.DeclRange))
				continue
			}
			ld.cfg.Locals[l.Name] = l
		}
	}
	return diags
}

func (ld *loader) decodeProject(sc *scope) hcl.Diagnostics {
	blocks := ld.blocks["project"]
	if len(blocks) == 0 {
		detail := `Every project declares exactly one project "NAME" { regions = [...] } block, in amibake.hcl.`
		if _, err := os.Stat(filepath.Join(ld.dir, RootFile)); err != nil {
			detail += fmt.Sprintf(" There is no amibake.hcl in %s: run amibake in the project directory, or pass --chdir DIR.", ld.dir)
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing project block",
			Detail:   detail,
			Subject:  &hcl.Range{Filename: RootFile, Start: hcl.InitialPos, End: hcl.InitialPos},
		}}
	}
	p, diags := decodeProjectBlock(blocks[0].block, sc)
	ld.cfg.Project = p
	for _, lb := range blocks[1:] {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate project block",
			Detail:   fmt.Sprintf("A project was already declared at %s; a project has exactly one project block.", p.DeclRange),
			Subject:  lb.block.DefRange.Ptr(),
		})
	}
	return diags
}

// decodeNamedBlocks decodes patch baselines, layers, recipes and fleets,
// rejecting duplicate names across files.
func (ld *loader) decodeNamedBlocks(sc *scope) hcl.Diagnostics {
	var diags hcl.Diagnostics
	c := ld.cfg
	for _, lb := range ld.blocks["patch_baseline"] {
		pb, d := decodePatchBaselineBlock(lb.block, sc)
		diags = append(diags, d...)
		if first, dup := c.PatchBaselines[pb.Name]; dup {
			diags = append(diags, duplicate("patch baseline", pb.Name, first.DeclRange, pb.DeclRange))
			continue
		}
		c.PatchBaselines[pb.Name] = pb
	}
	for _, lb := range ld.blocks["layer"] {
		l, d := decodeLayerBlock(lb.block, sc)
		diags = append(diags, d...)
		if first, dup := c.Layers[l.Name]; dup {
			diags = append(diags, duplicate("layer", l.Name, first.DeclRange, l.DeclRange))
			continue
		}
		c.Layers[l.Name] = l
	}
	for _, lb := range ld.blocks["recipe"] {
		r, d := decodeRecipeBlock(lb.block, lb.file.recipeDir, ld.dir, sc)
		diags = append(diags, d...)
		// The directory is the recipe's identity (checkRecipeFile reports a
		// label that differs), so references to recipe.DIR still resolve.
		r.Name = strings.TrimPrefix(lb.file.recipeDir, "recipes/")
		if first, dup := c.Recipes[r.Name]; dup {
			diags = append(diags, duplicate("recipe", r.Name, first.DeclRange, r.DeclRange))
			continue
		}
		c.Recipes[r.Name] = r
	}
	for _, lb := range ld.blocks["fleet"] {
		f, d := decodeFleetBlock(lb.block, sc)
		diags = append(diags, d...)
		if first, dup := c.Fleets[f.Name]; dup {
			diags = append(diags, duplicate("fleet", f.Name, first.DeclRange, f.DeclRange))
			continue
		}
		c.Fleets[f.Name] = f
	}
	return diags
}

// crossCheck resolves references between blocks of different files:
// parents, recipes (and the inputs a layer passes them), patch baselines
// and fleet layers. Cycles and reachability are internal/graph's.
func (ld *loader) crossCheck() hcl.Diagnostics {
	var diags hcl.Diagnostics
	c := ld.cfg
	layerNames, recipeNames, baselineNames := keys(c.Layers), keys(c.Recipes), keys(c.PatchBaselines)
	const (
		whereLayer    = "Layers are declared in layers/*.hcl."
		whereRecipe   = "Recipes are declared in recipes/NAME/recipe.hcl."
		whereBaseline = `Patch baselines are declared in amibake.hcl with patch_baseline "NAME" {}.`
	)
	checkPatch := func(p *PatchRef) {
		if p != nil && p.Baseline != "" && c.PatchBaselines[p.Baseline] == nil {
			diags = append(diags, undeclared("patch_baseline", p.Baseline, baselineNames, whereBaseline, p.BaselineRange))
		}
	}
	for _, name := range layerNames {
		l := c.Layers[name]
		if l.Parent != "" && c.Layers[l.Parent] == nil {
			diags = append(diags, undeclared("layer", l.Parent, layerNames, whereLayer, l.ParentRange))
		}
		for _, ref := range l.Recipes {
			r := c.Recipes[ref.Name]
			if r == nil {
				diags = append(diags, undeclared("recipe", ref.Name, recipeNames, whereRecipe, ref.Range))
				continue
			}
			_, d := r.ResolveInputs(ref)
			diags = append(diags, d...)
		}
		checkPatch(l.Patch)
	}
	diags = append(diags, checkSharedEncryption(c.Project, c.Layers)...)
	for _, name := range keys(c.Fleets) {
		f := c.Fleets[name]
		if f.Layer != "" && c.Layers[f.Layer] == nil {
			diags = append(diags, undeclared("layer", f.Layer, layerNames, whereLayer, f.LayerRange))
		}
		checkPatch(f.Patch)
	}
	return diags
}

// unfingerprintedLayerSettings are the layer arguments that never reach
// the fingerprint (graph.IgnoredSettings): timestamp() there is harmless.
var unfingerprintedLayerSettings = map[string]bool{
	"instance_type": true, "regions": true, "share_with": true, "tags": true, "patch": true,
}

// timestampWarnings flags timestamp() in the layer and recipe settings that
// make up a fingerprint, directly or through a local value: it changes
// every run, and so would the fingerprint, forcing a rebuild every time.
func (ld *loader) timestampWarnings(taintedLocals map[string]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	const summary = "timestamp() in a fingerprinted setting"
	const why = "timestamp() returns the time of the run, so this value changes every run, and with it the layer's fingerprint: every plan would rebuild the image. For unique AMI names use ${timestamp} in project.ami_name; for a fixed date pass a variable."
	check := func(node hclsyntax.Node) {
		for _, rng := range timestampCallsIn(node) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: why, Subject: rng.Ptr()})
		}
		hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
			ref, ok := n.(*hclsyntax.ScopeTraversalExpr)
			if !ok || ref.Traversal.RootName() != "local" {
				return nil
			}
			if name, ok := traversalName(ref.Traversal); ok && taintedLocals[name] {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  summary,
					Detail:   fmt.Sprintf("local.%s uses timestamp(). %s", name, why),
					Subject:  ref.SrcRange.Ptr(),
				})
			}
			return nil
		})
	}
	for _, pf := range ld.files {
		f := ld.parser.files[pf.name]
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		switch pf.kind {
		case recipeFile:
			check(body)
		case layerFile:
			for _, b := range body.Blocks {
				for _, name := range keys(b.Body.Attributes) {
					if !unfingerprintedLayerSettings[name] {
						check(b.Body.Attributes[name])
					}
				}
				for _, nested := range b.Body.Blocks {
					if !unfingerprintedLayerSettings[nested.Type] {
						check(nested)
					}
				}
			}
		}
	}
	return diags
}

// EvalContext returns a context for evaluating expressions of this project
// (var., local. and every function), such as a recipe step's env through
// Recipe.ResolveSteps. Each call returns a fresh child, so callers may add
// variables without affecting others.
func (c *Config) EvalContext() *hcl.EvalContext {
	if c.evalCtx == nil {
		// A Config built by hand (tests): derive one from its fields.
		vars, locals := map[string]cty.Value{}, map[string]cty.Value{}
		for n, v := range c.Variables {
			if v.Value != cty.NilVal {
				vars[n] = v.Value
			}
		}
		for n, l := range c.Locals {
			if l.Value != cty.NilVal {
				locals[n] = l.Value
			}
		}
		c.evalCtx = &hcl.EvalContext{
			Variables: map[string]cty.Value{"var": cty.ObjectVal(vars), "local": cty.ObjectVal(locals)},
			Functions: functions(functionEnv{dir: c.Dir, now: time.Now()}),
		}
	}
	return c.evalCtx.NewChild()
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func namesOf[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// checkSharedEncryption catches what EC2 would refuse only at the end of a
// build: an AMI encrypted with the account's default EBS key cannot be
// shared, because other accounts cannot use that key. One diagnostic per
// share_with block, naming the layers it affects.
func checkSharedEncryption(p *Project, layers map[string]*Layer) hcl.Diagnostics {
	if p == nil {
		return nil
	}
	var diags hcl.Diagnostics
	var viaProject []string
	for _, name := range keys(layers) {
		l := layers[name]
		if !l.Volume.Encrypted || l.KMSKey(p) != "" {
			continue
		}
		share := l.Sharing(p)
		if len(share.Accounts)+len(share.Organizations)+len(share.OrgUnits) == 0 {
			continue
		}
		if l.ShareWith == nil {
			viaProject = append(viaProject, fmt.Sprintf("%q", name))
			continue
		}
		diags = append(diags, sharedDefaultKey(fmt.Sprintf("Layer %q is", name), "its share_with", l.ShareWith.DeclRange, l.DeclRange))
	}
	if len(viaProject) > 0 {
		what := "Layer " + viaProject[0] + " is"
		if len(viaProject) > 1 {
			what = "Layers " + strings.Join(viaProject, ", ") + " are"
		}
		diags = append(diags, sharedDefaultKey(what, "the project's share_with", p.ShareWith.DeclRange, p.DeclRange))
	}
	return diags
}

func sharedDefaultKey(what, where string, subject, fallback hcl.Range) *hcl.Diagnostic {
	if subject.Filename == "" {
		subject = fallback
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Shared AMI needs a customer-managed KMS key",
		Detail: fmt.Sprintf("%s encrypted with the account's default EBS key and shared through %s, which EC2 refuses: other accounts cannot use the default key. "+
			"Set kms_key_id in the project (or in a layer's volume block) to a customer-managed key the target accounts may use, or stop sharing.", what, where),
		Subject: subject.Ptr(),
	}
}
