// Package ci wires the `amibake ci` verbs: the CodeBuild buildspec, and the
// JUnit rendering of a JSON result for CodeBuild's test reports.
package ci

import (
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmd/ci/buildspec"
	"github.com/amibake/amibake/internal/cmd/ci/junit"
	"github.com/amibake/amibake/internal/cmd/ci/lease"
	"github.com/amibake/amibake/internal/cmdutil"
)

// NewCmdCI is `amibake ci`.
func NewCmdCI(f *cmdutil.Factory) *cli.Command {
	return &cli.Command{
		Name:  "ci",
		Usage: "Run amibake on CodeBuild: buildspec, reports and the batch lease",
		Description: "amibake ci buildspec writes the CodeBuild buildspec.yml (see docs/pipelines.md);\n" +
			"amibake ci junit turns a JSON result into a JUnit report for CodeBuild;\n" +
			"amibake ci lease holds the project lock for a whole batch build-graph.",
		Subcommands: []*cli.Command{
			buildspec.NewCmdBuildspec(f, nil),
			junit.NewCmdJUnit(f, nil),
			lease.NewCmdLease(f),
		},
	}
}
