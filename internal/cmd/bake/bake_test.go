package bake

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

func TestIsLoopback(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"":                          false,
		"http://127.0.0.1:4566":     true,
		"http://localhost:8080":     true,
		"http://[::1]:9000":         true,
		"https://ec2.amazonaws.com": false,
		"http://10.0.0.5:4566":      false,
		"::not a url":               false,
	} {
		assert.Equal(t, want, isLoopback(endpoint), endpoint)
	}
}

func TestNewCmdBakeFlags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, WorkDir: t.TempDir(), Output: cmdutil.OutputText, Now: time.Now}
	var got *BakeOptions
	app := &cli.App{
		Commands:       []*cli.Command{NewCmdBake(f, func(o *BakeOptions) error { got = o; return nil })},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	err := app.Run([]string{"amibake", "bake", "--with-descendants", "--parallel", "2", "--dry-run",
		"--lock-timeout", "90s", "--packer", "/opt/packer", "--plugin-dir", "/opt/plugins", "base", "app-web"})
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, []string{"base", "app-web"}, got.Layers)
	assert.True(t, got.WithDescendants)
	assert.True(t, got.DryRun)
	assert.Equal(t, 2, got.Parallel)
	assert.Equal(t, 90*time.Second, got.LockTimeout)
	assert.Equal(t, "/opt/packer", got.PackerBin)
	assert.Equal(t, "/opt/plugins", got.PluginDir)

	err = app.Run([]string{"amibake", "bake", "--parallel", "0"})
	var fe *cmdutil.FlagError
	assert.ErrorAs(t, err, &fe)
}

func TestWhy(t *testing.T) {
	assert.Equal(t, "recipe-changed: log_shipping content changed",
		why(&bake.Result{Layer: "base", Status: bake.StatusBuilt, Reason: "recipe-changed", Detail: "log_shipping content changed"}))
	assert.Equal(t, "up-to-date, latest channel moved",
		why(&bake.Result{Layer: "base", Status: bake.StatusReused, Reason: "up-to-date", Detail: "ami-1", Published: true}))
	assert.Equal(t, `packer build failed (exit 1): step "x" failed`,
		why(&bake.Result{Layer: "app", Status: bake.StatusFailed, LogPath: "/l/app.log",
			Error: "bake app: layer app: packer build failed (exit 1): step \"x\"\n failed (log: /l/app.log)"}))
}

func TestPackerEnvDropsProjectVariables(t *testing.T) {
	assert.Equal(t, []string{"PATH=/bin", "AWS_REGION=us-east-1"},
		packerEnv([]string{"PATH=/bin", "AMIBAKE_VAR_security_agent_token=s3cr3t", "AWS_REGION=us-east-1", "AMIBAKE_VAR_x=1"}))
}
