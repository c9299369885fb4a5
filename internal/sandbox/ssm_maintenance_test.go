package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScheduleExpressions(t *testing.T) {
	base := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC) // a Wednesday
	cases := []struct {
		expr, tz string
		offset   int
		want     time.Time
	}{
		{"cron(0 2 ? * SUN *)", "", 0, time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)},
		{"cron(0 2 ? * 1 *)", "", 0, time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)},
		{"cron(45 10 * * ? *)", "", 0, time.Date(2026, 11, 25, 10, 45, 0, 0, time.UTC)},
		{"cron(0 */6 * * ? *)", "", 0, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		{"cron(0 3 ? * TUE#2 *)", "", 0, time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)},
		{"cron(0 3 ? * TUE#2 *)", "", 3, time.Date(2026, 12, 11, 3, 0, 0, 0, time.UTC)},
		{"cron(0 0 L * ? *)", "", 0, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)},
		{"cron(0 9 1 JAN ? 2027)", "", 0, time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)},
		{"cron(0 2 ? * SUN *)", "America/New_York", 0, time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)},
		{"rate(2 hours)", "", 0, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		{"at(2026-12-01T05:00:00)", "", 0, time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)},
		{"at(2020-12-01T05:00:00)", "", 0, time.Time{}},
	}
	anchor := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, c := range cases {
		s, err := parseSSMSchedule(c.expr, c.tz, c.offset)
		if c.tz != "" && err != nil {
			t.Skipf("no tzdata: %v", err)
		}
		require.NoError(t, err, c.expr)
		assert.Equal(t, c.want, s.next(base, anchor), "%s tz=%s offset=%d", c.expr, c.tz, c.offset)
	}
	for _, bad := range []string{"cron(0 2 * * SUN *)", "cron(61 2 ? * SUN *)", "rate(0 hours)", "every tuesday", "cron(0 2 ? * FUNDAY *)"} {
		_, err := parseSSMSchedule(bad, "", 0)
		assert.Error(t, err, bad)
	}
	_, err := parseSSMSchedule("rate(1 day)", "", 2)
	assert.Error(t, err, "offset only with cron")
}

