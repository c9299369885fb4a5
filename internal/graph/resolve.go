package graph

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/amibake/amibake/internal/config"
)

// TEMPORARY: config.Recipe.ResolveInputs, config.Recipe.ResolveSteps and
// config.Config.EvalContext are being written in parallel. Until they land
// these three functions stand in for them with the same contract; each then
// becomes a one-line call.

// resolveInputs merges the inputs a layer passes to a recipe with the
// recipe's declarations (defaults, types).
func resolveInputs(r *config.Recipe, ref *config.RecipeRef) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := make(map[string]cty.Value, len(r.Inputs))
	declared := map[string]bool{}
	for _, in := range r.Inputs {
		if in == nil {
			continue
		}
		declared[in.Name] = true
		v, ok := ref.Inputs[in.Name]
		if !ok {
			if in.Default == cty.NilVal {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Missing required recipe input",
					Detail:   fmt.Sprintf("Recipe %q requires input %q.", r.Name, in.Name),
					Subject:  refRange(ref),
				})
				continue
			}
			v = in.Default
		}
		if in.Type != cty.NilType && in.Type != cty.DynamicPseudoType {
			cv, err := convert.Convert(v, in.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid recipe input",
					Detail:   fmt.Sprintf("Input %q of recipe %q: %s.", in.Name, r.Name, err),
					Subject:  refRange(ref),
				})
				continue
			}
			v = cv
		}
		if in.Sensitive {
			v = v.Mark(sensitiveMark)
		}
		out[in.Name] = v
	}
	for _, name := range sortedKeys(ref.Inputs) {
		if !declared[name] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown recipe input",
				Detail:   fmt.Sprintf("Recipe %q declares no input %q.", r.Name, name),
				Subject:  refRange(ref),
			})
		}
	}
	return out, diags
}

// resolveSteps evaluates every step's env with input.NAME bound.
func resolveSteps(r *config.Recipe, inputs map[string]cty.Value, ctx *hcl.EvalContext) ([]*config.ResolvedStep, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	child := ctx.NewChild()
	child.Variables = map[string]cty.Value{"input": cty.ObjectVal(inputs)}
	out := make([]*config.ResolvedStep, 0, len(r.Steps))
	for i, s := range r.Steps {
		if s == nil {
			continue
		}
		rs := &config.ResolvedStep{Recipe: r.Name, Index: i, Step: s, Env: map[string]string{}, SensitiveEnv: map[string]bool{}}
		for _, k := range sortedKeys(s.Env) {
			expr := s.Env[k]
			if expr == nil {
				continue
			}
			v, d := expr.Value(child)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			if v.ContainsMarked() {
				rs.SensitiveEnv[k] = true
				v, _ = v.UnmarkDeep()
			}
			sv, err := convert.Convert(v, cty.String)
			if err != nil || sv.IsNull() || !sv.IsKnown() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid step environment value",
					Detail:   fmt.Sprintf("env %q of step %d of recipe %q must be a string.", k, i, r.Name),
					Subject:  expr.Range().Ptr(),
				})
				continue
			}
			rs.Env[k] = sv.AsString()
		}
		out = append(out, rs)
	}
	return out, diags
}

// evalContext binds var.NAME and local.NAME.
func evalContext(cfg *config.Config) *hcl.EvalContext {
	vars := map[string]cty.Value{}
	for name, v := range cfg.Variables {
		if v == nil || v.Value == cty.NilVal {
			continue
		}
		val := v.Value
		if v.Sensitive {
			val = val.Mark(sensitiveMark)
		}
		vars[name] = val
	}
	locals := map[string]cty.Value{}
	for name, l := range cfg.Locals {
		if l != nil && l.Value != cty.NilVal {
			locals[name] = l.Value
		}
	}
	return &hcl.EvalContext{Variables: map[string]cty.Value{
		"var":   cty.ObjectVal(vars),
		"local": cty.ObjectVal(locals),
	}}
}

type sensitive struct{}

var sensitiveMark = sensitive{}

func refRange(ref *config.RecipeRef) *hcl.Range {
	r := ref.Range
	return &r
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
