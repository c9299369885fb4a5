package rollout_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/rollout"
	"github.com/amibake/amibake/internal/sandbox"
)

var paths = lineage.Paths{Prefix: "/amibake", Project: "acme-golden"}

// inPlaceWorld: 50 running instances tagged role=worker, 5 tagged
// role=web that no worker rollout may touch, and app-worker's stable
// channel on an AMI with a patch level.
type inPlaceWorld struct {
	sb      *sandbox.Sandbox
	workers []string
	others  []string
	ami     string
}

func launch(t *testing.T, sb *sandbox.Sandbox, ami, role string, n int32) []string {
	t.Helper()
	out, err := ec2.NewFromConfig(sb.Config).RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String(ami), InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(n), MaxCount: aws.Int32(n),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("role"), Value: aws.String(role)}}}},
	})
	require.NoError(t, err)
	var ids []string
	for _, i := range out.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	sort.Strings(ids)
	return ids
}

func setupInPlace(t *testing.T) *inPlaceWorld {
	t.Helper()
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode = sandbox.ClockManual })
	w := &inPlaceWorld{sb: sb}
	sb.Do(func(sw *sandbox.World) {
		now := sb.Clock().Now()
		w.ami = sw.NewID("ami")
		bt := lineage.BuildTags{Project: paths.Project, Layer: "app-worker", Fingerprint: "fp", BuildID: "b1", PatchLevel: "pb-123:abcdef"}
		sw.EC2.Images[w.ami] = &sandbox.Image{ID: w.ami, Account: sandbox.DefaultAccount, Region: "us-east-1", Name: "acme-golden-app-worker-b1",
			State: "available", StateSince: now, CreationDate: now, AvailableAt: now, Architecture: "x86_64", RootDeviceName: "/dev/xvda",
			Tags: sandbox.Tags(bt.Map())}
	})
	_, err := ssm.NewFromConfig(sb.Config).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(paths.Channel("app-worker", "stable")), Value: aws.String(w.ami), Type: ssmtypes.ParameterTypeString})
	require.NoError(t, err)
	w.workers = launch(t, sb, w.ami, "worker", 50)
	w.others = launch(t, sb, w.ami, "web", 5)
	sb.AdvanceClock(time.Minute) // booted and managed
	return w
}

func workerFleet() *config.Fleet {
	return &config.Fleet{Name: "worker", Layer: "app-worker", Channel: "stable", Strategy: config.StrategyInPlace,
		TargetTags: map[string]string{"role": "worker"},
		Rollout:    config.Rollout{Checkpoints: []int{10, 100}, MaxConcurrency: "10%", MaxErrors: "2", Reboot: "if-needed"}}
}

func (w *inPlaceWorld) rollout(sleep func(context.Context, time.Duration) error) *rollout.Rollout {
	c := awsapi.NewClients(w.sb.Config)
	return &rollout.Rollout{Fleet: workerFleet(), Region: "us-east-1", EC2: c.EC2("us-east-1"), AutoScaling: c.AutoScaling("us-east-1"),
		SSM: c.SSM("us-east-1"), Paths: paths, Apply: true, Poll: 30 * time.Second, Now: w.sb.Clock().Now, Sleep: sleep}
}

// virtualSleep advances the sandbox clock instead of sleeping, in 5 s
// steps; before each step, hook may change the world.
func (w *inPlaceWorld) virtualSleep(hook func(sw *sandbox.World, now time.Time)) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		for left := d; left > 0; left -= 5 * time.Second {
			if hook != nil {
				w.sb.Do(func(sw *sandbox.World) { hook(sw, w.sb.Clock().Now()) })
			}
			w.sb.AdvanceClock(min(left, 5*time.Second))
		}
		return ctx.Err()
	}
}

// commands returns every Run Command command of the default account's us-east-1.
func commands(sw *sandbox.World) []*sandbox.Command {
	var out []*sandbox.Command
	for _, sc := range sw.SSM.Scopes {
		for _, c := range sc.Commands {
			out = append(out, c)
		}
	}
	return out
}

