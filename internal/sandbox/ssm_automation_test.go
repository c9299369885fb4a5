package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func latestAL2023(t *testing.T, sb *Sandbox) (string, Content) {
	t.Helper()
	var id string
	var content Content
	sb.Do(func(w *World) {
		img := w.LatestAmazonLinux(DefaultRegion, "x86_64", false)
		if img == nil {
			img = seedAmazonImage(w, DefaultRegion, "al2023-ami-2023.0.20000101.0-kernel-6.1-x86_64", "x86_64", sb.Clock().Now())
		}
		id, content = img.ID, img.Content.Clone()
	})
	return id, content
}

func TestUpdateLinuxAmiAutomation(t *testing.T) {
	timing := Timing{InstancePending: 20 * time.Second, InstanceStopping: 30 * time.Second, InstanceShutdown: 20 * time.Second,
		CommandRun: 40 * time.Second, ImageCreate: 3 * time.Minute}
	sb := Start(t, func(o *Options) { o.Mode = ClockManual; o.Timing = &timing })
	cl := ssmClient(sb)
	ctx := context.Background()
	src, srcContent := latestAL2023(t, sb)

	out, err := cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("AWS-UpdateLinuxAmi"),
		Parameters: map[string][]string{"SourceAmiId": {src}, "IamInstanceProfileName": {"amibake-build"}, "TargetAmiName": {"patched-{{SourceAmiId}}"},
			"PostUpdateScript": {"dnf install -y jq"}},
		Tags: []ssmtypes.Tag{{Key: aws.String("purpose"), Value: aws.String("test")}}})
	require.NoError(t, err)
	id := out.AutomationExecutionId

	get := func() *ssmtypes.AutomationExecution {
		g, err := cl.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: id})
		require.NoError(t, err)
		return g.AutomationExecution
	}
	a := get()
	assert.Equal(t, ssmtypes.AutomationExecutionStatusInprogress, a.AutomationExecutionStatus)
	assert.Equal(t, "launchInstance", aws.ToString(a.CurrentStepName))
	require.Len(t, a.StepExecutions, 5)

	sb.AdvanceClock(20 * time.Second)
	a = get()
	assert.Equal(t, "updateOSSoftware", aws.ToString(a.CurrentStepName))
	assert.Equal(t, ssmtypes.AutomationExecutionStatusSuccess, a.StepExecutions[0].StepStatus)
	instanceID := a.StepExecutions[0].Outputs["InstanceIds"][0]

	sb.AdvanceClock(40 * time.Second)
	assert.Equal(t, "stopInstance", aws.ToString(get().CurrentStepName))
	sb.AdvanceClock(30 * time.Second)
	assert.Equal(t, "createImage", aws.ToString(get().CurrentStepName))
	sb.AdvanceClock(3 * time.Minute)
	assert.Equal(t, "terminateInstance", aws.ToString(get().CurrentStepName))
	sb.AdvanceClock(20 * time.Second)
	a = get()
	require.Equal(t, ssmtypes.AutomationExecutionStatusSuccess, a.AutomationExecutionStatus, aws.ToString(a.FailureMessage))
	assert.Equal(t, 4*time.Minute+50*time.Second, aws.ToTime(a.ExecutionEndTime).Sub(aws.ToTime(a.ExecutionStartTime)))
	require.Len(t, a.Outputs["createImage.ImageId"], 1)
	imageID := a.Outputs["createImage.ImageId"][0]

	// The image is a real EC2 image: available, named, carrying the update.
	e := ec2.NewFromConfig(sb.Config)
	imgs, err := e.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{imageID}})
	require.NoError(t, err)
	require.Len(t, imgs.Images, 1)
	assert.Equal(t, "patched-"+src, aws.ToString(imgs.Images[0].Name))
	assert.Equal(t, "available", string(imgs.Images[0].State))
	content, ok := sb.ContentOf(imageID)
	require.True(t, ok)
	require.Len(t, content.Steps, len(srcContent.Steps)+1)
	assert.Equal(t, "AWS-UpdateLinuxAmi/updateOSSoftware", content.Steps[len(content.Steps)-1].Name)
	assert.Contains(t, content.Packages, "jq")
	sb.Do(func(w *World) {
		for name, v := range content.Packages {
			if latest := w.Catalogue.Latest(name, sb.Clock().Now()); latest != "" {
				assert.Equal(t, latest, v, name)
			}
		}
		assert.Equal(t, StateTerminated, w.EC2.Instances[instanceID].State)
	})

	// The update ran as a command anyone can list.
	cmds, err := cl.ListCommands(ctx, &ssm.ListCommandsInput{InstanceId: aws.String(instanceID)})
	require.NoError(t, err)
	require.Len(t, cmds.Commands, 1)
	assert.Equal(t, ssmtypes.CommandStatusSuccess, cmds.Commands[0].Status)

	steps, err := cl.DescribeAutomationStepExecutions(ctx, &ssm.DescribeAutomationStepExecutionsInput{AutomationExecutionId: id, ReverseOrder: aws.Bool(true)})
	require.NoError(t, err)
	require.Len(t, steps.StepExecutions, 5)
	assert.Equal(t, "terminateInstance", aws.ToString(steps.StepExecutions[0].StepName))

	list, err := cl.DescribeAutomationExecutions(ctx, &ssm.DescribeAutomationExecutionsInput{Filters: []ssmtypes.AutomationExecutionFilter{
		{Key: ssmtypes.AutomationExecutionFilterKeyDocumentNamePrefix, Values: []string{"AWS-Update"}},
		{Key: ssmtypes.AutomationExecutionFilterKeyExecutionStatus, Values: []string{"Success"}}}})
	require.NoError(t, err)
	require.Len(t, list.AutomationExecutionMetadataList, 1)
	assert.Equal(t, aws.ToString(id), aws.ToString(list.AutomationExecutionMetadataList[0].AutomationExecutionId))
}

