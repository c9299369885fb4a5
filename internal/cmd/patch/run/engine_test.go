package run

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/plan"
)

func TestEngineNoteAndCheck(t *testing.T) {
	p := &plan.Plan{Layers: []*plan.Layer{
		{Layer: "linux", Action: plan.ActionBuild, Reason: plan.ReasonPatchDrift},
		{Layer: "base", Action: plan.ActionReuse, Reason: plan.ReasonUpToDate},
		{Layer: "app", Action: plan.ActionBuild, Reason: plan.ReasonRecipeChanged},
	}}
	assert.Empty(t, engineNote(p, bake.EnginePacker))
	assert.Contains(t, engineNote(p, bake.EngineAutomation), "Engine automation cannot rebake app (recipe-changed): not patch drift, needs packer")
	p.Layers = p.Layers[:2]
	assert.Contains(t, engineNote(p, bake.EngineAutomation), "each is patched from its current AMI")

	assert.NoError(t, checkEngine("automation"))
	assert.NoError(t, checkEngine("packer"))
	assert.ErrorContains(t, checkEngine("Automation"), "--engine must be packer or automation")
}
