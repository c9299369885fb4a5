package config

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// StepKinds lists the valid step labels.
var StepKinds = []string{StepScript, StepInline, StepFile}

// DefaultFileMode is the mode of a file step's destination.
const DefaultFileMode = "0644"

var (
	versionRe     = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+`)
	envNameRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	fileModeRe    = regexp.MustCompile(`^0?[0-7]{3,4}$`)
	destinationRe = regexp.MustCompile(`^(/|[A-Za-z]:[\\/])`)
)

var recipeBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "version", Required: true},
		{Name: "description"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "input", LabelNames: []string{"name"}},
		{Type: "step", LabelNames: []string{"kind"}},
	},
}

var recipeInputBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

// Each step kind has its own schema, so an argument of another kind
// (commands in a script step) is an "Unsupported argument" with a hint.
// A file step uploads and runs nothing, so it takes no env.
var stepBlockSchemas = map[string]*hcl.BodySchema{
	StepScript: {Attributes: []hcl.AttributeSchema{
		{Name: "name"}, {Name: "path", Required: true}, {Name: "env"},
	}},
	StepInline: {Attributes: []hcl.AttributeSchema{
		{Name: "name"}, {Name: "commands", Required: true}, {Name: "env"},
	}},
	StepFile: {Attributes: []hcl.AttributeSchema{
		{Name: "name"}, {Name: "source", Required: true}, {Name: "destination", Required: true}, {Name: "mode"},
	}},
}

// decodeRecipeBlock decodes the recipe block of recipes/NAME/recipe.hcl.
// dir is the recipe directory relative to the project (recipes/NAME) and
// projectDir the project root, for checking the files steps use.
func decodeRecipeBlock(block *hcl.Block, dir, projectDir string, sc *scope) (*Recipe, hcl.Diagnostics) {
	r := &Recipe{Name: block.Labels[0], Dir: dir, DeclRange: block.DefRange}
	diags := checkLabel(block, "recipe", blockNameRe, blockNameHint)
	content, d := block.Body.Content(recipeBlockSchema)
	diags = append(diags, d...)
	attrs := content.Attributes

	diags = append(diags, sc.setString(attrs, "version", &r.Version)...)
	if _, ok := attrs["version"]; ok && r.Version != "" {
		diags = append(diags, checkPattern(attrs, "version", r.Version, versionRe, "recipe version",
			`use a semantic version like "1.4.0"; bump it whenever the recipe's behaviour changes`)...)
	}
	diags = append(diags, sc.setString(attrs, "description", &r.Description)...)

	// Inputs first: step env expressions are checked against them.
	declared := map[string]bool{}
	inputRanges := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		if b.Type != "input" {
			continue
		}
		in, d := decodeRecipeInputBlock(b)
		diags = append(diags, d...)
		if first, dup := inputRanges[in.Name]; dup {
			diags = append(diags, duplicate("input", in.Name, first, in.DeclRange))
			continue
		}
		inputRanges[in.Name] = in.DeclRange
		declared[in.Name] = true
		r.Inputs = append(r.Inputs, in)
	}

	absDir := filepath.Join(projectDir, filepath.FromSlash(dir))
	envScope := sc.withInputs(declared)
	for _, b := range content.Blocks {
		if b.Type != "step" {
			continue
		}
		st, d := decodeStepBlock(b, r, absDir, envScope)
		diags = append(diags, d...)
		if st != nil {
			r.Steps = append(r.Steps, st)
		}
	}
	return r, diags
}

