// Package window is `amibake patch window apply [--apply]`: keep one SSM
// maintenance window per distinct rollout.maintenance_window of the
// in-place fleets, with a target and an AWS-RunPatchBaseline Install task
// per fleet (the fleet's rate control and reboot option), so SSM patches
// the fleets in their windows between rollouts. Dry-run by default; --apply
// converges under the project lock; a second run changes nothing.
//
// The scheduled rebake (`patch run --rollout`) is not a window task: the
// CodeBuild stack of `amibake deploy render` schedules it on EventBridge
// Scheduler, and a second schedule here would run the pipeline twice.
package window

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmd/patch/applyflow"
	"github.com/amibake/amibake/internal/cmdutil"
)

// ApplyOptions are the inputs of patch window apply.
type ApplyOptions = applyflow.Options

// Result is the JSON output.
type Result struct {
	// Windows are the windows the HCL asks for.
	Windows []*Window `json:"windows"`
	// Skipped are fleets with a maintenance_window that get no task.
	Skipped []Skipped `json:"skipped,omitempty"`
	Changes []Change  `json:"changes"`
	Applied bool      `json:"applied"`
}

// NewCmdWindow is `amibake patch window`.
func NewCmdWindow(f *cmdutil.Factory, runF func(context.Context, *ApplyOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "window",
		Usage: "SSM maintenance windows that patch the in-place fleets in their rollout.maintenance_window",
		Subcommands: []*cli.Command{
			newCmdApply(f, runF),
		},
	}
}

func newCmdApply(f *cmdutil.Factory, runF func(context.Context, *ApplyOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "create/update the maintenance windows, targets and patch tasks of the in-place fleets",
		Description: "Desired state: one window amibake-<project>-<day>-<HHMM>-<HHMM> (tagged\n" +
			"amibake:project) per distinct rollout.maintenance_window of the in-place fleets —\n" +
			"cron on the day and start (UTC), duration rounded up to whole hours, a cutoff so\n" +
			"no task starts after the window's end (nor in the last hour of a window of two\n" +
			"hours or more) — and in it, per fleet, the target amibake-<fleet> (its targets\n" +
			"{ tags }, else its patch group) and the task amibake-<fleet>-patch:\n" +
			"AWS-RunPatchBaseline Operation=Install with the fleet's max_concurrency,\n" +
			"max_errors and reboot. Replace fleets get none (their rollouts replace instances).\n" +
			"Prints the diff against the project's windows in the home region (create, update\n" +
			"field by field — a window whose fleets moved to another schedule is updated in\n" +
			"place — and delete windows no fleet wants). Dry-run unless --apply, which takes\n" +
			"the project lock and converges; a second run shows no changes. The scheduled\n" +
			"rebake is deploy's EventBridge schedule, not a window. docs/patch.md.\n\n" +
			"   amibake patch window apply            # diff only\n" +
			"   amibake patch window apply --apply",
		Flags:  applyflow.Flags(),
		Action: applyflow.Action(f, "patch window apply", runF, applyRun),
	}
}

func applyRun(ctx context.Context, opts *ApplyOptions) (err error) {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	desired, skipped, err := Desired(cfg)
	if err != nil {
		return err
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	clients := awsapi.NewClients(awsCfg)
	release, err := applyflow.Lock(ctx, opts, clients.SSM(""), channel.Paths(cfg).Lock(), "patch window apply --apply")
	if err != nil {
		return err
	}
	defer release(&err)
	api := clients.SSMWindows("")
	current, err := Observe(ctx, api, cfg.Project.Name)
	if err != nil {
		return fmt.Errorf("patch window apply: %w", err)
	}
	res := Result{Windows: desired, Skipped: skipped, Changes: Diff(desired, current)}
	confirmed, err := applyflow.Confirm(ctx, opts, cmdutil.ApplyPrompt{Changes: len(res.Changes), Regions: []string{awsCfg.Region}, STS: clients.STS(),
		Preview: func(w io.Writer) error { return printChanges(w, res.Changes) }})
	if err != nil {
		return err
	}
	if confirmed {
		if err := Apply(ctx, api, cfg.Project.Name, res.Changes); err != nil {
			return fmt.Errorf("patch window apply: %w", err)
		}
		res.Applied = true
	}
	return applyflow.Write(f, res, func(w io.Writer) error { return printDiff(w, res, opts.Apply) })
}

func (c Change) String() string {
	noun := map[string]string{KindWindow: "window", KindTarget: "target", KindTask: "task"}[c.Kind]
	indent := ""
	if c.Kind != KindWindow {
		indent = "  "
	}
	switch c.Action {
	case ActionCreate:
		verb := "register"
		if c.Kind == KindWindow {
			verb = "create"
		}
		s := indent + "+ " + verb + " " + noun + " " + c.Name
		if c.Fleet != "" {
			s += " (fleet " + c.Fleet + ")"
		}
		return s
	case ActionUpdate:
		id := c.ID
		if c.Kind == KindWindow {
			id = c.WindowID
		}
		return indent + "~ update " + noun + " " + c.Name + " (" + id + ")"
	default:
		verb, id := "deregister", c.ID
		if c.Kind == KindWindow {
			verb, id = "delete", c.WindowID
		}
		return indent + "- " + verb + " " + noun + " " + c.Name + " (" + id + ") (" + c.Reason + ")"
	}
}

func printDiff(w io.Writer, res Result, apply bool) error {
	for _, s := range res.Skipped {
		if _, err := fmt.Fprintf(w, "Fleet %s: no window task (%s).\n", s.Fleet, s.Reason); err != nil {
			return err
		}
	}
	none := fmt.Sprintf("No changes: %d maintenance window(s) match the in-place fleets.", len(res.Windows))
	return applyflow.PrintDiff(w, len(res.Changes), apply, none, func(w io.Writer) error { return printChanges(w, res.Changes) })
}

func printChanges(w io.Writer, changes []Change) error {
	header := ""
	for _, c := range changes {
		if c.Kind == KindWindow {
			header = c.Window
		} else if header != c.Window {
			// A target or task change in a window that itself is unchanged.
			header = c.Window
			if _, err := fmt.Fprintf(w, "= window %s (%s)\n", c.Window, c.WindowID); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintln(w, c.String()); err != nil {
			return err
		}
		indent := "    "
		if c.Kind != KindWindow {
			indent = "      "
		}
		for _, fc := range c.Fields {
			var err error
			switch {
			case c.Action == ActionCreate:
				_, err = fmt.Fprintf(w, "%s%s: %s\n", indent, fc.Field, fc.New)
			case fc.New == "":
				_, err = fmt.Fprintf(w, "%s%s: %s → (unset)\n", indent, fc.Field, fc.Old)
			case fc.Old == "":
				_, err = fmt.Fprintf(w, "%s%s: (unset) → %s\n", indent, fc.Field, fc.New)
			default:
				_, err = fmt.Fprintf(w, "%s%s: %s → %s\n", indent, fc.Field, fc.Old, fc.New)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
