package bake

import (
	"context"
	"errors"
	"fmt"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/lineage"
)

// s3Clients is what Baker.Clients offers when the project records
// inventory (*awsapi.Clients does).
type s3Clients interface {
	S3(region string) awsapi.S3
}

// recordInventory turns a build's staged inventory (written by the amibake
// provisioner on the build instance) into the AMI's document and checksum
// tag, then gives each regional copy in amis (region → AMI; region's is
// the AMI itself) a document of its own; the caller publishes only when
// it returns nil. This runs in amibake rather than in the lineage
// post-processor because amibake is what moves the channel when a project
// records inventory (templates render no channels then): the document and
// the channel move are decided in one process, and a bake that adopts an
// unpublished AMI (reuse) finalizes it the same way. Projects without
// inventory_bucket skip it.
//
// adopted is set for an AMI this run did not build: one without any
// inventory (baked before the project recorded inventory) is reported,
// not refused; a build of this run must have staged one.
func (b *Baker) recordInventory(ctx context.Context, layer, region string, amis map[string]string, adopted bool) (string, error) {
	bucket := b.Config.Project.InventoryBucket
	if bucket == "" {
		return "", nil
	}
	ami := amis[region]
	sc, ok := b.Clients.(s3Clients)
	if !ok {
		return "", errors.New("inventory: the AWS clients have no S3")
	}
	img, err := describeTagged(ctx, b.Clients.EC2(region), region, ami)
	if err != nil {
		return "", fmt.Errorf("inventory: %w", err)
	}
	f, err := inventory.Finalize(ctx, sc.S3(region), b.Clients.EC2(region), bucket, b.Config.Project.Name, img)
	var ns *inventory.NoStagingError
	switch {
	case errors.As(err, &ns) && adopted:
		b.message(layer, "warning: %v; it is published without one (rebake it to record one)", err)
		return "", nil
	case err != nil:
		return "", fmt.Errorf("inventory of %s: %w", ami, err)
	}
	if f.StagingErr != nil {
		b.message(layer, "warning: %v", f.StagingErr)
	}
	if f.Kept {
		b.message(layer, "inventory %s (already recorded)", f.URL)
	} else {
		b.message(layer, "inventory %s (sha256 %.12s…)", f.URL, f.SHA256)
	}
	for _, r := range sortedRegions(amis) {
		if r == region || amis[r] == "" {
			continue
		}
		cp, err := describeTagged(ctx, b.Clients.EC2(r), r, amis[r])
		if err != nil {
			return "", fmt.Errorf("inventory of copy: %w", err)
		}
		// The bucket is written through the build region's client, as the
		// source's document is.
		cf, err := inventory.RecordCopy(ctx, sc.S3(region), b.Clients.EC2(r), bucket, b.Config.Project.Name, f.Doc, cp)
		if err != nil {
			return "", fmt.Errorf("inventory of %s in %s: %w", amis[r], r, err)
		}
		if !cf.Kept {
			b.message(layer, "%s: inventory %s (copy of %s)", r, cf.URL, ami)
		}
	}
	return f.URL, nil
}

// describeTagged describes one AMI with its tags.
func describeTagged(ctx context.Context, client awsapi.EC2, region, ami string) (lineage.Image, error) {
	imgs, err := lineage.DescribeIDs(ctx, client, region, []string{ami})
	if err != nil {
		return lineage.Image{}, fmt.Errorf("describe %s in %s: %w", ami, region, err)
	}
	img, ok := imgs[ami]
	if !ok {
		return lineage.Image{}, fmt.Errorf("AMI %s not found in %s", ami, region)
	}
	return img, nil
}
