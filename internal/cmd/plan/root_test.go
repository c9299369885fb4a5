package plan_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

// TestPlanThroughRoot runs `amibake --chdir <repo> plan` as main does: the
// command is registered and -detailed-exitcode becomes the process code.
func TestPlanThroughRoot(t *testing.T) {
	sb := sandbox.Start(t)
	repo, err := filepath.Abs("../../..")
	require.NoError(t, err)

	amibake := func(args ...string) (int, string, string) {
		ios, _, out, errOut := iostreams.Test()
		f := root.NewFactory(ios)
		f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
		code := root.Main(context.Background(), append([]string{"amibake", "--chdir", repo}, args...), f)
		return code, out.String(), errOut.String()
	}

	code, out, errOut := amibake("plan", "-detailed-exitcode")
	assert.Equal(t, cmdutil.ExitChanges, code)
	assert.Contains(t, out, "linux\tbuild\tnew\t-\n")
	assert.Equal(t, "Plan: 5 to build, 0 up to date.\n", errOut, "no error message for exit 2")

	code, out, _ = amibake("plan")
	assert.Equal(t, cmdutil.ExitOK, code, "changes without -detailed-exitcode are not an error")
	assert.Contains(t, out, "app-worker\tbuild\tnew\t-\n")

	code, _, errOut = amibake("plan", "nope")
	assert.Equal(t, cmdutil.ExitFailure, code)
	assert.Contains(t, errOut, `unknown layer "nope"`)
}