func TestMaintenanceWindowRunsPatchTask(t *testing.T) {
	timing := Timing{PatchInstall: 5 * time.Minute}
	sb := Start(t, func(o *Options) { o.Mode = ClockManual; o.Timing = &timing })
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 2, Tags{"Patch Group": "web"})

	_, err := cl.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String("bad"), Schedule: aws.String("rate(1 hour)"),
		Duration: aws.Int32(2), Cutoff: 2, AllowUnassociatedTargets: false})
	ssmRequireCode(t, err, "ValidationException")
	_, err = cl.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String("bad"), Schedule: aws.String("whenever"),
		Duration: aws.Int32(2), Cutoff: 1, AllowUnassociatedTargets: false})
	ssmRequireCode(t, err, "ValidationException")

	mw, err := cl.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String("web-patching"), Schedule: aws.String("rate(1 hour)"),
		Duration: aws.Int32(2), Cutoff: 1, AllowUnassociatedTargets: false,
		Tags: []ssmtypes.Tag{{Key: aws.String("team"), Value: aws.String("web")}}})
	require.NoError(t, err)
	wid := mw.WindowId
	assert.Regexp(t, `^mw-[0-9a-f]{17}$`, aws.ToString(wid))

	got, err := cl.GetMaintenanceWindow(ctx, &ssm.GetMaintenanceWindowInput{WindowId: wid})
	require.NoError(t, err)
	assert.True(t, got.Enabled)
	assert.Equal(t, int32(2), aws.ToInt32(got.Duration))
	assert.NotEmpty(t, aws.ToString(got.NextExecutionTime))
	next, err := time.Parse("2006-01-02T15:04Z07:00", aws.ToString(got.NextExecutionTime))
	require.NoError(t, err)
	assert.Equal(t, sb.Clock().Now().Add(time.Hour).Truncate(time.Minute), next.Truncate(time.Minute))

	tgt, err := cl.RegisterTargetWithMaintenanceWindow(ctx, &ssm.RegisterTargetWithMaintenanceWindowInput{WindowId: wid, ResourceType: ssmtypes.MaintenanceWindowResourceTypeInstance,
		Targets: []ssmtypes.Target{{Key: aws.String("tag:Patch Group"), Values: []string{"web"}}}, Name: aws.String("web-fleet")})
	require.NoError(t, err)
	task, err := cl.RegisterTaskWithMaintenanceWindow(ctx, &ssm.RegisterTaskWithMaintenanceWindowInput{WindowId: wid, TaskArn: aws.String("AWS-RunPatchBaseline"),
		TaskType: ssmtypes.MaintenanceWindowTaskTypeRunCommand, Priority: aws.Int32(1), MaxConcurrency: aws.String("1"), MaxErrors: aws.String("0"),
		Targets: []ssmtypes.Target{{Key: aws.String("WindowTargetIds"), Values: []string{aws.ToString(tgt.WindowTargetId)}}},
		TaskInvocationParameters: &ssmtypes.MaintenanceWindowTaskInvocationParameters{RunCommand: &ssmtypes.MaintenanceWindowRunCommandParameters{
			Parameters: map[string][]string{"Operation": {"Install"}, "RebootOption": {"NoReboot"}}, Comment: aws.String("weekly patching")}}})
	require.NoError(t, err)
	_, err = cl.RegisterTaskWithMaintenanceWindow(ctx, &ssm.RegisterTaskWithMaintenanceWindowInput{WindowId: wid, TaskArn: aws.String("AWS-RunPatchBaseline"),
		TaskType: ssmtypes.MaintenanceWindowTaskTypeRunCommand, MaxConcurrency: aws.String("1"), MaxErrors: aws.String("0"),
		Targets: []ssmtypes.Target{{Key: aws.String("WindowTargetIds"), Values: []string{"nope"}}}})
	var dne *ssmtypes.DoesNotExistException
	require.ErrorAs(t, err, &dne)

	tasks, err := cl.DescribeMaintenanceWindowTasks(ctx, &ssm.DescribeMaintenanceWindowTasksInput{WindowId: wid})
	require.NoError(t, err)
	require.Len(t, tasks.Tasks, 1)
	assert.Equal(t, "AWS-RunPatchBaseline", aws.ToString(tasks.Tasks[0].TaskArn))
	assert.Equal(t, []string{"Install"}, tasks.Tasks[0].TaskParameters["Operation"].Values)
	targets, err := cl.DescribeMaintenanceWindowTargets(ctx, &ssm.DescribeMaintenanceWindowTargetsInput{WindowId: wid})
	require.NoError(t, err)
	require.Len(t, targets.Targets, 1)
	assert.Equal(t, "web-fleet", aws.ToString(targets.Targets[0].Name))

	// Nothing before the first occurrence.
	sb.AdvanceClock(59 * time.Minute)
	exs, err := cl.DescribeMaintenanceWindowExecutions(ctx, &ssm.DescribeMaintenanceWindowExecutionsInput{WindowId: wid})
	require.NoError(t, err)
	assert.Empty(t, exs.WindowExecutions)

	sb.AdvanceClock(time.Minute)
	exs, err = cl.DescribeMaintenanceWindowExecutions(ctx, &ssm.DescribeMaintenanceWindowExecutionsInput{WindowId: wid})
	require.NoError(t, err)
	require.Len(t, exs.WindowExecutions, 1)
	assert.Equal(t, ssmtypes.MaintenanceWindowExecutionStatusInProgress, exs.WindowExecutions[0].Status)

	// Two instances, one at a time, five minutes each.
	sb.AdvanceClock(10 * time.Minute)
	ex, err := cl.GetMaintenanceWindowExecution(ctx, &ssm.GetMaintenanceWindowExecutionInput{WindowExecutionId: exs.WindowExecutions[0].WindowExecutionId})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.MaintenanceWindowExecutionStatusSuccess, ex.Status)
	require.Len(t, ex.TaskIds, 1)
	assert.Equal(t, 10*time.Minute, aws.ToTime(ex.EndTime).Sub(aws.ToTime(ex.StartTime)))

	tex, err := cl.DescribeMaintenanceWindowExecutionTasks(ctx, &ssm.DescribeMaintenanceWindowExecutionTasksInput{WindowExecutionId: ex.WindowExecutionId})
	require.NoError(t, err)
	require.Len(t, tex.WindowExecutionTaskIdentities, 1)
	assert.Equal(t, ssmtypes.MaintenanceWindowExecutionStatusSuccess, tex.WindowExecutionTaskIdentities[0].Status)
	invs, err := cl.DescribeMaintenanceWindowExecutionTaskInvocations(ctx, &ssm.DescribeMaintenanceWindowExecutionTaskInvocationsInput{
		WindowExecutionId: ex.WindowExecutionId, TaskId: aws.String(ex.TaskIds[0])})
	require.NoError(t, err)
	require.Len(t, invs.WindowExecutionTaskInvocationIdentities, 1)
	cmdID := invs.WindowExecutionTaskInvocationIdentities[0].ExecutionId
	cmds, err := cl.ListCommands(ctx, &ssm.ListCommandsInput{CommandId: cmdID})
	require.NoError(t, err)
	assert.Equal(t, "weekly patching", aws.ToString(cmds.Commands[0].Comment))
	assert.Equal(t, int32(2), cmds.Commands[0].TargetCount)
	for _, id := range ids {
		st := patchState(t, cl, id)
		assert.Equal(t, ssmtypes.PatchOperationTypeInstall, st.Operation)
		assert.Equal(t, "web", aws.ToString(st.PatchGroup))
	}

	// Three more hours: three more executions, newest first.
	sb.AdvanceClock(3 * time.Hour)
	exs, err = cl.DescribeMaintenanceWindowExecutions(ctx, &ssm.DescribeMaintenanceWindowExecutionsInput{WindowId: wid})
	require.NoError(t, err)
	require.Len(t, exs.WindowExecutions, 4)
	assert.True(t, aws.ToTime(exs.WindowExecutions[0].StartTime).After(aws.ToTime(exs.WindowExecutions[1].StartTime)))
	after := sb.Clock().Now().Add(-65 * time.Minute).UTC().Format(time.RFC3339)
	exs, err = cl.DescribeMaintenanceWindowExecutions(ctx, &ssm.DescribeMaintenanceWindowExecutionsInput{WindowId: wid,
		Filters: []ssmtypes.MaintenanceWindowFilter{{Key: aws.String("ExecutedAfter"), Values: []string{after}}}})
	require.NoError(t, err)
	assert.Len(t, exs.WindowExecutions, 1)

	// Disabled windows stop running.
	_, err = cl.UpdateMaintenanceWindow(ctx, &ssm.UpdateMaintenanceWindowInput{WindowId: wid, Enabled: aws.Bool(false)})
	require.NoError(t, err)
	sb.AdvanceClock(5 * time.Hour)
	exs, err = cl.DescribeMaintenanceWindowExecutions(ctx, &ssm.DescribeMaintenanceWindowExecutionsInput{WindowId: wid})
	require.NoError(t, err)
	assert.Len(t, exs.WindowExecutions, 4)

	list, err := cl.DescribeMaintenanceWindows(ctx, &ssm.DescribeMaintenanceWindowsInput{Filters: []ssmtypes.MaintenanceWindowFilter{{Key: aws.String("Enabled"), Values: []string{"false"}}}})
	require.NoError(t, err)
	require.Len(t, list.WindowIdentities, 1)
	assert.Equal(t, "web-patching", aws.ToString(list.WindowIdentities[0].Name))
	tags, err := cl.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingMaintenanceWindow, ResourceId: wid})
	require.NoError(t, err)
	assert.Len(t, tags.TagList, 1)

	_, err = cl.DeregisterTargetFromMaintenanceWindow(ctx, &ssm.DeregisterTargetFromMaintenanceWindowInput{WindowId: wid, WindowTargetId: tgt.WindowTargetId, Safe: aws.Bool(true)})
	var inUse *ssmtypes.TargetInUseException
	require.ErrorAs(t, err, &inUse)
	_, err = cl.DeregisterTaskFromMaintenanceWindow(ctx, &ssm.DeregisterTaskFromMaintenanceWindowInput{WindowId: wid, WindowTaskId: task.WindowTaskId})
	require.NoError(t, err)
	_, err = cl.DeregisterTargetFromMaintenanceWindow(ctx, &ssm.DeregisterTargetFromMaintenanceWindowInput{WindowId: wid, WindowTargetId: tgt.WindowTargetId, Safe: aws.Bool(true)})
	require.NoError(t, err)
	del, err := cl.DeleteMaintenanceWindow(ctx, &ssm.DeleteMaintenanceWindowInput{WindowId: wid})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(wid), aws.ToString(del.WindowId))
	_, err = cl.GetMaintenanceWindow(ctx, &ssm.GetMaintenanceWindowInput{WindowId: wid})
	require.ErrorAs(t, err, &dne)
}

