package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ssmClient(sb *Sandbox) *ssm.Client { return ssm.NewFromConfig(sb.Config) }

// ssmRequireCode asserts an SDK error carries the AWS error code.
func ssmRequireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	assert.Equal(t, code, ae.ErrorCode(), "message: %s", ae.ErrorMessage())
}

func putString(t *testing.T, cl *ssm.Client, name, value string, overwrite bool) int64 {
	t.Helper()
	out, err := cl.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(overwrite),
	})
	require.NoError(t, err)
	return out.Version
}

func TestPutGetParameterVersionsAndConflicts(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()

	out, err := cl.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/amibake/demo/layers/base/stable"), Value: aws.String("v1"), Type: ssmtypes.ParameterTypeString,
		Description: aws.String("channel"), Tags: []ssmtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}},
	})
	require.NoError(t, err)
	assert.Equal(t, int64(1), out.Version)
	assert.Equal(t, ssmtypes.ParameterTierStandard, out.Tier)

	// Overwrite=false on an existing name is the lock primitive.
	_, err = cl.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/amibake/demo/layers/base/stable"), Value: aws.String("v2"), Type: ssmtypes.ParameterTypeString,
	})
	var exists *ssmtypes.ParameterAlreadyExists
	require.ErrorAs(t, err, &exists)

	assert.Equal(t, int64(2), putString(t, cl, "/amibake/demo/layers/base/stable", "v2", true))
	assert.Equal(t, int64(3), putString(t, cl, "/amibake/demo/layers/base/stable", "v3", true))

	got, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/amibake/demo/layers/base/stable")})
	require.NoError(t, err)
	p := got.Parameter
	assert.Equal(t, "v3", aws.ToString(p.Value))
	assert.Equal(t, int64(3), p.Version)
	assert.Equal(t, ssmtypes.ParameterTypeString, p.Type)
	assert.Equal(t, "text", aws.ToString(p.DataType))
	assert.Equal(t, "arn:aws:ssm:us-east-1:123456789012:parameter/amibake/demo/layers/base/stable", aws.ToString(p.ARN))
	require.NotNil(t, p.LastModifiedDate)
	assert.WithinDuration(t, time.Now(), *p.LastModifiedDate, time.Minute)

	// Version selector.
	got, err = cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/amibake/demo/layers/base/stable:1")})
	require.NoError(t, err)
	assert.Equal(t, "v1", aws.ToString(got.Parameter.Value))
	assert.Equal(t, ":1", aws.ToString(got.Parameter.Selector))

	_, err = cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/amibake/demo/layers/base/stable:9")})
	var vnf *ssmtypes.ParameterVersionNotFound
	require.ErrorAs(t, err, &vnf)

	_, err = cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
	var nf *ssmtypes.ParameterNotFound
	require.ErrorAs(t, err, &nf)

	// By ARN.
	got, err = cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("arn:aws:ssm:us-east-1:123456789012:parameter/amibake/demo/layers/base/stable")})
	require.NoError(t, err)
	assert.Equal(t, "v3", aws.ToString(got.Parameter.Value))

	// Parameters are per account and region.
	other := ssm.NewFromConfig(sb.ConfigFor("210987654321", "us-east-1"))
	_, err = other.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/amibake/demo/layers/base/stable")})
	require.ErrorAs(t, err, &nf)
	west := ssm.NewFromConfig(sb.ConfigFor(DefaultAccount, "eu-west-1"))
	_, err = west.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/amibake/demo/layers/base/stable")})
	require.ErrorAs(t, err, &nf)

	// Tags given at create; tags with overwrite are refused.
	tags, err := cl.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/amibake/demo/layers/base/stable")})
	require.NoError(t, err)
	require.Len(t, tags.TagList, 1)
	assert.Equal(t, "team", aws.ToString(tags.TagList[0].Key))
	_, err = cl.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String("/amibake/demo/layers/base/stable"), Value: aws.String("v4"), Type: ssmtypes.ParameterTypeString,
		Overwrite: aws.Bool(true), Tags: []ssmtypes.Tag{{Key: aws.String("a"), Value: aws.String("b")}},
	})
	ssmRequireCode(t, err, "ValidationException")
}

