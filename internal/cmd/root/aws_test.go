package root_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest"
	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

// awsFiles writes a shared config and credentials file and points the SDK
// at them, with nothing else from the environment (no real AWS).
func awsFiles(t *testing.T, config, credentials string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath, credPath := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	require.NoError(t, os.WriteFile(cfgPath, []byte(config), 0o600))
	require.NoError(t, os.WriteFile(credPath, []byte(credentials), 0o600))
	t.Setenv("AWS_CONFIG_FILE", cfgPath)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credPath)
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// runReal runs amibake with the production AWS configuration (the SDK
// default chain plus the global flags), not the sandbox's ready-made one.
func runReal(t *testing.T, sb *sandbox.Sandbox, dir string, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.Now = sb.Clock().Now
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", dir}, args...), f)
	return code, out.String(), errOut.String()
}

const sandboxCredentials = "[sandbox]\naws_access_key_id = " + sandbox.AccessKeyID + "\naws_secret_access_key = " + sandbox.SecretAccessKey + "\n"

func TestProfilePointsAtTheSandbox(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	awsFiles(t, "[profile sandbox]\nregion = us-east-1\nendpoint_url = "+sb.URL()+"\n", sandboxCredentials)

	before := sb.CountCalls("ssm", "GetParameter")
	code, out, errOut := runReal(t, sb, dir, "--profile", "sandbox", "status")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "app-web")
	assert.Greater(t, sb.CountCalls("ssm", "GetParameter"), before, "status read the channels through the profile's endpoint")

	// Without --profile the default profile is used, which does not exist here.
	code, _, errOut = runReal(t, sb, dir, "status")
	assert.NotEqual(t, 0, code, errOut)
}

func TestMissingProfileIsAClearError(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	awsFiles(t, "[profile sandbox]\nregion = us-east-1\n", sandboxCredentials)
	code, _, errOut := runReal(t, sb, dir, "--profile", "nope", "status")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `AWS profile "nope" not found`)
	assert.Equal(t, 0, len(sb.Log()), "nothing reached any endpoint")
}

func TestEndpointURLAndRegionFlags(t *testing.T) {
	sb := sandbox.Start(t)
	dir := channeltest.CopyProject(t)
	// A profile with credentials only: --endpoint-url and --region do the rest.
	awsFiles(t, "[profile sandbox]\n", sandboxCredentials)
	code, out, errOut := runReal(t, sb, dir, "--profile", "sandbox", "--region", "us-east-1", "--endpoint-url", sb.URL(), "status")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "app-web")

	cfg, err := root.LoadAWSConfig(context.Background(), cmdutil.AWSGlobals{Profile: "sandbox", Region: "eu-west-1", EndpointURL: sb.URL()})
	require.NoError(t, err)
	assert.Equal(t, "eu-west-1", cfg.Region, "--region is the SDK's default region")
	require.NotNil(t, cfg.BaseEndpoint)
	assert.Equal(t, sb.URL(), *cfg.BaseEndpoint)

	code, _, errOut = runReal(t, sb, dir, "--endpoint-url", "localhost:1", "status")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "invalid --endpoint-url")
}

func TestFactoryEnvironmentCarriesTheFlags(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
	t.Setenv("AWS_PROFILE", "from-env")
	f := &cmdutil.Factory{AWS: cmdutil.AWSGlobals{Profile: "sandbox", Region: "eu-west-1", EndpointURL: "http://127.0.0.1:1"}}
	assert.Equal(t, "sandbox", f.Getenv("AWS_PROFILE"))
	assert.Equal(t, "http://127.0.0.1:1", f.Getenv("AWS_ENDPOINT_URL"))
	env := f.Environ()
	assert.Contains(t, env, "AWS_PROFILE=sandbox")
	assert.Contains(t, env, "AWS_DEFAULT_REGION=eu-west-1")
	assert.NotContains(t, env, "AWS_PROFILE=from-env")
	assert.NotContains(t, env, "AWS_ACCESS_KEY_ID=AKIAENV", "packer would prefer static keys over the profile named on the command line")

	plain := &cmdutil.Factory{}
	assert.Equal(t, "from-env", plain.Getenv("AWS_PROFILE"))
	assert.Contains(t, plain.Environ(), "AWS_ACCESS_KEY_ID=AKIAENV")
}
