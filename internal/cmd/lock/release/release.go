// Package release is `amibake lock release --force`.
package release

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
)

// ReleaseOptions are the inputs of lock release.
type ReleaseOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Force       bool
}

// NewCmdRelease builds the command; runF replaces the run in tests.
func NewCmdRelease(f *cmdutil.Factory, runF func(context.Context, *ReleaseOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "release",
		Usage: "break the project lock held by a run that is gone",
		Description: "Deletes the lease only with --force: check first (`amibake lock status`) that its\n" +
			"holder is no longer running — a live holder would go on changing AWS unguarded.\n\n" +
			"   amibake lock status\n" +
			"   amibake lock release --force",
		Flags: append(cmdutil.VarFlags(), &cli.BoolFlag{Name: "force", Usage: "required: confirms that the holder is no longer running"}),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cmdutil.FlagErrorf("lock release takes no arguments")
			}
			opts := &ReleaseOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Force: c.Bool("force")}
			if !opts.Force {
				return cmdutil.FlagErrorf("lock release needs --force: breaking the lock of a run that is still going lets two runs change the same project")
			}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return releaseRun(c.Context, opts)
		},
	}
}

func releaseRun(ctx context.Context, opts *ReleaseOptions) error {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	name := lineage.Paths{Prefix: cfg.Project.ParamPrefix, Project: cfg.Project.Name}.Lock()
	l := &lock.Locker{SSM: awsapi.NewClients(awsCfg).SSM(""), Name: name, Now: f.Now}
	lease, err := l.ForceRelease(ctx)
	if err != nil {
		return err
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, map[string]any{"released": lease != nil, "name": name, "lease": lease})
	}
	if lease == nil {
		fmt.Fprintf(f.IOStreams.Out, "Nothing to release: %s is not held.\n", name)
		return nil
	}
	fmt.Fprintf(f.IOStreams.Out, "Released %s, held by %s.\n", name, lease)
	return nil
}
