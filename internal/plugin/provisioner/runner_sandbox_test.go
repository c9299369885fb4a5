package provisioner

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/sandbox"
)

// recUI records what the runner writes.
type recUI struct {
	mu       sync.Mutex
	says     []string
	messages []string
	errors   []string
}

func (u *recUI) Say(s string)     { u.mu.Lock(); u.says = append(u.says, s); u.mu.Unlock() }
func (u *recUI) Message(s string) { u.mu.Lock(); u.messages = append(u.messages, s); u.mu.Unlock() }
func (u *recUI) Error(s string)   { u.mu.Lock(); u.errors = append(u.errors, s); u.mu.Unlock() }

// launch starts an instance from the newest public AL2023 image.
func launch(t *testing.T, sb *sandbox.Sandbox) string {
	t.Helper()
	ctx := context.Background()
	ec2c := ec2.NewFromConfig(sb.Config)
	imgs, err := ec2c.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"al2023-ami-2023*-x86_64"}}},
	})
	require.NoError(t, err)
	require.NotEmpty(t, imgs.Images)
	out, err := ec2c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: imgs.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Small,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	require.NoError(t, err)
	return aws.ToString(out.Instances[0].InstanceId)
}

func newSandboxRunner(t *testing.T, opts ...func(*sandbox.Options)) (*sandbox.Sandbox, *runner, *recUI) {
	t.Helper()
	sb := sandbox.Start(t, opts...)
	ui := &recUI{}
	r := &runner{
		ssm:        ssm.NewFromConfig(sb.Config),
		ui:         ui,
		instanceID: launch(t, sb),
		poll:       20 * time.Millisecond,
	}
	require.NoError(t, r.waitOnline(context.Background(), 10*time.Second))
	return sb, r, ui
}

func invocationStatus(sb *sandbox.Sandbox, instanceID string) []string {
	var out []string
	sb.Do(func(w *sandbox.World) {
		for _, sc := range w.SSM.Scopes {
			for _, id := range sc.CommandOrder {
				for _, inv := range sc.Commands[id].Invocations {
					if inv.InstanceID == instanceID {
						out = append(out, inv.Status)
					}
				}
			}
		}
	})
	return out
}

func TestRunnerStreamsOutputAndRecordsSteps(t *testing.T) {
	sb, r, ui := newSandboxRunner(t)
	ctx := context.Background()
	for _, s := range []Step{
		{Name: "base/hello", Inline: []string{"echo hello $WHO", "echo warn >&2"}, Env: map[string]string{"WHO": "world"}},
		{Name: "base/jq", Inline: []string{"dnf install -y jq"}},
	} {
		cmds, err := BuildCommands(s, nil, "us-east-1")
		require.NoError(t, err)
		require.NoError(t, r.run(ctx, s.Name, cmds, time.Minute))
	}
	assert.Contains(t, ui.messages, "hello world")
	assert.Contains(t, ui.errors, "warn")
	sb.Do(func(w *sandbox.World) {
		inst := w.EC2.Instances[r.instanceID]
		var names []string
		for _, s := range inst.Content.Steps {
			names = append(names, s.Name)
		}
		assert.Equal(t, []string{"base/hello", "base/jq"}, names)
		assert.Contains(t, inst.Content.Packages, "jq")
	})
}

func TestRunnerFailedStep(t *testing.T) {
	_, r, _ := newSandboxRunner(t)
	cmds, err := BuildCommands(Step{Name: "base/broken", Inline: []string{"echo first >&2", "echo last words >&2", "exit 3"}}, nil, "")
	require.NoError(t, err)
	err = r.run(context.Background(), "base/broken", cmds, time.Minute)
	var se *StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "base/broken", se.Step)
	assert.Equal(t, "Failed", se.Status)
	assert.EqualValues(t, 3, se.ExitCode)
	assert.Contains(t, se.StderrTail, "last words")
	assert.Contains(t, err.Error(), `step "base/broken" failed`)
}

func TestRunnerStepTimesOut(t *testing.T) {
	sb, r, _ := newSandboxRunner(t)
	cmds, err := BuildCommands(Step{Name: "base/slow", Inline: []string{"sleep 5"}}, nil, "")
	require.NoError(t, err)
	start := time.Now()
	err = r.run(context.Background(), "base/slow", cmds, time.Second) // executionTimeout=1
	var se *StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "TimedOut", se.Status)
	assert.Less(t, time.Since(start), 4*time.Second)
	assert.Equal(t, []string{"TimedOut"}, invocationStatus(sb, r.instanceID))
}

func TestRunnerCancelsCommandWhenInterrupted(t *testing.T) {
	sb, r, _ := newSandboxRunner(t)
	cmds, err := BuildCommands(Step{Name: "base/long", Inline: []string{"sleep 60"}}, nil, "")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	err = r.run(ctx, "base/long", cmds, time.Minute)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), err)
	assert.Contains(t, err.Error(), `step "base/long": interrupted`)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, []string{"Cancelled"}, invocationStatus(sb, r.instanceID))
	sb.Do(func(w *sandbox.World) {
		assert.Empty(t, w.EC2.Instances[r.instanceID].Content.Steps, "a cancelled step is not recorded")
	})
}

