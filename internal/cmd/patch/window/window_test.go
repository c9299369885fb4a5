package window_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
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
	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/cmd/patch/window"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

// A Wednesday: the worker fleet's window (sun-02:00-04:00) next opens on
// 2026-11-29 at 02:00 UTC.
var start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func TestSchedule(t *testing.T) {
	cases := []struct {
		spec           string
		cron           string
		duration, cuto int
	}{
		{"sun-02:00-04:00", "cron(0 2 ? * SUN *)", 2, 1},
		{"sat-22:30-01:00", "cron(30 22 ? * SAT *)", 3, 1}, // 2h30 past midnight: rounded up, no start after 01:00
		{"mon-03:00-04:00", "cron(0 3 ? * MON *)", 1, 0},
		{"tue-03:00-03:30", "cron(0 3 ? * TUE *)", 1, 0},
		{"wed-00:00-23:59", "cron(0 0 ? * WED *)", 24, 1},
	}
	for _, c := range cases {
		cron, d, cut, err := window.Schedule(c.spec)
		require.NoError(t, err, c.spec)
		assert.Equal(t, c.cron, cron, c.spec)
		assert.Equal(t, c.duration, d, c.spec)
		assert.Equal(t, c.cuto, cut, c.spec)
		assert.Less(t, cut, d, c.spec)
	}
	for _, bad := range []string{"sunday-02:00-04:00", "sun-2-4", "sun-25:00-04:00"} {
		_, _, _, err := window.Schedule(bad)
		assert.Error(t, err, bad)
	}
}

func launch(t *testing.T, sb *sandbox.Sandbox, ami string, tags map[string]string, n int32) []string {
	t.Helper()
	var ts []ec2types.Tag
	for k, v := range tags {
		ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	run, err := ec2.NewFromConfig(sb.Config).RunInstances(context.Background(), &ec2.RunInstancesInput{ImageId: aws.String(ami), InstanceType: "t3.small",
		MinCount: aws.Int32(n), MaxCount: aws.Int32(n),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: ts}}})
	require.NoError(t, err)
	var ids []string
	for _, i := range run.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	return ids
}

func windows(t *testing.T, cl *ssm.Client) map[string]ssmtypes.MaintenanceWindowIdentity {
	t.Helper()
	out := map[string]ssmtypes.MaintenanceWindowIdentity{}
	res, err := cl.DescribeMaintenanceWindows(context.Background(), &ssm.DescribeMaintenanceWindowsInput{})
	require.NoError(t, err)
	for _, w := range res.WindowIdentities {
		out[aws.ToString(w.Name)] = w
	}
	return out
}

func editFleet(t *testing.T, dir, fleet, old, new string) {
	t.Helper()
	path := filepath.Join(dir, "fleets", fleet+".hcl")
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	edited := strings.Replace(string(src), old, new, 1)
	require.NotEqual(t, string(src), edited, "%q not in %s", old, path)
	require.NoError(t, os.WriteFile(path, []byte(edited), 0o644))
}

