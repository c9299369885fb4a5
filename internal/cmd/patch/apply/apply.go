// Package apply is `amibake patch apply [--apply]`: show the diff between
// the HCL's patch baselines and patch groups and what SSM holds, and with
// --apply converge SSM on the HCL under the project lock.
package apply

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmd/patch/applyflow"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/patch/baseline"
)

// ApplyOptions are the inputs of patch apply.
type ApplyOptions = applyflow.Options

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
		Flags:  applyflow.Flags(),
		Action: applyflow.Action(f, "patch apply", runF, applyRun),
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

	release, err := applyflow.Lock(ctx, opts, clients.SSM(""), channel.Paths(cfg).Lock(), "patch apply --apply")
	if err != nil {
		return err
	}
	defer release(&err)

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
	confirmed, err := applyflow.Confirm(ctx, opts, cmdutil.ApplyPrompt{Changes: len(res.Changes), Regions: regions, STS: clients.STS(),
		Preview: func(w io.Writer) error { return printChanges(w, res.Changes) }})
	if err != nil {
		return err
	}
	if confirmed {
		for _, rc := range plan {
			if err := baseline.Apply(ctx, clients.SSM(rc.region), cfg.Project.Name, rc.changes); err != nil {
				return fmt.Errorf("%s: %w", rc.region, err)
			}
		}
		res.Applied = true
	}
	return applyflow.Write(f, res, func(w io.Writer) error { return printDiff(w, res, opts.Apply) })
}

func printDiff(w io.Writer, res Result, apply bool) error {
	return applyflow.PrintDiff(w, len(res.Changes), apply, "No changes: SSM patch baselines and patch groups match the HCL.",
		func(w io.Writer) error { return printChanges(w, res.Changes) })
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
