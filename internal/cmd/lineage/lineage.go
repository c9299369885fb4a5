// Package lineage is `amibake lineage AMI`: the AMI's ancestors up to the
// upstream source and all its descendants, in every region of the project.
// Read-only: it never takes the lock.
package lineage

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
)

// LineageOptions are the inputs of lineage.
type LineageOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	AMI         string
	Region      string
}

// NewCmdLineage builds the command; runF replaces the run in tests.
func NewCmdLineage(f *cmdutil.Factory, runF func(context.Context, *LineageOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "lineage",
		Usage:     "show an AMI's ancestors and descendants",
		ArgsUsage: "AMI",
		Description: "Follows amibake:parent-ami up to the upstream source AMI, and finds every\n" +
			"AMI of the project built on this one, recursively, in every project region\n" +
			"(copies are grouped by fingerprint and build id).\n\n" +
			"   amibake lineage ami-0123456789abcdef0 --region eu-west-1",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "region", Usage: "`REGION` the AMI is in (default: search every project region)"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("lineage takes one AMI argument, got %d", len(args))
			}
			if !strings.HasPrefix(args[0], "ami-") {
				return cmdutil.FlagErrorf("lineage: %q is not an AMI id (ami-…)", args[0])
			}
			opts := &LineageOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), AMI: args[0], Region: c.String("region")}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return lineageRun(c.Context, opts)
		},
	}
}

func lineageRun(ctx context.Context, opts *LineageOptions) error {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	finder := NewFinder(cfg, awsapi.NewClients(awsCfg), opts.Region)
	lin, err := finder.Lineage(ctx, opts.AMI, opts.Region)
	if err != nil {
		return err
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, lin)
	}
	return WriteTree(f.IOStreams.Out, lin, opts.AMI)
}

// NewFinder searches the project's regions (and region, when it is another).
func NewFinder(cfg *config.Config, clients *awsapi.Clients, region string) *lineage.Finder {
	regions := channel.ProjectRegions(cfg)
	if region != "" && !slices.Contains(regions, region) {
		regions = append(regions, region)
	}
	return &lineage.Finder{EC2: clients.EC2, Project: cfg.Project.Name, Regions: regions}
}

// WriteTree prints the family as a tree: the source, the ancestors, the
// AMI asked about (marked) and its descendants.
func WriteTree(w io.Writer, lin *lineage.Lineage, ami string) error {
	var b strings.Builder
	depth := 0
	if lin.Source != "" {
		fmt.Fprintf(&b, "%s (source)\n", lin.Source)
		depth = 1
	}
	for _, a := range lin.Ancestors {
		fmt.Fprintf(&b, "%s%s\n", chainPrefix(depth), memberLine(a, ""))
		depth++
	}
	fmt.Fprintf(&b, "%s%s\n", chainPrefix(depth), memberLine(lin.Target, ami))
	writeChildren(&b, lin.Target, strings.Repeat("    ", depth), ami)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write lineage: %w", err)
	}
	return nil
}

func chainPrefix(depth int) string {
	if depth == 0 {
		return ""
	}
	return strings.Repeat("    ", depth-1) + "└── "
}

func writeChildren(b *strings.Builder, m *lineage.Member, prefix, ami string) {
	for i, c := range m.Children {
		branch, next := "├── ", "│   "
		if i == len(m.Children)-1 {
			branch, next = "└── ", "    "
		}
		fmt.Fprintf(b, "%s%s%s\n", prefix, branch, memberLine(c, ami))
		writeChildren(b, c, prefix+next, ami)
	}
}

func memberLine(m *lineage.Member, ami string) string {
	if m.Missing {
		return fmt.Sprintf("%s (gone: deregistered or not visible)", m.Images[0].ID)
	}
	layer := m.Layer
	if layer == "" {
		layer = "?"
	}
	parts := []string{layer}
	for _, img := range m.Images {
		s := img.ID + " " + img.Region
		if img.State != "" && img.State != lineage.StateAvailable {
			s += " " + img.State
		}
		parts = append(parts, s)
	}
	line := strings.Join(parts, "  ")
	if m.Revoked != "" {
		line += "  REVOKED: " + m.Revoked
	}
	if ami != "" && m.Has(ami) {
		line += "  ◀"
	}
	return line
}
