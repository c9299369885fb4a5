package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/channel/channeltest/clitest"
	"github.com/amibake/amibake/internal/sandbox"
)

// TestAdoptPackerTutorial runs the commands of
// docs/tutorials/adopt-packer-template.md on its example project
// (testdata/tutorials/adopt-packer) against the sandbox, and checks that
// the tutorial shows exactly these commands.
func TestAdoptPackerTutorial(t *testing.T) {
	repo := repoRoot()
	doc, err := os.ReadFile(filepath.Join(repo, "docs/tutorials/adopt-packer-template.md"))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join(repo, "testdata/tutorials/adopt-packer"))))
	sb := sandbox.Start(t)

	steps := []struct {
		cmd  string // as the tutorial shows it
		want []string
	}{
		{"validate", []string{"Success! The configuration is valid.", "2 layers, 2 recipes, 0 fleets."}},
		{"graph", []string{"al2023  [os_update] (source: filter:owners=amazon;name=al2023-ami-2023.*-x86_64;arch=x86_64)", "└── web  [web_server]"}},
		{"fingerprint", []string{"al2023\t", "web\t"}},
		{"render --out build", []string{"build/al2023.pkr.hcl", "build/web.pkr.hcl"}},
		{"plan", []string{"al2023", "web"}},
		{"bake --dry-run", []string{"al2023", "web"}},
	}
	for _, s := range steps {
		assert.Contains(t, string(doc), "amibake "+s.cmd+"\n", "the tutorial shows `amibake %s`", s.cmd)
		code, out, errOut := clitest.Run(t, sb, dir, strings.Fields(s.cmd)...)
		t.Logf("$ amibake %s\n%s%s", s.cmd, out, errOut)
		require.Equal(t, 0, code, "amibake %s: %s%s", s.cmd, out, errOut)
		for _, w := range s.want {
			assert.Contains(t, out+errOut, w, "amibake %s", s.cmd)
		}
	}

	// The rendered web template carries what the legacy template did.
	web, err := os.ReadFile(filepath.Join(dir, "build", "web.pkr.hcl"))
	require.NoError(t, err)
	for _, want := range []string{`instance_type   = "t3.small"`, `volume_size           = 16`, `volume_type           = "gp3"`,
		`service                      = "web"`, `team                         = "web"`, "dnf -y install nginx", "/etc/nginx/nginx.conf"} {
		assert.Contains(t, string(web), want)
	}
	root, err := os.ReadFile(filepath.Join(dir, "build", "al2023.pkr.hcl"))
	require.NoError(t, err)
	assert.Contains(t, string(root), "al2023-ami-2023.*-x86_64")
	assert.Contains(t, string(root), "dnf -y update")
}

// TestCodeBuildTutorial runs the commands of
// docs/tutorials/codebuild-patch-pipeline.md that need no AWS account on
// the example project.
func TestCodeBuildTutorial(t *testing.T) {
	repo := repoRoot()
	doc, err := os.ReadFile(filepath.Join(repo, "docs/tutorials/codebuild-patch-pipeline.md"))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(repo+"/testdata/tutorials/adopt-packer")))
	sb := sandbox.Start(t)
	steps := []struct {
		cmd  []string
		want string
	}{
		{[]string{"iam-policy", "--for", "all", "--explain"}, "IAM policy for amibake --for all"},
		{[]string{"ci", "buildspec", "--out", "buildspec.yml"}, "buildspec.yml"},
		{[]string{"deploy", "render", "--out", "amibake.cfn.yaml"}, ""},
		{[]string{"deploy", "render", "--out", "amibake.cfn.yaml", "--patch-command", "patch run --rollout --apply"}, ""},
		{[]string{"ci", "buildspec", "--batch", "--out", "buildspec.yml"}, "buildspec.yml"},
	}
	for _, s := range steps {
		shown := "amibake " + strings.Join(s.cmd, " ")
		shown = strings.Replace(shown, "patch run --rollout --apply", `"patch run --rollout --apply"`, 1)
		assert.Contains(t, string(doc), shown, "the tutorial shows it")
		// --out is relative to the working directory, which a test cannot
		// change: the files go to the project directory by absolute path.
		args := append([]string(nil), s.cmd...)
		for i, a := range args {
			if i > 0 && args[i-1] == "--out" {
				args[i] = filepath.Join(dir, a)
			}
		}
		code, out, errOut := clitest.Run(t, sb, dir, args...)
		require.Equal(t, 0, code, "%s: %s", shown, errOut)
		assert.Contains(t, out+errOut, s.want)
	}
	cfn, err := os.ReadFile(filepath.Join(dir, "amibake.cfn.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(cfn), "patch run --rollout --apply")
	spec, err := os.ReadFile(filepath.Join(dir, "buildspec.yml"))
	require.NoError(t, err)
	assert.Contains(t, string(spec), "amibake ci lease acquire")
}
