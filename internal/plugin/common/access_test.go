package common

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrepareRegionFromEnv(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "eu-west-1")
	c := AccessConfig{}
	assert.Empty(t, c.Prepare())
	assert.Equal(t, "eu-west-1", c.Region)
}

func TestPrepareErrors(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	c := AccessConfig{Endpoint: "ftp://x", AccessKey: "AK", Token: "t"}
	errs := c.Prepare()
	require.Len(t, errs, 3)
	assert.Contains(t, errs[0].Error(), "region is required")
	assert.Contains(t, errs[1].Error(), "absolute http(s) URL")
	assert.Contains(t, errs[2].Error(), "access_key and secret_key go together")
}

func TestAWSConfigStaticEndpointRetries(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "") // the machine's bundle is irrelevant here
	c := AccessConfig{Region: "us-east-2", Endpoint: "http://127.0.0.1:9", AccessKey: "AK", SecretKey: "SK", Token: "TK"}
	cfg, err := c.AWSConfig(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "us-east-2", cfg.Region)
	assert.Equal(t, "http://127.0.0.1:9", aws.ToString(cfg.BaseEndpoint))
	assert.Equal(t, RetryMaxAttempts, cfg.RetryMaxAttempts)
	assert.Equal(t, aws.RetryModeStandard, cfg.RetryMode)
	creds, err := cfg.Credentials.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "AK", creds.AccessKeyID)
	assert.Equal(t, "SK", creds.SecretAccessKey)
	assert.Equal(t, "TK", creds.SessionToken)
}
