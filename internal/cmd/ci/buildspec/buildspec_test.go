package buildspec

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// repoRoot holds the example project.
const repoRoot = "../../../.."

func newFactory(output string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	ios, _, out, errOut := iostreams.Test()
	return &cmdutil.Factory{
		IOStreams: ios,
		Output:    output,
		Version:   "v0.9.0",
		WorkDir:   repoRoot,
		Now:       func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) },
	}, out, errOut
}

func run(f *cmdutil.Factory, runF func(*BuildspecOptions) error, args ...string) error {
	app := &cli.App{
		Name:           "amibake",
		Writer:         f.IOStreams.Out,
		ErrWriter:      f.IOStreams.ErrOut,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{{Name: "ci", Subcommands: []*cli.Command{NewCmdBuildspec(f, runF)}}},
	}
	return app.Run(append([]string{"amibake", "ci", "buildspec"}, args...))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name), got, *update)
}

func TestNewCmdBuildspec(t *testing.T) {
	tests := []struct {
		name    string
		output  string
		args    []string
		want    BuildspecOptions
		wantErr string
	}{
		{name: "defaults", want: BuildspecOptions{Version: "v0.9.0", Command: "bake"}},
		{name: "batch to file", args: []string{"--batch", "--out", "b.yml"}, want: BuildspecOptions{Batch: true, Out: "b.yml", Version: "v0.9.0", Command: "bake"}},
		{name: "command and version", args: []string{"--command", "patch run --rollout", "--amibake-version", "v1.0.0", "--project-dir", "images"}, want: BuildspecOptions{Version: "v1.0.0", Command: "patch run --rollout", Dir: "images"}},
		{name: "batch with command", args: []string{"--batch", "--command", "x"}, wantErr: "--command does not apply to --batch: every build runs amibake bake LAYER"},
		{name: "json", output: cmdutil.OutputJSON, wantErr: "ci buildspec writes YAML; --output json does not apply"},
		{name: "args", args: []string{"extra"}, wantErr: "ci buildspec takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			output := tt.output
			if output == "" {
				output = cmdutil.OutputText
			}
			f, _, _ := newFactory(output)
			var got *BuildspecOptions
			err := run(f, func(o *BuildspecOptions) error { got = o; return nil }, tt.args...)
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				require.ErrorAs(t, err, &fe)
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, got)
			assert.Equal(t, tt.want.Batch, got.Batch)
			assert.Equal(t, tt.want.Out, got.Out)
			assert.Equal(t, tt.want.Version, got.Version)
			assert.Equal(t, tt.want.Command, got.Command)
			assert.Equal(t, tt.want.Dir, got.Dir)
			assert.NotNil(t, got.LoadConfig)
		})
	}
}

func TestBuildspecGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"buildspec.golden.yml", nil},
		{"buildspec-batch.golden.yml", []string{"--batch"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			f, out, errOut := newFactory(cmdutil.OutputText)
			require.NoError(t, run(f, nil, tc.args...), errOut.String())
			golden(t, tc.golden, out.Bytes())
		})
	}
}

func TestBuildspecOutFile(t *testing.T) {
	f, out, errOut := newFactory(cmdutil.OutputText)
	path := filepath.Join(t.TempDir(), "buildspec.yml")
	require.NoError(t, run(f, nil, "--batch", "--out", path))
	assert.Empty(t, out.String())
	assert.Contains(t, errOut.String(), "Wrote "+path)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), "build-graph:")
}

func TestBuildspecBadProject(t *testing.T) {
	f, _, errOut := newFactory(cmdutil.OutputText)
	f.WorkDir = t.TempDir()
	err := run(f, nil, "--batch")
	require.ErrorIs(t, err, cmdutil.ErrSilent)
	assert.NotEmpty(t, errOut.String())
}