func TestInPlaceStopsAtErrorThreshold(t *testing.T) {
	w := setupInPlace(t)
	// Three instances outside the canary batch fail their install: they
	// are stopped while it runs.
	bad := map[string]bool{w.workers[10]: true, w.workers[20]: true, w.workers[30]: true}
	stopped := map[string]bool{}
	hook := func(sw *sandbox.World, now time.Time) {
		for _, c := range commands(sw) {
			for _, inv := range c.Invocations {
				if bad[inv.InstanceID] && !stopped[inv.InstanceID] && inv.Status == "InProgress" {
					inst := sw.EC2.Instances[inv.InstanceID]
					inst.State, inst.StateSince = sandbox.StateStopped, now
					stopped[inv.InstanceID] = true
				}
			}
		}
	}
	r := w.rollout(w.virtualSleep(hook))
	rep, err := r.InPlace(context.Background())
	var failed *rollout.FailedError
	require.ErrorAs(t, err, &failed, "%v", err)
	assert.Contains(t, err.Error(), "rollout of worker stopped: ")
	assert.Equal(t, rollout.OutcomeStopped, rep.Outcome)

	ip := rep.InPlace
	require.Len(t, ip.Targets, 50)
	assert.Equal(t, w.workers[:5], ip.Canary, "canary: the first 10% of the targets by instance id")
	require.Len(t, ip.Commands, 2)
	assert.Equal(t, "canary", ip.Commands[0].Batch)
	assert.Equal(t, "Success", ip.Commands[0].Status)
	assert.Len(t, ip.Commands[0].Invocations, 5)
	assert.Equal(t, "fleet", ip.Commands[1].Batch)
	assert.Equal(t, "Failed", ip.Commands[1].Status, "more than max_errors failed: SSM stopped sending")
	assert.Len(t, ip.Commands[1].Invocations, 50, "per-instance results of the whole fleet (paged)")

	var failedIDs []string
	for id := range bad {
		failedIDs = append(failedIDs, id)
	}
	sort.Strings(failedIDs)
	assert.Equal(t, failedIDs, ip.Failed)
	assert.NotEmpty(t, ip.NotRun, "the rollout stopped before the whole fleet")
	assert.Equal(t, 50, len(ip.Succeeded)+len(ip.Failed)+len(ip.NotRun))
	assert.Equal(t, ip.Succeeded, ip.Tagged)
	assert.Contains(t, rep.Reason, "3 failed")
	t.Log(rep.Reason)

	targets := map[string]bool{}
	for _, id := range w.workers {
		targets[id] = true
	}
	succeeded := map[string]bool{}
	for _, id := range ip.Succeeded {
		succeeded[id] = true
	}
	w.sb.Do(func(sw *sandbox.World) {
		for _, c := range commands(sw) {
			assert.Equal(t, rollout.PatchDocument, c.DocumentName)
			assert.Equal(t, []string{"Install"}, c.Parameters["Operation"])
			assert.Equal(t, "10%", c.MaxConcurrency)
			assert.Equal(t, "2", c.MaxErrors)
			for _, inv := range c.Invocations {
				assert.True(t, targets[inv.InstanceID], "%s is not a target", inv.InstanceID)
			}
		}
		for _, id := range w.others {
			_, tagged := sw.EC2.Instances[id].Tags[lineage.TagPatchLevel]
			assert.False(t, tagged, "%s is outside the targets", id)
		}
		for _, id := range w.workers {
			v, tagged := sw.EC2.Instances[id].Tags[lineage.TagPatchLevel]
			assert.Equal(t, succeeded[id], tagged, id)
			if tagged {
				assert.Equal(t, "pb-123:abcdef", v)
			}
		}
	})
}

