package sandbox

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/require"
)

// ec2IndexSandbox seeds n images in us-east-1 tagged color=red (even) or
// blue (odd), and n/10 red ones in eu-west-1, on a manual clock.
func ec2IndexSandbox(t *testing.T, n int) (*Sandbox, []string) {
	t.Helper()
	sb := ec2ManualSandbox(t)
	var ids []string
	sb.Do(func(w *World) {
		now := sb.Clock().Now()
		var imgs []BenchImage
		for i := 0; i < n; i++ {
			color := "red"
			if i%2 == 1 {
				color = "blue"
			}
			imgs = append(imgs, BenchImage{Region: "us-east-1", Name: fmt.Sprintf("img-%05d", i), Tags: Tags{"color": color, "n": fmt.Sprint(i)}})
		}
		for i := 0; i < n/10; i++ {
			imgs = append(imgs, BenchImage{Region: "eu-west-1", Name: fmt.Sprintf("eu-%05d", i), Tags: Tags{"color": "red"}})
		}
		var err error
		ids, err = w.AddBenchImages(DefaultAccount, now, imgs)
		require.NoError(t, err)
	})
	return sb, ids[:n]
}

// ec2DescribeAll pages through DescribeImages with filters (self, 1000 a page).
func ec2DescribeAll(t *testing.T, c *ec2.Client, filters ...types.Filter) []string {
	t.Helper()
	var out []string
	p := ec2.NewDescribeImagesPaginator(c, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, img := range page.Images {
			out = append(out, aws.ToString(img.ImageId))
		}
	}
	return out
}

func tagFilter(key string, values ...string) types.Filter {
	return types.Filter{Name: aws.String("tag:" + key), Values: values}
}

func TestEC2ImageIndexPagesTagFilter(t *testing.T) {
	sb, ids := ec2IndexSandbox(t, 2500)
	c := ec2Client(sb)
	var red []string
	for i, id := range ids {
		if i%2 == 0 {
			red = append(red, id)
		}
	}
	sort.Strings(red)
	got := ec2DescribeAll(t, c, tagFilter("color", "red"))
	require.Equal(t, red, got, "every red image of us-east-1, once, in id order, none of eu-west-1's")
	require.Equal(t, 2, sb.CountFirstAttempts("ec2", "DescribeImages"), "1250 images: two pages of 1000")

	// A second literal filter narrows; a wildcard one is applied, not indexed.
	got = ec2DescribeAll(t, c, tagFilter("color", "red", "blue"), tagFilter("n", "0", "1", "2", "3"))
	want := append([]string(nil), ids[:4]...)
	sort.Strings(want)
	require.Equal(t, want, got)
	got = ec2DescribeAll(t, c, tagFilter("color", "r*"), tagFilter("n", "1", "2"))
	require.Equal(t, []string{ids[2]}, got)
	got = ec2DescribeAll(t, c, types.Filter{Name: aws.String("image-id"), Values: []string{ids[7], ids[8], "ami-00000000000000000"}}, tagFilter("color", "blue"))
	require.Equal(t, []string{ids[7]}, got)
}

// Every kind of write shows in the next filtered read: CreateTags,
// DeleteTags, a delayed tag write landing in a tick, a change through Do,
// a new image, a deregistration.
func TestEC2ImageIndexFollowsWrites(t *testing.T) {
	sb, ids := ec2IndexSandbox(t, 40)
	c := ec2Client(sb)
	green := func() []string { return ec2DescribeAll(t, c, tagFilter("color", "green")) }
	require.Empty(t, green())

	_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{ids[3]}, Tags: []types.Tag{{Key: aws.String("color"), Value: aws.String("green")}}})
	require.NoError(t, err)
	require.Equal(t, []string{ids[3]}, green())
	require.NotContains(t, ec2DescribeAll(t, c, tagFilter("color", "blue")), ids[3], "the old value's bucket lets go")

	_, err = c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{ids[3]}, Tags: []types.Tag{{Key: aws.String("color")}}})
	require.NoError(t, err)
	require.Empty(t, green())

	// Eventual consistency: the tag lands in a tick, during a read.
	sb.SetFaults(FaultRule{Service: "ec2", Action: "CreateTags", InvisibleFor: Duration{time.Minute}})
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{ids[5]}, Tags: []types.Tag{{Key: aws.String("color"), Value: aws.String("green")}}})
	require.NoError(t, err)
	sb.SetFaults()
	require.Empty(t, green())
	sb.Clock().Advance(2 * time.Minute) // no Do: only the read's tick applies it
	require.Equal(t, []string{ids[5]}, green())

	sb.Do(func(w *World) { w.EC2.Images[ids[6]].Tags["color"] = "green" })
	require.ElementsMatch(t, []string{ids[5], ids[6]}, green())

	var added string
	sb.Do(func(w *World) {
		got, err := w.AddBenchImages(DefaultAccount, sb.Clock().Now(), []BenchImage{{Region: "us-east-1", Name: "late", Tags: Tags{"color": "green"}}})
		require.NoError(t, err)
		added = got[0]
	})
	require.ElementsMatch(t, []string{ids[5], ids[6], added}, green())

	_, err = c.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(ids[6])})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{ids[5], added}, green())
}

