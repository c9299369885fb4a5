package rollout

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/retire"
	"github.com/amibake/amibake/internal/rollout"
)

// RunOptions are the knobs of Run: the flags of `amibake rollout FLEET`.
type RunOptions struct {
	// Apply rolls out; without it Run only plans (the dry run).
	Apply bool
	// Wait returns paused (exit 5) after waiting this long at a
	// checkpoint; 0 waits the checkpoints out.
	Wait time.Duration
	// Poll is the progress poll interval (0: rollout.DefaultPoll).
	Poll time.Duration
	// NoRetire keeps the replaced AMI after a successful replace rollout.
	NoRetire bool
	// IgnoreWindow patches an in-place fleet outside its maintenance window.
	IgnoreWindow bool
	// CanaryNoWait judges the canary on the metric window ending now.
	CanaryNoWait bool
	// LockTimeout is how long to wait for the project lock.
	LockTimeout time.Duration
	// LockHeld says the caller already holds the project lock (e.g.
	// `patch run --rollout`): Run neither takes nor releases it.
	LockHeld bool
	// Out receives the progress view (nil: the factory's Out, or ErrOut
	// when the factory prints JSON, so stdout stays one JSON document).
	Out io.Writer
}

// Run rolls fleet out exactly as `amibake rollout FLEET [--apply]` does:
// replace fleets by launch-template version + instance refresh (with the
// fleet's canary at the first checkpoint and the retire after success),
// in-place fleets by Run Command patching. It prints progress to opts.Out
// but not the final summary or JSON: the caller owns its output.
//
// The report is returned whenever the rollout got far enough to have one,
// also together with an error. Errors carry exit codes (cmdutil.ExitCode):
// *rollout.PausedError is 5 (paused, held for an operator; `amibake
// rollout resume|abort FLEET` continue it), *rollout.FailedError a failed,
// rolled-back or stopped rollout.
//
// Stable API: `amibake patch run --rollout` calls it with LockHeld.
func Run(ctx context.Context, f *cmdutil.Factory, cfg *config.Config, fleet string, opts RunOptions) (*rollout.Report, error) {
	return runVerb(ctx, f, cfg, fleet, VerbRun, opts)
}

// runVerb builds the fleet's rollout and runs one verb of it.
func runVerb(ctx context.Context, f *cmdutil.Factory, cfg *config.Config, name, verb string, opts RunOptions) (*rollout.Report, error) {
	r, err := newRollout(ctx, f, cfg, name, verb, opts)
	if err != nil {
		return nil, err
	}
	switch verb {
	case VerbStatus:
		return r.Status(ctx)
	case VerbResume:
		return r.Resume(ctx)
	case VerbAbort:
		return r.Abort(ctx)
	}
	if r.Fleet.Strategy == config.StrategyInPlace {
		return r.InPlace(ctx)
	}
	return r.Replace(ctx)
}

func newRollout(ctx context.Context, f *cmdutil.Factory, cfg *config.Config, name, verb string, opts RunOptions) (*rollout.Rollout, error) {
	fleet, ok := cfg.Fleets[name]
	if !ok {
		names := make([]string, 0, len(cfg.Fleets))
		for n := range cfg.Fleets {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown fleet %q (fleets: %s)", name, strings.Join(names, ", "))
	}
	regions, err := channel.LayerRegions(cfg, fleet.Layer)
	if err != nil {
		return nil, err
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	clients := awsapi.NewClients(awsCfg)
	paths := channel.Paths(cfg)
	region := regions[0]
	out := opts.Out
	if out == nil {
		out = progressOut(f)
	}
	r := &rollout.Rollout{
		Fleet: fleet, Region: region, EC2: clients.EC2(region), AutoScaling: clients.AutoScaling(region), SSM: clients.SSM(region),
		Paths: paths, Config: cfg, Apply: opts.Apply || verb == VerbResume || verb == VerbAbort,
		Poll: opts.Poll, Wait: opts.Wait, Out: out, Now: f.Now, LockTimeout: opts.LockTimeout, IgnoreWindow: opts.IgnoreWindow,
	}
	if verb == VerbRun && opts.Apply {
		r.Confirm = func(ctx context.Context, changes int) error {
			return cmdutil.ConfirmApply(ctx, f, cmdutil.ApplyPrompt{Changes: changes, Regions: []string{region}, STS: clients.STS()})
		}
	}
	if !opts.LockHeld {
		r.Locker = &lock.Locker{SSM: clients.SSM(""), Name: paths.Lock(), Now: f.Now, Command: "rollout " + verbPrefix(verb) + name}
	}
	// A fleet's canary block judges the new AMI at the first checkpoint:
	// pass goes on, marginal pauses (exit 5), fail rolls back.
	if fleet.Canary != nil && len(fleet.Canary.Metrics) > 0 && fleet.Strategy != config.StrategyInPlace {
		r.Canary = rollout.NewCanary(clients.EC2(region), clients.CloudWatch(region), clients.AutoScaling(region),
			cfg.Project.Name, fleet, opts.CanaryNoWait, f.Now, nil, out)
		// A failed canary revokes the AMI, so no later rollout picks it.
		r.Revoke = rollout.NewRevoke(clients.EC2, region, channel.ProjectRegions(cfg), cfg.Project.Name, f.Now)
	}
	if !opts.NoRetire {
		r.Retirer = &retire.Retirer{EC2: clients.EC2, AutoScaling: clients.AutoScaling, SSM: clients.SSM,
			Paths: paths, Regions: channel.ProjectRegions(cfg), Now: f.Now}
	}
	return r, nil
}

// progressOut is where a rollout's progress goes: stdout, or stderr when
// stdout carries the one JSON document.
func progressOut(f *cmdutil.Factory) io.Writer {
	if f.JSON() {
		return f.IOStreams.ErrOut
	}
	return f.IOStreams.Out
}
