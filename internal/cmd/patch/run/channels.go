package run

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
)

// replaceChannels plans (built nil: the dry run) or makes the moves of a
// rebaked layer's other channels to its new AMI. The fingerprint to match
// is the one the rebake builds: a patch rebake keeps it, so a channel
// holding it holds the same content at an older patch level.
func replaceChannels(ctx context.Context, clients *awsapi.Clients, cfg *config.Config, fps map[string]*graph.Fingerprint,
	layer, runID string, built *bake.Result) ([]*channel.Replacement, error) {
	fp := fps[layer]
	if fp == nil {
		return nil, fmt.Errorf("layer %s: no fingerprint", layer)
	}
	regions, err := channel.LayerRegions(cfg, layer)
	if err != nil {
		return nil, err
	}
	var extra []string
	for _, name := range sortedKeys(cfg.Fleets) {
		if fl := cfg.Fleets[name]; fl.Layer == layer {
			extra = append(extra, fl.Channel)
		}
	}
	r := &channel.Replacer{SSMFor: clients.SSM, EC2For: clients.EC2, Paths: channel.Paths(cfg), Regions: regions}
	var amis map[string]string
	if built != nil {
		// An adopted rebake (an earlier run's) has no build id of this run.
		amis, r.RunID = built.AMI, built.BuildID
		if r.RunID == "" {
			r.RunID = runID
		}
	}
	rs, err := r.Plan(ctx, layer, fp.Hash, amis, extra)
	if err != nil || built == nil {
		return rs, err
	}
	return rs, r.Apply(ctx, rs, built.PatchLevel)
}

// channelSummary is the message's sentence on the other channels.
func channelSummary(rs []*channel.Replacement) string {
	var moved, would, kept []string
	for _, r := range rs {
		name := r.Layer + " " + r.Channel
		switch r.Status {
		case channel.ReplaceMoved:
			moved = append(moved, name)
		case channel.ReplaceWouldMove:
			would = append(would, name)
		case channel.ReplaceOtherContent, channel.ReplaceRevoked, channel.ReplaceGone, channel.ReplaceNoCopy:
			kept = append(kept, name)
		}
	}
	var out string
	if len(moved) > 0 {
		out += fmt.Sprintf(" The new AMIs replaced the drifted ones on %s.", strings.Join(uniq(moved), ", "))
	}
	if len(would) > 0 {
		out += fmt.Sprintf(" Would replace the drifted AMIs on %s.", strings.Join(uniq(would), ", "))
	}
	if len(kept) > 0 {
		out += fmt.Sprintf(" Not replaced (see CHANNEL): %s.", strings.Join(uniq(kept), ", "))
	}
	return out
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// printChannels is the table of the rebaked layers' other channels.
func printChannels(w io.Writer, rs []*channel.Replacement) error {
	if len(rs) == 0 {
		return nil
	}
	rs = append([]*channel.Replacement(nil), rs...)
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Layer != rs[j].Layer {
			return rs[i].Layer < rs[j].Layer
		}
		return rs[i].Channel < rs[j].Channel
	})
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tCHANNEL\tREGION\tAMI\tCHANNEL MOVE\tDETAIL")
	for _, r := range rs {
		ami := orDash(r.From)
		if r.To != "" && r.To != r.From {
			ami = r.From + " → " + r.To
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Layer, r.Channel, r.Region, ami, r.Status, orDash(r.Reason))
	}
	return tw.Flush()
}

// catchUp finds, for each layer not in skip, the channels an earlier
// patch run left behind (channel.Replacer.LeftBehind: it published on
// latest and stopped before moving them) and, with apply, moves them, all
// or nothing per layer. failed lists the layers whose moves were put back.
func catchUp(ctx context.Context, clients *awsapi.Clients, cfg *config.Config, layers []string, skip map[string]bool,
	runID string, apply bool) (moves []*channel.Replacement, failed []string, err error) {
	for _, layer := range layers {
		if skip[layer] {
			continue
		}
		regions, err := channel.LayerRegions(cfg, layer)
		if err != nil {
			return moves, failed, err
		}
		r := &channel.Replacer{SSMFor: clients.SSM, EC2For: clients.EC2, Paths: channel.Paths(cfg), Regions: regions, RunID: runID}
		rs, err := r.LeftBehind(ctx, layer)
		if err != nil {
			return moves, failed, err
		}
		if apply && len(rs) > 0 {
			if aerr := r.Apply(ctx, rs, ""); aerr != nil {
				failed = append(failed, fmt.Sprintf("%s: %v", layer, aerr))
			}
		}
		moves = append(moves, rs...)
	}
	return moves, failed, nil
}

