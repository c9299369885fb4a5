package bake

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
)

// RecipeSteps renders one recipe of a layer exactly as an ssm-mode bake
// runs it: the same step names, env and sensitive inputs moved to
// SecureString parameters named under runID. An in-place rollout of a
// recipe delta sends these steps to running instances, so the instance
// gets what the AMI got.
func RecipeSteps(cfg *config.Config, ref *config.RecipeRef, paths lineage.Paths, runID string) ([]TemplateStep, []Secret, hcl.Diagnostics) {
	return resolveSteps(cfg, &config.Layer{Recipes: []*config.RecipeRef{ref}}, ProvisionerSSM, paths, runID)
}
