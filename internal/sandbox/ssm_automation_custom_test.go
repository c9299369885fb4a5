package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A runbook in the style of AWS-UpdateLinuxAmi that patches with
// AWS-RunPatchBaseline instead of dnf upgrade.
const patchRunbookJSON = `{
  "schemaVersion": "0.3",
  "description": "patch rebake",
  "parameters": {
    "SourceAmiId": {"type": "String"},
    "PatchGroup": {"type": "String", "default": ""},
    "TargetAmiName": {"type": "String"},
    "BuildId": {"type": "String"}
  },
  "mainSteps": [
    {"name": "launchInstance", "action": "aws:runInstances", "onFailure": "Abort", "inputs": {
      "ImageId": "{{ SourceAmiId }}", "InstanceType": "t3.small", "MinInstanceCount": 1, "MaxInstanceCount": 1,
      "TagSpecifications": [{"ResourceType": "instance", "Tags": [
        {"Key": "Patch Group", "Value": "{{ PatchGroup }}"}, {"Key": "build", "Value": "{{ BuildId }}"}]}]}},
    {"name": "installPatches", "action": "aws:runCommand", "inputs": {
      "DocumentName": "AWS-RunPatchBaseline", "InstanceIds": "{{ launchInstance.InstanceIds }}",
      "Parameters": {"Operation": "Install", "RebootOption": "NoReboot"}}},
    {"name": "stopInstance", "action": "aws:changeInstanceState", "inputs": {
      "InstanceIds": "{{ launchInstance.InstanceIds }}", "DesiredState": "stopped"}},
    {"name": "createImage", "action": "aws:createImage", "inputs": {
      "InstanceId": "{{ launchInstance.InstanceIds }}", "ImageName": "{{ TargetAmiName }}", "NoReboot": true,
      "ImageDescription": "patched {{ SourceAmiId }} in {{ automation:EXECUTION_ID }}"}},
    {"name": "tagImage", "action": "aws:createTags", "inputs": {
      "ResourceType": "EC2", "ResourceIds": ["{{ createImage.ImageId }}"],
      "Tags": [{"Key": "build", "Value": "{{ BuildId }}"}]}},
    {"name": "terminateInstance", "action": "aws:changeInstanceState", "isEnd": true, "inputs": {
      "InstanceIds": "{{ launchInstance.InstanceIds }}", "DesiredState": "terminated"}}
  ],
  "outputs": ["createImage.ImageId"]
}`

func createPatchRunbook(t *testing.T, cl *ssm.Client) {
	t.Helper()
	_, err := cl.CreateDocument(context.Background(), &ssm.CreateDocumentInput{Name: aws.String("patch-rebake"),
		Content: aws.String(patchRunbookJSON), DocumentType: ssmtypes.DocumentTypeAutomation, DocumentFormat: ssmtypes.DocumentFormatJson})
	require.NoError(t, err)
}