func TestPutParameterValidation(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	put := func(in *ssm.PutParameterInput) error {
		if in.Type == "" {
			in.Type = ssmtypes.ParameterTypeString
		}
		if in.Value == nil {
			in.Value = aws.String("x")
		}
		_, err := cl.PutParameter(ctx, in)
		return err
	}

	// Reserved names.
	err := put(&ssm.PutParameterInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")})
	var denied *ssmtypes.AccessDeniedException
	require.ErrorAs(t, err, &denied)
	ssmRequireCode(t, put(&ssm.PutParameterInput{Name: aws.String("ssm-thing")}), "ValidationException")
	ssmRequireCode(t, put(&ssm.PutParameterInput{Name: aws.String("a/b")}), "ValidationException")
	ssmRequireCode(t, put(&ssm.PutParameterInput{Name: aws.String("/has space")}), "ValidationException")

	// Hierarchy depth: 15 levels are fine, 16 are not.
	deep := strings.Repeat("/l", 15)
	require.NoError(t, put(&ssm.PutParameterInput{Name: aws.String(deep)}))
	err = put(&ssm.PutParameterInput{Name: aws.String(deep + "/x")})
	var hier *ssmtypes.HierarchyLevelLimitExceededException
	require.ErrorAs(t, err, &hier)

	// KMS keys only for SecureString, and they must look like keys.
	err = put(&ssm.PutParameterInput{Name: aws.String("/s1"), Type: ssmtypes.ParameterTypeSecureString, KeyId: aws.String("not a key")})
	var badKey *ssmtypes.InvalidKeyId
	require.ErrorAs(t, err, &badKey)
	ssmRequireCode(t, put(&ssm.PutParameterInput{Name: aws.String("/s2"), KeyId: aws.String("alias/aws/ssm")}), "ValidationException")

	// AllowedPattern.
	err = put(&ssm.PutParameterInput{Name: aws.String("/n"), Value: aws.String("abc"), AllowedPattern: aws.String(`^\d+$`)})
	var mismatch *ssmtypes.ParameterPatternMismatchException
	require.ErrorAs(t, err, &mismatch)
	require.NoError(t, put(&ssm.PutParameterInput{Name: aws.String("/n"), Value: aws.String("42"), AllowedPattern: aws.String(`^\d+$`)}))
	// The pattern sticks to later versions.
	err = put(&ssm.PutParameterInput{Name: aws.String("/n"), Value: aws.String("x"), Overwrite: aws.Bool(true)})
	require.ErrorAs(t, err, &mismatch)

	// Size limits per tier.
	big := strings.Repeat("x", 5000)
	ssmRequireCode(t, put(&ssm.PutParameterInput{Name: aws.String("/big"), Value: aws.String(big)}), "ValidationException")
	out, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/big"), Value: aws.String(big), Type: ssmtypes.ParameterTypeString, Tier: ssmtypes.ParameterTierAdvanced})
	require.NoError(t, err)
	assert.Equal(t, ssmtypes.ParameterTierAdvanced, out.Tier)
	ssmRequireCode(t, put(&ssm.PutParameterInput{Name: aws.String("/big"), Value: aws.String("x"), Overwrite: aws.Bool(true), Tier: ssmtypes.ParameterTierStandard}), "ValidationException")

	// Type can't flip to or from SecureString.
	require.NoError(t, put(&ssm.PutParameterInput{Name: aws.String("/t")}))
	err = put(&ssm.PutParameterInput{Name: aws.String("/t"), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)})
	var mismatchType *ssmtypes.HierarchyTypeMismatchException
	require.ErrorAs(t, err, &mismatchType)

	// Missing type on create.
	_, err = cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/notype"), Value: aws.String("x")})
	ssmRequireCode(t, err, "ValidationException")
}

func TestPutParameterTooManyUpdates(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	cfg := sb.Config.Copy()
	cfg.RetryMaxAttempts = 1
	noRetry := ssm.NewFromConfig(cfg)
	sb.ContendParameter("", "", "/lock", 1)
	_, err := noRetry.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String("/lock"), Value: aws.String("x"), Type: ssmtypes.ParameterTypeString})
	var tmu *ssmtypes.TooManyUpdates
	require.ErrorAs(t, err, &tmu)
	putString(t, cl, "/lock", "x", false)
}

