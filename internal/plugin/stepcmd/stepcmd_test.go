package stepcmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShellQuote(t *testing.T) {
	cases := map[string]string{
		"":           "''",
		"plain":      "'plain'",
		"it's":       `'it'\''s'`,
		"$HOME `x`":  "'$HOME `x`'",
		"a\nb":       "'a\nb'",
		`back\slash`: `'back\slash'`,
	}
	for in, want := range cases {
		assert.Equal(t, want, ShellQuote(in), "quote %q", in)
	}
}

func TestBuildCommandsInline(t *testing.T) {
	s := Step{
		Name:   "base/motd",
		Inline: []string{"echo hello > /etc/motd", "dnf install -y jq"},
		Env:    map[string]string{"B": "two words", "A": "it's $HOME"},
	}
	got, err := BuildCommands(s, nil, "us-east-1")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"# amibake-step: base/motd",
		"set -euo pipefail",
		`export A='it'\''s $HOME'`,
		`export B='two words'`,
		"echo hello > /etc/motd",
		"dnf install -y jq",
	}, got)
}

func TestBuildCommandsScript(t *testing.T) {
	s := Step{Name: "cis/harden", Script: "harden.sh"}
	got, err := BuildCommands(s, []byte("\xef\xbb\xbf#!/bin/bash\r\ndnf install -y jq\r\necho done\r\n"), "")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"# amibake-step: cis/harden",
		"set -euo pipefail",
		"#!/bin/bash",
		"dnf install -y jq",
		"echo done",
	}, got)

	empty, err := BuildCommands(s, nil, "")
	require.NoError(t, err)
	assert.Len(t, empty, 2, "an empty script still records the step")
}

func TestBuildCommandsSecretEnvNeverCarriesAValue(t *testing.T) {
	s := Step{
		Name:      "app/db",
		Inline:    []string{"configure-db"},
		SecretEnv: map[string]string{"DB_PASSWORD": "/acme/db/password"},
	}
	got, err := BuildCommands(s, nil, "eu-west-1")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"# amibake-step: app/db",
		"set -euo pipefail",
		`DB_PASSWORD="$(aws ssm get-parameter --name '/acme/db/password' --with-decryption --query Parameter.Value --output text --region 'eu-west-1')"`,
		"export DB_PASSWORD",
		"configure-db",
	}, got)
}

func TestBuildCommandsFile(t *testing.T) {
	content := bytes.Repeat([]byte("line with 'quotes' and $vars\n"), 20)
	s := Step{Name: "ssh/config", FileSource: "x", FileDestination: "/etc/ssh/sshd_config", FileMode: "0600"}
	got, err := BuildCommands(s, content, "")
	require.NoError(t, err)
	assert.Equal(t, "# amibake-step: ssh/config", got[0])
	assert.Equal(t, `install -D -m '0600' "$amibake_tmp" '/etc/ssh/sshd_config'`, got[len(got)-1])
	for _, l := range got {
		assert.LessOrEqual(t, len(l), 80, "base64 is wrapped")
	}

	s.FileMode = ""
	got, err = BuildCommands(s, content, "")
	require.NoError(t, err)
	assert.Contains(t, got[len(got)-1], "-m '0644'")
}

func TestBuildCommandsTooLarge(t *testing.T) {
	s := Step{Name: "big", FileSource: "x", FileDestination: "/opt/big"}
	_, err := BuildCommands(s, make([]byte, MaxCommandBytes), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `step "big"`)
	assert.Contains(t, err.Error(), "SSM Run Command limit")
}

func TestBuildCommandsNothingToRun(t *testing.T) {
	_, err := BuildCommands(Step{Name: "x"}, nil, "")
	require.Error(t, err)
}

