package run

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
)

// adoptRebakes turns the patch-drift builds of p into reuses of the AMIs
// an earlier patch run rebaked and died before publishing (kill -9, a lost
// machine: its orphaned packer finished, or the run stopped before
// Verify). Such an AMI has the layer's fingerprint and the patch level the
// rebake would tag, so rebaking again made a duplicate (found by the crash
// harness, issue 9). It is adopted only when it is not revoked (a failed
// Verify revokes), its copies exist in every region of the layer, and it
// was built on the AMI its parent has in this run (or on the same
// source); the bake then verifies it before it publishes it
// (bake.Baker.reuse). full is the unnarrowed plan: the AMIs of layers p
// leaves out. It returns the layers adopted.
func adoptRebakes(ctx context.Context, clients plan.Clients, cfg *config.Config, g *graph.Graph, full, p *plan.Plan,
	level func(ctx context.Context, layer string) (string, error)) ([]string, error) {
	planned := map[string]*plan.Layer{}
	for _, pl := range full.Layers {
		planned[pl.Layer] = pl
	}
	for _, pl := range p.Layers {
		planned[pl.Layer] = pl
	}
	// home is the AMI each layer has in its build region in this run; ""
	// for a layer rebuilt (not known before its build).
	home := map[string]string{}
	var adopted []string
	for _, n := range g.Topo() {
		name := n.Name()
		pl := planned[name]
		if pl == nil {
			continue
		}
		if pl.Action != plan.ActionBuild {
			home[name] = pl.AMI[pl.Region]
			continue
		}
		if pl.Reason != plan.ReasonPatchDrift {
			continue
		}
		want, err := level(ctx, name)
		if err != nil {
			return adopted, fmt.Errorf("patch level of %s: %w", name, err)
		}
		if want == "" {
			continue
		}
		filters := []ec2types.Filter{
			lineage.TagFilter(lineage.TagProject, cfg.Project.Name), lineage.TagFilter(lineage.TagLayer, name),
			lineage.TagFilter(lineage.TagFingerprint, pl.Fingerprint), lineage.TagFilter(lineage.TagPatchLevel, want),
		}
		switch {
		case n.Parent != nil && home[n.Parent.Name()] == "":
			continue // the parent is rebuilt: no earlier rebake was built on it
		case n.Parent != nil:
			filters = append(filters, lineage.TagFilter(lineage.TagParentAMI, home[n.Parent.Name()]))
		case pl.SourceAMI != "":
			filters = append(filters, lineage.TagFilter(lineage.TagSource, pl.SourceAMI))
		}
		amis, state, err := findRebake(ctx, clients, plan.Regions(cfg, n.Layer), filters)
		if err != nil {
			return adopted, fmt.Errorf("earlier rebakes of %s: %w", name, err)
		}
		if amis == nil {
			continue
		}
		pl.Action, pl.AMI, pl.State, pl.Publish, pl.MissingRegions = plan.ActionReuse, amis, state, true, nil
		pl.Detail = fmt.Sprintf("adopting %s, rebaked to %s by an earlier patch run that did not publish it; %s", amis[pl.Region], want, pl.Detail)
		home[name] = amis[pl.Region]
		adopted = append(adopted, name)
	}
	return adopted, nil
}

// findRebake: the newest usable AMI matching filters in the build region
// (regions[0]) and its copies (same build id) in the other regions; nil
// when there is none or a region lacks its copy.
func findRebake(ctx context.Context, clients plan.Clients, regions []string, filters []ec2types.Filter) (map[string]string, string, error) {
	pick := func(region string, filters []ec2types.Filter) (*ec2types.Image, error) {
		out, err := clients.EC2(region).DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: append(filters,
			ec2types.Filter{Name: aws.String("state"), Values: []string{plan.StateAvailable, plan.StatePending}})})
		if err != nil {
			return nil, fmt.Errorf("DescribeImages in %s: %w", region, err)
		}
		var best *ec2types.Image
		for i, img := range out.Images {
			revoked := false
			for _, tg := range img.Tags {
				revoked = revoked || aws.ToString(tg.Key) == lineage.TagRevoked
			}
			if !revoked && (best == nil || aws.ToString(img.CreationDate) > aws.ToString(best.CreationDate)) {
				best = &out.Images[i]
			}
		}
		return best, nil
	}
	img, err := pick(regions[0], filters)
	if err != nil || img == nil {
		return nil, "", err
	}
	buildID := ""
	for _, tg := range img.Tags {
		if aws.ToString(tg.Key) == lineage.TagBuildID {
			buildID = aws.ToString(tg.Value)
		}
	}
	if buildID == "" {
		return nil, "", nil
	}
	amis := map[string]string{regions[0]: aws.ToString(img.ImageId)}
	for _, r := range regions[1:] {
		c, err := pick(r, []ec2types.Filter{lineage.TagFilter(lineage.TagBuildID, buildID)})
		if err != nil {
			return nil, "", err
		}
		if c == nil {
			return nil, "", nil
		}
		amis[r] = aws.ToString(c.ImageId)
	}
	return amis, string(img.State), nil
}
