package sandbox

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// launchManaged starts n instances from the newest seeded AL2023 image and
// settles them to running.
func launchManaged(t *testing.T, sb *Sandbox, n int, tags Tags) []string {
	t.Helper()
	var ids []string
	sb.Do(func(w *World) {
		now := sb.Clock().Now()
		img := w.LatestAmazonLinux(DefaultRegion, "x86_64", false)
		if img == nil {
			img = seedAmazonImage(w, DefaultRegion, "al2023-ami-2023.0.20000101.0-kernel-6.1-x86_64", "x86_64", now)
		}
		for i := 0; i < n; i++ {
			inst, err := w.RunInstance(LaunchSpec{Account: DefaultAccount, Region: DefaultRegion, ImageID: img.ID, InstanceType: "t3.small", Tags: tags}, now)
			require.Nil(t, err)
			ids = append(ids, inst.ID)
		}
	})
	// Pending → running takes Timing.InstancePending; settle it.
	var pending time.Duration
	sb.Do(func(w *World) { pending = w.Timing.InstancePending })
	sb.AdvanceClock(pending)
	return ids
}

func instanceContent(sb *Sandbox, id string) Content {
	c, _ := sb.ContentOf(id)
	return c
}

func shell(commands ...string) map[string][]string {
	return map[string][]string{"commands": commands}
}

func TestRunShellScriptChangesContent(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 1, nil)
	before := instanceContent(sb, ids[0])
	require.NotContains(t, before.Packages, "nginx")

	script := []string{
		"#!/usr/bin/env bash",
		"# amibake-step: nginx_runtime/install",
		"set -euo pipefail",
		"dnf install -y nginx jq-1.7.1",
		"dnf remove -y vim-minimal",
		`echo "nginx installed"`,
		`if [[ ! -d /etc/nginx ]]; then`,
		`  echo "missing" >&2`,
		`  exit 1`,
		`fi`,
	}
	out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
		Parameters: shell(script...), Comment: aws.String("bake nginx")})
	require.NoError(t, err)
	cmdID := aws.ToString(out.Command.CommandId)
	assert.Equal(t, int32(1), out.Command.TargetCount)

	w := ssm.NewCommandExecutedWaiter(cl, func(o *ssm.CommandExecutedWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 5*time.Millisecond
	})
	require.NoError(t, w.Wait(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmdID), InstanceId: aws.String(ids[0])}, 5*time.Second))

	inv, err := cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmdID), InstanceId: aws.String(ids[0])})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandInvocationStatusSuccess, inv.Status)
	assert.Equal(t, int32(0), inv.ResponseCode)
	assert.Equal(t, "aws:runShellScript", aws.ToString(inv.PluginName))
	assert.Contains(t, aws.ToString(inv.StandardOutputContent), "nginx installed")
	assert.Contains(t, aws.ToString(inv.StandardOutputContent), "Installed:")
	assert.NotEmpty(t, aws.ToString(inv.ExecutionStartDateTime))
	assert.Equal(t, "bake nginx", aws.ToString(inv.Comment))

	after := instanceContent(sb, ids[0])
	var nginxVersion string
	sb.Do(func(w *World) { nginxVersion = w.Catalogue.Latest("nginx", sb.Clock().Now()) })
	assert.Equal(t, nginxVersion, after.Packages["nginx"])
	assert.True(t, strings.HasPrefix(after.Packages["jq"], "1.7.1-"), after.Packages["jq"])
	assert.NotContains(t, after.Packages, "vim-minimal")
	require.Len(t, after.Steps, len(before.Steps)+1)
	step := after.Steps[len(after.Steps)-1]
	assert.Equal(t, "nginx_runtime/install", step.Name)
	assert.Equal(t, ScriptDigest(script), step.Digest)

	cmds, err := cl.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: aws.String(cmdID)})
	require.NoError(t, err)
	require.Len(t, cmds.Commands, 1)
	c := cmds.Commands[0]
	assert.Equal(t, ssmtypes.CommandStatusSuccess, c.Status)
	assert.Equal(t, int32(1), c.CompletedCount)
	assert.Equal(t, int32(0), c.ErrorCount)
	assert.Equal(t, "50", aws.ToString(c.MaxConcurrency))
	assert.Equal(t, "0", aws.ToString(c.MaxErrors))
	assert.Equal(t, []string{"3600"}, c.Parameters["executionTimeout"])
}