func TestSecureStringDecryption(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	_, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/token"), Value: aws.String("s3cret"), Type: ssmtypes.ParameterTypeSecureString})
	require.NoError(t, err)

	got, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/token")})
	require.NoError(t, err)
	assert.NotEqual(t, "s3cret", aws.ToString(got.Parameter.Value))
	assert.NotContains(t, aws.ToString(got.Parameter.Value), "s3cret")
	assert.Equal(t, ssmtypes.ParameterTypeSecureString, got.Parameter.Type)

	got, err = cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/token"), WithDecryption: aws.Bool(true)})
	require.NoError(t, err)
	assert.Equal(t, "s3cret", aws.ToString(got.Parameter.Value))

	desc, err := cl.DescribeParameters(ctx, &ssm.DescribeParametersInput{})
	require.NoError(t, err)
	require.Len(t, desc.Parameters, 1)
	assert.Equal(t, "alias/aws/ssm", aws.ToString(desc.Parameters[0].KeyId))

	hist, err := cl.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/app/token"), WithDecryption: aws.Bool(true)})
	require.NoError(t, err)
	assert.Equal(t, "s3cret", aws.ToString(hist.Parameters[0].Value))
}

func TestGetParametersInvalidList(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	putString(t, cl, "/a", "1", false)
	putString(t, cl, "/b", "2", false)
	putString(t, cl, "/b", "3", true)
	out, err := cl.GetParameters(context.Background(), &ssm.GetParametersInput{Names: []string{"/a", "/b:1", "/missing", "/a:7"}})
	require.NoError(t, err)
	require.Len(t, out.Parameters, 2)
	assert.Equal(t, "1", aws.ToString(out.Parameters[0].Value))
	assert.Equal(t, "2", aws.ToString(out.Parameters[1].Value))
	assert.ElementsMatch(t, []string{"/missing", "/a:7"}, out.InvalidParameters)

	_, err = cl.GetParameters(context.Background(), &ssm.GetParametersInput{Names: strings.Split("1,2,3,4,5,6,7,8,9,10,11", ",")})
	ssmRequireCode(t, err, "ValidationException")
}

func TestGetParametersByPathPaginatesAndFilters(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	for i := 0; i < 23; i++ {
		putString(t, cl, fmt.Sprintf("/app/cfg/k%02d", i), fmt.Sprint(i), false)
	}
	putString(t, cl, "/app/cfg/deep/x", "deep", false)
	putString(t, cl, "/app/other", "o", false)
	_, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/cfg/secret"), Value: aws.String("pw"), Type: ssmtypes.ParameterTypeSecureString})
	require.NoError(t, err)

	var names []string
	pages := 0
	pg := ssm.NewGetParametersByPathPaginator(cl, &ssm.GetParametersByPathInput{Path: aws.String("/app/cfg")})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(out.Parameters), 10)
		pages++
		for _, p := range out.Parameters {
			names = append(names, aws.ToString(p.Name))
		}
	}
	assert.Equal(t, 3, pages)
	assert.Len(t, names, 24) // 23 + secret, not the deep one
	assert.NotContains(t, names, "/app/cfg/deep/x")

	out, err := cl.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true), MaxResults: aws.Int32(10),
		ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Type"), Values: []string{"SecureString"}}}, WithDecryption: aws.Bool(true)})
	require.NoError(t, err)
	require.Len(t, out.Parameters, 1)
	assert.Equal(t, "pw", aws.ToString(out.Parameters[0].Value))

	_, err = cl.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app"), MaxResults: aws.Int32(11)})
	ssmRequireCode(t, err, "ValidationException")
	_, err = cl.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app"),
		ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{"x"}}}})
	var badKey *ssmtypes.InvalidFilterKey
	require.ErrorAs(t, err, &badKey)
	_, err = cl.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app"), NextToken: aws.String("garbage")})
	var badToken *ssmtypes.InvalidNextToken
	require.ErrorAs(t, err, &badToken)
	_, err = cl.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("app")})
	ssmRequireCode(t, err, "ValidationException")
}

