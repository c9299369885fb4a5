package channel

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/lineage"
)

// Statuses of a channel after a patch rebake (Replacer).
const (
	// ReplaceWouldMove: dry run; the channel holds the drifted image.
	ReplaceWouldMove = "would-move"
	ReplaceMoved     = "moved"
	// ReplaceCurrent: the channel already holds the new AMI.
	ReplaceCurrent = "current"
	// ReplaceOtherContent: the channel holds another fingerprint, e.g. a
	// stable channel deliberately behind on content: a patch rebake never
	// changes what a channel runs, only its patch level.
	ReplaceOtherContent = "other-content"
	ReplaceRevoked      = "revoked"
	// ReplaceGone: the channel's AMI no longer exists (deregistered).
	ReplaceGone = "ami-gone"
	// ReplaceNotSet: a fleet follows the channel but it has no parameter.
	ReplaceNotSet = "not-set"
	// ReplaceNoCopy: the new build has no AMI in the channel's region.
	ReplaceNoCopy = "no-copy"
	// ReplaceNotMoved: another move of the layer failed, so none was kept.
	ReplaceNotMoved = "not-moved"
)

// Replacement is one channel of a layer other than latest and what a patch
// rebake of the layer does to it.
type Replacement struct {
	Layer     string `json:"layer"`
	Channel   string `json:"channel"`
	Region    string `json:"region"`
	Parameter string `json:"parameter"`
	// From is the AMI the channel held; To the new AMI it moves to.
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Version is the parameter's version after the move.
	Version int64 `json:"version,omitempty"`

	fromLevel, toLevel string
}

// Moves reports whether the channel moves (or would, in a dry run).
func (r *Replacement) Moves() bool { return r.Status == ReplaceMoved || r.Status == ReplaceWouldMove }

// Replacer moves a layer's other channels to its patch rebake. A patch
// rebake keeps the content fingerprint and changes only the patch level,
// so the new AMI replaces the drifted one wherever the drifted one is
// published, not only on latest (DESIGN.md, image identity).
type Replacer struct {
	SSMFor func(region string) awsapi.SSM
	EC2For func(region string) awsapi.EC2
	Paths  lineage.Paths
	// Regions are the layer's regions, build region first.
	Regions []string
	// RunID names the run in each moved version's description.
	RunID string
}

// Plan reads every channel of layer (GetParametersByPath on the layer's
// path, paged, in each region) plus the named extra channels (the fleets'),
// and the AMIs they hold (one DescribeImages per region). A channel other
// than latest moves when it holds a non-revoked AMI of the layer with
// fingerprint: the same content at an older patch level. newAMIs is the
// rebake's AMI per region; nil plans a dry run (status would-move).
func (r *Replacer) Plan(ctx context.Context, layer, fingerprint string, newAMIs map[string]string, extra []string) ([]*Replacement, error) {
	var out []*Replacement
	for i, region := range r.Regions {
		params, err := r.channels(ctx, region, layer)
		if err != nil {
			return nil, fmt.Errorf("channels of %s: %w", layer, err)
		}
		held := map[string]string{}
		for ch, v := range params {
			held[ch] = v.AMI
		}
		if i == 0 {
			for _, ch := range extra {
				if _, ok := held[ch]; !ok && ch != lineage.ChannelLatest {
					held[ch] = ""
				}
			}
		}
		delete(held, lineage.ChannelLatest)
		if len(held) == 0 {
			continue
		}
		var ids []string
		for _, ami := range held {
			if ami != "" {
				ids = append(ids, ami)
			}
		}
		imgs := map[string]lineage.Image{}
		if len(ids) > 0 {
			if imgs, err = lineage.DescribeIDs(ctx, r.EC2For(region), region, ids); err != nil {
				return nil, fmt.Errorf("channels of %s: %w", layer, err)
			}
		}
		names := make([]string, 0, len(held))
		for ch := range held {
			names = append(names, ch)
		}
		sort.Strings(names)
		for _, ch := range names {
			rp := &Replacement{Layer: layer, Channel: ch, Region: region, Parameter: r.Paths.Channel(layer, ch), From: held[ch]}
			r.decide(rp, imgs, fingerprint, newAMIs)
			out = append(out, rp)
		}
	}
	return out, nil
}

