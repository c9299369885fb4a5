// Package buildspec is `amibake ci buildspec`.
package buildspec

import (
	"errors"
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/ci"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/iostreams"
)

// BuildspecOptions is everything buildspecRun needs.
type BuildspecOptions struct {
	IO *iostreams.IOStreams
	// LoadConfig decodes the project (config.Load in production); only
	// --batch needs it.
	LoadConfig func() (*config.Config, hcl.Diagnostics)

	Batch   bool
	Out     string // file to write, "" or "-" for stdout
	Version string // amibake version to install
	Command string // the command the single build runs
	Dir     string // project directory inside the source
}

// NewCmdBuildspec builds `amibake ci buildspec`; runF replaces the run in tests.
func NewCmdBuildspec(f *cmdutil.Factory, runF func(*BuildspecOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "buildspec",
		Usage: "Write a CodeBuild buildspec.yml that runs amibake",
		Description: "The buildspec installs the pinned amibake (this binary's version), packer " + ci.PackerVersion + ",\n" +
			"the amazon plugin and packer-plugin-amibake into ~/.cache/amibake/tools (a CodeBuild\n" +
			"cache path), runs `amibake --output json $AMIBAKE_COMMAND` (default: bake) and\n" +
			"publishes the JSON as an artifact and its JUnit form as a test report.\n\n" +
			"With --batch it is a batch build-graph with one build per layer (amibake bake LAYER)\n" +
			"whose depend-on edges are the layer DAG's.\n\n" +
			"   amibake ci buildspec --out buildspec.yml\n" +
			"   amibake ci buildspec --batch --out buildspec-batch.yml",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "batch", Usage: "write a batch build-graph with one build per layer"},
			&cli.StringFlag{Name: "out", Usage: "write to `FILE` instead of stdout"},
			&cli.StringFlag{Name: "amibake-version", Usage: "amibake `VERSION` to install (default: this binary's; latest for a dev build)"},
			&cli.StringFlag{Name: "command", Value: ci.DefaultCommand, Usage: "the amibake `COMMAND` line the build runs (schedules override AMIBAKE_COMMAND)"},
			&cli.StringFlag{Name: "project-dir", Usage: "the project `DIR` inside the source, if not its root"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cmdutil.FlagErrorf("ci buildspec takes no arguments")
			}
			if f.JSON() {
				return cmdutil.FlagErrorf("ci buildspec writes YAML; --output json does not apply")
			}
			opts := &BuildspecOptions{
				IO:      f.IOStreams,
				Batch:   c.Bool("batch"),
				Out:     c.String("out"),
				Version: c.String("amibake-version"),
				Command: c.String("command"),
				Dir:     c.String("project-dir"),
			}
			if opts.Version == "" {
				opts.Version = f.Version
			}
			if opts.Batch && c.IsSet("command") {
				return cmdutil.FlagErrorf("--command does not apply to --batch: every build runs amibake bake LAYER")
			}
			loadOpts := cmdutil.LoadOptionsFrom(c, f)
			opts.LoadConfig = func() (*config.Config, hcl.Diagnostics) { return config.Load(f.WorkDir, loadOpts) }
			if runF != nil {
				return runF(opts)
			}
			return buildspecRun(opts)
		},
	}
}

func buildspecRun(opts *BuildspecOptions) error {
	o := ci.Options{Version: opts.Version, Command: opts.Command, Dir: opts.Dir}
	var spec *ci.Buildspec
	header := "CodeBuild buildspec written by `amibake ci buildspec`; regenerate it rather than editing.\n" +
		"Docs: docs/pipelines.md"
	if opts.Batch {
		g, err := loadGraph(opts)
		if err != nil {
			return err
		}
		spec = ci.BatchGraph(g, o)
		header = "CodeBuild batch build-graph written by `amibake ci buildspec --batch`: one build per\n" +
			"layer, depend-on edges from the layer DAG. Regenerate it when layers change.\n" +
			"Docs: docs/pipelines.md"
	} else {
		spec = ci.Single(o)
	}
	data, err := ci.Marshal(spec, header)
	if err != nil {
		return err
	}
	if opts.Out == "" || opts.Out == "-" {
		if _, err := opts.IO.Out.Write(data); err != nil {
			return fmt.Errorf("write buildspec: %w", err)
		}
		return nil
	}
	if err := os.WriteFile(opts.Out, data, 0o644); err != nil {
		return fmt.Errorf("write buildspec: %w", err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Wrote %s.\n", opts.Out)
	return nil
}

func loadGraph(opts *BuildspecOptions) (*graph.Graph, error) {
	if opts.LoadConfig == nil {
		return nil, errors.New("no project loader")
	}
	cfg, diags := opts.LoadConfig()
	var g *graph.Graph
	if cfg != nil && !diags.HasErrors() {
		var gd hcl.Diagnostics
		g, gd = graph.Build(cfg)
		diags = append(diags, gd...)
	}
	var sources map[string][]byte
	if cfg != nil {
		sources = cfg.Sources
	}
	if err := cmdutil.PrintDiagnostics(opts.IO, sources, diags); err != nil {
		return nil, fmt.Errorf("print diagnostics: %w", err)
	}
	if g == nil || diags.HasErrors() {
		return nil, cmdutil.ErrSilent
	}
	return g, nil
}
