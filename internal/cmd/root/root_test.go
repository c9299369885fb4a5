package root

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/amibake/amibake/internal/iostreams"
)

func runMain(args ...string) (int, string, string) {
	ios, _, out, errOut := iostreams.Test()
	code := Main(context.Background(), append([]string{"amibake"}, args...), NewFactory(ios))
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runMain("--version")
	assert.Equal(t, 0, code)
	assert.Equal(t, "amibake version dev\n", out)
}

func TestGlobalFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-o", "yaml", "validate"}, `invalid --output "yaml": want "text" or "json"`},
		{[]string{"--log-level", "loud", "validate"}, `invalid --log-level "loud"`},
		{[]string{"--chdir", "/does/not/exist", "validate"}, "--chdir /does/not/exist: not a directory"},
		{[]string{"validate", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
	}
	for _, c := range cases {
		code, _, errOut := runMain(c.args...)
		assert.Equal(t, 1, code, c.args)
		assert.Contains(t, errOut, c.want, c.args)
		assert.Contains(t, errOut, "Run 'amibake --help' for usage.", c.args)
	}
}

func TestUnknownCommandFails(t *testing.T) {
	code, _, errOut := runMain("frobnicate")
	assert.Equal(t, 1, code, "a usage error, not urfave's exit 3 (partial failure)")
	assert.Contains(t, errOut, `unknown command "frobnicate"`)

	code, _, errOut = runMain("valdate")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `did you mean "validate"?`)

	code, out, _ := runMain()
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "USAGE:")
}

func TestChdirRunsInProject(t *testing.T) {
	code, out, errOut := runMain("--chdir", "../../..", "validate")
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Success!")
}

// urfave/cli v2 stops at the first positional argument; commands read
// their arguments through cmdutil.Args so flags may follow them.
func TestFlagsAfterArguments(t *testing.T) {
	code, out, errOut := runMain("--chdir", "../../..", "graph", "app-web", "--format", "mermaid")
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "graph TD")
	assert.NotContains(t, out, "app-worker", "only app-web's lineage")

	code, out, errOut = runMain("--chdir", "../../..", "fingerprint", "linux", "--explain", "-var", "log_endpoint=logs.example.com:24224")
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "linux")

	code, _, errOut = runMain("--chdir", "../../..", "graph", "linux", "--no-such")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "flag provided but not defined: -no-such")
}