func (r *Replacer) decide(rp *Replacement, imgs map[string]lineage.Image, fingerprint string, newAMIs map[string]string) {
	img, found := imgs[rp.From]
	to := newAMIs[rp.Region]
	switch {
	case rp.From == "":
		rp.Status, rp.Reason = ReplaceNotSet, "no parameter: nothing to replace"
	case newAMIs != nil && rp.From == to:
		rp.Status, rp.To = ReplaceCurrent, to
	case !found:
		rp.Status, rp.Reason = ReplaceGone, rp.From+" no longer exists in "+rp.Region
	case img.IsRevoked():
		rp.Status, rp.Reason = ReplaceRevoked, fmt.Sprintf("%s is revoked (%s): promote a good AMI by hand", rp.From, img.Revoked)
	case img.Fingerprint != fingerprint || (img.Layer != "" && img.Layer != rp.Layer):
		rp.Status, rp.Reason = ReplaceOtherContent, fmt.Sprintf("%s has other content (fingerprint %s, the rebake's is %s): not replaced by a patch rebake",
			rp.From, short(img.Fingerprint), short(fingerprint))
	case newAMIs == nil:
		rp.Status, rp.Reason, rp.fromLevel = ReplaceWouldMove, "patch-drift: would replace "+rp.From+" (same fingerprint)", img.PatchLevel
	case to == "":
		rp.Status, rp.Reason = ReplaceNoCopy, "the rebake has no AMI in "+rp.Region
	default:
		rp.Status, rp.To, rp.fromLevel = ReplaceWouldMove, to, img.PatchLevel
		rp.Reason = "patch-drift: replaces " + rp.From
	}
}

