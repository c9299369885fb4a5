package channel_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/channel"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

var paths = lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}

func put(t *testing.T, c awsapi.SSM, name, ami string) {
	t.Helper()
	_, err := c.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(ami), Type: ssmtypes.ParameterTypeString,
		DataType: aws.String(channel.DataType), Overwrite: aws.Bool(true),
	})
	require.NoError(t, err)
}

func TestPromote(t *testing.T) {
	ctx := context.Background()
	sb := sandbox.Start(t)
	clients := awsapi.NewClients(sb.Config)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	p := &channel.Promoter{SSM: clients.SSM("us-east-1"), EC2: clients.EC2("us-east-1"), Paths: paths, Region: "us-east-1"}

	_, err := p.Promote(ctx, "base", "latest", "stable")
	var notSet *channel.NotSetError
	require.ErrorAs(t, err, &notSet, "no latest yet")

	put(t, clients.SSM("us-east-1"), paths.Channel("base", "latest"), fam.Base.Home())
	res, err := p.Promote(ctx, "base", "latest", "stable")
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.Equal(t, fam.Base.Home(), res.AMI)
	assert.Equal(t, int64(1), res.Version)
	assert.Empty(t, res.Previous)

	got, err := channel.Get(ctx, clients.SSM("us-east-1"), paths.Channel("base", "stable"))
	require.NoError(t, err)
	assert.Equal(t, fam.Base.Home(), got.AMI)
	hist, err := channel.History(ctx, clients.SSM("us-east-1"), paths.Channel("base", "stable"))
	require.NoError(t, err)
	require.Len(t, hist, 1)
	assert.Equal(t, "amibake promote: "+fam.Base.Home()+" from channel latest (version 1)", hist[0].Description)

	// Idempotent: nothing written.
	res, err = p.Promote(ctx, "base", "latest", "stable")
	require.NoError(t, err)
	assert.False(t, res.Changed)
	assert.Equal(t, int64(1), res.Version)
	hist, err = channel.History(ctx, clients.SSM("us-east-1"), paths.Channel("base", "stable"))
	require.NoError(t, err)
	assert.Len(t, hist, 1)

	// A layer's channel holding another layer's AMI is refused.
	put(t, clients.SSM("us-east-1"), paths.Channel("app-web", "latest"), fam.Base.Home())
	_, err = p.Promote(ctx, "app-web", "latest", "stable")
	assert.ErrorContains(t, err, `an AMI of layer "base"`)
}

func TestPromoteRefuses(t *testing.T) {
	ctx := context.Background()
	sb := sandbox.Start(t)
	clients := awsapi.NewClients(sb.Config)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	p := &channel.Promoter{SSM: clients.SSM("us-east-1"), EC2: clients.EC2("us-east-1"), Paths: paths, Region: "us-east-1"}

	for name, tc := range map[string]struct {
		layer  string
		ami    string
		mutate func(*sandbox.Image)
		want   string
	}{
		"revoked":      {"base", fam.Base.Home(), func(i *sandbox.Image) { i.Tags[lineage.TagRevoked] = "CVE-1" }, "is revoked (CVE-1)"},
		"pending":      {"app-web", fam.AppWeb.Home(), func(i *sandbox.Image) { i.State = "pending"; i.AvailableAt = i.AvailableAt.Add(24 * time.Hour) }, "it is pending, not available"},
		"deregistered": {"app-worker", fam.AppWorker.Home(), func(i *sandbox.Image) { i.State = "deregistered"; i.StateSince = i.StateSince.Add(-24 * time.Hour) }, "does not exist in us-east-1"},
	} {
		t.Run(name, func(t *testing.T) {
			put(t, clients.SSM("us-east-1"), paths.Channel(tc.layer, "latest"), tc.ami)
			sb.Do(func(w *sandbox.World) { tc.mutate(w.EC2.Images[tc.ami]) })
			_, err := p.Promote(ctx, tc.layer, "latest", "stable")
			var refused *channel.RefusedError
			require.ErrorAs(t, err, &refused)
			assert.ErrorContains(t, err, tc.want)
			_, err = channel.Get(ctx, clients.SSM("us-east-1"), paths.Channel(tc.layer, "stable"))
			require.ErrorAs(t, err, new(*channel.NotSetError), "stable untouched")
		})
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	sb := sandbox.Start(t)
	clients := awsapi.NewClients(sb.Config)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	name := paths.Channel("linux", "latest")
	c := clients.SSM("us-east-1")
	// 60 versions: more than one page of 50.
	amis := []string{fam.OldLinux.Home(), fam.Linux.Home()}
	for i := range 60 {
		put(t, c, name, amis[i%2])
	}
	_, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String(name), ParameterVersion: aws.Int64(3), Labels: []string{"golden"}})
	require.NoError(t, err)
	sb.Do(func(w *sandbox.World) { w.EC2.Images[fam.OldLinux.Home()].Tags[lineage.TagRevoked] = "bad" })

	vs, err := channel.History(ctx, c, name)
	require.NoError(t, err)
	require.Len(t, vs, 60)
	for i, v := range vs {
		assert.Equal(t, int64(i+1), v.Version)
		assert.Equal(t, amis[i%2], v.AMI)
		assert.Equal(t, i == 59, v.Current)
	}
	assert.Equal(t, []string{"golden"}, vs[2].Labels)

	before := sb.CountCalls("ec2", "DescribeImages")
	require.NoError(t, channel.AnnotateStates(ctx, clients.EC2("us-east-1"), "us-east-1", vs))
	assert.Equal(t, 1, sb.CountCalls("ec2", "DescribeImages")-before, "one batched call")
	assert.Equal(t, "revoked", vs[0].State)
	assert.Equal(t, "bad", vs[0].Revoked)
	assert.Equal(t, "available", vs[1].State)

	_, err = channel.History(ctx, c, paths.Channel("linux", "nope"))
	require.ErrorAs(t, err, new(*channel.NotSetError))
}

func TestPromoteChecksCopies(t *testing.T) {
	ctx := context.Background()
	sb := sandbox.Start(t)
	clients := awsapi.NewClients(sb.Config)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	onlyHome := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", "b7", &fam.Base, "", "us-east-1")
	p := &channel.Promoter{
		SSM: clients.SSM("us-east-1"), EC2: clients.EC2("us-east-1"), Paths: paths, Region: "us-east-1",
		CopyRegions: []string{"eu-west-1"}, EC2For: clients.EC2,
	}

	put(t, clients.SSM("us-east-1"), paths.Channel("app-web", "latest"), onlyHome.Home())
	_, err := p.Promote(ctx, "app-web", "latest", "stable")
	assert.ErrorContains(t, err, "it has no available copy in eu-west-1 yet")

	put(t, clients.SSM("us-east-1"), paths.Channel("app-worker", "latest"), fam.AppWorker.Home())
	sb.Do(func(w *sandbox.World) {
		w.EC2.Images[fam.AppWorker.IDs["eu-west-1"]].Tags[lineage.TagRevoked] = "eu only"
	})
	_, err = p.Promote(ctx, "app-worker", "latest", "stable")
	assert.ErrorContains(t, err, "its copy "+fam.AppWorker.IDs["eu-west-1"]+" in eu-west-1 is revoked (eu only)")

	put(t, clients.SSM("us-east-1"), paths.Channel("base", "latest"), fam.Base.Home())
	before := sb.CountCalls("ec2", "DescribeImages")
	res, err := p.Promote(ctx, "base", "latest", "stable")
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.Equal(t, 2, sb.CountCalls("ec2", "DescribeImages")-before, "the AMI, then its copies: one call per region")
}
