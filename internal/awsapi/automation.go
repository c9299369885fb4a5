package awsapi

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// SSMAutomation is the subset of Systems Manager amibake calls to rebake a
// layer through its own Automation runbook (patch run --engine
// automation): keep the document current, run it, follow it, stop it.
type SSMAutomation interface {
	CreateDocument(ctx context.Context, in *ssm.CreateDocumentInput, optFns ...func(*ssm.Options)) (*ssm.CreateDocumentOutput, error)
	UpdateDocument(ctx context.Context, in *ssm.UpdateDocumentInput, optFns ...func(*ssm.Options)) (*ssm.UpdateDocumentOutput, error)
	DescribeDocument(ctx context.Context, in *ssm.DescribeDocumentInput, optFns ...func(*ssm.Options)) (*ssm.DescribeDocumentOutput, error)
	UpdateDocumentDefaultVersion(ctx context.Context, in *ssm.UpdateDocumentDefaultVersionInput, optFns ...func(*ssm.Options)) (*ssm.UpdateDocumentDefaultVersionOutput, error)
	StartAutomationExecution(ctx context.Context, in *ssm.StartAutomationExecutionInput, optFns ...func(*ssm.Options)) (*ssm.StartAutomationExecutionOutput, error)
	GetAutomationExecution(ctx context.Context, in *ssm.GetAutomationExecutionInput, optFns ...func(*ssm.Options)) (*ssm.GetAutomationExecutionOutput, error)
	DescribeAutomationExecutions(ctx context.Context, in *ssm.DescribeAutomationExecutionsInput, optFns ...func(*ssm.Options)) (*ssm.DescribeAutomationExecutionsOutput, error)
	DescribeAutomationStepExecutions(ctx context.Context, in *ssm.DescribeAutomationStepExecutionsInput, optFns ...func(*ssm.Options)) (*ssm.DescribeAutomationStepExecutionsOutput, error)
	StopAutomationExecution(ctx context.Context, in *ssm.StopAutomationExecutionInput, optFns ...func(*ssm.Options)) (*ssm.StopAutomationExecutionOutput, error)
}

var _ SSMAutomation = (*ssm.Client)(nil)

// SSMAutomation returns region's SSM client ("" = home) as the Automation
// interface: the same client SSM returns.
func (c *Clients) SSMAutomation(region string) SSMAutomation {
	return c.SSM(region).(*ssm.Client)
}
