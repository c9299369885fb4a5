// Package admin is `amibake sandbox admin`: one call to the running
// sandbox's admin API (release a patch, mark an AMI bad, advance the
// clock, set faults), for demos and for working by hand.
package admin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/cmdutil"
)

// AdminOptions are the inputs of sandbox admin.
type AdminOptions struct {
	Factory  *cmdutil.Factory
	Endpoint string
	Method   string
	Path     string
	Body     string
}

// NewCmdAdmin builds the command; runF replaces the run in tests.
func NewCmdAdmin(f *cmdutil.Factory, runF func(context.Context, *AdminOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "admin",
		Usage:     "Call the running sandbox's admin API",
		ArgsUsage: "METHOD PATH [JSON]",
		Description: "Sends one request to the sandbox at $AWS_ENDPOINT_URL (or --endpoint) under\n" +
			"/_sandbox/ and prints the answer. Examples:\n\n" +
			"   amibake sandbox admin POST patches/release '{\"package\":\"openssl\",\"severity\":\"Critical\",\"classification\":\"Security\"}'\n" +
			"   amibake sandbox admin POST images/ami-0123/bad\n" +
			"   amibake sandbox admin POST clock '{\"advance\":\"1h\"}'\n" +
			"   amibake sandbox admin GET log/counts",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "endpoint", Usage: "the sandbox `URL` (default: $AWS_ENDPOINT_URL)"},
		},
		Action: func(c *cli.Context) error {
			args, err := cmdutil.Args(c)
			if err != nil {
				return err
			}
			if len(args) < 2 || len(args) > 3 {
				return cmdutil.FlagErrorf("sandbox admin takes METHOD PATH [JSON], got %d arguments", len(args))
			}
			opts := &AdminOptions{Factory: f, Endpoint: c.String("endpoint"), Method: strings.ToUpper(args[0]), Path: args[1]}
			if len(args) == 3 {
				opts.Body = args[2]
			}
			if opts.Endpoint == "" {
				opts.Endpoint = f.Getenv("AWS_ENDPOINT_URL")
			}
			if opts.Endpoint == "" {
				return cmdutil.FlagErrorf("no sandbox endpoint: set AWS_ENDPOINT_URL (as `amibake sandbox serve` prints) or --endpoint")
			}
			u, err := url.Parse(opts.Endpoint)
			if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
				return cmdutil.FlagErrorf("sandbox admin only talks to a sandbox on loopback, not %q", opts.Endpoint)
			}
			switch opts.Method {
			case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete:
			default:
				return cmdutil.FlagErrorf("invalid METHOD %q: want GET, POST, PUT or DELETE", args[0])
			}
			if runF != nil {
				return runF(c.Context, opts)
			}
			return adminRun(c.Context, opts)
		},
	}
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

func adminRun(ctx context.Context, opts *AdminOptions) error {
	path := "/_sandbox/" + strings.TrimPrefix(strings.TrimPrefix(opts.Path, "/_sandbox/"), "/")
	req, err := http.NewRequestWithContext(ctx, opts.Method, strings.TrimRight(opts.Endpoint, "/")+path, bytes.NewReader([]byte(opts.Body)))
	if err != nil {
		return fmt.Errorf("sandbox admin: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox admin %s %s: %w", opts.Method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("sandbox admin %s %s: %w", opts.Method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("sandbox admin %s %s: %s: %s", opts.Method, path, resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = opts.Factory.IOStreams.Out.Write(body)
	return err
}
