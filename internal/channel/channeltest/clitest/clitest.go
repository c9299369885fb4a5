// Package clitest runs the amibake CLI in-process against a sandbox, as
// main does (root.Main), for the channel and lineage command tests.
package clitest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

// Run runs `amibake --chdir dir args…` in-process against sb and returns
// the exit code, stdout and stderr.
func Run(t testing.TB, sb *sandbox.Sandbox, dir string, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	// The command lives in the sandbox's world: its clock is the sandbox's
	// (the same as the wall clock unless a test pins or steps it).
	f.Now = sb.Clock().Now
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", dir}, args...), f)
	return code, out.String(), errOut.String()
}

// RunTerminal is Run as at a terminal (stdin, stdout and stderr TTYs when
// tty) with stdin holding answer, for the --apply confirmation.
func RunTerminal(t testing.TB, sb *sandbox.Sandbox, dir string, tty bool, answer string, args ...string) (int, string, string) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	ios.SetStdinTTY(tty)
	ios.SetStderrTTY(tty)
	ios.SetStdoutTTY(tty)
	in.WriteString(answer)
	f := root.NewFactory(ios)
	f.AWSConfig = func(context.Context) (aws.Config, error) { return sb.Config, nil }
	f.Now = sb.Clock().Now
	code := root.Main(context.Background(), append([]string{"amibake", "--chdir", dir}, args...), f)
	return code, out.String(), errOut.String()
}
