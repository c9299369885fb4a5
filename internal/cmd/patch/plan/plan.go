// Package plan is `amibake patch plan [-detailed-exitcode] [--from FILE]`:
// scan each layer's latest AMI (or read a saved `patch scan -o json`),
// apply the rebake_when policies and print which layers a patch rebake
// would rebuild, with reason patch-drift.
package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmd/patch/scan"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/patch"
	"github.com/amibake/amibake/patch/decide"
	pscan "github.com/amibake/amibake/patch/scan"
)

// PlanOptions are the inputs of patch plan.
type PlanOptions struct {
	Factory          *cmdutil.Factory
	LoadOptions      config.LoadOptions
	DetailedExitCode bool
	From             string
	LockTimeout      time.Duration
	Poll             time.Duration
	Timeout          time.Duration
}

// NewCmdPlan builds the command; runF replaces the run in tests.
func NewCmdPlan(f *cmdutil.Factory, runF func(context.Context, *PlanOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "which layers a patch rebake would rebuild (reason patch-drift)",
		Description: "Scans each layer's latest AMI as `patch scan` does (taking the project lock:\n" +
			"scan instances are launched), or reads a saved `amibake -o json patch scan` with\n" +
			"--from. A layer is stale when its image misses a patch whose severity is in its\n" +
			"baseline's rebake_when.missing_severity, or is older than rebake_when.max_age;\n" +
			"the baseline is the layer's own patch block's or its nearest ancestor's. The\n" +
			"rebake target is the lowest affected layer and every layer built on it.\n\n" +
			"   amibake patch plan -detailed-exitcode   # exit 0: nothing stale, 2: rebake needed",
		Flags: append(append([]cli.Flag{
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 2 when a layer is stale, 0 when none is"},
			&cli.StringFlag{Name: "from", Usage: "decide from a saved `FILE` (amibake -o json patch scan) instead of scanning"},
		}, scan.Flags()...), cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 0 {
				return cmdutil.FlagErrorf("patch plan takes no arguments, got %q", args)
			}
			opts := &PlanOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), DetailedExitCode: c.Bool("detailed-exitcode"),
				From: c.String("from"), LockTimeout: c.Duration("lock-timeout"), Poll: c.Duration("poll"), Timeout: c.Duration("timeout")}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return planRun(c.Context, opts)
		},
	}
}

func planRun(ctx context.Context, opts *PlanOptions) error {
	f := opts.Factory
	cfg, g, err := scan.Load(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	var res *patch.ScanResult
	if opts.From != "" {
		path := opts.From
		if !filepath.IsAbs(path) && f.WorkDir != "" {
			path = filepath.Join(f.WorkDir, path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read saved scan: %w", err)
		}
		res = &patch.ScanResult{}
		if err := json.Unmarshal(data, res); err != nil {
			return fmt.Errorf("read saved scan %s: %w", opts.From, err)
		}
	} else {
		res, err = scan.Run(ctx, f, cfg, g, patch.ScanOptions{All: true, Layers: layerNames(g.Topo()), Poll: opts.Poll, Timeout: opts.Timeout},
			opts.LockTimeout, "patch plan")
		if err != nil {
			return err
		}
	}
	images := map[string]*pscan.Report{}
	for _, r := range res.Images {
		images[r.Layer] = r
	}
	now := time.Now()
	if f.Now != nil {
		now = f.Now()
	}
	d := decide.Decide(decide.Input{Graph: g, Images: images, Now: now})
	if f.JSON() {
		if err := cmdutil.WriteJSON(f.IOStreams.Out, d); err != nil {
			return err
		}
	} else if err := printPlan(f.IOStreams.Out, d); err != nil {
		return err
	}
	if opts.DetailedExitCode && len(d.Stale) > 0 {
		return cmdutil.SilentExit(cmdutil.ExitChanges)
	}
	return nil
}

func layerNames[N interface{ Name() string }](ns []N) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.Name())
	}
	return out
}

func printPlan(w io.Writer, d *decide.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tACTION\tREASON\tDETAIL")
	for _, l := range d.Layers {
		action := "keep"
		if l.Stale {
			action = "rebake"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Layer, action, l.Reason, l.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var err error
	if len(d.Stale) == 0 {
		_, err = fmt.Fprintln(w, "Nothing to rebake: every scanned layer is within its patch policy.")
	} else {
		_, err = fmt.Fprintf(w, "%d layer(s) to rebake from %s: %s.\n", len(d.Stale), strings.Join(d.Roots, ", "), strings.Join(d.Stale, ", "))
	}
	return err
}
