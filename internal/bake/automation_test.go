package bake_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/bake/automationtest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/internal/sandbox"
	"github.com/amibake/amibake/patch"
	pscan "github.com/amibake/amibake/patch/scan"
)

type world struct {
	sb      *sandbox.Sandbox
	dir     string
	amis    map[string]string
	clients *awsapi.Clients
}

func newWorld(t *testing.T, opts ...func(*sandbox.Options)) *world {
	t.Helper()
	return newWorldWith(t, automationtest.Files(), opts...)
}

func newWorldWith(t *testing.T, files map[string]string, opts ...func(*sandbox.Options)) *world {
	t.Helper()
	sb := sandbox.Start(t, opts...)
	dir := automationtest.WriteProject(t, files)
	return &world{sb: sb, dir: dir, amis: automationtest.Seed(t, sb, dir), clients: awsapi.NewClients(sb.Config)}
}

// baker is patch run's Baker with the automation engine: patch level and
// verify-before-publish as on the packer path.
func (w *world) baker(t *testing.T, runID string) (*bake.Baker, *plan.Plan) {
	t.Helper()
	cfg, g, fps := automationtest.Load(t, w.dir)
	now := w.sb.Clock().Now
	b := &bake.Baker{Config: cfg, Graph: g, Fingerprints: fps, Clients: w.clients, ProjectDir: t.TempDir(), RunID: runID,
		Now: now, WaitPoll: 5 * time.Millisecond, Sandbox: true,
		Engine:     &bake.Automation{SSM: w.clients.SSMAutomation, Poll: 5 * time.Millisecond, Timeout: time.Minute},
		PatchLevel: patch.LevelFunc(cfg, g, w.clients.SSM, now, false)}
	b.Verify = func(ctx context.Context, layer string, amis map[string]string) error {
		s := &pscan.Scanner{SSM: w.clients.SSM(""), EC2: w.clients.EC2(""), Project: cfg.Project.Name, Region: automationtest.Region,
			Poll: 5 * time.Millisecond, Now: now}
		_, err := patch.Verify(ctx, s, pscan.Image{Layer: layer, AMI: amis[automationtest.Region], PatchGroup: "golden-linux", Created: now()})
		return err
	}
	p := &plan.Plan{Project: cfg.Project.Name, Layers: []*plan.Layer{{Layer: "linux", Action: plan.ActionBuild, Reason: plan.ReasonPatchDrift,
		Detail: "1 critical", Fingerprint: fps["linux"].Hash, Region: automationtest.Region, PreviousAMI: w.amis["linux"]}}}
	return b, p
}

func (w *world) latest(t *testing.T, layer string) string {
	t.Helper()
	out, err := w.clients.SSM("").GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(automationtest.Paths.Channel(layer, lineage.ChannelLatest))})
	require.NoError(t, err)
	return aws.ToString(out.Parameter.Value)
}

func (w *world) image(t *testing.T, id string) (ec2types.Image, map[string]string) {
	t.Helper()
	out, err := w.clients.EC2("").DescribeImages(context.Background(), &ec2.DescribeImagesInput{ImageIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, out.Images, 1)
	tags := map[string]string{}
	for _, tg := range out.Images[0].Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return out.Images[0], tags
}

// liveBuildInstances are the project's build instances that still run.
func (w *world) liveBuildInstances(t *testing.T) []string {
	t.Helper()
	out, err := w.clients.EC2("").DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + lineage.TagRole), Values: []string{lineage.RoleBuild}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}}}})
	require.NoError(t, err)
	var ids []string
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	return ids
}

