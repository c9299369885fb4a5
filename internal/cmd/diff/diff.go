// Package diff is `amibake diff A B`: what changed between two AMIs (each an
// AMI id or LAYER@channel) — packages added, removed, upgraded and
// downgraded, recipes changed, parent changed — from their recorded
// inventories, as Markdown (for a pull-request comment) or JSON. Read-only.
package diff

import (
	"context"

	"github.com/urfave/cli/v2"

	inventorycmd "github.com/amibake/amibake/internal/cmd/inventory"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	inv "github.com/amibake/amibake/internal/inventory"
)

// DiffOptions are the inputs of diff.
type DiffOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	A, B        string
	Bucket      string
	Region      string
}

// NewCmdDiff builds the command; runF replaces the run in tests.
func NewCmdDiff(f *cmdutil.Factory, runF func(context.Context, *DiffOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare the contents of two AMIs",
		ArgsUsage: "AMI_A|LAYER@channel AMI_B|LAYER@channel",
		Description: "Compares the inventories recorded when the two AMIs were baked: packages\n" +
			"added, removed, upgraded and downgraded (RPM version order), recipes whose\n" +
			"version changed (amibake:recipes), and whether the parent changed, with a\n" +
			"one-line summary. The text output is Markdown, ready for a pull-request\n" +
			"comment; -o json gives the same as data.\n\n" +
			"   amibake diff app-web@stable app-web@latest",
		Flags: append(append(inventorycmd.SourceFlags(), inventorycmd.OutputFlag()), cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if err := inventorycmd.ApplyOutput(c, f); err != nil {
				return err
			}
			if len(args) != 2 {
				return cmdutil.FlagErrorf("diff takes two arguments (AMI ids or LAYER@channel), got %d", len(args))
			}
			opts := &DiffOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), A: args[0], B: args[1],
				Bucket: c.String("bucket"), Region: c.String("region")}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return diffRun(c.Context, opts)
		},
	}
}

func diffRun(ctx context.Context, opts *DiffOptions) error {
	f := opts.Factory
	src, err := inventorycmd.Open(ctx, f, opts.LoadOptions, opts.Bucket, opts.Region)
	if err != nil {
		return err
	}
	// Both arguments resolve before either document is read, so a typo is
	// reported as such.
	imgA, err := src.Resolver.Resolve(ctx, opts.A)
	if err != nil {
		return err
	}
	imgB, err := src.Resolver.Resolve(ctx, opts.B)
	if err != nil {
		return err
	}
	docA, err := src.Load(ctx, imgA)
	if err != nil {
		return err
	}
	docB, err := src.Load(ctx, imgB)
	if err != nil {
		return err
	}
	d := inv.Compare(docA, docB, imgA, imgB)
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, d)
	}
	return d.WriteMarkdown(f.IOStreams.Out)
}
