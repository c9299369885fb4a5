package bake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/lineage"
)

// Regional copies made by amibake itself, where packer's ami_regions did
// not make them: the automation engine's rebakes, and a reused AMI whose
// layer gained a region. A copy is what packer's would be: the same name,
// description and tags (on the copy and its snapshots), the layer's
// launch permissions, and the source's deprecation time.

// copyWaitMissing is how long a copy EC2 does not list yet (eventual
// consistency right after CopyImage) counts as pending, not lost.
const copyWaitMissing = 2 * time.Minute

// copyImages makes sure the available AMI src of home has a copy in each
// of regions and returns them by region, without waiting for them. A copy
// an earlier run made (same project, layer, fingerprint, build id and
// patch level; not revoked; pending or available) is adopted; otherwise
// CopyImage runs with a ClientToken made from the run, the build id, the
// source and the region, so a retried call never makes a second copy,
// while a later run's attempt after a copy failed is not answered with
// that failed copy. The copy is tagged in the CopyImage call itself: no
// untagged copy ever exists that a re-run would not find and adopt.
func (b *Baker) copyImages(ctx context.Context, layer, home string, src *ec2types.Image, regions []string) (map[string]string, error) {
	out := map[string]string{}
	ami := aws.ToString(src.ImageId)
	tags := copyTags(src)
	for _, region := range regions {
		if region == home {
			continue
		}
		id, err := findCopy(ctx, b.Clients.EC2(region), src)
		if err != nil {
			return nil, fmt.Errorf("copy of %s in %s: %w", ami, region, err)
		}
		if id != "" {
			b.message(layer, "%s: adopting copy %s of %s", region, id, ami)
			out[region] = id
			continue
		}
		in := &ec2.CopyImageInput{
			SourceRegion: aws.String(home), SourceImageId: aws.String(ami), Name: src.Name,
			Description: src.Description,
			ClientToken: aws.String(copyToken(b.RunID, imageTag(src, lineage.TagBuildID), ami, region)),
			TagSpecifications: []ec2types.TagSpecification{
				{ResourceType: ec2types.ResourceTypeImage, Tags: tags},
				{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags},
			},
		}
		if enc, kms := b.layerEncryption(layer, region); enc {
			in.Encrypted, in.KmsKeyId = aws.Bool(true), kms
		}
		res, err := b.Clients.EC2(region).CopyImage(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("copy %s from %s to %s: %w", ami, home, region, err)
		}
		id = aws.ToString(res.ImageId)
		b.message(layer, "%s: copying %s → %s", region, ami, id)
		out[region] = id
	}
	return out, nil
}

// copyTags are the tags of a copy: the source's, as packer tags its
// copies with the build's tags — except the inventory checksum, whose
// document describes the home AMI by its id, and AWS's reserved keys.
func copyTags(src *ec2types.Image) []ec2types.Tag {
	var tags []ec2types.Tag
	for _, t := range src.Tags {
		k := aws.ToString(t.Key)
		if k == inventory.TagSHA256 || k == lineage.TagRevoked || strings.HasPrefix(k, "aws:") {
			continue
		}
		tags = append(tags, ec2types.Tag{Key: t.Key, Value: t.Value})
	}
	sort.Slice(tags, func(i, j int) bool { return aws.ToString(tags[i].Key) < aws.ToString(tags[j].Key) })
	return tags
}

// copyToken is CopyImage's ClientToken (at most 64 ASCII characters).
func copyToken(runID, buildID, ami, region string) string {
	s := sha256.Sum256([]byte("amibake-copy\x00" + runID + "\x00" + buildID + "\x00" + ami + "\x00" + region))
	return "amibake-" + hex.EncodeToString(s[:24])
}

// findCopy looks in one region for a copy of src: the same project, layer,
// fingerprint, build id and patch level (the tags every copy of one build
// carries), not revoked, pending or available. The newest wins. A failed
// copy (an earlier attempt's) is deregistered with its snapshots: it is
// of no use, and it holds the AMI name a new copy needs.
func findCopy(ctx context.Context, client awsapi.EC2, src *ec2types.Image) (string, error) {
	filters := []ec2types.Filter{{Name: aws.String("state"), Values: []string{"pending", "available", "failed"}}}
	for _, k := range []string{lineage.TagProject, lineage.TagLayer, lineage.TagFingerprint, lineage.TagBuildID, lineage.TagPatchLevel} {
		if v := imageTag(src, k); v != "" {
			filters = append(filters, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{v}})
		} else if k == lineage.TagProject || k == lineage.TagFingerprint {
			return "", fmt.Errorf("%s has no %s tag: not an amibake image", aws.ToString(src.ImageId), k)
		}
	}
	out, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: filters, IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("DescribeImages: %w", err)
	}
	var best *ec2types.Image
	for i := range out.Images {
		img := &out.Images[i]
		// The lineage must match too: a copy of this very build.
		if imageTag(img, lineage.TagParentAMI) != imageTag(src, lineage.TagParentAMI) || imageTag(img, lineage.TagSource) != imageTag(src, lineage.TagSource) {
			continue
		}
		if img.State == ec2types.ImageStateFailed {
			if _, err := client.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: img.ImageId,
				DeleteAssociatedSnapshots: aws.Bool(true)}); err != nil {
				return "", fmt.Errorf("deregister failed copy %s: %w", aws.ToString(img.ImageId), err)
			}
			continue
		}
		if hasTag(img, lineage.TagRevoked) {
			continue
		}
		if best == nil || aws.ToString(img.CreationDate) > aws.ToString(best.CreationDate) ||
			(aws.ToString(img.CreationDate) == aws.ToString(best.CreationDate) && aws.ToString(img.ImageId) > aws.ToString(best.ImageId)) {
			best = img
		}
	}
	if best == nil {
		return "", nil
	}
	return aws.ToString(best.ImageId), nil
}

