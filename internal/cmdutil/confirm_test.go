package cmdutil

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/amibake/amibake/internal/iostreams"
)

func TestConfirmApply(t *testing.T) {
	ask := func(tty bool, output string, yes bool, answer string, changes int) (error, string) {
		ios, in, _, errOut := iostreams.Test()
		ios.SetStdinTTY(tty)
		ios.SetStderrTTY(tty)
		in.WriteString(answer)
		f := &Factory{IOStreams: ios, Output: output, AssumeYes: yes}
		err := ConfirmApply(context.Background(), f, ApplyPrompt{Changes: changes, Regions: []string{"us-east-1", "eu-west-1"},
			Preview: func(w io.Writer) error { _, err := io.WriteString(w, "+ thing\n"); return err }})
		return err, errOut.String()
	}
	err, out := ask(true, OutputText, false, "y\n", 1)
	assert.NoError(t, err)
	assert.Equal(t, "+ thing\nApply 1 change to us-east-1, eu-west-1? [y/N] ", out)
	err, _ = ask(true, OutputText, false, " YES \n", 2)
	assert.NoError(t, err)
	for _, no := range []string{"n\n", "\n", "", "yep\n"} {
		err, _ = ask(true, OutputText, false, no, 2)
		assert.ErrorIs(t, err, ErrAborted, "%q", no)
	}
	// Never asked: --yes, JSON, no terminal, nothing to change.
	for _, c := range []struct {
		tty     bool
		output  string
		yes     bool
		changes int
	}{{true, OutputText, true, 2}, {true, OutputJSON, false, 2}, {false, OutputText, false, 2}, {true, OutputText, false, 0}} {
		err, out = ask(c.tty, c.output, c.yes, "n\n", c.changes)
		assert.NoError(t, err, "%+v", c)
		assert.Empty(t, out, "%+v", c)
	}

	// Ctrl-C at the question.
	ios, _, _, _ := iostreams.Test()
	ios.SetStdinTTY(true)
	ios.SetStderrTTY(true)
	r, w := io.Pipe()
	defer w.Close()
	ios.In = r
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = ConfirmApply(ctx, &Factory{IOStreams: ios, Output: OutputText}, ApplyPrompt{Changes: 1})
	assert.ErrorIs(t, err, context.Canceled)
}
