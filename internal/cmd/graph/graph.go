// Package graph is `amibake graph`: the layer DAG as a text tree, Graphviz
// dot, Mermaid or JSON.
package graph

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/iostreams"
)

// Formats of `amibake graph`.
const (
	FormatTree    = "tree"
	FormatDot     = "dot"
	FormatMermaid = "mermaid"
	FormatJSON    = "json"
)

var formats = []string{FormatTree, FormatDot, FormatMermaid, FormatJSON}

// GraphOptions is everything graphRun needs.
type GraphOptions struct {
	IO *iostreams.IOStreams
	// LoadConfig decodes the project (config.Load in production).
	LoadConfig func() (*config.Config, hcl.Diagnostics)

	Format string
	// Layers restricts the output to these layers, their ancestors and
	// their descendants; empty means all.
	Layers []string
}

// NewCmdGraph builds `amibake graph`. runF, when set, replaces graphRun
// (tests capture the options with it).
func NewCmdGraph(f *cmdutil.Factory, runF func(*GraphOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "graph",
		Usage:     "Show the layer DAG",
		ArgsUsage: "[LAYER...]",
		Description: "Prints the layers as a tree (default), a Graphviz digraph (--format dot),\n" +
			"a Mermaid flowchart (--format mermaid) or JSON (--format json, or --output json).\n" +
			"With LAYER arguments, only those layers, their ancestors and their descendants\n" +
			"are shown.\n\n" +
			"   amibake graph --format dot | dot -Tsvg > layers.svg",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "output `FORMAT`: tree, dot, mermaid or json (default: tree, or json with --output json)"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			opts := &GraphOptions{IO: f.IOStreams, Layers: args}
			loadOpts := cmdutil.LoadOptionsFrom(c, f)
			format := c.String("format")
			switch {
			case format == "" && f.JSON():
				format = FormatJSON
			case format == "":
				format = FormatTree
			case f.JSON() && format != FormatJSON:
				return cmdutil.FlagErrorf("--output json prints JSON; it cannot be combined with --format %s", format)
			}
			if !contains(formats, format) {
				return cmdutil.FlagErrorf("invalid --format %q: want one of %s", format, strings.Join(formats, ", "))
			}
			opts.Format = format
			opts.LoadConfig = func() (*config.Config, hcl.Diagnostics) {
				return config.Load(f.WorkDir, loadOpts)
			}
			if runF != nil {
				return runF(opts)
			}
			return graphRun(opts)
		},
	}
}

func graphRun(opts *GraphOptions) error {
	cfg, g, err := load(opts.IO, opts.LoadConfig)
	if err != nil {
		return err
	}
	nodes, err := g.Select(opts.Layers, true, true)
	if err != nil {
		return cmdutil.FlagErrorf("%s", err)
	}
	out := opts.IO.Out
	switch opts.Format {
	case FormatDot:
		return writeDot(out, nodes)
	case FormatMermaid:
		return writeMermaid(out, nodes)
	case FormatJSON:
		fps, diags := graph.Fingerprints(g)
		if len(diags) > 0 {
			if err := cmdutil.PrintDiagnostics(opts.IO, cfg.Sources, diags); err != nil {
				return fmt.Errorf("print diagnostics: %w", err)
			}
		}
		if diags.HasErrors() {
			return cmdutil.ErrSilent
		}
		return cmdutil.WriteJSON(out, jsonGraph(nodes, fps))
	default:
		return writeTree(out, nodes)
	}
}

// load decodes the project and builds its graph, printing every
// diagnostic (warnings too) to ErrOut; an error diagnostic ends the run
// with cmdutil.ErrSilent.
func load(ios *iostreams.IOStreams, loadConfig func() (*config.Config, hcl.Diagnostics)) (*config.Config, *graph.Graph, error) {
	if loadConfig == nil {
		return nil, nil, errors.New("no project loader")
	}
	cfg, diags := loadConfig()
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
	if err := cmdutil.PrintDiagnostics(ios, sources, diags); err != nil {
		return nil, nil, fmt.Errorf("print diagnostics: %w", err)
	}
	if cfg == nil || g == nil || diags.HasErrors() {
		return nil, nil, cmdutil.ErrSilent
	}
	return cfg, g, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