func TestRunShellScriptFailure(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 1, nil)
	before := instanceContent(sb, ids[0])

	out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
		Parameters: shell("dnf install -y htop", `echo "about to fail"`, `echo "bad input" >&2`, "exit 3", "dnf install -y git")})
	require.NoError(t, err)
	cmdID := aws.ToString(out.Command.CommandId)
	w := ssm.NewCommandExecutedWaiter(cl, func(o *ssm.CommandExecutedWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Millisecond, 5*time.Millisecond
	})
	err = w.Wait(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmdID), InstanceId: aws.String(ids[0])}, 5*time.Second)
	require.Error(t, err, "the waiter fails on a Failed invocation")

	inv, err := cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(cmdID), InstanceId: aws.String(ids[0])})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandInvocationStatusFailed, inv.Status)
	assert.Equal(t, "Failed", aws.ToString(inv.StatusDetails))
	assert.Equal(t, int32(3), inv.ResponseCode)
	assert.Contains(t, aws.ToString(inv.StandardErrorContent), "bad input")
	assert.Contains(t, aws.ToString(inv.StandardOutputContent), "about to fail")

	after := instanceContent(sb, ids[0])
	assert.Contains(t, after.Packages, "htop", "lines before the failure ran")
	assert.NotContains(t, after.Packages, "git", "lines after exit never ran")
	assert.Len(t, after.Steps, len(before.Steps), "a failed step is not recorded")

	cmds, err := cl.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: aws.String(cmdID)})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandStatusFailed, cmds.Commands[0].Status)
	assert.Equal(t, int32(1), cmds.Commands[0].ErrorCount)

	// The marker comment fails too.
	out, err = cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
		Parameters: shell("echo ok", "# sandbox: fail 7")})
	require.NoError(t, err)
	inv, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ids[0])})
	require.NoError(t, err)
	assert.Equal(t, int32(7), inv.ResponseCode)
}

func TestSendCommandValidation(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 1, nil)
	send := func(in *ssm.SendCommandInput) error {
		if in.DocumentName == nil {
			in.DocumentName = aws.String("AWS-RunShellScript")
		}
		if in.InstanceIds == nil && in.Targets == nil {
			in.InstanceIds = ids
		}
		if in.Parameters == nil {
			in.Parameters = shell("true")
		}
		_, err := cl.SendCommand(ctx, in)
		return err
	}
	var badInst *ssmtypes.InvalidInstanceId
	require.ErrorAs(t, send(&ssm.SendCommandInput{InstanceIds: []string{"i-0123456789abcdef0"}}), &badInst)
	var badDoc *ssmtypes.InvalidDocument
	require.ErrorAs(t, send(&ssm.SendCommandInput{DocumentName: aws.String("AWS-Nope")}), &badDoc)
	var badParams *ssmtypes.InvalidParameters
	require.ErrorAs(t, send(&ssm.SendCommandInput{Parameters: map[string][]string{"cmds": {"x"}}}), &badParams)
	require.ErrorAs(t, send(&ssm.SendCommandInput{Parameters: map[string][]string{}}), &badParams)
	require.ErrorAs(t, send(&ssm.SendCommandInput{DocumentName: aws.String("AWS-RunPatchBaseline"), Parameters: map[string][]string{"Operation": {"Destroy"}}}), &badParams)
	ssmRequireCode(t, send(&ssm.SendCommandInput{MaxConcurrency: aws.String("0")}), "ValidationException")
	ssmRequireCode(t, send(&ssm.SendCommandInput{MaxErrors: aws.String("-1")}), "ValidationException")
	var badTarget *ssmtypes.InvalidTarget
	require.ErrorAs(t, send(&ssm.SendCommandInput{Targets: []ssmtypes.Target{{Key: aws.String("color"), Values: []string{"x"}}}}), &badTarget)

	// Another account can't reach the instance.
	other := ssm.NewFromConfig(sb.ConfigFor("210987654321", DefaultRegion))
	_, err := other.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids, Parameters: shell("true")})
	require.ErrorAs(t, err, &badInst)

	// A terminated instance is no longer managed.
	sb.Do(func(w *World) { w.TerminateInstance(w.EC2.Instances[ids[0]], sb.Clock().Now()) })
	sb.AdvanceClock(time.Minute)
	require.ErrorAs(t, send(&ssm.SendCommandInput{}), &badInst)

	_, err = cl.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: aws.String("nope")})
	var badCmd *ssmtypes.InvalidCommandId
	require.ErrorAs(t, err, &badCmd)
}

