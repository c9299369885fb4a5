package bake_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/bake/automationtest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

const shareAccount = "111122223333"

// twoRegions is the automation project in us-east-1 and eu-west-1, shared
// with one account.
func twoRegions() map[string]string {
	files := automationtest.WithRegions(automationtest.Files(), automationtest.Region, automationtest.CopyRegion)
	files["amibake.hcl"] = strings.Replace(files["amibake.hcl"], `default_tags = { team = "platform" }`,
		`default_tags = { team = "platform" }
  share_with   = { accounts = ["`+shareAccount+`"] }
  kms_key_id   = "alias/patchy-ami"`, 1)
	return files
}

func imageIn(t *testing.T, w *world, region, id string) (ec2types.Image, map[string]string) {
	t.Helper()
	out, err := w.clients.EC2(region).DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, out.Images, 1)
	tags := map[string]string{}
	for _, tg := range out.Images[0].Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return out.Images[0], tags
}

func launchUsers(t *testing.T, w *world, region, id string) []string {
	t.Helper()
	out, err := w.clients.EC2(region).DescribeImageAttribute(context.Background(), &ec2.DescribeImageAttributeInput{
		ImageId: aws.String(id), Attribute: ec2types.ImageAttributeNameLaunchPermission})
	require.NoError(t, err)
	var users []string
	for _, p := range out.LaunchPermissions {
		users = append(users, aws.ToString(p.UserId))
	}
	return users
}

// On a two-region project the rebaked AMI is copied to the other region
// with the same name and tags (on the copy and its snapshots), shared as
// the project says, and latest moves once both are available. A re-run
// (a run that died after the copy started) adopts both: no second
// execution, no second copy.
func TestAutomationCopiesToEveryRegion(t *testing.T) {
	w := newWorldWith(t, twoRegions())
	ctx := context.Background()
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Severity: "Critical"})
	require.NoError(t, err)

	b, p := w.baker(t, "b-multi1")
	results, err := b.Run(ctx, p)
	require.NoError(t, err)
	r := results[0]
	require.Equal(t, bake.StatusBuilt, r.Status, "%v", r.Err)
	home, cp := r.AMI[automationtest.Region], r.AMI[automationtest.CopyRegion]
	require.NotEmpty(t, home)
	require.NotEmpty(t, cp)
	assert.Equal(t, home, w.latest(t, "linux"), "latest (build region) → the rebaked AMI")
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ec2", "CopyImage"))

	homeImg, homeTags := imageIn(t, w, automationtest.Region, home)
	copyImg, copyTags := imageIn(t, w, automationtest.CopyRegion, cp)
	assert.Equal(t, ec2types.ImageStateAvailable, copyImg.State)
	assert.Equal(t, aws.ToString(homeImg.Name), aws.ToString(copyImg.Name))
	assert.Equal(t, homeTags, copyTags, "a copy carries the build's tags, as packer's copies do")
	assert.Equal(t, r.PatchLevel, copyTags[lineage.TagPatchLevel])
	assert.Equal(t, r.BuildID, copyTags[lineage.TagBuildID])
	snaps, err := w.clients.EC2(automationtest.CopyRegion).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{
		SnapshotIds: []string{aws.ToString(copyImg.BlockDeviceMappings[0].Ebs.SnapshotId)}})
	require.NoError(t, err)
	require.Len(t, snaps.Snapshots, 1)
	assert.Contains(t, snaps.Snapshots[0].Tags, ec2types.Tag{Key: aws.String(lineage.TagFingerprint), Value: aws.String(copyTags[lineage.TagFingerprint])})
	require.NotEmpty(t, copyImg.BlockDeviceMappings)
	assert.True(t, aws.ToBool(copyImg.BlockDeviceMappings[0].Ebs.Encrypted), "the layer's volumes are encrypted")
	assert.Equal(t, "alias/patchy-ami", aws.ToString(copyImg.BlockDeviceMappings[0].Ebs.KmsKeyId), "with the project's key alias in that region")
	assert.Equal(t, []string{shareAccount}, launchUsers(t, w, automationtest.Region, home))
	assert.Equal(t, []string{shareAccount}, launchUsers(t, w, automationtest.CopyRegion, cp))
	content, ok := w.sb.ContentOf(cp)
	require.True(t, ok)
	homeContent, _ := w.sb.ContentOf(home)
	assert.Equal(t, homeContent.Packages["openssl"], content.Packages["openssl"], "the copy is the patched image")

	b2, p2 := w.baker(t, "b-multi2")
	results, err = b2.Run(ctx, p2)
	require.NoError(t, err)
	require.Equal(t, bake.StatusBuilt, results[0].Status, "%v", results[0].Err)
	assert.Equal(t, map[string]string{automationtest.Region: home, automationtest.CopyRegion: cp}, results[0].AMI)
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "StartAutomationExecution"), "adopted, not rebaked")
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ec2", "CopyImage"), "the copy adopted, not copied again")
}

