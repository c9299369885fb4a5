// Package root assembles the amibake command tree and owns the one place
// where errors become exit codes.
package root

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
)

// Version is set at build time with -ldflags "-X .../root.Version=...".
var Version = "dev"

// RetryMaxAttempts bounds the attempts of every AWS call (the first one
// included) under the SDK's standard retryer: throttling, 5xx and transport
// errors are retried after a jittered exponential backoff (base 50 ms, 1 s
// for throttling errors, capped at 20 s), within the client's retry quota.
// The SDK's default of 3 attempts gives up on one call in ~25 under a storm
// of 30 % throttling plus 5 % 503s; 10 gives up on one in ~35,000, and a
// permanent failure still ends after at most ~26 s of backoff (5xx) or
// ~111 s (throttling), with an error naming the call.
const RetryMaxAttempts = 10

// NewFactory returns the production Factory; global flags fill the rest in
// before any command runs.
func NewFactory(ios *iostreams.IOStreams) *cmdutil.Factory {
	f := &cmdutil.Factory{
		IOStreams: ios,
		Version:   Version,
		Output:    cmdutil.OutputText,
		Logger:    slog.New(slog.NewTextHandler(ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:       time.Now,
	}
	f.AWSConfig = func(ctx context.Context) (aws.Config, error) {
		cfg, err := LoadAWSConfig(ctx, f.AWS)
		if err == nil {
			cfg.Logger = sdkLogger{logger: func() *slog.Logger { return f.Logger }}
		}
		return cfg, err
	}
	return f
}

// LoadAWSConfig is the SDK's default chain (env, shared config and
// credentials, SSO, web identity, ECS/IMDS roles) with the global flags
// on top: --profile picks the shared profile, --region the default region
// (as the aws CLI does), --endpoint-url every service's endpoint.
func LoadAWSConfig(ctx context.Context, g cmdutil.AWSGlobals) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRetryMode(aws.RetryModeStandard),
		awsconfig.WithRetryMaxAttempts(RetryMaxAttempts),
	}
	if g.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(g.Profile))
	}
	if g.Region != "" {
		opts = append(opts, awsconfig.WithRegion(g.Region))
	}
	if g.EndpointURL != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(g.EndpointURL))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		var missing awsconfig.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			// Name the files the SDK read: $AWS_CONFIG_FILE and
			// $AWS_SHARED_CREDENTIALS_FILE move them from the defaults.
			files := []string{awsconfig.DefaultSharedConfigFilename(), awsconfig.DefaultSharedCredentialsFilename()}
			for i, env := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
				if v := os.Getenv(env); v != "" {
					files[i] = v
				}
			}
			return aws.Config{}, cmdutil.FlagErrorf("AWS profile %q not found in %s (check --profile / $AWS_PROFILE, $AWS_CONFIG_FILE)",
				missing.Profile, strings.Join(files, " or "))
		}
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// NewApp builds the command tree around f.
func NewApp(f *cmdutil.Factory) *cli.App {
	ios := f.IOStreams
	cmds := commands(f)
	stampSchemas(f, cmds)
	app := &cli.App{
		Name:                 "amibake",
		Usage:                "bake and patch layered golden AMIs with Packer",
		Version:              f.Version,
		Writer:               ios.Out,
		ErrWriter:            ios.ErrOut,
		EnableBashCompletion: true,
		// Errors are mapped to exit codes in Main, never by urfave.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "chdir", Aliases: []string{"C"}, Usage: "run as if started in `DIR`"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: cmdutil.OutputText, Usage: "output format: text or json", EnvVars: []string{"AMIBAKE_OUTPUT"}},
			&cli.BoolFlag{Name: "no-color", Usage: "disable colour", EnvVars: []string{"NO_COLOR"}},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "log level: debug, info, warn, error", EnvVars: []string{"AMIBAKE_LOG_LEVEL"}},
			// No EnvVars: the SDK reads AWS_PROFILE, AWS_REGION and
			// AWS_ENDPOINT_URL itself, with its own precedence rules.
			&cli.StringFlag{Name: "profile", Usage: "AWS shared config `PROFILE` (default: $AWS_PROFILE, else the SDK default chain)"},
			&cli.StringFlag{Name: "region", Usage: "the SDK's default `REGION` (default: $AWS_REGION / the profile's): the project lock's region; the project's regions still decide where amibake builds and copies"},
			&cli.StringFlag{Name: "endpoint-url", Usage: "send every AWS call to `URL` (the sandbox; default: $AWS_ENDPOINT_URL)"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "answer yes to the confirmation --apply asks for on a terminal", EnvVars: []string{"AMIBAKE_YES"}},
		},
		Before:   func(c *cli.Context) error { return applyGlobals(c, f) },
		Commands: cmds,
		// Without a command, show help; an unknown one is a usage error
		// (exit 1), not urfave's "No help topic" exit 3, which pipelines
		// would read as a partial failure.
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			return cmdutil.FlagErrorf("unknown command %q%s", c.Args().First(), suggestCommand(c.App, c.Args().First()))
		},
	}
	return app
}

