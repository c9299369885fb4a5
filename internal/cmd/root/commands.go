package root

import (
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmd/fingerprint"
	fmtcmd "github.com/amibake/amibake/internal/cmd/fmt"
	"github.com/amibake/amibake/internal/cmd/graph"
	lockcmd "github.com/amibake/amibake/internal/cmd/lock"
	plancmd "github.com/amibake/amibake/internal/cmd/plan"
	rendercmd "github.com/amibake/amibake/internal/cmd/render"
	"github.com/amibake/amibake/internal/cmd/sandbox"
	"github.com/amibake/amibake/internal/cmd/validate"
	"github.com/amibake/amibake/internal/cmdutil"
)

// commands lists every top-level command, one package each under internal/cmd.
func commands(f *cmdutil.Factory) []*cli.Command {
	return []*cli.Command{
		// Add NewCmdX(f, nil) entries here, one line each, sorted by name.
		fingerprint.NewCmdFingerprint(f, nil),
		fmtcmd.NewCmdFmt(f, nil),
		graph.NewCmdGraph(f, nil),
		lockcmd.NewCmdLock(f),
		plancmd.NewCmdPlan(f, nil),
		rendercmd.NewCmdRender(f, nil),
		sandbox.NewCmdSandbox(f),
		validate.NewCmdValidate(f, nil),
	}
}
