// Package scan is `amibake patch scan [--fleet F] [--layer L]`: run
// AWS-RunPatchBaseline Scan on fleets and on a short-lived instance of each
// layer's latest AMI, and report missing and failed patches, compliance and
// which layer introduced each affected package.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/patch"
	pscan "github.com/amibake/amibake/patch/scan"
)

// ScanOptions are the inputs of patch scan.
type ScanOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Layers      []string
	Fleets      []string
	LockTimeout time.Duration
	Poll        time.Duration
	Timeout     time.Duration
}

// Flags are the flags patch scan and patch plan share.
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "lock-timeout", Usage: "wait up to `D` for the project lock image scans take (default: fail at once, exit 4)"},
		&cli.DurationFlag{Name: "poll", Value: 5 * time.Second, Usage: "wait `D` between status reads"},
		&cli.DurationFlag{Name: "timeout", Value: 30 * time.Minute, Usage: "give up waiting for an instance or a command after `D`"},
	}
}

// NewCmdScan builds the command; runF replaces the run in tests.
func NewCmdScan(f *cmdutil.Factory, runF func(context.Context, *ScanOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "scan",
		Usage: "scan fleets and each layer's latest AMI for missing patches",
		Description: "Fleets: AWS-RunPatchBaseline Operation=Scan through Run Command, targeted by the\n" +
			"fleet's targets { tags } or its patch group, with its rollout max_concurrency and\n" +
			"max_errors. Images: one scan instance per AMI (tagged amibake:role=scan, always\n" +
			"terminated) launched from each layer's latest AMI and the AMIs of its lineage, so\n" +
			"that each missing package is attributed to the lowest layer whose image has it.\n" +
			"Without flags: every layer and every fleet. Image scans take the project lock\n" +
			"(they launch instances); fleet scans do not.\n\n" +
			"   amibake patch scan\n" +
			"   amibake patch scan --fleet worker\n" +
			"   amibake -o json patch scan --layer app-worker",
		Flags: append(append([]cli.Flag{
			&cli.StringSliceFlag{Name: "fleet", Usage: "scan fleet `F` (repeatable)"},
			&cli.StringSliceFlag{Name: "layer", Usage: "scan layer `L`'s latest AMI (repeatable)"},
		}, Flags()...), cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 0 {
				return cmdutil.FlagErrorf("patch scan takes no arguments (use --layer and --fleet), got %q", args)
			}
			opts := &ScanOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f),
				Layers: c.StringSlice("layer"), Fleets: c.StringSlice("fleet"),
				LockTimeout: c.Duration("lock-timeout"), Poll: c.Duration("poll"), Timeout: c.Duration("timeout")}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return scanRun(c.Context, opts)
		},
	}
}

// Load loads the project and its layer graph, printing diagnostics.
func Load(f *cmdutil.Factory, opts config.LoadOptions) (*config.Config, *graph.Graph, error) {
	cfg, err := cmdutil.LoadProject(f, opts)
	if err != nil {
		return nil, nil, err
	}
	g, diags := graph.Build(cfg)
	if len(diags) > 0 {
		if err := cmdutil.PrintDiagnostics(f.IOStreams, cfg.Sources, diags); err != nil {
			return nil, nil, err
		}
	}
	if diags.HasErrors() {
		return nil, nil, cmdutil.ErrSilent
	}
	return cfg, g, nil
}

// Run runs the scans opts select, under the project lock when they launch
// scan instances.
func Run(ctx context.Context, f *cmdutil.Factory, cfg *config.Config, g *graph.Graph, so patch.ScanOptions, lockTimeout time.Duration, command string) (res *patch.ScanResult, err error) {
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	clients := awsapi.NewClients(awsCfg)
	so.Config, so.Graph, so.EC2, so.SSM, so.S3, so.Now = cfg, g, clients.EC2, clients.SSM, clients.S3, f.Now
	so.Progress = func(format string, args ...any) {
		fmt.Fprintf(f.IOStreams.ErrOut, format+"\n", args...)
	}
	if so.ImageScans() {
		locker := &lock.Locker{SSM: clients.SSM(""), Name: channel.Paths(cfg).Lock(), Now: f.Now, Command: command}
		held, err := locker.Acquire(ctx, lockTimeout)
		if err != nil {
			return nil, err
		}
		parent := ctx
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		defer func() {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
			defer rcancel()
			if rerr := held.Release(rctx); rerr != nil {
				err = errors.Join(err, fmt.Errorf("release project lock: %w", rerr))
			}
		}()
		// Image scans can outlast the lease: renew it; losing it stops the
		// scans (their instances are still terminated).
		held.KeepAlive(ctx, func(lerr error) { cancel(fmt.Errorf("%s: %w", command, lerr)) })
		res, err = patch.Scan(ctx, so)
		if cause := context.Cause(ctx); err != nil && cause != nil && parent.Err() == nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
		return res, err
	}
	return patch.Scan(ctx, so)
}

