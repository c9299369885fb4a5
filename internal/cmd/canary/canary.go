// Package canary is `amibake canary FLEET --ami AMI`: judge a new AMI by
// its metrics before a rollout — canary instances from it beside baseline
// instances from the fleet's current AMI, compared metric by metric.
package canary

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/canary"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lock"
)

// DefaultReportDir is where reports and charts go, relative to the project.
const DefaultReportDir = ".amibake/canary"

// Options are the command's inputs.
type Options struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Fleet       string
	AMI         string
	BaselineAMI string
	Window      time.Duration
	Apply       bool
	ReportDir   string
	NoWait      bool
	Poll        time.Duration
	LockTimeout time.Duration
}

// NewCmdCanary builds the command; runF replaces the run in tests.
func NewCmdCanary(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cli.Command {
	return &cli.Command{
		Name:      "canary",
		Usage:     "judge a new AMI by its metrics: canary vs baseline instances, Mann-Whitney U per metric",
		ArgsUsage: "FLEET",
		Description: "Launches the fleet's canary block's number of canary instances from --ami and\n" +
			"as many baseline instances from the fleet's current AMI (its channel, or\n" +
			"--baseline-ami), tagged amibake:role=canary|baseline, waits the window,\n" +
			"reads every metric with GetMetricData, compares canary with baseline (two-\n" +
			"sided Mann-Whitney U plus the metric's tolerance) and always terminates the\n" +
			"instances. Writes a JSON report and an SVG chart into --report-dir.\n" +
			"Exit 0 pass, 5 marginal (paused for an operator), 1 fail. Dry run unless --apply.\n\n" +
			"   amibake canary web --ami ami-0123 --apply",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "ami", Usage: "the new `AMI` to judge (required)"},
			&cli.StringFlag{Name: "baseline-ami", Usage: "the baseline `AMI` (default: the fleet's channel)"},
			&cli.DurationFlag{Name: "window", Usage: "analysis window `D` (default: the canary block's, else 30m)"},
			&cli.BoolFlag{Name: "apply", Usage: "launch and judge (default: dry run — show what would run)"},
			&cli.StringFlag{Name: "report-dir", Value: DefaultReportDir, Usage: "write the JSON report and SVG chart into `DIR` (relative to the project)"},
			&cli.BoolFlag{Name: "no-wait", Usage: "read the window ending now instead of waiting it out (for instances already serving, and the sandbox)"},
			&cli.DurationFlag{Name: "poll", Value: 5 * time.Second, Usage: "poll instance state every `D` while they start"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("canary takes one FLEET argument, got %d", len(args))
			}
			if c.String("ami") == "" {
				return cmdutil.FlagErrorf("canary needs --ami AMI")
			}
			opts := &Options{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Fleet: args[0],
				AMI: c.String("ami"), BaselineAMI: c.String("baseline-ami"), Window: c.Duration("window"),
				Apply: c.Bool("apply"), ReportDir: c.String("report-dir"), NoWait: c.Bool("no-wait"), Poll: c.Duration("poll")}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return run(c.Context, opts)
		},
	}
}

