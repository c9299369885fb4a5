package sandbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAssociationRunsOnScheduleAndReportsCompliance(t *testing.T) {
	sb := Start(t, func(o *Options) { o.Mode = ClockManual })
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 2, Tags{"Fleet": "web"})

	out, err := cl.CreateAssociation(ctx, &ssm.CreateAssociationInput{
		Name:                    aws.String("AWS-RunPatchBaseline"),
		AssociationName:         aws.String("amibake-acme-web-scan"),
		Targets:                 []ssmtypes.Target{{Key: aws.String("tag:Fleet"), Values: []string{"web"}}},
		Parameters:              map[string][]string{"Operation": {"Scan"}},
		ScheduleExpression:      aws.String("cron(0 3 * * ? *)"),
		MaxConcurrency:          aws.String("50%"),
		MaxErrors:               aws.String("1"),
		ComplianceSeverity:      ssmtypes.AssociationComplianceSeverityCritical,
		ApplyOnlyAtCronInterval: true,
	})
	require.NoError(t, err)
	id := aws.ToString(out.AssociationDescription.AssociationId)
	assert.Equal(t, "1", aws.ToString(out.AssociationDescription.AssociationVersion))

	// ApplyOnlyAtCronInterval: nothing runs before the first 03:00.
	states, err := cl.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: ids})
	require.NoError(t, err)
	assert.Empty(t, states.InstancePatchStates)

	sb.AdvanceClock(25 * time.Hour)
	states, err = cl.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: ids})
	require.NoError(t, err)
	require.Len(t, states.InstancePatchStates, 2)
	for _, st := range states.InstancePatchStates {
		assert.Equal(t, ssmtypes.PatchOperationTypeScan, st.Operation)
		assert.Equal(t, 3, st.OperationStartTime.UTC().Hour())
	}
	sums, err := cl.ListResourceComplianceSummaries(ctx, &ssm.ListResourceComplianceSummariesInput{})
	require.NoError(t, err)
	assert.NotEmpty(t, sums.ResourceComplianceSummaryItems)

	d, err := cl.DescribeAssociation(ctx, &ssm.DescribeAssociationInput{AssociationId: &id})
	require.NoError(t, err)
	desc := d.AssociationDescription
	assert.Equal(t, "Success", aws.ToString(desc.Overview.Status))
	assert.Equal(t, int32(2), desc.Overview.AssociationStatusAggregatedCount["Success"])
	assert.Equal(t, "50%", aws.ToString(desc.MaxConcurrency))
	assert.Equal(t, "1", aws.ToString(desc.MaxErrors))
	assert.Equal(t, []string{"Scan"}, desc.Parameters["Operation"])
	assert.True(t, desc.ApplyOnlyAtCronInterval)
	require.NotNil(t, desc.LastExecutionDate)

	ex, err := cl.DescribeAssociationExecutions(ctx, &ssm.DescribeAssociationExecutionsInput{AssociationId: &id})
	require.NoError(t, err)
	require.Len(t, ex.AssociationExecutions, 1)
	assert.Equal(t, "Success", aws.ToString(ex.AssociationExecutions[0].Status))

	// The command is an ordinary Run Command command.
	cmds, err := cl.ListCommands(ctx, &ssm.ListCommandsInput{})
	require.NoError(t, err)
	require.Len(t, cmds.Commands, 1)
	assert.Equal(t, "AWS-RunPatchBaseline", aws.ToString(cmds.Commands[0].DocumentName))
	assert.Equal(t, "50%", aws.ToString(cmds.Commands[0].MaxConcurrency))
}