// A copy that fails keeps latest where it was: all regions or none. The
// next run deregisters the failed copy and copies again.
func TestAutomationFailedCopyPublishesNothing(t *testing.T) {
	timing := sandbox.ZeroTiming()
	timing.ImageCopy = time.Hour // pending until the test fails it
	w := newWorldWith(t, twoRegions(), func(o *sandbox.Options) { o.Timing = &timing })
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Severity: "Critical"})
	require.NoError(t, err)
	go func() {
		for w.sb.CountFirstAttempts("ec2", "CopyImage") < 1 {
			time.Sleep(time.Millisecond)
		}
		var id string
		w.sb.Do(func(wd *sandbox.World) {
			for _, img := range wd.EC2.Images {
				if img.Region == automationtest.CopyRegion && img.SourceImageID != "" && img.State == "pending" {
					id = img.ID
				}
			}
		})
		_ = w.sb.FailImage(id, "Server.InternalError: copy failed")
	}()

	b, p := w.baker(t, "b-copyfail")
	results, err := b.Run(context.Background(), p)
	require.NoError(t, err)
	r := results[0]
	require.Equal(t, bake.StatusFailed, r.Status)
	assert.ErrorContains(t, r.Err, "not published")
	assert.ErrorContains(t, r.Err, "failed")
	assert.False(t, r.Published)
	assert.Equal(t, w.amis["linux"], w.latest(t, "linux"), "latest did not move")

	// The next run adopts the rebaked AMI and copies it again: the failed
	// copy is neither adopted nor returned for a reused ClientToken.
	w.sb.Do(func(wd *sandbox.World) { wd.Timing.ImageCopy = 0 })
	b2, p2 := w.baker(t, "b-copyfail2")
	results, err = b2.Run(context.Background(), p2)
	require.NoError(t, err)
	r2 := results[0]
	require.Equal(t, bake.StatusBuilt, r2.Status, "%v", r2.Err)
	assert.Equal(t, r.AMI[automationtest.Region], r2.AMI[automationtest.Region])
	assert.NotEqual(t, r.AMI[automationtest.CopyRegion], r2.AMI[automationtest.CopyRegion])
	assert.Equal(t, 2, w.sb.CountFirstAttempts("ec2", "CopyImage"))
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ec2", "DeregisterImage"), "the failed copy is cleaned up (it held the name)")
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "StartAutomationExecution"))
	assert.Equal(t, r2.AMI[automationtest.Region], w.latest(t, "linux"))
}