// runBash runs the command list the way the SSM agent does: joined with
// newlines into one script.
func runBash(t *testing.T, cmds []string, env ...string) (string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-c", strings.Join(cmds, "\n"))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestEnvQuotingRoundTripsThroughBash(t *testing.T) {
	values := map[string]string{
		"SINGLE":   "it's",
		"DOUBLE":   `say "hi"`,
		"DOLLAR":   "$HOME $(id) `id`",
		"NEWLINE":  "a\nb",
		"BACKSL":   `C:\path\`,
		"EMPTY":    "",
		"UNICODE":  "grüße ✓",
		"SEMI":     "a; rm -rf /tmp/nothing-here",
		"TRAILING": "x ",
	}
	s := Step{Name: "t/env", Env: values, Inline: []string{`for v in SINGLE DOUBLE DOLLAR NEWLINE BACKSL EMPTY UNICODE SEMI TRAILING; do printf '%s=[%s]\n' "$v" "${!v}"; done`}}
	cmds, err := BuildCommands(s, nil, "")
	require.NoError(t, err)
	out, err := runBash(t, cmds)
	require.NoError(t, err, out)
	for _, k := range []string{"SINGLE", "DOUBLE", "DOLLAR", "NEWLINE", "BACKSL", "EMPTY", "UNICODE", "SEMI", "TRAILING"} {
		assert.Contains(t, out, k+"=["+values[k]+"]")
	}
}

func TestFileStepInstallsContentAndMode(t *testing.T) {
	dir := t.TempDir()
	content := []byte("#!/bin/sh\necho 'binary \x00 safe' $X\n\xff\xfe")
	dest := filepath.Join(dir, "deep", "dir", "it's.conf")
	cmds, err := BuildCommands(Step{Name: "t/file", FileSource: "x", FileDestination: dest, FileMode: "0640"}, content, "")
	require.NoError(t, err)
	out, err := runBash(t, cmds)
	require.NoError(t, err, out)
	got, err := os.ReadFile(dest)
	require.NoError(t, err)
	assert.Equal(t, content, got)
	fi, err := os.Stat(dest)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
}

func TestStrictModeStopsAtFirstFailure(t *testing.T) {
	cmds, err := BuildCommands(Step{Name: "t/fail", Inline: []string{"false", "echo after"}}, nil, "")
	require.NoError(t, err)
	out, err := runBash(t, cmds)
	require.Error(t, err)
	assert.NotContains(t, out, "after")
}

func TestFailedSecretFetchFailsTheStep(t *testing.T) {
	// A fake aws CLI that fails, as it would without permission.
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "aws"), []byte("#!/bin/sh\necho denied >&2\nexit 254\n"), 0o755))
	cmds, err := BuildCommands(Step{Name: "t/secret", SecretEnv: map[string]string{"TOKEN": "/x/token"}, Inline: []string{"echo ran"}}, nil, "")
	require.NoError(t, err)
	bash, lerr := exec.LookPath("bash")
	if lerr != nil {
		t.Skip("bash not installed")
	}
	cmd := exec.Command(bash, "-c", strings.Join(cmds, "\n"))
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	require.Error(t, err, string(out))
	assert.NotContains(t, string(out), "ran")
}

func TestGeneratedCommandsPassShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed")
	}
	steps := []Step{
		{Name: "a/inline", Inline: []string{"echo hi"}, Env: map[string]string{"A": "it's"}, SecretEnv: map[string]string{"S": "/p/s"}},
		{Name: "a/file", FileSource: "x", FileDestination: "/etc/x", FileMode: "0600"},
	}
	for _, s := range steps {
		cmds, err := BuildCommands(s, []byte("data"), "us-east-1")
		require.NoError(t, err)
		script := "#!/bin/bash\n" + strings.Join(cmds, "\n") + "\n"
		cmd := exec.Command(sc, "-s", "bash", "-")
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s\n%s", script, out)
	}
}

func TestValidate(t *testing.T) {
	script := filepath.Join(t.TempDir(), "s.sh")
	require.NoError(t, os.WriteFile(script, []byte("true\n"), 0o600))
	good := []Step{
		{Name: "a/inline", Inline: []string{"true"}, Env: map[string]string{"A": "1"}, SecretEnv: map[string]string{"S": "/p/s"}},
		{Name: "a/script", Script: script, Timeout: time.Minute},
		{Name: "a/file", FileSource: script, FileDestination: "/etc/x", FileMode: "0600"},
		{Name: "a/patch", Patch: &Patch{}},
	}
	for i, s := range good {
		assert.Empty(t, s.Validate(i), s.Name)
	}

	bad := Step{Name: "p", Patch: &Patch{Operation: "Remove", Reboot: "Always"}, Inline: []string{"x"}, Env: map[string]string{"A": "1"}}
	msg := errors.Join(bad.Validate(2)...).Error()
	for _, want := range []string{`step 3 ("p"): `, `operation "Remove"`, `reboot "Always"`, "no env", "exactly one of"} {
		assert.Contains(t, msg, want)
	}
}

func TestPatchDefaults(t *testing.T) {
	var p Patch
	assert.Equal(t, DefaultPatchOperation, p.OperationOrDefault())
	assert.Equal(t, DefaultPatchReboot, p.RebootOrDefault())
	p = Patch{Operation: "Scan", Reboot: "RebootIfNeeded"}
	assert.Equal(t, "Scan", p.OperationOrDefault())
	assert.Equal(t, "RebootIfNeeded", p.RebootOrDefault())
}

func TestLoadBody(t *testing.T) {
	f := filepath.Join(t.TempDir(), "body")
	require.NoError(t, os.WriteFile(f, []byte("content"), 0o600))
	for _, s := range []Step{{Name: "s", Script: f}, {Name: "f", FileSource: f, FileDestination: "/x"}} {
		b, err := LoadBody(s)
		require.NoError(t, err)
		assert.Equal(t, "content", string(b))
	}
	b, err := LoadBody(Step{Name: "i", Inline: []string{"true"}})
	require.NoError(t, err)
	assert.Nil(t, b, "inline steps read nothing")
	_, err = LoadBody(Step{Name: "gone", Script: f + ".missing"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `step "gone"`)
}