// TestMaxConcurrencyAndMaxErrors steps a command through a manual clock:
// never more than MaxConcurrency in flight, and once errors exceed
// MaxErrors nothing more is sent.
func TestMaxConcurrencyAndMaxErrors(t *testing.T) {
	timing := Timing{CommandRun: 10 * time.Second}
	sb := Start(t, func(o *Options) { o.Mode = ClockManual; o.Timing = &timing })
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 6, Tags{"role": "web"})

	out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"),
		Targets:        []ssmtypes.Target{{Key: aws.String("tag:role"), Values: []string{"web"}}},
		Parameters:     shell("echo hi"),
		MaxConcurrency: aws.String("2")})
	require.NoError(t, err)
	cmdID := out.Command.CommandId
	assert.Equal(t, int32(6), out.Command.TargetCount)

	statuses := func() map[ssmtypes.CommandInvocationStatus]int {
		res := map[ssmtypes.CommandInvocationStatus]int{}
		pg := ssm.NewListCommandInvocationsPaginator(cl, &ssm.ListCommandInvocationsInput{CommandId: cmdID, MaxResults: aws.Int32(5)})
		for pg.HasMorePages() {
			p, err := pg.NextPage(ctx)
			require.NoError(t, err)
			for _, inv := range p.CommandInvocations {
				res[inv.Status]++
			}
		}
		return res
	}
	for step := 0; step < 3; step++ {
		st := statuses()
		assert.Equal(t, 2, st[ssmtypes.CommandInvocationStatusInProgress], "step %d: %v", step, st)
		assert.Equal(t, 2*step, st[ssmtypes.CommandInvocationStatusSuccess], "step %d: %v", step, st)
		sb.AdvanceClock(10 * time.Second)
	}
	st := statuses()
	assert.Equal(t, 6, st[ssmtypes.CommandInvocationStatusSuccess])

	// All fail, MaxErrors 1: the second failure stops the command.
	out, err = cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
		Parameters: shell("# sandbox: fail"), MaxConcurrency: aws.String("1"), MaxErrors: aws.String("1")})
	require.NoError(t, err)
	cmdID = out.Command.CommandId
	sb.AdvanceClock(10 * time.Minute)
	invs, err := cl.ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{CommandId: cmdID})
	require.NoError(t, err)
	var failed, terminated int
	for _, inv := range invs.CommandInvocations {
		switch {
		case inv.Status == ssmtypes.CommandInvocationStatusFailed:
			failed++
		case inv.Status == ssmtypes.CommandInvocationStatusCancelled && aws.ToString(inv.StatusDetails) == "Terminated":
			terminated++
		}
	}
	assert.Equal(t, 2, failed)
	assert.Equal(t, 4, terminated)
	cmds, err := cl.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: cmdID})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandStatusFailed, cmds.Commands[0].Status)
	assert.Equal(t, int32(2), cmds.Commands[0].ErrorCount)
	assert.Equal(t, int32(6), cmds.Commands[0].CompletedCount)

	// Errors within MaxErrors: the command finishes as Incomplete.
	out, err = cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids[:2],
		Parameters: shell("# sandbox: fail"), MaxErrors: aws.String("50%")})
	require.NoError(t, err)
	sb.AdvanceClock(time.Minute)
	cmds, err = cl.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: out.Command.CommandId})
	require.NoError(t, err)
	// Two failures with MaxErrors 50% of 2 = 1: exceeded.
	assert.Equal(t, ssmtypes.CommandStatusFailed, cmds.Commands[0].Status)
}

