// Package revoke is `amibake revoke AMI [--cascade] [--apply]`: tag an AMI
// (and with --cascade its descendants) amibake:revoked in every region and
// deprecate it now, so that promote refuses it, the plugin's channel data
// source refuses to build on it and plan rebuilds its layer. It never
// deregisters. Without --apply it only says what it would do.
package revoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	lineagecmd "github.com/amibake/amibake/internal/cmd/lineage"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
)

// RevokeOptions are the inputs of revoke.
type RevokeOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	AMI         string
	Region      string
	Reason      string
	Cascade     bool
	Apply       bool
	LockTimeout time.Duration
}

// NewCmdRevoke builds the command; runF replaces the run in tests.
func NewCmdRevoke(f *cmdutil.Factory, runF func(context.Context, *RevokeOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "mark an AMI (and its descendants) revoked and deprecate it",
		ArgsUsage: "AMI",
		Description: "Dry run by default: prints what it would do. With --apply (under the\n" +
			"project lock) it tags the AMI and its copies in every region\n" +
			"amibake:revoked=<reason> and deprecates them now (EC2's earliest accepted\n" +
			"time: the next whole minute). --cascade does the same to every descendant.\n" +
			"Nothing is ever deregistered. Promote refuses revoked AMIs, the channel data\n" +
			"source refuses to build on them, and plan reports their layers as revoked.\n\n" +
			"   amibake revoke ami-0123456789abcdef0 --cascade --reason 'CVE-2026-1234' --apply",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "cascade", Usage: "revoke every descendant too"},
			&cli.StringFlag{Name: "reason", Usage: "`TEXT` recorded in the amibake:revoked tag", Value: lineage.DefaultRevokeReason},
			&cli.BoolFlag{Name: "apply", Usage: "do it (default: only print what would be done)"},
			&cli.StringFlag{Name: "region", Usage: "`REGION` the AMI is in (default: search every project region)"},
			cmdutil.LockTimeoutFlag(),
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("revoke takes one AMI argument, got %d", len(args))
			}
			opts := &RevokeOptions{
				Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), AMI: args[0], Region: c.String("region"),
				Reason: c.String("reason"), Cascade: c.Bool("cascade"), Apply: c.Bool("apply"), LockTimeout: c.Duration("lock-timeout"),
			}
			if opts.Reason == "" {
				return cmdutil.FlagErrorf("--reason must not be empty")
			}
			if len(opts.Reason) > 256 {
				return cmdutil.FlagErrorf("--reason is %d characters; a tag value holds at most 256", len(opts.Reason))
			}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return revokeRun(c.Context, opts)
		},
	}
}

// JSONReport is the --output json document (docs/reference/json/).
type JSONReport = revokeJSON

type revokeJSON struct {
	AMI         string                 `json:"ami"`
	Reason      string                 `json:"reason"`
	Cascade     bool                   `json:"cascade"`
	Applied     bool                   `json:"applied"`
	Actions     []lineage.RevokeAction `json:"actions"`
	Descendants int                    `json:"descendants"`
}

