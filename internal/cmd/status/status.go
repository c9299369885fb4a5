// Package status is `amibake status`: one screen with every layer (its
// channels' AMIs per region with their age and flags, and whether bake
// would rebuild it), every fleet (the AMIs its instances run, drift from
// the channel AMI) and the project lock. Read-only; never takes the lock.
package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lock"
)

// SchemaVersion is the version of the --output json document; it changes
// only when a field changes meaning or disappears.
const SchemaVersion = 1

// Layer fingerprint states.
const (
	StateUpToDate     = "up-to-date"
	StateWouldRebuild = "would-rebuild"
	StateWouldPublish = "would-publish" // reused AMI, latest channel moves
)

// Report is the status document (--output json).
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	Project       string    `json:"project"`
	Time          time.Time `json:"time"`
	Layers        []*Layer  `json:"layers"`
	Fleets        []*Fleet  `json:"fleets"`
	Lock          *Lock     `json:"lock"`
}

// Layer is one layer: its fingerprint state and its channels.
type Layer struct {
	Layer       string `json:"layer"`
	Parent      string `json:"parent,omitempty"`
	Region      string `json:"region"` // build region
	Fingerprint string `json:"fingerprint"`
	// State is up-to-date, would-rebuild or would-publish; Action, Reason
	// and Detail are plan's (docs/plan.md).
	State    string     `json:"state"`
	Action   string     `json:"action"`
	Reason   string     `json:"reason"`
	Detail   string     `json:"detail,omitempty"`
	Channels []*Channel `json:"channels"`
}

// Channel is one channel of a layer and its AMI in every region.
type Channel struct {
	Channel string `json:"channel"`
	AMI     string `json:"ami"` // build region
	// Current: the AMI has the layer's current fingerprint.
	Current bool         `json:"current"`
	Regions []*RegionAMI `json:"regions"`
}

// RegionAMI is a channel AMI (or its copy) in one region.
type RegionAMI struct {
	Region     string `json:"region"`
	AMI        string `json:"ami,omitempty"`
	State      string `json:"state"` // available, pending, failed, deregistered, missing (no copy)
	Created    string `json:"created,omitempty"`
	AgeSeconds int64  `json:"age_seconds,omitempty"`
	Revoked    string `json:"revoked,omitempty"`
	Deprecated bool   `json:"deprecated,omitempty"`
	// PatchLevel is the AMI's amibake:patch-level (baseline and approved
	// set it was patched to), when it has one.
	PatchLevel string `json:"patch_level,omitempty"`
}

// Fleet is what one fleet runs.
type Fleet struct {
	Fleet    string `json:"fleet"`
	Strategy string `json:"strategy"`
	Layer    string `json:"layer"`
	Channel  string `json:"channel"`
	Region   string `json:"region"`
	// Target is the AMI the fleet's channel holds.
	Target string `json:"target"`
	// Images counts the fleet's instances per AMI they were launched from.
	Images    map[string]int `json:"images"`
	Instances int            `json:"instances"`
	// Drift counts instances not on Target (in-place: neither launched
	// from it nor patched to its patch level).
	Drift  int      `json:"drift"`
	Groups []*Group `json:"groups"`
}

// Group is one Auto Scaling group of a replace fleet.
type Group struct {
	Name            string `json:"name"`
	Missing         bool   `json:"missing,omitempty"`
	Desired         int32  `json:"desired"`
	Instances       int    `json:"instances"`
	Template        string `json:"template,omitempty"`
	TemplateVersion string `json:"template_version,omitempty"`
	// TemplateAMI is the image the group launches new instances from.
	TemplateAMI string `json:"template_ami,omitempty"`
}

// Lock is the project lock.
type Lock struct {
	Name    string      `json:"name"`
	Held    bool        `json:"held"`
	Expired bool        `json:"expired,omitempty"`
	Lease   *lock.Lease `json:"lease,omitempty"`
}

// StatusOptions are the inputs of status.
type StatusOptions struct {
	Factory     *cmdutil.Factory
	LoadOptions config.LoadOptions
}

// NewCmdStatus builds `amibake status`; runF replaces the run in tests.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show every layer's channels, every fleet's AMIs and the project lock",
		Description: "One screen: per layer, whether bake would rebuild it (plan's reason) and\n" +
			"each channel's AMI per region with its age and flags (revoked, deprecated,\n" +
			"missing copy); per fleet, the AMIs its instances run (replace: the Auto\n" +
			"Scaling groups' launch template image and members; in-place: the tagged\n" +
			"instances) and the drift from the channel AMI; and who holds the lock.\n" +
			"A bounded number of AWS calls, whatever the number of AMIs. Read-only.\n\n" +
			"   amibake status\n" +
			"   amibake -o json status | jq '.fleets[] | select(.drift > 0)'",
		Flags: cmdutil.VarFlags(),
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) != 0 {
				return cmdutil.FlagErrorf("status takes no arguments, got %d", len(args))
			}
			opts := &StatusOptions{Factory: f, LoadOptions: cmdutil.LoadOptionsFrom(c, f)}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return statusRun(c.Context, opts)
		},
	}
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	f := opts.Factory
	cfg, err := cmdutil.LoadProject(f, opts.LoadOptions)
	if err != nil {
		return err
	}
	if cfg.Project == nil {
		return errors.New("status: the project has no project block")
	}
	g, diags := graph.Build(cfg)
	var fps map[string]*graph.Fingerprint
	if !diags.HasErrors() {
		var fd hcl.Diagnostics
		fps, fd = graph.Fingerprints(g)
		diags = append(diags, fd...)
	}
	if diags.HasErrors() {
		if err := cmdutil.PrintDiagnostics(f.IOStreams, cfg.Sources, diags); err != nil {
			return fmt.Errorf("print diagnostics: %w", err)
		}
		return cmdutil.ErrSilent
	}
	awsCfg, err := f.AWSConfig(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if f.Now != nil {
		now = f.Now()
	}
	rep, err := Collect(ctx, awsapi.NewClients(awsCfg), cfg, g, fps, now)
	if err != nil {
		return err
	}
	if f.JSON() {
		return cmdutil.WriteJSON(f.IOStreams.Out, rep)
	}
	return writeText(f.IOStreams, rep)
}
