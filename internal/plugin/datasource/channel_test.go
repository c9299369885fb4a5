package datasource

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigure(t *testing.T) {
	var d Datasource
	require.NoError(t, d.Configure(map[string]interface{}{
		"parameter": "/amibake/acme/layers/base/latest",
		"region":    "us-east-1",
		"endpoint":  "http://127.0.0.1:1",
	}))
	assert.Equal(t, DefaultTimeout, d.config.Timeout)
}

func TestConfigureErrors(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	cases := []struct {
		raw  map[string]interface{}
		want []string
	}{
		{map[string]interface{}{}, []string{"parameter is required", "region is required"}},
		{map[string]interface{}{"region": "r", "parameter": "amibake/x"}, []string{"want a full name starting with /"}},
		{map[string]interface{}{"region": "r", "parameter": "/x", "secret_key": "s"}, []string{"access_key and secret_key go together"}},
		{map[string]interface{}{"region": "r", "parameter": "/x", "name": "/y"}, []string{"unknown configuration key"}},
	}
	for _, tc := range cases {
		var d Datasource
		err := d.Configure(tc.raw)
		require.Error(t, err)
		for _, w := range tc.want {
			assert.Contains(t, err.Error(), w)
		}
	}
}

func TestOutputSpec(t *testing.T) {
	spec := (&Datasource{}).OutputSpec()
	for _, k := range []string{"image_id", "parameter_version", "image_name", "fingerprint"} {
		assert.Contains(t, spec, k)
	}
}
