// Package apply is `amibake patch apply [--apply]`: show the diff between
// the HCL's patch baselines and patch groups and what SSM holds, and with
// --apply converge SSM on the HCL under the project lock.
package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/patch/baseline"
)

// ApplyOptions are the inputs of patch apply.
type ApplyOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Apply       bool
	LockTimeout time.Duration
}

// Result is the JSON output.
type Result struct {
	Changes []baseline.Change `json:"changes"`
	Applied bool              `json:"applied"`
}

// NewCmdApply builds the command; runF replaces the run in tests.
func NewCmdApply(f *cmdutil.Factory, runF func(context.Context, *ApplyOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "create/update the project's SSM patch baselines and register their patch groups",
		Description: "Desired state: each patch_baseline \"NAME\" block is the SSM baseline\n" +
			"amibake-<project>-NAME (tagged amibake:project); each patch group named by a\n" +
			"layer's or fleet's patch {} block is registered to its baseline. Prints the diff\n" +
			"(create, update field by field, register, deregister stale groups) in every region\n" +
			"of the project (baselines are regional). Dry-run unless\n" +
			"--apply, which takes the project lock and converges; a second apply shows no changes.\n\n" +
			"   amibake patch apply            # diff only\n" +
			"   amibake patch apply --apply",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "apply", Usage: "make the changes (default: show them only)"},
			cmdutil.LockTimeoutFlag(),
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 0 {
				return cmdutil.FlagErrorf("patch apply takes no arguments, got %d", len(args))
			}
			opts := &ApplyOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Apply: c.Bool("apply"),
				LockTimeout: c.Duration("lock-timeout")}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return applyRun(c.Context, opts)
		},
	}
}

func applyRun(ctx context.Context, opts *ApplyOptions) (err error) {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	desired, err := baseline.FromConfig(cfg)
	if err != nil {
		return err
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	clients := awsapi.NewClients(awsCfg)
	regions := channel.ProjectRegions(cfg)

	if opts.Apply {
		locker := &lock.Locker{SSM: clients.SSM(""), Name: channel.Paths(cfg).Lock(), Now: f.Now, Command: "patch apply --apply"}
		held, err := locker.Acquire(ctx, opts.LockTimeout)
		if err != nil {
			return err
		}
		defer func() {
			if rerr := held.Release(context.WithoutCancel(ctx)); rerr != nil {
				err = errors.Join(err, fmt.Errorf("release project lock: %w", rerr))
			}
		}()
	}

	// Baselines and patch groups are regional: every region the project's
	// AMIs live in gets the same ones.
	res := Result{Changes: []baseline.Change{}}
	type regionChanges struct {
		region  string
		changes []baseline.Change
	}
	var plan []regionChanges
	for _, region := range regions {
		cur, err := baseline.Observe(ctx, clients.SSM(region), cfg.Project.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", region, err)
		}
		changes, err := baseline.Diff(desired, cur)
		if err != nil {
			return fmt.Errorf("%s: %w", region, err)
		}
		for i := range changes {
			changes[i].Region = region
		}
		plan = append(plan, regionChanges{region, changes})
		res.Changes = append(res.Changes, changes...)
	}
	if opts.Apply && len(res.Changes) > 0 {
		if err := cmdutil.ConfirmApply(ctx, f, cmdutil.ApplyPrompt{Changes: len(res.Changes), Regions: regions, STS: clients.STS(),
			Preview: func(w io.Writer) error { return printChanges(w, res.Changes) }}); err != nil {
			return err
		}
		for _, rc := range plan {
			if err := baseline.Apply(ctx, clients.SSM(rc.region), cfg.Project.Name, rc.changes); err != nil {
				return fmt.Errorf("%s: %w", rc.region, err)
			}
		}
		res.Applied = true
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, res)
	}
	return printDiff(f.IOStreams.Out, res, opts.Apply)
}

func printDiff(w io.Writer, res Result, apply bool) error {
	if len(res.Changes) == 0 {
		_, err := fmt.Fprintln(w, "No changes: SSM patch baselines and patch groups match the HCL.")
		return err
	}
	if err := printChanges(w, res.Changes); err != nil {
		return err
	}
	var err error
	if apply {
		_, err = fmt.Fprintf(w, "Applied %d change(s).\n", len(res.Changes))
	} else {
		_, err = fmt.Fprintf(w, "%d change(s). Dry run: run with --apply to make them.\n", len(res.Changes))
	}
	return err
}

func printChanges(w io.Writer, changes []baseline.Change) error {
	for _, c := range changes {
		if _, err := fmt.Fprintf(w, "%s: %s\n", c.Region, c.String()); err != nil {
			return err
		}
		for _, fc := range c.Fields {
			var err error
			switch {
			case c.Action == baseline.ActionCreate:
				_, err = fmt.Fprintf(w, "    %s: %s\n", fc.Field, fc.New)
			case fc.New == "":
				_, err = fmt.Fprintf(w, "    %s: %s → (removed)\n", fc.Field, fc.Old)
			case fc.Old == "":
				_, err = fmt.Fprintf(w, "    %s: (none) → %s\n", fc.Field, fc.New)
			default:
				_, err = fmt.Fprintf(w, "    %s: %s → %s\n", fc.Field, fc.Old, fc.New)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
