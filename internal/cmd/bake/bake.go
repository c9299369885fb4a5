// Package bake is `amibake bake`: execute the plan with the real packer
// binary over the layer DAG, publish the latest channels, and report per
// layer. It holds the project lock while it changes AWS.
package bake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/bake"
	"github.com/amibake/amibake/internal/cmdutil"
	"github.com/amibake/amibake/internal/config"
	"github.com/amibake/amibake/internal/graph"
	"github.com/amibake/amibake/internal/iostreams"
	"github.com/amibake/amibake/internal/lineage"
	"github.com/amibake/amibake/internal/lock"
	"github.com/amibake/amibake/internal/plan"
	"github.com/amibake/amibake/patch"
)

// Environment variables bake reads.
const (
	EnvPacker     = "AMIBAKE_PACKER"     // the packer binary (--packer)
	EnvPluginPath = "PACKER_PLUGIN_PATH" // the plugin directory (--plugin-dir)
	EnvEndpoint   = "AWS_ENDPOINT_URL"   // the sandbox (or any custom endpoint)
)

// BakeOptions is everything bakeRun needs.
type BakeOptions struct {
	IO *iostreams.IOStreams
	// LoadConfig decodes the project (config.Load in production).
	LoadConfig func() (*config.Config, hcl.Diagnostics)
	// AWSConfig returns the SDK configuration (the Factory's).
	AWSConfig func(ctx context.Context) (aws.Config, error)
	Context   context.Context
	Now       func() time.Time
	Version   string
	JSON      bool
	// WorkDir is the project directory: .amibake/builds/ goes there.
	WorkDir string

	// Layers are the LAYER arguments (all when empty), plus the ancestors
	// they need; WithDescendants adds every layer below them.
	Layers          []string
	WithDescendants bool
	Parallel        int
	DryRun          bool
	LockTimeout     time.Duration
	// LockBatch is the CodeBuild batch whose lease this layer build runs
	// under (ci buildspec --batch): the lock is checked, not taken.
	LockBatch string

	// PackerBin and PluginDir locate packer and its plugins.
	PackerBin string
	PluginDir string
	// Getenv and Environ read the process environment (os's when nil):
	// AWS_ENDPOINT_URL picks the endpoint, and packer inherits Environ.
	Getenv  func(string) string
	Environ func() []string
}

// NewCmdBake builds `amibake bake`. runF, when set, replaces bakeRun (tests
// capture the options with it).
func NewCmdBake(f *cmdutil.Factory, runF func(*BakeOptions) error) *cli.Command {
	return &cli.Command{
		Name:      "bake",
		Usage:     "Build the layers the plan says are stale, with packer, and publish them",
		ArgsUsage: "[LAYER...]",
		Description: "Executes the plan for LAYER (all layers when none) and the stale ancestors it\n" +
			"needs: layers to build run through packer (a child starts as soon as its parent's\n" +
			"AMI is available; siblings in parallel), reused layers get their latest channel\n" +
			"pointed at the reused AMI. A failed layer skips only its descendants. Holds the\n" +
			"project lock; first cleans up what a crashed run left (orphaned build and scan\n" +
			"instances, AMIs packer never tagged, build secrets). Exit 0: all done, 3: some layers failed, 1: nothing succeeded,\n" +
			"4: the lock is held. In a CodeBuild batch (ci buildspec --batch) --lock-batch runs\n" +
			"under the batch's lease instead, so sibling layers build at once.\n\n" +
			"   amibake bake app-web --parallel 2\n" +
			"   amibake bake base --with-descendants --dry-run",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "with-descendants", Usage: "also bake every layer below the named ones"},
			&cli.IntFlag{Name: "parallel", Value: 4, Usage: "build at most `N` layers at once"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan and write the templates bake would run; change nothing"},
			cmdutil.LockTimeoutFlag(),
			&cli.StringFlag{Name: "lock-batch", Usage: "run under the batch lease of CodeBuild batch `ID` (taken by `ci lease acquire`) instead of taking the project lock"},
			&cli.StringFlag{Name: "packer", Usage: "the packer `BINARY` (default: $AMIBAKE_PACKER, else packer on PATH)"},
			&cli.StringFlag{Name: "plugin-dir", Usage: "packer plugin `DIR` with the amazon and amibake plugins (default: $PACKER_PLUGIN_PATH)"},
		}, cmdutil.VarFlags()...),
		Action: func(c *cli.Context) error {
			if c.Int("parallel") < 1 {
				return cmdutil.FlagErrorf("--parallel must be at least 1, got %d", c.Int("parallel"))
			}
			loadOpts := cmdutil.LoadOptionsFrom(c, f)
			opts := &BakeOptions{
				IO:              f.IOStreams,
				AWSConfig:       f.AWSConfig,
				Context:         c.Context,
				Now:             f.Now,
				Version:         f.Version,
				JSON:            f.JSON(),
				WorkDir:         f.WorkDir,
				Layers:          c.Args().Slice(),
				WithDescendants: c.Bool("with-descendants"),
				Parallel:        c.Int("parallel"),
				DryRun:          c.Bool("dry-run"),
				LockTimeout:     c.Duration("lock-timeout"),
				LockBatch:       c.String("lock-batch"),
				// --profile/--region/--endpoint-url reach packer too.
				Getenv:    f.Getenv,
				Environ:   f.Environ,
				PackerBin: c.String("packer"),
				PluginDir: c.String("plugin-dir"),
				LoadConfig: func() (*config.Config, hcl.Diagnostics) {
					return config.Load(f.WorkDir, loadOpts)
				},
			}
			if runF != nil {
				return runF(opts)
			}
			return bakeRun(opts)
		},
	}
}

