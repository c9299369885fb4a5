package bake

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/inventory"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/internal/sandbox"
)

// TestBakeInventoryNotStoredIsNotPublished: the build made its AMI and
// staged its inventory, but the document cannot be written (S3 refuses
// PutObject): the layer fails, latest does not move, the AMI carries no
// checksum tag and the staged inventory stays. The next bake adopts the
// AMI (plan: reuse, publish), records its document from the staged one,
// deletes the staging object and only then moves latest.
//
// The simulated packer builds through the sandbox (FAKEPACKER_AWS) but runs
// no provisioner, so the test stages what the amibake provisioner would.
func TestBakeInventoryNotStoredIsNotPublished(t *testing.T) {
	const (
		bucket = "acme-amibake-inventory"
		home   = "us-east-1"
	)
	cfg, g, fps := loadExample(t, "")
	cfg.Project.InventoryBucket = bucket
	sb := sandbox.Start(t)
	sb.Do(func(w *sandbox.World) { w.CreateBucket(sandbox.DefaultAccount, home, bucket, sb.Clock().Now()) })
	ctx := context.Background()
	clients := awsapi.NewClients(sb.Config)
	s3c := clients.S3(home)
	project := cfg.Project.Name
	channel := lineage.Paths{Prefix: cfg.Project.ParamPrefix, Project: project}.Channel("linux", lineage.ChannelLatest)

	d, _, diags := NewTemplateData(RenderInput{Config: cfg, Layer: cfg.Layers["linux"], Fingerprint: fps["linux"], BuildID: "b-inv-linux"})
	require.False(t, diags.HasErrors(), diags.Error())
	require.NotNil(t, d.Inventory, "an inventory_bucket renders the gather step")
	assert.Empty(t, d.Channels, "packer moves no channel: bake does, after the document")

	newBaker := func(runID string) (*Baker, *recordObserver) {
		obs := &recordObserver{}
		env := append([]string{"FAKEPACKER_AWS=1", "FAKEPACKER_SLEEP=10ms"}, sb.Env(sandbox.DefaultAccount, home)...)
		return &Baker{Config: cfg, Graph: g, Fingerprints: fps, Clients: clients, RunID: runID,
			Runner: fakeRunner(t, env...), ProjectDir: t.TempDir(), Endpoint: sb.URL(), Sandbox: true,
			WaitPoll: 10 * time.Millisecond, WaitTimeout: 30 * time.Second, Observer: obs}, obs
	}
	planLinux := func() *plan.Plan {
		obs, err := plan.Observe(ctx, clients, cfg, g, fps)
		require.NoError(t, err)
		return plan.New(g, fps, obs, []string{"linux"})
	}
	staged := func(buildID string) bool {
		_, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(inventory.StagingKey(project, buildID))})
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return false
		}
		require.NoError(t, err)
		return true
	}
	pkgs := []inventory.Package{{Name: "bash", Version: "5.2.15-1.amzn2023.0.2", Arch: "x86_64", Publisher: "Amazon Linux"}}
	_, err := inventory.Stage(ctx, s3c, bucket, project, "b-inv-linux", "i-0123456789abcdef0",
		&inventory.Gathered{Packages: pkgs, CaptureTime: sb.Clock().Now()})
	require.NoError(t, err)

	// 1. The document cannot be written.
	sb.SetFaults(sandbox.FaultRule{Service: "s3", Action: "PutObject", ErrorRate: 1, ErrorStatus: http.StatusForbidden})
	b, _ := newBaker("b-inv")
	p := planLinux()
	require.Len(t, p.Layers, 1)
	require.Equal(t, plan.ActionBuild, p.Layers[0].Action)
	results, err := b.Run(ctx, p)
	require.NoError(t, err)
	r := results[0]
	require.Equal(t, StatusFailed, r.Status, r.Error)
	assert.Contains(t, r.Error, "not published")
	assert.Contains(t, r.Error, inventory.URL(bucket, project, r.AMI[home]))
	assert.False(t, r.Published)
	ami := r.AMI[home]
	require.NotEmpty(t, ami)
	_, err = clients.SSM(home).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(channel)})
	var nf *ssmtypes.ParameterNotFound
	require.ErrorAs(t, err, &nf, "latest did not move")
	imgs, err := lineage.DescribeIDs(ctx, clients.EC2(home), home, []string{ami})
	require.NoError(t, err)
	assert.Empty(t, imgs[ami].Tags[inventory.TagSHA256])
	assert.True(t, staged("b-inv-linux"), "the staged inventory waits for the next bake")

	// 2. The next bake adopts the AMI and finalizes it before publishing.
	sb.SetFaults()
	b2, obs := newBaker("b-inv2")
	p = planLinux()
	require.Len(t, p.Layers, 1)
	require.Equal(t, plan.ActionReuse, p.Layers[0].Action)
	require.True(t, p.Layers[0].Publish)
	results, err = b2.Run(ctx, p)
	require.NoError(t, err)
	r = results[0]
	require.Equal(t, StatusReused, r.Status, r.Error)
	assert.True(t, r.Published)
	assert.Equal(t, inventory.URL(bucket, project, ami), r.Inventory)
	assert.False(t, staged("b-inv-linux"), "no staging object left behind")
	ch, err := clients.SSM(home).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(channel)})
	require.NoError(t, err)
	assert.Equal(t, ami, aws.ToString(ch.Parameter.Value))
	imgs, err = lineage.DescribeIDs(ctx, clients.EC2(home), home, []string{ami})
	require.NoError(t, err)
	doc, err := inventory.Load(ctx, s3c, bucket, project, imgs[ami])
	require.NoError(t, err)
	assert.Equal(t, pkgs, doc.Packages)
	assert.Equal(t, "b-inv-linux", doc.BuildID)
	assert.Equal(t, "linux", doc.Layer)
	assert.Contains(t, strings.Join(obs.lines, "\n"), "inventory "+inventory.URL(bucket, project, ami))
}
