package rollout_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

var paths = lineage.Paths{Prefix: channeltest.Prefix, Project: channeltest.Project}

const webFleet = `fleet "web" {
  layer    = layer.app-web
  channel  = "stable"
  strategy = "replace"
  asg      = ["web-prod-a"]

  rollout {
    checkpoints         = [10, 50, 100]
    checkpoint_wait     = "CPW"
    min_healthy_percent = 90
    abort_on_alarms     = ["web-5xx-high"]
  }

  retire {
    keep  = 1
    grace = "168h"
  }
}
`

// world is a replace fleet of 20 instances on the old app-web AMI, with
// the stable channel already moved to the new one.
type world struct {
	sb       *sandbox.Sandbox
	dir      string
	old, new channeltest.Build
	ltID     string
}

func setup(t *testing.T, checkpointWait string) *world {
	t.Helper()
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fleets", "web.hcl"), []byte(strings.Replace(webFleet, "CPW", checkpointWait, 1)), 0o644))
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	newer := channeltest.SeedBuild(t, sb, channeltest.Project, "app-web", "b2", &fam.Base, "")
	// The old build is two days older.
	sb.Do(func(w *sandbox.World) {
		for _, id := range fam.AppWeb.All() {
			w.EC2.Images[id].CreationDate = w.EC2.Images[id].CreationDate.Add(-48 * time.Hour)
		}
	})
	ctx := context.Background()
	s := ssm.NewFromConfig(sb.Config)
	for _, ami := range []string{fam.AppWeb.Home(), newer.Home()} {
		_, err := s.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(paths.Channel("app-web", "stable")), Value: aws.String(ami),
			Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)})
		require.NoError(t, err)
	}
	lt, err := ec2.NewFromConfig(sb.Config).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(fam.AppWeb.Home()), InstanceType: ec2types.InstanceTypeT3Micro,
			KeyName: aws.String("web-key")},
	})
	require.NoError(t, err)
	ltID := aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	_, err = autoscaling.NewFromConfig(sb.Config).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-prod-a"), MinSize: aws.Int32(0), MaxSize: aws.Int32(40), DesiredCapacity: aws.Int32(20),
		LaunchTemplate:         &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String("1")},
		AvailabilityZones:      []string{"us-east-1a", "us-east-1b"},
		HealthCheckGracePeriod: aws.Int32(0), DefaultInstanceWarmup: aws.Int32(0),
	})
	require.NoError(t, err)
	w := &world{sb: sb, dir: dir, old: fam.AppWeb, new: newer, ltID: ltID}
	require.Equal(t, map[string]int{fam.AppWeb.Home(): 20}, w.images(t))
	return w
}

// images counts the group's InService members by AMI.
func (w *world) images(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	w.sb.Do(func(sw *sandbox.World) {
		g := sw.AutoScalingGroup(sandbox.DefaultAccount, "us-east-1", "web-prod-a")
		require.NotNil(t, g)
		for _, m := range g.Instances {
			if m.LifecycleState == sandbox.ASGInService {
				out[m.ImageID]++
			}
		}
	})
	return out
}

func (w *world) deprecated(t *testing.T, id string) bool {
	t.Helper()
	var dep bool
	w.sb.Do(func(sw *sandbox.World) { dep = !sw.EC2.Images[id].DeprecationTime.IsZero() })
	return dep
}

func (w *world) templateVersions(t *testing.T) (def int, versions []int) {
	t.Helper()
	w.sb.Do(func(sw *sandbox.World) {
		lt := sw.EC2.LaunchTemplates[w.ltID]
		def = lt.DefaultVersion
		for _, v := range lt.Versions {
			versions = append(versions, v.Number)
		}
	})
	return def, versions
}