func (o *BakeOptions) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

func (o *BakeOptions) environ() []string {
	if o.Environ != nil {
		return o.Environ()
	}
	return os.Environ()
}

// JSONReport is the --output json document (docs/reference/json/).
type JSONReport = jsonReport

// jsonReport is the --output json document.
type jsonReport struct {
	Project   string            `json:"project"`
	RunID     string            `json:"run_id"`
	DryRun    bool              `json:"dry_run,omitempty"`
	Recovered *bake.Recovery    `json:"recovered,omitempty"`
	Plan      *plan.Plan        `json:"plan,omitempty"`
	Templates map[string]string `json:"templates,omitempty"`
	Results   []*bake.Result    `json:"results,omitempty"`
	Built     int               `json:"built"`
	Reused    int               `json:"reused"`
	Failed    int               `json:"failed"`
	Skipped   int               `json:"skipped"`
}

func bakeRun(opts *BakeOptions) error {
	if opts.LoadConfig == nil || opts.AWSConfig == nil {
		return errors.New("bake: missing project loader or AWS configuration")
	}
	parent := opts.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	now := opts.Now
	if now == nil {
		now = time.Now
	}

	cfg, g, fps, err := load(opts.IO, opts.LoadConfig)
	if err != nil {
		return err
	}
	if _, err := g.Select(opts.Layers, opts.WithDescendants, false); err != nil {
		return cmdutil.FlagErrorf("%s", err)
	}
	awsCfg, err := opts.AWSConfig(ctx)
	if err != nil {
		return fmt.Errorf("bake: %w", err)
	}
	clients := awsapi.NewClients(awsCfg)
	paths := lineage.Paths{Prefix: cfg.Project.ParamPrefix, Project: cfg.Project.Name}
	if paths.Prefix == "" {
		paths.Prefix = config.DefaultParamPrefix
	}

	endpoint := opts.getenv(EnvEndpoint)
	if endpoint == "" && awsCfg.BaseEndpoint != nil {
		// endpoint_url from the shared config profile.
		endpoint = *awsCfg.BaseEndpoint
	}
	sandbox := isLoopback(endpoint)
	baker := &bake.Baker{
		Config:         cfg,
		Graph:          g,
		Fingerprints:   fps,
		Clients:        clients,
		ProjectDir:     opts.WorkDir,
		RunID:          bake.NewRunID(now()),
		Endpoint:       endpoint,
		Sandbox:        sandbox,
		Parallel:       opts.Parallel,
		AmibakeVersion: opts.Version,
		Now:            now,
		// amibake:patch-level of layers under a patch block (none until
		// `patch apply` has created their baseline).
		PatchLevel: patch.LevelFunc(cfg, g, clients.SSM, now, true),
	}
	if sandbox {
		// The sandbox settles transitions at once: poll every second
		// rather than packer's 15 (../shared/README.md).
		baker.PollDelaySeconds, baker.PollMaxAttempts = 1, 120
		baker.StepPollInterval = 100 * time.Millisecond
		baker.WaitPoll = 200 * time.Millisecond
	}

	report := jsonReport{Project: cfg.Project.Name, RunID: baker.RunID, DryRun: opts.DryRun}
	if !opts.DryRun && opts.LockBatch != "" {
		// A layer build of a batch: the batch's lock build holds the lease
		// (and has recovered what a crashed run left); siblings build now,
		// so recovering here would kill their build instances.
		locker := &lock.Locker{SSM: clients.SSM(""), Name: paths.Lock(), Now: opts.Now}
		if _, err := locker.JoinBatch(ctx, opts.LockBatch); err != nil {
			return fmt.Errorf("bake: %w", err)
		}
	} else if !opts.DryRun {
		locker := &lock.Locker{SSM: clients.SSM(""), Name: paths.Lock(), Command: "bake", Now: opts.Now}
		held, err := locker.Acquire(ctx, opts.LockTimeout)
		if err != nil {
			return fmt.Errorf("bake: %w", err)
		}
		defer func() {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer rcancel()
			if err := held.Release(rctx); err != nil {
				fmt.Fprintf(opts.IO.ErrOut, "warning: release project lock: %v\n", err)
			}
		}()
		held.KeepAlive(ctx, func(err error) { cancel(fmt.Errorf("bake: %w", err)) })

		rec, err := bake.Recover(ctx, clients, cfg)
		if err != nil {
			return fmt.Errorf("bake: %w", err)
		}
		if !rec.Empty() {
			report.Recovered = rec
			printRecovery(opts.IO, rec)
		}
	}

	obs, err := plan.Observe(ctx, clients, cfg, g, fps)
	if err != nil {
		return fmt.Errorf("bake: read AWS state: %w", err)
	}
	p, err := bake.Select(plan.New(g, fps, obs, nil), g, opts.Layers, opts.WithDescendants)
	if err != nil {
		return cmdutil.FlagErrorf("%s", err)
	}

	if opts.DryRun {
		return dryRun(opts, baker, p, &report)
	}

	bin := opts.PackerBin
	if bin == "" {
		bin = opts.getenv(EnvPacker)
	}
	pluginDir := opts.PluginDir
	if pluginDir == "" {
		pluginDir = opts.getenv(EnvPluginPath)
	}
	if bin == "" {
		bin = "packer"
	}
	if p.Changes() > 0 {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("bake: packer not found (%w): install packer >= 1.11 with the amazon and amibake plugins, or name it with --packer or $%s", err, EnvPacker)
		}
	}
	baker.Runner = &bake.Runner{Bin: bin, PluginDir: pluginDir, Env: packerEnv(opts.environ()), LogDir: baker.RunDir()}
	view := newView(opts.IO, p)
	baker.Observer = view

	results, err := baker.Run(ctx, p)
	if err != nil {
		return err
	}
	report.Results = results
	for _, r := range results {
		switch r.Status {
		case bake.StatusBuilt:
			report.Built++
		case bake.StatusReused:
			report.Reused++
		case bake.StatusFailed:
			report.Failed++
		case bake.StatusSkipped:
			report.Skipped++
		}
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, report); err != nil {
			return err
		}
	} else if err := writeSummary(opts.IO, view.LiveView, results, report); err != nil {
		return err
	}

	if report.Failed+report.Skipped == 0 {
		return nil
	}
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, context.Canceled) && parent.Err() != nil {
			return cmdutil.SilentExit(cmdutil.ExitInterrupted)
		}
		return cmdutil.Exit(cmdutil.ExitFailure, cause)
	}
	if report.Built+report.Reused > 0 {
		return cmdutil.SilentExit(cmdutil.ExitPartial)
	}
	return cmdutil.SilentExit(cmdutil.ExitFailure)
}

