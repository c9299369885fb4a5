package run

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake"
	cmdbake "github.com/amibake/amibake/internal/cmd/bake"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/plan"
)

// engineFlag is --engine: what rebakes the stale layers.
func engineFlag() cli.Flag {
	return &cli.StringFlag{Name: "engine", Value: bake.EnginePacker,
		Usage: "rebake with `ENGINE`: packer (any layer), or automation (patch-drift layers only: an SSM Automation runbook patches the layer's current AMI, no packer)"}
}

func checkEngine(engine string) error {
	switch engine {
	case "", bake.EnginePacker, bake.EngineAutomation:
		return nil
	}
	return cmdutil.FlagErrorf("--engine must be %s or %s, got %q", bake.EnginePacker, bake.EngineAutomation, engine)
}

// setEngine gives the baker what builds: packer, or the automation runbook
// (which needs no packer binary).
func setEngine(baker *bake.Baker, opts *RunOptions, clients *awsapi.Clients) error {
	if opts.Engine == bake.EngineAutomation {
		// --timeout's default (30m) is for single waits (an instance, a
		// command); a whole execution — launch, patch install, stop, image —
		// keeps the engine's 2h unless --timeout is given.
		a := &bake.Automation{SSM: clients.SSMAutomation, Poll: opts.Poll}
		if opts.TimeoutSet {
			a.Timeout = opts.Timeout
		}
		baker.Engine = a
		return nil
	}
	runner, err := cmdbake.Packer{Bin: opts.PackerBin, PluginDir: opts.PluginDir, Getenv: opts.getenv, Environ: opts.environ()}.Runner(baker.RunDir())
	if err != nil {
		return err
	}
	baker.Runner = runner
	return nil
}

// engineNote tells a dry run which planned builds the automation engine
// will refuse (their content changed: only packer can build them).
func engineNote(p *plan.Plan, engine string) string {
	if engine != bake.EngineAutomation {
		return ""
	}
	var refused []string
	for _, l := range p.Layers {
		if l.Action == plan.ActionBuild && l.Reason != plan.ReasonPatchDrift {
			refused = append(refused, l.Layer+" ("+string(l.Reason)+")")
		}
	}
	if len(refused) == 0 {
		return " Engine automation: each is patched from its current AMI by the SSM Automation runbook."
	}
	return fmt.Sprintf(" Engine automation cannot rebake %s: not patch drift, needs packer (those layers and their descendants will fail).",
		strings.Join(refused, ", "))
}
