package render

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/deploy"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

func newFactory(output string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	return &cmdutil.Factory{
		IOStreams: ios, Output: output, WorkDir: "../../../..",
		Now: func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) },
	}, out, errOut
}

func run(f *cmdutil.Factory, runF func(*RenderOptions) error, args ...string) error {
	app := &cli.App{
		Name: "amibake", Writer: f.IOStreams.Out, ErrWriter: f.IOStreams.ErrOut,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{{Name: "deploy", Subcommands: []*cli.Command{NewCmdRender(f, runF)}}},
	}
	return app.Run(append([]string{"amibake", "deploy", "render"}, args...))
}

func TestNewCmdRender(t *testing.T) {
	tests := []struct {
		name    string
		output  string
		args    []string
		want    RenderOptions
		wantErr string
	}{
		{name: "defaults", want: RenderOptions{Deploy: deploy.Options{
			PatchSchedule: deploy.DefaultPatchSchedule, PatchCommand: deploy.DefaultPatchCommand,
			ScanSchedule: deploy.DefaultScanSchedule, ScanCommand: deploy.DefaultScanCommand, Timezone: "UTC",
		}}},
		{name: "all flags", args: []string{"--out", "t.yaml", "--patch-schedule", "rate(7 days)", "--patch-command", "bake",
			"--scan-schedule", "cron(0 1 * * ? *)", "--scan-command", "patch scan", "--timezone", "Europe/Berlin"},
			want: RenderOptions{Out: "t.yaml", Deploy: deploy.Options{
				PatchSchedule: "rate(7 days)", PatchCommand: "bake", ScanSchedule: "cron(0 1 * * ? *)", ScanCommand: "patch scan", Timezone: "Europe/Berlin",
			}}},
		{name: "bad schedule", args: []string{"--scan-schedule", "daily"}, wantErr: `invalid scan schedule "daily": want cron(...), rate(N unit) or at(...)`},
		{name: "json", output: cmdutil.OutputJSON, wantErr: "deploy render writes YAML; --output json does not apply"},
		{name: "args", args: []string{"x"}, wantErr: "deploy render takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			output := tt.output
			if output == "" {
				output = cmdutil.OutputText
			}
			f, _, _ := newFactory(output)
			var got *RenderOptions
			err := run(f, func(o *RenderOptions) error { got = o; return nil }, tt.args...)
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				require.ErrorAs(t, err, &fe)
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want.Out, got.Out)
			assert.Equal(t, tt.want.Deploy, got.Deploy)
			assert.NotNil(t, got.LoadProject)
		})
	}
}

// TestRenderExample: the command's output for the example project is the
// checked-in deploy/amibake.cfn.yaml.
func TestRenderExample(t *testing.T) {
	f, out, errOut := newFactory(cmdutil.OutputText)
	require.NoError(t, run(f, nil), errOut.String())
	want, err := os.ReadFile("../../../../deploy/amibake.cfn.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(want), out.String())

	path := filepath.Join(t.TempDir(), "t.yaml")
	f, out, errOut = newFactory(cmdutil.OutputText)
	require.NoError(t, run(f, nil, "--out", path, "--patch-schedule", "rate(7 days)"))
	assert.Empty(t, out.String())
	assert.Contains(t, errOut.String(), "Wrote "+path)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), `Default: "rate(7 days)"`)
}

func TestRenderBadProject(t *testing.T) {
	f, _, errOut := newFactory(cmdutil.OutputText)
	f.WorkDir = t.TempDir()
	require.ErrorIs(t, run(f, nil), cmdutil.ErrSilent)
	assert.NotEmpty(t, errOut.String())
}
