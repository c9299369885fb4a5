package bake

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/plan"
)

func TestSelect(t *testing.T) {
	_, g, _ := loadExample(t, "")
	full := &plan.Plan{Project: "acme-golden", Layers: []*plan.Layer{
		{Layer: "linux", Action: plan.ActionReuse, State: plan.StateAvailable},
		{Layer: "foundation", Action: plan.ActionReuse, State: plan.StateAvailable, Publish: true},
		{Layer: "base", Action: plan.ActionBuild},
		{Layer: "app-web", Action: plan.ActionReuse, State: plan.StateAvailable},
		{Layer: "app-worker", Action: plan.ActionReuse, State: plan.StatePending},
	}}
	names := func(p *plan.Plan) []string {
		var out []string
		for _, l := range p.Layers {
			out = append(out, l.Layer)
		}
		return out
	}

	p, err := Select(full, g, nil, false)
	require.NoError(t, err)
	assert.Equal(t, names(full), names(p), "no names: every layer")

	p, err = Select(full, g, []string{"app-web"}, false)
	require.NoError(t, err)
	assert.Equal(t, []string{"foundation", "base", "app-web"}, names(p),
		"ancestors with work first (a channel to move, a build); up-to-date linux left out")

	p, err = Select(full, g, []string{"base"}, true)
	require.NoError(t, err)
	assert.Equal(t, []string{"foundation", "base", "app-web", "app-worker"}, names(p))

	_, err = Select(full, g, []string{"app-wbe"}, false)
	var unknown *graph.UnknownLayerError
	require.ErrorAs(t, err, &unknown)
	assert.Equal(t, "app-web", unknown.Suggestion)
}
