// Package junit is `amibake ci junit`.
package junit

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/ci"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

// JUnitOptions is everything junitRun needs.
type JUnitOptions struct {
	IO  *iostreams.IOStreams
	In  string // JSON result file, "" or "-" for stdin
	Out string // JUnit file, "" or "-" for stdout
}

// NewCmdJUnit builds `amibake ci junit`; runF replaces the run in tests.
func NewCmdJUnit(f *cmdutil.Factory, runF func(*JUnitOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "junit",
		Usage: "Turn an amibake JSON result into a JUnit report (CodeBuild test reports)",
		Description: "Reads the output of `amibake --output json bake` (or any command whose JSON lists\n" +
			"results with a layer or fleet and a status) and writes one JUnit test case per result.\n\n" +
			"   amibake --output json bake | tee result.json\n" +
			"   amibake ci junit --in result.json --out junit.xml",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "in", Usage: "read the JSON result from `FILE` (default: stdin)"},
			&cli.StringFlag{Name: "out", Usage: "write the JUnit XML to `FILE` (default: stdout)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cmdutil.FlagErrorf("ci junit takes no arguments")
			}
			opts := &JUnitOptions{IO: f.IOStreams, In: c.String("in"), Out: c.String("out")}
			if runF != nil {
				return runF(opts)
			}
			return junitRun(opts)
		},
	}
}

func junitRun(opts *JUnitOptions) error {
	var in io.Reader = opts.IO.In
	if opts.In != "" && opts.In != "-" {
		data, err := os.ReadFile(opts.In)
		if err != nil {
			return fmt.Errorf("read result: %w", err)
		}
		in = bytes.NewReader(data)
	}
	var buf bytes.Buffer
	if err := ci.JUnit(in, &buf); err != nil {
		return err
	}
	if opts.Out == "" || opts.Out == "-" {
		if _, err := opts.IO.Out.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write junit: %w", err)
		}
		return nil
	}
	if err := os.WriteFile(opts.Out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}