func short(fp string) string {
	if fp == "" {
		return "none"
	}
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

// channels reads the layer's channel parameters in region, by channel.
func (r *Replacer) channels(ctx context.Context, region, layer string) (map[string]Value, error) {
	root := r.Paths.LayersRoot() + "/" + layer
	out := map[string]Value{}
	p := ssm.NewGetParametersByPathPaginator(r.SSMFor(region), &ssm.GetParametersByPathInput{
		Path: aws.String(root), MaxResults: aws.Int32(10)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s in %s: %w", root, region, err)
		}
		for _, prm := range page.Parameters {
			name := aws.ToString(prm.Name)
			l, ch, ok := r.Paths.ParseChannel(name)
			if ok && l == layer {
				out[ch] = Value{Name: name, AMI: aws.ToString(prm.Value), Version: prm.Version, Modified: aws.ToTime(prm.LastModifiedDate)}
			}
		}
	}
	return out, nil
}

// LeftBehind plans the moves an earlier patch run did not make: it
// published a patch rebake on latest and stopped (killed, lost machine)
// before moving the layer's other channels. In each region whose latest
// holds an available, non-revoked AMI with a patch level, a channel moves
// to it (status would-move; Apply makes the moves) when it holds an older,
// non-revoked AMI of the same fingerprint at another patch level and was
// last written before latest was: a channel an operator set after latest
// moved (say, back to the previous patch level) is theirs and stays. Only
// the channels that would move are returned.
func (r *Replacer) LeftBehind(ctx context.Context, layer string) ([]*Replacement, error) {
	var out []*Replacement
	for _, region := range r.Regions {
		params, err := r.channels(ctx, region, layer)
		if err != nil {
			return nil, fmt.Errorf("channels of %s: %w", layer, err)
		}
		latest, ok := params[lineage.ChannelLatest]
		if !ok || len(params) < 2 {
			continue
		}
		ids := []string{}
		for _, v := range params {
			ids = append(ids, v.AMI)
		}
		imgs, err := lineage.DescribeIDs(ctx, r.EC2For(region), region, ids)
		if err != nil {
			return nil, fmt.Errorf("channels of %s: %w", layer, err)
		}
		cur, ok := imgs[latest.AMI]
		if !ok || cur.IsRevoked() || cur.State != lineage.StateAvailable || cur.PatchLevel == "" || cur.Fingerprint == "" {
			continue
		}
		names := make([]string, 0, len(params))
		for ch := range params {
			names = append(names, ch)
		}
		sort.Strings(names)
		for _, ch := range names {
			v := params[ch]
			img, found := imgs[v.AMI]
			if ch == lineage.ChannelLatest || !found || v.AMI == cur.ID || img.IsRevoked() ||
				img.Fingerprint != cur.Fingerprint || img.PatchLevel == cur.PatchLevel ||
				img.CreationDate >= cur.CreationDate || !v.Modified.Before(latest.Modified) {
				continue
			}
			out = append(out, &Replacement{Layer: layer, Channel: ch, Region: region, Parameter: v.Name, From: v.AMI, To: cur.ID,
				Status: ReplaceWouldMove, Reason: "patch-drift: replaces " + v.AMI + " (left behind: latest moved to " + cur.ID + " first)",
				fromLevel: img.PatchLevel, toLevel: cur.PatchLevel})
		}
	}
	return out, nil
}

// Apply moves every planned channel (status would-move) to its new AMI,
// all or nothing for the layer across its regions: when one write fails,
// the channels already moved are put back (a new version saying so) and
// every move reports not-moved. patchLevel is the new AMI's
// amibake:patch-level, recorded in each moved version's description (the
// channel's history says why it moved); no label is set, since labelled
// versions are kept from retire forever.
func (r *Replacer) Apply(ctx context.Context, moves []*Replacement, patchLevel string) error {
	var done []*Replacement
	for _, m := range moves {
		if m.Status != ReplaceWouldMove || m.To == "" {
			continue
		}
		level := patchLevel
		if m.toLevel != "" {
			level = m.toLevel
		}
		desc := fmt.Sprintf("amibake patch run %s: patch-drift: replaces %s (same fingerprint; patch level %s → %s)",
			r.RunID, m.From, orNone(m.fromLevel), orNone(level))
		v, err := r.put(ctx, m.Region, m.Parameter, m.To, desc)
		if err != nil {
			err = fmt.Errorf("move %s in %s to %s: %w", m.Parameter, m.Region, m.To, err)
			return errors.Join(err, r.undo(ctx, done, moves, err))
		}
		m.Status, m.Version = ReplaceMoved, v
		done = append(done, m)
	}
	return nil
}

// undo puts the moved channels back; the context outlives an interrupt so
// that a half-moved layer is not left behind.
func (r *Replacer) undo(ctx context.Context, done, moves []*Replacement, cause error) error {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var errs []error
	for _, m := range done {
		desc := fmt.Sprintf("amibake patch run %s: undo of the patch-drift move to %s (another channel of the layer could not move)", r.RunID, m.To)
		if _, err := r.put(uctx, m.Region, m.Parameter, m.From, desc); err != nil {
			errs = append(errs, fmt.Errorf("put %s back to %s: %w", m.Parameter, m.From, err))
			m.Reason = "moved, and putting it back failed: " + err.Error()
			continue
		}
		m.Status, m.Version = ReplaceNotMoved, 0
		m.Reason = "put back: " + cause.Error()
	}
	for _, m := range moves {
		if m.Status == ReplaceWouldMove {
			m.Status, m.Reason = ReplaceNotMoved, cause.Error()
		}
	}
	return errors.Join(errs...)
}

func (r *Replacer) put(ctx context.Context, region, name, ami, desc string) (int64, error) {
	out, err := r.SSMFor(region).PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(ami), Type: ssmtypes.ParameterTypeString,
		DataType: aws.String(DataType), Overwrite: aws.Bool(true), Description: aws.String(desc),
	})
	if err != nil {
		return 0, err
	}
	return out.Version, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
