package fmtcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

func runCommand(cmd *cli.Command, args ...string) error {
	app := &cli.App{
		Name:           "amibake",
		Writer:         &bytes.Buffer{},
		ErrWriter:      &bytes.Buffer{},
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{cmd},
	}
	return app.Run(append([]string{"amibake", cmd.Name}, args...))
}

func TestNewCmdFmt(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    FmtOptions
		wantErr string
	}{
		{name: "defaults", want: FmtOptions{Write: true, Paths: []string{}}},
		{name: "check does not write", args: []string{"-check"}, want: FmtOptions{Check: true, Paths: []string{}}},
		{name: "diff and paths", args: []string{"-diff", "layers", "amibake.hcl"}, want: FmtOptions{Diff: true, Write: true, Paths: []string{"layers", "amibake.hcl"}}},
		{name: "write=false", args: []string{"-write=false"}, want: FmtOptions{Paths: []string{}}},
		{name: "stdin", args: []string{"-"}, want: FmtOptions{Write: true, Paths: []string{"-"}}},
		{name: "stdin with paths", args: []string{"-", "a.hcl"}, wantErr: `"-" (standard input) cannot be combined with other paths`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios, WorkDir: "/project", Output: cmdutil.OutputText}
			var got *FmtOptions
			err := runCommand(NewCmdFmt(f, func(o *FmtOptions) error { got = o; return nil }), tt.args...)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			want := tt.want
			want.IO, want.WorkDir = ios, "/project"
			assert.Equal(t, &want, got)
		})
	}
}

const (
	messy = "layer \"linux\" {\n  source {\n  ssm_parameter = \"/aws/x\"\n  }\n  instance_type=\"t3.small\"\n  imdsv2_required = true\n}\n"
	tidy  = "layer \"linux\" {\n  source {\n    ssm_parameter = \"/aws/x\"\n  }\n  instance_type   = \"t3.small\"\n  imdsv2_required = true\n}\n"
	clean = "project \"demo\" {\n  regions = [\"us-east-1\"]\n}\n"
)

func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o640))
	}
	return dir
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	require.NoError(t, err)
	return string(b)
}

func run(t *testing.T, opts FmtOptions, stdin string) (string, string, error) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	opts.IO = ios
	err := fmtRun(&opts)
	return out.String(), errOut.String(), err
}