func TestMaintenanceWindowSkipsOverlap(t *testing.T) {
	timing := Timing{CommandRun: 2 * time.Hour}
	sb := Start(t, func(o *Options) { o.Mode = ClockManual; o.Timing = &timing })
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 1, nil)
	mw, err := cl.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String("slow"), Schedule: aws.String("rate(1 hour)"),
		Duration: aws.Int32(3), Cutoff: 0, AllowUnassociatedTargets: true})
	require.NoError(t, err)
	_, err = cl.RegisterTaskWithMaintenanceWindow(ctx, &ssm.RegisterTaskWithMaintenanceWindowInput{WindowId: mw.WindowId, TaskArn: aws.String("AWS-RunShellScript"),
		TaskType: ssmtypes.MaintenanceWindowTaskTypeRunCommand, MaxConcurrency: aws.String("1"), MaxErrors: aws.String("0"),
		Targets: []ssmtypes.Target{{Key: aws.String("InstanceIds"), Values: ids}},
		TaskInvocationParameters: &ssmtypes.MaintenanceWindowTaskInvocationParameters{RunCommand: &ssmtypes.MaintenanceWindowRunCommandParameters{
			Parameters: map[string][]string{"commands": {"dnf upgrade -y"}, "executionTimeout": {"36000"}}, TimeoutSeconds: aws.Int32(36000)}}})
	require.NoError(t, err)
	sb.AdvanceClock(3 * time.Hour)
	exs, err := cl.DescribeMaintenanceWindowExecutions(ctx, &ssm.DescribeMaintenanceWindowExecutionsInput{WindowId: mw.WindowId})
	require.NoError(t, err)
	require.Len(t, exs.WindowExecutions, 3)
	statuses := []ssmtypes.MaintenanceWindowExecutionStatus{}
	for i := len(exs.WindowExecutions) - 1; i >= 0; i-- {
		statuses = append(statuses, exs.WindowExecutions[i].Status)
	}
	assert.Equal(t, []ssmtypes.MaintenanceWindowExecutionStatus{
		ssmtypes.MaintenanceWindowExecutionStatusSuccess, // 1h–3h
		ssmtypes.MaintenanceWindowExecutionStatusSkippedOverlapping,
		ssmtypes.MaintenanceWindowExecutionStatusInProgress, // started at 3h
	}, statuses)
}
