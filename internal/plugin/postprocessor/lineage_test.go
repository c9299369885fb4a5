package postprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseArtifactID(t *testing.T) {
	got, err := ParseArtifactID("us-east-1:ami-0a,eu-west-1:ami-0b")
	require.NoError(t, err)
	assert.Equal(t, []RegionAMI{{"eu-west-1", "ami-0b"}, {"us-east-1", "ami-0a"}}, got)

	got, err = ParseArtifactID(" us-east-1 : ami-0a , ,us-east-1:ami-0a,")
	require.NoError(t, err)
	assert.Equal(t, []RegionAMI{{"us-east-1", "ami-0a"}}, got)

	for _, bad := range []string{
		"", " , ", "ami-0a", "us-east-1:", ":ami-0a", "us-east-1:snap-0a", "us-east-1:ami-",
		"us-east-1:ami-0a:extra", "us-east-1:ami-0a,us-east-1:ami-0b", "us east 1:ami-0a",
	} {
		_, err := ParseArtifactID(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestConfigure(t *testing.T) {
	var p PostProcessor
	require.NoError(t, p.Configure(map[string]interface{}{
		"region":   "us-east-1",
		"channels": []string{"/amibake/acme/layers/base/latest"},
		"tags":     map[string]string{"amibake:layer": "base"},
	}))
	assert.Equal(t, DefaultPollInterval, p.config.PollInterval)
	assert.Equal(t, DefaultWaitTimeout, p.config.WaitTimeout)

	require.NoError(t, p.Configure(map[string]interface{}{"region": "us-east-1", "poll_interval": "100ms", "wait_timeout": "1m"}))
	assert.Equal(t, 100*time.Millisecond, p.config.PollInterval)
	assert.Equal(t, time.Minute, p.config.WaitTimeout)
}

func TestConfigureErrors(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	cases := []struct {
		raw  map[string]interface{}
		want string
	}{
		{map[string]interface{}{}, "region is required"},
		{map[string]interface{}{"region": "r", "channels": []string{"amibake/x"}}, `"amibake/x" is not a full parameter name`},
		{map[string]interface{}{"region": "r", "channels": []string{"/amibake/x/"}}, "is not a full parameter name"},
		{map[string]interface{}{"region": "r", "tags": map[string]string{"aws:cloudformation": "x"}}, "is not a tag key"},
		{map[string]interface{}{"region": "r", "wait_timeout": "-1m"}, "must not be negative"},
		{map[string]interface{}{"region": "r", "keep_input_artifact": "x", "unknown": 1}, "unknown configuration key"},
	}
	for _, tc := range cases {
		var p PostProcessor
		err := p.Configure(tc.raw)
		require.Error(t, err, "%v", tc.raw)
		assert.Contains(t, err.Error(), tc.want)
		assert.Contains(t, err.Error(), "amibake-lineage")
	}
}
