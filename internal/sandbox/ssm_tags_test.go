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

// Tags on each SSM resource type the sandbox models, and the errors for an
// id that names nothing and a type it does not model.
func TestSSMTaggableResources(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	baseline := securityBaseline(t, cl, "team-security", 0)
	mw, err := cl.CreateMaintenanceWindow(ctx, &ssm.CreateMaintenanceWindowInput{Name: aws.String("team-window"), Schedule: aws.String("rate(1 day)"),
		Duration: aws.Int32(2), Cutoff: 1, AllowUnassociatedTargets: true})
	require.NoError(t, err)
	_, err = cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v"), Type: ssmtypes.ParameterTypeString})
	require.NoError(t, err)
	paramARN := "arn:aws:ssm:us-east-1:" + DefaultAccount + ":parameter/p"

	for _, r := range []struct {
		typ ssmtypes.ResourceTypeForTagging
		id  string
	}{{ssmtypes.ResourceTypeForTaggingPatchBaseline, baseline}, {ssmtypes.ResourceTypeForTaggingMaintenanceWindow, aws.ToString(mw.WindowId)},
		{ssmtypes.ResourceTypeForTaggingParameter, "/p"}, {ssmtypes.ResourceTypeForTaggingParameter, paramARN}} {
		_, err := cl.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: r.typ, ResourceId: aws.String(r.id),
			Tags: []ssmtypes.Tag{{Key: aws.String("k"), Value: aws.String(r.id)}}})
		require.NoError(t, err, r.id)
		out, err := cl.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: r.typ, ResourceId: aws.String(r.id)})
		require.NoError(t, err, r.id)
		require.Len(t, out.TagList, 1, r.id)
		assert.Equal(t, r.id, aws.ToString(out.TagList[0].Value), "%s: the last write wins", r.id)
	}

	for _, r := range []struct {
		typ  ssmtypes.ResourceTypeForTagging
		id   string
		code string
	}{
		{ssmtypes.ResourceTypeForTaggingPatchBaseline, "pb-0123456789abcdef0", "InvalidResourceId"},
		{ssmtypes.ResourceTypeForTaggingMaintenanceWindow, "mw-0123456789abcdef0", "InvalidResourceId"},
		{ssmtypes.ResourceTypeForTaggingAutomation, "nope", "InvalidResourceId"},
		{ssmtypes.ResourceTypeForTaggingParameter, "arn:aws:s3:::bucket", "InvalidResourceId"},
		{ssmtypes.ResourceTypeForTaggingDocument, "AWS-RunShellScript", "InvalidResourceType"},
	} {
		_, err := cl.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: r.typ, ResourceId: aws.String(r.id)})
		ssmRequireCode(t, err, r.code)
	}
}