// A filtered read looks at the images of its most selective literal
// filter, not at the region's: what makes 50,000 AMIs cheap (issue 8).
func TestEC2ImageCandidatesAreTheMatches(t *testing.T) {
	w := NewWorld(1, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	var imgs []BenchImage
	for i := 0; i < 5000; i++ {
		imgs = append(imgs, BenchImage{Region: "us-east-1", Name: fmt.Sprintf("i-%d", i), Tags: Tags{"fp": fmt.Sprintf("fp-%d", i%500), "project": "p"}})
	}
	_, err := w.AddBenchImages(DefaultAccount, time.Now(), imgs)
	require.NoError(t, err)
	ms, e := ec2CompileImageFilters([]ec2Filter{{Name: "tag:project", Values: []string{"p"}}, {Name: "tag:fp", Values: []string{"fp-1", "fp-2", "fp-3"}}})
	require.Nil(t, e)
	cands := ec2ImageCandidates(w.EC2, "us-east-1", ms)
	require.Len(t, cands, 30, "the fingerprints' 30 images, not the project's 5000")
	require.True(t, sort.SliceIsSorted(cands, func(i, j int) bool { return cands[i].ID < cands[j].ID }))
	for _, img := range cands {
		require.Contains(t, []string{"fp-1", "fp-2", "fp-3"}, img.Tags["fp"])
	}
	require.Empty(t, ec2ImageCandidates(w.EC2, "eu-west-1", ms))

	x := w.EC2.imageIndex()
	require.Same(t, x, w.EC2.imageIndex(), "reused while nothing changed")
	w.EC2.touch()
	require.NotSame(t, x, w.EC2.imageIndex(), "rebuilt after a write")
}

// The ticker looks at pending images and snapshots only, and walks the
// world again only after a write.
func TestEC2TickWalksPendingOnly(t *testing.T) {
	sb, ids := ec2IndexSandbox(t, 100)
	c := ec2Client(sb)
	now := sb.Clock().Now()
	sb.Do(func(w *World) {
		img := w.EC2.Images[ids[0]]
		img.State, img.AvailableAt = ec2ImagePending, now.Add(3*time.Minute)
		snap := w.EC2.Snapshots[img.BlockDevices[0].SnapshotID]
		snap.State, snap.CompleteAt = "pending", now.Add(2*time.Minute)
	})
	state := func() (string, string) {
		out, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{ids[0]}})
		require.NoError(t, err)
		snap, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{aws.ToString(out.Images[0].BlockDeviceMappings[0].Ebs.SnapshotId)}})
		require.NoError(t, err)
		return string(out.Images[0].State), string(snap.Snapshots[0].State)
	}
	img, snap := state()
	require.Equal(t, "pending", img)
	require.Equal(t, "pending", snap)
	sb.mu.Lock()
	p := sb.world.EC2.pendingSet
	require.Len(t, p.img, 1)
	require.Len(t, p.snap, 1)
	sb.mu.Unlock()

	sb.Clock().Advance(5 * time.Minute) // no Do: the reads' ticks move them on
	img, snap = state()
	require.Equal(t, "available", img)
	require.Equal(t, "completed", snap)
	sb.mu.Lock()
	require.Same(t, p, sb.world.EC2.pendingSet, "reads reuse the pending set")
	require.Empty(t, p.img)
	require.Empty(t, p.snap)
	sb.mu.Unlock()

	// An image a ticker adds (as an automation's createImage step does)
	// is found by the next tick, without a write to tell it.
	var added *Image
	sb.addTicker(func(w *World, now time.Time) {
		if added == nil {
			added = &Image{ID: w.NewID("ami"), Account: DefaultAccount, Region: "us-east-1", Name: "from-a-ticker",
				State: ec2ImagePending, StateSince: now, CreationDate: now, AvailableAt: now.Add(time.Minute), Architecture: "x86_64"}
			w.EC2.Images[added.ID] = added
		}
	})
	state()
	sb.Clock().Advance(2 * time.Minute)
	state()
	sb.mu.Lock()
	require.Equal(t, ec2ImageAvailable, added.State)
	sb.mu.Unlock()
}

// The audit (on in these tests) catches an index that missed a write.
func TestEC2ImageIndexAuditCatchesAMissedWrite(t *testing.T) {
	sb, ids := ec2IndexSandbox(t, 20)
	c := ec2Client(sb)
	require.Len(t, ec2DescribeAll(t, c, tagFilter("color", "red")), 10)
	before := len(ec2AuditFailures())
	// A write behind the sandbox's back: no Do, no API call.
	sb.mu.Lock()
	sb.world.EC2.Images[ids[1]].Tags["color"] = "red"
	sb.mu.Unlock()
	once := ec2.NewFromConfig(sb.Config, func(o *ec2.Options) { o.RetryMaxAttempts = 1 })
	_, err := once.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}, Filters: []types.Filter{tagFilter("color", "red")}})
	ec2RequireCode(t, err, "InternalError")
	ec2Audit.Lock()
	require.Len(t, ec2Audit.failures, before+1)
	ec2Audit.failures = ec2Audit.failures[:before] // expected here: not a failure of the run
	ec2Audit.Unlock()
}
