// Package cmdutil holds what every command shares: the Factory of lazily
// built dependencies, exit codes, flag errors and the JSON exporter.
package cmdutil

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/amibake/amibake/internal/iostreams"
)

// Factory is built once by the root command. Dependencies are functions so
// that nothing expensive (AWS credentials, config loading) happens until a
// command asks for it, and so tests can swap any of them.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Version   string

	// WorkDir is the project directory (after --chdir).
	WorkDir string
	// Output is "text" or "json" (global --output).
	Output string
	// Logger writes structured logs to ErrOut at the --log-level.
	Logger *slog.Logger

	// AWSConfig returns the SDK configuration: the default credential chain
	// on real AWS, or the sandbox's endpoint and static credentials.
	AWSConfig func(ctx context.Context) (aws.Config, error)

	// Now is the clock; tests pin it.
	Now func() time.Time
}

// JSON reports whether machine output was asked for.
func (f *Factory) JSON() bool { return f.Output == OutputJSON }
