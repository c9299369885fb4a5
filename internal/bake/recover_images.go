package bake

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/crashpoint"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
)

// deregisterUnfinished removes the AMIs a build lost with its machine
// left behind: packer creates the AMI from the build instance and copies
// it to the other regions before it tags anything, so an AMI made from an
// orphaned build instance (source-instance-id) without the project tag,
// and its untagged copies (source-image-id), are seen by no plan and
// adopted by no re-run, which builds the same image again: a duplicate
// whose snapshots cost for ever. A tagged AMI is left alone: the plan
// adopts it by its fingerprint. It returns what it deregistered by region.
func deregisterUnfinished(ctx context.Context, clients plan.Clients, cfg *config.Config, region string, instances []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(instances) == 0 {
		return out, nil
	}
	homes, err := untaggedImages(ctx, clients, region, ec2types.Filter{Name: aws.String("source-instance-id"), Values: instances})
	if err != nil {
		return out, fmt.Errorf("AMIs of orphaned build instances in %s: %w", region, err)
	}
	if len(homes) == 0 {
		return out, nil
	}
	// Copies first: a copy in flight needs its source.
	for _, r := range copyRegions(cfg, region) {
		copies, err := untaggedImages(ctx, clients, r,
			ec2types.Filter{Name: aws.String("source-image-id"), Values: homes},
			ec2types.Filter{Name: aws.String("source-image-region"), Values: []string{region}})
		if err != nil {
			return out, fmt.Errorf("copies of %v in %s: %w", homes, r, err)
		}
		for _, id := range copies {
			if err := deregisterWithSnapshots(ctx, clients, r, id); err != nil {
				return out, err
			}
			out[r] = append(out[r], id)
		}
	}
	for _, id := range homes {
		if err := deregisterWithSnapshots(ctx, clients, region, id); err != nil {
			return out, err
		}
		out[region] = append(out[region], id)
	}
	return out, nil
}

// untaggedImages: the account's own images in region matching filters and
// without the project tag (deregistered ones are not listed).
func untaggedImages(ctx context.Context, clients plan.Clients, region string, filters ...ec2types.Filter) ([]string, error) {
	p := ec2.NewDescribeImagesPaginator(clients.EC2(region), &ec2.DescribeImagesInput{
		Owners: []string{"self"}, Filters: filters, IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(1000)})
	var ids []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeImages: %w", err)
		}
		for _, img := range page.Images {
			if !hasTag(&img, lineage.TagProject) {
				ids = append(ids, aws.ToString(img.ImageId))
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func deregisterWithSnapshots(ctx context.Context, clients plan.Clients, region, id string) error {
	if _, err := clients.EC2(region).DeregisterImage(ctx, &ec2.DeregisterImageInput{
		ImageId: aws.String(id), DeleteAssociatedSnapshots: aws.Bool(true)}); err != nil {
		return fmt.Errorf("deregister unfinished AMI %s in %s: %w", id, region, err)
	}
	crashpoint.Hit("bake.unfinished-deregistered")
	return nil
}

// copyRegions: every region a layer of the project copies to, but region.
func copyRegions(cfg *config.Config, region string) []string {
	set := map[string]bool{}
	for _, l := range cfg.Layers {
		for _, r := range plan.Regions(cfg, l) {
			set[r] = r != region
		}
	}
	var out []string
	for r, ok := range set {
		if ok {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}
