package validate

import (
	"bytes"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

// testFactory returns a Factory on test streams for the project in dir.
func testFactory(t *testing.T, dir string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, WorkDir: dir, Output: cmdutil.OutputText}, out, errOut
}

// runCommand runs cmd inside a minimal app, the way the root command does.
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