func TestWindowApplyIsIdempotentUpdatesRunsAndDeletes(t *testing.T) {
	timing := sandbox.ZeroTiming()
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode, o.Timing, o.Start = sandbox.ClockManual, &timing, start })
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	ctx := context.Background()
	cl := ssm.NewFromConfig(sb.Config)

	workers := launch(t, sb, fam.AppWorker.Home(), map[string]string{"role": "worker", "Patch Group": "worker"}, 2)
	webs := launch(t, sb, fam.AppWeb.Home(), map[string]string{"role": "web", "Patch Group": "web"}, 1)
	sb.AdvanceClock(time.Minute)

	// Dry run: the worker fleet's window, target and task; nothing for
	// the replace fleet web (it has no window); nothing made.
	code, out, errOut := clitest.Run(t, sb, dir, "patch", "window", "apply")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "+ create window amibake-acme-golden-sun-0200-0400\n"+
		"    name: amibake-acme-golden-sun-0200-0400\n"+
		"    schedule: cron(0 2 ? * SUN *)\n"+
		"    timezone: UTC\n"+
		"    duration: 2h\n"+
		"    cutoff: 1h\n"+
		"    enabled: true\n"+
		"    description: amibake acme-golden: AWS-RunPatchBaseline Install on fleet(s) worker, sun-02:00-04:00 UTC (amibake patch window apply)\n"+
		"  + register target amibake-worker (fleet worker)\n"+
		"      targets: tag:role=worker\n"+
		"      owner_information: amibake:fleet=worker\n"+
		"  + register task amibake-worker-patch (fleet worker)\n"+
		"      document: AWS-RunPatchBaseline\n"+
		"      targets: amibake-worker\n"+
		"      parameters: Operation=Install RebootOption=RebootIfNeeded\n"+
		"      max_concurrency: 10%\n"+
		"      max_errors: 2\n"+
		"      priority: 1\n"+
		"      cutoff_behavior: CONTINUE_TASK\n"+
		"3 change(s). Dry run: run with --apply to make them.\n", out)
	assert.Empty(t, windows(t, cl))
	assert.Equal(t, 0, sb.CountCalls("ssm", "CreateMaintenanceWindow"))

	// A window of the same prefix that is not tagged as the project's, and
	// a stale one that is: the first stays, the second goes.
	_, err := cl.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String("amibake-acme-golden-someone"),
		Schedule: aws.String("cron(0 5 ? * MON *)"), Duration: aws.Int32(2), Cutoff: 1})
	require.NoError(t, err)
	stale, err := cl.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String("amibake-acme-golden-gone"),
		Schedule: aws.String("cron(0 5 ? * MON *)"), Duration: aws.Int32(2), Cutoff: 1,
		Tags: []ssmtypes.Tag{{Key: aws.String("amibake:project"), Value: aws.String("acme-golden")}}})
	require.NoError(t, err)

	code, out, errOut = clitest.Run(t, sb, dir, "patch", "window", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "- delete window amibake-acme-golden-gone ("+aws.ToString(stale.WindowId)+")")
	assert.NotContains(t, out, "someone")
	assert.Contains(t, out, "Applied 4 change(s).")
	ws := windows(t, cl)
	require.Len(t, ws, 2)
	assert.Contains(t, ws, "amibake-acme-golden-someone")
	mw := ws["amibake-acme-golden-sun-0200-0400"]
	wid := mw.WindowId
	assert.Equal(t, "cron(0 2 ? * SUN *)", aws.ToString(mw.Schedule))
	assert.Equal(t, int32(2), aws.ToInt32(mw.Duration))
	assert.Equal(t, int32(1), mw.Cutoff)
	assert.Equal(t, "2026-11-29T02:00Z", aws.ToString(mw.NextExecutionTime))
	tags, err := cl.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingMaintenanceWindow, ResourceId: wid})
	require.NoError(t, err)
	assert.Equal(t, []ssmtypes.Tag{{Key: aws.String("amibake:project"), Value: aws.String("acme-golden")}}, tags.TagList)
	targets, err := cl.DescribeMaintenanceWindowTargets(ctx, &ssm.DescribeMaintenanceWindowTargetsInput{WindowId: wid})
	require.NoError(t, err)
	require.Len(t, targets.Targets, 1, "the replace fleet web gets no target")
	assert.Equal(t, "amibake-worker", aws.ToString(targets.Targets[0].Name))
	tasks, err := cl.DescribeMaintenanceWindowTasks(ctx, &ssm.DescribeMaintenanceWindowTasksInput{WindowId: wid})
	require.NoError(t, err)
	require.Len(t, tasks.Tasks, 1)
	task, err := cl.GetMaintenanceWindowTask(ctx, &ssm.GetMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: tasks.Tasks[0].WindowTaskId})
	require.NoError(t, err)
	assert.Equal(t, "AWS-RunPatchBaseline", aws.ToString(task.TaskArn))
	assert.Equal(t, ssmtypes.MaintenanceWindowTaskTypeRunCommand, task.TaskType)
	assert.Equal(t, []string{aws.ToString(targets.Targets[0].WindowTargetId)}, task.Targets[0].Values)
	assert.Equal(t, map[string][]string{"Operation": {"Install"}, "RebootOption": {"RebootIfNeeded"}}, task.TaskInvocationParameters.RunCommand.Parameters)
	assert.Equal(t, "10%", aws.ToString(task.MaxConcurrency))
	assert.Equal(t, "2", aws.ToString(task.MaxErrors))

	// Second run: no change, no write.
	writes := func() int {
		n := 0
		for _, a := range []string{"CreateMaintenanceWindow", "UpdateMaintenanceWindow", "DeleteMaintenanceWindow", "RegisterTargetWithMaintenanceWindow",
			"UpdateMaintenanceWindowTarget", "RegisterTaskWithMaintenanceWindow", "UpdateMaintenanceWindowTask"} {
			n += sb.CountCalls("ssm", a)
		}
		return n
	}
	before := writes()
	code, out, errOut = clitest.Run(t, sb, dir, "patch", "window", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "No changes: 1 maintenance window(s) match the in-place fleets.\n", out)
	assert.Equal(t, before, writes())

	// A critical kernel fix is released; the sandbox runs the window when
	// its clock passes Sunday 02:00: the worker instances are patched
	// (Install, compliance recorded), the web instance is not touched.
	_, err = sb.ReleasePatch(sandbox.PatchRelease{Package: "kernel", Severity: "Critical", Classification: "Security", CVEs: []string{"CVE-2026-4242"}})
	require.NoError(t, err)
	open := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
	sb.AdvanceClock(open.Sub(sb.Clock().Now()) + 10*time.Minute)
	exs, err := cl.DescribeMaintenanceWindowExecutions(ctx, &ssm.DescribeMaintenanceWindowExecutionsInput{WindowId: wid})
	require.NoError(t, err)
	require.Len(t, exs.WindowExecutions, 1)
	assert.Equal(t, ssmtypes.MaintenanceWindowExecutionStatusSuccess, exs.WindowExecutions[0].Status)
	assert.Equal(t, open, exs.WindowExecutions[0].StartTime.UTC())
	states, err := cl.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: append(append([]string{}, workers...), webs...)})
	require.NoError(t, err)
	require.Len(t, states.InstancePatchStates, 2, "only the worker instances have a patch state")
	for _, st := range states.InstancePatchStates {
		assert.Contains(t, workers, aws.ToString(st.InstanceId))
		assert.Equal(t, ssmtypes.PatchOperationTypeInstall, st.Operation)
		assert.Equal(t, open, st.OperationStartTime.UTC())
		assert.Zero(t, st.MissingCount)
	}
	comp, err := cl.ListResourceComplianceSummaries(ctx, &ssm.ListResourceComplianceSummariesInput{})
	require.NoError(t, err)
	assert.Len(t, comp.ResourceComplianceSummaryItems, 2)

	// The fleet's window moves and its rate control changes: the window is
	// updated in place (same id, its history kept), the task field by field.
	editFleet(t, dir, "worker", `maintenance_window = "sun-02:00-04:00"`, `maintenance_window = "sat-22:30-01:00"`)
	editFleet(t, dir, "worker", `max_errors         = "2"`, `max_errors         = "1"`)
	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "patch", "window", "apply")
	require.Equal(t, 0, code, errOut)
	var res window.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Len(t, res.Changes, 2, out)
	assert.Equal(t, "update", res.Changes[0].Action)
	assert.Equal(t, "window", res.Changes[0].Kind)
	assert.Equal(t, aws.ToString(wid), res.Changes[0].WindowID)
	assert.Equal(t, []window.FieldChange{
		{Field: "name", Old: "amibake-acme-golden-sun-0200-0400", New: "amibake-acme-golden-sat-2230-0100"},
		{Field: "schedule", Old: "cron(0 2 ? * SUN *)", New: "cron(30 22 ? * SAT *)"},
		{Field: "duration", Old: "2h", New: "3h"},
		{Field: "description", Old: "amibake acme-golden: AWS-RunPatchBaseline Install on fleet(s) worker, sun-02:00-04:00 UTC (amibake patch window apply)",
			New: "amibake acme-golden: AWS-RunPatchBaseline Install on fleet(s) worker, sat-22:30-01:00 UTC (amibake patch window apply)"},
	}, res.Changes[0].Fields)
	assert.Equal(t, "task", res.Changes[1].Kind)
	assert.Equal(t, []window.FieldChange{{Field: "max_errors", Old: "2", New: "1"}}, res.Changes[1].Fields)
	assert.False(t, res.Applied)

	code, out, errOut = clitest.Run(t, sb, dir, "patch", "window", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "~ update window amibake-acme-golden-sat-2230-0100 ("+aws.ToString(wid)+")\n    name: amibake-acme-golden-sun-0200-0400 → amibake-acme-golden-sat-2230-0100\n")
	assert.Contains(t, out, "  ~ update task amibake-worker-patch (")
	ws = windows(t, cl)
	require.Contains(t, ws, "amibake-acme-golden-sat-2230-0100")
	assert.Equal(t, aws.ToString(wid), aws.ToString(ws["amibake-acme-golden-sat-2230-0100"].WindowId))
	assert.Equal(t, "cron(30 22 ? * SAT *)", aws.ToString(ws["amibake-acme-golden-sat-2230-0100"].Schedule))
	task, err = cl.GetMaintenanceWindowTask(ctx, &ssm.GetMaintenanceWindowTaskInput{WindowId: wid, WindowTaskId: tasks.Tasks[0].WindowTaskId})
	require.NoError(t, err)
	assert.Equal(t, "1", aws.ToString(task.MaxErrors))
	code, out, _ = clitest.Run(t, sb, dir, "patch", "window", "apply")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "No changes")

	// Someone edits the task's target by hand: put back.
	_, err = cl.UpdateMaintenanceWindowTarget(ctx, &ssm.UpdateMaintenanceWindowTargetInput{WindowId: wid, WindowTargetId: targets.Targets[0].WindowTargetId,
		Targets: []ssmtypes.Target{{Key: aws.String("tag:role"), Values: []string{"everything"}}}})
	require.NoError(t, err)
	code, out, errOut = clitest.Run(t, sb, dir, "patch", "window", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "= window amibake-acme-golden-sat-2230-0100 ("+aws.ToString(wid)+")\n"+
		"  ~ update target amibake-worker ("+aws.ToString(targets.Targets[0].WindowTargetId)+")\n"+
		"      targets: tag:role=everything → tag:role=worker\n")

	// No fleet has a window any more: the project's window goes.
	editFleet(t, dir, "worker", `maintenance_window = "sat-22:30-01:00"`, ``)
	code, out, errOut = clitest.Run(t, sb, dir, "patch", "window", "apply", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "- delete window amibake-acme-golden-sat-2230-0100 ("+aws.ToString(wid)+") (no in-place fleet's maintenance_window wants it)\n")
	ws = windows(t, cl)
	assert.Len(t, ws, 1)
	assert.Contains(t, ws, "amibake-acme-golden-someone")
}

