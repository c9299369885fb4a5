package reliability

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/sandbox"
)

var patchLevelIDRE = regexp.MustCompile(`pb-[0-9a-f]+`)

// fullFlow is issue 9's demo flow on an empty account, in-process (the
// short variant's retryer: production's attempts, backoff capped at 1 ms;
// the simulated packer likewise): patch apply, bake (simulated packer
// through the sandbox), promote app-web to stable, a web fleet of 20
// instances on it, a critical kernel advisory, patch run --apply (rebake,
// verify, publish, stable follows), rollout web --apply, retire --keep 1
// --apply. faults are on for every amibake command (and the packer it
// runs), off while the test arranges the world and reads it. It returns
// the end state, each command's exit code and the faults injected.
func fullFlow(t *testing.T, faults []sandbox.FaultRule) (state string, codes []string, injected int) {
	t.Helper()
	sb := sandbox.Start(t)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "FAKEPACKER_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for _, kv := range sb.Env(sandbox.DefaultAccount, "us-east-1") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	w := &world{cfg: sb.Config, project: channeltest.CopyProject(t)}
	for _, kv := range append(fakePackerEnv(t, w), "FAKEPACKER_SLEEP=20ms", "FAKEPACKER_MAX_BACKOFF=1ms", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	require.NoError(t, os.WriteFile(filepath.Join(w.project, "fleets", "web.hcl"), []byte(crashWebFleet), 0o644))
	cfg := fastRetryConfig(sb)
	run := func(args ...string) {
		t.Helper()
		sb.SetFaults(faults...)
		r := runIn(t, cfg, w.project, args...)
		sb.SetFaults()
		w.waitPackers(t)
		codes = append(codes, strings.Join(args, " ")+fmtExit(r.Code))
		require.Equal(t, 0, r.Code, "%s", r)
	}
	run("patch", "apply", "--apply")
	run("bake")
	run("promote", "app-web", "--to", "stable")

	ctx := context.Background()
	stable := w.channel(t, "app-web", "stable")
	require.NotEmpty(t, stable)
	lt, err := ec2.NewFromConfig(sb.Config).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(stable), InstanceType: ec2types.InstanceTypeT3Micro},
	})
	require.NoError(t, err)
	_, err = autoscaling.NewFromConfig(sb.Config).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web-prod-a"), MinSize: aws.Int32(0), MaxSize: aws.Int32(40), DesiredCapacity: aws.Int32(20),
		LaunchTemplate:         &astypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("1")},
		AvailabilityZones:      []string{"us-east-1a", "us-east-1b"},
		HealthCheckGracePeriod: aws.Int32(0), DefaultInstanceWarmup: aws.Int32(0),
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, total := w.fleetOnTarget(t); return total == 20 }, 30*time.Second, 50*time.Millisecond)
	time.Sleep(time.Second) // AMI names carry the second of their bake
	_, err = sb.ReleasePatch(sandbox.PatchRelease{Package: "kernel", Severity: "Critical", Classification: "Security", CVEs: []string{"CVE-2026-4242"}})
	require.NoError(t, err)

	run("patch", "run", "--apply", "--poll", "20ms")
	assert.NotEqual(t, stable, w.channel(t, "app-web", "stable"), "stable follows the rebake")
	run("rollout", "web", "--apply", "--poll", "20ms")
	run("retire", "--keep", "1", "--apply")

	for _, e := range sb.Log() {
		if e.Injected {
			injected++
		}
	}
	w.checkInvariants(t)
	fleetOnChannel(t, w)
	return patchLevelIDRE.ReplaceAllString(w.endState(t), "pb-<id>"), codes, injected
}

// Under the storm (30 % throttled, 5 % 503, on every call of amibake and
// of the packer it runs), the whole flow ends exactly where it ends
// without faults.
func TestStormFullFlowSameEndState(t *testing.T) {
	calm, calmCodes, none := fullFlow(t, nil)
	require.Zero(t, none)
	stormy, stormCodes, injected := fullFlow(t, stormRules)
	t.Logf("storm: %d faults injected", injected)
	if testing.Verbose() {
		t.Logf("end state:\n%s", calm)
	}
	assert.Greater(t, injected, 50, "the storm hit")
	assert.Equal(t, calmCodes, stormCodes)
	assert.Equal(t, calm, stormy)
}
