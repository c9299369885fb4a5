package run_test

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
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/sandbox"
)

// Fleets of the --rollout test: jobs (replace) and worker (in-place) on
// app-worker's latest channel, nightly (in-place, latest) whose maintenance
// window is closed (DAY is three days from now), batch (in-place) on its
// stable channel (promoted from latest: the same content), web (replace)
// on app-web.
var rolloutFleets = map[string]string{
	"web.hcl": `fleet "web" {
  layer    = layer.app-web
  channel  = "latest"
  strategy = "replace"
  asg      = ["web-a"]
  rollout {
    checkpoints         = [50, 100]
    checkpoint_wait     = "1s"
    min_healthy_percent = 50
  }
}
`,
	"jobs.hcl": `fleet "jobs" {
  layer    = layer.app-worker
  channel  = "latest"
  strategy = "replace"
  asg      = ["jobs-a"]
  rollout {
    checkpoints         = [50, 100]
    checkpoint_wait     = "1s"
    min_healthy_percent = 50
  }
}
`,
	"worker.hcl": `fleet "worker" {
  layer    = layer.app-worker
  channel  = "latest"
  strategy = "in-place"
  targets {
    tags = { role = "worker" }
  }
  patch {
    baseline    = patch_baseline.al2023_security
    patch_group = "worker"
  }
  rollout {
    max_concurrency = "50%"
    max_errors      = "1"
  }
}
`,
	"nightly.hcl": `fleet "nightly" {
  layer    = layer.app-worker
  channel  = "latest"
  strategy = "in-place"
  targets {
    tags = { role = "nightly" }
  }
  rollout {
    maintenance_window = "DAY-02:00-03:00"
  }
}
`,
	"batch.hcl": `fleet "batch" {
  layer    = layer.app-worker
  channel  = "stable"
  strategy = "in-place"
  targets {
    tags = { role = "batch" }
  }
}
`,
}

