package provisioner

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// decodeHCL decodes a provisioner body through the generated spec, the
// way Packer hands HCL2 configuration to a plugin.
func decodeHCL(t *testing.T, src string) cty.Value {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "test.pkr.hcl")
	require.False(t, diags.HasErrors(), diags.Error())
	v, diags := hcldec.Decode(f.Body, (&Provisioner{}).ConfigSpec(), nil)
	require.False(t, diags.HasErrors(), diags.Error())
	return v
}

func TestPrepareFromHCL(t *testing.T) {
	script := writeFile(t, "install.sh", "dnf install -y jq\n")
	file := writeFile(t, "motd", "hi\n")
	v := decodeHCL(t, `
region        = "eu-west-1"
endpoint      = "http://127.0.0.1:4566"
poll_interval = "100ms"
step_timeout  = "5m"
step {
  name   = "base/jq"
  timeout = "1m"
  script = "`+script+`"
  env    = { LEVEL = "1" }
  secret_env = { TOKEN = "/acme/token" }
}
step {
  name   = "base/inline"
  inline = ["echo one", "echo two"]
}
step {
  name             = "base/motd"
  file_source      = "`+file+`"
  file_destination = "/etc/motd"
  file_mode        = "0644"
}
`)
	var p Provisioner
	require.NoError(t, p.Prepare(v))
	c := p.config
	assert.Equal(t, "eu-west-1", c.Region)
	assert.Equal(t, "http://127.0.0.1:4566", c.Endpoint)
	assert.Equal(t, 100*time.Millisecond, c.PollInterval)
	assert.Equal(t, 5*time.Minute, c.StepTimeout)
	assert.Equal(t, time.Minute, c.Steps[0].Timeout)
	assert.Zero(t, c.Steps[1].Timeout)
	assert.Equal(t, DefaultInstanceReadyTimeout, c.InstanceReadyTimeout)
	require.Len(t, c.Steps, 3)
	assert.Equal(t, "base/jq", c.Steps[0].Name)
	assert.Equal(t, map[string]string{"LEVEL": "1"}, c.Steps[0].Env)
	assert.Equal(t, map[string]string{"TOKEN": "/acme/token"}, c.Steps[0].SecretEnv)
	assert.Equal(t, []string{"echo one", "echo two"}, c.Steps[1].Inline)
	assert.Equal(t, "/etc/motd", c.Steps[2].FileDestination)
}

func TestPrepareDefaults(t *testing.T) {
	var p Provisioner
	require.NoError(t, p.Prepare(map[string]interface{}{
		"region": "us-east-1",
		"step":   []map[string]interface{}{{"name": "a/b", "inline": []string{"true"}}},
	}))
	assert.Equal(t, DefaultPollInterval, p.config.PollInterval)
	assert.Equal(t, DefaultTimeout, p.config.StepTimeout)
	assert.Equal(t, DefaultInstanceReadyTimeout, p.config.InstanceReadyTimeout)
}

