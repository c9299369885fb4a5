package render

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

const secret = "edr-tok-5b7c1d9e-DO-NOT-LEAK"

func newFactory(t *testing.T, output string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	root, err := filepath.Abs("../../..")
	require.NoError(t, err)
	ios, _, out, errOut := iostreams.Test()
	return &cmdutil.Factory{
		IOStreams: ios,
		Output:    output,
		WorkDir:   root,
		Version:   "test",
		Now:       func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) },
	}, out, errOut
}

func run(f *cmdutil.Factory, runF func(*RenderOptions) error, args ...string) error {
	app := &cli.App{
		Name:           "amibake",
		Writer:         f.IOStreams.Out,
		ErrWriter:      f.IOStreams.ErrOut,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{NewCmdRender(f, runF)},
	}
	return app.Run(append([]string{"amibake", "render"}, args...))
}

func TestNewCmdRender(t *testing.T) {
	f, _, _ := newFactory(t, cmdutil.OutputText)
	var got *RenderOptions
	capture := func(o *RenderOptions) error { got = o; return nil }

	require.NoError(t, run(f, capture, "--out", "build", "--sandbox", "base", "app-web"))
	assert.Equal(t, filepath.Join(f.WorkDir, "build"), got.OutDir, "relative to the project directory")
	assert.True(t, got.Sandbox)
	assert.Equal(t, []string{"base", "app-web"}, got.Layers)
	assert.False(t, got.JSON)
	assert.NotNil(t, got.LoadConfig)

	abs := t.TempDir()
	require.NoError(t, run(f, capture, "--out", abs))
	assert.Equal(t, abs, got.OutDir)
	assert.False(t, got.Sandbox)
	assert.Empty(t, got.Layers)

	got = nil
	assert.Error(t, run(f, capture), "--out is required")
	assert.Nil(t, got)
}

// grepDir reports every file under dir that contains s.
func grepDir(t *testing.T, dir, s string) []string {
	t.Helper()
	var hits []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			hits = append(hits, p)
		}
		return nil
	}))
	return hits
}

func TestRenderEveryLayerNeverWritesASecret(t *testing.T) {
	f, out, errOut := newFactory(t, cmdutil.OutputText)
	dir := filepath.Join(t.TempDir(), "nested", "out")
	require.NoError(t, run(f, nil, "--out", dir, "-var", "security_agent_token="+secret))

	layers := []string{"linux", "foundation", "base", "app-web", "app-worker"}
	var want string
	for _, l := range layers {
		want += filepath.Join(dir, l+".pkr.hcl") + "\n"
	}
	assert.Equal(t, want, out.String())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, len(layers), "only the templates, no temporary files")

	for _, l := range layers {
		b, err := os.ReadFile(filepath.Join(dir, l+".pkr.hcl"))
		require.NoError(t, err)
		_, diags := hclsyntax.ParseConfig(b, l+".pkr.hcl", hcl.InitialPos)
		require.False(t, diags.HasErrors(), "%s: %s", l, diags.Error())
		assert.Regexp(t, `"amibake:build-id"\s+= "render"`, string(b), l)
		assert.Regexp(t, `"amibake:fingerprint"\s+= "[0-9a-f]{64}"`, string(b), l)
		assert.Regexp(t, `"amibake:recipe-digests"|"amibake:settings-digest"`, string(b), l)
		assert.NotContains(t, string(b), "skip_credential_validation", "not a sandbox render")
	}
	// base passes the token to security_agent: by reference only.
	base, err := os.ReadFile(filepath.Join(dir, "base.pkr.hcl"))
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`/amibake/acme-golden/builds/render/secrets/`), string(base))

	assert.Empty(t, grepDir(t, dir, secret), "the secret was written")
	assert.NotContains(t, out.String(), secret)
	assert.NotContains(t, errOut.String(), secret)
}

func TestRenderSelectedLayersJSONAndSandbox(t *testing.T) {
	f, out, _ := newFactory(t, cmdutil.OutputJSON)
	dir := t.TempDir()
	require.NoError(t, run(f, nil, "--out", dir, "--sandbox", "app-web", "linux"))
	var got []Rendered
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	assert.Equal(t, []Rendered{
		{Layer: "linux", Path: filepath.Join(dir, "linux.pkr.hcl")},
		{Layer: "app-web", Path: filepath.Join(dir, "app-web.pkr.hcl")},
	}, got)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2)
	b, err := os.ReadFile(filepath.Join(dir, "linux.pkr.hcl"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "skip_credential_validation")
	assert.Regexp(t, `variable "aws_poll_delay_seconds" \{\s+type\s+= number\s+default = 1\s`, string(b))
}

func TestRenderErrors(t *testing.T) {
	f, _, _ := newFactory(t, cmdutil.OutputText)
	dir := filepath.Join(t.TempDir(), "out")
	err := run(f, nil, "--out", dir, "app-wbe")
	var fe *cmdutil.FlagError
	require.ErrorAs(t, err, &fe)
	assert.Contains(t, err.Error(), `did you mean "app-web"`)
	assert.NoDirExists(t, dir, "nothing written on error")

	// A broken project: diagnostics, silent failure, nothing written.
	f, _, errOut := newFactory(t, cmdutil.OutputText)
	f.WorkDir = t.TempDir()
	err = run(f, nil, "--out", dir)
	require.Error(t, err)
	assert.True(t, cmdutil.IsSilent(err))
	assert.Contains(t, errOut.String(), "Error:")
	assert.NoDirExists(t, dir)

	// The output path is a file.
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	f, _, _ = newFactory(t, cmdutil.OutputText)
	err = run(f, nil, "--out", file, "linux")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "create output directory")
}

// copyProject copies the example project's HCL and recipe files to a
// temporary directory, with edit applied to amibake.hcl.
func copyProject(t *testing.T, root string, edit func(string) string) string {
	t.Helper()
	dst := t.TempDir()
	for _, sub := range []string{"amibake.hcl", "patch.hcl", "layers", "recipes", "fleets"} {
		src := filepath.Join(root, sub)
		require.NoError(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if rel == "amibake.hcl" {
				b = []byte(edit(string(b)))
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		}))
	}
	return dst
}

func TestRenderSSHModeNeverWritesASecret(t *testing.T) {
	f, out, errOut := newFactory(t, cmdutil.OutputText)
	f.WorkDir = copyProject(t, f.WorkDir, func(s string) string {
		edited := regexp.MustCompile(`provisioner\s*=\s*"ssm"`).ReplaceAllString(s, `provisioner = "ssh"`)
		require.NotEqual(t, s, edited)
		return edited
	})
	t.Setenv("AMIBAKE_VAR_security_agent_token", secret)
	require.NoError(t, run(f, nil, "--out", "build"))

	dir := filepath.Join(f.WorkDir, "build")
	base, err := os.ReadFile(filepath.Join(dir, "base.pkr.hcl"))
	require.NoError(t, err)
	assert.Contains(t, string(base), `provisioner "shell"`)
	assert.Regexp(t, `default\s+= env\("AMIBAKE_SECRET_`, string(base), "the secret comes from packer's environment")
	assert.Empty(t, grepDir(t, f.WorkDir, secret), "the secret was written")
	assert.NotContains(t, out.String(), secret)
	assert.NotContains(t, errOut.String(), secret)
}
