package associate_test

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
	"github.com/amibake/amibake/internal/cmd/patch/associate"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/sandbox"
)

func listByName(t *testing.T, cl *ssm.Client) map[string]ssmtypes.Association {
	t.Helper()
	out := map[string]ssmtypes.Association{}
	p := ssm.NewListAssociationsPaginator(cl, &ssm.ListAssociationsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, a := range page.Associations {
			out[aws.ToString(a.AssociationName)] = a
		}
	}
	return out
}

func TestAssociateCreatesIsIdempotentUpdatesAndRuns(t *testing.T) {
	timing := sandbox.ZeroTiming()
	sb := sandbox.Start(t, func(o *sandbox.Options) { o.Mode, o.Timing = sandbox.ClockManual, &timing })
	dir := channeltest.CopyProject(t)
	fam := channeltest.SeedFamily(t, sb, channeltest.Project, "ami-source")
	ctx := context.Background()
	clients := awsapi.NewClients(sb.Config)
	cl := ssm.NewFromConfig(sb.Config)

	// Two workers (the in-place fleet, by tag role=worker).
	run, err := clients.EC2("us-east-1").RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(fam.AppWorker.Home()), InstanceType: "t3.small",
		MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("role"), Value: aws.String("worker")}}}}})
	require.NoError(t, err)
	var workers []string
	for _, i := range run.Instances {
		workers = append(workers, aws.ToString(i.InstanceId))
	}
	sb.AdvanceClock(time.Second)

	// Dry run: four creates, nothing made.
	code, out, errOut := clitest.Run(t, sb, dir, "patch", "associate")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "+ create association amibake-acme-golden-web-scan\n"+
		"    document: AWS-RunPatchBaseline\n"+
		"    targets: tag:aws:autoscaling:groupName=web-prod-a,web-prod-b\n"+
		"    schedule: cron(0 3 * * ? *)\n"+
		"    parameters: Operation=Scan\n")
	assert.Contains(t, out, "+ create association amibake-acme-golden-worker-inventory\n"+
		"    document: AWS-GatherSoftwareInventory\n"+
		"    targets: tag:role=worker\n"+
		"    schedule: rate(1 day)\n"+
		"    parameters: applications=Enabled\n"+
		"    max_concurrency: 10%\n"+
		"    max_errors: 2\n")
	assert.Contains(t, out, "4 change(s). Dry run")
	assert.Empty(t, listByName(t, cl))
	assert.Equal(t, 0, sb.CountCalls("ssm", "CreateAssociation"))

	// A stale association of the project goes, someone else's stays.
	for _, name := range []string{"amibake-acme-golden-gone-scan", "someone-else"} {
		_, err := cl.CreateAssociation(ctx, &ssm.CreateAssociationInput{Name: aws.String("AWS-GatherSoftwareInventory"), AssociationName: aws.String(name),
			Targets: []ssmtypes.Target{{Key: aws.String("tag:role"), Values: []string{"nobody"}}}, ScheduleExpression: aws.String("rate(1 day)")})
		require.NoError(t, err)
	}

	code, out, errOut = clitest.Run(t, sb, dir, "patch", "associate", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "- delete association amibake-acme-golden-gone-scan (")
	assert.NotContains(t, out, "someone-else")
	assert.Contains(t, out, "Applied 5 change(s).")
	got := listByName(t, cl)
	assert.Len(t, got, 5)
	assert.Contains(t, got, "someone-else")
	scanID := got["amibake-acme-golden-worker-scan"].AssociationId
	d, err := cl.DescribeAssociation(ctx, &ssm.DescribeAssociationInput{AssociationId: scanID})
	require.NoError(t, err)
	assert.Equal(t, "10%", aws.ToString(d.AssociationDescription.MaxConcurrency))
	assert.Equal(t, "2", aws.ToString(d.AssociationDescription.MaxErrors))
	assert.Equal(t, "cron(0 3 * * ? *)", aws.ToString(d.AssociationDescription.ScheduleExpression))

	// Second run: nothing to do, nothing called.
	creates, updates := sb.CountCalls("ssm", "CreateAssociation"), sb.CountCalls("ssm", "UpdateAssociation")
	code, out, errOut = clitest.Run(t, sb, dir, "patch", "associate", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "No changes: State Manager associations match the fleets.\n", out)
	assert.Equal(t, creates, sb.CountCalls("ssm", "CreateAssociation"))
	assert.Equal(t, updates, sb.CountCalls("ssm", "UpdateAssociation"))

	// Someone changes the schedule and rate control: updated field by field.
	_, err = cl.UpdateAssociation(ctx, &ssm.UpdateAssociationInput{AssociationId: scanID, AssociationName: aws.String("amibake-acme-golden-worker-scan"),
		Parameters: d.AssociationDescription.Parameters, ScheduleExpression: aws.String("cron(0 5 * * ? *)"),
		MaxConcurrency: aws.String("10%"), MaxErrors: aws.String("5")})
	require.NoError(t, err)
	code, out, errOut = clitest.Run(t, sb, dir, "-o", "json", "patch", "associate")
	require.Equal(t, 0, code, errOut)
	var res associate.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Len(t, res.Changes, 1)
	assert.Equal(t, associate.Change{Action: "update", Association: "amibake-acme-golden-worker-scan", AssociationID: aws.ToString(scanID), Fleet: "worker",
		Fields: []associate.FieldChange{{Field: "schedule", Old: "cron(0 5 * * ? *)", New: "cron(0 3 * * ? *)"}, {Field: "max_errors", Old: "5", New: "2"}}},
		res.Changes[0])
	assert.False(t, res.Applied)
	code, out, errOut = clitest.Run(t, sb, dir, "patch", "associate", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "~ update association amibake-acme-golden-worker-scan ("+aws.ToString(scanID)+")\n    schedule: cron(0 5 * * ? *) → cron(0 3 * * ? *)\n    max_errors: 5 → 2\n")
	code, out, _ = clitest.Run(t, sb, dir, "patch", "associate")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "No changes")

	// The sandbox runs the scan association when its clock passes 03:00:
	// compliance data appears for the fleet's instances.
	before, err := cl.DescribeAssociationExecutions(ctx, &ssm.DescribeAssociationExecutionsInput{AssociationId: scanID})
	require.NoError(t, err)
	now := sb.Clock().Now().UTC()
	next3 := time.Date(now.Year(), now.Month(), now.Day(), 3, 0, 0, 0, time.UTC)
	if !next3.After(now) {
		next3 = next3.AddDate(0, 0, 1)
	}
	sb.AdvanceClock(next3.Sub(now) + time.Minute)
	after, err := cl.DescribeAssociationExecutions(ctx, &ssm.DescribeAssociationExecutionsInput{AssociationId: scanID})
	require.NoError(t, err)
	require.Len(t, after.AssociationExecutions, len(before.AssociationExecutions)+1)
	assert.Equal(t, "Success", aws.ToString(after.AssociationExecutions[0].Status))
	assert.Equal(t, next3, after.AssociationExecutions[0].CreatedTime.UTC())
	states, err := cl.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: workers})
	require.NoError(t, err)
	require.Len(t, states.InstancePatchStates, 2)
	for _, st := range states.InstancePatchStates {
		assert.Equal(t, ssmtypes.PatchOperationTypeScan, st.Operation)
		assert.Equal(t, next3, st.OperationStartTime.UTC())
	}
	comp, err := cl.ListResourceComplianceSummaries(ctx, &ssm.ListResourceComplianceSummariesInput{})
	require.NoError(t, err)
	assert.Len(t, comp.ResourceComplianceSummaryItems, 2)

	// max_errors removed from the HCL: updated to SSM's default (cleared).
	hcl := filepath.Join(dir, "fleets", "worker.hcl")
	src, err := os.ReadFile(hcl)
	require.NoError(t, err)
	edited := strings.Replace(string(src), `max_errors         = "2"`, "", 1)
	require.NotEqual(t, string(src), edited)
	require.NoError(t, os.WriteFile(hcl, []byte(edited), 0o644))
	code, out, errOut = clitest.Run(t, sb, dir, "patch", "associate", "--apply")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "~ update association amibake-acme-golden-worker-scan ("+aws.ToString(scanID)+")\n    max_errors: 2 → (unset)\n")
	assert.Contains(t, out, "Applied 2 change(s).")
	d, err = cl.DescribeAssociation(ctx, &ssm.DescribeAssociationInput{AssociationId: scanID})
	require.NoError(t, err)
	assert.Empty(t, aws.ToString(d.AssociationDescription.MaxErrors))
	assert.Equal(t, "10%", aws.ToString(d.AssociationDescription.MaxConcurrency))
	assert.Equal(t, "amibake-acme-golden-worker-scan", aws.ToString(d.AssociationDescription.AssociationName))
	code, out, _ = clitest.Run(t, sb, dir, "patch", "associate")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "No changes")
}

func TestAssociateLockHeld(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	l := &lock.Locker{SSM: awsapi.NewClients(sb.Config).SSM(""), Name: "/amibake/acme-golden/lock", Holder: "ci:job-9", Command: "bake", TTL: time.Hour}
	_, err := l.Acquire(context.Background(), 0)
	require.NoError(t, err)

	code, _, errOut := clitest.Run(t, sb, dir, "patch", "associate", "--apply")
	assert.Equal(t, 4, code)
	assert.Contains(t, errOut, "is held by ci:job-9")
	assert.Equal(t, 0, sb.CountCalls("ssm", "CreateAssociation"))

	// The dry run never takes the lock.
	code, out, errOut := clitest.Run(t, sb, dir, "patch", "associate")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Dry run")
}

func TestAssociateFlags(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	code, _, errOut := clitest.Run(t, sb, dir, "patch", "associate", "extra")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "takes no arguments")
}