// imageTag is the value of an image's tag key ("" when it has none).
func imageTag(img *ec2types.Image, key string) string {
	v, _ := lookupTag(img, key)
	return v
}

// hasTag reports whether an image carries key, whatever its value (an
// empty amibake:revoked still revokes).
func hasTag(img *ec2types.Image, key string) bool {
	_, ok := lookupTag(img, key)
	return ok
}

func lookupTag(img *ec2types.Image, key string) (string, bool) {
	for _, t := range img.Tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value), true
		}
	}
	return "", false
}

// layerConfig is a planned layer's configuration (nil if unknown).
func (b *Baker) layerConfig(layer string) *config.Layer {
	if b.Config == nil {
		return nil
	}
	return b.Config.Layers[layer]
}

// layerEncryption says whether a layer's copies in region are encrypted,
// and with which key: the layer's (or project's) kms_key_id when it names
// a key there — an alias (the same name in every region) or an ARN of
// that region — else the region's default EBS key (nil), as packer's
// copies without region_kms_key_ids.
func (b *Baker) layerEncryption(layer, region string) (bool, *string) {
	l := b.layerConfig(layer)
	if l == nil || !l.Volume.Encrypted {
		return false, nil
	}
	kms := l.KMSKey(b.Config.Project)
	switch {
	case strings.HasPrefix(kms, "alias/"):
		return true, aws.String(kms)
	case strings.HasPrefix(kms, "arn:") && strings.Contains(kms, ":kms:"+region+":"):
		return true, aws.String(kms)
	}
	return true, nil
}

// sharing is the layer's share_with, or the project's.
func (b *Baker) sharing(layer string) config.Sharing {
	if l := b.layerConfig(layer); l != nil {
		return l.Sharing(b.Config.Project)
	}
	return b.Config.Project.ShareWith
}

// finishImages gives available AMIs what packer gives every AMI it makes
// after it is available: the layer's launch permissions (ami_users,
// ami_org_arns, ami_ou_arns) and, when deprecateAt is in the future, its
// deprecation time. Both calls are idempotent, so a re-run repeats them
// safely.
func (b *Baker) finishImages(ctx context.Context, layer string, amis map[string]string, deprecateAt time.Time) error {
	share := b.sharing(layer)
	var perms []ec2types.LaunchPermission
	for _, a := range share.Accounts {
		perms = append(perms, ec2types.LaunchPermission{UserId: aws.String(a)})
	}
	for _, o := range share.Organizations {
		perms = append(perms, ec2types.LaunchPermission{OrganizationArn: aws.String(o)})
	}
	for _, o := range share.OrgUnits {
		perms = append(perms, ec2types.LaunchPermission{OrganizationalUnitArn: aws.String(o)})
	}
	var errs []error
	for _, region := range sortedRegions(amis) {
		client, id := b.Clients.EC2(region), amis[region]
		if len(perms) > 0 {
			if _, err := client.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id),
				LaunchPermission: &ec2types.LaunchPermissionModifications{Add: perms}}); err != nil {
				errs = append(errs, fmt.Errorf("share %s in %s: %w", id, region, err))
				continue
			}
		}
		if !deprecateAt.IsZero() && deprecateAt.After(b.now().Add(time.Minute)) {
			if _, err := client.EnableImageDeprecation(ctx, &ec2.EnableImageDeprecationInput{ImageId: aws.String(id),
				DeprecateAt: aws.Time(deprecateAt)}); err != nil {
				errs = append(errs, fmt.Errorf("deprecate %s in %s at %s: %w", id, region, deprecateAt.Format(time.RFC3339), err))
			}
		}
	}
	return errors.Join(errs...)
}

// deprecationOf is an image's deprecation time (zero when it has none).
func deprecationOf(img *ec2types.Image) time.Time {
	if img == nil || aws.ToString(img.DeprecationTime) == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, aws.ToString(img.DeprecationTime))
	if err != nil {
		return time.Time{}
	}
	return t
}

// copyAndFinish copies home's AMI to regions, waits until every copy
// is available and gives the copies the layer's permissions and the
// source's deprecation time. It returns the copies by region; the caller
// moves the channel only when it returns nil, so a channel never points
// at an AMI one of whose regions has no usable copy (all-or-nothing, as
// the lineage post-processor waits for every copy before it publishes).
func (b *Baker) copyAndFinish(ctx context.Context, layer, home, ami string, regions []string) (map[string]string, error) {
	if len(regions) == 0 {
		return map[string]string{}, nil
	}
	src, err := describeImage(ctx, b.Clients.EC2(home), ami)
	if err != nil {
		return nil, err
	}
	copies, err := b.copyImages(ctx, layer, home, src, regions)
	if err != nil {
		return copies, err
	}
	if len(copies) == 0 {
		return copies, nil
	}
	b.message(layer, "waiting for %d cop%s to be available", len(copies), plural(len(copies), "y", "ies"))
	if err := b.waitImages(ctx, copies, copyWaitMissing); err != nil {
		return copies, err
	}
	if err := b.finishImages(ctx, layer, copies, deprecationOf(src)); err != nil {
		return copies, err
	}
	return copies, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
