// Package drift is `amibake drift [--fleet F]…`: which instances run an AMI
// other than their fleet's channel AMI, and how far behind they are.
package drift

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/drift"
)

// DriftOptions are the inputs of drift.
type DriftOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Fleets      []string
	// DetailedExitCode exits 2 (cmdutil.ExitChanges) when an instance drifts.
	DetailedExitCode bool
}

// NewCmdDrift builds the command; runF replaces the run in tests.
func NewCmdDrift(f *cmdutil.Factory, runF func(context.Context, *DriftOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "drift",
		Usage: "list the instances that run an AMI other than their fleet's channel AMI",
		Description: "For each fleet (or each --fleet): the channel AMI (the fleet's layer and\n" +
			"channel, home region); the fleet's live instances (replace fleets: the instances\n" +
			"of its ASGs; in-place fleets: the instances carrying its targets { tags }); and\n" +
			"for every instance on another AMI, how far behind it is: channel versions after\n" +
			"the last one that held its AMI (\"-\" when the channel never held it), days between\n" +
			"the AMIs' creation dates, and the critical patches its last patch scan found\n" +
			"missing (\"not scanned\" without one). Read-only. Exit 0; with -detailed-exitcode,\n" +
			"2 when any instance drifts. docs/inventory.md.\n\n" +
			"   amibake drift\n" +
			"   amibake drift --fleet web -o json",
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "fleet", Usage: "only this fleet (repeatable)"},
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 2 when any instance drifts"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 0 {
				return cmdutil.FlagErrorf("drift takes no arguments (use --fleet), got %d", len(args))
			}
			opts := &DriftOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Fleets: c.StringSlice("fleet"),
				DetailedExitCode: c.Bool("detailed-exitcode")}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return driftRun(c.Context, opts)
		},
	}
}

func driftRun(ctx context.Context, opts *DriftOptions) error {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	for _, name := range opts.Fleets {
		if cfg.Fleets[name] == nil {
			return cmdutil.FlagErrorf("no fleet %q in the project", name)
		}
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	clients := awsapi.NewClients(awsCfg)
	rep, err := drift.Check(ctx, cfg, drift.Clients{EC2: clients.EC2(""), SSM: clients.SSM(""), AutoScaling: clients.AutoScaling("")}, opts.Fleets)
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	if f.JSON() {
		err = cmdutil.WriteJSON(f.IOStreams.Out, rep)
	} else {
		err = writeText(f.IOStreams.Out, rep)
	}
	if err != nil {
		return err
	}
	if opts.DetailedExitCode && rep.Drift {
		return cmdutil.SilentExit(cmdutil.ExitChanges)
	}
	return nil
}

func writeText(w io.Writer, rep *drift.Report) error {
	for _, fr := range rep.Fleets {
		var err error
		switch {
		case fr.Error != "":
			_, err = fmt.Fprintf(w, "fleet %s: %s\n", fr.Fleet, fr.Error)
		default:
			_, err = fmt.Fprintf(w, "fleet %s: %d of %d instance(s) drift from %s (%s@%s v%d)\n",
				fr.Fleet, len(fr.Drifted), fr.Instances, fr.ChannelAMI, fr.Layer, fr.Channel, fr.ChannelVersion)
		}
		if err != nil {
			return err
		}
	}
	var rows []string
	for _, fr := range rep.Fleets {
		for _, in := range fr.Drifted {
			rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", fr.Fleet, in.ID, dash(in.ASG), in.AMI,
				intOr(in.VersionsBehind), intOr(in.DaysBehind), critical(in)))
		}
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "No drift: every instance runs its fleet's channel AMI.")
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FLEET\tINSTANCE\tASG\tAMI\tVERSIONS BEHIND\tDAYS BEHIND\tCRITICAL MISSING")
	for _, r := range rows {
		fmt.Fprintln(tw, r)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func intOr(p *int) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(*p)
}

func critical(in drift.Instance) string {
	if !in.Scanned {
		return "not scanned"
	}
	return strconv.Itoa(in.CriticalMissing)
}