func TestParameterHistoryLabels(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	for i := 1; i <= 60; i++ {
		putString(t, cl, "/ch", fmt.Sprintf("ami-%08x", i), i > 1)
	}
	lab, err := cl.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/ch"), ParameterVersion: aws.Int64(3), Labels: []string{"prod", "1bad", "awsx", "ok.label"}})
	require.NoError(t, err)
	assert.Equal(t, int64(3), lab.ParameterVersion)
	assert.ElementsMatch(t, []string{"1bad", "awsx"}, lab.InvalidLabels)

	// Label selector.
	got, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ch:prod")})
	require.NoError(t, err)
	assert.Equal(t, "ami-00000003", aws.ToString(got.Parameter.Value))
	assert.Equal(t, int64(3), got.Parameter.Version)

	// Moving the label to the latest version (no version given).
	lab, err = cl.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/ch"), Labels: []string{"prod"}})
	require.NoError(t, err)
	assert.Equal(t, int64(60), lab.ParameterVersion)

	var hist []ssmtypes.ParameterHistory
	pages := 0
	pg := ssm.NewGetParameterHistoryPaginator(cl, &ssm.GetParameterHistoryInput{Name: aws.String("/ch"), MaxResults: aws.Int32(25)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		require.NoError(t, err)
		pages++
		hist = append(hist, out.Parameters...)
	}
	assert.Equal(t, 3, pages)
	require.Len(t, hist, 60)
	assert.Equal(t, int64(1), hist[0].Version)
	assert.Equal(t, []string{"ok.label"}, hist[2].Labels)
	assert.Equal(t, []string{"prod"}, hist[59].Labels)

	// Ten labels per version at most.
	many := []string{"l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9", "l10"}
	_, err = cl.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/ch"), ParameterVersion: aws.Int64(60), Labels: many})
	var limit *ssmtypes.ParameterVersionLabelLimitExceeded
	require.ErrorAs(t, err, &limit)

	_, err = cl.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/ch"), ParameterVersion: aws.Int64(99), Labels: []string{"x"}})
	var vnf *ssmtypes.ParameterVersionNotFound
	require.ErrorAs(t, err, &vnf)

	un, err := cl.UnlabelParameterVersion(ctx, &ssm.UnlabelParameterVersionInput{Name: aws.String("/ch"), ParameterVersion: aws.Int64(60), Labels: []string{"prod", "nope"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"prod"}, un.RemovedLabels)
	assert.Equal(t, []string{"nope"}, un.InvalidLabels)
	_, err = cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ch:prod")})
	require.ErrorAs(t, err, &vnf)
}

func TestParameterVersionLimitDropsOldest(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	for i := 1; i <= 100; i++ {
		putString(t, cl, "/v", fmt.Sprint(i), i > 1)
	}
	_, err := cl.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/v"), ParameterVersion: aws.Int64(2), Labels: []string{"keep"}})
	require.NoError(t, err)
	assert.Equal(t, int64(101), putString(t, cl, "/v", "101", true))
	// Version 1 is gone; version 2 is the oldest and labelled.
	_, err = cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/v:1")})
	var vnf *ssmtypes.ParameterVersionNotFound
	require.ErrorAs(t, err, &vnf)
	_, err = cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/v"), Value: aws.String("102"), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)})
	var maxv *ssmtypes.ParameterMaxVersionLimitExceeded
	require.ErrorAs(t, err, &maxv)
}

func TestDeleteParameters(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	putString(t, cl, "/d1", "1", false)
	putString(t, cl, "/d2", "2", false)
	putString(t, cl, "/d3", "3", false)
	_, err := cl.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/d1")})
	require.NoError(t, err)
	_, err = cl.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/d1")})
	var nf *ssmtypes.ParameterNotFound
	require.ErrorAs(t, err, &nf)

	out, err := cl.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: []string{"/d2", "/d3", "/d9"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"/d2", "/d3"}, out.DeletedParameters)
	assert.Equal(t, []string{"/d9"}, out.InvalidParameters)

	// A deleted name starts again at version 1.
	assert.Equal(t, int64(1), putString(t, cl, "/d1", "again", false))
}

func TestDescribeParametersFiltersAndPages(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	for i := 0; i < 12; i++ {
		putString(t, cl, fmt.Sprintf("/svc/a/p%02d", i), "x", false)
	}
	putString(t, cl, "/svc/a/deep/q", "x", false)
	putString(t, cl, "/svc/b", "x", false)
	_, err := cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/svc/sl"), Value: aws.String("a,b"), Type: ssmtypes.ParameterTypeStringList,
		Tags: []ssmtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}})
	require.NoError(t, err)

	var all []ssmtypes.ParameterMetadata
	pg := ssm.NewDescribeParametersPaginator(cl, &ssm.DescribeParametersInput{MaxResults: aws.Int32(5)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		require.NoError(t, err)
		all = append(all, out.Parameters...)
	}
	assert.Len(t, all, 15)

	count := func(fs ...ssmtypes.ParameterStringFilter) int {
		out, err := cl.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: fs, MaxResults: aws.Int32(50)})
		require.NoError(t, err)
		return len(out.Parameters)
	}
	assert.Equal(t, 12, count(ssmtypes.ParameterStringFilter{Key: aws.String("Path"), Values: []string{"/svc/a"}}))
	assert.Equal(t, 13, count(ssmtypes.ParameterStringFilter{Key: aws.String("Path"), Option: aws.String("Recursive"), Values: []string{"/svc/a"}}))
	assert.Equal(t, 1, count(ssmtypes.ParameterStringFilter{Key: aws.String("Type"), Values: []string{"StringList"}}))
	assert.Equal(t, 1, count(ssmtypes.ParameterStringFilter{Key: aws.String("tag:env"), Values: []string{"prod"}}))
	assert.Equal(t, 12, count(ssmtypes.ParameterStringFilter{Key: aws.String("Name"), Option: aws.String("BeginsWith"), Values: []string{"/svc/a/p"}}))
	assert.Equal(t, 1, count(ssmtypes.ParameterStringFilter{Key: aws.String("Name"), Values: []string{"/svc/b"}}))

	_, err = cl.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("Sideways"), Values: []string{"x"}}}})
	var badOpt *ssmtypes.InvalidFilterOption
	require.ErrorAs(t, err, &badOpt)

	legacy, err := cl.DescribeParameters(ctx, &ssm.DescribeParametersInput{Filters: []ssmtypes.ParametersFilter{{Key: ssmtypes.ParametersFilterKeyName, Values: []string{"/svc/b"}}}})
	require.NoError(t, err)
	assert.Len(t, legacy.Parameters, 1)
}