func scanRun(ctx context.Context, opts *ScanOptions) error {
	f := opts.Factory
	cfg, g, err := Load(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	so := patch.ScanOptions{Layers: opts.Layers, Fleets: opts.Fleets, All: len(opts.Layers) == 0 && len(opts.Fleets) == 0,
		Poll: opts.Poll, Timeout: opts.Timeout}
	res, err := Run(ctx, f, cfg, g, so, opts.LockTimeout, "patch scan")
	if err != nil {
		var ul *graph.UnknownLayerError
		if errors.As(err, &ul) {
			return cmdutil.FlagErrorf("%v", err)
		}
		return err
	}
	if f.JSON() {
		err = cmdutil.WriteJSON(f.IOStreams.Out, res)
	} else {
		err = PrintReport(f.IOStreams.Out, res)
	}
	if err != nil {
		return err
	}
	// Instances the scan did not reach: the report is partial.
	for _, r := range res.Fleets {
		if len(r.Failures) > 0 {
			fmt.Fprintf(f.IOStreams.ErrOut, "fleet %s: %d of %d instance(s) not scanned (command %s)\n", r.Name, len(r.Failures), r.Targets, r.CommandID)
			err = cmdutil.SilentExit(cmdutil.ExitPartial)
		}
	}
	return err
}

// PrintReport writes the summary table, then each report's findings.
func PrintReport(w io.Writer, res *patch.ScanResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tTARGET\tCOMPLIANT\tMISSING\tFAILED\tOLDEST MISSING")
	row := func(r *pscan.Report) {
		target := r.AMI
		if r.Kind == pscan.KindFleet {
			target = fmt.Sprintf("%d instance(s)", r.Targets)
			if r.PatchGroup != "" {
				target += " (" + r.PatchGroup + ")"
			}
		}
		oldest := "-"
		if !r.OldestMissing.IsZero() {
			oldest = fmt.Sprintf("%dd (%s)", r.OldestMissingDays, r.OldestMissing.Format("2006-01-02"))
		}
		compliant := fmt.Sprintf("%d/%d (%.0f%%)", r.Compliant, r.Scanned, r.CompliancePercent)
		if r.Scanned == 0 {
			compliant = "0/0 (-)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Kind, r.Name, target, compliant,
			counts(len(r.Missing), r.MissingBySeverity), counts(len(r.Failed), r.FailedBySeverity), oldest)
	}
	for _, r := range res.Images {
		row(r)
	}
	for _, r := range res.Fleets {
		row(r)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, l := range sortedKeys(res.Skipped) {
		fmt.Fprintf(w, "skipped layer %s: %s\n", l, res.Skipped[l])
	}
	for _, r := range append(append([]*pscan.Report{}, res.Images...), res.Fleets...) {
		if len(r.Missing)+len(r.Failed)+len(r.Failures) == 0 {
			continue
		}
		what := r.AMI
		if r.Kind == pscan.KindFleet {
			what = "fleet, command " + r.CommandID
		}
		fmt.Fprintf(w, "\n%s %s (%s):\n", r.Kind, r.Name, what)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, fd := range append(append([]pscan.Finding{}, r.Missing...), r.Failed...) {
			rel := "-"
			if !fd.Released.IsZero() {
				rel = fd.Released.Format("2006-01-02")
			}
			intro := fd.IntroducedBy
			if intro == "" {
				intro = "?"
			} else if fd.IntroducedFrom != "" {
				intro += " (" + fd.IntroducedFrom + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s@%s\t%s\t%s\treleased %s\tintroduced by %s\t%s\n", strings.ToLower(fd.State), fd.Package, fd.Version,
				fd.Severity, fd.Classification, rel, intro, strings.Join(fd.CVEs, ","))
		}
		for _, fl := range r.Failures {
			fmt.Fprintf(tw, "  not scanned\t%s\t%s\t%s\n", fl.InstanceID, fl.Status, fl.Detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func counts(n int, by map[string]int) string {
	if n == 0 {
		return "0"
	}
	var parts []string
	for _, s := range []string{"Critical", "Important", "Medium", "Low"} {
		if by[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", by[s], strings.ToLower(s)))
		}
	}
	for _, s := range sortedKeys(by) {
		switch s {
		case "Critical", "Important", "Medium", "Low":
		default:
			label := s
			if label == "" {
				label = "unrated"
			}
			parts = append(parts, fmt.Sprintf("%d %s", by[s], strings.ToLower(label)))
		}
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