type fleetRollout struct {
	Fleet   string `json:"fleet"`
	Layer   string `json:"layer"`
	Channel string `json:"channel"`
	FromAMI string `json:"from_ami"`
	ToAMI   string `json:"to_ami"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Report  *struct {
		Outcome string `json:"outcome"`
		Target  string `json:"target_ami"`
	} `json:"report"`
}

func (h *harness) group(name, ami string, n int32) {
	h.t.Helper()
	ctx := context.Background()
	lt, err := h.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro}})
	require.NoError(h.t, err)
	_, err = autoscaling.NewFromConfig(h.sb.Config).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(2 * n), DesiredCapacity: aws.Int32(n),
		LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")},
		AvailabilityZones: []string{"us-east-1a", "us-east-1b"}, HealthCheckGracePeriod: aws.Int32(0), DefaultInstanceWarmup: aws.Int32(0),
	})
	require.NoError(h.t, err)
}

// groupAMIs is the AMI of every in-service instance of a group.
func (h *harness) groupAMIs(name string) []string {
	h.t.Helper()
	ctx := context.Background()
	out, err := autoscaling.NewFromConfig(h.sb.Config).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	require.NoError(h.t, err)
	require.Len(h.t, out.AutoScalingGroups, 1)
	var ids []string
	for _, i := range out.AutoScalingGroups[0].Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	require.NotEmpty(h.t, ids)
	return h.instanceAMIs(ids)
}

func (h *harness) instanceAMIs(ids []string) []string {
	h.t.Helper()
	d, err := h.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: ids})
	require.NoError(h.t, err)
	var amis []string
	for _, r := range d.Reservations {
		for _, i := range r.Instances {
			amis = append(amis, aws.ToString(i.ImageId))
		}
	}
	return amis
}

func (h *harness) instanceTags(id string) map[string]string {
	h.t.Helper()
	d, err := h.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	require.NoError(h.t, err)
	m := map[string]string{}
	for _, tg := range d.Reservations[0].Instances[0].Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

func each(vals []string, want string) bool {
	for _, v := range vals {
		if v != want {
			return false
		}
	}
	return len(vals) > 0
}

// A python advisory that only app-worker's image carries: patch run
// --rollout rebakes app-worker, replaces the drifted AMI on its stable
// channel too (same fingerprint) but not on pinned (other content), then
// rolls out the replace fleet jobs (new launch template version, instance
// refresh), patches the in-place fleet worker to the new patch level and
// hands batch (on stable) to the rollout; web is on app-web, which was not
// rebaked: untouched. A second run with nothing new does nothing.
func TestPatchRunRollout(t *testing.T) {
	h := newHarness(t)
	code, _, errOut := h.run("patch", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	code, out, errOut := h.run("bake")
	require.Equal(t, 0, code, "%s\n%s", errOut, out)
	baked := h.latest()

	require.NoError(t, os.Remove(filepath.Join(h.dir, "fleets", "worker.hcl")))
	closed := strings.ToLower(h.sb.Clock().Now().UTC().AddDate(0, 0, 3).Weekday().String()[:3])
	for name, src := range rolloutFleets {
		src = strings.Replace(src, "DAY", closed, 1)
		require.NoError(t, os.WriteFile(filepath.Join(h.dir, "fleets", name), []byte(src), 0o644))
	}
	code, out, errOut = h.run("promote", "app-worker", "--to", "stable")
	require.Equal(t, 0, code, "%s\n%s", errOut, out)
	pinned := channeltest.SeedBuild(t, h.sb, "acme-golden", "app-worker", "older-content", nil, "ami-source")
	channeltest.PutChannel(t, h.sb, home, paths.Channel("app-worker", "pinned"), pinned.Home())
	h.group("web-a", baked["app-web"], 2)
	h.group("jobs-a", baked["app-worker"], 2)
	run, err := h.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(baked["app-worker"]), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(2), MaxCount: aws.Int32(2), TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("role"), Value: aws.String("worker")}, {Key: aws.String("Patch Group"), Value: aws.String("worker")}}}}})
	require.NoError(t, err)
	var workers []string
	for _, i := range run.Instances {
		workers = append(workers, aws.ToString(i.InstanceId))
	}

	_, err = h.sb.ReleasePatch(sandbox.PatchRelease{Package: "python3.11", Severity: "Critical", Classification: "Security", CVEs: []string{"CVE-2026-5152"}})
	require.NoError(t, err)

	type channelMove struct {
		Layer, Channel, Region, From, To, Status, Reason string
		Version                                          int64
	}
	type runReport struct {
		report
		Rollouts []fleetRollout `json:"rollouts"`
		Channels []channelMove  `json:"channels"`
	}
	byChannel := func(rs []channelMove) map[string]channelMove {
		m := map[string]channelMove{}
		for _, r := range rs {
			m[r.Layer+"/"+r.Channel+"/"+r.Region] = r
		}
		return m
	}
	runJSON := func(wantCode int, args ...string) runReport {
		t.Helper()
		code, out, errOut := h.run(append([]string{"-o", "json", "patch", "run", "--rollout", "--poll", "20ms"}, args...)...)
		require.Equal(t, wantCode, code, "stderr:\n%s\nstdout:\n%s", errOut, out)
		var rep runReport
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		return rep
	}
	byFleet := func(rs []fleetRollout) map[string]fleetRollout {
		m := map[string]fleetRollout{}
		for _, r := range rs {
			m[r.Fleet] = r
		}
		return m
	}

	// Dry run: which fleets would roll out; nothing changes.
	code, out, errOut = h.run("patch", "run", "--rollout", "--poll", "20ms")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `FLEET\s+STRATEGY\s+LAYER\s+CHANNEL\s+AMI\s+ROLLOUT\s+DETAIL\n`, out)
	assert.Regexp(t, `\njobs\s+replace\s+app-worker\s+latest\s+-\s+would-roll-out\s+-\n`, out)
	assert.Regexp(t, `\nbatch\s+in-place\s+app-worker\s+stable\s+`+baked["app-worker"]+` → \(rebake\)\s+would-roll-out\s+-\n`, out)
	assert.Regexp(t, `LAYER\s+CHANNEL\s+REGION\s+AMI\s+CHANNEL MOVE\s+DETAIL\n`, out)
	assert.Regexp(t, `\napp-worker\s+pinned\s+us-east-1\s+`+pinned.Home()+`\s+other-content\s+`+pinned.Home()+` has other content`, out)
	assert.Regexp(t, `\napp-worker\s+stable\s+us-east-1\s+`+baked["app-worker"]+`\s+would-move\s+patch-drift: would replace`, out)
	assert.NotRegexp(t, `\nweb\s`, out)
	dry := runJSON(0)
	assert.Equal(t, []string{"app-worker"}, dry.Decision.Stale)
	got := byFleet(dry.Rollouts)
	assert.Len(t, got, 4, "web's layer is not rebaked: not listed")
	assert.Equal(t, "would-roll-out", got["jobs"].Status)
	assert.Equal(t, "would-roll-out", got["worker"].Status)
	assert.Equal(t, "would-roll-out", got["nightly"].Status)
	assert.Equal(t, "would-roll-out", got["batch"].Status)
	assert.Contains(t, dry.Message, "Would replace the drifted AMIs on app-worker stable.")
	assert.Contains(t, dry.Message, "Fleets: 4 would-roll-out.")
	assert.Equal(t, "would-move", byChannel(dry.Channels)["app-worker/stable/us-east-1"].Status)
	assert.Equal(t, "other-content", byChannel(dry.Channels)["app-worker/pinned/us-east-1"].Status)
	assert.Equal(t, baked, h.latest())

	// --apply: app-worker rebaked and published; jobs and worker follow it.
	rep := runJSON(0, "--apply")
	assert.Equal(t, 1, rep.Rebaked)
	now := h.latest()
	newAMI := now["app-worker"]
	require.NotEqual(t, baked["app-worker"], newAMI)
	assert.Equal(t, baked["app-web"], now["app-web"])
	got = byFleet(rep.Rollouts)
	require.Len(t, got, 4)
	for _, name := range []string{"jobs", "worker"} {
		fr := got[name]
		assert.Equal(t, "rolled-out", fr.Status, "%s: %s", name, fr.Reason)
		assert.Equal(t, baked["app-worker"], fr.FromAMI, name)
		assert.Equal(t, newAMI, fr.ToAMI, name)
		require.NotNil(t, fr.Report, name)
		assert.Equal(t, "succeeded", fr.Report.Outcome, name)
		assert.Equal(t, newAMI, fr.Report.Target, name)
	}
	// stable held the drifted AMI (same content): the new one replaced it,
	// with the history saying why; pinned (other content) did not move.
	moved := byChannel(rep.Channels)["app-worker/stable/us-east-1"]
	assert.Equal(t, "moved", moved.Status, moved.Reason)
	assert.Equal(t, newAMI, moved.To)
	assert.Equal(t, "other-content", byChannel(rep.Channels)["app-worker/pinned/us-east-1"].Status)
	assert.Contains(t, rep.Message, "The new AMIs replaced the drifted ones on app-worker stable.")
	stable, err := h.ssm.GetParameterHistory(context.Background(), &ssm.GetParameterHistoryInput{Name: aws.String(paths.Channel("app-worker", "stable"))})
	require.NoError(t, err)
	last := stable.Parameters[len(stable.Parameters)-1]
	assert.Equal(t, newAMI, aws.ToString(last.Value))
	assert.Contains(t, aws.ToString(last.Description), "patch-drift: replaces "+baked["app-worker"])
	pinnedNow, err := h.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(paths.Channel("app-worker", "pinned"))})
	require.NoError(t, err)
	assert.Equal(t, pinned.Home(), aws.ToString(pinnedNow.Parameter.Value))
	// batch follows stable, so it went to the rollout (no instances yet).
	assert.Equal(t, "nothing-to-do", got["batch"].Status, got["batch"].Reason)
	assert.Equal(t, newAMI, got["batch"].ToAMI)
	// Outside its window an in-place fleet is deferred, not failed (exit 0).
	assert.Equal(t, "deferred", got["nightly"].Status)
	assert.Contains(t, got["nightly"].Reason, "outside its maintenance window")

	// jobs runs the new AMI; web still runs the old app-web AMI.
	assert.True(t, each(h.groupAMIs("jobs-a"), newAMI), "jobs-a: %v", h.groupAMIs("jobs-a"))
	assert.True(t, each(h.groupAMIs("web-a"), baked["app-web"]), "web-a: %v", h.groupAMIs("web-a"))
	// worker's instances were patched in place to the new AMI's patch level.
	level := h.tags(newAMI)[lineage.TagPatchLevel]
	require.NotEmpty(t, level)
	for _, id := range workers {
		assert.Equal(t, level, h.instanceTags(id)[lineage.TagPatchLevel], id)
	}
	states, err := h.ssm.DescribeInstancePatchStates(context.Background(), &ssm.DescribeInstancePatchStatesInput{InstanceIds: workers})
	require.NoError(t, err)
	require.Len(t, states.InstancePatchStates, 2)
	for _, st := range states.InstancePatchStates {
		assert.Equal(t, ssmtypes.PatchOperationTypeInstall, st.Operation)
		assert.Zero(t, st.MissingCount)
	}

	// Nothing new: nothing rebaked, nothing rolled out.
	again := runJSON(0, "--apply")
	assert.Empty(t, again.Results)
	assert.Empty(t, again.Rollouts)
	assert.Contains(t, again.Message, "Nothing to rebake")
	assert.True(t, each(h.groupAMIs("jobs-a"), newAMI))

	// An operator puts stable back on the drifted AMI after latest moved:
	// their choice, kept by the next run.
	channeltest.PutChannel(t, h.sb, home, paths.Channel("app-worker", "stable"), baked["app-worker"])
	kept := runJSON(0, "--apply")
	assert.Empty(t, kept.Channels)
	assert.Contains(t, kept.Message, "nothing was changed")
	// A run killed after latest moved and before stable did (latest written
	// after stable): the next run, with nothing to rebake, finishes it and
	// hands batch (on stable) to the rollout.
	h.sb.AdvanceClock(time.Second)
	channeltest.PutChannel(t, h.sb, home, paths.Channel("app-worker", "latest"), newAMI)
	fixed := runJSON(0, "--apply")
	assert.Empty(t, fixed.Results)
	assert.Contains(t, fixed.Message, "an earlier run left channels behind")
	require.Len(t, fixed.Channels, 1)
	assert.Equal(t, "moved", fixed.Channels[0].Status)
	assert.Equal(t, baked["app-worker"], fixed.Channels[0].From)
	assert.Equal(t, newAMI, fixed.Channels[0].To)
	got = byFleet(fixed.Rollouts)
	require.Len(t, got, 1, "only the fleet on the channel that moved")
	assert.Equal(t, "nothing-to-do", got["batch"].Status, got["batch"].Reason)
	assert.Equal(t, newAMI, got["batch"].ToAMI)
	stableNow, err := h.ssm.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(paths.Channel("app-worker", "stable"))})
	require.NoError(t, err)
	assert.Equal(t, newAMI, aws.ToString(stableNow.Parameter.Value))
}
