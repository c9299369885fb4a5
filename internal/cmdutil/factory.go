// Package cmdutil holds what every command shares: the Factory of lazily
// built dependencies, exit codes, flag errors and the JSON exporter.
package cmdutil

import (
	"context"
	"log/slog"
	"os"
	"strings"
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

	// AWS holds the global --profile, --region and --endpoint-url. They
	// shape AWSConfig and, through Getenv/Environ, the processes amibake
	// starts (packer), so both talk to the same account and endpoint.
	AWS AWSGlobals

	// AssumeYes is the global --yes: --apply proceeds without asking even
	// on a terminal.
	AssumeYes bool
}

// AWSGlobals are the global AWS flags; empty means "the SDK default chain".
type AWSGlobals struct {
	Profile     string // --profile: a shared config/credentials profile
	Region      string // --region: the SDK's default region, not the project's regions
	EndpointURL string // --endpoint-url: every service at this URL (the sandbox)
}

// Getenv reads the process environment with the global AWS flags laid
// over it: a command that hands AWS_ENDPOINT_URL or AWS_PROFILE on to a
// child process sees what the flags chose.
func (f *Factory) Getenv(k string) string {
	for _, kv := range f.awsEnv() {
		if name, v, _ := strings.Cut(kv, "="); name == k {
			return v
		}
	}
	return os.Getenv(k)
}

// Environ is os.Environ with the global AWS flags laid over it.
func (f *Factory) Environ() []string {
	over := f.awsEnv()
	if len(over) == 0 {
		return os.Environ()
	}
	set := map[string]bool{}
	for _, kv := range over {
		name, _, _ := strings.Cut(kv, "=")
		set[name] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		// A profile named on the command line beats static keys in the
		// environment only if those keys are gone: the SDKs prefer
		// AWS_ACCESS_KEY_ID over AWS_PROFILE.
		if set[name] || (f.AWS.Profile != "" && isStaticCredentialVar(name)) {
			continue
		}
		env = append(env, kv)
	}
	return append(env, over...)
}

func (f *Factory) awsEnv() []string {
	var env []string
	if f.AWS.Profile != "" {
		env = append(env, "AWS_PROFILE="+f.AWS.Profile)
	}
	if f.AWS.Region != "" {
		env = append(env, "AWS_REGION="+f.AWS.Region, "AWS_DEFAULT_REGION="+f.AWS.Region)
	}
	if f.AWS.EndpointURL != "" {
		env = append(env, "AWS_ENDPOINT_URL="+f.AWS.EndpointURL)
	}
	return env
}

func isStaticCredentialVar(name string) bool {
	switch name {
	case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN":
		return true
	}
	return false
}

// JSON reports whether machine output was asked for.
func (f *Factory) JSON() bool { return f.Output == OutputJSON }