func TestAutomationRebakesPatchDrift(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical"})
	require.NoError(t, err)
	old, oldTags := w.image(t, w.amis["linux"])

	b, p := w.baker(t, "b-auto1")
	results, err := b.Run(ctx, p)
	require.NoError(t, err)
	require.Len(t, results, 1)
	r := results[0]
	require.Equal(t, bake.StatusBuilt, r.Status, "%v", r.Err)
	assert.True(t, r.Verified, "verified before publishing")
	assert.True(t, r.Published)
	ami := r.AMI[automationtest.Region]
	require.NotEmpty(t, ami)
	assert.NotEqual(t, w.amis["linux"], ami)
	assert.Equal(t, ami, w.latest(t, "linux"), "latest moved")

	img, tags := w.image(t, ami)
	assert.Equal(t, oldTags[lineage.TagFingerprint], tags[lineage.TagFingerprint], "same content fingerprint")
	assert.NotEmpty(t, r.PatchLevel)
	assert.NotEqual(t, oldTags[lineage.TagPatchLevel], r.PatchLevel)
	assert.Equal(t, r.PatchLevel, tags[lineage.TagPatchLevel])
	assert.Equal(t, oldTags[lineage.TagSource], tags[lineage.TagSource], "lineage: the same upstream source")
	// The build id and the image name follow from (layer, fingerprint,
	// patch level), not from the run: every attempt names its image alike.
	assert.Equal(t, bake.RebakeBuildID("linux", oldTags[lineage.TagFingerprint], r.PatchLevel), tags[lineage.TagBuildID])
	assert.Equal(t, tags[lineage.TagBuildID], r.BuildID)
	assert.Equal(t, bake.RebakeImageName(automationtest.Project, r.BuildID), aws.ToString(img.Name))
	assert.Equal(t, "platform", tags["team"], "project default tags as on a packer bake")
	assert.Equal(t, automationtest.Project, tags[lineage.TagProject])
	assert.Equal(t, "linux", tags[lineage.TagLayer])
	assert.Equal(t, aws.ToString(img.Name), tags["Name"])
	assert.Contains(t, aws.ToString(img.Description), "patch rebake of "+aws.ToString(old.ImageId))
	require.NotEmpty(t, img.BlockDeviceMappings)
	snaps, err := w.clients.EC2("").DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{aws.ToString(img.BlockDeviceMappings[0].Ebs.SnapshotId)}})
	require.NoError(t, err)
	require.Len(t, snaps.Snapshots, 1)
	assert.Contains(t, snaps.Snapshots[0].Tags, ec2types.Tag{Key: aws.String(lineage.TagFingerprint), Value: aws.String(tags[lineage.TagFingerprint])})

	// The patch was really installed: the image carries the fixed version.
	content, ok := w.sb.ContentOf(ami)
	require.True(t, ok)
	before, _ := w.sb.ContentOf(w.amis["linux"])
	assert.NotEqual(t, before.Packages["openssl"], content.Packages["openssl"])
	w.sb.Do(func(wd *sandbox.World) {
		assert.Equal(t, wd.Catalogue.Latest("openssl", w.sb.Clock().Now()), content.Packages["openssl"])
	})
	assert.Empty(t, w.liveBuildInstances(t), "the build instance is gone")

	// The runbook: created once, the execution ran it.
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "CreateDocument"))
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "StartAutomationExecution"))
	doc, err := w.clients.SSMAutomation("").DescribeDocument(ctx, &ssm.DescribeDocumentInput{Name: aws.String(bake.RunbookName(automationtest.Project))})
	require.NoError(t, err)
	assert.Equal(t, "1", aws.ToString(doc.Document.DefaultVersion))

	// A re-run for the same patch level (a run that died after the image
	// was made) adopts that AMI instead of baking again; the runbook is
	// left alone when its content is unchanged.
	b2, p2 := w.baker(t, "b-auto2")
	results, err = b2.Run(ctx, p2)
	require.NoError(t, err)
	require.Equal(t, bake.StatusBuilt, results[0].Status, "%v", results[0].Err)
	assert.Equal(t, ami, results[0].AMI[automationtest.Region])
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "StartAutomationExecution"), "adopted, not rebaked")
	v, err := (&bake.Automation{SSM: w.clients.SSMAutomation}).EnsureRunbook(ctx, automationtest.Region, automationtest.Project)
	require.NoError(t, err)
	assert.Equal(t, "1", v)
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "CreateDocument"))
	assert.Equal(t, 0, w.sb.CountFirstAttempts("ssm", "UpdateDocument"))
}

