// Package promote is `amibake promote LAYER --from latest --to stable`:
// point one channel of a layer at the AMI another channel holds, under the
// project lock, refusing AMIs that are missing, not available or revoked.
package promote

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
)

// PromoteOptions are the inputs of promote.
type PromoteOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Layer       string
	From        string
	To          string
	LockTimeout time.Duration
}

// NewCmdPromote builds the command; runF replaces the run in tests.
func NewCmdPromote(f *cmdutil.Factory, runF func(context.Context, *PromoteOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "promote",
		Usage:     "point a layer's channel at the AMI another channel holds",
		ArgsUsage: "LAYER",
		Description: "Reads the --from channel's AMI and writes it to the --to channel\n" +
			"(<prefix>/<project>/layers/<layer>/<channel>, a new parameter version: the\n" +
			"history is the audit trail). Refuses an AMI that is gone, not available or\n" +
			"revoked. Promoting the AMI the target already holds changes nothing.\n" +
			"Takes the project lock.\n\n" +
			"   amibake promote app-web --from latest --to stable",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "from", Value: lineage.ChannelLatest, Usage: "channel to read the AMI from"},
			&cli.StringFlag{Name: "to", Value: lineage.ChannelStable, Usage: "channel to point at it"},
			cmdutil.LockTimeoutFlag(),
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("promote takes one LAYER argument, got %d", len(args))
			}
			opts := &PromoteOptions{
				Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Layer: args[0],
				From: c.String("from"), To: c.String("to"), LockTimeout: c.Duration("lock-timeout"),
			}
			for _, ch := range []string{opts.From, opts.To} {
				if err := lineage.ValidChannel(ch); err != nil {
					return cmdutil.FlagErrorf("%v", err)
				}
			}
			if opts.From == opts.To {
				return cmdutil.FlagErrorf("--from and --to are both %q", opts.From)
			}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return promoteRun(c.Context, opts)
		},
	}
}

func promoteRun(ctx context.Context, opts *PromoteOptions) (err error) {
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
	paths := channel.Paths(cfg)

	locker := &lock.Locker{SSM: clients.SSM(""), Name: paths.Lock(), Now: f.Now,
		Command: fmt.Sprintf("promote %s --from %s --to %s", opts.Layer, opts.From, opts.To)}
	held, err := locker.Acquire(ctx, opts.LockTimeout)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := held.Release(context.WithoutCancel(ctx)); rerr != nil {
			err = errors.Join(err, fmt.Errorf("release project lock: %w", rerr))
		}
	}()

	p := &channel.Promoter{SSM: clients.SSM(regions[0]), EC2: clients.EC2(regions[0]), Paths: paths, Region: regions[0],
		CopyRegions: regions[1:], EC2For: clients.EC2}
	res, err := p.Promote(ctx, opts.Layer, opts.From, opts.To)
	if err != nil {
		return err
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, res)
	}
	w := f.IOStreams.Out
	if !res.Changed {
		_, err = fmt.Fprintf(w, "Nothing to do: %s %s already holds %s (version %d).\n", res.Layer, res.To, res.AMI, res.Version)
		return err
	}
	prev := "unset"
	if res.Previous != "" {
		prev = res.Previous
	}
	_, err = fmt.Fprintf(w, "Promoted %s %s → %s: %s (was %s), %s version %d.\n",
		res.Layer, res.From, res.To, res.AMI, prev, res.Parameter, res.Version)
	return err
}