func TestAutomationErrorsAndStop(t *testing.T) {
	timing := Timing{InstancePending: time.Minute, CommandRun: time.Minute}
	sb := Start(t, func(o *Options) { o.Mode = ClockManual; o.Timing = &timing })
	cl := ssmClient(sb)
	ctx := context.Background()
	src, _ := latestAL2023(t, sb)

	_, err := cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("AWS-Nope")})
	var nf *ssmtypes.AutomationDefinitionNotFoundException
	require.ErrorAs(t, err, &nf)
	_, err = cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("AWS-UpdateLinuxAmi")})
	var badParams *ssmtypes.InvalidAutomationExecutionParametersException
	require.ErrorAs(t, err, &badParams)
	_, err = cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("AWS-UpdateLinuxAmi"),
		Parameters: map[string][]string{"SourceAmiId": {src}, "Colour": {"red"}}})
	require.ErrorAs(t, err, &badParams)
	_, err = cl.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: aws.String("00000000-0000-4000-a000-000000000000")})
	var enf *ssmtypes.AutomationExecutionNotFoundException
	require.ErrorAs(t, err, &enf)

	// A bad AMI fails the first step.
	out, err := cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("AWS-UpdateLinuxAmi"),
		Parameters: map[string][]string{"SourceAmiId": {"ami-0123456789abcdef0"}}})
	require.NoError(t, err)
	g, err := cl.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: out.AutomationExecutionId})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.AutomationExecutionStatusFailed, g.AutomationExecution.AutomationExecutionStatus)
	assert.Contains(t, aws.ToString(g.AutomationExecution.FailureMessage), "InvalidAMIID.NotFound")
	assert.Equal(t, ssmtypes.AutomationExecutionStatusFailed, g.AutomationExecution.StepExecutions[0].StepStatus)
	assert.Equal(t, ssmtypes.AutomationExecutionStatusCancelled, g.AutomationExecution.StepExecutions[1].StepStatus)

	// A failing update script fails the execution at updateOSSoftware.
	out, err = cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("AWS-UpdateLinuxAmi"),
		Parameters: map[string][]string{"SourceAmiId": {src}, "PreUpdateScript": {"exit 2"}}})
	require.NoError(t, err)
	sb.AdvanceClock(5 * time.Minute)
	g, err = cl.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: out.AutomationExecutionId})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.AutomationExecutionStatusFailed, g.AutomationExecution.AutomationExecutionStatus)
	assert.Equal(t, "updateOSSoftware", aws.ToString(g.AutomationExecution.CurrentStepName))
	assert.True(t, strings.Contains(aws.ToString(g.AutomationExecution.FailureMessage), "Failed"), aws.ToString(g.AutomationExecution.FailureMessage))

	// Stop: cancelled, and its instance goes away.
	out, err = cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("AWS-UpdateLinuxAmi"),
		Parameters: map[string][]string{"SourceAmiId": {src}}})
	require.NoError(t, err)
	sb.AdvanceClock(30 * time.Second)
	_, err = cl.StopAutomationExecution(ctx, &ssm.StopAutomationExecutionInput{AutomationExecutionId: out.AutomationExecutionId})
	require.NoError(t, err)
	sb.AdvanceClock(5 * time.Minute)
	g, err = cl.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: out.AutomationExecutionId})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.AutomationExecutionStatusCancelled, g.AutomationExecution.AutomationExecutionStatus)
	inst := g.AutomationExecution.StepExecutions[0].Outputs["InstanceIds"][0]
	sb.Do(func(w *World) { assert.Equal(t, StateTerminated, w.EC2.Instances[inst].State) })
	_, err = cl.StopAutomationExecution(ctx, &ssm.StopAutomationExecutionInput{AutomationExecutionId: out.AutomationExecutionId})
	var badUpdate *ssmtypes.InvalidAutomationStatusUpdateException
	require.ErrorAs(t, err, &badUpdate)

	var all []ssmtypes.AutomationExecutionMetadata
	pg := ssm.NewDescribeAutomationExecutionsPaginator(cl, &ssm.DescribeAutomationExecutionsInput{MaxResults: aws.Int32(2)})
	for pg.HasMorePages() {
		p, err := pg.NextPage(ctx)
		require.NoError(t, err)
		all = append(all, p.AutomationExecutionMetadataList...)
	}
	assert.Len(t, all, 3)
	assert.Equal(t, ssmtypes.AutomationExecutionStatusCancelled, all[0].AutomationExecutionStatus, "newest first")
}
