package rollout

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/lineage"
)

// rolloutUnfinished: v, the version a group runs, was made by a rollout of
// fleet to target and is not the template's default: the rollout died
// (kill -9, a lost machine) after its refresh and before finish moved the
// default, pruned the old versions and retired the replaced AMI. The
// refresh went on in AWS without it, so the group looks up to date; only
// the default version tells (found by the crash harness, issue 9).
//
// def is the template's default: when the same rollout made it too (groups
// on different versions of one template each get their own version, and
// only one of them can be the default), the rollout did finish.
func rolloutUnfinished(fleet, target string, v, def *ec2types.LaunchTemplateVersion) bool {
	if v == nil || aws.ToBool(v.DefaultVersion) {
		return false
	}
	_, defOurs := rolloutFrom(fleet, target, def)
	_, ours := rolloutFrom(fleet, target, v)
	return ours && !defOurs
}

// rolloutFrom: v was made by a rollout of fleet to target, which replaced
// from.
func rolloutFrom(fleet, target string, v *ec2types.LaunchTemplateVersion) (from string, ok bool) {
	if v == nil {
		return "", false
	}
	f, from, to, _, ok := parseDescription(aws.ToString(v.VersionDescription))
	if !ok || f != fleet || to != target || from == to {
		return "", false
	}
	return from, true
}

// rolloutReplaced: v, the version a group runs, is the template's default
// and was made by a rollout of fleet to target, so that rollout's finish
// moved the default. It returns the AMI the rollout replaced: a run killed
// right after the default moved left the old versions and that AMI behind
// (the prune and the retire come after), and only they tell.
func rolloutReplaced(fleet, target string, v *ec2types.LaunchTemplateVersion) (string, bool) {
	if v == nil || !aws.ToBool(v.DefaultVersion) {
		return "", false
	}
	return rolloutFrom(fleet, target, v)
}

// prunable are the versions a prune deletes, newest first: of those older
// than the rollout's version, all but the newest keep-1 (the rollout's
// version, the default, is one of the keep), never one in use. A version
// newer than the rollout's was made by someone else since: it stays.
func prunable(versions []int64, toVersion int64, keep int, inUse map[int64]bool) []int64 {
	var older []int64
	for _, v := range versions {
		if v < toVersion {
			older = append(older, v)
		}
	}
	sort.Slice(older, func(i, j int) bool { return older[i] > older[j] })
	var drop []int64
	for i, v := range older {
		if i+1 < keep || inUse[v] {
			continue
		}
		drop = append(drop, v)
	}
	return drop
}

// layerBuild is one build of the fleet's layer: its copies in every
// region, as retire groups them.
type layerBuild struct {
	home    string // the build region's AMI
	created time.Time
	copies  []lineage.Image
}

// retirePending tells, for each AMI a finished rollout replaced, whether
// the retire of finish is still to do: the AMI's build is not among the
// newest retire.keep of the layer (what retire keeps) and a copy of it is
// not deprecated yet. One DescribeImages of the layer per project region,
// instead of retire's sweep of the whole project: a re-run with nothing to
// do stays cheap. An AMI retire keeps for another reason (in use by
// another fleet) reads as pending; finish's retire then keeps it again
// and the run reports nothing done.
func (rc *Context) retirePending(ctx context.Context, amis []string) (map[string]bool, error) {
	rt := rc.Retirer
	builds := map[string]*layerBuild{}
	byAMI := map[string]*layerBuild{}
	for i, region := range rt.Regions {
		imgs, err := lineage.DescribeFilter(ctx, rt.EC2(region), region, []string{"self"}, []ec2types.Filter{
			lineage.TagFilter(lineage.TagProject, rt.Paths.Project), lineage.TagFilter(lineage.TagLayer, rc.Fleet.Layer)})
		if err != nil {
			return nil, fmt.Errorf("rollout %s: the builds of layer %s: %w", rc.Fleet.Name, rc.Fleet.Layer, err)
		}
		for _, img := range imgs {
			key := img.BuildID
			if key == "" {
				key = "id:" + img.ID
			}
			b := builds[key]
			if b == nil {
				b = &layerBuild{}
				builds[key] = b
			}
			created, _ := time.Parse(time.RFC3339, img.CreationDate)
			if i == 0 {
				b.home, b.created = img.ID, created
			} else if b.created.IsZero() || (b.home == "" && created.Before(b.created)) {
				b.created = created
			}
			b.copies = append(b.copies, img)
			byAMI[img.ID] = b
		}
	}
	sorted := make([]*layerBuild, 0, len(builds))
	for _, b := range builds {
		if b.home == "" {
			b.home = b.copies[0].ID
		}
		sorted = append(sorted, b)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if !sorted[i].created.Equal(sorted[j].created) {
			return sorted[i].created.After(sorted[j].created)
		}
		return sorted[i].home < sorted[j].home
	})
	keep := max(rc.Fleet.Retire.Keep, 1)
	kept := map[*layerBuild]bool{}
	rank := 0
	for _, b := range sorted {
		if b.usable() {
			rank++
			kept[b] = rank <= keep
		}
	}
	// EC2 rounds a deprecation time to the minute: one a minute ahead is
	// the retire's own.
	soon := rc.Now().Add(time.Minute)
	out := map[string]bool{}
	for _, ami := range amis {
		b := byAMI[ami]
		if b == nil || kept[b] {
			continue // gone (deregistered), or among the newest retire keeps
		}
		for _, c := range b.copies {
			if t, err := time.Parse(time.RFC3339, c.DeprecationTime); err != nil || t.After(soon) || !b.usable() {
				out[ami] = true
			}
		}
	}
	return out, nil
}

// usable: every copy can launch (retire counts only these towards the
// newest N, and deregisters the others at once).
func (b *layerBuild) usable() bool {
	for _, c := range b.copies {
		if c.State != "available" && c.State != "pending" {
			return false
		}
	}
	return len(b.copies) > 0
}
