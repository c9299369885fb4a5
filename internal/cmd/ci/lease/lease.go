// Package lease is `amibake ci lease acquire|release`: the project lock
// held for a whole CodeBuild batch build-graph (ci buildspec --batch), so
// that the batch's layer builds (`bake LAYER --lock-batch ID`) run at once.
package lease

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lock"
)

// EnvBatchID names the batch when --batch is not given.
const EnvBatchID = "AMIBAKE_BATCH_ID"

// DefaultTTL is CodeBuild's default build timeout of a batch (8 hours): a
// batch whose release build never runs blocks the project no longer.
const DefaultTTL = 8 * time.Hour

// Options are the inputs of both verbs.
type Options struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
	Batch       string
	TTL         time.Duration
	LockTimeout time.Duration
}

// Report is the --output json document of both verbs.
type Report struct {
	Action string      `json:"action"` // acquired | released | none
	Batch  string      `json:"batch"`
	Lock   string      `json:"lock"`
	Lease  *lock.Lease `json:"lease,omitempty"`
	// Recovered is what a crashed run had left (acquire only).
	Recovered *bake.Recovery `json:"recovered,omitempty"`
}

// NewCmdLease is `amibake ci lease`.
func NewCmdLease(f *cmdutil.Factory) *cli.Command {
	batchFlag := &cli.StringFlag{Name: "batch", EnvVars: []string{EnvBatchID}, Usage: "the batch `ID` (default: $" + EnvBatchID + ")"}
	opts := func(c *cli.Context) *Options {
		return &Options{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f), Batch: c.String("batch"),
			TTL: c.Duration("ttl"), LockTimeout: c.Duration(cmdutil.FlagLockTimeout)}
	}
	return &cli.Command{
		Name:  "lease",
		Usage: "Hold the project lock for a whole CodeBuild batch build-graph",
		Description: "The batch buildspec (ci buildspec --batch) runs `ci lease acquire` first, then one\n" +
			"`bake LAYER --lock-batch ID` per layer (they check the lease names their batch and\n" +
			"build at once), then `ci lease release`. Any other run meets a held lock (exit 4)\n" +
			"until the release or the TTL. A missing, expired or foreign lease stops a layer\n" +
			"build with exit 4.\n\n" +
			"   amibake ci lease acquire --batch \"$AMIBAKE_BATCH_ID\" --ttl 8h\n" +
			"   amibake ci lease release --batch \"$AMIBAKE_BATCH_ID\"",
		Subcommands: []*cli.Command{
			{
				Name:  "acquire",
				Usage: "Take the project lock for the batch (and clean up what a crashed run left)",
				Description: "The first build of a batch build-graph. Exit 4 when another run holds the lock.\n\n" +
					"   amibake ci lease acquire --batch \"$AMIBAKE_BATCH_ID\" --ttl 8h",
				Flags: append([]cli.Flag{batchFlag,
					&cli.DurationFlag{Name: "ttl", Value: DefaultTTL, Usage: "the lease lives `D` (cover the batch timeout)"},
					cmdutil.LockTimeoutFlag(),
				}, cmdutil.VarFlags()...),
				Action: func(c *cli.Context) error { return acquire(c.Context, opts(c)) },
			},
			{
				Name:  "release",
				Usage: "Release the batch's project lock",
				Description: "The last build of a batch build-graph (it depends on every layer build).\n\n" +
					"   amibake ci lease release --batch \"$AMIBAKE_BATCH_ID\"",
				Flags:  append([]cli.Flag{batchFlag}, cmdutil.VarFlags()...),
				Action: func(c *cli.Context) error { return release(c.Context, opts(c)) },
			},
		},
	}
}

func setup(ctx context.Context, opts *Options) (*config.Config, *awsapi.Clients, *lock.Locker, error) {
	if opts.Batch == "" {
		return nil, nil, nil, cmdutil.FlagErrorf("no batch id: pass --batch or set $%s", EnvBatchID)
	}
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return nil, nil, nil, err
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	clients := awsapi.NewClients(awsCfg)
	locker := &lock.Locker{SSM: clients.SSM(""), Name: channel.Paths(cfg).Lock(), Now: f.Now, TTL: opts.TTL,
		Command: "ci lease acquire (CodeBuild batch)"}
	return cfg, clients, locker, nil
}

func acquire(ctx context.Context, opts *Options) error {
	if opts.TTL <= 0 {
		return cmdutil.FlagErrorf("--ttl must be positive")
	}
	cfg, clients, locker, err := setup(ctx, opts)
	if err != nil {
		return err
	}
	held, err := locker.AcquireBatch(ctx, opts.Batch, opts.LockTimeout)
	if err != nil {
		return fmt.Errorf("ci lease acquire: %w", err)
	}
	lease := held.Lease()
	rep := Report{Action: "acquired", Batch: opts.Batch, Lock: locker.Name, Lease: &lease}
	// The layer builds of the batch do not recover (their siblings'
	// build instances are live): the batch does it once, here.
	rec, err := bake.Recover(ctx, clients, cfg)
	if err != nil {
		return fmt.Errorf("ci lease acquire: %w", err)
	}
	if !rec.Empty() {
		rep.Recovered = rec
	}
	return write(opts.Factory, rep)
}

func release(ctx context.Context, opts *Options) error {
	_, _, locker, err := setup(ctx, opts)
	if err != nil {
		return err
	}
	lease, err := locker.ReleaseBatch(ctx, opts.Batch)
	if err != nil {
		return fmt.Errorf("ci lease release: %w", err)
	}
	rep := Report{Action: "released", Batch: opts.Batch, Lock: locker.Name, Lease: lease}
	if lease == nil {
		rep.Action = "none"
	}
	return write(opts.Factory, rep)
}

func write(f *cmdutil.Factory, rep Report) error {
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, rep)
	}
	w := f.IOStreams.Out
	switch rep.Action {
	case "acquired":
		fmt.Fprintf(w, "Batch %s holds project lock %s until %s.\n", rep.Batch, rep.Lock, rep.Lease.Expires.UTC().Format(time.RFC3339))
		if rep.Recovered != nil {
			fmt.Fprintf(w, "Cleaned up after a crashed run: %d build instance group(s), %d build secret(s).\n",
				len(rep.Recovered.TerminatedInstances), len(rep.Recovered.DeletedSecrets))
		}
	case "released":
		fmt.Fprintf(w, "Released project lock %s of batch %s.\n", rep.Lock, rep.Batch)
	default:
		fmt.Fprintf(w, "Project lock %s is not held: nothing to release.\n", rep.Lock)
	}
	return nil
}