// dryRun prints the plan and writes the templates of the layers to build
// into the run directory, changing nothing in AWS.
func dryRun(opts *BakeOptions, baker *bake.Baker, p *plan.Plan, report *jsonReport) error {
	templates := map[string]string{}
	for _, l := range p.Layers {
		if l.Action != plan.ActionBuild {
			continue
		}
		path, err := baker.WriteTemplate(l.Layer)
		if err != nil {
			return fmt.Errorf("bake --dry-run: %w", err)
		}
		templates[l.Layer] = path
	}
	if opts.JSON {
		report.Plan, report.Templates = p, templates
		return cmdutil.WriteJSON(opts.IO.Out, report)
	}
	w := opts.IO.Out
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tACTION\tREASON\tDETAIL\tTEMPLATE")
	for _, l := range p.Layers {
		detail, tmpl := l.Detail, templates[l.Layer]
		if detail == "" {
			detail = "-"
		}
		if tmpl == "" {
			tmpl = "-"
		} else if rel, err := filepath.Rel(opts.WorkDir, tmpl); err == nil {
			tmpl = rel
		}
		action := string(l.Action)
		if l.Action == plan.ActionReuse && len(l.MissingRegions) > 0 {
			action += "+copy"
		}
		if l.Action == plan.ActionReuse && l.Publish {
			action += "+publish"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Layer, action, l.Reason, detail, tmpl)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	_, err := fmt.Fprintf(w, "\nDry run: %d to build, %d to reuse (%d to publish); nothing was changed.\n",
		p.Changes(), len(p.Layers)-p.Changes(), p.Publishes())
	return err
}

func printRecovery(ios *iostreams.IOStreams, rec *bake.Recovery) {
	for _, region := range sortedKeys(rec.TerminatedInstances) {
		fmt.Fprintf(ios.ErrOut, "Recovered: terminated orphaned build instances in %s: %s\n",
			region, strings.Join(rec.TerminatedInstances[region], ", "))
	}
	if n := len(rec.DeletedSecrets); n > 0 {
		fmt.Fprintf(ios.ErrOut, "Recovered: deleted %d leftover build secret parameter(s)\n", n)
	}
	for _, region := range sortedKeys(rec.DeregisteredImages) {
		fmt.Fprintf(ios.ErrOut, "Recovered: deregistered unfinished AMIs (never tagged) in %s: %s\n",
			region, strings.Join(rec.DeregisteredImages[region], ", "))
	}
}

// writeSummary prints the table (layer, status, AMI per region, duration,
// why), each failure in full with its log, and the counts.
func writeSummary(ios *iostreams.IOStreams, view *bake.LiveView, results []*bake.Result, rep jsonReport) error {
	rows := make([]bake.SummaryRow, 0, len(results))
	for _, r := range results {
		rows = append(rows, summaryRow(r))
	}
	view.Summary(rows)
	for _, r := range results {
		if r.Status != bake.StatusFailed {
			continue
		}
		fmt.Fprintf(ios.Out, "\n%s failed:\n  %s\n", r.Layer, strings.ReplaceAll(failure(r), "\n", "\n  "))
		if r.LogPath != "" {
			fmt.Fprintf(ios.Out, "  log: %s\n", r.LogPath)
		}
	}
	_, err := fmt.Fprintf(ios.Out, "\nBake: %d built, %d reused, %d failed, %d skipped.\n", rep.Built, rep.Reused, rep.Failed, rep.Skipped)
	return err
}

func why(r *bake.Result) string {
	switch r.Status {
	case bake.StatusFailed:
		return oneLine(failure(r))
	case bake.StatusSkipped:
		return oneLine(r.Detail)
	}
	s := string(r.Reason)
	if r.Detail != "" && r.Status == bake.StatusBuilt {
		s += ": " + r.Detail
	}
	if r.Status == bake.StatusReused && r.Published {
		s += ", latest channel moved"
	}
	return oneLine(s)
}

// failure is a failed layer's error without what the table already says:
// the layer's name and the log path.
func failure(r *bake.Result) string {
	msg := strings.TrimPrefix(r.Error, "bake "+r.Layer+": ")
	msg = strings.TrimPrefix(msg, "layer "+r.Layer+": ")
	if r.LogPath != "" {
		msg = strings.Replace(msg, " (log: "+r.LogPath+")", "", 1)
	}
	return strings.TrimSpace(msg)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// packerEnv is packer's environment: amibake's, without the AMIBAKE_VAR_
// variables — the project already read them, and a sensitive one must
// reach the build only the way its template says (a SecureString, or the
// one variable the ssh-mode template reads).
func packerEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, config.EnvVarPrefix) {
			out = append(out, kv)
		}
	}
	return out
}

