// Package status is `amibake lock status`.
package status

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
)

// StatusOptions are the inputs of lock status.
type StatusOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
}

// NewCmdStatus builds the command; runF replaces the run in tests.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show who holds the project lock",
		Description: "Reads the lease (holder, command, pid and host, expiry) without taking it.\n\n" +
			"   amibake lock status\n" +
			"   amibake lock status -o json",
		Flags: cmdutil.VarFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cmdutil.FlagErrorf("lock status takes no arguments")
			}
			opts := &StatusOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f)}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return statusRun(c.Context, opts)
		},
	}
}

// JSONReport is the --output json document (docs/reference/json/).
type JSONReport = statusJSON

type statusJSON struct {
	Locked  bool        `json:"locked"`
	Name    string      `json:"name"`
	Lease   *lock.Lease `json:"lease,omitempty"`
	Expired bool        `json:"expired,omitempty"`
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
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
	lease, err := l.Status(ctx)
	if err != nil {
		return err
	}
	now := f.Now()
	if f.JSON() {
		out := statusJSON{Locked: lease != nil, Name: name, Lease: lease}
		if lease != nil {
			out.Expired = lease.Expired(now)
		}
		return cmdutil.WriteJSON(f.IOStreams.Out, out)
	}
	w := f.IOStreams.Out
	if lease == nil {
		fmt.Fprintf(w, "Unlocked: no run holds %s.\n", name)
		return nil
	}
	state := fmt.Sprintf("expires in %s", lease.Expires.Sub(now).Round(time.Second))
	if lease.Expired(now) {
		state = fmt.Sprintf("EXPIRED %s ago; the next run takes it over", now.Sub(lease.Expires).Round(time.Second))
	}
	fmt.Fprintf(w, "Locked by %s\n  command:  %s\n  host:     %s (pid %d)\n  since:    %s\n  lease:    %s\n",
		lease.Holder, lease.Command, lease.Host, lease.PID, lease.Acquired.UTC().Format(time.RFC3339), state)
	return nil
}