func TestCustomAutomationPatchesAndImages(t *testing.T) {
	timing := Timing{InstancePending: 20 * time.Second, InstanceStopping: 30 * time.Second, InstanceShutdown: 20 * time.Second,
		CommandRun: 40 * time.Second, PatchInstall: 2 * time.Minute, ImageCreate: 3 * time.Minute}
	sb := Start(t, func(o *Options) { o.Mode = ClockManual; o.Timing = &timing })
	cl := ssmClient(sb)
	ctx := context.Background()
	src, srcContent := latestAL2023(t, sb)
	p, err := sb.ReleasePatch(PatchRelease{Package: "openssl", Packages: []string{"openssl-libs"}, Severity: "Critical"})
	require.NoError(t, err)
	fixed := p.fixedVersion("openssl")
	require.NotEqual(t, fixed, srcContent.Packages["openssl"])

	base, err := cl.CreatePatchBaseline(ctx, &ssm.CreatePatchBaselineInput{Name: aws.String("critical"), OperatingSystem: ssmtypes.OperatingSystemAmazonLinux2023,
		ApprovalRules: &ssmtypes.PatchRuleGroup{PatchRules: []ssmtypes.PatchRule{{ApproveAfterDays: aws.Int32(0), PatchFilterGroup: &ssmtypes.PatchFilterGroup{
			PatchFilters: []ssmtypes.PatchFilter{{Key: ssmtypes.PatchFilterKeySeverity, Values: []string{"Critical"}}}}}}}})
	require.NoError(t, err)
	_, err = cl.RegisterPatchBaselineForPatchGroup(ctx, &ssm.RegisterPatchBaselineForPatchGroupInput{BaselineId: base.BaselineId, PatchGroup: aws.String("golden")})
	require.NoError(t, err)
	createPatchRunbook(t, cl)

	_, err = cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("patch-rebake"),
		Parameters: map[string][]string{"SourceAmiId": {src}}})
	ssmRequireCode(t, err, "InvalidAutomationExecutionParametersException") // TargetAmiName, BuildId missing
	_, err = cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("patch-rebake"), DocumentVersion: aws.String("7"),
		Parameters: map[string][]string{"SourceAmiId": {src}, "TargetAmiName": {"x"}, "BuildId": {"b"}}})
	ssmRequireCode(t, err, "AutomationDefinitionVersionNotFoundException")

	out, err := cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("patch-rebake"),
		Parameters:  map[string][]string{"SourceAmiId": {src}, "PatchGroup": {"golden"}, "TargetAmiName": {"patched-{{ global:DATE }}"}, "BuildId": {"b-1"}},
		ClientToken: aws.String("tok-1")})
	require.NoError(t, err)
	again, err := cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("patch-rebake"),
		Parameters:  map[string][]string{"SourceAmiId": {src}, "PatchGroup": {"golden"}, "TargetAmiName": {"x"}, "BuildId": {"b-1"}},
		ClientToken: aws.String("tok-1")})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(out.AutomationExecutionId), aws.ToString(again.AutomationExecutionId), "the client token makes the start idempotent")

	get := func() *ssmtypes.AutomationExecution {
		g, err := cl.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: out.AutomationExecutionId})
		require.NoError(t, err)
		return g.AutomationExecution
	}
	a := get()
	assert.Equal(t, "launchInstance", aws.ToString(a.CurrentStepName))
	assert.Equal(t, "1", aws.ToString(a.DocumentVersion))
	sb.AdvanceClock(20 * time.Second)
	a = get()
	assert.Equal(t, "installPatches", aws.ToString(a.CurrentStepName))
	instanceID := a.StepExecutions[0].Outputs["InstanceIds"][0]
	assert.Equal(t, `["`+instanceID+`"]`, a.StepExecutions[1].Inputs["InstanceIds"], "a list output substituted whole")
	sb.AdvanceClock(2 * time.Minute)
	assert.Equal(t, "stopInstance", aws.ToString(get().CurrentStepName))
	sb.AdvanceClock(30 * time.Second)
	assert.Equal(t, "createImage", aws.ToString(get().CurrentStepName))
	sb.AdvanceClock(3 * time.Minute)
	sb.AdvanceClock(20 * time.Second)
	a = get()
	require.Equal(t, ssmtypes.AutomationExecutionStatusSuccess, a.AutomationExecutionStatus, aws.ToString(a.FailureMessage))
	require.Len(t, a.Outputs["createImage.ImageId"], 1)
	imageID := a.Outputs["createImage.ImageId"][0]

	imgs, err := ec2.NewFromConfig(sb.Config).DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{imageID}})
	require.NoError(t, err)
	require.Len(t, imgs.Images, 1)
	img := imgs.Images[0]
	assert.Equal(t, "patched-"+sb.Clock().Now().UTC().Format("2006-01-02"), aws.ToString(img.Name))
	assert.Equal(t, "patched "+src+" in "+aws.ToString(out.AutomationExecutionId), aws.ToString(img.Description))
	require.Len(t, img.Tags, 1)
	assert.Equal(t, "b-1", aws.ToString(img.Tags[0].Value))
	content, ok := sb.ContentOf(imageID)
	require.True(t, ok)
	assert.Equal(t, fixed, content.Packages["openssl"], "AWS-RunPatchBaseline Install applied the approved patch")
	sb.Do(func(w *World) { assert.Equal(t, StateTerminated, w.EC2.Instances[instanceID].State) })
}

// A custom runbook that fails (the instance is not managed by SSM, so Run
// Command refuses it) aborts; its instance stays until the caller removes
// it, as on AWS. Stopping a running execution cancels it.
func TestCustomAutomationFailsAndStops(t *testing.T) {
	sb := Start(t)
	sb.Do(func(w *World) { w.SSM.RequireInstanceProfile = true })
	cl := ssmClient(sb)
	ctx := context.Background()
	src, _ := latestAL2023(t, sb)
	createPatchRunbook(t, cl)

	out, err := cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("patch-rebake"),
		Parameters: map[string][]string{"SourceAmiId": {src}, "TargetAmiName": {"x"}, "BuildId": {"b-2"}}})
	require.NoError(t, err)
	g, err := cl.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: out.AutomationExecutionId})
	require.NoError(t, err)
	a := g.AutomationExecution
	require.Equal(t, ssmtypes.AutomationExecutionStatusFailed, a.AutomationExecutionStatus)
	assert.Equal(t, "installPatches", aws.ToString(a.CurrentStepName))
	assert.Contains(t, aws.ToString(a.FailureMessage), "InvalidInstanceId")
	assert.Equal(t, ssmtypes.AutomationExecutionStatusCancelled, a.StepExecutions[5].StepStatus)
	instanceID := a.StepExecutions[0].Outputs["InstanceIds"][0]
	sb.Do(func(w *World) { assert.Equal(t, StateRunning, w.EC2.Instances[instanceID].State) })
	_, err = cl.StopAutomationExecution(ctx, &ssm.StopAutomationExecutionInput{AutomationExecutionId: out.AutomationExecutionId})
	ssmRequireCode(t, err, "InvalidAutomationStatusUpdateException")
}
