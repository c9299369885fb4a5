package applyflow

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

func TestConfirm(t *testing.T) {
	confirm := func(apply bool, changes int, answer string) (bool, error, string) {
		ios, in, _, errOut := iostreams.Test()
		ios.SetStdinTTY(true)
		ios.SetStderrTTY(true)
		in.WriteString(answer)
		opts := &Options{Factory: &cmdutil.Factory{IOStreams: ios, Output: cmdutil.OutputText}, Apply: apply}
		ok, err := Confirm(context.Background(), opts, cmdutil.ApplyPrompt{Changes: changes, Regions: []string{"us-east-1"},
			Preview: func(w io.Writer) error { _, err := io.WriteString(w, "+ thing\n"); return err }})
		return ok, err, errOut.String()
	}
	ok, err, asked := confirm(false, 3, "y\n")
	require.NoError(t, err)
	assert.False(t, ok, "a dry run changes nothing")
	assert.Empty(t, asked, "and asks nothing")
	ok, err, asked = confirm(true, 0, "y\n")
	require.NoError(t, err)
	assert.False(t, ok, "nothing to change")
	assert.Empty(t, asked)
	ok, err, asked = confirm(true, 3, "y\n")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "+ thing\nApply 3 changes to us-east-1? [y/N] ", asked)
	ok, err, _ = confirm(true, 3, "n\n")
	assert.ErrorIs(t, err, cmdutil.ErrAborted)
	assert.False(t, ok)
}

func TestLockDryRunTakesNone(t *testing.T) {
	// A nil SSM client would fail any lock call: a dry run makes none.
	release, err := Lock(context.Background(), &Options{Factory: &cmdutil.Factory{}}, nil, "/amibake/p/lock", "patch apply --apply")
	require.NoError(t, err)
	in := errors.New("kept")
	err = in
	release(&err)
	assert.Same(t, in, err, "releasing no lock leaves the error alone")
}

func TestActionTakesNoArguments(t *testing.T) {
	var got *Options
	runF := func(_ context.Context, o *Options) error { got = o; return nil }
	run := func(context.Context, *Options) error { t.Fatal("run called though runF was given"); return nil }
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios}
	app := &cli.App{Name: "amibake", Commands: []*cli.Command{{Name: "apply", Flags: Flags(), Action: Action(f, "patch apply", runF, run)}}}
	require.NoError(t, app.Run([]string{"amibake", "apply", "--apply", "--lock-timeout", "5s"}))
	require.NotNil(t, got)
	assert.True(t, got.Apply)
	assert.Equal(t, "5s", got.LockTimeout.String())
	assert.Same(t, f, got.Factory)

	err := app.Run([]string{"amibake", "apply", "extra"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "patch apply takes no arguments, got 1")
}

func TestFormats(t *testing.T) {
	a := FormatTargets([]Target{{Key: "tag:b", Values: []string{"y", "x"}}, {Key: "tag:a", Values: []string{"1"}}})
	b := FormatTargets([]Target{{Key: "tag:a", Values: []string{"1"}}, {Key: "tag:b", Values: []string{"x", "y"}}})
	assert.Equal(t, "tag:a=1 tag:b=x,y", a)
	assert.Equal(t, a, b, "SSM's order is no change")
	assert.Equal(t, "", FormatTargets(nil))
	assert.Equal(t, "Operation=Install RebootOption=RebootIfNeeded,NoReboot",
		FormatParams(map[string][]string{"RebootOption": {"RebootIfNeeded", "NoReboot"}, "Operation": {"Install"}}))
}

func TestPrintDiff(t *testing.T) {
	diff := func(changes int, apply bool) string {
		var b strings.Builder
		require.NoError(t, PrintDiff(&b, changes, apply, "No changes: all match.", func(w io.Writer) error {
			_, err := io.WriteString(w, "+ create x\n")
			return err
		}))
		return b.String()
	}
	assert.Equal(t, "No changes: all match.\n", diff(0, true))
	assert.Equal(t, "+ create x\n2 change(s). Dry run: run with --apply to make them.\n", diff(2, false))
	assert.Equal(t, "+ create x\nApplied 2 change(s).\n", diff(2, true))
}

func TestTagTargets(t *testing.T) {
	assert.Equal(t, []Target{{Key: "tag:app", Values: []string{"web"}}, {Key: "tag:env", Values: []string{"prod"}}},
		TagTargets(map[string]string{"env": "prod", "app": "web"}))
	assert.Empty(t, TagTargets(nil))
}