func TestWindowApplyLockHeldAndFlags(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	l := &lock.Locker{SSM: awsapi.NewClients(sb.Config).SSM(""), Name: "/amibake/acme-golden/lock", Holder: "ci:job-9", Command: "bake", TTL: time.Hour}
	_, err := l.Acquire(context.Background(), 0)
	require.NoError(t, err)

	code, _, errOut := clitest.Run(t, sb, dir, "patch", "window", "apply", "--apply")
	assert.Equal(t, 4, code)
	assert.Contains(t, errOut, "is held by ci:job-9")
	assert.Equal(t, 0, sb.CountCalls("ssm", "CreateMaintenanceWindow"))

	code, out, errOut := clitest.Run(t, sb, dir, "patch", "window", "apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Dry run")

	code, _, errOut = clitest.Run(t, sb, dir, "patch", "window", "apply", "extra")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "takes no arguments")
}

func TestWindowSkipsReplaceFleets(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	editFleet(t, dir, "web", `min_healthy_percent = 90`, "min_healthy_percent = 90\n    maintenance_window = \"sun-02:00-04:00\"")
	code, out, errOut := clitest.Run(t, sb, dir, "patch", "window", "apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Fleet web: no window task (a replace fleet is replaced by its rollouts, not patched in place).\n")
	assert.NotContains(t, out, "amibake-web")
	assert.Contains(t, out, "register task amibake-worker-patch")
}
