// Package rollout is `amibake rollout FLEET` and its verbs status, resume
// and abort: move a fleet to the AMI its layer's channel holds, by
// instance refresh (replace fleets) or Run Command patching (in-place
// fleets), as the fleet's HCL says.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/rollout"
)

// Verbs.
const (
	VerbRun    = "run"
	VerbStatus = "status"
	VerbResume = "resume"
	VerbAbort  = "abort"
)

// RolloutOptions are the inputs of every rollout verb.
type RolloutOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Verb        string
	Fleet       string
	Apply       bool
	Wait        time.Duration
	Poll        time.Duration
	NoRetire    bool
	// IgnoreWindow runs an in-place fleet outside its maintenance window.
	IgnoreWindow bool
	LockTimeout  time.Duration
	// CanaryNoWait judges the canary on the metric window that ends now
	// instead of waiting the window out after launching the instances.
	CanaryNoWait bool
	// ExitStatus makes status exit with the rollout's state (statusExit).
	ExitStatus bool
}

// NewCmdRollout builds `rollout FLEET` with its verbs; runF replaces the
// run in tests.
func NewCmdRollout(f *cmdutil.Factory, runF func(context.Context, *RolloutOptions) error) *cli.Command {
	flags := func(verb string) []cli.Flag {
		fl := []cli.Flag{
			&cli.DurationFlag{Name: "poll", Value: rollout.DefaultPoll, Usage: "poll progress every `D` (backing off to 4×D while nothing changes)"},
			cmdutil.LockTimeoutFlag(),
		}
		if verb == VerbRun {
			fl = append(fl,
				&cli.BoolFlag{Name: "apply", Usage: "roll out (default: dry run — show the change, the batches and the API calls)"},
				&cli.BoolFlag{Name: "dry-run", Usage: "show what would happen, change nothing (the default)"},
			)
		}
		if verb == VerbStatus {
			fl = append(fl, &cli.BoolFlag{Name: "exit-status",
				Usage: "exit with the rollout's state: 0 succeeded or nothing in progress, 1 failed, rolled back or aborted, 2 still running, 5 paused for an operator"})
		}
		if verb == VerbRun || verb == VerbResume {
			fl = append(fl,
				&cli.BoolFlag{Name: "no-retire", Usage: "do not retire the replaced AMI after a successful replace rollout"},
				&cli.BoolFlag{Name: "ignore-window", Usage: "patch an in-place fleet outside its maintenance window"},
			)
		}
		fl = append(fl,
			&cli.DurationFlag{Name: "wait", Usage: "pause after waiting `D` at a checkpoint: the refreshes are cancelled so the fleet holds until resume or abort, exit 5 (default: go on after checkpoint_wait)"},
			&cli.BoolFlag{Name: "canary-no-wait", Usage: "judge a fleet's canary on the metric window ending now instead of waiting it out (metrics that exist at launch, e.g. the sandbox's)"},
		)
		return append(fl, cmdutil.VarFlags()...)
	}
	action := func(verb string) cli.ActionFunc {
		return func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("rollout %stakes one FLEET argument, got %d", verbPrefix(verb), len(args))
			}
			opts := &RolloutOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Verb: verb, Fleet: args[0],
				Wait: c.Duration("wait"), Poll: c.Duration("poll"), LockTimeout: c.Duration("lock-timeout"), CanaryNoWait: c.Bool("canary-no-wait")}
			if verb == VerbRun {
				if c.Bool("apply") && c.Bool("dry-run") {
					return cmdutil.FlagErrorf("--apply and --dry-run exclude each other")
				}
				opts.Apply = c.Bool("apply")
			}
			if verb == VerbRun || verb == VerbResume {
				opts.NoRetire, opts.IgnoreWindow = c.Bool("no-retire"), c.Bool("ignore-window")
			}
			if verb == VerbStatus {
				opts.ExitStatus = c.Bool("exit-status")
			}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return rolloutRun(c.Context, opts)
		}
	}
	return &cli.Command{
		Name:      "rollout",
		Usage:     "roll a fleet out to its channel's AMI (replace or in-place, per the fleet)",
		ArgsUsage: "FLEET",
		Description: "Replace fleets: a new launch-template version that changes only the image\n" +
			"id (one per template version the ASGs run), then per ASG an instance\n" +
			"refresh through the fleet's checkpoints with automatic rollback and its\n" +
			"abort alarms; after success the replaced AMI is retired per the fleet's\n" +
			"retire block. In-place fleets: AWS-RunPatchBaseline\n" +
			"Install by tag, canary batch first, under max_concurrency/max_errors.\n" +
			"Dry run unless --apply. A rollout waiting at a checkpoint longer than --wait,\n" +
			"or whose canary is marginal, pauses and exits 5: its instance refreshes are\n" +
			"cancelled so the fleet holds (replaced instances stay on the new AMI), and\n" +
			"the pause is recorded in the groups' amibake:rollout-* tags. status shows it;\n" +
			"resume goes on through the remaining checkpoints; abort brings every\n" +
			"instance back to the old AMI. A failed canary rolls back and revokes the AMI.\n\n" +
			"   amibake rollout web                 # the plan\n" +
			"   amibake rollout web --apply --wait 30m\n" +
			"   amibake rollout status web\n" +
			"   amibake rollout status web --exit-status   # 0 done, 1 failed, 2 running, 5 paused",
		Flags:  flags(VerbRun),
		Action: action(VerbRun),
		Subcommands: []*cli.Command{
			{Name: VerbStatus, Usage: "show a fleet's rollout as AWS holds it: paused (where, why), running, done, rolled back", ArgsUsage: "FLEET", Flags: flags(VerbStatus), Action: action(VerbStatus),
				Description: "Reads AWS only (groups, refreshes, tags); never takes the lock.\n\n" +
					"   amibake rollout status web\n" +
					"   amibake rollout status web --exit-status   # 5 while paused: a pipeline step can gate on it"},
			{Name: VerbResume, Usage: "continue a paused or interrupted rollout through its remaining checkpoints and finish it (in-place: patch the instances behind)", ArgsUsage: "FLEET", Flags: flags(VerbResume), Action: action(VerbResume),
				Description: "Accepts what the paused checkpoint showed and goes on; safe to re-run.\n\n" +
					"   amibake rollout status web\n" +
					"   amibake rollout resume web --poll 30s"},
			{Name: VerbAbort, Usage: "bring every instance back to the old AMI (in-place: stop the running patch command)", ArgsUsage: "FLEET", Flags: flags(VerbAbort), Action: action(VerbAbort),
				Description: "Restores the previous launch template version and refreshes back; the new AMI\n" +
					"is not retired. In-place patches cannot be undone: abort stops the command.\n\n" +
					"   amibake rollout abort web"},
		},
	}
}