// A runbook edited by hand (or an older amibake's) is replaced by a new
// default version; the old version stays in the history.
func TestEnsureRunbookUpdatesChangedContent(t *testing.T) {
	sb := sandbox.Start(t)
	client := awsapi.NewClients(sb.Config).SSMAutomation("")
	ctx := context.Background()
	name := bake.RunbookName("p")
	edited := strings.Replace(string(bake.Runbook()), "t3.small", "t3.large", 1)
	_, err := client.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String(name), Content: aws.String(edited),
		DocumentType: "Automation", DocumentFormat: "JSON"})
	require.NoError(t, err)

	v, err := (&bake.Automation{SSM: func(string) awsapi.SSMAutomation { return client }}).EnsureRunbook(ctx, "", "p")
	require.NoError(t, err)
	assert.Equal(t, "2", v)
	doc, err := client.DescribeDocument(ctx, &ssm.DescribeDocumentInput{Name: aws.String(name)})
	require.NoError(t, err)
	assert.Equal(t, "2", aws.ToString(doc.Document.DefaultVersion))
	assert.Equal(t, 1, sb.CountFirstAttempts("ssm", "UpdateDocument"))
	assert.Equal(t, 1, sb.CountFirstAttempts("ssm", "UpdateDocumentDefaultVersion"))
}

// A failing execution (the build instance is not managed by SSM, so the
// patch step cannot run) publishes nothing and leaves no instance.
func TestAutomationFailureLeavesNothing(t *testing.T) {
	w := newWorld(t)
	w.sb.Do(func(wd *sandbox.World) { wd.SSM.RequireInstanceProfile = true })
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Severity: "Critical"})
	require.NoError(t, err)
	imagesBefore := len(w.images(t))

	b, p := w.baker(t, "b-fail")
	results, err := b.Run(context.Background(), p)
	require.NoError(t, err)
	r := results[0]
	require.Equal(t, bake.StatusFailed, r.Status)
	assert.ErrorContains(t, r.Err, "installPatches")
	assert.False(t, r.Published)
	assert.Equal(t, w.amis["linux"], w.latest(t, "linux"), "latest did not move")
	assert.Empty(t, w.liveBuildInstances(t), "the runbook's instance was terminated by tag")
	assert.Len(t, w.images(t), imagesBefore, "no image made")
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ec2", "TerminateInstances"))
}

func (w *world) images(t *testing.T) []ec2types.Image {
	t.Helper()
	out, err := w.clients.EC2("").DescribeImages(context.Background(), &ec2.DescribeImagesInput{Owners: []string{"self"}})
	require.NoError(t, err)
	return out.Images
}

// An interrupt stops the execution and terminates its instance.
func TestAutomationInterruptStops(t *testing.T) {
	timing := sandbox.ZeroTiming()
	timing.PatchInstall = time.Hour // the clock is manual: the patch step never ends
	w := newWorld(t, func(o *sandbox.Options) { o.Mode, o.Timing = sandbox.ClockManual, &timing })
	_, err := w.sb.ReleasePatch(sandbox.PatchRelease{Package: "openssl", Severity: "Critical"})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for w.sb.CountCalls("ssm", "GetAutomationExecution") < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	b, p := w.baker(t, "b-int")
	results, err := b.Run(ctx, p)
	require.NoError(t, err)
	require.Equal(t, bake.StatusFailed, results[0].Status)
	assert.True(t, errors.Is(results[0].Err, context.Canceled), "%v", results[0].Err)
	assert.Equal(t, 1, w.sb.CountFirstAttempts("ssm", "StopAutomationExecution"))
	assert.Empty(t, w.liveBuildInstances(t))
	assert.Equal(t, w.amis["linux"], w.latest(t, "linux"))
}

// Layers whose content changed cannot be patched into shape: the engine
// says so before touching AWS, and their descendants are skipped.
func TestAutomationRefusesContentChanges(t *testing.T) {
	w := newWorld(t)
	b, p := w.baker(t, "b-new")
	p.Layers[0].Reason = plan.ReasonRecipeChanged
	_, _, fps := automationtest.Load(t, w.dir)
	p.Layers = append(p.Layers, &plan.Layer{Layer: "app", Parent: "linux", Action: plan.ActionBuild, Reason: plan.ReasonParentRebuilt,
		Fingerprint: fps["app"].Hash, Region: automationtest.Region, PreviousAMI: w.amis["app"]})
	results, err := b.Run(context.Background(), p)
	require.NoError(t, err)
	require.Len(t, results, 2)
	var npd *bake.NotPatchDriftError
	require.True(t, errors.As(results[0].Err, &npd), "%v", results[0].Err)
	assert.Contains(t, results[0].Err.Error(), "only rebakes patch-drift layers")
	assert.Equal(t, bake.StatusSkipped, results[1].Status)
	assert.Equal(t, 0, w.sb.CountFirstAttempts("ssm", "StartAutomationExecution"))
}