// suggestCommand names the closest command, if one is close.
func suggestCommand(app *cli.App, name string) string {
	best, bestDist := "", 3
	for _, cmd := range app.VisibleCommands() {
		for _, n := range cmd.Names() {
			if d := editDistance(name, n); d < bestDist {
				best, bestDist = cmd.Name, d
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func applyGlobals(c *cli.Context, f *cmdutil.Factory) error {
	out := c.String("output")
	if err := cmdutil.ValidateOutput(out); err != nil {
		return err
	}
	f.Output = out
	if c.Bool("no-color") {
		f.IOStreams.SetColorEnabled(false)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return cmdutil.FlagErrorf("invalid --log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	f.Logger = slog.New(slog.NewTextHandler(f.IOStreams.ErrOut, &slog.HandlerOptions{Level: level}))

	dir := c.String("chdir")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
		dir = wd
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("--chdir %s: %w", dir, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return cmdutil.FlagErrorf("--chdir %s: not a directory", dir)
	}
	f.WorkDir = abs
	f.AWS = cmdutil.AWSGlobals{Profile: c.String("profile"), Region: c.String("region"), EndpointURL: c.String("endpoint-url")}
	if u := f.AWS.EndpointURL; u != "" {
		// Checked here: the SDK only fails on it at the first call, deep
		// inside some command's error.
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return cmdutil.FlagErrorf("invalid --endpoint-url %q: want an http:// or https:// URL", u)
		}
	}
	f.AssumeYes = c.Bool("yes")
	return nil
}

// Main runs the CLI and returns the process exit code.
func Main(ctx context.Context, args []string, f *cmdutil.Factory) int {
	app := NewApp(f)
	err := app.RunContext(ctx, args)
	if err == nil {
		return cmdutil.ExitOK
	}
	code := cmdutil.ExitCode(err)
	if ctx.Err() != nil && code == cmdutil.ExitFailure {
		code = cmdutil.ExitInterrupted
	}
	if !cmdutil.IsSilent(err) {
		msg := err.Error()
		var fe *cmdutil.FlagError
		if errors.As(err, &fe) || isUsageError(msg) {
			fmt.Fprintf(f.IOStreams.ErrOut, "Error: %s\nRun 'amibake --help' for usage.\n", msg)
		} else {
			fmt.Fprintf(f.IOStreams.ErrOut, "Error: %s\n", msg)
		}
	}
	return code
}

// urfave reports flag parse problems as plain errors.
func isUsageError(msg string) bool {
	return strings.HasPrefix(msg, "flag provided but not defined") ||
		strings.HasPrefix(msg, "flag needs an argument") ||
		strings.HasPrefix(msg, "Required flag") ||
		strings.HasPrefix(msg, "invalid value") ||
		strings.Contains(msg, "No help topic")
}
