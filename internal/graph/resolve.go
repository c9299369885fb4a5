package graph

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/amibake/amibake/internal/config"
)

// The resolution of a recipe for one layer is config's: these wrappers keep
// the call sites in fingerprint.go short.

func resolveInputs(r *config.Recipe, ref *config.RecipeRef) (map[string]cty.Value, hcl.Diagnostics) {
	return r.ResolveInputs(ref)
}

func resolveSteps(r *config.Recipe, inputs map[string]cty.Value, ctx *hcl.EvalContext) ([]*config.ResolvedStep, hcl.Diagnostics) {
	return r.ResolveSteps(inputs, ctx)
}

func evalContext(cfg *config.Config) *hcl.EvalContext { return cfg.EvalContext() }

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