func TestMaxConcurrencyPercent(t *testing.T) {
	timing := Timing{CommandRun: time.Minute}
	sb := Start(t, func(o *Options) { o.Mode = ClockManual; o.Timing = &timing })
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 5, nil)
	out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
		Parameters: shell("true"), MaxConcurrency: aws.String("10%")})
	require.NoError(t, err)
	invs, err := cl.ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{CommandId: out.Command.CommandId})
	require.NoError(t, err)
	inProgress := 0
	for _, inv := range invs.CommandInvocations {
		if inv.Status == ssmtypes.CommandInvocationStatusInProgress {
			inProgress++
		}
	}
	assert.Equal(t, 1, inProgress, "10%% of 5 rounds down to at least 1")
	// After 5 minutes all are done, one after the other.
	sb.AdvanceClock(5 * time.Minute)
	cmds, err := cl.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: out.Command.CommandId})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandStatusSuccess, cmds.Commands[0].Status)
	inv, err := cl.ListCommandInvocations(ctx, &ssm.ListCommandInvocationsInput{CommandId: out.Command.CommandId, Details: true})
	require.NoError(t, err)
	var starts []time.Time
	for _, i := range inv.CommandInvocations {
		require.Len(t, i.CommandPlugins, 1)
		starts = append(starts, aws.ToTime(i.CommandPlugins[0].ResponseStartDateTime))
	}
	for i := 1; i < len(starts); i++ {
		assert.Equal(t, time.Minute, starts[i].Sub(starts[i-1]), "sequential starts")
	}
}

func TestExecutionTimeoutAndCancel(t *testing.T) {
	timing := Timing{CommandRun: 5 * time.Second}
	sb := Start(t, func(o *Options) { o.Mode = ClockManual; o.Timing = &timing })
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 2, nil)

	out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids[:1],
		Parameters: map[string][]string{"commands": {"sleep 120", "dnf install -y git"}, "executionTimeout": {"60"}}})
	require.NoError(t, err)
	sb.AdvanceClock(59 * time.Second)
	inv, err := cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ids[0])})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandInvocationStatusInProgress, inv.Status)
	assert.Equal(t, int32(-1), inv.ResponseCode)
	sb.AdvanceClock(time.Second)
	inv, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ids[0])})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandInvocationStatusTimedOut, inv.Status)
	assert.Equal(t, "ExecutionTimedOut", aws.ToString(inv.StatusDetails))
	assert.NotContains(t, instanceContent(sb, ids[0]).Packages, "git")
	cmds, err := cl.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: out.Command.CommandId})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandStatusTimedOut, cmds.Commands[0].Status)

	// Cancel a running command.
	out, err = cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
		Parameters: shell("sleep 30", "dnf install -y git"), MaxConcurrency: aws.String("1")})
	require.NoError(t, err)
	sb.AdvanceClock(10 * time.Second)
	_, err = cl.CancelCommand(ctx, &ssm.CancelCommandInput{CommandId: out.Command.CommandId})
	require.NoError(t, err)
	sb.AdvanceClock(time.Minute)
	cmds, err = cl.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: out.Command.CommandId})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandStatusCancelled, cmds.Commands[0].Status)
	for _, id := range ids {
		assert.NotContains(t, instanceContent(sb, id).Packages, "git")
	}
	_, err = cl.CancelCommand(ctx, &ssm.CancelCommandInput{CommandId: out.Command.CommandId})
	var badCmd *ssmtypes.InvalidCommandId
	require.ErrorAs(t, err, &badCmd)
}

func TestDelayedDeliveryTimesOut(t *testing.T) {
	timing := Timing{CommandRun: 5 * time.Second, InstanceStopping: time.Second}
	sb := Start(t, func(o *Options) { o.Mode = ClockManual; o.Timing = &timing })
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 1, nil)
	sb.Do(func(w *World) {
		inst := w.EC2.Instances[ids[0]]
		inst.State, inst.StateSince = StateStopped, sb.Clock().Now()
	})
	info, err := cl.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	require.NoError(t, err)
	require.Len(t, info.InstanceInformationList, 1)
	assert.Equal(t, ssmtypes.PingStatusConnectionLost, info.InstanceInformationList[0].PingStatus)

	// Registered but stopped: accepted, then Delayed until the delivery timeout.
	out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
		Parameters: shell("true"), TimeoutSeconds: aws.Int32(60)})
	require.NoError(t, err)
	inv, err := cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ids[0])})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandInvocationStatusDelayed, inv.Status)
	sb.AdvanceClock(61 * time.Second)
	inv, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ids[0])})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandInvocationStatusTimedOut, inv.Status)
	assert.Equal(t, "DeliveryTimedOut", aws.ToString(inv.StatusDetails))
	cmds, err := cl.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: out.Command.CommandId})
	require.NoError(t, err)
	assert.Equal(t, int32(1), cmds.Commands[0].DeliveryTimedOutCount)
	assert.Equal(t, int32(0), cmds.Commands[0].ErrorCount)

	// Started again within the timeout: it runs.
	out, err = cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids,
		Parameters: shell("dnf install -y git"), TimeoutSeconds: aws.Int32(600)})
	require.NoError(t, err)
	sb.AdvanceClock(30 * time.Second)
	sb.Do(func(w *World) {
		inst := w.EC2.Instances[ids[0]]
		inst.State, inst.StateSince = StateRunning, sb.Clock().Now()
	})
	sb.AdvanceClock(10 * time.Second)
	inv, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ids[0])})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandInvocationStatusSuccess, inv.Status)
	assert.Contains(t, instanceContent(sb, ids[0]).Packages, "git")
}

