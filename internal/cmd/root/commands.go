package root

import (
	"github.com/urfave/cli/v2"

	bakecmd "github.com/amibake/amibake/internal/cmd/bake"
	canarycmd "github.com/amibake/amibake/internal/cmd/canary"
	cicmd "github.com/amibake/amibake/internal/cmd/ci"
	completioncmd "github.com/amibake/amibake/internal/cmd/completion"
	deploycmd "github.com/amibake/amibake/internal/cmd/deploy"
	diffcmd "github.com/amibake/amibake/internal/cmd/diff"
	driftcmd "github.com/amibake/amibake/internal/cmd/drift"
	"github.com/amibake/amibake/internal/cmd/fingerprint"
	fmtcmd "github.com/amibake/amibake/internal/cmd/fmt"
	"github.com/amibake/amibake/internal/cmd/graph"
	historycmd "github.com/amibake/amibake/internal/cmd/history"
	iampolicycmd "github.com/amibake/amibake/internal/cmd/iampolicy"
	inventorycmd "github.com/amibake/amibake/internal/cmd/inventory"
	lineagecmd "github.com/amibake/amibake/internal/cmd/lineage"
	lockcmd "github.com/amibake/amibake/internal/cmd/lock"
	patchcmd "github.com/amibake/amibake/internal/cmd/patch"
	plancmd "github.com/amibake/amibake/internal/cmd/plan"
	promotecmd "github.com/amibake/amibake/internal/cmd/promote"
	rendercmd "github.com/amibake/amibake/internal/cmd/render"
	retirecmd "github.com/amibake/amibake/internal/cmd/retire"
	revokecmd "github.com/amibake/amibake/internal/cmd/revoke"
	rolloutcmd "github.com/amibake/amibake/internal/cmd/rollout"
	"github.com/amibake/amibake/internal/cmd/sandbox"
	sbomcmd "github.com/amibake/amibake/internal/cmd/sbom"
	statuscmd "github.com/amibake/amibake/internal/cmd/status"
	"github.com/amibake/amibake/internal/cmd/validate"
	"github.com/amibake/amibake/internal/cmdutil"
)

// commands lists every top-level command, one package each under internal/cmd.
func commands(f *cmdutil.Factory) []*cli.Command {
	return []*cli.Command{
		// Add NewCmdX(f, nil) entries here, one line each, sorted by name.
		bakecmd.NewCmdBake(f, nil),
		canarycmd.NewCmdCanary(f, nil),
		cicmd.NewCmdCI(f),
		completioncmd.NewCmdCompletion(f),
		deploycmd.NewCmdDeploy(f),
		diffcmd.NewCmdDiff(f, nil),
		driftcmd.NewCmdDrift(f, nil),
		fingerprint.NewCmdFingerprint(f, nil),
		fmtcmd.NewCmdFmt(f, nil),
		graph.NewCmdGraph(f, nil),
		historycmd.NewCmdHistory(f, nil),
		iampolicycmd.NewCmdIAMPolicy(f, nil),
		inventorycmd.NewCmdInventory(f, nil),
		lineagecmd.NewCmdLineage(f, nil),
		lockcmd.NewCmdLock(f),
		patchcmd.NewCmdPatch(f),
		plancmd.NewCmdPlan(f, nil),
		promotecmd.NewCmdPromote(f, nil),
		rendercmd.NewCmdRender(f, nil),
		retirecmd.NewCmdRetire(f, nil),
		revokecmd.NewCmdRevoke(f, nil),
		rolloutcmd.NewCmdRollout(f, nil),
		sandbox.NewCmdSandbox(f),
		sbomcmd.NewCmdSBOM(f, nil),
		statuscmd.NewCmdStatus(f, nil),
		validate.NewCmdValidate(f, nil),
	}
}
