// Package lock wires the `amibake lock` verbs.
package lock

import (
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmd/lock/release"
	"github.com/amibake/amibake/internal/cmd/lock/status"
	"github.com/amibake/amibake/internal/cmdutil"
)

// NewCmdLock is `amibake lock`.
func NewCmdLock(f *cmdutil.Factory) *cli.Command {
	return &cli.Command{
		Name:  "lock",
		Usage: "inspect or break the project lock",
		Description: "Every command that changes AWS (bake, promote, revoke, patch run, rollout, retire)\n" +
			"holds a lease in Parameter Store at <prefix>/<project>/lock while it runs.",
		Subcommands: []*cli.Command{
			release.NewCmdRelease(f, nil),
			status.NewCmdStatus(f, nil),
		},
	}
}