func TestParameterTags(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	putString(t, cl, "/tagged", "x", false)
	_, err := cl.AddTagsToResource(ctx, &ssm.AddTagsToResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/tagged"),
		Tags: []ssmtypes.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}})
	require.NoError(t, err)
	_, err = cl.RemoveTagsFromResource(ctx, &ssm.RemoveTagsFromResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/tagged"), TagKeys: []string{"a"}})
	require.NoError(t, err)
	out, err := cl.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/tagged")})
	require.NoError(t, err)
	require.Len(t, out.TagList, 1)
	assert.Equal(t, "b", aws.ToString(out.TagList[0].Key))

	_, err = cl.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String("/nope")})
	var bad *ssmtypes.InvalidResourceId
	require.ErrorAs(t, err, &bad)
	_, err = cl.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: "Bogus", ResourceId: aws.String("/tagged")})
	var badType *ssmtypes.InvalidResourceType
	require.ErrorAs(t, err, &badType)
}

func TestParameterEventualConsistency(t *testing.T) {
	sb := Start(t, func(o *Options) { o.Mode = ClockManual })
	cl := ssmClient(sb)
	ctx := context.Background()
	sb.SetFaults(FaultRule{Service: "ssm", Action: "PutParameter", InvisibleFor: Duration{5 * time.Second}})
	putString(t, cl, "/ec", "1", false)
	_, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ec")})
	var nf *ssmtypes.ParameterNotFound
	require.ErrorAs(t, err, &nf)
	sb.AdvanceClock(5 * time.Second)
	got, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ec")})
	require.NoError(t, err)
	assert.Equal(t, "1", aws.ToString(got.Parameter.Value))
}

// seedAmazonImage adds a public Amazon Linux image to a region (what the EC2
// seed does), for tests that must not depend on it.
func seedAmazonImage(w *World, region, name, arch string, created time.Time) *Image {
	img := &Image{ID: w.NewID("ami"), Account: AmazonAccount, OwnerAlias: "amazon", Region: region, Name: name,
		State: "available", CreationDate: created, Architecture: arch, Public: true, RootDeviceName: "/dev/xvda",
		ImdsSupport: "v2.0", Content: Content{Packages: w.Catalogue.JeOSPackages(ReleaseFor(created))}}
	w.EC2.Images[img.ID] = img
	return img
}

