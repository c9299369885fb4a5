package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Static credentials the sandbox accepts. The access key picks the account:
// "sandbox-<12 digits>" acts as that account.
const (
	AccessKeyID     = "sandbox-" + DefaultAccount
	SecretAccessKey = "sandbox-secret-key"
	DefaultRegion   = "us-east-1"
)

// Sandbox is a running server plus ready-made SDK configuration.
type Sandbox struct {
	*Server
	// Config talks to the sandbox as DefaultAccount in DefaultRegion.
	Config aws.Config
}

// Start runs an in-process sandbox for a test on a loopback port and
// closes it when the test ends. Options default to an instant clock and
// seed 1.
func Start(t testing.TB, opts ...func(*Options)) *Sandbox {
	t.Helper()
	o := Options{Seed: 1, Mode: ClockInstant}
	for _, fn := range opts {
		fn(&o)
	}
	sb, err := Run(o, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

// Run starts a sandbox on addr outside of a test (serve command, demo).
func Run(o Options, addr string) (*Sandbox, error) {
	srv, err := New(o)
	if err != nil {
		return nil, err
	}
	if _, err := srv.Listen(addr); err != nil {
		return nil, err
	}
	return &Sandbox{Server: srv, Config: srv.ConfigFor(DefaultAccount, DefaultRegion)}, nil
}

// ConfigFor returns an SDK configuration acting as account in region. It is
// built by hand rather than with config.LoadDefaultConfig so that nothing
// from the environment (profiles, AWS_CA_BUNDLE, real credentials) leaks in.
func (s *Server) ConfigFor(account, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("sandbox-"+account, SecretAccessKey, "")),
		BaseEndpoint: aws.String(s.url),
		HTTPClient:   &http.Client{Timeout: 60 * time.Second},
		// Standard retryer: the same one production uses, so fault tests mean something.
		RetryMaxAttempts: 8,
		RetryMode:        aws.RetryModeStandard,
	}
}

// Env is the environment a process needs to talk to the sandbox: the
// generic endpoint override every SDK and the AWS CLI honour, plus static
// credentials and a region.
func (s *Server) Env(account, region string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.url,
		"AWS_ACCESS_KEY_ID=sandbox-" + account,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// WaitHealthy polls the admin health endpoint (for out-of-process servers).
func WaitHealthy(ctx context.Context, url string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_sandbox/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sandbox at %s not healthy: %w", url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
