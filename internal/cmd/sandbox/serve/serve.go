// Package serve is `amibake sandbox serve`: run the sandbox until
// interrupted, printing its endpoint and the environment that points the
// AWS SDKs, the AWS CLI and packer at it.
package serve

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/sandbox"
)

// ServeOptions is everything serveRun needs.
type ServeOptions struct {
	IO   *iostreams.IOStreams
	JSON bool
	// Context ends the server (SIGINT/SIGTERM in production).
	Context context.Context

	Addr      string
	StateFile string
	Seed      int64
	Clock     sandbox.ClockMode
	Scale     float64
	Account   string
	Region    string

	// Started, when set, is called once the server listens and the endpoint
	// has been printed (tests talk to it from there).
	Started func(*sandbox.Sandbox)
}

var accountRE = regexp.MustCompile(`^\d{12}$`)

// NewCmdServe builds `amibake sandbox serve`. runF, when set, replaces
// serveRun (tests capture the options with it).
func NewCmdServe(f *cmdutil.Factory, runF func(*ServeOptions) error) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "Serve the AWS sandbox on a loopback address until interrupted",
		Description: "Prints the endpoint and the environment to export, then serves EC2, SSM,\n" +
			"Auto Scaling and STS on one address until SIGINT/SIGTERM. With --state the\n" +
			"world is loaded from FILE when it exists and written back atomically after\n" +
			"every change and on exit, so a demo can run in steps.\n\n" +
			"Clocks: instant (transitions finish on the next call; tests), scaled (virtual\n" +
			"time runs --scale times faster with realistic delays; demos), manual (time\n" +
			"moves only through POST /_sandbox/clock).\n\n" +
			"   amibake sandbox serve --addr 127.0.0.1:4566 --state demo.json --clock scaled",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "listen on `HOST:PORT` (port 0 picks a free one)"},
			&cli.StringFlag{Name: "state", Usage: "load and persist the world in `FILE`"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed for ids and injected faults"},
			&cli.StringFlag{Name: "clock", Value: string(sandbox.ClockInstant), Usage: "clock `MODE`: instant, scaled or manual"},
			&cli.Float64Flag{Name: "scale", Value: 60, Usage: "virtual seconds per real second with --clock scaled"},
			&cli.StringFlag{Name: "account", Value: sandbox.DefaultAccount, Usage: "`ACCOUNT` the printed credentials act as"},
			&cli.StringFlag{Name: "region", Value: sandbox.DefaultRegion, Usage: "`REGION` of the printed environment"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cmdutil.FlagErrorf("sandbox serve takes no arguments, got %q", c.Args().First())
			}
			opts := &ServeOptions{
				IO: f.IOStreams, JSON: f.JSON(), Context: c.Context,
				Addr: c.String("addr"), StateFile: c.String("state"), Seed: c.Int64("seed"),
				Clock: sandbox.ClockMode(c.String("clock")), Scale: c.Float64("scale"),
				Account: c.String("account"), Region: c.String("region"),
			}
			switch opts.Clock {
			case sandbox.ClockInstant, sandbox.ClockScaled, sandbox.ClockManual:
			default:
				return cmdutil.FlagErrorf("invalid --clock %q: want instant, scaled or manual", opts.Clock)
			}
			if opts.Scale <= 0 {
				return cmdutil.FlagErrorf("invalid --scale %v: must be positive", opts.Scale)
			}
			if c.IsSet("scale") && opts.Clock != sandbox.ClockScaled {
				return cmdutil.FlagErrorf("--scale needs --clock scaled")
			}
			if !accountRE.MatchString(opts.Account) {
				return cmdutil.FlagErrorf("invalid --account %q: want 12 digits", opts.Account)
			}
			if opts.Context == nil {
				opts.Context = context.Background()
			}
			if runF != nil {
				return runF(opts)
			}
			return serveRun(opts)
		},
	}
}

// serveInfo is the --output json form.
type serveInfo struct {
	Endpoint string            `json:"endpoint"`
	Env      map[string]string `json:"env"`
}

func serveRun(opts *ServeOptions) error {
	sb, err := sandbox.Run(sandbox.Options{
		Seed: opts.Seed, Mode: opts.Clock, Scale: opts.Scale, StateFile: opts.StateFile,
	}, opts.Addr)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			sb.Close() //nolint:errcheck // already failing
		}
	}()
	var regionOK bool
	sb.Do(func(w *sandbox.World) { regionOK = w.HasRegion(opts.Region) })
	if !regionOK {
		return cmdutil.FlagErrorf("invalid --region %q: the sandbox serves %s", opts.Region, strings.Join(sandbox.DefaultRegions, ", "))
	}
	env := sb.Env(opts.Account, opts.Region)
	if opts.JSON {
		info := serveInfo{Endpoint: sb.URL(), Env: map[string]string{}}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			info.Env[k] = v
		}
		if err := cmdutil.WriteJSON(opts.IO.Out, info); err != nil {
			return err
		}
	} else {
		if err := writeExports(opts.IO.Out, env); err != nil {
			return err
		}
		state := "in memory"
		if opts.StateFile != "" {
			state = "persisted in " + opts.StateFile
		}
		fmt.Fprintf(opts.IO.ErrOut, "Sandbox listening on %s (clock %s, seed %d, state %s).\n", sb.URL(), opts.Clock, opts.Seed, state)
		fmt.Fprintf(opts.IO.ErrOut, "Admin API: %s/_sandbox/state, /_sandbox/log, /_sandbox/faults, /_sandbox/clock. Press Ctrl-C to stop.\n", sb.URL())
	}
	if opts.Started != nil {
		opts.Started(sb)
	}
	<-opts.Context.Done()
	stopped = true
	if err := sb.Close(); err != nil {
		return fmt.Errorf("stop sandbox: %w", err)
	}
	if !opts.JSON {
		if opts.StateFile != "" {
			fmt.Fprintf(opts.IO.ErrOut, "Sandbox stopped; state saved to %s.\n", opts.StateFile)
		} else {
			fmt.Fprintln(opts.IO.ErrOut, "Sandbox stopped.")
		}
	}
	return nil
}

// writeExports prints `export K=V` lines a POSIX shell can eval.
func writeExports(w io.Writer, env []string) error {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, err := fmt.Fprintf(w, "export %s=%s\n", k, shellQuote(v)); err != nil {
			return fmt.Errorf("write environment: %w", err)
		}
	}
	return nil
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