func TestAssociationRunsAtCreationAndInventory(t *testing.T) {
	sb := Start(t, func(o *Options) { o.Mode = ClockManual })
	cl := ssmClient(sb)
	ctx := context.Background()
	ids := launchManaged(t, sb, 1, Tags{"Fleet": "api"})

	_, err := cl.CreateAssociation(ctx, &ssm.CreateAssociationInput{
		Name:               aws.String("AWS-RunPatchBaseline"),
		Targets:            []ssmtypes.Target{{Key: aws.String("InstanceIds"), Values: ids}},
		Parameters:         map[string][]string{"Operation": {"Scan"}},
		ScheduleExpression: aws.String("rate(1 day)"),
	})
	require.NoError(t, err)
	sb.AdvanceClock(10 * time.Minute) // the scan's run time
	states, err := cl.DescribeInstancePatchStates(ctx, &ssm.DescribeInstancePatchStatesInput{InstanceIds: ids})
	require.NoError(t, err)
	require.Len(t, states.InstancePatchStates, 1, "runs once at creation")

	inv, err := cl.CreateAssociation(ctx, &ssm.CreateAssociationInput{
		Name:               aws.String("AWS-GatherSoftwareInventory"),
		AssociationName:    aws.String("inv"),
		Targets:            []ssmtypes.Target{{Key: aws.String("tag:Fleet"), Values: []string{"api"}}},
		Parameters:         map[string][]string{"applications": {"Enabled"}},
		ScheduleExpression: aws.String("rate(1 day)"),
	})
	require.NoError(t, err)
	d, err := cl.DescribeAssociation(ctx, &ssm.DescribeAssociationInput{AssociationId: inv.AssociationDescription.AssociationId})
	require.NoError(t, err)
	assert.Equal(t, "Success", aws.ToString(d.AssociationDescription.Overview.Status))
	entries, err := cl.ListInventoryEntries(ctx, &ssm.ListInventoryEntriesInput{InstanceId: &ids[0], TypeName: aws.String("AWS:Application")})
	require.NoError(t, err)
	assert.NotEmpty(t, entries.Entries)

	// A rate schedule runs every period after creation.
	sb.AdvanceClock(48*time.Hour + time.Second)
	ex, err := cl.DescribeAssociationExecutions(ctx, &ssm.DescribeAssociationExecutionsInput{AssociationId: inv.AssociationDescription.AssociationId})
	require.NoError(t, err)
	assert.Len(t, ex.AssociationExecutions, 3)
}