func TestInvocationDoesNotExistUntilVisible(t *testing.T) {
	sb := Start(t, func(o *Options) { o.Mode = ClockManual; o.Timing = &Timing{} })
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 1, nil)
	sb.SetFaults(FaultRule{Service: "ssm", Action: "SendCommand", InvisibleFor: Duration{2 * time.Second}})
	out, err := cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids, Parameters: shell("true")})
	require.NoError(t, err)
	_, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ids[0])})
	var dne *ssmtypes.InvocationDoesNotExist
	require.ErrorAs(t, err, &dne)
	sb.AdvanceClock(2 * time.Second)
	inv, err := cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ids[0])})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.CommandInvocationStatusSuccess, inv.Status)
	_, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String("i-0000000000000dead")})
	require.ErrorAs(t, err, &dne)
	_, err = cl.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ids[0]), PluginName: aws.String("nope")})
	var badPlugin *ssmtypes.InvalidPluginName
	require.ErrorAs(t, err, &badPlugin)
}

func TestListCommandsPaginationAndFilters(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 2, nil)
	for i := 0; i < 7; i++ {
		doc := "AWS-RunShellScript"
		params := shell(fmt.Sprintf("echo %d", i))
		if i == 6 {
			doc, params = "AWS-RunPatchBaseline", map[string][]string{"Operation": {"Scan"}}
		}
		_, err := cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String(doc), InstanceIds: ids, Parameters: params})
		require.NoError(t, err)
	}
	var all []ssmtypes.Command
	pg := ssm.NewListCommandsPaginator(cl, &ssm.ListCommandsInput{MaxResults: aws.Int32(3)})
	for pg.HasMorePages() {
		p, err := pg.NextPage(ctx)
		require.NoError(t, err)
		all = append(all, p.Commands...)
	}
	require.Len(t, all, 7)
	assert.Equal(t, "AWS-RunPatchBaseline", aws.ToString(all[0].DocumentName), "newest first")

	f, err := cl.ListCommands(ctx, &ssm.ListCommandsInput{Filters: []ssmtypes.CommandFilter{{Key: ssmtypes.CommandFilterKeyDocumentName, Value: aws.String("AWS-RunPatchBaseline")}}})
	require.NoError(t, err)
	assert.Len(t, f.Commands, 1)
	f, err = cl.ListCommands(ctx, &ssm.ListCommandsInput{Filters: []ssmtypes.CommandFilter{{Key: ssmtypes.CommandFilterKeyExecutionStage, Value: aws.String("Complete")}}})
	require.NoError(t, err)
	assert.Len(t, f.Commands, 7)
	f, err = cl.ListCommands(ctx, &ssm.ListCommandsInput{InstanceId: aws.String(ids[1]), Filters: []ssmtypes.CommandFilter{{Key: ssmtypes.CommandFilterKeyStatus, Value: aws.String("Success")}}})
	require.NoError(t, err)
	assert.Len(t, f.Commands, 7)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	f, err = cl.ListCommands(ctx, &ssm.ListCommandsInput{Filters: []ssmtypes.CommandFilter{{Key: ssmtypes.CommandFilterKeyInvokedAfter, Value: aws.String(future)}}})
	require.NoError(t, err)
	assert.Len(t, f.Commands, 0)

	// Invocations across commands, with plugin details.
	var invs []ssmtypes.CommandInvocation
	ipg := ssm.NewListCommandInvocationsPaginator(cl, &ssm.ListCommandInvocationsInput{InstanceId: aws.String(ids[0]), Details: true, MaxResults: aws.Int32(4)})
	for ipg.HasMorePages() {
		p, err := ipg.NextPage(ctx)
		require.NoError(t, err)
		invs = append(invs, p.CommandInvocations...)
	}
	require.Len(t, invs, 7)
	patch := invs[0]
	require.Len(t, patch.CommandPlugins, 3, "AWS-RunPatchBaseline has three steps")
	assert.Equal(t, "PatchLinux", aws.ToString(patch.CommandPlugins[1].Name))
	assert.Contains(t, aws.ToString(patch.CommandPlugins[0].Output), "Step execution skipped")
	assert.Contains(t, aws.ToString(invs[1].CommandPlugins[0].Output), "5")
	assert.NotEmpty(t, aws.ToString(invs[1].InstanceName))
}

