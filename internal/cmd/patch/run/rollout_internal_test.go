package run

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
)

func TestAffectedAndPlan(t *testing.T) {
	cfg := &config.Config{Fleets: map[string]*config.Fleet{
		"web":    {Name: "web", Layer: "app-web", Channel: "latest", Strategy: config.StrategyReplace},
		"worker": {Name: "worker", Layer: "app-worker", Channel: "latest", Strategy: config.StrategyInPlace},
		"batch":  {Name: "batch", Layer: "app-worker", Channel: "stable", Strategy: config.StrategyInPlace},
	}}
	fleets := affected(cfg, []string{"app-worker"})
	if assert.Len(t, fleets, 2) {
		assert.Equal(t, "batch", fleets[0].Fleet)
		assert.Equal(t, "worker", fleets[1].Fleet)
	}
	planRollouts(fleets)
	assert.Equal(t, FleetNotMoved, fleets[0].Status)
	assert.Contains(t, fleets[0].Reason, "amibake promote app-worker --to stable, then amibake rollout batch")
	assert.Equal(t, FleetWouldRollOut, fleets[1].Status)
	assert.Equal(t, " Fleets: 1 would-roll-out, 1 channel-not-moved.", rolloutSummary(fleets))
	assert.Empty(t, affected(cfg, nil))
	assert.Empty(t, rolloutSummary(nil))
}

func TestWorse(t *testing.T) {
	assert.Equal(t, 0, worse(0, 0))
	assert.Equal(t, cmdutil.ExitPaused, worse(0, cmdutil.ExitPaused))
	assert.Equal(t, cmdutil.ExitPartial, worse(cmdutil.ExitPaused, cmdutil.ExitPartial))
	assert.Equal(t, cmdutil.ExitPartial, worse(cmdutil.ExitPartial, cmdutil.ExitPaused), "a failure outweighs a pause")
}