func TestRunnerWaitsOutInvocationDoesNotExist(t *testing.T) {
	sb, r, _ := newSandboxRunner(t)
	// SendCommand's command stays invisible to reads for a moment, as
	// right after sending on AWS.
	sb.SetFaults(sandbox.FaultRule{Service: "ssm", Action: "SendCommand", InvisibleFor: sandbox.Duration{Duration: 500 * time.Millisecond}})
	cmds, err := BuildCommands(Step{Name: "base/eventually", Inline: []string{"echo ok"}}, nil, "")
	require.NoError(t, err)
	require.NoError(t, r.run(context.Background(), "base/eventually", cmds, time.Minute))
	notYet := 0
	for _, e := range sb.Log() {
		if e.Action == "GetCommandInvocation" && e.Error == "InvocationDoesNotExist" {
			notYet++
		}
	}
	assert.Positive(t, notYet, "the command was invisible at first")
}

func TestWaitOnlineTimesOutForUnknownInstance(t *testing.T) {
	_, r, _ := newSandboxRunner(t)
	r.instanceID = "i-0000000000000dead"
	err := r.waitOnline(context.Background(), 300*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SSM agent not online")
	assert.True(t, strings.Contains(err.Error(), "AmazonSSMManagedInstanceCore"), err)
}

func TestSendCommandToUnmanagedInstanceFails(t *testing.T) {
	_, r, _ := newSandboxRunner(t)
	r.instanceID = "i-0000000000000dead"
	cmds, err := BuildCommands(Step{Name: "x/y", Inline: []string{"true"}}, nil, "")
	require.NoError(t, err)
	err = r.run(context.Background(), "x/y", cmds, time.Minute)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `step "x/y": send command to i-0000000000000dead`)
}

func TestRunnerPatchStepInstallsApprovedPatches(t *testing.T) {
	sb, r, ui := newSandboxRunner(t)
	ctx := context.Background()
	// A baseline that approves Critical security fixes at once, applied
	// to the instance through its patch group tag.
	ssmc := ssm.NewFromConfig(sb.Config)
	b, err := ssmc.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{Name: aws.String("amibake-test-golden"),
		OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023,
		ApprovalRules: &ssmtypes.PatchRuleGroup{PatchRules: []ssmtypes.PatchRule{{ApproveAfterDays: aws.Int32(0),
			PatchFilterGroup: &ssmtypes.PatchFilterGroup{PatchFilters: []ssmtypes.PatchFilter{
				{Key: ssmtypes.PatchFilterKeyClassification, Values: []string{"Security"}},
				{Key: ssmtypes.PatchFilterKeySeverity, Values: []string{"Critical"}}}}}}}})
	require.NoError(t, err)
	_, err = ssmc.RegisterPatchBaselineForPatchGroup(ctx, &ssm.RegisterPatchBaselineForPatchGroupInput{BaselineId: b.BaselineId, PatchGroup: aws.String("golden")})
	require.NoError(t, err)
	_, err = ec2.NewFromConfig(sb.Config).CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{r.instanceID},
		Tags: []ec2types.Tag{{Key: aws.String("Patch Group"), Value: aws.String("golden")}}})
	require.NoError(t, err)
	p, err := sb.ReleasePatch(sandbox.PatchRelease{Package: "kernel", Severity: "Critical", CVEs: []string{"CVE-2026-4242"}})
	require.NoError(t, err)
	fixed := p.Packages[0].Version
	step := Step{Name: "patch-baseline/install", Patch: &PatchStep{}}
	require.Empty(t, step.validate(0))
	require.NoError(t, r.runPatch(ctx, step.Name, step.Patch, time.Minute))
	assert.Contains(t, strings.Join(ui.messages, "\n"), "Operation: Install")
	assert.Contains(t, strings.Join(ui.messages, "\n"), aws.ToString(b.BaselineId))
	sb.Do(func(w *sandbox.World) {
		inst := w.EC2.Instances[r.instanceID]
		assert.Equal(t, fixed, inst.Content.Packages["kernel"])
		last := inst.Content.Steps[len(inst.Content.Steps)-1]
		assert.Equal(t, "patch-baseline/install", last.Name)
		for _, sc := range w.SSM.Scopes {
			for _, id := range sc.CommandOrder {
				c := sc.Commands[id]
				assert.Equal(t, "AWS-RunPatchBaseline", c.DocumentName)
				assert.Equal(t, []string{"NoReboot"}, c.Parameters["RebootOption"])
			}
		}
	})
}

func TestPatchStepValidation(t *testing.T) {
	bad := Step{Name: "p", Patch: &PatchStep{Operation: "Remove", Reboot: "Always"}, Inline: []string{"x"}, Env: map[string]string{"A": "1"}}
	msg := errors.Join(bad.validate(0)...).Error()
	for _, want := range []string{`operation "Remove"`, `reboot "Always"`, "no env", "exactly one of"} {
		assert.Contains(t, msg, want)
	}
}
