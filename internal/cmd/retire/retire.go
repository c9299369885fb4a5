// Package retire is `amibake retire [LAYER…]`: list every AMI of the
// project with the reason it is kept or removed, and with --apply
// deprecate, then after the grace period deregister and delete the
// snapshots that were only its own, in every region.
package retire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/retire"
)

// RetireOptions are the inputs of retire.
type RetireOptions struct {
	Factory        *cmdutil.Factory
	LoadOptions    config.LoadOptions
	Layers         []string
	Keep           int // 0: the fleets' retire.keep, else 3
	OlderThan      time.Duration
	Grace          time.Duration // 0 and !GraceSet: the fleets' retire.grace, else 168h
	GraceSet       bool
	ChannelHistory int
	KeepSharedWith []string
	Apply          bool
	LockTimeout    time.Duration
}

// NewCmdRetire builds the command; runF replaces the run in tests.
func NewCmdRetire(f *cmdutil.Factory, runF func(context.Context, *RetireOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "retire",
		Usage:     "deprecate, then deregister, AMIs nothing uses any more",
		ArgsUsage: "[LAYER…]",
		Description: "Lists every AMI of the project (all layers, or the ones named) with the reason\n" +
			"it is kept or removed. Never removes an AMI in use: by an instance in any state\n" +
			"but terminated, by any launch-template version, by an Auto Scaling group, by a\n" +
			"channel (current value or its newest --channel-history versions, or a labelled\n" +
			"one), by a launch permission --keep-shared-with names, or as the parent of a kept\n" +
			"AMI. The newest --keep builds of each layer stay (default: the layer's fleets'\n" +
			"retire.keep, else 3). With --apply (under the project lock) a removable AMI is\n" +
			"deprecated; once deprecated longer than the grace (the fleets' retire.grace, else\n" +
			"168h) it is deregistered with the snapshots only it used, in every region.\n\n" +
			"   amibake retire                   # dry run: every candidate and why\n" +
			"   amibake retire app-web --keep 2 --apply",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "keep", Usage: "keep the newest `N` builds of each layer (default: fleets' retire.keep, else 3)"},
			&cli.DurationFlag{Name: "older-than", Usage: "keep builds younger than `D`"},
			&cli.DurationFlag{Name: "grace", Usage: "deregister `D` after deprecation (default: fleets' retire.grace, else 168h)"},
			&cli.IntFlag{Name: "channel-history", Usage: "the newest `N` versions of each channel count as in use (default: keep)"},
			&cli.StringSliceFlag{Name: "keep-shared-with", Usage: "keep AMIs shared with `ACCOUNT` (repeatable; \"all\" = any launch permission)"},
			&cli.BoolFlag{Name: "apply", Usage: "deprecate and deregister (default: dry run)"},
			cmdutil.LockTimeoutFlag(),
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			opts := &RetireOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Layers: args,
				Keep: c.Int("keep"), OlderThan: c.Duration("older-than"), Grace: c.Duration("grace"), GraceSet: c.IsSet("grace"),
				ChannelHistory: c.Int("channel-history"), KeepSharedWith: c.StringSlice("keep-shared-with"),
				Apply: c.Bool("apply"), LockTimeout: c.Duration("lock-timeout")}
			if c.IsSet("keep") && opts.Keep < 1 {
				return cmdutil.FlagErrorf("--keep must be at least 1, got %d", opts.Keep)
			}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return retireRun(c.Context, opts)
		},
	}
}