// fleetsOn lists the fleets (not already in have) that follow a channel
// in moves, in its layer's build region, with the AMI it held.
func fleetsOn(cfg *config.Config, moves []*channel.Replacement, have []*FleetRollout) []*FleetRollout {
	idx := indexChannels(cfg, moves)
	seen := map[string]bool{}
	for _, fr := range have {
		seen[fr.Fleet] = true
	}
	var out []*FleetRollout
	for _, name := range sortedKeys(cfg.Fleets) {
		fl := cfg.Fleets[name]
		if rp := idx[fl.Layer+"/"+fl.Channel]; rp != nil && !seen[name] {
			out = append(out, &FleetRollout{Fleet: name, Strategy: fl.Strategy, Layer: fl.Layer, Channel: fl.Channel, FromAMI: rp.From})
		}
	}
	return out
}

// publishedLayers are the layers whose rebake (or adopted earlier rebake)
// this run published.
func publishedLayers(results []*bake.Result) map[string]bool {
	out := map[string]bool{}
	for _, r := range results {
		if publishedRebake(r) {
			out[r.Layer] = true
		}
	}
	return out
}

// publishedRebake: r is a rebake of this run, or an earlier run's that it
// adopted and verified (adoptRebakes), and it was published.
func publishedRebake(r *bake.Result) bool {
	adopted := r.Status == bake.StatusReused && r.Verified
	return (r.Status == bake.StatusBuilt || adopted) && r.Published
}

// nothingStale ends a run with nothing to rebake. It still moves the
// channels an earlier run left behind (it published on latest and was
// killed before moving them) and, with --rollout, rolls out the fleets on
// them: the next run finishes what a killed one started.
func nothingStale(ctx, parent context.Context, f *cmdutil.Factory, cfg *config.Config, clients *awsapi.Clients, opts *RunOptions,
	rep *Report, layers []string, runID string, lost func(error) error) error {
	rep.Message = "Nothing to rebake: every layer's image is within its patch policy (nothing newly released)"
	behind, failed, err := catchUp(ctx, clients, cfg, layers, nil, runID, opts.Apply)
	if err != nil {
		return lost(fmt.Errorf("patch run: %w", err))
	}
	if len(behind) == 0 {
		rep.Message += "; nothing was changed."
		return write(f, rep, nil)
	}
	if opts.Apply {
		rep.RunID = runID
	}
	rep.Channels, rep.ChannelErrors = behind, failed
	rep.Message += "; an earlier run left channels behind." + channelSummary(behind)
	code := 0
	if len(failed) > 0 {
		rep.Message += fmt.Sprintf(" %d layer(s) kept their other channels: %s.", len(failed), strings.Join(failed, "; "))
		code = cmdutil.ExitPartial
	}
	if opts.Rollout {
		rollouts := fleetsOn(cfg, behind, nil)
		rep.Rollouts = rollouts
		if opts.Apply {
			published := map[string]bool{}
			for _, m := range behind {
				if m.Status == channel.ReplaceMoved {
					published[m.Layer] = true
				}
			}
			code = worse(code, rolloutFleets(ctx, f, cfg, clients, opts, rollouts, published, indexChannels(cfg, behind), f.IOStreams.ErrOut))
		} else {
			planRollouts(rollouts, indexChannels(cfg, behind))
		}
		rep.Message += rolloutSummary(rollouts)
	}
	if err := write(f, rep, nil); err != nil {
		return err
	}
	if err := endedExit(ctx, parent); err != nil {
		return err
	}
	if code != 0 {
		return cmdutil.SilentExit(code)
	}
	return nil
}
