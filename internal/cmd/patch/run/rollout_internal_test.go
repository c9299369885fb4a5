package run

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/amibake/amibake/internal/channel"
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
	planRollouts(fleets, nil)
	assert.Equal(t, FleetNotMoved, fleets[0].Status)
	assert.Contains(t, fleets[0].Reason, "amibake promote app-worker --to stable, then amibake rollout batch")
	assert.Equal(t, FleetWouldRollOut, fleets[1].Status)
	assert.Equal(t, " Fleets: 1 would-roll-out, 1 channel-not-moved.", rolloutSummary(fleets))

	// A patch rebake that replaces the drifted AMI on stable rolls batch out
	// too; a stable holding other content does not, and says why.
	cfg.Project = &config.Project{Regions: []string{"us-east-1", "eu-west-1"}}
	cfg.Layers = map[string]*config.Layer{"app-worker": {Name: "app-worker"}}
	moving := indexChannels(cfg, []*channel.Replacement{
		{Layer: "app-worker", Channel: "stable", Region: "eu-west-1", Status: channel.ReplaceOtherContent, Reason: "not this region"},
		{Layer: "app-worker", Channel: "stable", Region: "us-east-1", From: "ami-1", Status: channel.ReplaceWouldMove, Reason: "patch-drift: would replace ami-1"},
	})
	planRollouts(fleets, moving)
	assert.Equal(t, FleetWouldRollOut, fleets[0].Status)
	assert.Equal(t, "ami-1", fleets[0].FromAMI, "the dry run shows what the fleet's channel holds")
	fleets[0].FromAMI = ""
	kept := indexChannels(cfg, []*channel.Replacement{
		{Layer: "app-worker", Channel: "stable", Region: "us-east-1", Status: channel.ReplaceOtherContent, Reason: "ami-0 has other content"},
	})
	planRollouts(fleets, kept)
	assert.Equal(t, FleetNotMoved, fleets[0].Status)
	assert.Equal(t, "channel stable: ami-0 has other content: amibake promote app-worker --to stable, then amibake rollout batch", fleets[0].Reason)
	assert.Empty(t, affected(cfg, nil))
	assert.Empty(t, rolloutSummary(nil))
}

func TestWorse(t *testing.T) {
	assert.Equal(t, 0, worse(0, 0))
	assert.Equal(t, cmdutil.ExitPaused, worse(0, cmdutil.ExitPaused))
	assert.Equal(t, cmdutil.ExitPartial, worse(cmdutil.ExitPaused, cmdutil.ExitPartial))
	assert.Equal(t, cmdutil.ExitPartial, worse(cmdutil.ExitPartial, cmdutil.ExitPaused), "a failure outweighs a pause")
}