func decodeRecipeInputBlock(block *hcl.Block) (*RecipeInput, hcl.Diagnostics) {
	in := &RecipeInput{Name: block.Labels[0], Type: cty.DynamicPseudoType, DeclRange: block.DefRange}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(in.Name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid input name",
			Detail:   fmt.Sprintf("%q is not a valid input name: use letters, digits and underscores, starting with a letter.", in.Name),
			Subject:  block.LabelRanges[0].Ptr(),
		})
	}
	content, d := block.Body.Content(recipeInputBlockSchema)
	diags = append(diags, d...)
	attrs := content.Attributes
	if attr, ok := attrs["type"]; ok {
		ty, d := typeexpr.TypeConstraint(attr.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			in.Type = ty
		}
	}
	if attr, ok := attrs["description"]; ok {
		v, d := staticValue(attr, cty.String)
		diags = append(diags, d...)
		if !v.IsNull() {
			in.Description = v.AsString()
		}
	}
	if attr, ok := attrs["sensitive"]; ok {
		v, d := staticValue(attr, cty.Bool)
		diags = append(diags, d...)
		if !v.IsNull() {
			in.Sensitive = v.True()
		}
	}
	if attr, ok := attrs["default"]; ok {
		v, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			cv, err := convert.Convert(v, in.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for input",
					Detail:   fmt.Sprintf("This default value does not match the input's type %s: %s.", typeexpr.TypeString(in.Type), formatCtyError(err)),
					Subject:  attr.Expr.Range().Ptr(),
				})
			} else {
				in.Default = cv
			}
		}
	}
	return in, diags
}

func decodeStepBlock(block *hcl.Block, r *Recipe, absDir string, sc *scope) (*Step, hcl.Diagnostics) {
	kind := block.Labels[0]
	schema, ok := stepBlockSchemas[kind]
	if !ok {
		detail := fmt.Sprintf(`%q is not a step kind. Use "script" (a shell script beside recipe.hcl), "inline" (a list of commands) or "file" (a file to upload).`, kind)
		if s := didYouMean(kind, StepKinds); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown step kind",
			Detail:   detail,
			Subject:  block.LabelRanges[0].Ptr(),
		}}
	}
	st := &Step{Kind: kind, Name: fmt.Sprintf("%s/%d", r.Name, len(r.Steps)+1), DeclRange: block.DefRange}
	content, diags := block.Body.Content(schema)
	attrs := content.Attributes
	diags = append(diags, sc.setString(attrs, "name", &st.Name)...)

	switch kind {
	case StepScript:
		diags = append(diags, sc.setString(attrs, "path", &st.Path)...)
		diags = append(diags, checkStepPath(attrs["path"], st.Path, r.Dir, absDir, true)...)
	case StepInline:
		diags = append(diags, sc.setStrings(attrs, "commands", &st.Inline)...)
		if attr, ok := attrs["commands"]; ok && st.Inline != nil && len(st.Inline) == 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No commands",
				Detail:   `An inline step needs at least one command, like commands = ["dnf -y install jq"].`,
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
	case StepFile:
		st.Mode = DefaultFileMode
		diags = append(diags, sc.setString(attrs, "source", &st.Source)...)
		diags = append(diags, checkStepPath(attrs["source"], st.Source, r.Dir, absDir, false)...)
		diags = append(diags, sc.setString(attrs, "destination", &st.Destination)...)
		if st.Destination != "" {
			diags = append(diags, checkPattern(attrs, "destination", st.Destination, destinationRe, "destination",
				`it is a path in the image and must be absolute, like "/etc/ssh/sshd_config"`)...)
		}
		diags = append(diags, sc.setString(attrs, "mode", &st.Mode)...)
		diags = append(diags, checkPattern(attrs, "mode", st.Mode, fileModeRe, "file mode", `use an octal mode string like "0644" or "0755"`)...)
	}

	if attr, ok := attrs["env"]; ok {
		env, d := decodeStepEnv(attr, sc)
		diags = append(diags, d...)
		st.Env = env
	}
	return st, diags
}

