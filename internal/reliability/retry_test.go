package reliability

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

// productionConfig is the AWS configuration amibake's real Factory loads
// (config.LoadDefaultConfig) from an environment pointing at sb.
func productionConfig(t *testing.T, sb *sandbox.Sandbox) aws.Config {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restored when the test ends
			os.Unsetenv(k)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	for _, kv := range sb.Env(sandbox.DefaultAccount, sandbox.DefaultRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ios, _, _, _ := iostreams.Test()
	cfg, err := root.NewFactory(ios).AWSConfig(context.Background())
	require.NoError(t, err)
	return cfg
}

// The production retryer is the SDK's standard one, bounded at
// root.RetryMaxAttempts, and not the SDK's default of 3.
func TestProductionRetrySettings(t *testing.T) {
	sb := sandbox.Start(t)
	cfg := productionConfig(t, sb)
	assert.Equal(t, aws.RetryModeStandard, cfg.RetryMode)
	assert.Equal(t, root.RetryMaxAttempts, cfg.RetryMaxAttempts)
	// What a client built from it uses (LoadDefaultConfig leaves
	// cfg.Retryer nil; each client makes its own from the mode and bound).
	r := ssm.NewFromConfig(cfg).Options().Retryer
	assert.Equal(t, root.RetryMaxAttempts, r.MaxAttempts())
	assert.Equal(t, root.RetryMaxAttempts, ec2.NewFromConfig(cfg).Options().Retryer.MaxAttempts())
	assert.Greater(t, root.RetryMaxAttempts, retry.DefaultMaxAttempts)
	assert.LessOrEqual(t, root.RetryMaxAttempts, 10, "a permanent failure must end in bounded time")

	// Environment settings do not weaken it: the bound is amibake's.
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	t.Setenv("AWS_RETRY_MODE", "adaptive")
	ios, _, _, _ := iostreams.Test()
	cfg2, err := root.NewFactory(ios).AWSConfig(context.Background())
	require.NoError(t, err)
	assert.Equal(t, root.RetryMaxAttempts, ssm.NewFromConfig(cfg2).Options().Retryer.MaxAttempts())
	assert.Equal(t, aws.RetryModeStandard, cfg2.RetryMode)
}

// A call that fails every time is tried exactly RetryMaxAttempts times and
// ends with an error naming the service, the operation and the code. The
// short variant caps the backoff at 1 ms (the production retryer wrapped);
// the long one keeps the production backoff and checks the time bound
// documented at root.RetryMaxAttempts.
func TestPermanentFailureIsBounded(t *testing.T) {
	sb := sandbox.Start(t)
	cfg := productionConfig(t, sb)
	client := ssm.NewFromConfig(cfg, func(o *ssm.Options) {
		if !long() {
			o.Retryer = retry.AddWithMaxBackoffDelay(o.Retryer, time.Millisecond)
		}
	})
	sb.SetFaults(sandbox.FaultRule{Service: "ssm", Action: "GetParameter", ErrorRate: 1, ErrorStatus: 500})
	sb.ResetLog()
	start := time.Now()
	_, err := client.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/amibake/acme-golden/lock")})
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "operation error SSM: GetParameter, exceeded maximum number of attempts, 10")
	assert.Contains(t, err.Error(), "InternalServerError")
	assert.Equal(t, root.RetryMaxAttempts, sb.CountCalls("ssm", "GetParameter"), "attempts")
	// 5xx backoff: base 50 ms doubling, jittered, capped at 20 s: at most
	// 0.05·(2⁹−1) ≈ 25.6 s over nine retries.
	assert.Less(t, elapsed, 35*time.Second)
	t.Logf("permanent failure ended after %s: %v", elapsed.Round(time.Millisecond), err)
}
