package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	cmdrollout "github.com/amibake/amibake/internal/cmd/rollout"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/rollout"
)

// Statuses of a fleet's hand-off to the rollout module (--rollout).
const (
	// FleetWouldRollOut: dry run; the rebake would move the fleet's channel.
	FleetWouldRollOut = "would-roll-out"
	FleetRolledOut    = "rolled-out"
	// FleetNothing: the rollout found nothing to change (no instances).
	FleetNothing = "nothing-to-do"
	// FleetDeferred: an in-place fleet outside its maintenance window; its
	// window (patch window apply) or a later rollout patches it.
	FleetDeferred = "deferred"
	FleetPaused   = "paused"
	FleetFailed   = "failed"
	// FleetNotMoved: the fleet's layer was rebaked but its channel did not
	// move (patch run publishes on latest and replaces the drifted AMI on
	// channels holding the same content; others are promoted by hand).
	FleetNotMoved = "channel-not-moved"
	// FleetNotRun: the run was interrupted before this fleet's turn.
	FleetNotRun = "not-run"
)

// FleetRollout is one affected fleet: its layer was rebaked in this run.
type FleetRollout struct {
	Fleet    string `json:"fleet"`
	Strategy string `json:"strategy"`
	Layer    string `json:"layer"`
	Channel  string `json:"channel"`
	FromAMI  string `json:"from_ami,omitempty"`
	ToAMI    string `json:"to_ami,omitempty"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	// Report is the rollout's own report (as `rollout FLEET -o json`).
	Report *rollout.Report `json:"report,omitempty"`
}

// affected lists the fleets on the layers in rebaked (a patch rebake
// rebuilds every descendant of a stale layer, so those are in it too),
// sorted by name. Fleets on other layers are not touched.
func affected(cfg *config.Config, rebaked []string) []*FleetRollout {
	set := map[string]bool{}
	for _, l := range rebaked {
		set[l] = true
	}
	var out []*FleetRollout
	for _, name := range sortedKeys(cfg.Fleets) {
		fl := cfg.Fleets[name]
		if set[fl.Layer] {
			out = append(out, &FleetRollout{Fleet: name, Strategy: fl.Strategy, Layer: fl.Layer, Channel: fl.Channel})
		}
	}
	return out
}

// planRollouts is the dry run: a fleet on latest would roll out after its
// layer's rebake is published, a fleet on another channel when the rebake
// would replace the drifted AMI on it (chans); otherwise it would not.
func planRollouts(fleets []*FleetRollout, chans channelIndex) {
	for _, fr := range fleets {
		if rp := chans[fr.Layer+"/"+fr.Channel]; rp != nil && fr.FromAMI == "" {
			fr.FromAMI = rp.From
		}
		if fr.Channel == lineage.ChannelLatest || chans.moves(fr) {
			fr.Status = FleetWouldRollOut
			continue
		}
		fr.Status, fr.Reason = FleetNotMoved, notMoved(fr, chans)
	}
}

func notMoved(fr *FleetRollout, chans channelIndex) string {
	why := fmt.Sprintf("patch run publishes on %s, the fleet follows %s", lineage.ChannelLatest, fr.Channel)
	if rp := chans[fr.Layer+"/"+fr.Channel]; rp != nil && rp.Reason != "" {
		why = fmt.Sprintf("channel %s: %s", fr.Channel, rp.Reason)
	}
	return fmt.Sprintf("%s: amibake promote %s --to %s, then amibake rollout %s", why, fr.Layer, fr.Channel, fr.Fleet)
}

// channelIndex is what the rebake does to each layer's other channels in
// the layer's build region (where fleets read them), by "layer/channel".
type channelIndex map[string]*channel.Replacement

func indexChannels(cfg *config.Config, rs []*channel.Replacement) channelIndex {
	out := channelIndex{}
	for _, r := range rs {
		if regions, err := channel.LayerRegions(cfg, r.Layer); err == nil && regions[0] == r.Region {
			out[r.Layer+"/"+r.Channel] = r
		}
	}
	return out
}

func (c channelIndex) moves(fr *FleetRollout) bool {
	rp := c[fr.Layer+"/"+fr.Channel]
	return rp != nil && rp.Moves()
}

// channelAMIs reads each fleet's channel in its layer's build region.
func channelAMIs(ctx context.Context, clients *awsapi.Clients, cfg *config.Config, fleets []*FleetRollout) (map[*FleetRollout]string, error) {
	paths := channel.Paths(cfg)
	out := map[*FleetRollout]string{}
	for _, fr := range fleets {
		regions, err := channel.LayerRegions(cfg, fr.Layer)
		if err != nil {
			return nil, err
		}
		v, err := channel.Get(ctx, clients.SSM(regions[0]), paths.Channel(fr.Layer, fr.Channel))
		var unset *channel.NotSetError
		switch {
		case errors.As(err, &unset):
			out[fr] = ""
		case err != nil:
			return nil, fmt.Errorf("fleet %s: %w", fr.Fleet, err)
		default:
			out[fr] = v.AMI
		}
	}
	return out, nil
}

// rolloutFleets hands each affected fleet whose layer was published in
// this run (published) and whose channel moved to the rollout module, one fleet at a
// time, exactly as `amibake rollout FLEET --apply` (the project lock is
// this run's). It returns the exit code the rollouts call for: 0, 5 (some
// paused, none failed) or 3 (some failed).
func rolloutFleets(ctx context.Context, f *cmdutil.Factory, cfg *config.Config, clients *awsapi.Clients, opts *RunOptions,
	fleets []*FleetRollout, published map[string]bool, chans channelIndex, progress io.Writer) int {
	after, err := channelAMIs(ctx, clients, cfg, fleets)
	code := 0
	for _, fr := range fleets {
		switch {
		case ctx.Err() != nil:
			fr.Status, fr.Reason = FleetNotRun, "interrupted before this fleet's rollout"
			continue
		case !published[fr.Layer]:
			fr.Status, fr.Reason = FleetNotRun, "layer "+fr.Layer+" was not rebaked and published in this run"
			continue
		case err != nil:
			fr.Status, fr.Reason = FleetFailed, err.Error()
			code = worse(code, cmdutil.ExitPartial)
			continue
		}
		fr.ToAMI = after[fr]
		if fr.ToAMI == fr.FromAMI {
			fr.Status, fr.Reason = FleetNotMoved, notMoved(fr, chans)
			continue
		}
		fmt.Fprintf(progress, "Rolling out fleet %s (%s): %s %s %s → %s\n", fr.Fleet, fr.Strategy, fr.Layer, fr.Channel, orDash(fr.FromAMI), fr.ToAMI)
		rep, rerr := cmdrollout.Run(ctx, f, cfg, fr.Fleet, cmdrollout.RunOptions{Apply: true, Poll: opts.Poll, LockHeld: true, Out: progress,
			Wait: opts.Wait, CanaryNoWait: opts.CanaryNoWait, IgnoreWindow: opts.IgnoreWindow})
		fr.Report = rep
		var paused *rollout.PausedError
		switch {
		case rerr == nil && rep != nil && rep.Outcome == rollout.OutcomeNothing:
			fr.Status, fr.Reason = FleetNothing, rep.Reason
		case rerr == nil:
			fr.Status = FleetRolledOut
		case errors.As(rerr, &paused):
			fr.Status, fr.Reason = FleetPaused, rerr.Error()
			code = worse(code, cmdutil.ExitPaused)
		case rep != nil && rep.Outcome == rollout.OutcomeNothing && strings.HasPrefix(rep.Reason, "outside the maintenance window"):
			fr.Status, fr.Reason = FleetDeferred, rerr.Error()
		default:
			fr.Status, fr.Reason = FleetFailed, rerr.Error()
			code = worse(code, cmdutil.ExitPartial)
		}
	}
	return code
}

// worse orders the exit codes of a run: a failure outweighs a pause.
func worse(a, b int) int {
	rank := map[int]int{0: 0, cmdutil.ExitPaused: 1, cmdutil.ExitPartial: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func rolloutSummary(fleets []*FleetRollout) string {
	if len(fleets) == 0 {
		return ""
	}
	count := map[string]int{}
	for _, fr := range fleets {
		count[fr.Status]++
	}
	var parts []string
	for _, s := range []string{FleetWouldRollOut, FleetRolledOut, FleetNothing, FleetDeferred, FleetPaused, FleetFailed, FleetNotMoved, FleetNotRun} {
		if count[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[s], s))
		}
	}
	return " Fleets: " + strings.Join(parts, ", ") + "."
}

func printRollouts(w io.Writer, fleets []*FleetRollout) error {
	if len(fleets) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FLEET\tSTRATEGY\tLAYER\tCHANNEL\tAMI\tROLLOUT\tDETAIL")
	sort.SliceStable(fleets, func(i, j int) bool { return fleets[i].Fleet < fleets[j].Fleet })
	for _, fr := range fleets {
		ami := orDash(fr.ToAMI)
		switch {
		case fr.FromAMI != "" && fr.ToAMI != "" && fr.FromAMI != fr.ToAMI:
			ami = fr.FromAMI + " → " + fr.ToAMI
		case fr.ToAMI == "" && fr.FromAMI != "" && fr.Status == FleetWouldRollOut:
			ami = fr.FromAMI + " → (rebake)"
		case fr.ToAMI == "" && fr.FromAMI != "":
			ami = fr.FromAMI
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fr.Fleet, fr.Strategy, fr.Layer, fr.Channel, ami, fr.Status, orDash(fr.Reason))
	}
	return tw.Flush()
}
