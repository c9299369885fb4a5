package completion_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
)

func run(args ...string) (int, string, string) {
	ios, _, out, errOut := iostreams.Test()
	code := root.Main(context.Background(), append([]string{"amibake"}, args...), root.NewFactory(ios))
	return code, out.String(), errOut.String()
}

func TestCompletionScripts(t *testing.T) {
	code, out, errOut := run("completion", "bash")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "complete -o bashdefault -o default -o nospace -F _amibake_bash_autocomplete amibake")
	assert.Contains(t, out, "--generate-bash-completion")

	code, out, errOut = run("completion", "zsh")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "#compdef amibake")
	assert.Contains(t, out, "compdef _amibake_zsh_autocomplete amibake")

	code, _, errOut = run("completion", "fish")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `unsupported shell "fish"`)
	code, _, _ = run("completion")
	assert.Equal(t, 1, code)
}

// The scripts ask amibake for candidates with --generate-bash-completion;
// the root answers with the commands and a command with its subcommands.
// urfave reads the word before the last from os.Args (as a shell would
// have run the binary), so the test sets it.
func TestGenerateBashCompletion(t *testing.T) {
	saved := os.Args
	t.Cleanup(func() { os.Args = saved })
	os.Args = []string{"amibake", "--generate-bash-completion"}
	code, out, _ := run("--generate-bash-completion")
	require.Equal(t, 0, code)
	for _, c := range []string{"completion", "plan", "bake", "lock"} {
		assert.Contains(t, out, c+"\n")
	}
	os.Args = []string{"amibake", "lock", "--generate-bash-completion"}
	code, out, _ = run("lock", "--generate-bash-completion")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "status")
}

// The bash script parses (bash -n) where bash exists.
func TestBashScriptParses(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	_, out, _ := run("completion", "bash")
	p := filepath.Join(t.TempDir(), "amibake.bash")
	require.NoError(t, os.WriteFile(p, []byte(out), 0o644))
	res, err := exec.Command(bash, "-n", p).CombinedOutput()
	require.NoError(t, err, string(res))
}
