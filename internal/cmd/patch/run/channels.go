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