func TestFmtRun_write(t *testing.T) {
	dir := project(t, map[string]string{
		"amibake.hcl":                 clean,
		"prod.vars.hcl":               "size=16\n",
		"layers/linux.hcl":            messy,
		"recipes/cis/recipe.hcl":      "recipe \"cis\" {\nversion=\"1.0.0\"\n}\n",
		"recipes/cis/files/other.hcl": messy, // not a project file
		"fleets/web.hcl":              clean,
		"notes/other.hcl":             messy, // not a project file
	})
	out, errOut, err := run(t, FmtOptions{WorkDir: dir, Write: true}, "")
	require.NoError(t, err)
	assert.Equal(t, "layers/linux.hcl\nprod.vars.hcl\nrecipes/cis/recipe.hcl\n", out)
	assert.Empty(t, errOut)
	assert.Equal(t, tidy, read(t, dir, "layers/linux.hcl"))
	assert.Equal(t, "size = 16\n", read(t, dir, "prod.vars.hcl"))
	assert.Equal(t, "recipe \"cis\" {\n  version = \"1.0.0\"\n}\n", read(t, dir, "recipes/cis/recipe.hcl"))
	assert.Equal(t, messy, read(t, dir, "recipes/cis/files/other.hcl"))
	assert.Equal(t, messy, read(t, dir, "notes/other.hcl"))

	st, err := os.Stat(filepath.Join(dir, "layers/linux.hcl"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm(), "mode kept")
	leftovers, _ := filepath.Glob(filepath.Join(dir, "layers", ".*"))
	assert.Empty(t, leftovers, "no temporary files left")

	// A second run has nothing to do.
	out, _, err = run(t, FmtOptions{WorkDir: dir, Write: true}, "")
	require.NoError(t, err)
	assert.Empty(t, out)
}

func TestFmtRun_checkAndDiff(t *testing.T) {
	dir := project(t, map[string]string{"amibake.hcl": clean, "layers/linux.hcl": messy})

	out, errOut, err := run(t, FmtOptions{WorkDir: dir, Check: true}, "")
	assert.Equal(t, cmdutil.ExitFailure, cmdutil.ExitCode(err))
	assert.True(t, cmdutil.IsSilent(err))
	assert.Equal(t, "layers/linux.hcl\n", out)
	assert.Empty(t, errOut)
	assert.Equal(t, messy, read(t, dir, "layers/linux.hcl"), "-check writes nothing")

	out, _, err = run(t, FmtOptions{WorkDir: dir, Check: true, Diff: true}, "")
	assert.Equal(t, cmdutil.ExitFailure, cmdutil.ExitCode(err))
	assert.Equal(t, `layers/linux.hcl
--- old/layers/linux.hcl
+++ new/layers/linux.hcl
@@ -1,7 +1,7 @@
 layer "linux" {
   source {
-  ssm_parameter = "/aws/x"
+    ssm_parameter = "/aws/x"
   }
-  instance_type="t3.small"
+  instance_type   = "t3.small"
   imdsv2_required = true
 }
`, out)

	// Only the paths given are looked at.
	out, _, err = run(t, FmtOptions{WorkDir: dir, Check: true, Paths: []string{"amibake.hcl"}}, "")
	require.NoError(t, err)
	assert.Empty(t, out)
}

func TestFmtRun_syntaxError(t *testing.T) {
	broken := "layer \"linux\" {\n  instance_type = \n}\n"
	dir := project(t, map[string]string{"amibake.hcl": clean, "layers/bad.hcl": broken, "layers/linux.hcl": messy})
	out, errOut, err := run(t, FmtOptions{WorkDir: dir, Write: true}, "")
	assert.Equal(t, cmdutil.ExitFailure, cmdutil.ExitCode(err))
	assert.Equal(t, "layers/linux.hcl\n", out, "other files are still formatted")
	assert.Equal(t, `Error: Invalid expression
  --> layers/bad.hcl:2:19
   |
 2 |   instance_type = 
   |                   ^
Expected the start of an expression, but found an invalid expression token.

`, errOut)
	assert.Equal(t, broken, read(t, dir, "layers/bad.hcl"), "left untouched")
	assert.Equal(t, tidy, read(t, dir, "layers/linux.hcl"))
}

func TestFmtRun_json(t *testing.T) {
	dir := project(t, map[string]string{"amibake.hcl": clean, "layers/linux.hcl": messy})
	out, _, err := run(t, FmtOptions{WorkDir: dir, JSON: true, Check: true}, "")
	assert.Equal(t, cmdutil.ExitFailure, cmdutil.ExitCode(err))
	assert.Equal(t, `{
  "changed_files": [
    "layers/linux.hcl"
  ],
  "error_count": 0,
  "diagnostics": []
}
`, out)
}

func TestFmtRun_stdin(t *testing.T) {
	out, _, err := run(t, FmtOptions{WorkDir: t.TempDir(), Write: true, Paths: []string{"-"}}, messy)
	require.NoError(t, err)
	assert.Equal(t, tidy, out)

	_, _, err = run(t, FmtOptions{WorkDir: t.TempDir(), Check: true, Paths: []string{"-"}}, messy)
	assert.Equal(t, cmdutil.ExitFailure, cmdutil.ExitCode(err))
	_, _, err = run(t, FmtOptions{WorkDir: t.TempDir(), Check: true, Paths: []string{"-"}}, tidy)
	assert.NoError(t, err)

	_, errOut, err := run(t, FmtOptions{WorkDir: t.TempDir(), Paths: []string{"-"}}, "a = \n")
	assert.Equal(t, cmdutil.ExitFailure, cmdutil.ExitCode(err))
	assert.Contains(t, errOut, "--> <stdin>:1:")
}

func TestFmtRun_missingPath(t *testing.T) {
	_, _, err := run(t, FmtOptions{WorkDir: t.TempDir(), Paths: []string{"nope"}}, "")
	require.EqualError(t, err, "no file or directory at nope")
}

func TestUnifiedDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n"
	b := "1\nTWO\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\nSIXTEEN"
	assert.Equal(t, `--- old/f
+++ new/f
@@ -1,5 +1,5 @@
 1
-2
+TWO
 3
 4
 5
@@ -13,3 +13,4 @@
 13
 14
 15
+SIXTEEN
\ No newline at end of file
`, unifiedDiff("f", []byte(a), []byte(b)))
	assert.Empty(t, unifiedDiff("f", []byte(a), []byte(a)))
	assert.Equal(t, "--- old/f\n+++ new/f\n@@ -0,0 +1 @@\n+x\n", unifiedDiff("f", nil, []byte("x\n")))
}