func TestInPlaceSucceeds(t *testing.T) {
	w := setupInPlace(t)
	r := w.rollout(w.virtualSleep(nil))
	rep, err := r.InPlace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Len(t, rep.InPlace.Succeeded, 50)
	assert.Len(t, rep.InPlace.Tagged, 50)
	assert.Empty(t, rep.InPlace.Failed)
}

func TestInPlaceDryRunChangesNothing(t *testing.T) {
	w := setupInPlace(t)
	r := w.rollout(w.virtualSleep(nil))
	r.Apply = false
	rep, err := r.InPlace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomePlanned, rep.Outcome)
	assert.Len(t, rep.InPlace.Canary, 5)
	assert.Contains(t, rep.Calls[0], "ssm:SendCommand AWS-RunPatchBaseline InstanceIds="+w.workers[0])
	assert.Contains(t, rep.Calls[1], "Targets=tag:role=worker")
	w.sb.Do(func(sw *sandbox.World) { assert.Empty(t, commands(sw)) })
}

func TestInPlaceInterrupted(t *testing.T) {
	w := setupInPlace(t)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	r := w.rollout(func(c context.Context, d time.Duration) error {
		calls++
		if calls == 2 {
			cancel()
		}
		w.sb.AdvanceClock(d)
		return c.Err()
	})
	rep, err := r.InPlace(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled))
	assert.Equal(t, rollout.OutcomeInterrupted, rep.Outcome)
	assert.Contains(t, err.Error(), "goes on in SSM")
	assert.NotEmpty(t, rep.Changed, "the report says what was sent")
}

func TestInPlaceRespectsMaintenanceWindow(t *testing.T) {
	w := setupInPlace(t)
	r := w.rollout(w.virtualSleep(nil))
	now := w.sb.Clock().Now()
	// A one-hour window that opened two hours ago.
	r.Fleet.Rollout.MaintenanceWindow = fmt.Sprintf("%s-%s-%s", strings.ToLower(now.Add(-2 * time.Hour).Weekday().String()[:3]),
		now.Add(-2*time.Hour).Format("15:04"), now.Add(-time.Hour).Format("15:04"))
	_, err := r.InPlace(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "outside its maintenance window")
	w.sb.Do(func(sw *sandbox.World) { assert.Empty(t, commands(sw), "nothing sent") })

	r.IgnoreWindow = true
	rep, err := r.InPlace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
}

// stopBad is a hook that stops the bad instances while the fleet batch
// patches them (their installs fail), as in TestInPlaceStopsAtErrorThreshold.
func stopBad(bad map[string]bool) func(sw *sandbox.World, now time.Time) {
	stopped := map[string]bool{}
	return func(sw *sandbox.World, now time.Time) {
		for _, c := range commands(sw) {
			for _, inv := range c.Invocations {
				if bad[inv.InstanceID] && !stopped[inv.InstanceID] && inv.Status == "InProgress" {
					inst := sw.EC2.Instances[inv.InstanceID]
					inst.State, inst.StateSince = sandbox.StateStopped, now
					stopped[inv.InstanceID] = true
				}
			}
		}
	}
}