// checkStepPath checks a script or file path: relative to the recipe
// directory, inside it (a recipe is self-contained and its fingerprint
// covers every file it uses), and present.
func checkStepPath(attr *hcl.Attribute, p, dir, absDir string, wantFile bool) hcl.Diagnostics {
	if attr == nil || p == "" {
		if attr != nil {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Empty path",
				Detail:   fmt.Sprintf("%s names a file relative to %s/.", attr.Name, dir),
				Subject:  attr.Expr.Range().Ptr(),
			}}
		}
		return nil
	}
	escape := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Path outside the recipe directory",
		Detail: fmt.Sprintf("%q must be relative to %s/ and stay inside it, so that the recipe is self-contained and its fingerprint covers every file it uses. Copy the file into %s/.",
			p, dir, dir),
		Subject: attr.Expr.Range().Ptr(),
	}
	slashed := filepath.ToSlash(p)
	clean := path.Clean(slashed)
	if filepath.IsAbs(p) || strings.HasPrefix(slashed, "/") || clean == ".." || strings.HasPrefix(clean, "../") {
		return hcl.Diagnostics{escape}
	}
	full := filepath.Join(absDir, filepath.FromSlash(clean))
	st, err := os.Stat(full)
	if err != nil {
		detail := fmt.Sprintf("No file exists at %s/%s (%s is relative to the recipe directory).", dir, clean, attr.Name)
		if !errors.Is(err, os.ErrNotExist) {
			detail = fmt.Sprintf("%s/%s cannot be read: %s.", dir, clean, unwrapPathError(err))
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing step file",
			Detail:   detail,
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	// A symlink may point outside even when the path does not.
	if real, err := filepath.EvalSymlinks(full); err == nil {
		if realDir, err := filepath.EvalSymlinks(absDir); err == nil {
			if rel, err := filepath.Rel(realDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return hcl.Diagnostics{escape}
			}
		}
	}
	if wantFile && !st.Mode().IsRegular() {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Not a file",
			Detail:   fmt.Sprintf("%s/%s is not a regular file; a script step runs one script.", dir, clean),
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	return nil
}

// decodeStepEnv reads env = { NAME = expr }. The expressions are kept and
// evaluated per layer by ResolveSteps; here they are only checked to refer
// to declared inputs, variables and locals.
func decodeStepEnv(attr *hcl.Attribute, sc *scope) (map[string]hcl.Expression, hcl.Diagnostics) {
	pairs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid env",
			Detail:   "env is written as an object of environment variables, like env = { CIS_LEVEL = input.level }.",
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	env := map[string]hcl.Expression{}
	keyRanges := map[string]hcl.Range{}
	for _, kv := range pairs {
		k, d := kv.Key.Value(nil)
		if d.HasErrors() || k.Type() != cty.String || k.IsNull() || !envNameRe.MatchString(k.AsString()) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid env name",
				Detail:   "Environment variable names use letters, digits and underscores and do not start with a digit, like CIS_LEVEL.",
				Subject:  kv.Key.Range().Ptr(),
			})
			continue
		}
		name := k.AsString()
		if first, dup := keyRanges[name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate env name",
				Detail:   fmt.Sprintf("%s is already set at %s.", name, first),
				Subject:  kv.Key.Range().Ptr(),
			})
			continue
		}
		keyRanges[name] = kv.Key.Range()
		diags = append(diags, sc.checkRefs(kv.Value)...)
		env[name] = kv.Value
	}
	return env, diags
}

