package sandbox

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetCallerIdentityPerAccount(t *testing.T) {
	sb := Start(t)
	ctx := context.Background()

	out, err := sts.NewFromConfig(sb.Config).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, DefaultAccount, aws.ToString(out.Account))

	other := sts.NewFromConfig(sb.ConfigFor("210987654321", "eu-west-1"))
	out, err = other.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, "210987654321", aws.ToString(out.Account))
	assert.Equal(t, 2, sb.CountCalls("sts", "GetCallerIdentity"))
}

func TestUnsignedRequestIsRejected(t *testing.T) {
	sb := Start(t)
	form := url.Values{"Action": {"DescribeImages"}, "Version": {"2016-11-15"}}
	resp, err := http.Post(sb.URL(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	log := sb.Log()
	require.Len(t, log, 1)
	assert.Equal(t, "MissingAuthenticationToken", log[0].Error)
}

func TestThrottleFaultIsRetriedBySDK(t *testing.T) {
	sb := Start(t)
	sb.SetFaults(FaultRule{Service: "sts", ThrottleRate: 1, Remaining: 2})
	_, err := sts.NewFromConfig(sb.Config).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err, "standard retryer should absorb two throttles")
	var injected int
	for _, e := range sb.Log() {
		if e.Injected {
			injected++
			assert.Equal(t, "Throttling", e.Error)
		}
	}
	assert.Equal(t, 2, injected)
	assert.Equal(t, 3, sb.CountCalls("sts", "GetCallerIdentity"), "every attempt is logged")
	assert.Equal(t, 1, sb.CountFirstAttempts("sts", "GetCallerIdentity"), "one call by the client code")
}

func TestPermanentFaultSurfacesTypedError(t *testing.T) {
	sb := Start(t)
	sb.SetFaults(FaultRule{Service: "sts", ErrorRate: 1, ErrorStatus: 500})
	cfg := sb.Config.Copy()
	cfg.RetryMaxAttempts = 2
	_, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae))
	assert.Equal(t, "InternalError", ae.ErrorCode())
}

func TestWildcard(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"al2023-ami-*", "al2023-ami-2023.6.1-kernel-6.1-x86_64", true},
		{"al2023-ami-*-x86_64", "al2023-ami-2023.6.1-kernel-6.1-arm64", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*", "", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"*a*b*", "xxaxxbxx", true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, matchWildcard(c.p, c.s), "%s vs %s", c.p, c.s)
	}
}