func TestReplaceRollsOutThroughCanaryAndRetires(t *testing.T) {
	w := setup(t, "1s")

	// The dry run shows the change, the batches and the calls, and changes nothing.
	code, out, errOut := clitest.Run(t, w.sb, w.dir, "rollout", "web")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Fleet web (replace): app-web stable → "+w.new.Home())
	assert.Contains(t, out, "web-prod-a: web version 1 ("+w.old.Home()+") → new version with ImageId "+w.new.Home()+"; checkpoints 10% (2 of 20), 50% (10 of 20), 100% (20 of 20)")
	assert.Contains(t, out, "ec2:CreateLaunchTemplateVersion LaunchTemplateId="+w.ltID+" SourceVersion=1 LaunchTemplateData.ImageId="+w.new.Home())
	assert.Contains(t, out, "CheckpointPercentages=[10 50 100] CheckpointDelay=1 MinHealthyPercentage=90 SkipMatching=true AutoRollback=true Alarms=[web-5xx-high]")
	assert.Contains(t, out, "Dry run: nothing changed.")
	_, versions := w.templateVersions(t)
	assert.Equal(t, []int{1}, versions)

	code, out, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "Checkpoint 1 of 3 reached", "the canary checkpoint was seen")
	assert.Contains(t, out, "Fleet web: succeeded")
	assert.Equal(t, map[string]int{w.new.Home(): 20}, w.images(t), "every instance runs the new AMI")

	// Only the image id changed in the new version; it is the default and
	// the version naming the old AMI is gone (retire keeps 1).
	def, versions := w.templateVersions(t)
	assert.Equal(t, 2, def)
	assert.Equal(t, []int{2}, versions)
	w.sb.Do(func(sw *sandbox.World) {
		v := sw.EC2.LaunchTemplates[w.ltID].Versions[0]
		assert.Equal(t, w.new.Home(), v.ImageID)
		assert.Equal(t, "web-key", v.KeyName)
		assert.Equal(t, "t3.micro", v.InstanceType)
	})
	// The old AMI is retired per policy: deprecated in every region, not
	// yet deregistered (grace 168h); the new one untouched.
	for _, id := range w.old.All() {
		assert.True(t, w.deprecated(t, id), id)
	}
	for _, id := range w.new.All() {
		assert.False(t, w.deprecated(t, id), id)
	}
	assert.Contains(t, out, "Retire "+w.old.Home()+": deprecate")

	// Status says it is done; a second rollout has nothing to do.
	code, out, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "status", "web")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Successful")
	code, out, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Nothing to do")

	code, out, _ = clitest.Run(t, w.sb, w.dir, "lock", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Unlocked")
}

func TestReplaceBadAMIRollsBack(t *testing.T) {
	w := setup(t, "1s")
	require.NoError(t, w.sb.MarkImageBad(w.new.Home()))

	code, out, errOut := clitest.Run(t, w.sb, w.dir, "-o", "json", "rollout", "web", "--apply", "--poll", "20ms")
	assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	var rep rollout.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, rollout.OutcomeRolledBack, rep.Outcome)
	assert.Contains(t, rep.Reason, "web-prod-a rolled back to "+w.old.Home())
	assert.Contains(t, errOut, "rollout of web rolled-back")
	assert.Nil(t, rep.Retire, "nothing retired")

	assert.Equal(t, map[string]int{w.old.Home(): 20}, w.images(t), "every instance runs the old AMI")
	for _, id := range append(w.old.All(), w.new.All()...) {
		assert.False(t, w.deprecated(t, id), id)
	}
	def, _ := w.templateVersions(t)
	assert.Equal(t, 1, def, "the default version is still the old one")
}

func TestReplacePausedThenResumed(t *testing.T) {
	w := setup(t, "3s")

	code, out, errOut := clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply", "--poll", "20ms", "--wait", "300ms")
	require.Equal(t, 5, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "Fleet web: paused")
	assert.Contains(t, errOut, "amibake rollout resume web")
	code, out, _ = clitest.Run(t, w.sb, w.dir, "lock", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Unlocked", "a paused rollout does not hold the lock")

	// The pause holds: an hour past checkpoint_wait (3s) nothing more moved.
	w.sb.AdvanceClock(time.Hour)
	for range 20 {
		w.sb.AdvanceClock(time.Minute)
		w.images(t)
	}
	assert.Equal(t, map[string]int{w.old.Home(): 18, w.new.Home(): 2}, w.images(t))

	code, out, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "status", "web")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "paused at checkpoint 10%: 2 of 20 instances (10%) on the new AMI; resume goes through [50 100]")
	assert.Contains(t, out, w.old.Home()+" → "+w.new.Home())
	assert.Contains(t, out, "Fleet web: paused — operator: --wait 300ms ran out at a checkpoint")

	code, out, errOut = clitest.Run(t, w.sb, w.dir, "-o", "json", "rollout", "status", "web")
	require.Equal(t, 0, code, errOut)
	var st rollout.Report
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	assert.Equal(t, rollout.OutcomePaused, st.Outcome)
	assert.Equal(t, rollout.PauseOperator, st.PauseKind)
	require.Len(t, st.Groups, 1)
	assert.Equal(t, 10, st.Groups[0].Checkpoint)
	assert.Equal(t, 2, st.Groups[0].OnNew)
	assert.Equal(t, []int{50, 100}, st.Groups[0].Remaining)
	assert.Equal(t, rollout.StatePaused, st.Groups[0].State)

	// A new rollout refuses while this one is paused.
	code, _, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "holds a paused rollout")

	code, out, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "resume", "web", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "Fleet web: succeeded")
	assert.Contains(t, out, "checkpoints [50 100] (resumed after 10%)")
	assert.Equal(t, map[string]int{w.new.Home(): 20}, w.images(t))
	assert.True(t, w.deprecated(t, w.old.Home()), "resume retires the replaced AMI")
	def, _ := w.templateVersions(t)
	assert.Equal(t, 2, def, "the new version is the default")
}