func run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	fleet, ok := cfg.Fleets[opts.Fleet]
	if !ok {
		names := make([]string, 0, len(cfg.Fleets))
		for n := range cfg.Fleets {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("unknown fleet %q (fleets: %s)", opts.Fleet, strings.Join(names, ", "))
	}
	if fleet.Canary == nil {
		return fmt.Errorf("fleet %s has no canary block: add one with the metrics to judge (docs/canary.md)", fleet.Name)
	}
	regions, err := channel.LayerRegions(cfg, fleet.Layer)
	if err != nil {
		return err
	}
	region := regions[0]
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	clients := awsapi.NewClients(awsCfg)
	baseline := opts.BaselineAMI
	if baseline == "" {
		name := channel.Paths(cfg).Channel(fleet.Layer, fleet.Channel)
		v, err := channel.Get(ctx, clients.SSM(region), name)
		if err != nil {
			return fmt.Errorf("baseline AMI of fleet %s: %w (or pass --baseline-ami)", fleet.Name, err)
		}
		baseline = v.AMI
	}
	out := f.IOStreams.Out
	if f.JSON() {
		out = f.IOStreams.ErrOut
	}
	a := &canary.Analysis{
		EC2: clients.EC2(region), CloudWatch: clients.CloudWatch(region), AutoScaling: clients.AutoScaling(region),
		Project: cfg.Project.Name, Fleet: fleet, AMI: opts.AMI, BaselineAMI: baseline, Window: opts.Window,
		NoWait: opts.NoWait, Poll: opts.Poll, Now: f.Now, Out: out,
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if !opts.Apply {
		printPlan(out, a, region)
		return nil
	}
	// It launches 2N instances that cost money while the window runs.
	if err := cmdutil.ConfirmApply(ctx, f, cmdutil.ApplyPrompt{Changes: 2 * max(fleet.Canary.Instances, 1), Regions: []string{region}, STS: clients.STS(),
		Preview: func(w io.Writer) error { printCalls(w, a, region); return nil }}); err != nil {
		return err
	}
	// Launching and terminating instances changes AWS: the project lock,
	// renewed for the whole window; losing it stops the analysis (which
	// still terminates its instances).
	locker := &lock.Locker{SSM: clients.SSM(""), Name: channel.Paths(cfg).Lock(), Now: f.Now, Command: "canary " + fleet.Name}
	held, err := locker.Acquire(ctx, opts.LockTimeout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	held.KeepAlive(ctx, func(err error) { cancel(fmt.Errorf("%w: %w", lock.ErrLost, err)) })
	defer func() {
		if rerr := held.Release(context.WithoutCancel(ctx)); rerr != nil {
			fmt.Fprintf(f.IOStreams.ErrOut, "release project lock: %v\n", rerr)
		}
	}()
	rep, runErr := a.Run(ctx)
	if runErr != nil {
		if rep != nil && len(rep.Terminated) > 0 {
			runErr = fmt.Errorf("%w (canary and baseline instances terminated)", runErr)
		}
		return runErr
	}
	dir := opts.ReportDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(f.WorkDir, dir)
	}
	if err := canary.WriteFiles(dir, rep); err != nil {
		return err
	}
	if f.JSON() {
		if err := cmdutil.WriteJSON(f.IOStreams.Out, rep); err != nil {
			return err
		}
	} else if err := canary.PrintText(f.IOStreams.Out, rep); err != nil {
		return err
	}
	if rep.Verdict != canary.Pass {
		ve := &canary.VerdictError{Fleet: fleet.Name, Verdict: rep.Verdict}
		if rep.Verdict == canary.Marginal {
			fmt.Fprintf(f.IOStreams.ErrOut, "%v: paused for an operator (exit %d)\n", ve, ve.ExitCode())
		} else {
			fmt.Fprintf(f.IOStreams.ErrOut, "%v\n", ve)
		}
		return cmdutil.SilentExit(ve.ExitCode())
	}
	return nil
}

func printPlan(w io.Writer, a *canary.Analysis, region string) {
	printCalls(w, a, region)
	fmt.Fprintln(w, "Dry run: nothing launched. Run with --apply.")
}

// printCalls is what --apply does, call by call.
func printCalls(w io.Writer, a *canary.Analysis, region string) {
	c := a.Fleet.Canary
	n := max(c.Instances, 1)
	window := a.Window
	if window == 0 {
		window = c.Window
	}
	if window == 0 {
		window = canary.DefaultWindow
	}
	fmt.Fprintf(w, "Canary analysis of fleet %s in %s: %s (new) vs %s (baseline)\n", a.Fleet.Name, region, a.AMI, a.BaselineAMI)
	fmt.Fprintf(w, "  ec2:RunInstances ImageId=%s Count=%d Tags amibake:role=%s\n", a.BaselineAMI, n, canary.RoleBase)
	fmt.Fprintf(w, "  ec2:RunInstances ImageId=%s Count=%d Tags amibake:role=%s\n", a.AMI, n, canary.RoleCanary)
	fmt.Fprintf(w, "  cloudwatch:GetMetricData over %s for:\n", window)
	for _, m := range c.Metrics {
		src := fmt.Sprintf("%s/%s %s", m.Namespace, m.MetricName, orDefault(m.Statistic, canary.DefaultStatistic))
		if m.Expression != "" {
			src = fmt.Sprintf("%s (%d queries per instance)", m.Expression, len(m.Queries))
		}
		fmt.Fprintf(w, "    %s: %s, %s, tolerance %s\n", m.Name, src, m.Direction, orDefault(m.Tolerance, "10%"))
	}
	fmt.Fprintf(w, "  ec2:TerminateInstances (always)\n")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// ensure errors from the analysis keep their exit codes.
var _ interface{ ExitCode() int } = (*canary.VerdictError)(nil)
