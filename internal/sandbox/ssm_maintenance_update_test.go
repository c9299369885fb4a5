package sandbox

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaintenanceWindowTaskAndTargetUpdates(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	mw, err := cl.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String("patching"), Schedule: aws.String("cron(0 2 ? * SUN *)"),
		Duration: aws.Int32(2), Cutoff: 1})
	require.NoError(t, err)
	wid := mw.WindowId
	tg, err := cl.RegisterTargetWithMaintenanceWindow(ctx, &ssm.RegisterTargetWithMaintenanceWindowInput{WindowId: wid, ResourceType: ssmtypes.MaintenanceWindowResourceTypeInstance,
		Targets: []ssmtypes.Target{{Key: aws.String("tag:role"), Values: []string{"worker"}}}, Name: aws.String("workers"), OwnerInformation: aws.String("fleet=worker")})
	require.NoError(t, err)
	task, err := cl.RegisterTaskWithMaintenanceWindow(ctx, &ssm.RegisterTaskWithMaintenanceWindowInput{WindowId: wid, TaskArn: aws.String("AWS-RunPatchBaseline"),
		TaskType: ssmtypes.MaintenanceWindowTaskTypeRunCommand, Name: aws.String("patch"), MaxConcurrency: aws.String("10%"), MaxErrors: aws.String("2"),
		Targets: []ssmtypes.Target{{Key: aws.String("WindowTargetIds"), Values: []string{aws.ToString(tg.WindowTargetId)}}},
		TaskInvocationParameters: &ssmtypes.MaintenanceWindowTaskInvocationParameters{RunCommand: &ssmtypes.MaintenanceWindowRunCommandParameters{
			Comment: aws.String("c"), Parameters: map[string][]string{"Operation": {"Install"}, "RebootOption": {"RebootIfNeeded"}}}}})
	require.NoError(t, err)

	got, err := cl.GetMaintenanceWindowTask(ctx, &ssm.GetMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: task.WindowTaskId})
	require.NoError(t, err)
	assert.Equal(t, "patch", aws.ToString(got.Name))
	assert.Equal(t, ssmtypes.MaintenanceWindowTaskTypeRunCommand, got.TaskType)
	assert.Equal(t, int32(1), got.Priority)
	require.NotNil(t, got.TaskInvocationParameters.RunCommand)
	assert.Equal(t, map[string][]string{"Operation": {"Install"}, "RebootOption": {"RebootIfNeeded"}}, got.TaskInvocationParameters.RunCommand.Parameters)
	assert.Equal(t, "c", aws.ToString(got.TaskInvocationParameters.RunCommand.Comment))
	assert.Empty(t, got.TaskParameters)

	// Without Replace only the given members change.
	_, err = cl.UpdateMaintenanceWindowTask(ctx, &ssm.UpdateMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: task.WindowTaskId, MaxErrors: aws.String("5")})
	require.NoError(t, err)
	got, err = cl.GetMaintenanceWindowTask(ctx, &ssm.GetMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: task.WindowTaskId})
	require.NoError(t, err)
	assert.Equal(t, "5", aws.ToString(got.MaxErrors))
	assert.Equal(t, "10%", aws.ToString(got.MaxConcurrency))
	assert.Equal(t, "patch", aws.ToString(got.Name))

	// Replace clears what is not given; bad parameters are refused.
	_, err = cl.UpdateMaintenanceWindowTask(ctx, &ssm.UpdateMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: task.WindowTaskId, Replace: aws.Bool(true),
		MaxConcurrency: aws.String("1"), MaxErrors: aws.String("0")})
	ssmRequireCode(t, err, "ValidationException")
	_, err = cl.UpdateMaintenanceWindowTask(ctx, &ssm.UpdateMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: task.WindowTaskId,
		TaskInvocationParameters: &ssmtypes.MaintenanceWindowTaskInvocationParameters{RunCommand: &ssmtypes.MaintenanceWindowRunCommandParameters{
			Parameters: map[string][]string{"Operation": {"Destroy"}}}}})
	require.Error(t, err)
	up, err := cl.UpdateMaintenanceWindowTask(ctx, &ssm.UpdateMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: task.WindowTaskId, Replace: aws.Bool(true),
		TaskArn: aws.String("AWS-RunPatchBaseline"), MaxConcurrency: aws.String("1"), MaxErrors: aws.String("0"), Priority: aws.Int32(3),
		Targets: []ssmtypes.Target{{Key: aws.String("WindowTargetIds"), Values: []string{aws.ToString(tg.WindowTargetId)}}},
		TaskInvocationParameters: &ssmtypes.MaintenanceWindowTaskInvocationParameters{RunCommand: &ssmtypes.MaintenanceWindowRunCommandParameters{
			Parameters: map[string][]string{"Operation": {"Install"}, "RebootOption": {"NoReboot"}}}}})
	require.NoError(t, err)
	assert.Equal(t, int32(3), up.Priority)
	got, err = cl.GetMaintenanceWindowTask(ctx, &ssm.GetMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: task.WindowTaskId})
	require.NoError(t, err)
	assert.Empty(t, aws.ToString(got.Name))
	assert.Empty(t, aws.ToString(got.TaskInvocationParameters.RunCommand.Comment))
	assert.Equal(t, []string{"NoReboot"}, got.TaskInvocationParameters.RunCommand.Parameters["RebootOption"])

	_, err = cl.GetMaintenanceWindowTask(ctx, &ssm.GetMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: aws.String("nope")})
	ssmRequireCode(t, err, "DoesNotExistException")

	// Targets: update in place, Replace clears the owner information.
	_, err = cl.UpdateMaintenanceWindowTarget(ctx, &ssm.UpdateMaintenanceWindowTargetInput{WindowId: wid, WindowTargetId: tg.WindowTargetId,
		Targets: []ssmtypes.Target{{Key: aws.String("tag:role"), Values: []string{"queue"}}}})
	require.NoError(t, err)
	ts, err := cl.DescribeMaintenanceWindowTargets(ctx, &ssm.DescribeMaintenanceWindowTargetsInput{WindowId: wid})
	require.NoError(t, err)
	require.Len(t, ts.Targets, 1)
	assert.Equal(t, []string{"queue"}, ts.Targets[0].Targets[0].Values)
	assert.Equal(t, "fleet=worker", aws.ToString(ts.Targets[0].OwnerInformation))
	_, err = cl.UpdateMaintenanceWindowTarget(ctx, &ssm.UpdateMaintenanceWindowTargetInput{WindowId: wid, WindowTargetId: tg.WindowTargetId, Replace: aws.Bool(true),
		Targets: []ssmtypes.Target{{Key: aws.String("tag:role"), Values: []string{"queue"}}}, Name: aws.String("workers")})
	require.NoError(t, err)
	ts, err = cl.DescribeMaintenanceWindowTargets(ctx, &ssm.DescribeMaintenanceWindowTargetsInput{WindowId: wid})
	require.NoError(t, err)
	assert.Empty(t, aws.ToString(ts.Targets[0].OwnerInformation))
	assert.Equal(t, "workers", aws.ToString(ts.Targets[0].Name))
	_, err = cl.UpdateMaintenanceWindowTarget(ctx, &ssm.UpdateMaintenanceWindowTargetInput{WindowId: wid, WindowTargetId: tg.WindowTargetId,
		Targets: []ssmtypes.Target{{Key: aws.String("ResourceGroup"), Values: []string{"x"}}}})
	ssmRequireCode(t, err, "InvalidTarget")
}
