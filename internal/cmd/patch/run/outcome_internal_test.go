package run

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

const jobsFleet = `fleet "jobs" {
  layer    = layer.app-worker
  channel  = "latest"
  strategy = "replace"
  asg      = ["jobs-a"]
  rollout {
    checkpoints         = [50, 100]
    checkpoint_wait     = "10m"
    min_healthy_percent = 50
  }
}
`

// outcomeWorld is what --rollout hands to the rollout module after a
// published rebake of app-worker, without packer: a replace fleet jobs on
// app-worker's latest, whose group runs the old AMI while latest already
// holds the new one.
type outcomeWorld struct {
	sb       *sandbox.Sandbox
	cfg      *config.Config
	f        *cmdutil.Factory
	old, new channeltest.Build
}

func newOutcomeWorld(t *testing.T) *outcomeWorld {
	t.Helper()
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fleets", "jobs.hcl"), []byte(jobsFleet), 0o644))
	cfg, diags := config.Load(dir, config.LoadOptions{Env: []string{"AMIBAKE_VAR_security_agent_token=x"}})
	require.False(t, diags.HasErrors(), diags.Error())
	w := &outcomeWorld{sb: sb, cfg: cfg}
	w.old = channeltest.SeedBuild(t, sb, channeltest.Project, "app-worker", "b1", nil, "ami-source")
	w.new = channeltest.SeedBuild(t, sb, channeltest.Project, "app-worker", "b2", nil, "ami-source")
	channeltest.PutChannel(t, sb, "us-east-1", channelName(cfg, "app-worker", lineage.ChannelLatest), w.new.Home())

	ctx := context.Background()
	lt, err := ec2.NewFromConfig(sb.Config).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("jobs-a"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(w.old.Home()), InstanceType: ec2types.InstanceTypeT3Micro}})
	require.NoError(t, err)
	_, err = autoscaling.NewFromConfig(sb.Config).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("jobs-a"), MinSize: aws.Int32(0), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(2),
		LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")},
		AvailabilityZones: []string{"us-east-1a", "us-east-1b"}, HealthCheckGracePeriod: aws.Int32(0), DefaultInstanceWarmup: aws.Int32(0),
	})
	require.NoError(t, err)
	ios, _, _, _ := iostreams.Test()
	w.f = &cmdutil.Factory{IOStreams: ios, WorkDir: dir, Now: sb.Clock().Now,
		AWSConfig: func(context.Context) (aws.Config, error) { return sb.Config, nil }}
	return w
}

func channelName(cfg *config.Config, layer, ch string) string {
	return lineage.Paths{Prefix: cfg.Project.ParamPrefix, Project: cfg.Project.Name}.Channel(layer, ch)
}

func (w *outcomeWorld) rollout(t *testing.T, opts *RunOptions) (int, *FleetRollout, string) {
	t.Helper()
	fr := &FleetRollout{Fleet: "jobs", Strategy: config.StrategyReplace, Layer: "app-worker", Channel: lineage.ChannelLatest, FromAMI: w.old.Home()}
	published := publishedLayers([]*bake.Result{{Layer: "app-worker", Status: bake.StatusBuilt, Published: true, AMI: w.new.IDs}})
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := rolloutFleets(ctx, w.f, w.cfg, awsapi.NewClients(w.sb.Config), opts, []*FleetRollout{fr}, published, nil, &progress)
	return code, fr, progress.String()
}

// --wait shorter than the fleet's checkpoint_wait: the rollout holds the
// fleet at its first checkpoint for an operator; patch run exits 5.
func TestRolloutFleetsPaused(t *testing.T) {
	w := newOutcomeWorld(t)
	code, fr, progress := w.rollout(t, &RunOptions{Poll: 20 * time.Millisecond, Wait: 50 * time.Millisecond})
	assert.Equal(t, cmdutil.ExitPaused, code, progress)
	assert.Equal(t, FleetPaused, fr.Status, fr.Reason)
	assert.Equal(t, w.new.Home(), fr.ToAMI)
	require.NotNil(t, fr.Report)
	assert.Contains(t, rolloutSummary([]*FleetRollout{fr}), "1 paused")
}

// The new AMI fails its health checks: the refresh fails and rolls back;
// patch run exits 3 (the layers were published, a fleet failed).
func TestRolloutFleetsFailed(t *testing.T) {
	w := newOutcomeWorld(t)
	require.NoError(t, w.sb.MarkImageBad(w.new.Home()))
	code, fr, progress := w.rollout(t, &RunOptions{Poll: 20 * time.Millisecond})
	assert.Equal(t, cmdutil.ExitPartial, code, progress)
	assert.Equal(t, FleetFailed, fr.Status, fr.Reason)
	assert.Contains(t, rolloutSummary([]*FleetRollout{fr}), "1 failed")
}
