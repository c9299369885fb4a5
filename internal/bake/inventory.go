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
// tag; the caller publishes only when it returns nil. This runs in amibake
// rather than in the lineage post-processor because amibake is what moves
// the channel when a project records inventory (templates render no
// channels then): the document and the channel move are decided in one
// process, and a bake that adopts an unpublished AMI (reuse) finalizes it
// the same way. Projects without inventory_bucket skip it.
//
// adopted is set for an AMI this run did not build: one without any
// inventory (baked before the project recorded inventory) is reported,
// not refused; a build of this run must have staged one.
func (b *Baker) recordInventory(ctx context.Context, layer, region, ami string, adopted bool) (string, error) {
	bucket := b.Config.Project.InventoryBucket
	if bucket == "" {
		return "", nil
	}
	sc, ok := b.Clients.(s3Clients)
	if !ok {
		return "", errors.New("inventory: the AWS clients have no S3")
	}
	imgs, err := lineage.DescribeIDs(ctx, b.Clients.EC2(region), region, []string{ami})
	if err != nil {
		return "", fmt.Errorf("inventory: describe %s: %w", ami, err)
	}
	img, ok := imgs[ami]
	if !ok {
		return "", fmt.Errorf("inventory: AMI %s not found in %s", ami, region)
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
	return f.URL, nil
}
