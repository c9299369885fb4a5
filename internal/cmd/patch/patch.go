// Package patch wires the `amibake patch` verbs (issue 5): apply (baselines
// as code), scan (fleets and images), plan (which layers a patch rebake
// would rebuild, and why) and run (the pipeline: scan, decide, rebake,
// verify, publish).
package patch

import (
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmd/patch/apply"
	"github.com/amibake/amibake/internal/cmd/patch/associate"
	"github.com/amibake/amibake/internal/cmd/patch/plan"
	"github.com/amibake/amibake/internal/cmd/patch/run"
	"github.com/amibake/amibake/internal/cmd/patch/scan"
	"github.com/amibake/amibake/internal/cmd/patch/window"
	"github.com/amibake/amibake/internal/cmdutil"
)

// NewCmdPatch is `amibake patch`.
func NewCmdPatch(f *cmdutil.Factory) *cli.Command {
	return &cli.Command{
		Name:  "patch",
		Usage: "patch baselines as code, fleet and image scans, patch-drift decisions",
		Description: "apply converges SSM Patch Manager on the HCL's patch_baseline blocks and the\n" +
			"patch groups of layers and fleets; scan runs AWS-RunPatchBaseline Scan on fleets\n" +
			"and on a short-lived instance of each layer's latest AMI; plan says which layers\n" +
			"a patch rebake would rebuild (reason patch-drift); run rebakes them, verifies\n" +
			"each new AMI and publishes it; window apply keeps the SSM maintenance windows that\n" +
			"patch the in-place fleets. docs/patch.md.",
		Subcommands: []*cli.Command{
			apply.NewCmdApply(f, nil),
			associate.NewCmdAssociate(f, nil),
			plan.NewCmdPlan(f, nil),
			run.NewCmdRun(f, nil),
			scan.NewCmdScan(f, nil),
			window.NewCmdWindow(f, nil),
		},
	}
}