// isLoopback reports whether an endpoint URL names this machine: the
// sandbox, whose templates skip the credential and region checks.
func isLoopback(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// load decodes the project and computes the graph and fingerprints,
// printing diagnostics; any error ends the command silently after them.
func load(ios *iostreams.IOStreams, loadConfig func() (*config.Config, hcl.Diagnostics)) (*config.Config, *graph.Graph, map[string]*graph.Fingerprint, error) {
	cfg, diags := loadConfig()
	var g *graph.Graph
	if cfg != nil && !diags.HasErrors() {
		var gd hcl.Diagnostics
		g, gd = graph.Build(cfg)
		diags = append(diags, gd...)
	}
	var fps map[string]*graph.Fingerprint
	if g != nil && !diags.HasErrors() {
		var fd hcl.Diagnostics
		fps, fd = graph.Fingerprints(g)
		diags = append(diags, fd...)
	}
	var sources map[string][]byte
	if cfg != nil {
		sources = cfg.Sources
	}
	if err := cmdutil.PrintDiagnostics(ios, sources, diags); err != nil {
		return nil, nil, nil, fmt.Errorf("print diagnostics: %w", err)
	}
	if g == nil || diags.HasErrors() {
		return nil, nil, nil, cmdutil.ErrSilent
	}
	return cfg, g, fps, nil
}
