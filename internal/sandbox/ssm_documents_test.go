package sandbox

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testRunbookYAML = `schemaVersion: '0.3'
description: test runbook
parameters:
  SourceAmiId:
    type: String
  InstanceType:
    type: String
    default: t3.small
mainSteps:
  - name: launch
    action: aws:runInstances
    inputs:
      ImageId: '{{ SourceAmiId }}'
      InstanceType: '{{ InstanceType }}'
      MinInstanceCount: 1
      MaxInstanceCount: 1
outputs:
  - launch.InstanceIds
`

func TestDocumentsLifecycle(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()

	created, err := cl.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String("team-runbook"), Content: aws.String(testRunbookYAML),
		DocumentType: ssmtypes.DocumentTypeAutomation, DocumentFormat: ssmtypes.DocumentFormatYaml,
		Tags: []ssmtypes.Tag{{Key: aws.String("owner"), Value: aws.String("platform")}}})
	require.NoError(t, err)
	d := created.DocumentDescription
	assert.Equal(t, "1", aws.ToString(d.DocumentVersion))
	assert.Equal(t, "1", aws.ToString(d.DefaultVersion))
	assert.Equal(t, ssmtypes.DocumentHashTypeSha256, d.HashType)
	assert.Equal(t, docContentHash(testRunbookYAML), aws.ToString(d.Hash))
	assert.Equal(t, "0.3", aws.ToString(d.SchemaVersion))
	assert.Equal(t, ssmtypes.DocumentStatusActive, d.Status)
	require.Len(t, d.Parameters, 2)
	assert.Equal(t, "t3.small", aws.ToString(d.Parameters[0].DefaultValue))

	_, err = cl.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String("team-runbook"), Content: aws.String(testRunbookYAML),
		DocumentType: ssmtypes.DocumentTypeAutomation, DocumentFormat: ssmtypes.DocumentFormatYaml})
	ssmRequireCode(t, err, "DocumentAlreadyExists")
	_, err = cl.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String("bad-runbook"), Content: aws.String(strings.Replace(testRunbookYAML, "aws:runInstances", "aws:executeScript", 1)),
		DocumentType: ssmtypes.DocumentTypeAutomation, DocumentFormat: ssmtypes.DocumentFormatYaml})
	ssmRequireCode(t, err, "InvalidDocumentContent")
	_, err = cl.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String("AWS-Mine"), Content: aws.String(testRunbookYAML),
		DocumentType: ssmtypes.DocumentTypeAutomation, DocumentFormat: ssmtypes.DocumentFormatYaml})
	ssmRequireCode(t, err, "ValidationException")

	// The same content again is not a new version.
	_, err = cl.UpdateDocument(ctx, &ssm.UpdateDocumentInput{Name: aws.String("team-runbook"), Content: aws.String(testRunbookYAML),
		DocumentVersion: aws.String("$LATEST"), DocumentFormat: ssmtypes.DocumentFormatYaml})
	ssmRequireCode(t, err, "DuplicateDocumentContent")

	v2 := strings.Replace(testRunbookYAML, "t3.small", "t3.micro", 1)
	up, err := cl.UpdateDocument(ctx, &ssm.UpdateDocumentInput{Name: aws.String("team-runbook"), Content: aws.String(v2),
		DocumentVersion: aws.String("$LATEST"), DocumentFormat: ssmtypes.DocumentFormatYaml})
	require.NoError(t, err)
	assert.Equal(t, "2", aws.ToString(up.DocumentDescription.DocumentVersion))
	assert.Equal(t, "1", aws.ToString(up.DocumentDescription.DefaultVersion), "a new version is not the default until it is made so")

	desc, err := cl.DescribeDocument(ctx, &ssm.DescribeDocumentInput{Name: aws.String("team-runbook")})
	require.NoError(t, err)
	assert.Equal(t, docContentHash(testRunbookYAML), aws.ToString(desc.Document.Hash), "DescribeDocument describes the default version")
	assert.Equal(t, "2", aws.ToString(desc.Document.LatestVersion))

	_, err = cl.UpdateDocumentDefaultVersion(ctx, &ssm.UpdateDocumentDefaultVersionInput{Name: aws.String("team-runbook"), DocumentVersion: aws.String("3")})
	ssmRequireCode(t, err, "InvalidDocumentVersion")
	dv, err := cl.UpdateDocumentDefaultVersion(ctx, &ssm.UpdateDocumentDefaultVersionInput{Name: aws.String("team-runbook"), DocumentVersion: aws.String("2")})
	require.NoError(t, err)
	assert.Equal(t, "2", aws.ToString(dv.Description.DefaultVersion))

	got, err := cl.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String("team-runbook")})
	require.NoError(t, err)
	assert.Equal(t, v2, aws.ToString(got.Content))
	assert.Equal(t, ssmtypes.DocumentFormatYaml, got.DocumentFormat)
	asJSON, err := cl.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String("team-runbook"), DocumentVersion: aws.String("1"), DocumentFormat: ssmtypes.DocumentFormatJson})
	require.NoError(t, err)
	assert.Contains(t, aws.ToString(asJSON.Content), `"schemaVersion": "0.3"`)
	assert.Contains(t, aws.ToString(asJSON.Content), "t3.small")

	list, err := cl.ListDocuments(ctx, &ssm.ListDocumentsInput{Filters: []ssmtypes.DocumentKeyValuesFilter{
		{Key: aws.String("Owner"), Values: []string{"Self"}}, {Key: aws.String("DocumentType"), Values: []string{"Automation"}}}})
	require.NoError(t, err)
	require.Len(t, list.DocumentIdentifiers, 1)
	assert.Equal(t, "2", aws.ToString(list.DocumentIdentifiers[0].DocumentVersion))
	versions, err := cl.ListDocumentVersions(ctx, &ssm.ListDocumentVersionsInput{Name: aws.String("team-runbook")})
	require.NoError(t, err)
	require.Len(t, versions.DocumentVersions, 2)
	assert.True(t, versions.DocumentVersions[1].IsDefaultVersion)

	// A YAML runbook runs: the default version's default parameter.
	src, _ := latestAL2023(t, sb)
	ex, err := cl.StartAutomationExecution(ctx, &ssm.StartAutomationExecutionInput{DocumentName: aws.String("team-runbook"),
		Parameters: map[string][]string{"SourceAmiId": {src}}})
	require.NoError(t, err)
	g, err := cl.GetAutomationExecution(ctx, &ssm.GetAutomationExecutionInput{AutomationExecutionId: ex.AutomationExecutionId})
	require.NoError(t, err)
	require.Equal(t, ssmtypes.AutomationExecutionStatusSuccess, g.AutomationExecution.AutomationExecutionStatus, aws.ToString(g.AutomationExecution.FailureMessage))
	assert.Equal(t, "2", aws.ToString(g.AutomationExecution.DocumentVersion))
	ids := g.AutomationExecution.Outputs["launch.InstanceIds"]
	require.Len(t, ids, 1)
	sb.Do(func(w *World) { assert.Equal(t, "t3.micro", w.EC2.Instances[ids[0]].InstanceType) })

	_, err = cl.DeleteDocument(ctx, &ssm.DeleteDocumentInput{Name: aws.String("team-runbook")})
	require.NoError(t, err)
	_, err = cl.DescribeDocument(ctx, &ssm.DescribeDocumentInput{Name: aws.String("team-runbook")})
	ssmRequireCode(t, err, "InvalidDocument")
}
