package run_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmd/patch/run"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

func TestFlags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	var got *run.RunOptions
	app := &cli.App{Commands: []*cli.Command{run.NewCmdRun(f, func(_ context.Context, o *run.RunOptions) error { got = o; return nil })},
		ExitErrHandler: func(*cli.Context, error) {}}
	require.NoError(t, app.Run([]string{"amibake", "run", "--apply", "--fleets", "--rollout", "--lock-timeout", "2m", "--parallel", "2", "--packer", "/bin/packer"}))
	require.NotNil(t, got)
	assert.True(t, got.Apply)
	assert.True(t, got.Fleets)
	assert.True(t, got.Rollout)
	assert.Equal(t, "2m0s", got.LockTimeout.String())
	assert.Equal(t, 2, got.Parallel)
	assert.Equal(t, "/bin/packer", got.PackerBin)

	got = nil
	require.NoError(t, app.Run([]string{"amibake", "run"}))
	require.NotNil(t, got)
	assert.False(t, got.Apply, "dry run by default")
	assert.False(t, got.Rollout)

	got = nil
	err := app.Run([]string{"amibake", "run", "linux"})
	assert.ErrorContains(t, err, "takes no arguments")
	err = app.Run([]string{"amibake", "run", "--parallel", "0"})
	assert.ErrorContains(t, err, "--parallel must be at least 1")
	assert.Nil(t, got)
}
