// Package fingerprint is `amibake fingerprint`: each layer's content
// fingerprint, and with --explain everything that went into it.
package fingerprint

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/iostreams"
)

// FingerprintOptions is everything fingerprintRun needs.
type FingerprintOptions struct {
	IO *iostreams.IOStreams
	// LoadConfig decodes the project (config.Load in production).
	LoadConfig func() (*config.Config, hcl.Diagnostics)
	JSON       bool

	Explain bool
	// Layers restricts the output to these layers (no ancestors or
	// descendants); empty means all.
	Layers []string
}

// NewCmdFingerprint builds `amibake fingerprint`. runF, when set, replaces
// fingerprintRun (tests capture the options with it).
func NewCmdFingerprint(f *cmdutil.Factory, runF func(*FingerprintOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "fingerprint",
		Usage:     "Show the content fingerprint of each layer",
		ArgsUsage: "[LAYER...]",
		Description: "A fingerprint is the sha256 of everything that decides the bytes of a layer's\n" +
			"image: its parent's fingerprint or its source, the image settings, and its\n" +
			"recipes with their inputs, steps and files (docs/fingerprint.md). --explain\n" +
			"lists each component with its digest; compare two outputs to see why a\n" +
			"layer would rebuild.\n\n" +
			"   amibake fingerprint\n" +
			"   amibake fingerprint app-web --explain > before.txt   # then change a recipe, run again, diff",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "explain", Usage: "list every component of each fingerprint with its digest"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			loadOpts := cmdutil.LoadOptionsFrom(c, f)
			opts := &FingerprintOptions{
				IO:      f.IOStreams,
				JSON:    f.JSON(),
				Explain: c.Bool("explain"),
				Layers:  args,
				LoadConfig: func() (*config.Config, hcl.Diagnostics) {
					return config.Load(f.WorkDir, loadOpts)
				},
			}
			if runF != nil {
				return runF(opts)
			}
			return fingerprintRun(opts)
		},
	}
}

func fingerprintRun(opts *FingerprintOptions) error {
	if opts.LoadConfig == nil {
		return errors.New("no project loader")
	}
	cfg, diags := opts.LoadConfig()
	var g *graph.Graph
	if cfg != nil && !diags.HasErrors() {
		var gd hcl.Diagnostics
		g, gd = graph.Build(cfg)
		diags = append(diags, gd...)
	}
	var fps map[string]*graph.Fingerprint
	if g != nil && !diags.HasErrors() {
		var fd hcl.Diagnostics
		fps, fd = graph.Fingerprints(g)
		diags = append(diags, fd...)
	}
	var sources map[string][]byte
	if cfg != nil {
		sources = cfg.Sources
	}
	if err := cmdutil.PrintDiagnostics(opts.IO, sources, diags); err != nil {
		return fmt.Errorf("print diagnostics: %w", err)
	}
	if g == nil || diags.HasErrors() {
		return cmdutil.ErrSilent
	}

	nodes, err := g.Select(opts.Layers, false, false)
	if err != nil {
		return cmdutil.FlagErrorf("%s", err)
	}
	list := make([]*graph.Fingerprint, 0, len(nodes))
	for _, n := range nodes {
		if fp := fps[n.Name()]; fp != nil {
			list = append(list, fp)
		}
	}

	switch {
	case opts.JSON:
		out := make([]graph.Fingerprint, 0, len(list))
		for _, fp := range list {
			c := *fp
			if !opts.Explain {
				c.Components = nil
			}
			out = append(out, c)
		}
		return cmdutil.WriteJSON(opts.IO.Out, out)
	case opts.Explain:
		return writeExplain(opts.IO.Out, list)
	default:
		return writeTable(opts.IO, list)
	}
}

// writeTable prints LAYER FINGERPRINT PARENT with short hashes: aligned
// with a header on a terminal, tab-separated without one for pipes.
func writeTable(ios *iostreams.IOStreams, list []*graph.Fingerprint) error {
	parentShort := func(fp *graph.Fingerprint) string {
		if fp.Parent == "" {
			return "-"
		}
		return fp.Parent[:12]
	}
	if !ios.IsStdoutTTY() {
		bw := bufio.NewWriter(ios.Out)
		for _, fp := range list {
			fmt.Fprintf(bw, "%s\t%s\t%s\n", fp.Layer, fp.Short, parentShort(fp))
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write fingerprints: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(ios.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tFINGERPRINT\tPARENT")
	for _, fp := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", fp.Layer, fp.Short, parentShort(fp))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write fingerprints: %w", err)
	}
	return nil
}

// writeExplain prints, per layer, its full hash and then one line per
// component (indented parts under each recipe):
//
//	foundation  dc4cc8583853ec535ccf033f82428268a7c45006b403c20c835a2ce0c891f3c2
//	  parent   linux              e2e4e17b9d51
//	  setting  volume.size        5d2b4b1c3b01  8
//	  recipe   hardening          0b5c7a9e1f23  1.4.0
//	    input  level              9f1c22ab40de  1
//	    step   harden             7ac1e2d3f4b5  script harden.sh env CIS_LEVEL="1"
//	    file   harden.sh          3b8e0f0a9c1d
func writeExplain(w io.Writer, list []*graph.Fingerprint) error {
	bw := bufio.NewWriter(w)
	for i, fp := range list {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintf(bw, "%s  %s\n", fp.Layer, fp.Hash)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		var rows func(cs []graph.Component, indent string)
		rows = func(cs []graph.Component, indent string) {
			for _, c := range cs {
				digest := graph.SensitiveValue
				if !c.Sensitive {
					digest = shortDigest(c.Digest)
				}
				// Digest and value share the last cell, so that lines
				// without a value do not split the digest column.
				line := fmt.Sprintf("%s%s\t%s\t%-12s  %s", indent, c.Kind, c.Name, digest, c.Value)
				fmt.Fprintln(tw, strings.TrimRight(line, " "))
				rows(c.Parts, indent+"  ")
			}
		}
		rows(fp.Components, "  ")
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write explain: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write explain: %w", err)
	}
	return nil
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}
