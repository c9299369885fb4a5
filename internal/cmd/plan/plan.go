// Package plan is `amibake plan`: for each layer, whether bake would build
// it or reuse an existing AMI, and why. Read-only: it never takes the lock.
package plan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/plan"
)

// PlanOptions is everything planRun needs.
type PlanOptions struct {
	IO *iostreams.IOStreams
	// LoadConfig decodes the project (config.Load in production).
	LoadConfig func() (*config.Config, hcl.Diagnostics)
	// AWSConfig returns the SDK configuration (the Factory's).
	AWSConfig func(ctx context.Context) (aws.Config, error)
	Context   context.Context
	JSON      bool

	// DetailedExitCode exits 2 when there is something to build or a
	// channel to move.
	DetailedExitCode bool
	// Layers are the LAYER arguments: those layers plus the ancestors they
	// need rebuilt; empty means all.
	Layers []string
}

// NewCmdPlan builds `amibake plan`. runF, when set, replaces planRun (tests
// capture the options with it).
func NewCmdPlan(f *cmdutil.Factory, runF func(*PlanOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "Show which layers bake would build, and why",
		ArgsUsage: "[LAYER...]",
		Description: "Compares each layer's fingerprint with the AMIs already published (found by\n" +
			"fingerprint, never one call per AMI) and prints, per layer, build or reuse with a\n" +
			"stable reason code: new, recipe-changed, settings-changed, parent-rebuilt,\n" +
			"source-moved, revoked or up-to-date (docs/plan.md). With LAYER arguments, only\n" +
			"those layers and the ancestors they need rebuilt. Read-only; never takes the lock.\n\n" +
			"   amibake plan -detailed-exitcode    # exit 0: nothing to do, 2: changes, 1: error",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 2 when there are layers to build, 0 when there are none"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			loadOpts := cmdutil.LoadOptionsFrom(c, f)
			opts := &PlanOptions{
				IO:               f.IOStreams,
				AWSConfig:        f.AWSConfig,
				Context:          c.Context,
				JSON:             f.JSON(),
				DetailedExitCode: c.Bool("detailed-exitcode"),
				Layers:           args,
				LoadConfig: func() (*config.Config, hcl.Diagnostics) {
					return config.Load(f.WorkDir, loadOpts)
				},
			}
			if runF != nil {
				return runF(opts)
			}
			return planRun(opts)
		},
	}
}

// JSONReport is the --output json document (docs/reference/json/).
type JSONReport = jsonPlan

// jsonPlan is the --output json document.
type jsonPlan struct {
	*plan.Plan
	// Changes counts the layers to build, Publish the reused layers whose
	// latest channel moves, Copy the reused layers missing a regional copy
	// (bake copies them); UpToDate the reused layers.
	Changes  int `json:"changes"`
	Publish  int `json:"publish"`
	Copy     int `json:"copy"`
	UpToDate int `json:"up_to_date"`
}

func planRun(opts *PlanOptions) error {
	if opts.LoadConfig == nil || opts.AWSConfig == nil {
		return errors.New("plan: missing project loader or AWS configuration")
	}
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, g, fps, err := load(opts.IO, opts.LoadConfig)
	if err != nil {
		return err
	}
	if _, err := g.Select(opts.Layers, false, false); err != nil {
		return cmdutil.FlagErrorf("%s", err)
	}

	awsCfg, err := opts.AWSConfig(ctx)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	obs, err := plan.Observe(ctx, awsapi.NewClients(awsCfg), cfg, g, fps)
	if err != nil {
		return fmt.Errorf("plan: read AWS state: %w", err)
	}
	p := plan.New(g, fps, obs, opts.Layers)

	if opts.JSON {
		err = cmdutil.WriteJSON(opts.IO.Out, jsonPlan{Plan: p, Changes: p.Changes(), Publish: p.Publishes(), Copy: p.Copies(), UpToDate: len(p.Layers) - p.Changes()})
	} else {
		err = writeText(opts.IO, p)
	}
	if err != nil {
		return err
	}
	// Moving a channel onto a reused AMI, or copying it to a region it
	// is missing from, changes AWS too.
	if opts.DetailedExitCode && p.Pending() > 0 {
		return cmdutil.SilentExit(cmdutil.ExitChanges)
	}
	return nil
}

// load decodes the project and computes the graph and fingerprints,
// printing diagnostics; any error ends the command silently after them.
func load(ios *iostreams.IOStreams, loadConfig func() (*config.Config, hcl.Diagnostics)) (*config.Config, *graph.Graph, map[string]*graph.Fingerprint, error) {
	cfg, diags := loadConfig()
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
	if err := cmdutil.PrintDiagnostics(ios, sources, diags); err != nil {
		return nil, nil, nil, fmt.Errorf("print diagnostics: %w", err)
	}
	if g == nil || diags.HasErrors() {
		return nil, nil, nil, cmdutil.ErrSilent
	}
	return cfg, g, fps, nil
}

// writeText prints LAYER ACTION REASON DETAIL and a summary line: aligned
// with a header on a terminal; tab-separated rows for pipes, with the
// summary on stderr so that stdout stays one row per layer.
func writeText(ios *iostreams.IOStreams, p *plan.Plan) error {
	summary := fmt.Sprintf("Plan: %d to build, %d up to date", p.Changes(), len(p.Layers)-p.Changes())
	var extra []string
	if n := p.Publishes(); n > 0 {
		extra = append(extra, fmt.Sprintf("%d to publish without a build", n))
	}
	if n := p.Copies(); n > 0 {
		extra = append(extra, fmt.Sprintf("%d to copy to a missing region", n))
	}
	if len(extra) > 0 {
		summary += " (" + strings.Join(extra, ", ") + ")"
	}
	summary += ".\n"
	detail := func(l *plan.Layer) string {
		if l.Detail == "" {
			return "-"
		}
		return l.Detail
	}
	if !ios.IsStdoutTTY() {
		bw := bufio.NewWriter(ios.Out)
		for _, l := range p.Layers {
			fmt.Fprintf(bw, "%s\t%s\t%s\t%s\n", l.Layer, l.Action, l.Reason, detail(l))
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write plan: %w", err)
		}
		_, err := io.WriteString(ios.ErrOut, summary)
		return err
	}
	tw := tabwriter.NewWriter(ios.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tACTION\tREASON\tDETAIL")
	for _, l := range p.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Layer, l.Action, l.Reason, detail(l))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	if _, err := fmt.Fprintf(ios.Out, "\n%s", summary); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}