func TestDescribeInstanceInformation(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 7, Tags{"env": "prod"})
	launchManaged(t, sb, 1, Tags{"env": "dev"})

	var all []ssmtypes.InstanceInformation
	pg := ssm.NewDescribeInstanceInformationPaginator(cl, &ssm.DescribeInstanceInformationInput{MaxResults: aws.Int32(5)})
	for pg.HasMorePages() {
		p, err := pg.NextPage(ctx)
		require.NoError(t, err)
		all = append(all, p.InstanceInformationList...)
	}
	require.Len(t, all, 8)
	i0 := all[0]
	assert.Equal(t, ssmtypes.PingStatusOnline, i0.PingStatus)
	assert.Equal(t, ssmtypes.PlatformTypeLinux, i0.PlatformType)
	assert.Equal(t, "Amazon Linux", aws.ToString(i0.PlatformName))
	assert.Equal(t, ssmtypes.ResourceTypeEc2Instance, i0.ResourceType)
	assert.NotEmpty(t, aws.ToString(i0.AgentVersion))
	assert.NotContains(t, aws.ToString(i0.AgentVersion), "amzn")

	out, err := cl.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("tag:env"), Values: []string{"dev"}}}})
	require.NoError(t, err)
	assert.Len(t, out.InstanceInformationList, 1)
	out, err = cl.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{InstanceInformationFilterList: []ssmtypes.InstanceInformationFilter{
		{Key: ssmtypes.InstanceInformationFilterKeyInstanceIds, ValueSet: ids[:2]}}})
	require.NoError(t, err)
	assert.Len(t, out.InstanceInformationList, 2)

	// Terminated instances leave; pending (never registered) are not there yet.
	sb.Do(func(w *World) { w.TerminateInstance(w.EC2.Instances[ids[0]], sb.Clock().Now()) })
	sb.AdvanceClock(time.Minute)
	out, err = cl.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{InstanceInformationFilterList: []ssmtypes.InstanceInformationFilter{
		{Key: ssmtypes.InstanceInformationFilterKeyInstanceIds, ValueSet: ids[:2]}}})
	require.NoError(t, err)
	require.Len(t, out.InstanceInformationList, 1)
	assert.Equal(t, ids[1], aws.ToString(out.InstanceInformationList[0].InstanceId))

	_, err = cl.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{MaxResults: aws.Int32(2)})
	ssmRequireCode(t, err, "ValidationException")
}

func TestMinimalImageIsNotManaged(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	var id string
	sb.Do(func(w *World) {
		now := sb.Clock().Now()
		img := seedAmazonImage(w, DefaultRegion, "al2023-ami-minimal-2023.0.20000101.0-kernel-6.1-x86_64", "x86_64", now)
		img.Content.Packages = w.Catalogue.JeOSMinimalPackages(ReleaseFor(now))
		inst, err := w.RunInstance(LaunchSpec{Account: DefaultAccount, Region: DefaultRegion, ImageID: img.ID}, now)
		require.Nil(t, err)
		id = inst.ID
	})
	sb.AdvanceClock(time.Minute)
	_, err := cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{id}, Parameters: shell("true")})
	var badInst *ssmtypes.InvalidInstanceId
	require.ErrorAs(t, err, &badInst, "no SSM agent on the minimal image")

	// Requiring an instance profile (as real AWS does) hides profile-less instances.
	ids := launchManaged(t, sb, 1, nil)
	sb.Do(func(w *World) { w.SSM.RequireInstanceProfile = true })
	_, err = cl.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: ids, Parameters: shell("true")})
	require.ErrorAs(t, err, &badInst)
}