func revokeRun(ctx context.Context, opts *RevokeOptions) (err error) {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	clients := awsapi.NewClients(awsCfg)
	renew := func(context.Context) error { return nil }
	if opts.Apply {
		paths := channel.Paths(cfg)
		cmd := "revoke " + opts.AMI
		if opts.Cascade {
			cmd += " --cascade"
		}
		locker := &lock.Locker{SSM: clients.SSM(""), Name: paths.Lock(), Now: f.Now, Command: cmd}
		held, lerr := locker.Acquire(ctx, opts.LockTimeout)
		if lerr != nil {
			return lerr
		}
		// Revoke is short: the lease's TTL covers it, renewed once more
		// before the writes. (Held.KeepAlive is not used: its goroutine
		// reads Held.stop without the mutex Release writes it under.)
		renew = held.Renew
		defer func() {
			if rerr := held.Release(context.WithoutCancel(ctx)); rerr != nil {
				err = errors.Join(err, fmt.Errorf("release project lock: %w", rerr))
			}
		}()
	}

	finder := lineagecmd.NewFinder(cfg, clients, opts.Region)
	lin, err := finder.Lineage(ctx, opts.AMI, opts.Region)
	if err != nil {
		return fmt.Errorf("revoke %s: %w", opts.AMI, err)
	}
	if p := lin.Target.Images[0].Project; p != cfg.Project.Name {
		return fmt.Errorf("revoke %s: not an AMI of project %q (amibake:project=%q)", opts.AMI, cfg.Project.Name, p)
	}
	images := append([]lineage.Image(nil), lin.Target.Images...)
	desc := lin.Descendants()
	if opts.Cascade {
		for _, m := range desc {
			images = append(images, m.Images...)
		}
	}
	actions := lineage.PlanRevoke(images, opts.Reason, f.Now())
	if opts.Apply {
		if err := cmdutil.ConfirmApply(ctx, f, cmdutil.ApplyPrompt{Changes: changeCount(actions), Regions: actionRegions(channel.ProjectRegions(cfg), actions), STS: clients.STS(),
			Preview: func(w io.Writer) error { return writeActions(w, actions, false) }}); err != nil {
			return err
		}
		if err := renew(ctx); err != nil {
			return fmt.Errorf("revoke %s: %w", opts.AMI, err)
		}
		if err := lineage.ApplyRevoke(ctx, clients.EC2, actions, opts.Reason); err != nil {
			return fmt.Errorf("revoke %s: %w", opts.AMI, err)
		}
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, revokeJSON{
			AMI: opts.AMI, Reason: opts.Reason, Cascade: opts.Cascade, Applied: opts.Apply, Actions: actions, Descendants: len(desc),
		})
	}
	return writeText(f, opts, actions, len(desc))
}

func writeText(f *cmdutil.Factory, opts *RevokeOptions, actions []lineage.RevokeAction, descendants int) error {
	w := f.IOStreams.Out
	verb := "Would revoke"
	if opts.Apply {
		verb = "Revoked"
	}
	fmt.Fprintf(w, "%s %d AMIs (amibake:revoked=%q); nothing is deregistered:\n", verb, len(actions), opts.Reason)
	if err := writeActions(w, actions, opts.Apply); err != nil {
		return err
	}
	if !opts.Cascade && descendants > 0 {
		fmt.Fprintf(w, "%d descendant builds are built on it and stay as they are; --cascade revokes them too.\n", descendants)
	}
	if !opts.Apply {
		fmt.Fprintln(w, "Dry run: run again with --apply to do it.")
	}
	return nil
}

func writeActions(w io.Writer, actions []lineage.RevokeAction, applied bool) error {
	tagged, deprecated := "would tag", "would deprecate at "
	if applied {
		tagged, deprecated = "tagged", "deprecated at "
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, a := range actions {
		tag := "already tagged"
		if a.Tag {
			tag = tagged
		}
		dep := "already deprecated"
		if a.Deprecate {
			dep = deprecated + a.DeprecateAt
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", a.Layer, a.AMI, a.Region, tag, dep)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write revoke: %w", err)
	}
	return nil
}

// changeCount is how many AMIs --apply writes to (tag or deprecation).
func changeCount(actions []lineage.RevokeAction) int {
	n := 0
	for _, a := range actions {
		if a.Tag || a.Deprecate {
			n++
		}
	}
	return n
}

// actionRegions are the regions actions touch, in the project's order.
func actionRegions(project []string, actions []lineage.RevokeAction) []string {
	var regions []string
	for _, r := range project {
		if slices.ContainsFunc(actions, func(a lineage.RevokeAction) bool { return a.Region == r }) {
			regions = append(regions, r)
		}
	}
	for _, a := range actions {
		if !slices.Contains(regions, a.Region) {
			regions = append(regions, a.Region)
		}
	}
	return regions
}