// The crash window between the runbook's createImage and tagImage steps:
// the run is interrupted while the image is being made, so the execution
// is cancelled and the image stays untagged. The next run finds it by its
// name (the build id is the same for the same layer, fingerprint and
// patch level), tags it and publishes it instead of baking again.
func TestAutomationAdoptsUntaggedImageByName(t *testing.T) {
	timing := sandbox.ZeroTiming()
	timing.ImageCreate = time.Hour
	w := newWorld(t, func(o *sandbox.Options) { o.Mode, o.Timing = sandbox.ClockManual, &timing })
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Severity: "Critical"})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pendingImage := func() string {
		var id string
		w.sb.Do(func(wd *sandbox.World) {
			for _, img := range wd.EC2.Images {
				if img.State == "pending" && img.SourceInstanceID != "" {
					id = img.ID
				}
			}
		})
		return id
	}
	go func() {
		for pendingImage() == "" {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	b, p := w.baker(t, "b-crash1")
	results, err := b.Run(ctx, p)
	require.NoError(t, err)
	require.Equal(t, bake.StatusFailed, results[0].Status)
	made := pendingImage()
	require.NotEmpty(t, made)
	_, tags := w.image(t, made)
	assert.Empty(t, tags[lineage.TagFingerprint], "the tagImage step never ran")
	assert.Empty(t, w.liveBuildInstances(t))

	w.sb.Clock().Advance(time.Hour) // the image finishes without its execution
	b2, p2 := w.baker(t, "b-crash2")
	results, err = b2.Run(context.Background(), p2)
	require.NoError(t, err)
	r := results[0]
	require.Equal(t, bake.StatusBuilt, r.Status, "%v", r.Err)
	assert.Equal(t, made, r.AMI[automationtest.Region], "adopted by name")
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "StartAutomationExecution"), "not baked again")
	assert.Equal(t, made, w.latest(t, "linux"))
	img, tags := w.image(t, made)
	assert.Equal(t, r.PatchLevel, tags[lineage.TagPatchLevel])
	assert.Equal(t, r.BuildID, tags[lineage.TagBuildID])
	assert.NotEmpty(t, tags[lineage.TagFingerprint])
	assert.Equal(t, aws.ToString(img.Name), tags["Name"])
	assert.Equal(t, bake.RebakeImageName(automationtest.Project, r.BuildID), aws.ToString(img.Name))
}

// A failed execution does not block the next run's attempt at the same
// rebake: its ClientToken is the run's, not just the (deterministic) build
// id's, so a new execution starts.
func TestAutomationRetriesAfterFailedExecution(t *testing.T) {
	w := newWorld(t)
	w.sb.Do(func(wd *sandbox.World) { wd.SSM.RequireInstanceProfile = true })
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Severity: "Critical"})
	require.NoError(t, err)
	b, p := w.baker(t, "b-retry1")
	results, err := b.Run(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, bake.StatusFailed, results[0].Status)

	w.sb.Do(func(wd *sandbox.World) { wd.SSM.RequireInstanceProfile = false })
	b2, p2 := w.baker(t, "b-retry2")
	results, err = b2.Run(context.Background(), p2)
	require.NoError(t, err)
	require.Equal(t, bake.StatusBuilt, results[0].Status, "%v", results[0].Err)
	assert.Equal(t, 2, w.sb.CountFirstAttempts("ssm", "StartAutomationExecution"))
	assert.Equal(t, results[0].AMI[automationtest.Region], w.latest(t, "linux"))
}

// An image that failed while the runbook made it holds the rebake's name:
// the next run deregisters it and runs the runbook again under that name.
func TestAutomationReplacesFailedImage(t *testing.T) {
	timing := sandbox.ZeroTiming()
	timing.ImageCreate = time.Hour
	w := newWorld(t, func(o *sandbox.Options) { o.Timing = &timing })
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Severity: "Critical"})
	require.NoError(t, err)
	failedCh := make(chan string, 1)
	go func() {
		var id string
		for id == "" {
			time.Sleep(time.Millisecond)
			w.sb.Do(func(wd *sandbox.World) {
				for _, img := range wd.EC2.Images {
					if img.State == "pending" && img.SourceInstanceID != "" {
						id = img.ID
					}
				}
			})
		}
		_ = w.sb.FailImage(id, "")
		failedCh <- id
	}()
	b, p := w.baker(t, "b-imgfail1")
	results, err := b.Run(context.Background(), p)
	require.NoError(t, err)
	require.Equal(t, bake.StatusFailed, results[0].Status)
	assert.ErrorContains(t, results[0].Err, "createImage")
	failed := <-failedCh

	w.sb.Do(func(wd *sandbox.World) { wd.Timing.ImageCreate = 0 })
	b2, p2 := w.baker(t, "b-imgfail2")
	results, err = b2.Run(context.Background(), p2)
	require.NoError(t, err)
	r := results[0]
	require.Equal(t, bake.StatusBuilt, r.Status, "%v", r.Err)
	assert.NotEqual(t, failed, r.AMI[automationtest.Region])
	assert.Equal(t, bake.RebakeBuildID("linux", p2.Layers[0].Fingerprint, r.PatchLevel), r.BuildID, "the same name, freed")
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ec2", "DeregisterImage"))
	assert.Equal(t, 2, w.sb.CountFirstAttempts("ssm", "StartAutomationExecution"))
}