func TestReplaceAbortRollsBack(t *testing.T) {
	w := setup(t, "1h")
	code, out, errOut := clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply", "--poll", "20ms", "--wait", "100ms")
	require.Equal(t, 5, code, "stdout:\n%s\nstderr:\n%s", out, errOut)

	code, out, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "abort", "web", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "Fleet web: aborted")
	assert.Equal(t, map[string]int{w.old.Home(): 20}, w.images(t))
	assert.False(t, w.deprecated(t, w.old.Home()))

	// Re-running abort is safe: it reports the aborted rollout again.
	code, out, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "abort", "web", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "Fleet web: aborted")
	code, out, errOut = clitest.Run(t, w.sb, w.dir, "rollout", "status", "web")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Fleet web: aborted")
	def, _ := w.templateVersions(t)
	assert.Equal(t, 1, def, "the default version is still the old one")
}

// Nothing to abort when no rollout ever ran.
func TestAbortWithoutRollout(t *testing.T) {
	w := setup(t, "1s")
	code, _, errOut := clitest.Run(t, w.sb, w.dir, "rollout", "abort", "web")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "nothing to abort")
}

func TestReplaceAlarmAborts(t *testing.T) {
	w := setup(t, "1h")
	w.sb.SetAlarmState(sandbox.DefaultAccount, "us-east-1", "web-5xx-high", "ALARM")
	code, out, errOut := clitest.Run(t, w.sb, w.dir, "rollout", "web", "--apply", "--poll", "20ms")
	assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, errOut, "web-5xx-high")
	assert.Equal(t, map[string]int{w.old.Home(): 20}, w.images(t))
}

func TestInPlaceThroughCLI(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	ctx := context.Background()
	_, err := ssm.NewFromConfig(sb.Config).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(paths.Channel("app-worker", "stable")),
		Value: aws.String(fam.AppWorker.Home()), Type: ssmtypes.ParameterTypeString})
	require.NoError(t, err)
	launch := func(role string, n int32) []string {
		out, err := ec2.NewFromConfig(sb.Config).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(fam.AppWorker.Home()),
			InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(n), MaxCount: aws.Int32(n),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String("role"), Value: aws.String(role)}}}}})
		require.NoError(t, err)
		var ids []string
		for _, i := range out.Instances {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
		return ids
	}
	workers, others := launch("worker", 10), launch("web", 2)

	code, out, errOut := clitest.Run(t, sb, dir, "rollout", "worker")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Fleet worker (in-place): 10 instances tagged role=worker")
	assert.Contains(t, out, "maintenance window: sun-02:00-04:00")
	assert.Contains(t, out, "ssm:SendCommand AWS-RunPatchBaseline Targets=tag:role=worker Operation=Install RebootOption=RebootIfNeeded MaxConcurrency=10% MaxErrors=2")

	if now := time.Now().UTC(); now.Weekday() != time.Sunday || now.Hour() < 2 || now.Hour() >= 4 {
		code, _, errOut = clitest.Run(t, sb, dir, "rollout", "worker", "--apply")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "outside its maintenance window sun-02:00-04:00")
	}
	code, out, errOut = clitest.Run(t, sb, dir, "rollout", "worker", "--apply", "--ignore-window", "--poll", "20ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "Fleet worker: succeeded")
	sb.Do(func(sw *sandbox.World) {
		for _, id := range workers {
			_, ok := sw.EC2.Instances[id].Tags[lineage.TagPatchLevel]
			assert.True(t, ok, id)
		}
		for _, id := range others {
			_, ok := sw.EC2.Instances[id].Tags[lineage.TagPatchLevel]
			assert.False(t, ok, id)
		}
	})
	code, out, errOut = clitest.Run(t, sb, dir, "rollout", "status", "worker")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Fleet worker (in-place): 10 of 10 instances on patch level")
	assert.Contains(t, out, "Fleet worker: succeeded")
	code, out, errOut = clitest.Run(t, sb, dir, "rollout", "resume", "worker", "--ignore-window")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Nothing to do: every instance of fleet worker is on patch level")
}
