package lineage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

func finder(sb *sandbox.Sandbox) *lineage.Finder {
	return &lineage.Finder{EC2: awsapi.NewClients(sb.Config).EC2, Project: channeltest.Project, Regions: channeltest.Regions}
}

func layers(ms []*lineage.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Layer+"@"+m.BuildID)
	}
	return out
}

func TestLineageThreeGenerations(t *testing.T) {
	sb := sandbox.Start(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	// Another project's image built on foundation is not ours.
	channeltest.SeedBuild(t, sb, "other-project", "app-web", "x1", &fam.Foundation, "")

	for _, tc := range []struct {
		name, ami, region string
	}{
		{"build region", fam.Foundation.Home(), ""},
		{"copy, region given", fam.Foundation.IDs["eu-west-1"], "eu-west-1"},
		{"copy, searched", fam.Foundation.IDs["eu-west-1"], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := sb.CountCalls("ec2", "DescribeImages")
			lin, err := finder(sb).Lineage(context.Background(), tc.ami, tc.region)
			require.NoError(t, err)
			calls := sb.CountCalls("ec2", "DescribeImages") - before

			assert.Equal(t, "ami-source", lin.Source)
			require.Len(t, lin.Ancestors, 1)
			assert.Equal(t, fam.Linux.All(), lin.Ancestors[0].IDs(), "linux b1 with its copy")
			assert.Equal(t, fam.Foundation.All(), lin.Target.IDs())
			assert.Equal(t, []string{"base@b1", "app-web@b1", "app-worker@b2"}, layers(lin.Descendants()))
			require.Len(t, lin.Target.Children, 1)
			base := lin.Target.Children[0]
			assert.Equal(t, fam.Base.All(), base.IDs())
			require.Len(t, base.Children, 2)
			assert.Equal(t, fam.AppWeb.All(), base.Children[0].IDs())
			assert.Equal(t, fam.AppWorker.All(), base.Children[1].IDs())
			for _, m := range lin.Descendants() {
				for _, img := range m.Images {
					assert.Equal(t, "available", img.State)
				}
			}

			// Finding the AMI (≤2 regions) + one per ancestor (≤2) + copies
			// (one per region) + one per region per generation, the last
			// one finding nothing: never one call per AMI.
			const regions, generations = 2, 3
			assert.LessOrEqual(t, calls, 2+2+regions+regions*(generations+1), "DescribeImages calls")
		})
	}
}

func TestLineageBatchesWideGenerations(t *testing.T) {
	sb := sandbox.Start(t)
	linux := channeltest.SeedBuild(t, sb, channeltest.Project, "linux", "b1", nil, "ami-source", "us-east-1")
	// 250 builds of one child layer: the next generation's filter holds
	// 250 parent ids, over MaxFilterValues.
	var kids []channeltest.Build
	for i := range 250 {
		kids = append(kids, channeltest.SeedBuild(t, sb, channeltest.Project, "foundation", fmt.Sprintf("k%03d", i), &linux, "", "us-east-1"))
	}
	grandchild := channeltest.SeedBuild(t, sb, channeltest.Project, "base", "g1", &kids[249], "", "us-east-1")

	f := &lineage.Finder{EC2: awsapi.NewClients(sb.Config).EC2, Project: channeltest.Project, Regions: []string{"us-east-1"}}
	before := sb.CountCalls("ec2", "DescribeImages")
	lin, err := f.Lineage(context.Background(), linux.Home(), "")
	require.NoError(t, err)
	calls := sb.CountCalls("ec2", "DescribeImages") - before
	assert.Len(t, lin.Target.Children, 250)
	assert.Len(t, lin.Descendants(), 251)
	var found bool
	for _, m := range lin.Descendants() {
		if m.Has(grandchild.Home()) {
			found = true
			assert.Equal(t, kids[249].Home(), m.ParentAMI)
		}
	}
	assert.True(t, found)
	// find 1 + copies 1 + gen1 1 + gen2 2 (250 ids) + gen3 1.
	assert.Equal(t, 6, calls)
}