func TestInPlaceStatusAndResume(t *testing.T) {
	w := setupInPlace(t)
	bad := map[string]bool{w.workers[10]: true, w.workers[20]: true, w.workers[30]: true}
	r := w.rollout(w.virtualSleep(stopBad(bad)))
	_, err := r.InPlace(context.Background())
	require.Error(t, err)

	// Status: from the instances' patch-level tags and the last command.
	st, err := r.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeStopped, st.Outcome)
	ip := st.InPlace
	assert.Equal(t, "pb-123:abcdef", ip.PatchLevel)
	assert.Len(t, ip.Targets, 47, "the stopped instances are not running")
	require.NotNil(t, ip.Last)
	assert.Equal(t, "fleet", ip.Last.Batch)
	assert.Equal(t, "Failed", ip.Last.Status)
	behind := len(ip.Behind)
	assert.Positive(t, behind, "the rollout stopped before the whole fleet")
	for _, id := range ip.Behind {
		assert.NotEqual(t, "pb-123:abcdef", ip.PatchLevels[id])
	}
	assert.Contains(t, st.Reason, "instances behind")

	// The failed instances come back; resume patches only those behind.
	w.sb.Do(func(sw *sandbox.World) {
		for id := range bad {
			sw.EC2.Instances[id].State = sandbox.StateRunning
		}
	})
	w.sb.AdvanceClock(time.Minute)
	r.Sleep = w.virtualSleep(nil)
	rep, err := r.Resume(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	assert.Len(t, rep.InPlace.Targets, behind+3, "only the instances behind")
	assert.Len(t, rep.InPlace.Tagged, behind+3)
	st, err = r.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, st.Outcome)
	assert.Empty(t, st.InPlace.Behind)
	w.sb.Do(func(sw *sandbox.World) {
		for _, id := range w.workers {
			assert.Equal(t, "pb-123:abcdef", sw.EC2.Instances[id].Tags[lineage.TagPatchLevel], id)
		}
		for _, id := range w.others {
			assert.NotContains(t, sw.EC2.Instances[id].Tags, lineage.TagPatchLevel)
		}
	})
	// Nothing left: resume is a no-op.
	rep, err = r.Resume(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeNothing, rep.Outcome)
}

func TestInPlaceAbortCancelsTheCommand(t *testing.T) {
	w := setupInPlace(t)
	var abortRep *rollout.Report
	var abortErr error
	next := w.virtualSleep(nil)
	r := w.rollout(func(ctx context.Context, d time.Duration) error {
		// While the fleet batch runs (after the canary batch), an operator aborts.
		if abortRep == nil && fleetBatchRunning(w.sb) {
			a := w.rollout(w.virtualSleep(nil))
			abortRep, abortErr = a.Abort(ctx)
		}
		return next(ctx, d)
	})
	_, err := r.InPlace(context.Background())
	require.Error(t, err, "the cancelled rollout stops")
	require.NoError(t, abortErr)
	require.NotNil(t, abortRep)
	assert.Equal(t, rollout.OutcomeAborted, abortRep.Outcome)
	assert.Contains(t, abortRep.Reason, "cannot be undone")
	w.sb.Do(func(sw *sandbox.World) {
		for _, c := range commands(sw) {
			if strings.Contains(c.Comment, " fleet ") {
				assert.Equal(t, "Cancelled", c.Status)
			}
		}
	})
	st, err := r.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborted, st.Outcome)
	// Abort again: nothing runs, it says so again without error.
	rep, err := w.rollout(w.virtualSleep(nil)).Abort(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeAborted, rep.Outcome)
}

func fleetBatchRunning(sb *sandbox.Sandbox) bool {
	running := false
	sb.Do(func(sw *sandbox.World) {
		for _, c := range commands(sw) {
			if strings.Contains(c.Comment, " fleet ") && (c.Status == "InProgress" || c.Status == "Pending") {
				running = true
			}
		}
	})
	return running
}

// SSM's SendCommand comment limit counts bytes: a fleet name that brings
// the "→" of the patch comment near the 100th character must not push
// the comment past it (the sandbox refuses it as SSM does).
func TestInPlaceCommentFitsSSMBytes(t *testing.T) {
	w := setupInPlace(t)
	r := w.rollout(w.virtualSleep(nil))
	r.Fleet.Name = strings.Repeat("w", 70)
	rep, err := r.InPlace(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rollout.OutcomeSucceeded, rep.Outcome)
	w.sb.Do(func(sw *sandbox.World) {
		cmds := commands(sw)
		require.Len(t, cmds, 2)
		for _, c := range cmds {
			assert.LessOrEqual(t, len(c.Comment), 100, c.Comment)
			assert.True(t, strings.HasPrefix(c.Comment, "amibake rollout "+r.Fleet.Name+" "), c.Comment)
		}
	})
}