func TestPublicAmazonLinuxParameters(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()
	var newest, arm, older string
	sb.Do(func(w *World) {
		now := sb.Clock().Now()
		older = seedAmazonImage(w, "us-east-1", "al2023-ami-2023.0.20000101.0-kernel-6.1-x86_64", "x86_64", now.Add(-90*24*time.Hour)).ID
		newest = seedAmazonImage(w, "us-east-1", "al2023-ami-2023.0.20000102.0-kernel-6.1-x86_64", "x86_64", now.Add(-time.Hour)).ID
		arm = seedAmazonImage(w, "us-east-1", "al2023-ami-2023.0.20000102.0-kernel-6.1-arm64", "arm64", now.Add(-time.Hour)).ID
		seedAmazonImage(w, "us-east-1", "al2023-ami-minimal-2023.0.20000102.0-kernel-6.1-x86_64", "x86_64", now.Add(-time.Hour))
	})
	_ = older
	// Readable from any account.
	for _, acct := range []string{DefaultAccount, "210987654321"} {
		cl := ssm.NewFromConfig(sb.ConfigFor(acct, "us-east-1"))
		got, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")})
		require.NoError(t, err)
		assert.Equal(t, newest, aws.ToString(got.Parameter.Value))
		assert.Equal(t, "arn:aws:ssm:us-east-1::parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", aws.ToString(got.Parameter.ARN))
	}
	cl := ssmClient(sb)
	out, err := cl.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/aws/service/ami-amazon-linux-latest")})
	require.NoError(t, err)
	values := map[string]string{}
	for _, p := range out.Parameters {
		values[strings.TrimPrefix(aws.ToString(p.Name), "/aws/service/ami-amazon-linux-latest/")] = aws.ToString(p.Value)
	}
	assert.Equal(t, arm, values["al2023-ami-kernel-6.1-arm64"])
	assert.Equal(t, newest, values["al2023-ami-kernel-6.1-x86_64"])
	assert.NotEqual(t, newest, values["al2023-ami-minimal-kernel-default-x86_64"])
	assert.NotEmpty(t, values["al2023-ami-minimal-kernel-default-x86_64"])

	// A newer image moves the parameter to a new version.
	var newer string
	sb.Do(func(w *World) {
		newer = seedAmazonImage(w, "us-east-1", "al2023-ami-2023.0.20000103.0-kernel-6.1-x86_64", "x86_64", sb.Clock().Now()).ID
	})
	got, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")})
	require.NoError(t, err)
	assert.Equal(t, newer, aws.ToString(got.Parameter.Value))
	hist, err := cl.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(hist.Parameters), 2)
	assert.Equal(t, newer, aws.ToString(hist.Parameters[len(hist.Parameters)-1].Value))

	// Not writable, not deletable.
	_, err = cl.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")})
	var denied *ssmtypes.AccessDeniedException
	require.ErrorAs(t, err, &denied)
}

func TestEC2ImageDataType(t *testing.T) {
	sb := Start(t)
	cl := ssmClient(sb)
	ctx := context.Background()
	var mine, foreign string
	sb.Do(func(w *World) {
		img := seedAmazonImage(w, "us-east-1", "golden", "x86_64", sb.Clock().Now())
		img.Account, img.OwnerAlias, img.Public = DefaultAccount, "", false
		mine = img.ID
		other := seedAmazonImage(w, "us-east-1", "private", "x86_64", sb.Clock().Now())
		other.Account, other.OwnerAlias, other.Public = "210987654321", "", false
		foreign = other.ID
	})
	put := func(name, value string, overwrite bool) (*ssm.PutParameterOutput, error) {
		return cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString,
			DataType: aws.String("aws:ec2:image"), Overwrite: aws.Bool(overwrite)})
	}
	_, err := put("/ch/stable", "not-an-ami", false)
	ssmRequireCode(t, err, "ValidationException")

	out, err := put("/ch/stable", mine, false)
	require.NoError(t, err)
	assert.Equal(t, int64(1), out.Version)
	got, err := cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ch/stable")})
	require.NoError(t, err)
	assert.Equal(t, "aws:ec2:image", aws.ToString(got.Parameter.DataType))
	assert.Equal(t, mine, aws.ToString(got.Parameter.Value))

	// An image the account cannot use: the call succeeds, the asynchronous
	// validation drops the version, as on AWS.
	out, err = put("/ch/stable", foreign, true)
	require.NoError(t, err)
	assert.Equal(t, int64(2), out.Version)
	got, err = cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ch/stable")})
	require.NoError(t, err)
	assert.Equal(t, mine, aws.ToString(got.Parameter.Value))
	assert.Equal(t, int64(1), got.Parameter.Version)

	// Can't switch data type to or from aws:ec2:image.
	_, err = cl.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/ch/stable"), Value: aws.String(mine), Type: ssmtypes.ParameterTypeString,
		DataType: aws.String("text"), Overwrite: aws.Bool(true)})
	ssmRequireCode(t, err, "ValidationException")
}