func TestLineageNotFound(t *testing.T) {
	sb := sandbox.Start(t)
	_, err := finder(sb).Lineage(context.Background(), "ami-0123456789abcdef0", "")
	var nf *lineage.NotFoundError
	require.ErrorAs(t, err, &nf)
	assert.Equal(t, channeltest.Regions, nf.Regions)
}

func TestRevokeCascade(t *testing.T) {
	ctx := context.Background()
	sb := sandbox.Start(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	lin, err := finder(sb).Lineage(ctx, fam.Foundation.Home(), "")
	require.NoError(t, err)

	images := append([]lineage.Image(nil), lin.Target.Images...)
	for _, m := range lin.Descendants() {
		images = append(images, m.Images...)
	}
	now := time.Now()
	actions := lineage.PlanRevoke(images, "CVE-2026-1", now)
	require.Len(t, actions, 8)
	at := lineage.DeprecateNow(now)
	for _, a := range actions {
		assert.True(t, a.Tag)
		assert.True(t, a.Deprecate)
		assert.Equal(t, at.Format(time.RFC3339), a.DeprecateAt)
	}
	require.NoError(t, lineage.ApplyRevoke(ctx, awsapi.NewClients(sb.Config).EC2, actions, "CVE-2026-1"))

	revoked := map[string]bool{}
	for _, b := range []channeltest.Build{fam.Foundation, fam.Base, fam.AppWeb, fam.AppWorker} {
		for _, id := range b.All() {
			revoked[id] = true
		}
	}
	sb.Do(func(w *sandbox.World) {
		for id, img := range w.EC2.Images {
			if img.Account != sandbox.DefaultAccount {
				continue
			}
			if revoked[id] {
				assert.Equal(t, "CVE-2026-1", img.Tags[lineage.TagRevoked], id)
				assert.Equal(t, at, img.DeprecationTime.UTC(), id)
				assert.Equal(t, "available", img.State, "never deregistered")
			} else {
				assert.NotContains(t, img.Tags, lineage.TagRevoked, id)
				assert.True(t, img.DeprecationTime.IsZero(), id)
			}
		}
	})

	// Again: already tagged and deprecated, nothing to do.
	lin, err = finder(sb).Lineage(ctx, fam.Foundation.Home(), "")
	require.NoError(t, err)
	assert.Equal(t, "CVE-2026-1", lin.Target.Revoked)
	for _, a := range lineage.PlanRevoke(lin.Target.Images, "CVE-2026-1", now) {
		assert.False(t, a.Tag)
		assert.False(t, a.Deprecate)
	}
}

func TestDeprecateNow(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 34, 56, 0, time.UTC)
	assert.Equal(t, time.Date(2026, 11, 25, 12, 35, 0, 0, time.UTC), lineage.DeprecateNow(now))
	assert.Equal(t, time.Date(2026, 11, 25, 12, 36, 0, 0, time.UTC), lineage.DeprecateNow(now.Add(4*time.Second)))
}

func TestLineageOfUpstreamSource(t *testing.T) {
	sb := sandbox.Start(t)
	var jeos string
	sb.Do(func(w *sandbox.World) { jeos = w.LatestAmazonLinux("us-east-1", "x86_64", false).ID })
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, jeos)

	lin, err := finder(sb).Lineage(context.Background(), jeos, "us-east-1")
	require.NoError(t, err)
	assert.Empty(t, lin.Ancestors)
	assert.Empty(t, lin.Target.Layer)
	// Both linux builds use it; each carries its own subtree.
	assert.Equal(t, []string{"linux@b0", "foundation@b0", "linux@b1", "foundation@b1", "base@b1", "app-web@b1", "app-worker@b2"}, layers(lin.Descendants()))
	assert.Equal(t, fam.Linux.All(), lin.Target.Children[1].IDs())
}
