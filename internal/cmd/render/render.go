// Package render is `amibake render`: each layer's Packer template, written
// as <layer>.pkr.hcl, exactly as bake would run it (build id "render").
// Sensitive values are never written: templates refer to them by reference.
package render

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/iostreams"
)

// BuildID is the build id rendered templates carry.
const BuildID = "render"

// RenderOptions is everything renderRun needs.
type RenderOptions struct {
	IO *iostreams.IOStreams
	// LoadConfig decodes the project (config.Load in production).
	LoadConfig func() (*config.Config, hcl.Diagnostics)
	Now        func() time.Time
	Version    string
	JSON       bool

	// Layers to render; empty means all.
	Layers []string
	// OutDir is where templates are written (created if needed).
	OutDir string
	// Sandbox renders for the in-tree sandbox: loopback-only skips of
	// credential and region checks, 1-second waiter polls.
	Sandbox bool
}

// NewCmdRender builds `amibake render`. runF, when set, replaces renderRun
// (tests capture the options with it).
func NewCmdRender(f *cmdutil.Factory, runF func(*RenderOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "render",
		Usage:     "Write each layer's Packer template",
		ArgsUsage: "[LAYER...]",
		Description: "Renders LAYER (all layers when none) into DIR/<layer>.pkr.hcl, the template\n" +
			"bake runs, with build id \"render\". Secrets are never written: a sensitive\n" +
			"value is a SecureString reference (ssm) or a variable read from the\n" +
			"environment (ssh). Relative --out paths are relative to the project directory.\n\n" +
			"   amibake render --out build/ && packer validate build/base.pkr.hcl",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "write templates to `DIR`", Required: true},
			&cli.BoolFlag{Name: "sandbox", Usage: "render for the in-tree sandbox (skip AWS credential checks, fast polling)"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			out := c.String("out")
			if out == "" {
				return cmdutil.FlagErrorf("--out DIR is required")
			}
			if !filepath.IsAbs(out) {
				out = filepath.Join(f.WorkDir, out)
			}
			loadOpts := cmdutil.LoadOptionsFrom(c, f)
			opts := &RenderOptions{
				IO:      f.IOStreams,
				Now:     f.Now,
				Version: f.Version,
				JSON:    f.JSON(),
				Layers:  args,
				OutDir:  out,
				Sandbox: c.Bool("sandbox"),
				LoadConfig: func() (*config.Config, hcl.Diagnostics) {
					return config.Load(f.WorkDir, loadOpts)
				},
			}
			if runF != nil {
				return runF(opts)
			}
			return renderRun(opts)
		},
	}
}

// Rendered is one written template (the JSON output is a list of them).
type Rendered struct {
	Layer string `json:"layer"`
	Path  string `json:"path"`
}

func renderRun(opts *RenderOptions) error {
	if opts.LoadConfig == nil {
		return errors.New("render: no project loader")
	}
	if opts.OutDir == "" {
		return cmdutil.FlagErrorf("--out DIR is required")
	}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
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
	var nodes []*graph.Node
	if g != nil && !diags.HasErrors() {
		var err error
		if nodes, err = g.Select(opts.Layers, false, false); err != nil {
			return cmdutil.FlagErrorf("%s", err)
		}
	}

	// Render everything before writing anything, so that an error leaves
	// no half-written set behind.
	type file struct {
		layer string
		data  []byte
	}
	var files []file
	for _, n := range nodes {
		fp := fps[n.Name()]
		if fp == nil {
			continue
		}
		in := bake.RenderInput{
			Config: cfg, Layer: n.Layer, Fingerprint: fp, BuildID: BuildID,
			Timestamp: now, AmibakeVersion: opts.Version, Sandbox: opts.Sandbox,
		}
		if opts.Sandbox {
			in.PollDelaySeconds = 1
		}
		// The secrets are what a build hands over at run time; render
		// drops them.
		d, _, td := bake.NewTemplateData(in)
		diags = append(diags, td...)
		if td.HasErrors() {
			continue
		}
		b, err := bake.Render(cfg.Dir, d)
		if err != nil {
			return fmt.Errorf("render layer %s: %w", n.Name(), err)
		}
		files = append(files, file{n.Name(), b})
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

	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return fmt.Errorf("render: create output directory: %w", err)
	}
	written := make([]Rendered, 0, len(files))
	for _, f := range files {
		path := filepath.Join(opts.OutDir, f.layer+".pkr.hcl")
		if err := writeFile(path, f.data); err != nil {
			return fmt.Errorf("render layer %s: %w", f.layer, err)
		}
		written = append(written, Rendered{Layer: f.layer, Path: path})
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, written)
	}
	for _, w := range written {
		if _, err := fmt.Fprintln(opts.IO.Out, w.Path); err != nil {
			return fmt.Errorf("render: %w", err)
		}
	}
	return nil
}

// writeFile replaces path atomically: a temporary file in the same
// directory, renamed over it.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".amibake-render-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
