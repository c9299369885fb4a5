// Package render is `amibake deploy render`.
package render

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/deploy"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/iostreams"
)

// RenderOptions is everything renderRun needs.
type RenderOptions struct {
	IO *iostreams.IOStreams
	// LoadProject decodes the project (cmdutil.LoadProject in production).
	LoadProject func() (*config.Config, error)

	Out    string // file to write, "" or "-" for stdout
	Deploy deploy.Options
}

// NewCmdRender builds `amibake deploy render`; runF replaces the run in tests.
func NewCmdRender(f *cmdutil.Factory, runF func(*RenderOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "render",
		Usage: "Write the CloudFormation template of the CodeBuild pipeline for this project",
		Description: "Renders deploy/amibake.cfn.yaml for this project: resource names from the project\n" +
			"name, a rule that the stack is deployed in the build region (the first region), the\n" +
			"schedules below as parameter defaults, and the build role's policy from\n" +
			"`amibake iam-policy --for all` (scoped to the project's parameter tree, tag, bucket\n" +
			"and fleets). Re-render when those change.\n\n" +
			"   amibake deploy render --out amibake.cfn.yaml\n" +
			"   aws cloudformation deploy --template-file amibake.cfn.yaml --stack-name acme-golden-amibake \\\n" +
			"     --capabilities CAPABILITY_NAMED_IAM --parameter-overrides SourceLocation=https://github.com/acme/images.git",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "write to `FILE` instead of stdout"},
			&cli.StringFlag{Name: "patch-schedule", Value: deploy.DefaultPatchSchedule, Usage: "EventBridge Scheduler `EXPRESSION` of the patch run"},
			&cli.StringFlag{Name: "patch-command", Value: deploy.DefaultPatchCommand, Usage: "amibake `COMMAND` line of the patch run"},
			&cli.StringFlag{Name: "scan-schedule", Value: deploy.DefaultScanSchedule, Usage: "EventBridge Scheduler `EXPRESSION` of the scan"},
			&cli.StringFlag{Name: "scan-command", Value: deploy.DefaultScanCommand, Usage: "amibake `COMMAND` line of the scan"},
			&cli.StringFlag{Name: "timezone", Value: deploy.DefaultTimezone, Usage: "`TZ` of the schedules (IANA name)"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cmdutil.FlagErrorf("deploy render takes no arguments")
			}
			if f.JSON() {
				return cmdutil.FlagErrorf("deploy render writes YAML; --output json does not apply")
			}
			opts := &RenderOptions{
				IO:  f.IOStreams,
				Out: c.String("out"),
				Deploy: deploy.Options{
					PatchSchedule: c.String("patch-schedule"), PatchCommand: c.String("patch-command"),
					ScanSchedule: c.String("scan-schedule"), ScanCommand: c.String("scan-command"),
					Timezone: c.String("timezone"),
				},
			}
			if err := opts.Deploy.Validate(); err != nil {
				return cmdutil.FlagErrorf("%v", err)
			}
			loadOpts := cmdutil.LoadOptionsFrom(c, f)
			opts.LoadProject = func() (*config.Config, error) { return cmdutil.LoadProject(f, loadOpts) }
			if runF != nil {
				return runF(opts)
			}
			return renderRun(opts)
		},
	}
}

func renderRun(opts *RenderOptions) error {
	cfg, err := opts.LoadProject()
	if err != nil {
		return err
	}
	data, err := deploy.Render(cfg, opts.Deploy)
	if err != nil {
		return fmt.Errorf("deploy render: %w", err)
	}
	if opts.Out == "" || opts.Out == "-" {
		if _, err := opts.IO.Out.Write(data); err != nil {
			return fmt.Errorf("write template: %w", err)
		}
		return nil
	}
	if err := os.WriteFile(opts.Out, data, 0o644); err != nil {
		return fmt.Errorf("write template: %w", err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Wrote %s.\n", opts.Out)
	return nil
}
