package sandbox

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Describe/List handlers share ssmKeep and ssmList: these pin what
// their filters keep and that an unsupported key fails the call even when
// an earlier filter has already rejected every item.
func TestSSMListFilters(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()

	window := func(name string) *string {
		out, err := cl.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String(name), Schedule: aws.String("rate(1 day)"),
			Duration: aws.Int32(2), Cutoff: 1, AllowUnassociatedTargets: true})
		require.NoError(t, err)
		return out.WindowId
	}
	web, db := window("web-patching"), window("db-patching")
	_, err := cl.UpdateMaintenanceWindow(ctx, &ssm.UpdateMaintenanceWindowInput{WindowId: db, Enabled: aws.Bool(false)})
	require.NoError(t, err)
	windows := func(fs ...ssmtypes.MaintenanceWindowFilter) ([]string, error) {
		out, err := cl.DescribeMaintenanceWindows(ctx, &ssm.DescribeMaintenanceWindowsInput{Filters: fs})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, w := range out.WindowIdentities {
			names = append(names, aws.ToString(w.Name))
		}
		return names, nil
	}
	mwf := func(k string, vs ...string) ssmtypes.MaintenanceWindowFilter {
		return ssmtypes.MaintenanceWindowFilter{Key: aws.String(k), Values: vs}
	}
	got, err := windows()
	require.NoError(t, err)
	assert.Len(t, got, 2)
	got, err = windows(mwf("Enabled", "false"))
	require.NoError(t, err)
	assert.Equal(t, []string{"db-patching"}, got)
	got, err = windows(mwf("Name", "web-patching", "nope"), mwf("Enabled", "true"))
	require.NoError(t, err)
	assert.Equal(t, []string{"web-patching"}, got)
	got, err = windows(mwf("Name", "nope"))
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = windows(mwf("Name", "nope"), mwf("Colour", "blue"))
	ssmRequireCode(t, err, "ValidationException")

	var targetIDs []string
	for _, owner := range []string{"alice", "bob"} {
		out, err := cl.RegisterTargetWithMaintenanceWindow(ctx, &ssm.RegisterTargetWithMaintenanceWindowInput{WindowId: web,
			ResourceType: ssmtypes.MaintenanceWindowResourceTypeInstance, OwnerInformation: aws.String(owner),
			Targets: []ssmtypes.Target{{Key: aws.String("tag:Patch Group"), Values: []string{"web"}}}})
		require.NoError(t, err)
		targetIDs = append(targetIDs, aws.ToString(out.WindowTargetId))
	}
	tgts, err := cl.DescribeMaintenanceWindowTargets(ctx, &ssm.DescribeMaintenanceWindowTargetsInput{WindowId: web,
		Filters: []ssmtypes.MaintenanceWindowFilter{mwf("OwnerInformation", "bob"), mwf("Type", "INSTANCE")}})
	require.NoError(t, err)
	require.Len(t, tgts.Targets, 1)
	assert.Equal(t, targetIDs[1], aws.ToString(tgts.Targets[0].WindowTargetId))
	_, err = cl.DescribeMaintenanceWindowTargets(ctx, &ssm.DescribeMaintenanceWindowTargetsInput{WindowId: web,
		Filters: []ssmtypes.MaintenanceWindowFilter{mwf("WindowTargetId", "nope"), mwf("Name", "x")}})
	ssmRequireCode(t, err, "ValidationException")

	for doc, params := range map[string]map[string][]string{"AWS-RunPatchBaseline": {"Operation": {"Scan"}}, "AWS-RunShellScript": shell("true")} {
		_, err := cl.RegisterTaskWithMaintenanceWindow(ctx, &ssm.RegisterTaskWithMaintenanceWindowInput{WindowId: web, TaskArn: aws.String(doc),
			TaskType: ssmtypes.MaintenanceWindowTaskTypeRunCommand, MaxConcurrency: aws.String("1"), MaxErrors: aws.String("0"),
			Targets:                  []ssmtypes.Target{{Key: aws.String("WindowTargetIds"), Values: targetIDs[:1]}},
			TaskInvocationParameters: &ssmtypes.MaintenanceWindowTaskInvocationParameters{RunCommand: &ssmtypes.MaintenanceWindowRunCommandParameters{Parameters: params}}})
		require.NoError(t, err)
	}
	tasks, err := cl.DescribeMaintenanceWindowTasks(ctx, &ssm.DescribeMaintenanceWindowTasksInput{WindowId: web,
		Filters: []ssmtypes.MaintenanceWindowFilter{mwf("TaskArn", "AWS-RunShellScript"), mwf("TaskType", "RUN_COMMAND")}})
	require.NoError(t, err)
	require.Len(t, tasks.Tasks, 1)
	assert.Equal(t, "AWS-RunShellScript", aws.ToString(tasks.Tasks[0].TaskArn))
	_, err = cl.DescribeMaintenanceWindowTasks(ctx, &ssm.DescribeMaintenanceWindowTasksInput{WindowId: web,
		Filters: []ssmtypes.MaintenanceWindowFilter{mwf("Priority", "1")}})
	ssmRequireCode(t, err, "ValidationException")

	securityBaseline(t, cl, "team-security", 0)
	baselines := func(fs ...ssmtypes.PatchOrchestratorFilter) ([]string, error) {
		out, err := cl.DescribePatchBaselines(ctx, &ssm.DescribePatchBaselinesInput{Filters: fs})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, b := range out.BaselineIdentities {
			names = append(names, aws.ToString(b.BaselineName))
		}
		return names, nil
	}
	pof := func(k string, vs ...string) ssmtypes.PatchOrchestratorFilter {
		return ssmtypes.PatchOrchestratorFilter{Key: aws.String(k), Values: vs}
	}
	all, err := baselines()
	require.NoError(t, err)
	assert.Greater(t, len(all), 1, "the AWS baselines and ours")
	got, err = baselines(pof("OWNER", "Self"))
	require.NoError(t, err)
	assert.Equal(t, []string{"team-security"}, got)
	got, err = baselines(pof("NAME_PREFIX", "team-"), pof("OPERATING_SYSTEM", "AMAZON_LINUX_2023"))
	require.NoError(t, err)
	assert.Equal(t, []string{"team-security"}, got)
	got, err = baselines(pof("OWNER", "AWS"), pof("NAME_PREFIX", "team-"))
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = baselines(pof("NAME_PREFIX", "nope"), pof("PRODUCT", "x"))
	ssmRequireCode(t, err, "ValidationException")

	for _, name := range []string{"team-runbook", "other-runbook"} {
		_, err := cl.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String(name), Content: aws.String(testRunbookYAML),
			DocumentType: ssmtypes.DocumentTypeAutomation, DocumentFormat: ssmtypes.DocumentFormatYaml,
			Tags: []ssmtypes.Tag{{Key: aws.String("owner"), Value: aws.String(name)}}})
		require.NoError(t, err)
	}
	docs := func(fs ...ssmtypes.DocumentKeyValuesFilter) ([]string, error) {
		out, err := cl.ListDocuments(ctx, &ssm.ListDocumentsInput{Filters: fs})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, d := range out.DocumentIdentifiers {
			names = append(names, aws.ToString(d.Name))
		}
		return names, nil
	}
	dkf := func(k string, vs ...string) ssmtypes.DocumentKeyValuesFilter {
		return ssmtypes.DocumentKeyValuesFilter{Key: aws.String(k), Values: vs}
	}
	got, err = docs(dkf("Owner", "Self"))
	require.NoError(t, err)
	assert.Equal(t, []string{"other-runbook", "team-runbook"}, got)
	got, err = docs(dkf("Name", "team-"), dkf("DocumentType", "Automation"))
	require.NoError(t, err)
	assert.Equal(t, []string{"team-runbook"}, got)
	got, err = docs(dkf("tag:owner", "other-runbook"))
	require.NoError(t, err)
	assert.Equal(t, []string{"other-runbook"}, got)
	_, err = docs(dkf("Name", "nope"), dkf("Colour", "blue"))
	ssmRequireCode(t, err, "InvalidFilterKey")
}

func TestSSMListShape(t *testing.T) {
	b, err := json.Marshal(ssmListOf("Items", []string(nil), ""))
	require.NoError(t, err)
	assert.JSONEq(t, `{"Items":[]}`, string(b), "an empty page is [], and no NextToken when done")
	b, err = json.Marshal(ssmList("Items", []int{1, 2}, "tok", func(i int) map[string]int { return map[string]int{"N": i * 10} }))
	require.NoError(t, err)
	assert.JSONEq(t, `{"Items":[{"N":10},{"N":20}],"NextToken":"tok"}`, string(b))
}
