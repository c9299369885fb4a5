// Package sandbox is `amibake sandbox`: the in-tree AWS (internal/sandbox)
// as a standalone server for working by hand, demos and other processes.
package sandbox

import (
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmd/sandbox/admin"
	"github.com/amibake/amibake/internal/cmd/sandbox/serve"
	"github.com/amibake/amibake/internal/cmdutil"
)

// NewCmdSandbox builds `amibake sandbox` and its verbs.
func NewCmdSandbox(f *cmdutil.Factory) *cli.Command {
	return &cli.Command{
		Name:  "sandbox",
		Usage: "Run amibake's local AWS sandbox",
		Description: "The sandbox is a loopback server speaking the EC2, Auto Scaling, SSM, STS,\n" +
			"CloudWatch and S3 wire protocols, with a controllable clock and fault injection.\n" +
			"Point the AWS SDKs, the AWS CLI or packer at it with the environment `serve` prints.\n\n" +
			"   amibake sandbox serve --state sandbox.json\n" +
			"   amibake sandbox admin POST patches/release '{\"package\":\"openssl\",\"severity\":\"Critical\"}'",
		Subcommands: []*cli.Command{
			admin.NewCmdAdmin(f, nil),
			serve.NewCmdServe(f, nil),
		},
	}
}
