// Package deploy wires the `amibake deploy` verbs.
package deploy

import (
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmd/deploy/render"
	"github.com/amibake/amibake/internal/cmdutil"
)

// NewCmdDeploy is `amibake deploy`.
func NewCmdDeploy(f *cmdutil.Factory) *cli.Command {
	return &cli.Command{
		Name:  "deploy",
		Usage: "Deploy amibake's pipeline: the CloudFormation stack for CodeBuild",
		Description: "amibake deploy render writes the CloudFormation template (CodeBuild project, its\n" +
			"least-privilege role, the weekly patch run and daily scan schedules, logs, failure\n" +
			"notifications) for this project. See docs/pipelines.md.",
		Subcommands: []*cli.Command{render.NewCmdRender(f, nil)},
	}
}