func TestAssociationCRUDAndErrors(t *testing.T) {
	sb := Start(t, func(o *Options) { o.Mode = ClockManual })
	cl := ssmClient(sb)
	ctx := context.Background()
	tgt := []ssmtypes.Target{{Key: aws.String("tag:Fleet"), Values: []string{"none"}}}

	var ids []string
	for i := 0; i < 7; i++ {
		out, err := cl.CreateAssociation(ctx, &ssm.CreateAssociationInput{
			Name: aws.String("AWS-GatherSoftwareInventory"), AssociationName: aws.String(fmt.Sprintf("amibake-p-f%d-inventory", i)),
			Targets: tgt, ScheduleExpression: aws.String("cron(0 3 * * ? *)"),
		})
		require.NoError(t, err)
		ids = append(ids, aws.ToString(out.AssociationDescription.AssociationId))
	}
	// Pagination and filters.
	var names []string
	p := ssm.NewListAssociationsPaginator(cl, &ssm.ListAssociationsInput{MaxResults: aws.Int32(3)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		pages++
		for _, a := range page.Associations {
			names = append(names, aws.ToString(a.AssociationName))
		}
	}
	assert.Equal(t, 3, pages)
	assert.Len(t, names, 7)
	f, err := cl.ListAssociations(ctx, &ssm.ListAssociationsInput{AssociationFilterList: []ssmtypes.AssociationFilter{
		{Key: ssmtypes.AssociationFilterKeyAssociationName, Value: aws.String("amibake-p-f2-inventory")}}})
	require.NoError(t, err)
	require.Len(t, f.Associations, 1)
	assert.Equal(t, ids[2], aws.ToString(f.Associations[0].AssociationId))
	assert.Equal(t, "cron(0 3 * * ? *)", aws.ToString(f.Associations[0].ScheduleExpression))

	// Update: a new version; as on AWS, optional members left out are
	// cleared (the name here), the document and targets stay.
	up, err := cl.UpdateAssociation(ctx, &ssm.UpdateAssociationInput{AssociationId: &ids[0], ScheduleExpression: aws.String("cron(0 4 * * ? *)"),
		MaxConcurrency: aws.String("2")})
	require.NoError(t, err)
	assert.Equal(t, "2", aws.ToString(up.AssociationDescription.AssociationVersion))
	assert.Empty(t, aws.ToString(up.AssociationDescription.AssociationName))
	assert.Equal(t, "2", aws.ToString(up.AssociationDescription.MaxConcurrency))
	assert.Equal(t, "cron(0 4 * * ? *)", aws.ToString(up.AssociationDescription.ScheduleExpression))
	assert.Equal(t, "AWS-GatherSoftwareInventory", aws.ToString(up.AssociationDescription.Name))
	assert.Equal(t, "tag:Fleet", aws.ToString(up.AssociationDescription.Targets[0].Key))
	up, err = cl.UpdateAssociation(ctx, &ssm.UpdateAssociationInput{AssociationId: &ids[0], AssociationName: aws.String("amibake-p-f0-inventory"),
		ScheduleExpression: aws.String("cron(0 4 * * ? *)")})
	require.NoError(t, err)
	assert.Equal(t, "3", aws.ToString(up.AssociationDescription.AssociationVersion))
	assert.Equal(t, "amibake-p-f0-inventory", aws.ToString(up.AssociationDescription.AssociationName))
	assert.Empty(t, aws.ToString(up.AssociationDescription.MaxConcurrency))
	_, err = cl.UpdateAssociation(ctx, &ssm.UpdateAssociationInput{AssociationId: &ids[0], AssociationVersion: aws.String("1")})
	ssmRequireCode(t, err, "InvalidAssociationVersion")

	// Errors.
	_, err = cl.CreateAssociation(ctx, &ssm.CreateAssociationInput{Name: aws.String("No-Such-Doc"), Targets: tgt})
	ssmRequireCode(t, err, "InvalidDocument")
	_, err = cl.CreateAssociation(ctx, &ssm.CreateAssociationInput{Name: aws.String("AWS-RunPatchBaseline"), Targets: tgt,
		ScheduleExpression: aws.String("rate(5 minutes)")})
	ssmRequireCode(t, err, "InvalidSchedule")
	_, err = cl.CreateAssociation(ctx, &ssm.CreateAssociationInput{Name: aws.String("AWS-RunPatchBaseline"), Targets: tgt,
		ScheduleExpression: aws.String("cron(0 3 * * SUN *)")})
	ssmRequireCode(t, err, "InvalidSchedule")
	_, err = cl.CreateAssociation(ctx, &ssm.CreateAssociationInput{Name: aws.String("AWS-RunPatchBaseline"), Targets: tgt,
		Parameters: map[string][]string{"Operation": {"Reboot"}}})
	ssmRequireCode(t, err, "InvalidParameters")
	var exists *ssmtypes.AssociationAlreadyExists
	_, err = cl.CreateAssociation(ctx, &ssm.CreateAssociationInput{
		Name: aws.String("AWS-GatherSoftwareInventory"), AssociationName: aws.String("amibake-p-f1-inventory"),
		Targets: tgt, ScheduleExpression: aws.String("cron(0 3 * * ? *)")})
	require.ErrorAs(t, err, &exists)

	// Delete.
	_, err = cl.DeleteAssociation(ctx, &ssm.DeleteAssociationInput{AssociationId: &ids[1]})
	require.NoError(t, err)
	var missing *ssmtypes.AssociationDoesNotExist
	_, err = cl.DescribeAssociation(ctx, &ssm.DescribeAssociationInput{AssociationId: &ids[1]})
	require.ErrorAs(t, err, &missing)
	_, err = cl.DeleteAssociation(ctx, &ssm.DeleteAssociationInput{AssociationId: &ids[1]})
	require.ErrorAs(t, err, &missing)
}
