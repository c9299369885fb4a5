// Package history is `amibake history LAYER [--channel latest]`: every
// version of a channel parameter (the audit trail) with the state its AMI
// is in now. Read-only: it never takes the lock.
package history

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
)

// HistoryOptions are the inputs of history.
type HistoryOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Layer       string
	Channel     string
}

// NewCmdHistory builds the command; runF replaces the run in tests.
func NewCmdHistory(f *cmdutil.Factory, runF func(context.Context, *HistoryOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "show every AMI a layer's channel has pointed at",
		ArgsUsage: "LAYER",
		Description: "Lists the versions of <prefix>/<project>/layers/<layer>/<channel>, oldest\n" +
			"first: version, AMI, when, who (the IAM identity that wrote it), labels, and\n" +
			"the AMI's state now (available, deregistered, revoked).\n\n" +
			"   amibake history base --channel stable",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "channel", Value: lineage.ChannelLatest, Usage: "`CHANNEL` to show"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("history takes one LAYER argument, got %d", len(args))
			}
			opts := &HistoryOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Layer: args[0], Channel: c.String("channel")}
			if err := lineage.ValidChannel(opts.Channel); err != nil {
				return cmdutil.FlagErrorf("%v", err)
			}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return historyRun(c.Context, opts)
		},
	}
}

// JSONReport is the --output json document (docs/reference/json/).
type JSONReport = historyJSON

type historyJSON struct {
	Layer     string            `json:"layer"`
	Channel   string            `json:"channel"`
	Parameter string            `json:"parameter"`
	Region    string            `json:"region"`
	Versions  []channel.Version `json:"versions"`
}

func historyRun(ctx context.Context, opts *HistoryOptions) error {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	regions, err := channel.LayerRegions(cfg, opts.Layer)
	if err != nil {
		return err
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	clients := awsapi.NewClients(awsCfg)
	name := channel.Paths(cfg).Channel(opts.Layer, opts.Channel)
	versions, err := channel.History(ctx, clients.SSM(regions[0]), name)
	if err != nil {
		return err
	}
	if err := channel.AnnotateStates(ctx, clients.EC2(regions[0]), regions[0], versions); err != nil {
		return err
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, historyJSON{
			Layer: opts.Layer, Channel: opts.Channel, Parameter: name, Region: regions[0], Versions: versions,
		})
	}
	tw := tabwriter.NewWriter(f.IOStreams.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tAMI\tWHEN\tBY\tLABELS\tSTATE")
	for _, v := range versions {
		labels := "-"
		if len(v.Labels) > 0 {
			labels = strings.Join(v.Labels, ",")
		}
		by := v.By
		if by == "" {
			by = "-"
		}
		state := v.State
		if v.Revoked != "" {
			state += " (" + v.Revoked + ")"
		}
		cur := ""
		if v.Current {
			cur = " *"
		}
		fmt.Fprintf(tw, "%d%s\t%s\t%s\t%s\t%s\t%s\n", v.Version, cur, v.AMI, v.When.UTC().Format(time.RFC3339), by, labels, state)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}