func verbPrefix(verb string) string {
	if verb == VerbRun {
		return ""
	}
	return verb + " "
}

func rolloutRun(ctx context.Context, opts *RolloutOptions) error {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	out := progressOut(f)
	rep, err := runVerb(ctx, f, cfg, opts.Fleet, opts.Verb, RunOptions{
		Apply: opts.Apply, Wait: opts.Wait, Poll: opts.Poll, NoRetire: opts.NoRetire, IgnoreWindow: opts.IgnoreWindow,
		CanaryNoWait: opts.CanaryNoWait, LockTimeout: opts.LockTimeout, Out: out})
	if rep != nil {
		if f.JSON() {
			if jerr := cmdutil.WriteJSON(f.IOStreams.Out, rep); jerr != nil {
				return errors.Join(err, jerr)
			}
		} else {
			printSummary(out, rep)
		}
	}
	if err == nil && opts.ExitStatus && rep != nil {
		if code := statusExit(rep.Outcome); code != cmdutil.ExitOK {
			return cmdutil.SilentExit(code)
		}
	}
	return err
}

// statusExit is `rollout status --exit-status`'s code for an outcome, so a
// pipeline step can gate on the rollout like on `gh run view
// --exit-status`. A rollout still running (or refreshed but not finished)
// is 2, DESIGN.md's "changes pending": not done yet, ask again; nothing
// in progress, including an in-place fleet with instances behind and no
// rollout yet, is 0.
func statusExit(outcome string) int {
	switch outcome {
	case rollout.OutcomePaused:
		return cmdutil.ExitPaused
	case rollout.OutcomeFailed, rollout.OutcomeRolledBack, rollout.OutcomeAborted, rollout.OutcomeAborting, rollout.OutcomeStopped:
		return cmdutil.ExitFailure
	case rollout.OutcomeInProgress, rollout.OutcomeInterrupted:
		return cmdutil.ExitChanges
	}
	return cmdutil.ExitOK
}

func printSummary(w interface{ Write([]byte) (int, error) }, rep *rollout.Report) {
	switch rep.Outcome {
	case "", rollout.OutcomePlanned, rollout.OutcomeNothing:
		return
	}
	fmt.Fprintf(w, "Fleet %s: %s", rep.Fleet, rep.Outcome)
	if rep.Reason != "" {
		fmt.Fprintf(w, " — %s", rep.Reason)
	}
	fmt.Fprintln(w)
	for _, c := range rep.Changed {
		fmt.Fprintf(w, "  changed: %s\n", c)
	}
}
