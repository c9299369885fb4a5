// Package common holds what every amibake Packer plugin component shares:
// the AWS access settings (region, endpoint override, static or default
// credentials) and the construction of the SDK clients from them.
package common

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/amibake/amibake/internal/awsapi"
)

// RetryMaxAttempts is how often the standard retryer tries a throttled or
// failed call before giving up; the same value the rest of amibake uses.
const RetryMaxAttempts = 8

// AccessConfig is embedded (squashed) in every component's Config.
type AccessConfig struct {
	// AWS region to work in. Defaults to AWS_REGION / AWS_DEFAULT_REGION.
	Region string `mapstructure:"region" required:"true"`
	// Custom endpoint URL for every AWS service the component calls, for
	// example a local sandbox (`http://127.0.0.1:4566`). Empty: AWS.
	Endpoint string `mapstructure:"endpoint" required:"false"`
	// Static access key. Leave access_key and secret_key empty to use the
	// default credential chain (environment, shared config, SSO, IMDS).
	AccessKey string `mapstructure:"access_key" required:"false"`
	// Static secret key; required with access_key.
	SecretKey string `mapstructure:"secret_key" required:"false"`
	// Session token for temporary static credentials.
	Token string `mapstructure:"token" required:"false"`
	// Skip the STS GetCallerIdentity check before the first real call.
	SkipCredentialValidation bool `mapstructure:"skip_credential_validation" required:"false"`
}

// Prepare fills defaults and validates the settings. It returns every
// problem found rather than the first.
func (c *AccessConfig) Prepare() []error {
	var errs []error
	if c.Region == "" {
		c.Region = firstEnv("AWS_REGION", "AWS_DEFAULT_REGION")
	}
	if c.Region == "" {
		errs = append(errs, errors.New("region is required (or set AWS_REGION)"))
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint %q: want an absolute http(s) URL like http://127.0.0.1:4566", c.Endpoint))
		}
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		errs = append(errs, errors.New("access_key and secret_key go together: set both or neither"))
	}
	if c.Token != "" && c.AccessKey == "" {
		errs = append(errs, errors.New("token needs access_key and secret_key"))
	}
	return errs
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// AWSConfig builds the SDK configuration: the default chain (so shared
// config, SSO and AWS_CA_BUNDLE keep working) with static credentials when
// given, the endpoint override when given, and the standard retryer.
func (c *AccessConfig) AWSConfig(ctx context.Context) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(c.Region),
		awsconfig.WithRetryMode(aws.RetryModeStandard),
		awsconfig.WithRetryMaxAttempts(RetryMaxAttempts),
	}
	if c.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.Token)))
	}
	if c.Endpoint != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(c.Endpoint))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// Clients builds the per-service clients and, unless skipped, checks that
// the credentials work with one STS call, so a bad key fails with a clear
// message before any real work.
func (c *AccessConfig) Clients(ctx context.Context) (*awsapi.Clients, error) {
	cfg, err := c.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	cl := awsapi.NewClients(cfg)
	if !c.SkipCredentialValidation {
		if _, err := cl.STS().GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			return nil, fmt.Errorf("validate AWS credentials (sts:GetCallerIdentity; set skip_credential_validation to skip): %w", err)
		}
	}
	return cl, nil
}

// Sleep waits for d or until ctx is done, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