func retireRun(ctx context.Context, opts *RetireOptions) (err error) {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	for _, l := range opts.Layers {
		if _, err := channel.LayerRegions(cfg, l); err != nil {
			return err
		}
	}
	req := retire.Request{Layers: opts.Layers, Keep: opts.Keep, OlderThan: opts.OlderThan, Grace: opts.Grace,
		ChannelHistory: opts.ChannelHistory, KeepSharedWith: opts.KeepSharedWith, Apply: opts.Apply,
		KeepByLayer: map[string]int{}, GraceByLayer: map[string]time.Duration{}}
	if req.Keep == 0 {
		req.Keep = config.DefaultRetireKeep
		// A layer keeps what its most demanding fleet asks for.
		for _, fl := range cfg.Fleets {
			req.KeepByLayer[fl.Layer] = max(req.KeepByLayer[fl.Layer], fl.Retire.Keep)
		}
	}
	if !opts.GraceSet {
		req.Grace = retire.DefaultGrace
		for _, fl := range cfg.Fleets {
			if fl.Retire.Grace > 0 {
				req.GraceByLayer[fl.Layer] = max(req.GraceByLayer[fl.Layer], fl.Retire.Grace)
			}
		}
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	clients := awsapi.NewClients(awsCfg)
	paths := channel.Paths(cfg)
	r := &retire.Retirer{EC2: clients.EC2, AutoScaling: clients.AutoScaling, SSM: clients.SSM, Paths: paths,
		Regions: channel.ProjectRegions(cfg), Now: f.Now}
	if opts.Apply && f.WillPrompt() {
		// The operator sees the dry run first. --apply then plans again
		// under the lock, so what it does is judged on the state it acts on.
		dry := req
		dry.Apply = false
		preview, err := r.Run(ctx, dry)
		if err != nil {
			return err
		}
		if err := cmdutil.ConfirmApply(ctx, f, cmdutil.ApplyPrompt{Changes: changeCount(preview), Regions: r.Regions, STS: clients.STS(),
			Preview: func(w io.Writer) error { return printResult(w, preview) }}); err != nil {
			return err
		}
	}
	if opts.Apply {
		locker := &lock.Locker{SSM: clients.SSM(""), Name: paths.Lock(), Now: f.Now, Command: "retire --apply"}
		held, err := locker.Acquire(ctx, opts.LockTimeout)
		if err != nil {
			return err
		}
		held.KeepAlive(ctx, nil)
		defer func() {
			if rerr := held.Release(context.WithoutCancel(ctx)); rerr != nil {
				err = errors.Join(err, fmt.Errorf("release project lock: %w", rerr))
			}
		}()
	}
	res, err := r.Run(ctx, req)
	if res != nil {
		if f.JSON() {
			if jerr := cmdutil.WriteJSON(f.IOStreams.Out, res); jerr != nil {
				return errors.Join(err, jerr)
			}
		} else if perr := printResult(f.IOStreams.Out, res); perr != nil {
			return errors.Join(err, perr)
		}
	}
	if err != nil {
		return err
	}
	if res.Failed() {
		return cmdutil.Exit(cmdutil.ExitPartial, fmt.Errorf("retire: %d of the AMIs could not be retired (see above)", res.Errors))
	}
	return nil
}

func printResult(w io.Writer, res *retire.Result) error {
	var b strings.Builder
	if len(res.Builds) == 0 {
		b.WriteString("No AMIs of the project found.\n")
	}
	for _, bd := range res.Builds {
		var ids []string
		for _, c := range bd.Copies {
			ids = append(ids, c.AMI+"@"+c.Region)
		}
		fmt.Fprintf(&b, "%-10s %-12s %-14s %s\n", bd.Action, bd.Layer, bd.BuildID, strings.Join(ids, " "))
		for _, r := range bd.Reasons {
			fmt.Fprintf(&b, "    %s\n", r)
		}
		for _, d := range bd.Done {
			fmt.Fprintf(&b, "    done: %s\n", d)
		}
		if bd.Error != "" {
			fmt.Fprintf(&b, "    error: %s\n", bd.Error)
		}
	}
	counts := map[string]int{}
	for _, bd := range res.Builds {
		counts[bd.Action]++
	}
	fmt.Fprintf(&b, "%d builds: %d kept, %d to deprecate, %d in grace, %d to deregister.",
		len(res.Builds), counts[retire.ActionKeep], counts[retire.ActionDeprecate], counts[retire.ActionGrace], counts[retire.ActionDeregister])
	if res.Applied {
		fmt.Fprintf(&b, " Deprecated %d AMIs, deregistered %d, deleted %d snapshots.\n", res.Deprecated, res.Deregistered, res.SnapshotsDeleted)
	} else {
		b.WriteString(" Dry run: run with --apply to act.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// changeCount is how many AMIs (copies in every region) --apply
// deprecates or deregisters, as its summary counts them.
func changeCount(res *retire.Result) int {
	n := 0
	for _, bd := range res.Builds {
		if bd.Action == retire.ActionDeprecate || bd.Action == retire.ActionDeregister {
			n += max(len(bd.Copies), 1)
		}
	}
	return n
}