// ResolveInputs merges the inputs a layer sets (ref.Inputs, may be nil)
// with the recipe's declarations: unknown inputs and missing required ones
// are errors, values are converted to the declared types, defaults fill the
// rest, and inputs declared sensitive are marked. Diagnostics point at the
// layer's inputs.
func (r *Recipe) ResolveInputs(ref *RecipeRef) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := map[string]cty.Value{}
	byName := map[string]*RecipeInput{}
	var names []string
	for _, in := range r.Inputs {
		byName[in.Name] = in
		names = append(names, in.Name)
	}
	given := map[string]cty.Value{}
	if ref != nil && ref.Inputs != nil {
		given = ref.Inputs
	}
	for _, name := range keys(given) {
		in := byName[name]
		subject := inputSubject(ref, name, r)
		if in == nil {
			detail := fmt.Sprintf("Recipe %q has no input named %q.", r.Name, name)
			switch s := didYouMean(name, names); {
			case s != "":
				detail += fmt.Sprintf(" Did you mean %q?", s)
			case len(names) == 0:
				detail += " It declares no inputs."
			default:
				detail += fmt.Sprintf(" Its inputs are: %s.", strings.Join(names, ", "))
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported recipe input",
				Detail:   detail,
				Subject:  subject.Ptr(),
			})
			continue
		}
		v := given[name]
		if !v.IsWhollyKnown() { // an upstream error, already reported
			out[name] = v
			continue
		}
		cv, err := convert.Convert(v, in.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for recipe input",
				Detail: fmt.Sprintf("Input %q of recipe %q has type %s: %s.",
					name, r.Name, typeexpr.TypeString(in.Type), formatCtyError(err)),
				Subject: subject.Ptr(),
			})
			out[name] = cty.UnknownVal(in.Type)
			continue
		}
		out[name] = cv
	}
	for _, in := range r.Inputs {
		if _, ok := out[in.Name]; !ok {
			if in.Default == cty.NilVal && ref != nil && ref.inputsUnknown {
				out[in.Name] = cty.UnknownVal(in.Type)
				continue
			}
			if in.Default == cty.NilVal {
				subject := r.DeclRange
				example := fmt.Sprintf("inputs = { %s = { %s = ... } }", r.Name, in.Name)
				if ref != nil {
					subject = ref.Range
					if ref.InputsRange != (hcl.Range{}) {
						subject = ref.InputsRange
					}
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Missing required recipe input",
					Detail: fmt.Sprintf("Recipe %q needs a value for input %q, which has no default. Set it in the layer: %s.",
						r.Name, in.Name, example),
					Subject: subject.Ptr(),
				})
				out[in.Name] = cty.UnknownVal(in.Type)
				continue
			}
			out[in.Name] = in.Default
		}
		if in.Sensitive {
			out[in.Name] = out[in.Name].Mark(SensitiveMark)
		}
	}
	return out, diags
}

// inputSubject is the best range for a problem with one input of ref.
func inputSubject(ref *RecipeRef, name string, r *Recipe) hcl.Range {
	if ref == nil {
		return r.DeclRange
	}
	if rng, ok := ref.InputRanges[name]; ok {
		return rng
	}
	if ref.InputsRange != (hcl.Range{}) {
		return ref.InputsRange
	}
	return ref.Range
}

// ResolveSteps evaluates every step's env for one layer's inputs (from
// ResolveInputs) in ctx (Config.EvalContext, for var., local. and
// functions). Env values are rendered as strings: strings as they are,
// numbers and bools in HCL form, collections as JSON. An entry is listed in
// SensitiveEnv when its value derives from a sensitive variable or input;
// inputs the recipe declares sensitive are marked here too, so callers may
// pass values that did not come through ResolveInputs.
func (r *Recipe) ResolveSteps(inputs map[string]cty.Value, ctx *hcl.EvalContext) ([]*ResolvedStep, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := make(map[string]cty.Value, len(inputs))
	for k, v := range inputs {
		vals[k] = v
	}
	for _, in := range r.Inputs {
		if v, ok := vals[in.Name]; ok && in.Sensitive {
			vals[in.Name] = v.Mark(SensitiveMark)
		}
	}
	if ctx == nil {
		ctx = &hcl.EvalContext{}
	}
	child := ctx.NewChild()
	child.Variables = map[string]cty.Value{"input": cty.ObjectVal(vals)}

	out := make([]*ResolvedStep, 0, len(r.Steps))
	for i, st := range r.Steps {
		rs := &ResolvedStep{Recipe: r.Name, Index: i, Step: st, Env: map[string]string{}, SensitiveEnv: map[string]bool{}}
		for _, name := range keys(st.Env) {
			expr := st.Env[name]
			v, d := expr.Value(child)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			if !v.IsWhollyKnown() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Env value not known",
					Detail:   fmt.Sprintf("The value of %s could not be determined, because of an earlier error.", name),
					Subject:  expr.Range().Ptr(),
				})
				continue
			}
			if IsSensitive(v) {
				rs.SensitiveEnv[name] = true
			}
			s, err := stringify(v)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid env value",
					Detail:   fmt.Sprintf("The value of %s cannot be rendered as a string: %s.", name, err),
					Subject:  expr.Range().Ptr(),
				})
				continue
			}
			rs.Env[name] = s
		}
		out = append(out, rs)
	}
	return out, diags
}