func TestPrepareErrors(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	script := writeFile(t, "s.sh", "true\n")
	dir := t.TempDir()
	inline := []string{"true"}
	cases := []struct {
		name string
		raw  map[string]interface{}
		want []string
	}{
		{"no region, no steps", map[string]interface{}{}, []string{"region is required", "at least one step"}},
		{"unknown key", map[string]interface{}{"region": "r", "bogus": 1, "step": []map[string]interface{}{{"name": "a", "inline": inline}}}, []string{"unknown configuration key", "bogus"}},
		{"bad endpoint", map[string]interface{}{"region": "r", "endpoint": "127.0.0.1:4566", "step": []map[string]interface{}{{"name": "a", "inline": inline}}}, []string{"absolute http(s) URL"}},
		{"half static creds", map[string]interface{}{"region": "r", "access_key": "AK", "step": []map[string]interface{}{{"name": "a", "inline": inline}}}, []string{"access_key and secret_key go together"}},
		{"negative timeout", map[string]interface{}{"region": "r", "step_timeout": "-1s", "step": []map[string]interface{}{{"name": "a", "inline": inline}}}, []string{"must not be negative"}},
		{"bad duration", map[string]interface{}{"region": "r", "poll_interval": "often", "step": []map[string]interface{}{{"name": "a", "inline": inline}}}, []string{"poll_interval"}},
		{"packer's timeout is not ours", map[string]interface{}{"region": "r", "timeout": "1m", "step": []map[string]interface{}{{"name": "a", "inline": inline}}}, []string{"unknown configuration key", "timeout"}},
		{"tiny step timeout", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "inline": inline, "timeout": "10ms"}}}, []string{"timeout must be at least 1s"}},
		{"step without name", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"inline": inline}}}, []string{"step 1: name is required"}},
		{"step with two kinds", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "inline": inline, "script": script}}}, []string{`step 1 ("a"): set exactly one of`}},
		{"step with nothing", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a"}}}, []string{"set exactly one of"}},
		{"missing script", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "script": filepath.Join(dir, "nope.sh")}}}, []string{"script:", "no such file"}},
		{"script is a dir", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "script": dir}}}, []string{"is a directory"}},
		{"file without destination", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "file_source": script}}}, []string{"file_source needs file_destination"}},
		{"relative destination", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "file_source": script, "file_destination": "etc/x"}}}, []string{"must be an absolute path"}},
		{"bad mode", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "file_source": script, "file_destination": "/x", "file_mode": "rw-r--r--"}}}, []string{"not an octal mode"}},
		{"mode on inline", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "inline": inline, "file_mode": "0644"}}}, []string{"file_mode applies to file steps only"}},
		{"bad env name", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "inline": inline, "env": map[string]string{"1X": "v", "A-B": "v"}}}}, []string{`"1X" is not a valid shell variable name`, `"A-B" is not a valid`}},
		{"bad secret", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "inline": inline, "secret_env": map[string]string{"S": "/x'; rm -rf /"}}}}, []string{"is not a Parameter Store name"}},
		{"env and secret clash", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "inline": inline, "env": map[string]string{"S": "v"}, "secret_env": map[string]string{"S": "/p"}}}}, []string{"S is set in both env and secret_env"}},
		{"multi-line name", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a\nrm -rf /", "inline": inline}}}, []string{"one line"}},
		{"inventory bucket alone", map[string]interface{}{"region": "r", "inventory_bucket": "b"}, []string{"inventory_bucket needs inventory_project and inventory_build_id"}},
		{"negative inventory timeout", map[string]interface{}{"region": "r", "inventory_bucket": "b", "inventory_project": "p", "inventory_build_id": "x", "inventory_timeout": "-1s"}, []string{"inventory_timeout must not be negative"}},
		{"duplicate names", map[string]interface{}{"region": "r", "step": []map[string]interface{}{{"name": "a", "inline": inline}, {"name": "a", "inline": inline}}}, []string{`step 2: name "a" is already used by step 1`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Provisioner
			err := p.Prepare(tc.raw)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Contains(t, err.Error(), "amibake provisioner")
		})
	}
}

func TestPrepareCollectsEveryError(t *testing.T) {
	var p Provisioner
	err := p.Prepare(map[string]interface{}{
		"region": "r",
		"step": []map[string]interface{}{
			{"inline": []string{"true"}},
			{"name": "b", "file_source": "/nonexistent/x", "file_destination": "rel"},
		},
	})
	require.Error(t, err)
	for _, w := range []string{"step 1: name is required", "file_source:", "must be an absolute path"} {
		assert.Contains(t, err.Error(), w)
	}
}

func TestInstanceID(t *testing.T) {
	id, err := instanceID(map[string]interface{}{"ID": "i-0123"})
	require.NoError(t, err)
	assert.Equal(t, "i-0123", id)
	for _, gd := range []map[string]interface{}{nil, {}, {"ID": ""}, {"ID": placeholderID}, {"ID": 42}} {
		_, err := instanceID(gd)
		assert.ErrorIs(t, err, errNoInstance)
	}
}

// An inventory-only block (ssh mode, no patch step) is valid: the gather
// step is the provisioner's whole job.
func TestPrepareInventoryOnly(t *testing.T) {
	v := decodeHCL(t, `
region             = "us-east-1"
inventory_bucket   = "acme-amibake-inventory"
inventory_project  = "acme-golden"
inventory_build_id = "b-1-app-web"
`)
	var p Provisioner
	require.NoError(t, p.Prepare(v))
	assert.Empty(t, p.config.Steps)
	assert.Equal(t, "acme-amibake-inventory", p.config.InventoryBucket)
	assert.Equal(t, "b-1-app-web", p.config.InventoryBuildID)
	assert.Equal(t, 10*time.Minute, p.config.InventoryTimeout)
}
